//! Which workflow transition resolves or reopens an issue.

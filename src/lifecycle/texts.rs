//! What the notifier writes on an issue after creating it, in Atlassian Document Format.

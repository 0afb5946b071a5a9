//! Authentication: the access token cache, API tokens, the host's token source, scopes
//! and site discovery.

pub(crate) mod basic;
pub(crate) mod scopes;
pub(crate) mod sites;
pub(crate) mod source;
pub(crate) mod tenant;
pub(crate) mod token;
pub(crate) mod tokens;

//! Authentication: the access token cache, scopes and site discovery.

pub(crate) mod scopes;
pub(crate) mod sites;
pub(crate) mod tenant;
pub(crate) mod token;
pub(crate) mod tokens;

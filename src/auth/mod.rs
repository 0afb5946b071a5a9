//! Authentication: the access token cache and site discovery.

pub(crate) mod sites;
pub(crate) mod token;

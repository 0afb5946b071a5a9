//! placeholder
/// The default transport.
#[derive(Debug)]
pub struct ReqwestTransport;
/// Builds a [`ReqwestTransport`].
#[derive(Debug)]
pub struct ReqwestTransportBuilder;

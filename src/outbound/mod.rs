//! HTTP out of hookshift: the client that delivers to handlers ([`deliver`]), the roots its TLS
//! trusts ([`tls`]), and the fenced fetch of signed-URL payloads ([`fetch`]: allowed hosts, public
//! addresses only, bounded size and time). Below the pipeline and the compiled routes, which hold
//! their settings; it knows nothing of events beyond the bytes it carries.

pub mod deliver;
pub mod fetch;
pub mod tls;

//! HTTP beside the request path: the admin endpoints, the client that delivers to handlers, and the
//! roots TLS deliveries trust.

pub mod admin;
pub mod deliver;
pub mod tls;

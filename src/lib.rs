//! hookshift: a reverse proxy for webhook API-version migrations.
pub mod json;
pub mod mapping;

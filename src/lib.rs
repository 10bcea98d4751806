//! hookshift: a reverse proxy for webhook API-version migrations.
pub mod mapping;

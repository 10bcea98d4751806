//! Configuration: the TOML file, `HOOKSHIFT__SECTION__KEY` environment overrides, secrets and validation.
//!
//! [`Config::load`] reads the file with the `config` crate, lays every `HOOKSHIFT__…` environment variable
//! over it (`HOOKSHIFT__SERVER__MAX_BODY_BYTES=1024`, `HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL=…`; a value
//! starting with `[` is read as a JSON list), deserializes with unknown keys refused, and validates.
//! Every error names the key it is about (`routes[0].downstream.url: …`) and where it was set.
//!
//! Secrets are given inline or as `env:VAR_NAME`, resolved at load; [`Secret`] never prints its value.
//!
//! Three parts, one job each:
//! - `types`: every table and key of the file, their defaults and accepted words ([`Config`],
//!   [`RouteConfig`], [`Provider`], the `allow_hosts` patterns, …);
//! - `load`: reading the file and the environment, and deserializing with every type-level problem
//!   collected ([`Config::load`], [`Config::parse`], [`Config::parse_str`]);
//! - `validate`: the checks the types cannot express, each problem located by line or variable
//!   ([`Config::validate`], [`ConfigError`]).
//!
//! The configuration sits just above the leaves: it imports nothing of the crate but [`crate::secret`].

mod load;
mod types;
mod validate;

pub use crate::secret::Secret;
pub use load::content_digest;
pub use types::{
    host_allowed, pattern_problem, Config, DownstreamConfig, LedgerBackend, LedgerConfig,
    LogFormat, MappingsConfig, Policy, Provider, ReadinessConfig, RouteConfig, SchemasConfig,
    ServerConfig, SignedUrlConfig, TranslationFailure, UnmappedAction, ValidateOutput,
    DEFAULT_LEDGER_PATH, DEFAULT_LEDGER_URL, DEFAULT_SCAN_QUEUE, DEFAULT_SCHEMAS_DIR, ENV_PREFIX,
    ENV_SEPARATOR, MAX_READINESS_WINDOW_HOURS, MAX_WORKERS,
};
pub use validate::{ConfigError, ConfigErrors};

#[cfg(test)]
mod tests;

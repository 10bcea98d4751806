//! Secrets: a value given inline, as `env:VAR_NAME` or as `env?:VAR_NAME`, that never prints, and the
//! key formats senders define for them (Standard Webhooks' `whsec_<base64>`).
//!
//! A leaf: the configuration reads secrets, the providers sign and verify with them, and neither
//! needs the other to know what a secret is.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

/// A secret given inline, as `env:VAR_NAME`, or as `env?:VAR_NAME` (an `inbound_secrets` entry that may
/// be absent: unset or empty, the entry is skipped). Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Secret {
    value: String,
    /// `Some(VAR_NAME)` when read from the environment.
    env_var: Option<String>,
    /// Set when the variable was not set at load; configuration validation reports it.
    missing: bool,
    /// Written `env?:`: absence is not an error where optional secrets are allowed.
    optional: bool,
}

impl Secret {
    /// An inline secret.
    pub fn inline(value: impl Into<String>) -> Secret {
        Secret {
            value: value.into(),
            env_var: None,
            missing: false,
            optional: false,
        }
    }

    /// Parses `env:VAR_NAME` or `env?:VAR_NAME` (resolved now) or an inline value.
    pub fn from_spec(spec: &str) -> Secret {
        let (var, optional) = match (spec.strip_prefix("env:"), spec.strip_prefix("env?:")) {
            (Some(var), _) => (var, false),
            (None, Some(var)) => (var, true),
            (None, None) => return Secret::inline(spec),
        };
        let (value, missing) = match std::env::var(var) {
            Ok(value) => (value, false),
            Err(_) => (String::new(), true),
        };
        Secret {
            value,
            env_var: Some(var.to_owned()),
            missing,
            optional,
        }
    }

    /// The environment variable it is read from (`env:` or `env?:`), `None` when inline.
    pub fn env_var(&self) -> Option<&str> {
        self.env_var.as_deref()
    }

    /// Written `env?:VAR_NAME`.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// An `env?:` secret whose variable is unset or empty: its list entry is skipped.
    pub fn is_absent_optional(&self) -> bool {
        self.optional && self.value.is_empty()
    }

    /// The secret's bytes (UTF-8 of the configured text), the HMAC key.
    pub fn expose(&self) -> &[u8] {
        self.value.as_bytes()
    }

    /// Why this secret cannot be used (unset or empty variable, empty value), naming no value.
    pub fn problem(&self) -> Option<String> {
        match (&self.env_var, self.missing) {
            (Some(var), true) => Some(format!("environment variable {var} is not set")),
            (Some(var), false) if self.value.is_empty() => {
                Some(format!("environment variable {var} is empty"))
            }
            (None, _) if self.value.is_empty() => Some("secret is empty".to_owned()),
            _ => None,
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.env_var {
            Some(var) if self.is_absent_optional() => write!(f, "Secret(env?:{var}, absent)"),
            Some(var) if self.optional => write!(f, "Secret(env?:{var}, ***)"),
            Some(var) => write!(f, "Secret(env:{var}, ***)"),
            None => f.write_str("Secret(***)"),
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = String::deserialize(d)?;
        Ok(Secret::from_spec(&spec))
    }
}

/// The prefix of a Standard Webhooks secret; the rest is the base64 of the HMAC key.
pub const STANDARD_SECRET_PREFIX: &str = "whsec_";

/// Standard Webhooks secrets decode with or without their `=` padding, as the official libraries
/// read them.
const STANDARD_SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HMAC key of a `whsec_<base64>` secret; `None` for any other text (which verifies nothing).
pub fn standard_secret_key(secret: &[u8]) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(STANDARD_SECRET_PREFIX.as_bytes())?;
    let key = STANDARD_SECRET_BASE64.decode(encoded).ok()?;
    (!key.is_empty()).then_some(key)
}

/// Why a configured secret cannot sign or verify Standard Webhooks, naming no part of it.
pub fn standard_secret_problem(secret: &[u8]) -> Option<&'static str> {
    if !secret.starts_with(STANDARD_SECRET_PREFIX.as_bytes()) {
        return Some("a Standard Webhooks secret starts with whsec_ (whsec_<base64 key>)");
    }
    standard_secret_key(secret)
        .is_none()
        .then_some("the part after whsec_ must be the base64 of a non-empty key")
}

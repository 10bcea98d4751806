//! `hookshift sign`: the signature headers a provider would send with a body, for testing a handler or
//! a running hookshift with `curl`.

use std::path::PathBuf;

use clap::Args;

use super::{read_input, secret_arg, CliError};
use crate::config::Secret;
use crate::provider::{self, Provider};

/// Options of `sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Signing secret, inline or `env:VAR_NAME` (keeps it out of the process list and shell history).
    #[arg(long)]
    pub secret: String,
    /// Signature scheme: `extend`, `plextera` or `standard` (Standard Webhooks; its secret is
    /// `whsec_<base64>`).
    #[arg(long, default_value = "extend", value_parser = provider_arg)]
    pub provider: Provider,
    /// Signature timestamp (unix seconds); defaults to now.
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// The message id a Standard Webhooks signature covers (`webhook-id`; a retry repeats it);
    /// defaults to one derived from the timestamp and the body. Other schemes sign no id.
    #[arg(long)]
    pub id: Option<String>,
    /// The exact body to sign; `-` or nothing reads standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
}

/// Parses `--provider` with the configuration's words.
pub(crate) fn provider_arg(text: &str) -> Result<Provider, String> {
    Provider::try_from(text.to_owned())
}

/// A `--secret` that `provider` can sign and verify with (a Standard Webhooks one is `whsec_` base64).
pub(crate) fn provider_secret(provider: Provider, spec: &str) -> Result<Secret, CliError> {
    let secret = secret_arg(spec)?;
    match provider.secret_problem(&secret) {
        Some(problem) => Err(CliError::Secret(problem.to_owned())),
        None => Ok(secret),
    }
}

/// `hookshift sign`: one `name: value` line per header.
pub fn sign_command(args: &SignArgs) -> Result<String, CliError> {
    let secret = provider_secret(args.provider, &args.secret)?;
    let (_, body) = read_input(&args.input)?;
    let timestamp = args.timestamp.unwrap_or_else(crate::clock::system_clock);
    let id = args.id.as_deref();
    Ok(
        provider::sign_event(args.provider, &secret, timestamp, id, &body)
            .iter()
            .map(|(name, value)| {
                format!(
                    "{name}: {}\n",
                    value.to_str().expect("signature headers are ASCII")
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_file(body: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, body).unwrap();
        (dir, path)
    }

    #[test]
    fn extend_headers_carry_the_sdk_signature_of_the_exact_bytes() {
        let body = br#"{"eventId":"evt_1","eventType":"file.processed","payload":{"id":"f"}}"#;
        let (_dir, input) = body_file(body);
        let out = sign_command(&SignArgs {
            secret: "wss_test".into(),
            provider: Provider::Extend,
            timestamp: Some(1_771_000_000),
            id: None,
            input,
        })
        .unwrap();
        // HMAC-SHA256("wss_test", "v0:1771000000:" + body) as Extend's SDK computes it (Python hmac).
        assert_eq!(
            out,
            "x-extend-request-timestamp: 1771000000\n\
             x-extend-request-signature: c8d1e6a4cca32ec7cce73ae94b0291fd18a8cefd6fb94b772dcb4bf476e08bfb\n"
        );
    }

    #[test]
    fn plextera_header_and_env_secret() {
        std::env::set_var("HOOKSHIFT_TEST_SIGN_SECRET", "whsec_env");
        let (_dir, input) = body_file(b"{}");
        let out = sign_command(&SignArgs {
            secret: "env:HOOKSHIFT_TEST_SIGN_SECRET".into(),
            provider: provider_arg("plextera").unwrap(),
            timestamp: Some(5),
            id: None,
            input,
        })
        .unwrap();
        let expected = provider::plextera_signature(b"whsec_env", "5", b"{}");
        assert_eq!(out, format!("x-plextera-signature: t=5,v1={expected}\n"));
        assert!(provider_arg("svix").is_err());
    }

    #[test]
    fn an_unset_secret_variable_is_refused_by_name() {
        let (_dir, input) = body_file(b"{}");
        let err = sign_command(&SignArgs {
            secret: "env:HOOKSHIFT_TEST_SIGN_SECRET_UNSET".into(),
            provider: Provider::Extend,
            timestamp: None,
            id: None,
            input,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--secret: environment variable HOOKSHIFT_TEST_SIGN_SECRET_UNSET is not set"
        );
    }
}

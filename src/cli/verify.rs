//! `hookshift verify`: checks a body against signature headers as a route would, to tell whether a
//! captured delivery (or hookshift's re-signed one) carries a valid signature for a secret.

use std::path::PathBuf;

use clap::Args;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::sign::{provider_arg, provider_secret};
use super::{read_input, CliError};
use crate::provider::{self, Provider, VerifyParams};

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Secret to verify with, inline or `env:VAR_NAME`; repeat for several (any one verifies).
    #[arg(long, required = true)]
    pub secret: Vec<String>,
    /// A received header, `name: value`; repeat for each (Extend sends two, Standard Webhooks three).
    #[arg(long = "header", short = 'H', required = true)]
    pub headers: Vec<String>,
    /// Signature scheme: `extend`, `plextera` or `standard` (Standard Webhooks: `webhook-*` or
    /// `svix-*` headers, a `whsec_` secret).
    #[arg(long, default_value = "extend", value_parser = provider_arg)]
    pub provider: Provider,
    /// Largest accepted age of the signature timestamp, in seconds (a route's
    /// `timestamp_tolerance_secs`); 0 checks the signature only, at any age.
    #[arg(long, default_value_t = 300)]
    pub tolerance: u64,
    /// The exact body received; `-` or nothing reads standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
}

/// `hookshift verify`: `Ok` with a one-line verdict when the signature is valid.
pub fn verify_command(args: &VerifyArgs) -> Result<String, CliError> {
    let secrets = args
        .secret
        .iter()
        .map(|spec| provider_secret(args.provider, spec))
        .collect::<Result<Vec<_>, _>>()?;
    let headers = parse_headers(&args.headers)?;
    let (_, body) = read_input(&args.input)?;
    let params = match args.tolerance {
        // Any age, and no timestamp is in the future of the end of time.
        0 => VerifyParams {
            provider: args.provider,
            secrets: &secrets,
            tolerance_secs: u64::MAX,
            now: i64::MAX,
        },
        tolerance_secs => VerifyParams {
            provider: args.provider,
            secrets: &secrets,
            tolerance_secs,
            now: crate::clock::system_clock(),
        },
    };
    let verified = provider::verify(params, &headers, body.into())
        .map_err(|e| CliError::Signature(e.to_string()))?;
    let id = verified
        .signed_id()
        .map(|id| format!(", id {id}"))
        .unwrap_or_default();
    Ok(format!(
        "ok: {} signature valid, timestamp {}{id}",
        args.provider.as_str(),
        verified.timestamp()
    ))
}

/// `name: value` strings as a header map (names are case-insensitive, as on the wire).
fn parse_headers(lines: &[String]) -> Result<HeaderMap, CliError> {
    let mut headers = HeaderMap::new();
    for line in lines {
        let bad = |reason: &str| CliError::Header {
            header: line.split(':').next().unwrap_or_default().trim().to_owned(),
            reason: reason.to_owned(),
        };
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("not `name: value`"))?;
        let name = HeaderName::try_from(name.trim()).map_err(|_| bad("not a header name"))?;
        let value =
            HeaderValue::try_from(value.trim()).map_err(|_| bad("not a valid header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::sign::{sign_command, SignArgs};

    const BODY: &[u8] = br#"{"eventId":"evt_1","eventType":"file.processed","payload":{"id":"f"}}"#;

    fn signed(provider: Provider, timestamp: i64) -> (tempfile::TempDir, PathBuf, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("event.json");
        std::fs::write(&input, BODY).unwrap();
        let headers = sign_command(&SignArgs {
            secret: "wss_right".into(),
            provider,
            timestamp: Some(timestamp),
            id: None,
            input: input.clone(),
        })
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
        (dir, input, headers)
    }

    fn args(secret: &str, headers: Vec<String>, input: PathBuf, tolerance: u64) -> VerifyArgs {
        VerifyArgs {
            secret: vec!["wss_other".into(), secret.into()],
            headers,
            provider: Provider::Extend,
            tolerance,
            input,
        }
    }

    #[test]
    fn what_sign_prints_verifies() {
        let now = crate::clock::system_clock();
        let (_dir, input, headers) = signed(Provider::Extend, now);
        let out = verify_command(&args("wss_right", headers, input, 300)).unwrap();
        assert_eq!(out, format!("ok: extend signature valid, timestamp {now}"));
    }

    #[test]
    fn a_wrong_secret_a_changed_body_and_an_old_timestamp_fail() {
        let now = crate::clock::system_clock();
        let (dir, input, headers) = signed(Provider::Extend, now);
        let err =
            verify_command(&args("wss_wrong", headers.clone(), input.clone(), 300)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signature verification failed: signature does not match any configured secret"
        );

        let changed = dir.path().join("changed.json");
        std::fs::write(&changed, [BODY, b" "].concat()).unwrap();
        assert!(verify_command(&args("wss_right", headers, changed, 300)).is_err());

        let (_dir, input, old) = signed(Provider::Extend, now - 3600);
        let err = verify_command(&args("wss_right", old.clone(), input.clone(), 300)).unwrap_err();
        assert!(err.to_string().contains("3600 s old"), "{err}");
        // --tolerance 0: only the MAC counts.
        assert!(verify_command(&args("wss_right", old, input, 0)).is_ok());
    }

    #[test]
    fn standard_webhooks_sign_names_the_id_and_verify_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("event.json");
        std::fs::write(&input, BODY).unwrap();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let now = crate::clock::system_clock();
        let sign = |secret: &str| {
            sign_command(&SignArgs {
                secret: secret.into(),
                provider: Provider::Standard,
                timestamp: Some(now),
                id: Some("msg_retry_1".into()),
                input: input.clone(),
            })
        };
        let headers: Vec<String> = sign(secret).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(headers[0], "webhook-id: msg_retry_1");
        assert_eq!(headers[1], format!("webhook-timestamp: {now}"));
        let expected =
            provider::standard_signature(secret.as_bytes(), "msg_retry_1", &now.to_string(), BODY)
                .unwrap();
        assert_eq!(headers[2], format!("webhook-signature: v1,{expected}"));
        // The same headers under Svix's names verify too.
        let svix: Vec<String> = headers
            .iter()
            .map(|h| h.replace("webhook-", "svix-"))
            .collect();
        for headers in [headers, svix] {
            let out = verify_command(&VerifyArgs {
                secret: vec![secret.into()],
                headers,
                provider: Provider::Standard,
                tolerance: 300,
                input: input.clone(),
            })
            .unwrap();
            assert_eq!(
                out,
                format!("ok: standard signature valid, timestamp {now}, id msg_retry_1")
            );
        }
        // A secret that is not whsec_ base64 is refused up front, not turned into an unsigned request.
        assert_eq!(
            sign("wss_right").unwrap_err().to_string(),
            "--secret: a Standard Webhooks secret starts with whsec_ (whsec_<base64 key>)"
        );
    }

    #[test]
    fn plextera_and_malformed_headers() {
        let (_dir, input, headers) = signed(Provider::Plextera, crate::clock::system_clock());
        let mut plextera = args("wss_right", headers, input.clone(), 300);
        plextera.provider = Provider::Plextera;
        assert!(verify_command(&plextera)
            .unwrap()
            .starts_with("ok: plextera"));

        let err = verify_command(&args(
            "wss_right",
            vec!["x-extend-request-timestamp 5".into()],
            input.clone(),
            300,
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--header x-extend-request-timestamp 5: not `name: value`"
        );
        let err = verify_command(&args(
            "wss_right",
            vec!["x-extend-request-timestamp: 5".into()],
            input,
            300,
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("missing header x-extend-request-signature"),
            "{err}"
        );
    }
}

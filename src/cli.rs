//! The `hookshift` command line, one file per command below `cli/`: `serve` (the default), `check`,
//! `translate`, `reference`, `new-step`, `status`, `shadow report`, `quarantine`, and the webhook
//! tools `sign`, `verify` and `send`. This file holds the argument tree and the errors they share.

pub mod check;
pub mod new_step;
pub mod quarantine;
pub mod reference;
pub mod send;
pub mod serve;
pub mod shadow_report;
pub mod sign;
pub mod status;
pub mod translate;
pub mod verify;

pub use check::{check, CheckArgs};
pub use reference::{reference_command, ReferenceArgs, REFERENCE_END, REFERENCE_START};
pub use serve::{serve, ServeArgs};
pub use translate::{translate_command, TranslateArgs};

use std::{io::Read, path::Path};

use clap::{Parser, Subcommand};

use crate::config::{ConfigErrors, Secret};
use crate::mapping::{LoadErrors, NoPath, TranslateError};
use crate::provider::EnvelopeError;

/// Reverse proxy that verifies, translates and re-signs webhooks across API versions.
#[derive(Debug, Parser)]
#[command(
    name = "hookshift",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `serve` options, for when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl Cli {
    /// The command to run (`serve` when none was named).
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy (the default).
    Serve(ServeArgs),
    /// Validate the configuration, every mapping, every golden case and round trip; print all problems.
    Check(CheckArgs),
    /// Translate one event from one API version to another and print it.
    Translate(TranslateArgs),
    /// Print the mapping reference (Markdown), or rewrite it inside a file (docs/mapping-reference.md).
    Reference(ReferenceArgs),
    /// Start the step from the newest (or oldest) version FROM to a new version TO: the step folder
    /// with a change skeleton per event family, the version order, golden inputs, identity entries and
    /// a README of what is left; `check` then lists what is missing.
    NewStep(new_step::NewStepArgs),
    /// Print the signature headers the provider would send with a body.
    Sign(sign::SignArgs),
    /// Check a body against received signature headers; non-zero exit when they do not verify.
    Verify(verify::VerifyArgs),
    /// Sign an event file and POST it (test a running stage or a handler); non-zero exit unless 2xx.
    Send(send::SendArgs),
    /// The shadow comparison of twins, read from the ledger.
    Shadow(shadow_report::ShadowArgs),
    /// The events a mapping failed on, kept in the ledger (`on_translation_failure = "quarantine"`).
    Quarantine(quarantine::QuarantineArgs),
    /// Where the migration stands per route (stage, traffic, shadow comparison, problems) and the
    /// verdict for the next stage, read from the ledger; `--ready-for STAGE` exits 0 only when ready.
    Status(status::StatusArgs),
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Json { path: String, message: String },
    #[error("{path}: body is not an event: {source}")]
    NotAnEvent { path: String, source: EnvelopeError },
    #[error("invalid mappings:\n{0}")]
    Mappings(#[from] LoadErrors),
    #[error(transparent)]
    NoPath(#[from] NoPath),
    #[error(transparent)]
    Translate(#[from] TranslateError),
    #[error("{0}")]
    Run(#[from] crate::RunError),
    #[error("check found {0} problem(s)")]
    CheckFailed(usize),
    #[error("{path} has no {marker:?} marker")]
    MissingMarker { path: String, marker: &'static str },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("new-step: {0}")]
    NewStep(String),
    #[error("--secret: {0}")]
    Secret(String),
    #[error("--header {header}: {reason}")]
    Header { header: String, reason: String },
    #[error("signature verification failed: {0}")]
    Signature(String),
    #[error("--to {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot POST to {url}: {reason}")]
    Send { url: String, reason: String },
    #[error("answered {status}: {body}")]
    Answered { status: String, body: String },
}

/// A `--secret` argument: inline, or `env:VAR_NAME` read now; unset or empty is refused by name.
fn secret_arg(spec: &str) -> Result<Secret, CliError> {
    let secret = Secret::from_spec(spec);
    match secret.problem() {
        Some(problem) => Err(CliError::Secret(problem)),
        None => Ok(secret),
    }
}

/// The bytes of an input file, or of standard input for `-`, with a name to say where they came from.
fn read_input(path: &Path) -> Result<(String, Vec<u8>), CliError> {
    if path.as_os_str() == "-" {
        let mut buffer = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buffer)
            .map_err(|source| CliError::Read {
                path: "standard input".to_owned(),
                source,
            })?;
        return Ok(("standard input".to_owned(), buffer));
    }
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: name.clone(),
        source,
    })?;
    Ok((name, bytes))
}

#[cfg(test)]
mod tests {
    use super::reference::replace_between_markers;
    use super::*;
    use crate::provider::Provider;
    use std::path::PathBuf;

    #[test]
    fn serve_is_the_default_command() {
        let cli = Cli::try_parse_from(["hookshift"]).unwrap();
        assert!(
            matches!(cli.command(), Command::Serve(ServeArgs { config }) if config == Path::new("config.toml"))
        );
        let cli = Cli::try_parse_from(["hookshift", "--config", "x.toml"]).unwrap();
        assert!(
            matches!(cli.command(), Command::Serve(ServeArgs { config }) if config == Path::new("x.toml"))
        );
        let cli = Cli::try_parse_from(["hookshift", "serve", "--config", "y.toml"]).unwrap();
        assert!(
            matches!(cli.command(), Command::Serve(ServeArgs { config }) if config == Path::new("y.toml"))
        );
    }

    #[test]
    fn translate_arguments() {
        let cli = Cli::try_parse_from([
            "hookshift",
            "translate",
            "--from",
            "a",
            "--to",
            "b",
            "event.json",
        ])
        .unwrap();
        let Command::Translate(args) = cli.command() else {
            panic!("not translate")
        };
        assert_eq!((args.from.as_str(), args.to.as_str()), ("a", "b"));
        assert_eq!(args.input, Path::new("event.json"));
        assert_eq!(args.mappings, Path::new("mappings"));
        assert!(Cli::try_parse_from(["hookshift", "translate", "--from", "a"]).is_err());
    }

    #[test]
    fn reference_replaces_only_the_marked_section() {
        let text = format!("# T\n{REFERENCE_START}old\n{REFERENCE_END}\ntail\n");
        assert_eq!(
            replace_between_markers(&text, "new\n").unwrap(),
            format!("# T\n{REFERENCE_START}new\n{REFERENCE_END}\ntail\n")
        );
        assert_eq!(replace_between_markers("# T\n", "x"), Err(REFERENCE_START));
    }

    #[test]
    fn translate_to_the_same_version_is_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("e.json");
        std::fs::write(
            &input,
            br#"{"eventId":"e","eventType":"x.y","payload":{"n":1.50}}"#,
        )
        .unwrap();
        let args = TranslateArgs {
            from: "v1".into(),
            to: "v1".into(),
            mappings: dir.path().join("none"),
            timestamp: None,
            compact: true,
            provider: Provider::Extend,
            batch_dir: None,
            input,
        };
        assert_eq!(
            translate_command(&args).unwrap(),
            r#"{"eventId":"e","eventType":"x.y","payload":{"n":1.50}}"#
        );
    }

    /// The body of a shipped golden case with one envelope member changed.
    fn golden_event_with(change: impl FnOnce(&mut crate::json::Map)) -> Vec<u8> {
        let text =
            std::fs::read("mappings/2025-04-21_to_2026-02-09/golden/extract_processed.input.json")
                .unwrap();
        let mut event = crate::json::parse(&text).unwrap();
        change(event.as_object_mut().unwrap());
        event.to_vec()
    }

    fn translate_args(input: PathBuf, batch_dir: Option<PathBuf>) -> TranslateArgs {
        TranslateArgs {
            from: "2025-04-21".into(),
            to: "2026-02-09".into(),
            mappings: PathBuf::from("mappings"),
            timestamp: Some(1_771_000_000),
            compact: true,
            provider: Provider::Extend,
            batch_dir,
            input,
        }
    }

    #[test]
    fn translate_refuses_what_the_server_answers_not_an_event() {
        let dir = tempfile::tempdir().unwrap();
        type Change = Box<dyn FnOnce(&mut crate::json::Map)>;
        let cases: [(&str, Change, &str); 3] = [
            (
                "no_id",
                Box::new(|e| {
                    e.shift_remove("eventId");
                }),
                "eventId must be a string",
            ),
            (
                "empty_payload",
                Box::new(|e| {
                    e.insert(
                        "payload",
                        crate::json::Value::Object(crate::json::Map::new()),
                    );
                }),
                "payload is an empty object",
            ),
            ("whole", Box::new(|_| {}), ""),
        ];
        let batch = dir.path().join("batch");
        std::fs::create_dir(&batch).unwrap();
        for (name, change, refusal) in cases {
            let body = golden_event_with(change);
            let input = dir.path().join(format!("{name}.json"));
            std::fs::write(&input, &body).unwrap();
            std::fs::write(batch.join(format!("{name}.input.json")), &body).unwrap();
            let answer = translate_command(&translate_args(input.clone(), None));
            if refusal.is_empty() {
                assert!(answer.unwrap().contains("extract_run.processed"));
                continue;
            }
            let message = answer.unwrap_err().to_string();
            assert_eq!(
                message,
                format!("{}: body is not an event: {refusal}", input.display())
            );
            // The same words the server answers with (its `not_an_event` error).
            let server =
                crate::pipeline::error::ProxyError::NotAnEvent(refusal.to_owned()).to_string();
            assert!(message.ends_with(&server), "{message} / {server}");
            assert!(
                crate::json::scan(&body)
                    .map(|envelope| Provider::Extend.check_envelope(&envelope).is_err())
                    .unwrap(),
                "the server's check refuses it too"
            );
        }
        let summary =
            translate_command(&translate_args(PathBuf::from("-"), Some(batch.clone()))).unwrap();
        assert_eq!(summary, "1 translated, 2 refused");
        assert_eq!(
            std::fs::read_to_string(batch.join("no_id.error.txt")).unwrap(),
            "body is not an event: eventId must be a string"
        );
        assert_eq!(
            std::fs::read_to_string(batch.join("empty_payload.error.txt")).unwrap(),
            "body is not an event: payload is an empty object"
        );
    }

    #[test]
    fn translate_takes_the_provider_of_the_route() {
        let cli = Cli::try_parse_from([
            "hookshift",
            "translate",
            "--from",
            "a",
            "--to",
            "b",
            "--provider",
            "plextera",
        ])
        .unwrap();
        let Command::Translate(args) = cli.command() else {
            panic!("not translate")
        };
        assert_eq!(args.provider, Provider::Plextera);
        assert!(Cli::try_parse_from([
            "hookshift",
            "translate",
            "--from",
            "a",
            "--to",
            "b",
            "--provider",
            "stripe",
        ])
        .is_err());
    }
}

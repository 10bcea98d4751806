//! The `hookshift` command line: `serve` (the default), `check`, `translate`, `reference`, and the
//! webhook tools `sign`, `verify` and `send` (one file each below `cli/`).

pub mod new_step;
pub mod quarantine;
pub mod send;
pub mod shadow_report;
pub mod sign;
pub mod status;
pub mod verify;

use std::{
    io::Read,
    path::{Path, PathBuf},
};

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigErrors, Secret};
use crate::mapping::{translate, Delivery, LoadErrors, Mappings, NoPath, TranslateError};
use crate::provider::{EnvelopeError, Provider};
use crate::state;

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

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Configuration file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
}

/// Options of `translate`.
#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// API version the event is in.
    #[arg(long)]
    pub from: String,
    /// API version to translate to.
    #[arg(long)]
    pub to: String,
    /// Mappings directory.
    #[arg(long, default_value = "mappings")]
    pub mappings: PathBuf,
    /// Delivery timestamp (unix seconds) mappings may read; defaults to now. Golden cases use 1771000000.
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Print on one line instead of indented.
    #[arg(long)]
    pub compact: bool,
    /// The sender whose envelope rules the event must meet, as a route's `provider`: the server
    /// answers 400 `not_an_event` to a body that breaks them, and so does this command.
    #[arg(long, default_value = "extend", value_parser = parse_provider)]
    pub provider: Provider,
    /// Translate every `NAME.input.json` of this folder instead of one event: writes `NAME.output.json`
    /// (one line) and `NAME.unmapped.json` (the unmapped field paths), or `NAME.error.txt`; prints a count.
    #[arg(long, conflicts_with = "input")]
    pub batch_dir: Option<PathBuf>,
    /// Event file; `-` or nothing reads standard input.
    #[arg(default_value = "-")]
    pub input: PathBuf,
}

/// A `--provider` name, as a route's `provider` is written.
fn parse_provider(name: &str) -> Result<Provider, String> {
    Provider::try_from(name.to_owned())
}

/// Options of `reference`.
#[derive(Debug, Args)]
pub struct ReferenceArgs {
    /// Mappings directory.
    #[arg(long, default_value = "mappings")]
    pub mappings: PathBuf,
    /// Replace the text between the mapping-reference markers of this file instead of printing.
    #[arg(long, alias = "write-readme")]
    pub write: Option<PathBuf>,
}

/// Marks the start of the generated mapping reference in its page.
pub const REFERENCE_START: &str = "<!-- mapping-reference:start -->\n";
/// Marks its end.
pub const REFERENCE_END: &str = "<!-- mapping-reference:end -->";

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

/// `hookshift serve`: load the configuration, set up logging, bind, and run until SIGTERM/SIGINT.
pub async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let config = Config::load(&args.config)?;
    crate::logging::init(config.server.log_format);
    let bind = |address| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| CliError::Bind { address, source })
    };
    // Shareable with SO_REUSEPORT: each webhook worker then accepts on a socket of its own.
    let address = config.server.listen;
    let listener =
        crate::server::bind_shared(address).map_err(|source| CliError::Bind { address, source })?;
    let admin_listener = bind(config.server.admin_listen).await?;
    crate::run(config, listener, admin_listener, crate::shutdown_signal()).await?;
    Ok(())
}

/// `hookshift check`: prints every problem to standard error and a summary to standard output.
pub fn check(args: &CheckArgs) -> Result<(), CliError> {
    let report = state::check(&args.config);
    for old in &report.warnings {
        eprintln!("warning: {old}");
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    if !report.problems.is_empty() {
        return Err(CliError::CheckFailed(report.problems.len()));
    }
    println!("{}", check_summary(&args.config, &report));
    Ok(())
}

/// What a passing `check` checked: routes and their policies, mapping steps and rules, golden cases.
fn check_summary(path: &Path, report: &state::CheckReport) -> String {
    let mut lines = vec![format!("ok: {}", path.display())];
    if let Ok(config) = Config::parse(path, std::env::vars()) {
        lines.push(format!("  {} route(s):", config.routes.len()));
        for route in &config.routes {
            let policies: Vec<String> = route
                .policy
                .iter()
                .map(|(version, policy)| format!("{version} {}", policy.as_str()))
                .collect();
            lines.push(format!(
                "    {} {} ({}): {}; handler speaks {}",
                route.name,
                route.path,
                route.provider.as_str(),
                policies.join(", "),
                route.downstream.version
            ));
        }
        // The global mapping set, then each route's own (a route of another provider names one).
        for dir in config.mappings_dirs() {
            let Ok(mappings) = Mappings::load(&dir) else {
                continue;
            };
            let steps = mappings.step_rule_counts();
            let rules: usize = steps.iter().map(|(_, _, rules)| rules).sum();
            lines.push(format!(
                "  {} mapping step(s), {rules} rule(s) in {}:",
                steps.len(),
                dir.display()
            ));
            for (from, to, rules) in steps {
                lines.push(format!("    {from}_to_{to}: {rules} rule(s)"));
            }
            let golden = mappings.golden_cases().len();
            lines.push(format!(
                "  {golden} golden case(s) translated as expected, and back where both steps exist"
            ));
        }
    }
    lines.push(match &report.schemas_dir {
        Some(dir) => format!("  golden events valid against the schemas in {dir}"),
        None => "  no schemas folder: golden events not validated against schemas".to_owned(),
    });
    lines.join("\n")
}

/// `hookshift translate`: the translated event, as JSON text.
pub fn translate_command(args: &TranslateArgs) -> Result<String, CliError> {
    if let Some(dir) = &args.batch_dir {
        return translate_folder(args, dir);
    }
    let (name, text) = read_input(&args.input)?;
    let event = crate::json::parse(&text).map_err(|e| CliError::Json {
        path: name.clone(),
        message: e.to_string(),
    })?;
    args.provider
        .check_event(&event)
        .map_err(|source| CliError::NotAnEvent { path: name, source })?;
    let output = if args.from == args.to {
        event
    } else {
        let mappings = Mappings::load(&args.mappings)?;
        let plan = mappings.plan(&args.from, &args.to)?;
        let timestamp = args.timestamp.unwrap_or_else(crate::clock::system_clock);
        translate(plan, event, &Delivery { timestamp })?
    };
    Ok(if args.compact {
        output.to_string()
    } else {
        serde_json::to_string_pretty(&output).expect("a JSON value serializes")
    })
}

/// `translate --batch-dir`: every `NAME.input.json` of `dir`, each result written beside it.
fn translate_folder(args: &TranslateArgs, dir: &Path) -> Result<String, CliError> {
    let mappings = Mappings::load(&args.mappings)?;
    let plan = mappings.plan(&args.from, &args.to)?;
    let delivery = Delivery {
        timestamp: args.timestamp.unwrap_or_else(crate::clock::system_clock),
    };
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let (mut translated, mut refused) = (0, 0);
    for entry in entries.filter_map(Result::ok) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".input.json") else {
            continue;
        };
        let (_, text) = read_input(&entry.path())?;
        let result = crate::json::parse(&text)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|event| {
                args.provider
                    .check_event(&event)
                    .map_err(|e| format!("body is not an event: {e}"))?;
                crate::mapping::translate_reporting(plan, event, &delivery)
                    .map_err(|e| e.to_string())
            });
        let write = |suffix: &str, text: String| {
            let path = dir.join(format!("{name}{suffix}"));
            std::fs::write(&path, text).map_err(|source| CliError::Read {
                path: path.display().to_string(),
                source,
            })
        };
        match result {
            Ok(done) => {
                translated += 1;
                write(".output.json", done.event.to_string())?;
                write(
                    ".unmapped.json",
                    serde_json::to_string(&done.unmapped_fields).expect("strings serialize"),
                )?;
            }
            Err(message) => {
                refused += 1;
                write(".error.txt", message)?;
            }
        }
    }
    Ok(format!("{translated} translated, {refused} refused"))
}

/// `hookshift reference`: the reference page, or `None` after rewriting the `--write` file.
pub fn reference_command(args: &ReferenceArgs) -> Result<Option<String>, CliError> {
    let markdown = Mappings::load(&args.mappings)?.reference_markdown();
    let Some(readme) = &args.write else {
        return Ok(Some(markdown));
    };
    let name = readme.display().to_string();
    let text = std::fs::read_to_string(readme).map_err(|source| CliError::Read {
        path: name.clone(),
        source,
    })?;
    let updated =
        replace_between_markers(&text, &markdown).map_err(|marker| CliError::MissingMarker {
            path: name.clone(),
            marker,
        })?;
    std::fs::write(readme, updated).map_err(|source| CliError::Write { path: name, source })?;
    Ok(None)
}

fn replace_between_markers(text: &str, content: &str) -> Result<String, &'static str> {
    let from = text.find(REFERENCE_START).ok_or(REFERENCE_START)? + REFERENCE_START.len();
    let to = text[from..].find(REFERENCE_END).ok_or(REFERENCE_END)? + from;
    Ok(format!("{}{content}{}", &text[..from], &text[to..]))
}

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
    use super::*;

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

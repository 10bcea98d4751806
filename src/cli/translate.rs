//! `hookshift translate`: one event, or a folder of them, translated between two versions as the
//! server would (the same envelope checks, the same mapping engine).

use std::path::{Path, PathBuf};

use clap::Args;

use super::{read_input, CliError};
use crate::mapping::{translate, Delivery, Mappings};
use crate::provider::Provider;

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

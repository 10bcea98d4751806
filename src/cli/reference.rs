//! `hookshift reference`: the generated mapping reference, printed or written between its markers.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::mapping::Mappings;

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

pub(super) fn replace_between_markers(text: &str, content: &str) -> Result<String, &'static str> {
    let from = text.find(REFERENCE_START).ok_or(REFERENCE_START)? + REFERENCE_START.len();
    let to = text[from..].find(REFERENCE_END).ok_or(REFERENCE_END)? + from;
    Ok(format!("{}{content}{}", &text[..from], &text[to..]))
}

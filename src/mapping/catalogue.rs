//! The event catalogue of a mapping set: every event type each version's sender emits, declared in
//! `catalogue.toml` at the top of the mappings folder.
//!
//! Metric labels name an event type only when it is known (anything else is `other`, so a sender's
//! made-up types cannot grow the label set), and an identity may only be declared for a known type.
//! Rules name most types; the catalogue adds the ones no rule needs to name (an event the step leaves
//! alone, or a new version's type before its rule is written). Adding an event type, or a new
//! sender's whole catalogue, is an edit of this file.

use std::collections::BTreeMap;
use std::path::Path;

use toml_edit::ImDocument;

use super::LoadError;

/// The file at the top of the mappings folder that lists each version's event types.
pub const CATALOGUE_FILE: &str = "catalogue.toml";

/// Every event type each version's sender emits, as `catalogue.toml` lists them.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    by_version: BTreeMap<String, Vec<String>>,
}

impl Catalogue {
    /// Reads `catalogue.toml` in `dir` (none: an empty catalogue). Versions must be ones the steps
    /// know; every entry is a non-empty event type, listed once per version.
    pub(crate) fn load(dir: &Path, versions: &[&str], errors: &mut Vec<LoadError>) -> Catalogue {
        let text = match std::fs::read_to_string(dir.join(CATALOGUE_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Catalogue::default(),
            Err(e) => {
                errors.push(error(0, "-", format!("cannot read: {e}")));
                return Catalogue::default();
            }
        };
        let line = |span: Option<std::ops::Range<usize>>| {
            span.map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            })
        };
        let doc = match ImDocument::parse(text.clone()) {
            Ok(doc) => doc,
            Err(e) => {
                errors.push(error(line(e.span()), "-", e.message().to_owned()));
                return Catalogue::default();
            }
        };
        let mut catalogue = Catalogue::default();
        for (key, item) in doc.iter() {
            let key_line = line(doc.key(key).and_then(|k| k.span()));
            if key != "event_types" {
                errors.push(error(
                    key_line,
                    key,
                    "unknown key: the file holds one [event_types] table, VERSION = [event types]"
                        .to_owned(),
                ));
                continue;
            }
            let Some(table) = item.as_table_like() else {
                errors.push(error(
                    key_line,
                    key,
                    "must be a table: VERSION = [event types]".to_owned(),
                ));
                continue;
            };
            for (version, list) in table.iter() {
                let place = format!("event_types.{version:?}");
                let at = line(table.key(version).and_then(|k| k.span()));
                if let Some(problem) = unknown_version(version, versions) {
                    errors.push(error(at, &place, problem));
                    continue;
                }
                match event_types(list) {
                    Ok(types) => {
                        catalogue.by_version.insert(version.to_owned(), types);
                    }
                    Err(message) => errors.push(error(at, &place, message)),
                }
            }
        }
        catalogue
    }

    /// The event types `catalogue.toml` lists for `version`, in file order (none when unlisted).
    pub fn event_types(&self, version: &str) -> &[String] {
        self.by_version.get(version).map_or(&[], Vec::as_slice)
    }

    /// Whether `catalogue.toml` lists `event_type` for `version`.
    pub fn lists(&self, version: &str, event_type: &str) -> bool {
        self.event_types(version).iter().any(|t| t == event_type)
    }

    /// Every event type of every version (a type two versions share comes once per version).
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.by_version.values().flatten().map(String::as_str)
    }
}

/// The list of one version: non-empty strings, each once.
fn event_types(item: &toml_edit::Item) -> Result<Vec<String>, String> {
    let Some(array) = item.as_array() else {
        return Err("must be a list of event types".to_owned());
    };
    let mut types: Vec<String> = Vec::with_capacity(array.len());
    for value in array.iter() {
        match value.as_str() {
            Some(t) if types.iter().any(|seen| seen == t) => {
                return Err(format!("{t:?} is listed twice"))
            }
            Some(t) if !t.is_empty() && !t.chars().any(char::is_whitespace) => {
                types.push(t.to_owned())
            }
            _ => {
                return Err(
                    "every entry is an event type: a non-empty string without spaces".to_owned(),
                )
            }
        }
    }
    Ok(types)
}

/// Why a data file may not name `version`: no mapping step starts or ends there (the catalogue and
/// the identities name only versions the steps connect).
pub(super) fn unknown_version(version: &str, versions: &[&str]) -> Option<String> {
    (!versions.contains(&version)).then(|| {
        format!(
            "no mapping step starts or ends at version {version:?} (known: {})",
            versions.join(", ")
        )
    })
}

fn error(line: usize, key: &str, message: String) -> LoadError {
    LoadError {
        file: CATALOGUE_FILE.to_owned(),
        line,
        key: key.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Catalogue, Vec<LoadError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CATALOGUE_FILE), text).unwrap();
        let mut errors = Vec::new();
        let catalogue = Catalogue::load(dir.path(), &["v1", "v2"], &mut errors);
        (catalogue, errors)
    }

    #[test]
    fn lists_each_versions_event_types() {
        let (catalogue, errors) =
            load("[event_types]\nv1 = [\"run.done\", \"run.failed\"]\nv2 = [\"job.done\"]\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(catalogue.event_types("v1"), ["run.done", "run.failed"]);
        assert!(catalogue.lists("v2", "job.done") && !catalogue.lists("v1", "job.done"));
        assert!(catalogue.event_types("v3").is_empty());
        assert_eq!(
            catalogue.all().collect::<Vec<_>>(),
            ["run.done", "run.failed", "job.done"]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line_and_key() {
        let (_, errors) = load(concat!(
            "[event_types]\n",
            "v1 = [\"a.b\", \"a.b\"]\n",
            "v9 = [\"x.y\"]\n",
            "v2 = [\"\"]\n",
            "[other]\n",
        ));
        let found: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "catalogue.toml:2: event_types.\"v1\": \"a.b\" is listed twice",
                "catalogue.toml:3: event_types.\"v9\": no mapping step starts or ends at version \"v9\" (known: v1, v2)",
                "catalogue.toml:4: event_types.\"v2\": every entry is an event type: a non-empty string without spaces",
                "catalogue.toml:5: other: unknown key: the file holds one [event_types] table, VERSION = [event types]",
            ]
        );
    }

    #[test]
    fn no_file_is_an_empty_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let mut errors = Vec::new();
        let catalogue = Catalogue::load(dir.path(), &["v1"], &mut errors);
        assert!(errors.is_empty() && catalogue.all().next().is_none());
    }
}

//! Identity of an event: which fields name one logical event, per version and event type, declared in
//! `identity.toml` at the top of the mappings folder (documented there and in
//! `docs/mapping-language.md`).
//!
//! The ledger pairs the two copies of one event by their identity at the handler's version, the copy
//! sent in another version by the identity of its translation. [`Identities::check`] (run by `hookshift
//! check`) holds every golden case to what that needs: each identity field present in the golden events
//! of its version, and none a translation synthesises (covered by the way back's lossy paths), so that
//! the translated copy's identity equals its twin's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use toml_edit::{ImDocument, Item};

use crate::json::Value;

use super::{LoadError, Mappings};

/// The file at the top of the mappings folder that declares identities.
pub const IDENTITY_FILE: &str = "identity.toml";

/// One field of an identity: a dotted path of object keys from the envelope root (`payload.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityField {
    text: String,
    keys: Vec<String>,
}

impl IdentityField {
    fn parse(text: &str) -> Result<IdentityField, String> {
        let keys: Vec<String> = text.split('.').map(str::to_owned).collect();
        if keys
            .iter()
            .any(|k| k.is_empty() || k.contains(['[', ']', '*']))
        {
            return Err(format!(
                "{text:?} is not a dotted path of object keys (payload.id)"
            ));
        }
        Ok(IdentityField {
            text: text.to_owned(),
            keys,
        })
    }

    /// The field's value in `event`; absent or `null` is none.
    pub fn get<'v>(&self, event: &'v Value) -> Option<&'v Value> {
        let mut at = event;
        for key in &self.keys {
            at = at.get(key)?;
        }
        (!at.is_null()).then_some(at)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The identity of one event: its type and the values of its identity fields, as one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub event_type: String,
    /// Event type and each field's JSON text, joined by unit separators (which JSON text escapes).
    pub key: String,
}

/// Every declared identity, per version and event type.
#[derive(Debug, Clone)]
pub struct Identities {
    by_version: HashMap<String, BTreeMap<String, Vec<IdentityField>>>,
    /// The envelope member naming the event type (the mapping set's).
    event_type_key: Arc<str>,
}

impl Default for Identities {
    fn default() -> Identities {
        Identities {
            by_version: HashMap::new(),
            event_type_key: Arc::from(super::DEFAULT_EVENT_TYPE_KEY),
        }
    }
}

impl Identities {
    /// Reads `identity.toml` in `dir` (none: no identities, nothing is paired). Versions must be ones
    /// the steps know; event types ones a rule names in that version or the catalogue lists for it
    /// (`is_known_event_type(version, event_type)`). `event_type_key` is the envelope member naming
    /// an event's type.
    pub(crate) fn load(
        dir: &Path,
        versions: &[&str],
        event_type_key: &Arc<str>,
        is_known_event_type: impl Fn(&str, &str) -> bool,
        errors: &mut Vec<LoadError>,
    ) -> Identities {
        let none = || Identities {
            event_type_key: Arc::clone(event_type_key),
            ..Identities::default()
        };
        let text = match std::fs::read_to_string(dir.join(IDENTITY_FILE)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return none(),
            Err(e) => {
                errors.push(error(0, "-", format!("cannot read: {e}")));
                return none();
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
                return none();
            }
        };
        let mut identities = none();
        for (key, item) in doc.iter() {
            if key != "identity" {
                errors.push(error(
                    line(doc.key(key).and_then(|k| k.span())),
                    key,
                    "unknown key: the file holds [identity.\"VERSION\"] tables".to_owned(),
                ));
                continue;
            }
            let Some(table) = item.as_table_like() else {
                errors.push(error(
                    line(item.span()),
                    "identity",
                    "must be a table of versions".to_owned(),
                ));
                continue;
            };
            for (version, types) in table.iter() {
                let place = format!("identity.{version:?}");
                let version_line = line(table.key(version).and_then(|k| k.span()));
                if let Some(problem) = super::catalogue::unknown_version(version, versions) {
                    errors.push(error(version_line, &place, problem));
                    continue;
                }
                let Some(types) = types.as_table_like() else {
                    errors.push(error(
                        version_line,
                        &place,
                        "must be a table: event type = [field paths]".to_owned(),
                    ));
                    continue;
                };
                let declared = identities.by_version.entry(version.to_owned()).or_default();
                for (event_type, fields) in types.iter() {
                    let place = format!("{place}.{event_type:?}");
                    let at = line(types.key(event_type).and_then(|k| k.span()));
                    if !is_known_event_type(version, event_type) {
                        errors.push(error(
                            at,
                            &place,
                            format!("{event_type:?} is not an event type of {version}: no rule names it and catalogue.toml does not list it"),
                        ));
                        continue;
                    }
                    match parse_fields(fields) {
                        Ok(parsed) => {
                            declared.insert(event_type.to_owned(), parsed);
                        }
                        Err(message) => errors.push(error(at, &place, message)),
                    }
                }
            }
        }
        identities
    }

    /// The identity fields of an event type in a version, if it declares any.
    pub fn fields(&self, version: &str, event_type: &str) -> Option<&[IdentityField]> {
        self.by_version
            .get(version)?
            .get(event_type)
            .map(Vec::as_slice)
    }

    /// The event types of a version that declare an identity, sorted.
    pub fn event_types(&self, version: &str) -> Vec<&str> {
        self.by_version
            .get(version)
            .map(|types| types.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The type of `event`, read from the set's event-type member (`eventType`, `type`).
    pub fn event_type_of<'v>(&self, event: &'v Value) -> Option<&'v str> {
        event.get(&self.event_type_key)?.as_str()
    }

    /// The identity of `event` (an envelope in `version`): `None` when its type declares none or one
    /// of the fields is absent or `null` (such an event is never paired).
    pub fn of(&self, version: &str, event: &Value) -> Option<Identity> {
        let event_type = self.event_type_of(event)?;
        let fields = self.fields(version, event_type)?;
        let mut key = event_type.to_owned();
        for field in fields {
            key.push('\u{1f}');
            key.push_str(&String::from_utf8_lossy(&field.get(event)?.to_vec()));
        }
        Some(Identity {
            event_type: event_type.to_owned(),
            key,
        })
    }
}

fn parse_fields(item: &Item) -> Result<Vec<IdentityField>, String> {
    let Some(list) = item.as_array() else {
        return Err("must be a list of field paths, e.g. [\"payload.id\"]".to_owned());
    };
    let mut fields = Vec::new();
    for value in list.iter() {
        let Some(text) = value.as_str() else {
            return Err("field paths are strings".to_owned());
        };
        let field = IdentityField::parse(text)?;
        if fields.contains(&field) {
            return Err(format!("{text:?} is listed twice"));
        }
        fields.push(field);
    }
    if fields.is_empty() {
        return Err("names no field: leave the event type out to never pair it".to_owned());
    }
    Ok(fields)
}

fn error(line: usize, key: &str, message: String) -> LoadError {
    LoadError {
        file: IDENTITY_FILE.to_owned(),
        line,
        key: key.to_owned(),
        message,
    }
}

impl Mappings {
    /// The declared identities (`identity.toml`).
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// Holds every golden case to the declared identities: each identity field present in the golden
    /// events of its version and type, and, for a translated event, not one the translation synthesises
    /// (the way back's lossy paths cover it), so twins get the same identity. One message per problem.
    pub fn check_identities(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for case in self.golden_cases() {
            let name = format!("{}_to_{}/golden/{}", case.from, case.to, case.name);
            for (version, read) in [
                (&case.from, case.read_input()),
                (&case.to, case.read_output()),
            ] {
                let Ok(event) = read else { continue };
                let Some(event_type) = self.identities.event_type_of(&event) else {
                    continue;
                };
                let Some(fields) = self.identities.fields(version, event_type) else {
                    continue;
                };
                for field in fields {
                    if field.get(&event).is_none() {
                        problems.push(format!(
                            "{IDENTITY_FILE}: identity of {event_type:?} in {version}: {name} has no value at {}",
                            field.as_str()
                        ));
                    }
                }
            }
            let Ok(output) = case.read_output() else {
                continue;
            };
            let Some(event_type) = self.identities.event_type_of(&output) else {
                continue;
            };
            let Some(fields) = self.identities.fields(&case.to, event_type) else {
                continue;
            };
            let Ok(back) = self.plan(&case.to, &case.from) else {
                continue;
            };
            let synthesised = crate::shadow::Expected::new(
                back.lossy_paths(&output, &super::golden::GOLDEN_DELIVERY)
                    .into_iter()
                    .map(|(path, _)| path),
            );
            for field in fields {
                if synthesised.covers(field.as_str()) {
                    problems.push(format!(
                        "{IDENTITY_FILE}: identity of {event_type:?} in {} names {}, which {} cannot carry (a lossy path of {}_to_{}): the translated twin would get another identity",
                        case.to, field.as_str(), case.from, case.to, case.from
                    ));
                }
            }
        }
        problems.sort();
        problems.dedup();
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Identities, Vec<LoadError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IDENTITY_FILE), text).unwrap();
        let mut errors = Vec::new();
        let identities = Identities::load(
            dir.path(),
            &["2025-04-21", "2026-02-09"],
            &Arc::from(crate::mapping::DEFAULT_EVENT_TYPE_KEY),
            |_, t| t.ends_with(".processed") || t.ends_with(".updated"),
            &mut errors,
        );
        (identities, errors)
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn an_identity_is_the_event_type_and_its_fields() {
        let (ids, errors) = load(
            r#"
[identity."2026-02-09"]
"extract_run.processed" = ["payload.id"]
"extractor.updated" = ["payload.id", "payload.updatedAt"]
"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let event = json(
            r#"{"eventId":"a","eventType":"extractor.updated","payload":{"id":"ex_1","updatedAt":"2026-02-01T00:00:00Z"}}"#,
        );
        let twin = json(
            r#"{"eventId":"b","eventType":"extractor.updated","payload":{"updatedAt":"2026-02-01T00:00:00Z","id":"ex_1","name":"x"}}"#,
        );
        let a = ids.of("2026-02-09", &event).unwrap();
        assert_eq!(a, ids.of("2026-02-09", &twin).unwrap());
        assert_eq!(a.event_type, "extractor.updated");
        let later = json(
            r#"{"eventId":"c","eventType":"extractor.updated","payload":{"id":"ex_1","updatedAt":"2026-02-02T00:00:00Z"}}"#,
        );
        assert_ne!(a, ids.of("2026-02-09", &later).unwrap());
        // Not declared in that version, a missing or null field: no identity, never paired.
        assert!(ids.of("2025-04-21", &event).is_none());
        let null =
            json(r#"{"eventType":"extractor.updated","payload":{"id":"ex_1","updatedAt":null}}"#);
        assert!(ids.of("2026-02-09", &null).is_none());
        assert_eq!(
            ids.event_types("2026-02-09"),
            ["extract_run.processed", "extractor.updated"]
        );
    }

    #[test]
    fn mistakes_are_named_with_line_and_key() {
        let (_, errors) = load(
            r#"
[identity."2026-02-09"]
"extract_run.processed" = []
"no_such.event" = ["payload.id"]
"extractor.updated" = ["payload.files[0].id"]

[identity."2020-01-01"]
"extract_run.processed" = ["payload.id"]
"#,
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 4, "{text:#?}");
        assert!(text[0].starts_with("identity.toml:3: identity.\"2026-02-09\".\"extract_run.processed\": names no field"), "{text:#?}");
        assert!(text[1].starts_with("identity.toml:4:"), "{text:#?}");
        assert!(text[2].contains("not a dotted path"), "{text:#?}");
        assert!(
            text[3].starts_with("identity.toml:7: identity.\"2020-01-01\""),
            "{text:#?}"
        );
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    #[test]
    fn the_shipped_identities_hold_for_every_golden_case() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let mappings = Mappings::load(&dir).unwrap();
        assert_eq!(mappings.check_identities(), Vec::<String>::new());
        assert!(mappings
            .identities()
            .fields("2026-02-09", "extract_run.processed")
            .is_some());
    }

    #[test]
    fn check_refuses_a_synthesised_or_missing_identity_field() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&shipped, dir.path());
        let text = std::fs::read_to_string(dir.path().join(IDENTITY_FILE)).unwrap();
        // createdAt is synthesised going up (2025-04-21 runs have no timestamps); nothing has `nope`.
        let text = text
            .replace(
                r#""extract_run.processed" = ["payload.id"]"#,
                r#""extract_run.processed" = ["payload.id", "payload.createdAt"]"#,
            )
            .replace(
                r#""parser_run.failed" = ["payload.id"]"#,
                r#""parser_run.failed" = ["payload.nope"]"#,
            );
        std::fs::write(dir.path().join(IDENTITY_FILE), text).unwrap();
        let problems = Mappings::load(dir.path()).unwrap().check_identities();
        assert!(
            problems
                .iter()
                .any(|p| p
                    .contains("\"extract_run.processed\" in 2026-02-09 names payload.createdAt")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("\"parser_run.failed\" in 2025-04-21")
                    && p.contains("no value at payload.nope")),
            "{problems:#?}"
        );
    }
}

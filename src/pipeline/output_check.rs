//! The runtime output check: a translated event is validated against the JSON Schema of its event type
//! in the target version (`schemas/`, from Extend's SDK models) before it is delivered.
//!
//! `schemas.validate_output` says what a violation becomes: `observe` (the default) counts it in
//! `hookshift_invalid_output_total{route,event_type,path}` and delivers; `enforce` also refuses the
//! event as `translation_failed` (422, the sender keeps it); `off` skips the check. The validation is
//! the SDK's (lax: undeclared keys pass, as the SDK accepts them): what it refuses, the handler's SDK
//! would refuse too.
//!
//! `enforce` decides the answer, so it validates on the request path. `observe` only counts: it hands
//! the written bytes to the background thread that scans translated events ([`crate::pipeline::drift`]), at the
//! lowest CPU priority, so that the check costs the request path nothing; when that thread falls
//! behind, checks are skipped and counted (`hookshift_output_checks_skipped_total`).

use bytes::Bytes;

use crate::config::ValidateOutput;
use crate::json::Value;
use crate::schema::{Instance, Schemas, Strictness};

/// Most distinct paths one event reports (the rest are one `other`).
pub const MAX_PATHS: usize = 8;
/// Deepest segment count of a reported path.
pub const MAX_DEPTH: usize = 6;

/// Where a translated event breaks its schema: the paths as metric labels (from the event root,
/// indexes as `[*]`, at most [`MAX_DEPTH`] segments, sorted, at most [`MAX_PATHS`] and `other`), and
/// the first violation as text (for the log and a 422's message: a path and a reason, no values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidOutput {
    pub paths: Vec<String>,
    pub first: String,
}

/// Validates `event` (in `version`, its type in the envelope member `event_type_key`) per `mode`;
/// `None` when it passes, is not checked, or the version has no schema for its type (nothing to hold
/// it to).
pub fn check(
    schemas: &Schemas,
    mode: ValidateOutput,
    version: &str,
    event_type_key: &str,
    event: &Value,
) -> Option<InvalidOutput> {
    if mode == ValidateOutput::Off {
        return None;
    }
    let event_type = event.get(event_type_key)?.as_str()?;
    check_instance(schemas, version, event_type, event)
}

/// An `observe` check of a translated event, made off the request path.
#[derive(Debug)]
pub struct Deferred {
    /// The target version.
    pub version: String,
    /// The bytes delivered (shared with the delivery, not copied).
    pub body: Bytes,
    /// The bounded `event_type` label of the translated event.
    pub event_type_label: String,
    /// The envelope member naming the event type (the route's provider's).
    pub event_type_key: &'static str,
}

impl Deferred {
    /// Validates the delivered bytes and counts what breaks the schema; whether something did.
    pub fn run(&self, schemas: &Schemas, route: &str) -> bool {
        // The bytes were written from a tree that was strict JSON: they parse.
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(&self.body) else {
            return false;
        };
        let Some(event_type) = event
            .get(self.event_type_key)
            .and_then(serde_json::Value::as_str)
        else {
            return false;
        };
        match check_instance(schemas, &self.version, event_type, &event) {
            Some(invalid) => {
                crate::metrics::record_invalid_output(
                    route,
                    &self.event_type_label,
                    &invalid.paths,
                );
                true
            }
            None => false,
        }
    }
}

fn check_instance(
    schemas: &Schemas,
    version: &str,
    event_type: &str,
    event: &impl Instance,
) -> Option<InvalidOutput> {
    schemas.event_types(version).find(|t| *t == event_type)?;
    let violations = schemas
        .validate(version, event_type, event, Strictness::Lax)
        .err()?;
    let mut paths: Vec<String> = violations.iter().map(|v| label(&v.path)).collect();
    paths.sort_unstable();
    paths.dedup();
    if paths.len() > MAX_PATHS {
        paths.truncate(MAX_PATHS);
        paths.push(crate::metrics::OTHER.to_owned());
    }
    Some(InvalidOutput {
        paths,
        first: violations[0].to_string(),
    })
}

/// `/payload/files/0/name` → `payload.files[*].name`.
fn label(pointer: &str) -> String {
    let mut out = String::new();
    for (depth, segment) in pointer.split('/').filter(|s| !s.is_empty()).enumerate() {
        if depth >= MAX_DEPTH {
            break;
        }
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("[*]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment.replace("~1", "/").replace("~0", "~"));
        }
    }
    if out.is_empty() {
        out.push_str("event");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> Schemas {
        Schemas::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")).unwrap()
    }

    fn golden_output(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("mappings/2025-04-21_to_2026-02-09/golden")
            .join(format!("{name}.output.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn a_valid_translation_passes_and_a_broken_one_names_its_paths() {
        let schemas = schemas();
        let good = golden_output("extract_processed");
        assert_eq!(
            check(
                &schemas,
                ValidateOutput::Observe,
                "2026-02-09",
                "eventType",
                &good
            ),
            None
        );
        let mut bad = good.clone();
        let payload = bad.get_mut("payload").unwrap().as_object_mut().unwrap();
        payload.insert(
            "status",
            Value::Number(crate::json::Number::from_text("7").unwrap()),
        );
        payload.shift_remove("id");
        let found = check(
            &schemas,
            ValidateOutput::Enforce,
            "2026-02-09",
            "eventType",
            &bad,
        )
        .unwrap();
        assert!(
            found.paths.contains(&"payload.status".to_owned()),
            "{found:?}"
        );
        assert!(!found.first.is_empty());
        // Off: not checked at all.
        assert_eq!(
            check(
                &schemas,
                ValidateOutput::Off,
                "2026-02-09",
                "eventType",
                &bad
            ),
            None
        );
    }

    #[test]
    fn a_deferred_check_finds_what_the_request_path_check_finds() {
        let schemas = schemas();
        let mut bad = golden_output("extract_processed");
        bad.get_mut("payload")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .shift_remove("id");
        let on_path = check(
            &schemas,
            ValidateOutput::Observe,
            "2026-02-09",
            "eventType",
            &bad,
        )
        .unwrap();
        let event = serde_json::from_slice::<serde_json::Value>(&bad.to_vec()).unwrap();
        let deferred = check_instance(&schemas, "2026-02-09", "extract_run.processed", &event);
        assert_eq!(deferred, Some(on_path));
    }

    #[test]
    fn pointers_become_bounded_label_paths() {
        assert_eq!(label("/payload/files/0/name"), "payload.files[*].name");
        assert_eq!(label(""), "event");
        assert_eq!(label("/a/b/c/d/e/f/g/h"), "a.b.c.d.e.f");
    }
}

//! JSON Schemas of every webhook event type of every API version, and strict validation against them.
//!
//! The schemas are data: `schemas/VERSION/EVENT_TYPE.json`, generated from Extend's own SDK models by
//! `tests/conformance/make_schemas.py` (see `schemas/README.md`). [`Schemas::load`] compiles each one
//! once. The SDK models accept keys they do not declare, so a plain validation would accept an event
//! still carrying the other version's fields; [`Strictness::Strict`] refuses every key an object schema
//! with declared `properties` does not declare, except keys the caller names as drift (keys the sender
//! added that the mappings carry along). Free-form values (`additionalProperties` typed as a map, or an
//! object schema without `properties`) stay open, and so do the models the generator marks
//! `"x-hookshift-open": true`.
//!
//! `hookshift check` validates the golden cases with it, the property tests the translated events, and
//! `serve` finds the unknown keys translated events carry ([`Schemas::undeclared_paths`], see
//! [`crate::pipeline::drift`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value as Json;

/// Marks a definition whose undeclared keys strict validation accepts (the generator sets it).
const OPEN_MARK: &str = "x-hookshift-open";

/// Longest rendering of an offending value in a message.
const BRIEF_VALUE_CHARS: usize = 60;

/// One problem in one schema file.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {message}")]
    NotJson { path: String, message: String },
    #[error("{path}: not a valid JSON Schema: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: no schemas (expected VERSION/EVENT_TYPE.json files)")]
    Empty { path: String },
}

/// Every problem found while loading a schemas folder.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct SchemaLoadErrors(pub Vec<SchemaError>);

/// How strictly an event is held to its schema.
#[derive(Debug, Clone, Copy)]
pub enum Strictness<'a> {
    /// As the SDK validates: undeclared keys are accepted.
    Lax,
    /// Undeclared keys are refused, except these names (wherever they appear): the drift the input
    /// carried, see [`Schemas::undeclared_keys`].
    Strict(&'a BTreeSet<String>),
}

/// Where an event breaks its schema and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON pointer into the event (`/payload/output/value`); empty for the event itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// The compiled schemas of every event type of every version found in a folder.
#[derive(Debug)]
pub struct Schemas {
    dir: PathBuf,
    versions: BTreeMap<String, BTreeMap<String, EventSchema>>,
}

#[derive(Debug)]
struct EventSchema {
    /// Compiled from the strict form of the file ([`make_strict`]).
    strict: Validator,
    /// Every key some object schema of the file declares: a path segment outside this set is a key
    /// the sender chose (of a free-form map), rendered `*` in [`Schemas::undeclared_paths`].
    declared: BTreeSet<String>,
}

/// What something accepted as an event can be validated as.
pub trait Instance {
    fn as_json(&self) -> Cow<'_, Json>;
}

impl Instance for Json {
    fn as_json(&self) -> Cow<'_, Json> {
        Cow::Borrowed(self)
    }
}

impl Instance for crate::json::Value {
    fn as_json(&self) -> Cow<'_, Json> {
        Cow::Owned(to_serde_json(self))
    }
}

/// The tree as a `serde_json` value (what the validator reads), built directly: going through
/// `serde_json::to_value` (a `Serialize` round trip) costs four times the validation itself.
fn to_serde_json(value: &crate::json::Value) -> Json {
    use crate::json::Value;
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        // The text is a JSON number already (parsed strictly, or checked when a mapping wrote it).
        Value::Number(n) => n
            .as_str()
            .parse::<serde_json::Number>()
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::RawString(raw) => Json::String(crate::json::raw_string_lossy(raw)),
        Value::Array(items) => Json::Array(items.iter().map(to_serde_json).collect()),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, member) in map.iter() {
                out.insert(key.as_str().to_owned(), to_serde_json(member));
            }
            Json::Object(out)
        }
    }
}

impl Schemas {
    /// Reads and compiles `dir/VERSION/EVENT_TYPE.json` for every version folder; every error names
    /// its file. Sub-folders of a version (`payloads/`: schemas that are not event types) are not
    /// read. Blocking IO.
    pub fn load(dir: &Path) -> Result<Schemas, SchemaLoadErrors> {
        let mut errors = Vec::new();
        let mut versions = BTreeMap::new();
        let read_dir = |path: &Path| -> Result<Vec<PathBuf>, SchemaError> {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| SchemaError::Read {
                    path: path.display().to_string(),
                    source,
                })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            entries.sort();
            Ok(entries)
        };
        let folders = read_dir(dir).map_err(|e| SchemaLoadErrors(vec![e]))?;
        for folder in folders.into_iter().filter(|p| p.is_dir()) {
            let Some(version) = file_name(&folder).filter(|n| !n.starts_with('.')) else {
                continue;
            };
            let files = match read_dir(&folder) {
                Ok(files) => files,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut schemas = BTreeMap::new();
            for file in files.into_iter().filter(|p| p.is_file()) {
                let Some(event_type) = file_name(&file).and_then(|n| n.strip_suffix(".json"))
                else {
                    continue;
                };
                match compile(&file) {
                    Ok(schema) => {
                        schemas.insert(event_type.to_owned(), schema);
                    }
                    Err(e) => errors.push(e),
                }
            }
            if !schemas.is_empty() {
                versions.insert(version.to_owned(), schemas);
            }
        }
        if versions.is_empty() && errors.is_empty() {
            errors.push(SchemaError::Empty {
                path: dir.display().to_string(),
            });
        }
        if !errors.is_empty() {
            return Err(SchemaLoadErrors(errors));
        }
        Ok(Schemas {
            dir: dir.to_owned(),
            versions,
        })
    }

    /// The folder the schemas were loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every version with at least one schema.
    pub fn versions(&self) -> impl Iterator<Item = &str> {
        self.versions.keys().map(String::as_str)
    }

    /// Every event type of a version that has a schema.
    pub fn event_types(&self, version: &str) -> impl Iterator<Item = &str> {
        self.versions
            .get(version)
            .into_iter()
            .flat_map(|types| types.keys().map(String::as_str))
    }

    /// Validates an event against the schema of its version and event type; every violation, with
    /// its path. An event type the version has no schema for is one violation at `/eventType`.
    pub fn validate(
        &self,
        version: &str,
        event_type: &str,
        event: &impl Instance,
        strictness: Strictness<'_>,
    ) -> Result<(), Vec<SchemaViolation>> {
        let schema = self.schema(version, event_type)?;
        let event = event.as_json();
        // Most events pass: the short-circuiting check costs a fraction of collecting every error,
        // and an event the strict schema accepts has no violation under any strictness.
        if schema.strict.is_valid(&event) {
            return Ok(());
        }
        let allowed = |key: &str| match strictness {
            Strictness::Lax => true,
            Strictness::Strict(drift) => drift.contains(key),
        };
        let mut violations: Vec<SchemaViolation> = leaves(&schema.strict, &event, &allowed)
            .into_iter()
            .filter(|leaf| !leaf.is_allowed(&allowed))
            .map(Leaf::into_violation)
            .collect();
        // In the event's order of paths, not the schema's order of keywords.
        violations.sort_by(|a, b| a.path.cmp(&b.path));
        violations.dedup();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// [`Schemas::validate`] with the event type read from the event's `eventType`.
    pub fn validate_event(
        &self,
        version: &str,
        event: &impl Instance,
        strictness: Strictness<'_>,
    ) -> Result<(), Vec<SchemaViolation>> {
        let event = event.as_json();
        let Some(event_type) = event.get("eventType").and_then(Json::as_str) else {
            return Err(vec![SchemaViolation {
                path: "/eventType".into(),
                message: "missing or not a string".into(),
            }]);
        };
        self.validate(version, event_type, &*event, strictness)
    }

    /// The names of every key of the event its schema does not declare (where a union of models is
    /// involved, as the alternative the event matches declares them): what a strict validation of the
    /// event's translation should accept as drift.
    pub fn undeclared_keys(
        &self,
        version: &str,
        event_type: &str,
        event: &impl Instance,
    ) -> BTreeSet<String> {
        let Ok(schema) = self.schema(version, event_type) else {
            return BTreeSet::new();
        };
        leaves(&schema.strict, &event.as_json(), &|_: &str| true)
            .into_iter()
            .filter_map(|leaf| match leaf.kind {
                LeafKind::Undeclared(key) => Some(key),
                _ => None,
            })
            .collect()
    }

    /// Where the event carries keys its schema does not declare, as the translation engine renders
    /// paths (`payload.steps[*].startedAt`): from the event root, array indexes as `[*]`, keys no
    /// model of the event type declares (those of free-form maps) as `*`, at most
    /// [`crate::mapping::MAX_UNMAPPED_DEPTH`] segments, sorted, each once, at most
    /// [`crate::mapping::MAX_UNMAPPED_PATHS`] with [`crate::mapping::UNMAPPED_OTHER`] for the rest.
    /// The undeclared key itself is kept as sent (callers bound it further). Empty when the version or
    /// event type has no schema.
    pub fn undeclared_paths(&self, version: &str, event_type: &str, event: &Json) -> Vec<String> {
        let Ok(schema) = self.schema(version, event_type) else {
            return Vec::new();
        };
        let mut paths: Vec<String> = leaves(&schema.strict, event, &|_: &str| true)
            .into_iter()
            .filter(|leaf| matches!(leaf.kind, LeafKind::Undeclared(_)))
            .map(|leaf| render_pointer(&leaf.path, event, &schema.declared))
            .collect();
        paths.sort_unstable();
        paths.dedup();
        if paths.len() > crate::mapping::MAX_UNMAPPED_PATHS {
            paths.truncate(crate::mapping::MAX_UNMAPPED_PATHS);
            paths.push(crate::mapping::UNMAPPED_OTHER.to_owned());
        }
        paths
    }

    fn schema(
        &self,
        version: &str,
        event_type: &str,
    ) -> Result<&EventSchema, Vec<SchemaViolation>> {
        let Some(types) = self.versions.get(version) else {
            return Err(vec![SchemaViolation {
                path: String::new(),
                message: format!("no schemas for API version {version}"),
            }]);
        };
        types.get(event_type).ok_or_else(|| {
            vec![SchemaViolation {
                path: "/eventType".into(),
                message: format!("{event_type:?} is not a {version} event type (no schema)"),
            }]
        })
    }
}

/// `hookshift check`: every golden input against its source version's schema (as the SDK validates)
/// and every golden output strictly against its target version's, its input's undeclared keys allowed
/// as drift. One line per violation, naming the file and the path in it.
pub(crate) fn check_golden(schemas: &Schemas, mappings: &crate::mapping::Mappings) -> Vec<String> {
    let mut problems = Vec::new();
    for case in mappings.golden_cases() {
        let (input, output) = match (case.read_input(), case.read_output()) {
            (Ok(input), Ok(output)) => {
                (input.as_json().into_owned(), output.as_json().into_owned())
            }
            // Unreadable cases are reported by the golden check itself.
            _ => continue,
        };
        let mut report = |file: &Path, version: &str, how: &str, result| {
            if let Err(violations) = result {
                let violations: Vec<SchemaViolation> = violations;
                problems.extend(
                    violations
                        .iter()
                        .map(|v| format!("{}: {how} {version} schema: {v}", file.display())),
                );
            }
        };
        let input_type = input.get("eventType").and_then(Json::as_str).unwrap_or("");
        let drift = schemas.undeclared_keys(&case.from, input_type, &input);
        report(
            &case.input,
            &case.from,
            "breaks the",
            schemas.validate_event(&case.from, &input, Strictness::Lax),
        );
        report(
            &case.output,
            &case.to,
            "breaks the (strict)",
            schemas.validate_event(&case.to, &output, Strictness::Strict(&drift)),
        );
    }
    problems
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|n| n.to_str())
}

fn compile(file: &Path) -> Result<EventSchema, SchemaError> {
    let path = file.display().to_string();
    let text = std::fs::read(file).map_err(|source| SchemaError::Read {
        path: path.clone(),
        source,
    })?;
    let mut schema: Json = serde_json::from_slice(&text).map_err(|e| SchemaError::NotJson {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut declared = BTreeSet::new();
    declared_keys(&schema, &mut declared);
    make_strict(&mut schema);
    let strict = jsonschema::options()
        .with_draft(Draft::Draft202012)
        // Formats (date-time...) are annotations here as in the SDK, which parses more than RFC 3339.
        .should_validate_formats(false)
        .build(&schema)
        .map_err(|e| SchemaError::Invalid {
            path,
            message: e.to_string(),
        })?;
    Ok(EventSchema { strict, declared })
}

/// Every object schema with declared `properties` gets `additionalProperties: false` (unless it is
/// marked [`OPEN_MARK`] or already says what undeclared keys must be). Only subschemas are walked:
/// not `const`, `enum` or `default` values, and not `if` conditions, which select, not validate.
/// Validation then reports undeclared keys, which [`Strictness::Lax`] and drift filter out again.
fn make_strict(schema: &mut Json) {
    let Json::Object(node) = schema else {
        return;
    };
    let open = node.get(OPEN_MARK).and_then(Json::as_bool) == Some(true);
    let declares = node.get("properties").is_some_and(Json::is_object);
    let says_true_or_nothing = matches!(
        node.get("additionalProperties"),
        None | Some(Json::Bool(true))
    );
    if declares && !open && says_true_or_nothing {
        node.insert("additionalProperties".into(), Json::Bool(false));
    }
    for (key, value) in node.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                if let Json::Object(children) = value {
                    children.values_mut().for_each(make_strict);
                }
            }
            "anyOf" | "allOf" | "oneOf" | "prefixItems" => {
                if let Json::Array(children) = value {
                    children.iter_mut().for_each(make_strict);
                }
            }
            "items" | "additionalProperties" | "then" | "else" | "not" | "contains" => {
                make_strict(value)
            }
            _ => {}
        }
    }
}

/// One failed check, before drift is filtered out.
#[derive(Debug)]
struct Leaf {
    /// JSON pointer of the offending value (of the undeclared key itself, for those).
    path: String,
    message: String,
    kind: LeafKind,
}

#[derive(Debug, PartialEq, Eq)]
enum LeafKind {
    /// A key the schema does not declare (a strict-only failure).
    Undeclared(String),
    /// A `type` mismatch of the value an alternative was tried on: the alternative does not apply.
    WrongType,
    /// A `const` or `enum` mismatch: usually a discriminator telling the wrong alternative.
    WrongConstant,
    Other,
}

impl Leaf {
    fn is_allowed(&self, allowed: &dyn Fn(&str) -> bool) -> bool {
        matches!(&self.kind, LeafKind::Undeclared(key) if allowed(key))
    }

    fn into_violation(self) -> SchemaViolation {
        SchemaViolation {
            path: self.path,
            message: self.message,
        }
    }
}

/// Every failure of the event, with `anyOf` failures replaced by the failures of the alternative
/// that comes closest (so each path points into the event where it breaks). An alternative that only
/// fails for `allowed` undeclared keys holds; of several, the one declaring most of the object's keys
/// is taken, as the SDK's unions pick the member with the most fields set.
fn leaves(validator: &Validator, event: &Json, allowed: &dyn Fn(&str) -> bool) -> Vec<Leaf> {
    let mut out = Vec::new();
    for error in validator.iter_errors(event) {
        flatten(error, allowed, &mut out);
    }
    out
}

fn flatten(error: ValidationError<'_>, allowed: &dyn Fn(&str) -> bool, out: &mut Vec<Leaf>) {
    let path = error.instance_path.as_str().to_owned();
    match error.kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            out.extend(unexpected.into_iter().map(|key| Leaf {
                path: format!("{path}/{}", escape_pointer(&key)),
                message: "not a declared field here".into(),
                kind: LeafKind::Undeclared(key),
            }));
        }
        ValidationErrorKind::AnyOf { context } => {
            let alternatives = context.len();
            let branches: Vec<Vec<Leaf>> = context
                .into_iter()
                .map(|errors| {
                    let mut leaves = Vec::new();
                    for error in errors {
                        flatten(error, allowed, &mut leaves);
                    }
                    leaves
                })
                .collect();
            let Some(closest) = closest_alternative(branches, &path, allowed) else {
                return;
            };
            let only_wrong_type = !closest.is_empty()
                && closest
                    .iter()
                    .all(|l| l.kind == LeafKind::WrongType && l.path == path);
            if only_wrong_type {
                out.push(Leaf {
                    message: format!(
                        "{} matches none of the {alternatives} allowed shapes",
                        brief(&error.instance)
                    ),
                    path,
                    kind: LeafKind::Other,
                });
            } else {
                out.extend(closest);
            }
        }
        ValidationErrorKind::Required { ref property } => {
            let key = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            out.push(Leaf {
                path: format!("{path}/{}", escape_pointer(&key)),
                message: "required, missing".into(),
                kind: LeafKind::Other,
            });
        }
        ValidationErrorKind::Type { ref kind } => {
            out.push(Leaf {
                message: format!(
                    "{} is not of type {}",
                    brief(&error.instance),
                    type_names(kind)
                ),
                path,
                kind: LeafKind::WrongType,
            });
        }
        ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. } => {
            out.push(Leaf {
                message: error.masked_with(brief(&error.instance)).to_string(),
                path,
                kind: LeafKind::WrongConstant,
            });
        }
        _ => out.push(Leaf {
            message: error.masked_with(brief(&error.instance)).to_string(),
            path,
            kind: LeafKind::Other,
        }),
    }
}

/// Of the failures of each `anyOf` alternative at `path`, an alternative that holds, the one
/// declaring most of the object's own keys; else the closest: the right type, the right
/// discriminators, the fewest failures.
fn closest_alternative(
    branches: Vec<Vec<Leaf>>,
    path: &str,
    allowed: &dyn Fn(&str) -> bool,
) -> Option<Vec<Leaf>> {
    let own_key = |leaf: &Leaf| match &leaf.kind {
        LeafKind::Undeclared(key) => leaf
            .path
            .strip_prefix(path)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| rest == escape_pointer(key)),
        _ => false,
    };
    branches.into_iter().min_by_key(|leaves| {
        let wrong_type = leaves
            .iter()
            .any(|l| l.kind == LeafKind::WrongType && l.path == path);
        let constants = leaves
            .iter()
            .filter(|l| l.kind == LeafKind::WrongConstant)
            .count();
        let failures = leaves.iter().filter(|l| !l.is_allowed(allowed)).count();
        let undeclared_own = leaves.iter().filter(|l| own_key(l)).count();
        (
            failures > 0,
            wrong_type,
            constants,
            failures,
            undeclared_own,
            leaves.len(),
        )
    })
}

/// The JSON type(s) a `type` keyword wants, as a reader says them ("string or null").
fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Every name under a `properties` keyword anywhere in a schema.
fn declared_keys(schema: &Json, out: &mut BTreeSet<String>) {
    match schema {
        Json::Object(node) => {
            for (key, value) in node {
                if key == "properties" {
                    if let Json::Object(properties) = value {
                        out.extend(properties.keys().cloned());
                    }
                }
                declared_keys(value, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|item| declared_keys(item, out)),
        _ => {}
    }
}

/// The JSON pointer of an undeclared key as an engine path (see [`Schemas::undeclared_paths`]):
/// the event is walked along it to tell array indexes from object keys.
fn render_pointer(pointer: &str, event: &Json, declared: &BTreeSet<String>) -> String {
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let last = segments.len().saturating_sub(1);
    let mut out = String::new();
    let mut at = Some(event);
    for (i, segment) in segments
        .iter()
        .enumerate()
        .take(crate::mapping::MAX_UNMAPPED_DEPTH)
    {
        match at {
            Some(Json::Array(items)) => {
                out.push_str("[*]");
                at = segment.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            container => {
                if !out.is_empty() {
                    out.push('.');
                }
                if i == last || declared.contains(segment) {
                    out.push_str(segment);
                } else {
                    out.push('*');
                }
                at = container.and_then(|c| c.get(segment.as_str()));
            }
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// A JSON pointer segment: `~` and `/` escaped (RFC 6901).
fn escape_pointer(key: &str) -> Cow<'_, str> {
    if key.contains(['~', '/']) {
        Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(key)
    }
}

/// A value as short JSON text for a message (objects and arrays by kind only).
fn brief(value: &Json) -> String {
    match value {
        Json::Object(map) if map.is_empty() => "{}".into(),
        Json::Object(_) => "an object".into(),
        Json::Array(items) if items.is_empty() => "[]".into(),
        Json::Array(_) => "an array".into(),
        other => {
            let text = other.to_string();
            match text.char_indices().nth(BRIEF_VALUE_CHARS) {
                Some((end, _)) => format!("{}…", &text[..end]),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_direct_conversion_is_the_serialize_round_trip() {
        let text = br#"{"z":1,"a":[true,null,-0.5e-3,12345678901234567890.000000000001],"m":{"k":"v\u00e9\n","e":{},"l":[]},"n":-7}"#;
        let tree = crate::json::parse(text).unwrap();
        let direct = to_serde_json(&tree);
        assert_eq!(direct, serde_json::to_value(&tree).unwrap());
        // Order and exact numbers, as the validator's messages and paths report them.
        assert_eq!(
            serde_json::to_string(&direct).unwrap(),
            r#"{"z":1,"a":[true,null,-0.5e-3,12345678901234567890.000000000001],"m":{"k":"vé\n","e":{},"l":[]},"n":-7}"#
        );
    }

    fn schemas_with(files: &[(&str, Json)]) -> (tempfile::TempDir, Schemas) {
        let dir = tempfile::tempdir().unwrap();
        for (name, schema) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, serde_json::to_vec(schema).unwrap()).unwrap();
        }
        let schemas = Schemas::load(dir.path()).unwrap();
        (dir, schemas)
    }

    /// A miniature of a generated schema: an envelope, a union of two models told apart by `type`, a
    /// free-form map, a typed map and an open model.
    fn event_schema() -> Json {
        json!({
            "$defs": {
                "Extract": {
                    "additionalProperties": true,
                    "properties": {
                        "type": {"const": "EXTRACT", "type": "string"},
                        "fields": {"additionalProperties": {"$ref": "#/$defs/Field"}, "type": "object"},
                        "metadata": {"additionalProperties": true, "type": "object"}
                    },
                    "required": ["type"],
                    "type": "object"
                },
                "Split": {
                    "additionalProperties": true,
                    "properties": {
                        "type": {"const": "SPLITTER", "type": "string"},
                        "splits": {"items": {"type": "string"}, "type": "array"}
                    },
                    "required": ["type", "splits"],
                    "type": "object"
                },
                "Field": {
                    "additionalProperties": true,
                    "properties": {"value": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                    "type": "object"
                },
                "Open": {
                    "additionalProperties": true,
                    "properties": {"rules": {"type": "array"}},
                    "type": "object",
                    "x-hookshift-open": true
                }
            },
            "additionalProperties": true,
            "properties": {
                "eventId": {"type": "string"},
                "eventType": {"const": "run.processed", "type": "string"},
                "payload": {"anyOf": [{"$ref": "#/$defs/Extract"}, {"$ref": "#/$defs/Split"}]},
                "extra": {"anyOf": [{"$ref": "#/$defs/Open"}, {"type": "null"}], "default": {"properties": {}}}
            },
            "required": ["eventId", "eventType", "payload"],
            "type": "object"
        })
    }

    fn load_one() -> (tempfile::TempDir, Schemas) {
        schemas_with(&[
            ("v1/run.processed.json", event_schema()),
            ("v1/payloads/Signed.json", json!({"type": "object"})),
        ])
    }

    fn strict(schemas: &Schemas, event: &Json, drift: &[&str]) -> Result<(), Vec<SchemaViolation>> {
        let drift: BTreeSet<String> = drift.iter().map(|s| s.to_string()).collect();
        schemas.validate("v1", "run.processed", event, Strictness::Strict(&drift))
    }

    fn paths(result: Result<(), Vec<SchemaViolation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn loads_every_event_type_and_skips_payload_schemas() {
        let (_dir, schemas) = load_one();
        assert_eq!(schemas.versions().collect::<Vec<_>>(), ["v1"]);
        assert_eq!(
            schemas.event_types("v1").collect::<Vec<_>>(),
            ["run.processed"]
        );
    }

    #[test]
    fn a_valid_event_passes_strictly_and_free_form_values_stay_open() {
        let (_dir, schemas) = load_one();
        let event = json!({
            "eventId": "e", "eventType": "run.processed",
            "payload": {"type": "EXTRACT", "fields": {"any": {"value": null}}, "metadata": {"x": {"y": 1}}},
            "extra": {"rules": [], "whatever": 1}
        });
        assert_eq!(strict(&schemas, &event, &[]), Ok(()));
    }

    #[test]
    fn undeclared_keys_are_refused_at_every_depth_unless_named_as_drift() {
        let (_dir, schemas) = load_one();
        let event = json!({
            "eventId": "e", "eventType": "run.processed", "leftover": 1,
            "payload": {"type": "EXTRACT", "fields": {"f": {"value": "v", "startedAt": "t"}}}
        });
        assert_eq!(
            paths(strict(&schemas, &event, &[])),
            ["/leftover", "/payload/fields/f/startedAt"]
        );
        assert_eq!(
            paths(strict(&schemas, &event, &["startedAt"])),
            ["/leftover"]
        );
        assert_eq!(strict(&schemas, &event, &["startedAt", "leftover"]), Ok(()));
        assert_eq!(
            schemas.validate("v1", "run.processed", &event, Strictness::Lax),
            Ok(())
        );
        assert_eq!(
            schemas.undeclared_keys("v1", "run.processed", &event),
            BTreeSet::from(["leftover".to_owned(), "startedAt".to_owned()])
        );
    }

    #[test]
    fn a_union_reports_the_alternative_its_discriminator_names() {
        let (_dir, schemas) = load_one();
        // A SPLITTER without splits and with an undeclared key: Split's failures, not Extract's.
        let event = json!({
            "eventId": "e", "eventType": "run.processed",
            "payload": {"type": "SPLITTER", "fields": {}}
        });
        let violations = strict(&schemas, &event, &[]).unwrap_err();
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "/payload/fields: not a declared field here",
                "/payload/splits: required, missing",
            ]
        );
        // Lax: the undeclared key is fine, the missing one is not.
        assert_eq!(
            paths(schemas.validate("v1", "run.processed", &event, Strictness::Lax)),
            ["/payload/splits"]
        );
    }

    #[test]
    fn a_union_holds_when_one_alternative_fails_only_for_drift() {
        let (_dir, schemas) = load_one();
        let event = json!({
            "eventId": "e", "eventType": "run.processed",
            "payload": {"type": "SPLITTER", "splits": [], "startedAt": "t"}
        });
        assert_eq!(paths(strict(&schemas, &event, &[])), ["/payload/startedAt"]);
        assert_eq!(strict(&schemas, &event, &["startedAt"]), Ok(()));
        assert_eq!(
            schemas.undeclared_keys("v1", "run.processed", &event),
            BTreeSet::from(["startedAt".to_owned()])
        );
    }

    #[test]
    fn of_two_alternatives_that_hold_the_one_declaring_the_keys_decides_the_drift() {
        // Like ExtractConfigJson / ExtractConfigLegacy: both accept the object laxly.
        let schema = json!({
            "$defs": {
                "Json": {"properties": {"schema": {"type": "object"}}, "type": "object"},
                "Legacy": {
                    "properties": {"fields": {"items": {"$ref": "#/$defs/Field"}, "type": "array"}},
                    "type": "object"
                },
                "Field": {"properties": {"name": {"type": "string"}}, "type": "object"}
            },
            "properties": {"config": {"anyOf": [{"$ref": "#/$defs/Json"}, {"$ref": "#/$defs/Legacy"}]}},
            "type": "object"
        });
        let (_dir, schemas) = schemas_with(&[("v1/x.y.json", schema)]);
        let event = json!({"config": {"fields": [{"name": "n", "futureField": 1}]}});
        assert_eq!(
            schemas.undeclared_keys("v1", "x.y", &event),
            BTreeSet::from(["futureField".to_owned()])
        );
        let drift = BTreeSet::from(["futureField".to_owned()]);
        assert_eq!(
            schemas.validate("v1", "x.y", &event, Strictness::Strict(&drift)),
            Ok(())
        );
        assert_eq!(
            paths(schemas.validate("v1", "x.y", &event, Strictness::Strict(&BTreeSet::new()))),
            ["/config/fields/0/futureField"]
        );
    }

    #[test]
    fn nulls_and_wrong_types_name_the_value_and_the_path() {
        let (_dir, schemas) = load_one();
        let event = json!({
            "eventId": null, "eventType": "run.processed",
            "payload": {"type": "EXTRACT", "fields": {"f": {"value": 5}}},
            "extra": 7
        });
        let text: Vec<String> = strict(&schemas, &event, &[])
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            text,
            [
                "/eventId: null is not of type string",
                "/extra: 7 matches none of the 2 allowed shapes",
                "/payload/fields/f/value: 5 matches none of the 2 allowed shapes",
            ]
        );
    }

    #[test]
    fn unknown_versions_and_event_types_are_violations() {
        let (_dir, schemas) = load_one();
        let event = json!({"eventId": "e", "eventType": "run.other", "payload": {}});
        assert_eq!(
            schemas
                .validate_event("v1", &event, Strictness::Lax)
                .unwrap_err()[0]
                .to_string(),
            "/eventType: \"run.other\" is not a v1 event type (no schema)"
        );
        assert_eq!(
            schemas
                .validate_event("v9", &event, Strictness::Lax)
                .unwrap_err()[0]
                .message,
            "no schemas for API version v9"
        );
    }

    #[test]
    fn the_mappings_json_tree_validates_like_serde_json() {
        let (_dir, schemas) = load_one();
        let event: crate::json::Value = crate::json::parse(
            br#"{"eventId":"e","eventType":"run.processed","payload":{"type":"SPLITTER","splits":["a"],"n":1.50}}"#,
        )
        .unwrap();
        assert_eq!(
            schemas
                .validate_event("v1", &event, Strictness::Strict(&BTreeSet::new()))
                .unwrap_err()[0]
                .path,
            "/payload/n"
        );
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("v1")).unwrap();
        std::fs::write(dir.path().join("v1/a.b.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("v1/c.d.json"), br#"{"type": 5}"#).unwrap();
        let errors = Schemas::load(dir.path()).unwrap_err().to_string();
        assert!(errors.contains("a.b.json: not JSON"), "{errors}");
        assert!(
            errors.contains("c.d.json: not a valid JSON Schema"),
            "{errors}"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(Schemas::load(empty.path())
            .unwrap_err()
            .to_string()
            .contains("no schemas"));
        assert!(Schemas::load(&empty.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("cannot read"));
    }

    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_tree(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }

    #[test]
    fn check_golden_reports_every_violation_with_file_and_path() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let schemas = Schemas::load(&root.join("schemas")).unwrap();
        let shipped = crate::mapping::Mappings::load(&root.join("mappings")).unwrap();
        assert_eq!(check_golden(&schemas, &shipped), Vec::<String>::new());

        let dir = tempfile::tempdir().unwrap();
        copy_tree(&root.join("mappings"), dir.path());
        let golden = dir.path().join("2025-04-21_to_2026-02-09/golden");
        let edit = |name: &str, change: &dyn Fn(&mut Json)| {
            let path = golden.join(name);
            let mut event: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            change(&mut event);
            std::fs::write(&path, serde_json::to_vec(&event).unwrap()).unwrap();
        };
        edit("workflow_run_needs_review.input.json", &|e| {
            e["payload"]["id"] = json!(5);
            e["payload"]["startedAt"] = json!("2025-04-21T00:00:00Z");
        });
        edit("workflow_run_needs_review.output.json", &|e| {
            e["payload"]["startedAt"] = json!("2025-04-21T00:00:00Z");
            e["payload"]["leftover"] = json!(1);
            e["payload"]["status"] = json!(null);
        });
        let mappings = crate::mapping::Mappings::load(dir.path()).unwrap();
        let problems = check_golden(&schemas, &mappings);
        let input = golden.join("workflow_run_needs_review.input.json");
        let output = golden.join("workflow_run_needs_review.output.json");
        assert_eq!(
            problems,
            [
                format!(
                    "{}: breaks the 2025-04-21 schema: /payload/id: 5 is not of type string",
                    input.display()
                ),
                format!(
                    "{}: breaks the (strict) 2026-02-09 schema: /payload/leftover: not a declared field here",
                    output.display()
                ),
                format!(
                    "{}: breaks the (strict) 2026-02-09 schema: /payload/status: null is not one of \"PENDING\", \"PROCESSING\" or 7 other candidates",
                    output.display()
                ),
                format!(
                    "{}: breaks the (strict) 2026-02-09 schema: /payload/status: null is not of type string",
                    output.display()
                ),
            ]
        );
    }

    #[test]
    fn undeclared_paths_render_like_the_engine_with_free_form_keys_as_stars() {
        let (_dir, schemas) = load_one();
        let event = json!({
            "eventId": "e", "eventType": "run.processed", "leftover": 1,
            "payload": {
                "type": "EXTRACT",
                "fields": {"invoice_no": {"value": "v", "startedAt": "t"}, "total": {"value": "1", "startedAt": "u"}},
                "metadata": {"free": {"anything": 1}}
            },
            "extra": {"rules": [], "whatever": 1}
        });
        // The map keys the sender chose are `*`; free-form values and open models report nothing.
        assert_eq!(
            schemas.undeclared_paths("v1", "run.processed", &event),
            ["leftover", "payload.fields.*.startedAt"]
        );
        let split = json!({
            "eventId": "e", "eventType": "run.processed",
            "payload": {"type": "SPLITTER", "splits": ["a"], "futureField": {"deep": 1}}
        });
        assert_eq!(
            schemas.undeclared_paths("v1", "run.processed", &split),
            ["payload.futureField"]
        );
        assert!(schemas
            .undeclared_paths("v1", "no.such_type", &split)
            .is_empty());
    }

    #[test]
    fn undeclared_paths_are_depth_limited_and_capped() {
        let mut declared = BTreeSet::new();
        declared.extend(["payload", "a"].map(str::to_owned));
        let deep = json!({"payload": {"a": [{"a": {"a": {"a": {"a": {"a": {"a": {"z": 1}}}}}}}]}});
        assert_eq!(
            render_pointer("/payload/a/0/a/a/a/a/a/a/z", &deep, &declared),
            "payload.a[*].a.a.a.a.a"
        );
        let (_dir, schemas) = load_one();
        let mut payload = serde_json::Map::new();
        payload.insert("type".into(), json!("SPLITTER"));
        payload.insert("splits".into(), json!([]));
        for i in 0..40 {
            payload.insert(format!("k{i:02}"), json!(i));
        }
        let event = json!({"eventId": "e", "eventType": "run.processed", "payload": payload});
        let paths = schemas.undeclared_paths("v1", "run.processed", &event);
        assert_eq!(paths.len(), crate::mapping::MAX_UNMAPPED_PATHS + 1);
        assert_eq!(paths.last().map(String::as_str), Some("other"));
    }

    #[test]
    fn the_shipped_schemas_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let schemas = Schemas::load(&dir).unwrap();
        assert_eq!(
            schemas.versions().collect::<Vec<_>>(),
            ["2025-04-21", "2026-02-09"]
        );
        assert_eq!(schemas.event_types("2025-04-21").count(), 17);
        assert_eq!(schemas.event_types("2026-02-09").count(), 40);
    }
}

//! Every event the source version's SDK accepts translates into one the target version's SDK accepts.
//!
//! Events are generated from the source schemas (`schemas/VERSION/EVENT_TYPE.json`, the SDK models as
//! JSON Schema), coherent per type: the alternative of a union follows the discriminators already
//! chosen (a SPLITTER processor run carries a splitter config and a splitter output, a step run's
//! `stepType` and `step.type` agree), every enum value is used (the generator prefers values it has
//! not used yet at each place), optionals are absent, null or set, arrays and maps empty or not, and
//! half the events carry keys the SDK does not declare, at some depths. Each one is translated with the
//! shipped mappings and its translation must validate strictly against the target schema, its input's
//! undeclared keys allowed as drift, or be refused as [`TranslateError::Unmapped`] (the documented
//! "no counterpart" answer).
//!
//! What the shipped mappings still get wrong is listed once, in [`KNOWN_FAILING`], each class with the
//! path that fails and why; the test fails when a class outside the list appears and when a listed
//! class no longer fails (remove it then). Randomness is proptest's deterministic ChaCha generator
//! with a fixed seed, so a run is reproducible; `HOOKSHIFT_PROPTEST_CASES` scales the cases per type.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use hookshift::mapping::{translate, Delivery, Mappings, TranslateError};
use hookshift::schema::{Schemas, SchemaViolation, Strictness};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{json, Map, Value as Json};

use crate::support::{repo_path, GOLDEN_TS, NEW, OLD};

/// Generated events per source event type and direction.
const CASES_PER_TYPE: u32 = 24;
/// At most this many more rounds over every event type, while some enum value was never generated.
const EXTRA_ROUNDS: u32 = 16;
const SEED: [u8; 32] = *b"hookshift schema properties 0001";
/// Below this depth every optional field may be set; beyond it only required ones are.
const FULL_DEPTH: usize = 6;
/// Arrays and maps hold at most this many entries.
const MAX_ITEMS: usize = 2;
/// Undeclared keys a later SDK might add, put into some objects of half the events.
const DRIFT_KEYS: [&str; 2] = ["futureField", "addedLater"];

/// How a translated event fails, as a class: many generated events fall into one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Class {
    /// `FROM_to_TO`.
    step: String,
    /// The source event type.
    event_type: String,
    /// A JSON pointer into the translated event (`*` for array indexes and map keys), or for a failed
    /// translation `translate: RULE at PATH`.
    path: String,
    /// What is wrong there: `undeclared`, `missing`, `null`, `type`, `enum`, `const`, `shape`, or
    /// `failed` (the mapping refused the event with TranslateError::Failed).
    kind: String,
}

/// A failure class the shipped mappings are known to have, why, and where it is tracked.
struct Known {
    step: &'static str,
    event_types: &'static [&'static str],
    path: &'static str,
    kind: &'static str,
    why: &'static str,
}

/// Every class of failure the shipped mappings still have. Shrinks as the mappings are fixed.
const KNOWN_FAILING: &[Known] = &[];

// ---------------------------------------------------------------------------------------- the test

#[test]
fn every_generated_event_translates_into_one_the_target_sdk_accepts() {
    let schemas = Schemas::load(&repo_path("schemas")).expect("the shipped schemas load");
    let mappings = Mappings::load(&repo_path("mappings")).expect("the shipped mappings load");
    let sources = SourceSchemas::read(&repo_path("schemas"));
    let per_type = std::env::var("HOOKSHIFT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(CASES_PER_TYPE);

    let mut run = Run::default();
    let mut never_used: Vec<String> = Vec::new();
    for (from, to) in [(OLD, NEW), (NEW, OLD)] {
        let mut generator = Generator::new(from);
        let types = &sources.versions[from];
        for round in 0..per_type {
            for (event_type, schema) in types {
                let event = generator.event(event_type, schema, round % 2 == 1);
                run.check(&schemas, &mappings, (from, to), event_type, event);
            }
        }
        // Rounds more while some enum value met was never used (each place prefers unused values).
        for round in 0..EXTRA_ROUNDS {
            if generator.enum_values_never_used().is_empty() {
                break;
            }
            for (event_type, schema) in types {
                let event = generator.event(event_type, schema, round % 2 == 1);
                run.check(&schemas, &mappings, (from, to), event_type, event);
            }
        }
        never_used.extend(generator.enum_values_never_used());
    }
    let Run {
        observed,
        translated,
        unmapped,
    } = run;
    assert!(translated > 0, "nothing was translated");

    let known: Vec<Class> = KNOWN_FAILING
        .iter()
        .flat_map(|k| {
            k.event_types.iter().map(|t| Class {
                step: k.step.to_owned(),
                event_type: (*t).to_owned(),
                path: k.path.to_owned(),
                kind: k.kind.to_owned(),
            })
        })
        .collect();
    let new: Vec<String> = observed
        .iter()
        .filter(|(class, _)| !known.contains(class))
        .map(|(c, (n, example))| {
            format!(
                "{} {} {} {} ({n} event(s)), smallest: {example}",
                c.step, c.event_type, c.path, c.kind
            )
        })
        .collect();
    let fixed: Vec<String> = KNOWN_FAILING
        .iter()
        .flat_map(|k| k.event_types.iter().map(move |t| (k, *t)))
        .filter(|(k, t)| {
            !observed.keys().any(|c| {
                c.step == k.step && c.event_type == *t && c.path == k.path && c.kind == k.kind
            })
        })
        .map(|(k, t)| format!("{} {t} {} {} ({})", k.step, k.path, k.kind, k.why))
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{} new failure class(es):\n{}\n\n{} known class(es) no longer fail (remove them from KNOWN_FAILING):\n{}\n\nunmapped (documented refusals): {unmapped:?}",
        new.len(),
        new.join("\n"),
        fixed.len(),
        fixed.join("\n"),
    );
    assert!(
        never_used.is_empty(),
        "enum values never generated (raise EXTRA_ROUNDS):\n{}",
        never_used.join("\n")
    );
}

/// What the generated events came to.
#[derive(Default)]
struct Run {
    /// Every failure class seen, with how many events fell into it and the smallest of them.
    observed: BTreeMap<Class, (usize, Json)>,
    translated: usize,
    /// `(step, event type)` pairs refused as having no counterpart.
    unmapped: BTreeSet<(String, String)>,
}

impl Run {
    /// Validates the generated event against its own schema (the generator's contract), translates
    /// it and holds the translation strictly to the target schema, the input's undeclared keys
    /// allowed as drift.
    fn check(
        &mut self,
        schemas: &Schemas,
        mappings: &Mappings,
        (from, to): (&str, &str),
        event_type: &str,
        event: Json,
    ) {
        assert_eq!(
            schemas.validate(from, event_type, &event, Strictness::Lax),
            Ok(()),
            "the generator made an event its own schema refuses: {event}"
        );
        let step = format!("{from}_to_{to}");
        let plan = mappings.plan(from, to).expect("both directions are shipped");
        let delivery = Delivery {
            timestamp: GOLDEN_TS,
        };
        let drift = schemas.undeclared_keys(from, event_type, &event);
        let mut failures: BTreeSet<(String, &str)> = BTreeSet::new();
        match translate(plan, hookshift::json::Value::from(event.clone()), &delivery) {
            Ok(output) => {
                self.translated += 1;
                let output = serde_json::to_value(&output).unwrap();
                if let Err(violations) =
                    schemas.validate_event(to, &output, Strictness::Strict(&drift))
                {
                    failures = classify(&violations);
                }
            }
            Err(TranslateError::Unmapped { .. }) => {
                self.unmapped.insert((step.clone(), event_type.to_owned()));
            }
            Err(TranslateError::Failed { rule, path, .. }) => {
                failures.insert((format!("translate: {rule} at payload.{}", generic(&path)), "failed"));
            }
            Err(e) => panic!("{step} {event_type}: not an event? {e}: {event}"),
        }
        for (path, kind) in failures {
            let class = Class {
                step: step.clone(),
                event_type: event_type.to_owned(),
                path,
                kind: kind.to_owned(),
            };
            let entry = self.observed.entry(class).or_insert((0, event.clone()));
            entry.0 += 1;
            if event.to_string().len() < entry.1.to_string().len() {
                entry.1 = event.clone();
            }
        }
    }
}

/// Violations as classes: `(generic path, kind)`, each once.
fn classify(violations: &[SchemaViolation]) -> BTreeSet<(String, &'static str)> {
    violations
        .iter()
        .map(|v| {
            let m = &v.message;
            let kind = if m == "not a declared field here" {
                "undeclared"
            } else if m == "required, missing" {
                "missing"
            } else if m.starts_with("null ") {
                "null"
            } else if m.contains("is not of type") {
                "type"
            } else if m.contains("is not one of") {
                "enum"
            } else if m.contains("was expected") {
                "const"
            } else if m.contains("allowed shapes") {
                "shape"
            } else {
                "other"
            };
            (generic(&v.path), kind)
        })
        .collect()
}

/// A path with array indexes and generated map keys as `*`, so one class covers them all.
fn generic(path: &str) -> String {
    let separator = if path.contains('/') { '/' } else { '.' };
    path.split(separator)
        .flat_map(|segment| {
            // `a[0]` (mapping paths) and `0` (pointers) alike.
            let (name, index) = match segment.find('[') {
                Some(i) => (&segment[..i], Some("[*]")),
                None => (segment, None),
            };
            let name = if name.chars().all(|c| c.is_ascii_digit()) && !name.is_empty() {
                "*"
            } else if name.starts_with(MAP_KEY_PREFIX) {
                "*"
            } else {
                name
            };
            [Some(name), index].into_iter().flatten()
        })
        .collect::<Vec<_>>()
        .join(&separator.to_string())
        .replace(".[*]", "[*]")
}

// ---------------------------------------------------------------------------------------- schemas

/// The raw source schemas, by version and event type (the generator walks them as data).
struct SourceSchemas {
    versions: BTreeMap<String, BTreeMap<String, Json>>,
}

impl SourceSchemas {
    fn read(dir: &Path) -> SourceSchemas {
        let mut versions = BTreeMap::new();
        for version in [OLD, NEW] {
            let mut types = BTreeMap::new();
            for entry in std::fs::read_dir(dir.join(version)).unwrap() {
                let path = entry.unwrap().path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if let Some(event_type) = name.strip_suffix(".json") {
                    let schema = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                    types.insert(event_type.to_owned(), schema);
                }
            }
            versions.insert(version.to_owned(), types);
        }
        SourceSchemas { versions }
    }
}

// ---------------------------------------------------------------------------------------- generator

/// Keys of generated free-form and typed maps start with this (paths show them as `*`).
const MAP_KEY_PREFIX: &str = "key_";

/// Which alternatives of a union without its own discriminator fit a discriminator value chosen
/// before it: `(discriminator property, value, definitions that fit)`. Where a union's
/// alternatives carry a `const` for a discriminator already chosen, that decides without a rule.
/// `MAP` is the alternative that is a map (the 2025-04-21 legacy fields-array output, keyed by field).
const COHERENT_OUTPUTS: &[(&str, &str, &[&str])] = &[
    ("type", "EXTRACT", &["JsonOutput", "MAP"]),
    ("type", "CLASSIFY", &["ClassifierOutput"]),
    ("type", "SPLITTER", &["SplitterOutput"]),
];
/// How often a CLASSIFY or SPLITTER run's output is `{}` (percent): what a failed run may carry, an
/// empty fields map to 0.2.0.
const EMPTY_OUTPUT_PERCENT: u64 = 15;
/// The properties of a 2025-04-21 ProcessorRun that [`COHERENT_OUTPUTS`] rules.
const OUTPUT_PROPERTIES: [&str; 3] = ["output", "initialOutput", "reviewedOutput"];

/// The `object` of each 2025-04-21 model, which 0.2.0 types as any string (reference
/// `schema-2025-04-21.txt`; the values Extend sends, as in the documented payloads).
const OLD_OBJECT_VALUES: &[(&str, &str)] = &[
    ("File", "file"),
    ("Processor", "document_processor"),
    ("ProcessorRun", "document_processor_run"),
    ("ProcessorVersion", "document_processor_version"),
    ("StepRun", "workflow_step_run"),
    ("StepRunStep", "workflow_step"),
    ("Workflow", "workflow"),
    ("WorkflowRun", "workflow_run"),
];

/// Step types whose 2025-04-21 step run output is an extraction's ProcessorRun (0.2.0 lists only the
/// two validation step types and `| Any`; these are the ones the documented payloads show).
const EXTRACTION_STEP_TYPES: [&str; 2] = ["EXTRACT", "MERGE_EXTRACT"];

/// The version whose `object` values [`OLD_OBJECT_VALUES`] gives.
const OLD_VERSION_OF_OBJECTS: &str = OLD;

/// The processor kinds of 2025-04-21 (`type` of a processor, run, version or config).
const PROCESSOR_KINDS: [&str; 3] = ["CLASSIFY", "EXTRACT", "SPLITTER"];

/// Properties chosen first in an object, so what follows can agree with them.
const DISCRIMINATORS: [&str; 3] = ["type", "stepType", "object"];

struct Generator {
    version: String,
    rng: TestRng,
    /// Every enum met so far (its place in the schemas and its values) and the values used there.
    used: HashMap<(String, Vec<String>), BTreeSet<String>>,
}

/// Where in the generation we are.
#[derive(Clone)]
struct At<'s> {
    root: &'s Json,
    /// Where the node is in its schema (for enum coverage).
    location: String,
    depth: usize,
    drift: bool,
    /// The enclosing object's discriminators chosen so far, and the property being generated.
    chosen: Map<String, Json>,
    /// The kind of processor (`type` of a processor, processor run or version) an enclosing object
    /// chose: a config or output deeper inside must be of the same kind.
    kind: Option<Json>,
    property: Option<String>,
}

impl Generator {
    fn new(version: &str) -> Generator {
        let mut seed = SEED;
        seed[..version.len().min(32)].copy_from_slice(&version.as_bytes()[..version.len().min(32)]);
        Generator {
            version: version.to_owned(),
            rng: TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
            used: HashMap::new(),
        }
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.next_u64() % 100 < percent
    }

    fn event(&mut self, event_type: &str, schema: &Json, drift: bool) -> Json {
        let at = At {
            root: schema,
            location: "#".into(),
            depth: 0,
            drift,
            chosen: Map::new(),
            kind: None,
            property: None,
        };
        let mut event = self.value(schema, &at);
        // An event id the way Extend writes them (the SDK only asks for a string), and always the
        // event type (1.20.0 models default it, but Extend always sends it).
        event["eventId"] = json!(format!("evt_{}", self.below(1 << 30)));
        event["eventType"] = json!(event_type);
        event
    }

    fn value(&mut self, node: &Json, at: &At<'_>) -> Json {
        let (node, location) = resolve(at.root, node, &at.location);
        let at = &At {
            location,
            ..at.clone()
        };
        if let Some(value) = node.get("const") {
            return value.clone();
        }
        if let Some(Json::Array(options)) = node.get("enum") {
            return self.enum_value(options, &at.location);
        }
        if let Some(Json::Array(alternatives)) = node.get("anyOf") {
            return self.alternative(alternatives, at);
        }
        if let (Some(condition), Some(then), Some(otherwise)) =
            (node.get("if"), node.get("then"), node.get("else"))
        {
            return if self.chance(50) {
                let extraction = At {
                    kind: Some(json!("EXTRACT")),
                    ..at.clone()
                };
                let mut value = self.value(then, &extraction);
                // The condition's constants make it hold (a ProcessorRun says so in `object`).
                if let (Some(Json::Object(props)), Json::Object(object)) =
                    (condition.get("properties"), &mut value)
                {
                    for (key, property) in props {
                        if let Some(constant) = property.get("const") {
                            object.insert(key.clone(), constant.clone());
                        }
                    }
                }
                value
            } else {
                self.value(otherwise, at)
            };
        }
        match node.get("type").and_then(Json::as_str) {
            Some("object") => self.object(node, at),
            None if node.get("properties").is_some() => self.object(node, at),
            Some("array") => {
                let count = if at.depth >= FULL_DEPTH {
                    0
                } else {
                    self.below(MAX_ITEMS + 1)
                };
                let items = node.get("items").cloned().unwrap_or(json!({}));
                let inner = At {
                    depth: at.depth + 1,
                    location: format!("{}/items", at.location),
                    chosen: Map::new(),
                    property: None,
                    ..at.clone()
                };
                Json::Array((0..count).map(|_| self.value(&items, &inner)).collect())
            }
            Some("string") => self.string(node, at),
            Some("integer") => json!(self.below(1000)),
            Some("number") => {
                if self.chance(50) {
                    json!(self.below(1000))
                } else {
                    json!(self.below(100_000) as f64 / 100.0 + 0.25)
                }
            }
            Some("boolean") => json!(self.chance(50)),
            Some("null") => Json::Null,
            // `{}`: any value; a string is the least surprising one.
            _ => json!("any value"),
        }
    }

    fn enum_value(&mut self, options: &[Json], location: &str) -> Json {
        let usable: Vec<&Json> = options
            .iter()
            .filter(|v| !v.as_str().is_some_and(is_unknown_sentinel))
            .collect();
        let key = (
            location.to_owned(),
            usable.iter().map(|v| v.to_string()).collect(),
        );
        let used = self.used.entry(key).or_default();
        let fresh: Vec<&&Json> = usable
            .iter()
            .filter(|v| !used.contains(&v.to_string()))
            .collect();
        let pick = if fresh.is_empty() {
            usable[(self.rng.next_u64() % usable.len() as u64) as usize]
        } else {
            fresh[0]
        };
        used.insert(pick.to_string());
        pick.clone()
    }

    fn alternative(&mut self, alternatives: &[Json], at: &At<'_>) -> Json {
        let kind = at.chosen.get("type").or(at.kind.as_ref()).and_then(Json::as_str);
        let output = at
            .property
            .as_deref()
            .is_some_and(|p| OUTPUT_PROPERTIES.contains(&p));
        if output
            && matches!(kind, Some("CLASSIFY" | "SPLITTER"))
            && self.version == OLD
            && self.chance(EMPTY_OUTPUT_PERCENT)
        {
            return json!({});
        }
        // `{}` (the SDK's `| Any` of 2025-04-21 enums) is not a shape to generate when others exist.
        let mut candidates: Vec<&Json> = alternatives
            .iter()
            .filter(|a| a.as_object().map_or(true, |o| !o.is_empty()))
            .collect();
        if candidates.is_empty() {
            candidates = alternatives.iter().collect();
        }
        let null = candidates
            .iter()
            .position(|a| a.get("type").and_then(Json::as_str) == Some("null"));
        if let Some(i) = null {
            if candidates.len() == 1 || self.chance(20) {
                return self.value(candidates[i], at);
            }
            candidates.remove(i);
        }
        let fitting: Vec<&Json> = candidates
            .iter()
            .copied()
            .filter(|a| self.fits(a, at))
            .collect();
        let pool = if fitting.is_empty() { candidates } else { fitting };
        let pick = pool[self.below(pool.len())];
        self.value(pick, at)
    }

    /// Whether an alternative agrees with the discriminators the enclosing object chose already.
    fn fits(&self, alternative: &Json, at: &At<'_>) -> bool {
        let name = alternative
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"));
        let (resolved, _) = resolve(at.root, alternative, &at.location);
        let mut chosen = at.chosen.clone();
        if let Some(kind) = &at.kind {
            chosen.entry("type").or_insert_with(|| kind.clone());
        }
        if let Some(Json::Object(props)) = resolved.get("properties") {
            for (key, chosen) in &chosen {
                if let Some(constant) = props.get(key).and_then(|p| {
                    let (p, _) = resolve(at.root, p, "");
                    p.get("const")
                }) {
                    if constant != chosen {
                        return false;
                    }
                }
            }
        }
        let Some(property) = &at.property else {
            return true;
        };
        let rules: Vec<_> = COHERENT_OUTPUTS
            .iter()
            .filter(|(d, v, _)| {
                OUTPUT_PROPERTIES.contains(&property.as_str())
                    && chosen.get(*d).and_then(Json::as_str) == Some(v)
            })
            .collect();
        if rules.is_empty() {
            return true;
        }
        let label = name.unwrap_or(
            if resolved.get("additionalProperties").is_some_and(Json::is_object) {
                "MAP"
            } else {
                ""
            },
        );
        rules.iter().any(|(_, _, fit)| fit.contains(&label))
    }

    fn object(&mut self, node: &Json, at: &At<'_>) -> Json {
        let mut object = Map::new();
        let required: BTreeSet<&str> = node
            .get("required")
            .and_then(Json::as_array)
            .map(|r| r.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let empty = Map::new();
        let props = node
            .get("properties")
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        let mut order: Vec<&String> = props.keys().collect();
        order.sort_by_key(|k| !DISCRIMINATORS.contains(&k.as_str()));
        let mut chosen = Map::new();
        let mut kind = at.kind.clone();
        for key in order {
            // A discriminator the SDK defaults (`object`, `type`, `stepType`) is always sent by Extend.
            let (property, _) = resolve(at.root, &props[key], &at.location);
            let is_required = required.contains(key.as_str()) || property.get("const").is_some();
            if !is_required && (at.depth >= FULL_DEPTH || self.chance(30)) {
                continue;
            }
            let inner = At {
                depth: at.depth + 1,
                location: format!("{}/properties/{key}", at.location),
                chosen: chosen.clone(),
                kind: kind.clone(),
                property: Some(key.clone()),
                ..at.clone()
            };
            let value = self.value(&props[key], &inner);
            if DISCRIMINATORS.contains(&key.as_str()) {
                chosen.insert(key.clone(), value.clone());
            }
            if key == "type" && value.as_str().is_some_and(|v| PROCESSOR_KINDS.contains(&v)) {
                kind = Some(value.clone());
            }
            object.insert(key.clone(), value);
        }
        match node.get("additionalProperties") {
            Some(typed @ Json::Object(_)) if props.is_empty() => {
                let count = if at.depth >= FULL_DEPTH {
                    0
                } else {
                    self.below(MAX_ITEMS + 1)
                };
                let inner = At {
                    depth: at.depth + 1,
                    location: format!("{}/additionalProperties", at.location),
                    chosen: Map::new(),
                    property: None,
                    ..at.clone()
                };
                for i in 0..count {
                    object.insert(format!("{MAP_KEY_PREFIX}{i}"), self.value(typed, &inner));
                }
            }
            // Free-form (`map[Any]`): empty, flat or nested.
            Some(Json::Bool(true)) | None if props.is_empty() => match self.below(3) {
                0 => {}
                1 => {
                    object.insert(format!("{MAP_KEY_PREFIX}0"), json!("free"));
                }
                _ => {
                    object.insert(
                        format!("{MAP_KEY_PREFIX}0"),
                        json!({"nested": [1, {"deep": null}], "flag": true}),
                    );
                }
            },
            _ => {}
        }
        if let Some(name) = at.location.strip_prefix("#/$defs/") {
            if let Some((_, value)) = OLD_OBJECT_VALUES.iter().find(|(model, _)| *model == name) {
                if self.version == OLD_VERSION_OF_OBJECTS {
                    object.insert("object".into(), json!(value));
                }
            }
        }
        // An extraction's output belongs to an extraction step.
        let extraction_output = object
            .get("output")
            .and_then(|o| o.get("object"))
            .is_some_and(|o| o == "document_processor_run");
        if let (true, Some(Json::Object(step))) = (extraction_output, object.get_mut("step")) {
            let pick = EXTRACTION_STEP_TYPES[(self.rng.next_u64() % 2) as usize];
            step.insert("type".into(), json!(pick));
        }
        if at.drift && !props.is_empty() && self.chance(15) {
            let key = DRIFT_KEYS[self.below(DRIFT_KEYS.len())];
            if !props.contains_key(key) {
                object.insert(key.to_owned(), json!({"sentBy": "a later API"}));
            }
        }
        Json::Object(object)
    }

    fn string(&mut self, node: &Json, at: &At<'_>) -> Json {
        if node.get("format").and_then(Json::as_str) == Some("date-time") {
            const TIMES: [&str; 3] = [
                "2025-04-21T10:15:30Z",
                "2026-02-09T08:00:00.123Z",
                "2025-12-31T23:59:59+01:00",
            ];
            return json!(TIMES[self.below(TIMES.len())]);
        }
        let name = at.property.as_deref().unwrap_or("value");
        match self.below(4) {
            0 => json!(""),
            1 => json!(format!("{name}_{}", self.below(100))),
            2 => json!("Ünïcode – text"),
            _ => json!(format!("{}", self.below(10_000))),
        }
    }

    /// The values of the enums the generator met that it never used.
    fn enum_values_never_used(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for ((place, values), used) in &self.used {
            for value in values.iter().filter(|v| !used.contains(*v)) {
                missing.push(format!("{} {place}: {value}", self.version));
            }
        }
        missing.sort();
        missing
    }
}

/// The SDK's forward-compatibility member (`__STATUS_UNKNOWN__`): accepts any string, is none.
fn is_unknown_sentinel(value: &str) -> bool {
    value.starts_with("__") && value.ends_with("_UNKNOWN__")
}

/// Follows `$ref`s to the definition, with its location.
fn resolve<'s>(root: &'s Json, node: &'s Json, location: &str) -> (&'s Json, String) {
    let mut node = node;
    let mut location = location.to_owned();
    while let Some(reference) = node.get("$ref").and_then(Json::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("only local references: {reference}"));
        node = &root["$defs"][name];
        location = reference.to_owned();
    }
    (node, location)
}

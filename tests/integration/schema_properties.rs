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
//! "no counterpart" answer), and then only as one of [`DOCUMENTED_UNMAPPED`].
//!
//! A failure class is the step, the path that fails in the translation (or the rule that refused the
//! event) and what is wrong there. What the shipped mappings still get wrong is listed once, in
//! [`KNOWN_FAILING`]: each cause with why and every class it makes. The test fails when a class
//! outside the list appears and when a listed class no longer fails (remove it then).
//!
//! Randomness is proptest's deterministic ChaCha generator with a fixed seed, so a run is
//! reproducible: [`CASES_PER_TYPE`] rounds over every event type, then rounds with every optional set
//! until every enum value met was used. `HOOKSHIFT_PROPTEST_CASES` scales the rounds (then only new
//! classes fail the test); `HOOKSHIFT_SCHEMA_FINDINGS=FILE` writes every cause with a minimal input.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use hookshift::mapping::{translate, Delivery, Mappings, TranslateError};
use hookshift::schema::{SchemaViolation, Schemas, Strictness};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{json, Map, Value as Json};

use crate::support::{repo_path, GOLDEN_TS, NEW, OLD};

/// Generated events per source event type and direction.
const CASES_PER_TYPE: u32 = 24;
/// At most this many more rounds over every event type, while some enum value was never generated.
const EXTRA_ROUNDS: u32 = 48;
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
    /// A JSON pointer into the translated event (`*` for array indexes and map keys), or for a failed
    /// translation `translate: RULE at PATH`.
    path: String,
    /// What is wrong there: `undeclared`, `missing`, `null`, `type`, `enum`, `const`, `shape`, or
    /// `failed` (the mapping refused the event with TranslateError::Failed).
    kind: String,
}

/// What the events of one class had in common.
#[derive(Debug)]
struct Seen {
    events: usize,
    event_types: BTreeSet<String>,
    /// The smallest event of the class and what was said about it.
    example: (String, Json, String),
}

/// One cause of failure the shipped mappings are known to have: why, and every class it makes.
struct Known {
    name: &'static str,
    step: &'static str,
    why: &'static str,
    /// `(path, kind)` as in [`Class`].
    failures: &'static [(&'static str, &'static str)],
}

/// For entries of [`KNOWN`] (empty now).
#[allow(dead_code)]
const UP: &str = "2025-04-21_to_2026-02-09";
const DOWN: &str = "2026-02-09_to_2025-04-21";

/// Every cause of failure the shipped mappings still have, with the classes it makes. Shrinks as the
/// mappings are fixed: a class listed here that no longer fails fails the test.
const KNOWN_FAILING: &[Known] = KNOWN;

// ---------------------------------------------------------------------------------------- the test

#[test]
fn every_generated_event_translates_into_one_the_target_sdk_accepts() {
    let schemas = Schemas::load(&repo_path("schemas")).expect("the shipped schemas load");
    let mappings = Mappings::load(&repo_path("mappings")).expect("the shipped mappings load");
    let sources = SourceSchemas::read(&repo_path("schemas"));
    let scaled = std::env::var("HOOKSHIFT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    let per_type = scaled.unwrap_or(CASES_PER_TYPE);

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
        // Rounds more while some enum value met was never used (each place prefers unused values),
        // with every optional field set.
        generator.full = true;
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
    assert!(run.translated > 0, "nothing was translated");
    if let Ok(file) = std::env::var("HOOKSHIFT_SCHEMA_FINDINGS") {
        write_findings(Path::new(&file), &schemas, &mappings, &run);
    }

    let is_known = |class: &Class| {
        KNOWN_FAILING.iter().any(|k| {
            k.step == class.step
                && k.failures
                    .iter()
                    .any(|(path, kind)| *path == class.path && *kind == class.kind)
        })
    };
    let new: Vec<String> = run
        .observed
        .iter()
        .filter(|(class, _)| !is_known(class))
        .map(|(c, seen)| {
            let (event_type, example, message) = &seen.example;
            format!(
                "{}: ({:?}, {:?}), in {} event(s) of {:?}: {message}; smallest ({event_type}): {example}",
                c.step, c.path, c.kind, seen.events, seen.event_types
            )
        })
        .collect();
    // With another number of cases other classes may show or hide: only the default run is exact.
    let fixed: Vec<String> = if scaled.is_some() {
        Vec::new()
    } else {
        KNOWN_FAILING
            .iter()
            .flat_map(|k| k.failures.iter().map(move |f| (k, f)))
            .filter(|(k, (path, kind))| {
                !run.observed
                    .keys()
                    .any(|c| c.step == k.step && c.path == *path && c.kind == *kind)
            })
            .map(|(k, (path, kind))| format!("{} ({}): {path:?} {kind:?}", k.name, k.step))
            .collect()
    };
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{} failure class(es) not in KNOWN_FAILING:\n{}\n\n{} class(es) of KNOWN_FAILING no longer \
         fail (remove them):\n{}\n\nrefused as unmapped (documented): {:?}",
        new.len(),
        new.join("\n"),
        fixed.len(),
        fixed.join("\n"),
        run.unmapped,
    );
    // Only the documented refusals are unmapped; the default run meets every one of them.
    let documented: BTreeSet<(String, String, String)> = DOCUMENTED_UNMAPPED
        .iter()
        .map(|(s, t, d)| ((*s).to_owned(), (*t).to_owned(), (*d).to_owned()))
        .collect();
    let undocumented: Vec<_> = run.unmapped.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "refused as unmapped without a documented reason: {undocumented:?}"
    );
    if scaled.is_none() {
        let unseen: Vec<_> = documented.difference(&run.unmapped).collect();
        assert!(
            unseen.is_empty(),
            "documented as unmapped but translated or never generated: {unseen:?}"
        );
    }
    assert!(
        never_used.is_empty(),
        "enum values never generated (raise EXTRA_ROUNDS):\n{}",
        never_used.join("\n")
    );
}

/// Violations as classes: `(generic path, kind)`, each once, with the first message.
fn classify(violations: &[SchemaViolation]) -> BTreeMap<(String, &'static str), String> {
    let mut classes = BTreeMap::new();
    for v in violations {
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
        classes
            .entry((generic(&v.path), kind))
            .or_insert_with(|| v.message.clone());
    }
    classes
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
            let is_index = !name.is_empty() && name.chars().all(|c| c.is_ascii_digit());
            let name = if is_index || name.starts_with(MAP_KEY_PREFIX) {
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

/// What the generated events came to.
#[derive(Default)]
struct Run {
    observed: BTreeMap<Class, Seen>,
    translated: usize,
    /// `(step, event type, discriminator)` refused as having no counterpart; the discriminator is
    /// the payload's `stepType`, `step.type` or `type`, when it has one.
    unmapped: BTreeSet<(String, String, String)>,
}

/// The classes one event falls into (empty: it translated into a valid event), or `None` when it
/// was refused as unmapped.
type Outcome = Option<BTreeMap<(String, &'static str), String>>;

/// Translates the event and holds the translation strictly to the target schema, the input's
/// undeclared keys allowed as drift.
fn outcome(
    schemas: &Schemas,
    mappings: &Mappings,
    (from, to): (&str, &str),
    event_type: &str,
    event: &Json,
) -> Outcome {
    let plan = mappings
        .plan(from, to)
        .expect("both directions are shipped");
    let delivery = Delivery {
        timestamp: GOLDEN_TS,
    };
    let drift = schemas.undeclared_keys(from, event_type, event);
    match translate(plan, hookshift::json::Value::from(event.clone()), &delivery) {
        Ok(output) => {
            let output = serde_json::to_value(&output).unwrap();
            Some(
                match schemas.validate_event(to, &output, Strictness::Strict(&drift)) {
                    Ok(()) => BTreeMap::new(),
                    Err(violations) => classify(&violations),
                },
            )
        }
        Err(TranslateError::Unmapped { .. }) => None,
        Err(TranslateError::Failed {
            rule,
            path,
            message,
            ..
        }) => {
            let class = (format!("translate: {rule} at {}", generic(&path)), "failed");
            Some(BTreeMap::from([(class, message)]))
        }
        Err(e) => panic!("{from}_to_{to} {event_type}: not an event? {e}: {event}"),
    }
}

impl Run {
    /// Checks the generated event against its own schema (the generator's contract), then records
    /// what its translation comes to.
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
        let Some(classes) = outcome(schemas, mappings, (from, to), event_type, &event) else {
            let payload = &event["payload"];
            let discriminator = [
                &payload["stepType"],
                &payload["step"]["type"],
                &payload["type"],
            ]
            .into_iter()
            .find_map(Json::as_str)
            .unwrap_or("");
            self.unmapped
                .insert((step, event_type.to_owned(), discriminator.to_owned()));
            return;
        };
        self.translated += 1;
        let size = event.to_string().len();
        for ((path, kind), message) in classes {
            let class = Class {
                step: step.clone(),
                path,
                kind: kind.to_owned(),
            };
            let seen = self.observed.entry(class).or_insert_with(|| Seen {
                events: 0,
                event_types: BTreeSet::new(),
                example: (event_type.to_owned(), event.clone(), message.clone()),
            });
            seen.events += 1;
            seen.event_types.insert(event_type.to_owned());
            if size < seen.example.1.to_string().len() {
                seen.example = (event_type.to_owned(), event.clone(), message);
            }
        }
    }
}

/// `HOOKSHIFT_SCHEMA_FINDINGS=FILE`: every known cause with its classes, the event types they were
/// seen in, and the smallest event of its first class made smaller still (members and elements
/// removed while the event stays valid and the class still fails).
fn write_findings(file: &Path, schemas: &Schemas, mappings: &Mappings, run: &Run) {
    let mut text = String::from("## Refused as unmapped (`TranslateError::Unmapped`)\n\n");
    for (step, event_type, discriminator) in &run.unmapped {
        text.push_str(&format!("- {step}: {event_type} {discriminator}\n"));
    }
    text.push('\n');
    for known in KNOWN_FAILING {
        let (from, to) = known.step.split_once("_to_").unwrap();
        text.push_str(&format!(
            "## {} ({from} -> {to})\n\n{}\n\n",
            known.name, known.why
        ));
        let mut example = None;
        for (path, kind) in known.failures {
            let class = Class {
                step: known.step.to_owned(),
                path: (*path).to_owned(),
                kind: (*kind).to_owned(),
            };
            let Some(seen) = run.observed.get(&class) else {
                text.push_str(&format!("- `{path}` {kind}: no longer seen\n"));
                continue;
            };
            text.push_str(&format!(
                "- `{path}` {kind} ({} event(s): {}): {}\n",
                seen.events,
                seen.event_types
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                seen.example.2
            ));
            example.get_or_insert((seen.example.clone(), (*path, *kind)));
        }
        if let Some(((event_type, event, _), (path, kind))) = example {
            let small = minimize(
                schemas,
                mappings,
                (from, to),
                &event_type,
                event,
                (path, kind),
            );
            text.push_str(&format!(
                "\nMinimal input ({event_type}, fails at `{path}` {kind}):\n\n```json\n{}\n```\n\n",
                serde_json::to_string(&small).unwrap()
            ));
        }
    }
    std::fs::write(file, text).unwrap();
}

/// Removes object members and array elements, outermost first, while the event stays valid for its
/// schema and still fails in the class.
fn minimize(
    schemas: &Schemas,
    mappings: &Mappings,
    versions: (&str, &str),
    event_type: &str,
    mut event: Json,
    (path, kind): (&str, &str),
) -> Json {
    let still_fails = |candidate: &Json| {
        schemas
            .validate(versions.0, event_type, candidate, Strictness::Lax)
            .is_ok()
            && outcome(schemas, mappings, versions, event_type, candidate)
                .is_some_and(|classes| classes.keys().any(|(p, k)| p == path && *k == kind))
    };
    loop {
        let mut changed = false;
        let mut pointers = Vec::new();
        collect_pointers(&event, String::new(), &mut pointers);
        // The envelope and the discriminators stay: Extend always sends them (the 1.20.0 models
        // default `eventType`, `object`, `stepType`).
        let kept = |p: &String| {
            p.matches('/').count() == 1
                || p.rsplit('/')
                    .next()
                    .is_some_and(|key| DISCRIMINATORS.contains(&key))
        };
        for pointer in pointers.into_iter().filter(|p| !kept(p)) {
            let mut candidate = event.clone();
            if remove_at(&mut candidate, &pointer) && still_fails(&candidate) {
                event = candidate;
                changed = true;
            }
        }
        if !changed {
            return event;
        }
    }
}

/// Every member and element, parents before children.
fn collect_pointers(value: &Json, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Json)> = match value {
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    v,
                )
            })
            .collect(),
        Json::Array(items) => items
            .iter()
            .enumerate()
            .rev()
            .map(|(i, v)| (format!("{at}/{i}"), v))
            .collect(),
        _ => return,
    };
    out.extend(children.iter().map(|(p, _)| p.clone()));
    for (pointer, child) in children {
        collect_pointers(child, pointer, out);
    }
}

fn remove_at(value: &mut Json, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Json::Object(map)) => map.shift_remove(&last).is_some(),
        Some(Json::Array(items)) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
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
const DISCRIMINATORS: [&str; 4] = ["type", "processorType", "stepType", "object"];

struct Generator {
    version: String,
    rng: TestRng,
    /// Set every optional field (below [`FULL_DEPTH`]) and rarely choose null: reaches deep enums.
    full: bool,
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
            full: false,
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
        let kind = at
            .chosen
            .get("type")
            .or(at.kind.as_ref())
            .and_then(Json::as_str);
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
            .filter(|a| a.as_object().is_none_or(|o| !o.is_empty()))
            .collect();
        if candidates.is_empty() {
            candidates = alternatives.iter().collect();
        }
        let null = candidates
            .iter()
            .position(|a| a.get("type").and_then(Json::as_str) == Some("null"));
        if let Some(i) = null {
            if candidates.len() == 1 || self.chance(if self.full { 5 } else { 20 }) {
                return self.value(candidates[i], at);
            }
            candidates.remove(i);
        }
        let fitting: Vec<&Json> = candidates
            .iter()
            .copied()
            .filter(|a| self.fits(a, at))
            .collect();
        let pool = if fitting.is_empty() {
            candidates
        } else {
            fitting
        };
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
            if resolved
                .get("additionalProperties")
                .is_some_and(Json::is_object)
            {
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
            if !is_required && (at.depth >= FULL_DEPTH || (!self.full && self.chance(30))) {
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
            let mut value = self.value(&props[key], &inner);
            // A processor version inside a processor (or a run's config) is of the processor's kind.
            let names_kind = key == "type" || key == "processorType";
            if let (true, Some(inherited)) = (names_kind, &at.kind) {
                if value.as_str().is_some_and(|v| PROCESSOR_KINDS.contains(&v)) {
                    value = inherited.clone();
                }
            }
            if DISCRIMINATORS.contains(&key.as_str()) {
                chosen.insert(key.clone(), value.clone());
            }
            if names_kind && value.as_str().is_some_and(|v| PROCESSOR_KINDS.contains(&v)) {
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

// ---------------------------------------------------------------------------------------- known

/// Empty: every generated event translates into one the target accepts, or is one of the documented
/// [`DOCUMENTED_UNMAPPED`]. A new entry needs its cause and the classes it makes.
const KNOWN: &[Known] = &[];

/// Every `(step, event type, discriminator)` the mappings declare as having no counterpart (a
/// `counterpart = false` rule or no rule naming the type), as the step READMEs list them. The
/// discriminator is the payload's `stepType`, `step.type` or `type` (empty when it has none).
const DOCUMENTED_UNMAPPED: &[(&str, &str, &str)] = &[
    (DOWN, "batch_parse_run.failed", ""),
    (DOWN, "batch_parse_run.processed", ""),
    (DOWN, "batch_processor_run.failed", ""),
    (DOWN, "batch_processor_run.processed", ""),
    (DOWN, "edit_run.failed", ""),
    (DOWN, "edit_run.processed", ""),
    (DOWN, "form_detection_run.failed", ""),
    (DOWN, "form_detection_run.processed", ""),
    (DOWN, "workflow_run.cancelled", ""),
    (DOWN, "workflow_run.step_run.processed", "PARSE"),
    (DOWN, "workflow_run.step_run.processed", "ROUTER"),
    (DOWN, "workflow_run.step_run.processed", "VALIDATION"),
];

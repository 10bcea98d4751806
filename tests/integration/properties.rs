//! Property tests (proptest), run by CI: `translate` never panics, whatever the event; values no rule
//! touches come out byte for byte; the signature header parsers, strict JSON, the config loader and the
//! mapping loader never panic on arbitrary input.
//!
//! Case counts are bounded for CI; `HOOKSHIFT_PROPTEST_CASES` scales them (see `scripts/fuzz.sh`).
//! The longer, unbounded-input fuzzing lives in `examples/fuzz.rs`.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use bytes::Bytes;
use hookshift::config::{Config, Secret};
use hookshift::json::{Map, Number, Value};
use hookshift::mapping::{translate, Delivery, Mappings, TranslateError};
use hookshift::provider::{self, Provider, SignatureError, VerifyParams};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use crate::support::{repo_path, test_mappings, NEW, OLD};

fn cases(default: u32) -> ProptestConfig {
    let scale = std::env::var("HOOKSHIFT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    ProptestConfig {
        cases: scale.unwrap_or(default),
        // Failures are reported with their minimal input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------------------ values

/// Number text in the form serde_json writes back unchanged (lowercase `e`, explicit exponent sign).
fn arb_number_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,45}"],
        proptest::option::of("[0-9]{1,30}"),
        proptest::option::of((any::<bool>(), "[1-9][0-9]{0,3}")),
    )
        .prop_map(|(negative, int, frac, exp)| {
            let mut text = String::new();
            if negative {
                text.push('-');
            }
            text.push_str(&int);
            if let Some(frac) = frac {
                text.push('.');
                text.push_str(&frac);
            }
            if let Some((plus, digits)) = exp {
                text.push_str(if plus { "e+" } else { "e-" });
                text.push_str(&digits);
            }
            text
        })
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.-]{0,12}",
        any::<String>(),
        Just("\"\\\u{0}\u{1f}\u{2028}\u{fffd}😀".to_owned()),
    ]
}

/// Arbitrary JSON, numbers of any size and precision included.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number_text().prop_map(|t| Value::Number(Number::from_text(&t).unwrap())),
        arb_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((arb_string(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map>())),
        ]
    })
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies `f` to the `n`-th node (pre-order, modulo the node count).
fn with_nth(v: &mut Value, n: usize, f: &mut dyn FnMut(&mut Value)) {
    fn walk(v: &mut Value, n: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
        if *n == 0 {
            f(v);
            return true;
        }
        *n -= 1;
        match v {
            Value::Array(items) => items.iter_mut().any(|item| walk(item, n, f)),
            Value::Object(map) => map.values_mut().any(|item| walk(item, n, f)),
            _ => false,
        }
    }
    let mut n = n % count_nodes(v);
    walk(v, &mut n, f);
}

/// One structural mutation of an event.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    RemoveKey(usize, usize),
    InsertKey(usize, String, Value),
    EventType(String),
}

fn arb_mutation(event_types: Vec<String>) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), arb_json()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::RemoveKey(n, k)),
        2 => (any::<usize>(), arb_string(), arb_json()).prop_map(|(n, k, v)| Mutation::InsertKey(n, k, v)),
        1 => proptest::sample::select(event_types).prop_map(Mutation::EventType),
    ]
}

fn mutate(event: &mut Value, mutation: &Mutation) {
    match mutation {
        Mutation::Replace(n, with) => with_nth(event, *n, &mut |v| *v = with.clone()),
        Mutation::RemoveKey(n, k) => with_nth(event, *n, &mut |v| {
            if let Value::Object(map) = v {
                if !map.is_empty() {
                    let key = map.keys().nth(k % map.len()).unwrap().clone();
                    map.shift_remove(&key);
                }
            }
        }),
        Mutation::InsertKey(n, key, with) => with_nth(event, *n, &mut |v| {
            if let Value::Object(map) = v {
                map.insert(key.clone(), with.clone());
            }
        }),
        Mutation::EventType(t) => {
            if let Value::Object(map) = event {
                map.insert("eventType".to_owned(), Value::from(t.clone()));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------ mappings

struct Shipped {
    mappings: Mappings,
    /// (from, to, input event) of every golden case.
    inputs: Vec<(String, String, Value)>,
    event_types: Vec<String>,
}

fn shipped() -> &'static Shipped {
    static SHIPPED: OnceLock<Shipped> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let mappings = Mappings::load(&repo_path("mappings")).expect("the shipped mappings load");
        let mut inputs = Vec::new();
        let mut event_types = Vec::new();
        for case in mappings.golden_cases() {
            let input = case.read_input().unwrap();
            if let Some(t) = input["eventType"].as_str() {
                event_types.push(t.to_owned());
            }
            inputs.push((case.from, case.to, input));
        }
        assert!(!inputs.is_empty(), "no golden cases under mappings/");
        event_types.sort();
        event_types.dedup();
        event_types.push("made.up".to_owned());
        Shipped {
            mappings,
            inputs,
            event_types,
        }
    })
}

const DELIVERY: Delivery = Delivery {
    timestamp: 1_771_000_000,
};

proptest! {
    #![proptest_config(cases(256))]

    /// Golden inputs of the shipped mappings with random parts replaced, removed or added, and random
    /// event types: `translate` answers (Ok or an error), it never panics.
    #[test]
    fn translate_never_panics_on_mutated_events(
        case in any::<usize>(),
        mutations in proptest::collection::vec(arb_mutation(shipped().event_types.clone()), 1..6),
    ) {
        let s = shipped();
        let (from, to, input) = &s.inputs[case % s.inputs.len()];
        let mut event = input.clone();
        for m in &mutations {
            mutate(&mut event, m);
        }
        let plan = s.mappings.plan(from, to).unwrap();
        let _ = translate(plan, event.clone(), &DELIVERY);
        // The other direction too, when it exists: events that were never meant for it.
        if let Ok(back) = s.mappings.plan(to, from) {
            let _ = translate(back, event, &DELIVERY);
        }
    }

    /// Entirely arbitrary JSON through every plan of the shipped mappings.
    #[test]
    fn translate_never_panics_on_arbitrary_json(value in arb_json(), payload in arb_json(), pick in any::<usize>()) {
        let s = shipped();
        let event_type = s.event_types[pick % s.event_types.len()].clone();
        let mut envelope = Map::new();
        envelope.insert("eventId".to_owned(), "evt".into());
        envelope.insert("eventType".to_owned(), event_type.into());
        envelope.insert("payload".to_owned(), payload);
        let envelope = Value::Object(envelope);
        for (from, to) in [(OLD, NEW), (NEW, OLD)] {
            if let Ok(plan) = s.mappings.plan(from, to) {
                let _ = translate(plan, value.clone(), &DELIVERY);
                let _ = translate(plan, envelope.clone(), &DELIVERY);
            }
        }
    }

    /// Envelope fields other than `eventType` pass through every shipped rule byte for byte.
    #[test]
    fn envelope_fields_pass_through_shipped_mappings(
        case in any::<usize>(),
        extras in proptest::collection::vec(("x[A-Za-z]{1,8}", arb_json()), 1..4),
    ) {
        let s = shipped();
        let (from, to, input) = &s.inputs[case % s.inputs.len()];
        let mut event = input.clone();
        let map = event.as_object_mut().unwrap();
        for (key, value) in &extras {
            map.insert(key.clone(), value.clone());
        }
        let plan = s.mappings.plan(from, to).unwrap();
        let out = translate(plan, event.clone(), &DELIVERY).expect("golden inputs translate");
        for (key, value) in event.as_object().unwrap() {
            if key == "eventType" || key == "payload" {
                continue;
            }
            prop_assert_eq!(
                serde_json::to_string(&out[key]).unwrap(),
                serde_json::to_string(value).unwrap(),
                "envelope field {} changed", key
            );
        }
    }
}

fn test_plan_mappings() -> &'static Mappings {
    static TEST: OnceLock<(tempfile::TempDir, Mappings)> = OnceLock::new();
    &TEST
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mappings = Mappings::load(&test_mappings(dir.path())).unwrap();
            (dir, mappings)
        })
        .1
}

proptest! {
    #![proptest_config(cases(256))]

    /// A rule that touches `object`, `type` and `deliveredAt` leaves every other payload value exactly
    /// as it came: same text (numbers of any precision included), same key order.
    #[test]
    fn untouched_payload_values_pass_through_byte_for_byte(
        extras in proptest::collection::vec(("[a-z]{1,6}[A-Z0-9]{0,3}", arb_json()), 0..8),
        id in "[a-z_0-9]{1,20}",
    ) {
        let mut payload = Map::new();
        payload.insert("object".to_owned(), Value::from("document_processor_run".to_owned()));
        payload.insert("id".to_owned(), Value::from(id));
        payload.insert("type".to_owned(), Value::from("EXTRACT".to_owned()));
        for (key, value) in extras {
            if !["object", "id", "type", "deliveredAt"].contains(&key.as_str()) {
                payload.insert(key, value);
            }
        }
        let mut event = Map::new();
        event.insert("eventId".to_owned(), "evt_p".into());
        event.insert("eventType".to_owned(), "processor_run.processed".into());
        event.insert("payload".to_owned(), payload.into());
        let text = Value::Object(event).to_string();
        // What arrives is text: parse it the way the proxy does.
        let event = hookshift::json::parse(text.as_bytes()).unwrap();
        let plan = test_plan_mappings().plan(OLD, NEW).unwrap();
        let out = translate(plan, event.clone(), &DELIVERY).unwrap();
        let out_text = out.to_string();
        let untouched: Vec<(&hookshift::json::Str, &Value)> = event["payload"].as_object().unwrap().iter()
            .filter(|(k, _)| !["object", "type"].contains(&k.as_str()))
            .collect();
        let out_payload = out["payload"].as_object().unwrap();
        let mut last = 0;
        for (key, value) in untouched {
            let expected = serde_json::to_string(value).unwrap();
            prop_assert_eq!(serde_json::to_string(&out_payload.get(key)).unwrap(), expected.clone());
            // And the text itself is in the output, in input order.
            let needle = format!("{}:{}", serde_json::to_string(key.as_str()).unwrap(), expected);
            let at = out_text[last..].find(&needle);
            prop_assert!(at.is_some(), "{} not found in order in {}", needle, out_text);
            last += at.unwrap();
        }
        prop_assert_eq!(&out["eventId"], "evt_p");
        prop_assert_eq!(&out["eventType"], "extract_run.processed");
    }

    /// Strict JSON: any bytes are answered (never a panic); canonical text of any value reads back to
    /// the same value and writes back to the same bytes.
    #[test]
    fn strict_json_round_trips_and_never_panics(value in arb_json(), junk in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = hookshift::json::parse(&junk);
        let text = serde_json::to_vec(&value).unwrap();
        let parsed = hookshift::json::parse(&text);
        // Generated objects never repeat a key (a Map), nesting stays under the limit.
        let parsed = parsed.unwrap();
        prop_assert_eq!(serde_json::to_vec(&parsed).unwrap(), text);
        prop_assert_eq!(&parsed, &value);
    }

    /// The envelope the forward path scans (no tree) is the one the translate path parses, compact
    /// or pretty-printed, whatever the envelope members hold: the two paths refuse the same holes.
    #[test]
    fn scanned_and_parsed_envelopes_agree(
        event_id in arb_json(),
        event_type in arb_json(),
        payload in proptest::option::of(arb_json()),
        data in proptest::option::of(arb_json()),
        extra in arb_json(),
        pretty in any::<bool>(),
    ) {
        let mut object = Map::new();
        object.insert("eventId", event_id);
        object.insert("eventType", event_type);
        if let Some(payload) = payload {
            object.insert("payload", payload);
        }
        if let Some(data) = data {
            object.insert("data", data);
        }
        object.insert("extra", extra);
        let event = Value::Object(object);
        let text = if pretty {
            serde_json::to_vec_pretty(&event).unwrap()
        } else {
            serde_json::to_vec(&event).unwrap()
        };
        let scanned = hookshift::json::scan(&text).unwrap();
        let parsed = hookshift::json::parse(&text).unwrap();
        let string = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_owned);
        let shape = |key: &str| parsed.get(key).map(hookshift::json::Shape::of);
        prop_assert!(scanned.is_object);
        prop_assert_eq!(scanned.event_id, string("eventId"));
        prop_assert_eq!(scanned.event_type, string("eventType"));
        prop_assert_eq!(scanned.payload, shape("payload"));
        prop_assert_eq!(scanned.data, shape("data"));
        if let Some(payload) = parsed.get("payload") {
            // Recognising a signed URL never panics, whatever the payload.
            let _ = hookshift::provider::extend::detect(payload);
        }
    }
}

// ------------------------------------------------------------------------------------------ signatures

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b'\t'),
            0x20u8..0x7f,
            0x80u8..=0xff,
            Just(b','),
            Just(b'='),
            Just(b'0'),
            Just(b'f')
        ],
        0..120,
    )
}

fn plextera_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,12}".prop_map(|t| format!("t={t}")),
        "[0-9a-fA-F]{0,70}".prop_map(|s| format!("v1={s}")),
        "[a-z0-9]{0,3}=[ -~]{0,10}".prop_map(|s| s.replace(',', "")),
        "[ -~]{0,10}".prop_map(|s| s.replace(',', "")),
        Just(" t = 1 ".to_owned()),
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    /// Arbitrary header values for both schemes: always an answer, never a panic; never a success
    /// without the right MAC.
    #[test]
    fn signature_header_parsers_never_panic(
        ts in header_bytes(),
        sig in header_bytes(),
        parts in proptest::collection::vec(plextera_part(), 0..8),
        raw in header_bytes(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let secrets = [Secret::inline("wss_prop")];
        let params = |provider| VerifyParams { provider, secrets: &secrets, tolerance_secs: 300, now: 1_700_000_000 };
        let mut extend = HeaderMap::new();
        if let (Ok(t), Ok(s)) = (HeaderValue::from_bytes(&ts), HeaderValue::from_bytes(&sig)) {
            extend.insert(provider::EXTEND_TIMESTAMP_HEADER, t);
            extend.insert(provider::EXTEND_SIGNATURE_HEADER, s);
        }
        prop_assert!(provider::verify(params(Provider::Extend), &extend, Bytes::from(body.clone())).is_err());
        for value in [parts.join(","), String::from_utf8_lossy(&raw).into_owned()] {
            let mut plextera = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&value) {
                plextera.insert(provider::PLEXTERA_SIGNATURE_HEADER, v);
            }
            prop_assert!(provider::verify(params(Provider::Plextera), &plextera, Bytes::from(body.clone())).is_err());
        }
        let mut raw_plextera = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&raw) {
            raw_plextera.insert(provider::PLEXTERA_SIGNATURE_HEADER, v);
        }
        prop_assert!(provider::verify(params(Provider::Plextera), &raw_plextera, Bytes::from(body)).is_err());
    }

    /// What `sign` writes, `verify` accepts (both schemes, among junk candidates for Plextera); any
    /// change to the body is a mismatch.
    #[test]
    fn signatures_verify_exactly_the_signed_bytes(
        secret in "[ -~]{1,40}",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        flip in any::<usize>(),
        age in -60i64..=300,
        junk in proptest::collection::vec(plextera_part(), 0..4),
    ) {
        let now = 1_700_000_000i64;
        let secrets = [Secret::inline(secret.clone())];
        for provider in [Provider::Extend, Provider::Plextera] {
            let mut headers = HeaderMap::new();
            for (name, value) in provider::sign(provider, &secrets[0], now - age, &body) {
                headers.insert(name, value);
            }
            if provider == Provider::Plextera && !junk.is_empty() {
                let original = headers[provider::PLEXTERA_SIGNATURE_HEADER].to_str().unwrap().to_owned();
                // Only candidates the parser skips or takes as extra `v1`s (no second `t`, no bad hex).
                let benign = |p: &String| match p.split_once('=') {
                    Some((key, value)) => match key.trim() {
                        "t" => false,
                        "v1" => hex::decode(value.trim()).is_ok(),
                        _ => true,
                    },
                    None => false,
                };
                let noisy: Vec<String> = junk.iter().filter(|p| benign(p)).cloned().collect();
                if !noisy.is_empty() {
                    if let Ok(v) = HeaderValue::from_str(&format!("{original},{}", noisy.join(","))) {
                        headers.insert(provider::PLEXTERA_SIGNATURE_HEADER, v);
                    }
                }
            }
            let params = VerifyParams { provider, secrets: &secrets, tolerance_secs: 300, now };
            let verified = provider::verify(params, &headers, Bytes::from(body.clone()));
            prop_assert!(verified.is_ok(), "{:?}: {:?} {:?}", provider, verified.err(), headers);
            if !body.is_empty() {
                let mut changed = body.clone();
                let at = flip % changed.len();
                changed[at] ^= 1 << (flip % 8);
                prop_assert_eq!(
                    provider::verify(params, &headers, Bytes::from(changed)).unwrap_err(),
                    SignatureError::Mismatch
                );
            }
        }
    }
}

// ------------------------------------------------------------------------------------------ loaders

/// Pieces of TOML a careless (or hostile) edit might leave behind.
const TOML_TOKENS: &[&str] = &[
    "0",
    "-1",
    "18446744073709551616",
    "1e400",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "true",
    "[[routes]]",
    "[routes.policy]",
    "\"env:HOOKSHIFT_PROP_UNSET\"",
    "\"forward\"",
    "\"ack\"",
    "\"reject\"",
    "\"plextera\"",
    "\"http://127.0.0.1:1/\"",
    "'''",
    "\"\"\"",
    "=",
    "#",
    "\\",
    "\"\\u0000\"",
    "[server]",
    "\"0.0.0.0:0\"",
    "nan",
    "inf",
];

#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceValue(usize, usize),
    InsertBytes(usize, Vec<u8>),
    Truncate(usize),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(l, t)| Edit::ReplaceValue(l, t)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, b)| Edit::InsertBytes(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Applies line and byte edits; the result may not be UTF-8 (lossily converted, as a reader would).
fn edit_text(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for edit in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match edit {
            Edit::DeleteLine(i) => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Edit::ReplaceValue(i, t) => {
                let line = &mut lines[i % n];
                if let Some((key, _)) = line.split_once('=') {
                    *line = format!("{key}= {}", TOML_TOKENS[t % TOML_TOKENS.len()]);
                }
            }
            Edit::InsertBytes(at, bytes) => {
                let joined = lines.join("\n");
                let mut raw = joined.into_bytes();
                let at = at % (raw.len() + 1);
                raw.splice(at..at, bytes.iter().copied());
                lines = String::from_utf8_lossy(&raw)
                    .lines()
                    .map(str::to_owned)
                    .collect();
            }
            Edit::Truncate(at) => {
                let joined = lines.join("\n");
                let mut cut = at % (joined.len() + 1);
                while !joined.is_char_boundary(cut) {
                    cut -= 1;
                }
                lines = joined[..cut].lines().map(str::to_owned).collect();
            }
        }
    }
    lines.join("\n")
}

fn shipped_mapping_files() -> &'static Vec<(PathBuf, String)> {
    static FILES: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    FILES.get_or_init(|| crate::mapping_files::read(&repo_path("mappings")))
}

fn write_tree(root: &Path, files: &[(PathBuf, String)]) {
    for (relative, text) in files {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// The shipped config.toml with lines deleted, duplicated, values swapped for odd tokens, bytes
    /// inserted, or cut short, plus random HOOKSHIFT__ overrides: always a config or errors.
    #[test]
    fn config_loader_never_panics(
        edits in proptest::collection::vec(arb_edit(), 0..6),
        overrides in proptest::collection::vec(("HOOKSHIFT__[A-Z_0-9]{1,30}", "[ -~]{0,20}"), 0..3),
    ) {
        let base = std::fs::read_to_string(repo_path("config.toml")).unwrap();
        let text = edit_text(&base, &edits);
        if let Ok(config) = Config::parse_str(&text, overrides) {
            let _ = config.validate();
            let _ = format!("{config:?}");
        }
    }
}

proptest! {
    #![proptest_config(cases(32))]

    /// The shipped mapping files with one file edited the same way: `Mappings::load` answers with
    /// mappings or errors naming the file, and never panics; what loads still translates the golden
    /// inputs without panicking.
    #[test]
    fn mapping_loader_never_panics(
        file in any::<usize>(),
        edits in proptest::collection::vec(arb_edit(), 1..5),
    ) {
        let files = shipped_mapping_files();
        let mut edited = files.clone();
        let index = file % edited.len();
        edited[index].1 = edit_text(&edited[index].1, &edits);
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &edited);
        match Mappings::load(dir.path()) {
            Ok(mappings) => {
                for (from, to, input) in &shipped().inputs {
                    if let Ok(plan) = mappings.plan(from, to) {
                        match translate(plan, input.clone(), &DELIVERY) {
                            Ok(_) | Err(TranslateError::Unmapped { .. }) | Err(TranslateError::Failed { .. }) => {}
                            Err(TranslateError::NotAnEvent(e)) => prop_assert!(false, "golden input is an event: {}", e),
                        }
                    }
                }
            }
            Err(errors) => {
                prop_assert!(!errors.0.is_empty());
                let _ = errors.to_string();
            }
        }
    }
}

//! Tests of the three parsers against each other and serde_json: [`parse`], [`scan`] and the fast
//! reader agree on every body, valid or not.

use super::cursor::{mask_lone_surrogates, needs_a_look};
use super::parse::parse_serde;
use super::read;
use super::scan::{fast_scan, scan_serde};
use super::*;

#[test]
fn keeps_exact_numbers_and_key_order() {
    let body = br#"{"z":1,"amount":12345678901234567890.123456789,"id":18446744073709551617,"f":1.10,"e":1e+400,"n":-0}"#;
    let value = parse(body).unwrap();
    assert_eq!(value.to_vec(), body.to_vec());
    // Exponents keep their spelling too (serde_json would write `1e400` as `1e+400`).
    let body = br#"{"e":2.5e-7,"f":1e400,"g":1E+2}"#;
    assert_eq!(parse(body).unwrap().to_vec(), body.to_vec());
}

#[test]
fn matches_serde_json_on_ordinary_documents() {
    let body = br#"{"a":[1,2,{"b":null,"c":true,"d":"\u00e9\n"}],"e":{},"f":[]}"#;
    assert_eq!(
        parse(body).unwrap(),
        serde_json::from_slice::<Value>(body).unwrap()
    );
}

#[test]
fn refuses_duplicate_keys_at_any_depth() {
    assert!(matches!(parse(br#"{"a":1,"a":2}"#), Err(JsonError::DuplicateKey(k)) if k == "a"));
    assert!(
        matches!(parse(br#"{"x":[{"eventType":"a","eventType":"b"}]}"#), Err(JsonError::DuplicateKey(k)) if k == "eventType")
    );
    // Same key in sibling objects is fine.
    assert!(parse(br#"[{"a":1},{"a":2}]"#).is_ok());
}

#[test]
fn refuses_deep_nesting() {
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse(ok.as_bytes()).is_ok());
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert!(matches!(parse(deep.as_bytes()), Err(JsonError::TooDeep)));
    let very_deep = "{\"a\":".repeat(100_000);
    assert!(parse(very_deep.as_bytes()).is_err());
}

#[test]
fn refuses_invalid_utf8_and_trailing_data() {
    assert!(matches!(
        parse(b"{\"a\":\"\xff\"}"),
        Err(JsonError::Syntax(_))
    ));
    assert!(matches!(parse(b"{} {}"), Err(JsonError::Syntax(_))));
    assert!(matches!(parse(b""), Err(JsonError::Syntax(_))));
}

/// What `parse` says about a body, in the terms `scan` answers in.
fn envelope_by_parse(body: &[u8]) -> Result<Envelope, String> {
    let value = parse(body).map_err(|e| e.to_string())?;
    let Some(object) = value.as_object() else {
        return Ok(Envelope::default());
    };
    let string = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let lone_surrogate = |key: &str| matches!(object.get(key), Some(Value::RawString(_)));
    Ok(Envelope {
        is_object: true,
        event_type: string("eventType"),
        type_member: string("type"),
        event_id: string("eventId"),
        event_type_lone_surrogate: lone_surrogate("eventType"),
        event_id_lone_surrogate: lone_surrogate("eventId"),
        type_member_lone_surrogate: lone_surrogate("type"),
        payload: object.get("payload").map(Shape::of),
        data: object.get("data").map(Shape::of),
    })
}

fn assert_scan_agrees(body: &[u8]) {
    assert_eq!(
        scan(body).map_err(|e| e.to_string()),
        envelope_by_parse(body),
        "{}",
        String::from_utf8_lossy(body)
    );
}

#[test]
fn scan_agrees_with_parse() {
    let many_keys: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
    let many_dup = format!("{{{many_keys}\"k7\":1}}");
    let many_ok = format!("{{{}\"last\":1}}", many_keys);
    let ok_depth = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    let deep_objects = format!(
        "{}1{}",
        "{\"a\":".repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    let empty_at_limit = format!("{}{{}}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    let bodies: Vec<&[u8]> = vec![
        br#"{"eventId":"evt_1","eventType":"extract_run.processed","payload":{"a":[1,2.5,-0,1e400]}}"#,
        br#"{"eventType":"x","data":{},"eventId":7}"#,
        br#"{"eventId":"e","eventType":"x","payload":null}"#,
        b"{\"eventId\":\"e\",\"eventType\":\"x\",\"payload\": { \n\t } }",
        br#"{"eventId":"e","eventType":"x","payload":{"":null}}"#,
        br#"{"eventId":"e","eventType":"x","payload":12.5e3}"#,
        br#"{"eventId":"e","eventType":"x","payload":"text"}"#,
        br#"{"eventId":"e","eventType":"x","payload":[{}],"data":true}"#,
        br#"{"eventId":"e","eventType":"x","payload":{"object":"signed_data_url","data":"https://a.example/p?sig=1"}}"#,
        br#"{"eventType":"x","data":{"a":{}},"payload":false}"#,
        br#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"id":"in_1"}}"#,
        br#"{"type":{"nested":"x"},"data":{}}"#,
        br#"{"typ\u0065":"x","data":{}}"#,
        br#"{"eventType":"x","d\u0061ta":{},"p\u0061yload":null}"#,
        br#"{"eventType":{"nested":"x"},"payload":null}"#,
        br#"{"eventType":"a","eventType":"b","payload":{}}"#,
        br#"{"payload":{"x":{"y":1,"y":2}},"eventType":"t"}"#,
        br#"{"a\u0062":1,"ab":2}"#,
        br#"{"ev\u0065ntType":"escaped key","payload":1}"#,
        br#"{"eventType":"caf\u00e9 \ud83d\ude00","payload":[]}"#,
        br#"{"a":1,"a":{"broken"}"#,
        br#"[{"a":1},{"a":2}]"#,
        br#"[1,2,"three"]"#,
        b"12345678901234567890.123456789",
        b"\"just a string\"",
        b"null",
        b"{}",
        b"{} {}",
        b"",
        b"{\"a\":\"\xff\"}",
        b"{\"\xff\":1}",
        b"{\"a\":1,}",
        b"{\"a\":01}",
        b"{\"a\":\"\x01\"}",
        br#"{"eventId":"e","eventType":"x","payload":{"cut":"ab\ud83d","tail":"\ude00"}}"#,
        br#"{"eventId":"\ud800","eventType":"x\udfff","payload":{"a":1}}"#,
        br#"{"eventId":"e","eventType":"x","payload":{"\ud800":1}}"#,
        br#"{"eventId":"e","\udc00":"x","payload":{"a":1}}"#,
        br#"{"type":"invoice.\ud800","timestamp":"t","data":{"a":1}}"#,
        br#"{"a":"\ud800","b":tru}"#,
        many_dup.as_bytes(),
        many_ok.as_bytes(),
        ok_depth.as_bytes(),
        deep.as_bytes(),
        deep_objects.as_bytes(),
        empty_at_limit.as_bytes(),
    ];
    for body in bodies {
        assert_scan_agrees(body);
    }
    for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/events"))
        .into_iter()
        .flatten()
        .flatten()
    {
        assert_scan_agrees(&std::fs::read(file.path()).unwrap());
    }
}

#[test]
fn needs_a_look_finds_every_special_byte() {
    for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
        for at in 0..8 {
            let mut bytes = *b"abcdefgh";
            bytes[at] = special;
            assert!(
                needs_a_look(u64::from_le_bytes(bytes)),
                "{special:#x} at {at}"
            );
        }
    }
    for plain in [
        *b"abcdefgh",
        *b"        ",
        [0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'],
    ] {
        assert!(!needs_a_look(u64::from_le_bytes(plain)));
    }
    // Every byte value alone in a word of plain bytes.
    for byte in 0..=255u8 {
        let mut bytes = *b"abcdefgh";
        bytes[3] = byte;
        let special = byte == b'"' || byte == b'\\' || byte < 0x20;
        assert_eq!(
            needs_a_look(u64::from_le_bytes(bytes)),
            special,
            "{byte:#x}"
        );
    }
}

#[test]
fn fast_scan_takes_the_benchmark_events() {
    for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/events"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let body = std::fs::read(file.path()).unwrap();
        assert!(fast_scan(&body).is_ok(), "{}", file.path().display());
        assert_eq!(
            fast_scan(&body).map_err(|_| "refused".to_owned()),
            scan_serde(&body).map_err(|e| e.to_string())
        );
    }
}

/// JSON-like text: structure, keys (some repeated), escapes, numbers, literals and junk.
fn json_like() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::strategy::Strategy as _;
    let pieces: Vec<&'static [u8]> = vec![
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b" ",
        b"\n",
        b"\"",
        b"\"a\"",
        b"\"a\":",
        b"\"eventType\":",
        b"\"eventId\":",
        b"\"payload\":",
        b"\"data\":",
        b"\"x\"",
        b"\"\\n\"",
        b"\"\\u00e9\"",
        b"\"\\ud83d\\ude00\"",
        b"\"\\ud800\"",
        b"\"\\q\"",
        b"\"a\\u0062\":",
        b"\"ab\":",
        b"0",
        b"01",
        b"-",
        b"-0",
        b"1.5",
        b"1.",
        b"2e10",
        b"1e+400",
        b"12345678901234567890.12345",
        b"true",
        b"false",
        b"null",
        b"nul",
        b"\xff",
        b"\x01",
        b"\xc3\xa9",
        b"\"\x01\"",
    ];
    proptest::collection::vec(proptest::sample::select(pieces), 0..24)
        .prop_map(|parts| parts.concat())
}

/// Well-formed JSON text (keys from a small set, so objects repeat keys; strings with escapes).
fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("-0.5e3".to_owned()),
        Just("12345678901234567890.12345".to_owned()),
        proptest::sample::select(vec![
            "",
            "x",
            "\\n",
            "\\u00e9",
            "\\ud83d\\ude00",
            "é€",
            "a longer string, past eight bytes é \\t",
            "sixteen bytes ok\\\"quote"
        ])
        .prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "a",
                        "b",
                        "eventType",
                        "eventId",
                        "type",
                        "payload",
                        "data",
                        "a\\u0062",
                        "ab",
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect();
                format!("{{ {} }}", members.join(", "))
            }),
        ]
    })
}

/// What the fast reader accepts, serde_json accepts with the same tree (same text, same key
/// order: compared as written out) and what the serde path says is what `parse` says. serde_json
/// refuses lone surrogate escapes, which the reader keeps: it reads them masked, and the reader's
/// tree is compared masked too.
fn assert_reader_agrees(body: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
    let by_serde = parse_serde(&mask_lone_surrogates(body));
    if let Ok(fast) = read::read(body) {
        let serde_tree = by_serde.as_ref().map_err(|e| {
            proptest::test_runner::TestCaseError::fail(format!(
                "reader took what serde refuses: {e}"
            ))
        })?;
        let fast = parse_serde(&mask_lone_surrogates(&fast.to_vec())).expect("written JSON parses");
        // Through serde_json's numbers: serde_json writes `1e3` as `1e+3`, the reader keeps it.
        let normalized =
            |v: &Value| serde_json::to_string(&serde_json::Value::from(v.clone())).unwrap();
        proptest::prop_assert_eq!(normalized(&fast), normalized(serde_tree));
    }
    if let Err(e) = by_serde {
        let ours = parse(body).unwrap_err();
        if !matches!(ours, JsonError::SurrogateKey { .. }) {
            proptest::prop_assert_eq!(ours.to_string(), e.to_string());
        }
    }
    Ok(())
}

#[test]
fn fast_reader_takes_escapes_surrogate_pairs_and_exact_numbers() {
    let body = br#"{"k\u00e9y":"a\"b\\c\/d\b\f\n\r\t\u0001\ud83c\udf89","n":[-0.5e+10,123456789012345678901234567890,0]}"#;
    let fast = read::read(body).expect("the reader takes this body");
    assert_eq!(fast, parse_serde(body).unwrap());
    assert_eq!(fast["kéy"], "a\"b\\c/d\u{8}\u{c}\n\r\t\u{1}🎉");
    assert_eq!(
        String::from_utf8(fast["n"].to_vec()).unwrap(),
        "[-0.5e+10,123456789012345678901234567890,0]"
    );
    for lone in [&br#""\ud83c""#[..], br#""\udf89x""#, br#""\ud83c\u0041""#] {
        let value = read::read(lone).expect("a lone surrogate escape is valid JSON text");
        assert_eq!(value.to_vec(), lone, "kept as received");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn fast_scan_agrees_on_json_text(body in json_text()) {
        if let Ok(envelope) = fast_scan(body.as_bytes()) {
            proptest::prop_assert_eq!(Ok(envelope), scan_serde(body.as_bytes()).map_err(|e| e.to_string()));
        }
        assert_scan_agrees(body.as_bytes());
    }

    #[test]
    fn fast_scan_never_disagrees_with_serde(body in json_like()) {
        // serde_json refuses lone surrogate escapes; `assert_scan_agrees` covers those bodies.
        let plain = matches!(mask_lone_surrogates(&body), std::borrow::Cow::Borrowed(_));
        if let (Ok(envelope), true) = (fast_scan(&body), plain) {
            proptest::prop_assert_eq!(Ok(envelope), scan_serde(&body).map_err(|e| e.to_string()));
        }
        assert_scan_agrees(&body);
    }

    #[test]
    fn fast_reader_agrees_with_serde_on_json_text(body in json_text()) {
        assert_reader_agrees(body.as_bytes())?;
    }

    #[test]
    fn fast_reader_never_disagrees_with_serde(body in json_like()) {
        assert_reader_agrees(&body)?;
    }

    #[test]
    fn scan_agrees_with_parse_on_arbitrary_bytes(body in proptest::collection::vec(
        proptest::sample::select(b"{}[]\":,ab01.-e \\u\xff".to_vec()), 0..40)) {
        assert_scan_agrees(&body);
    }
}

#[test]
fn lone_surrogate_escapes_in_strings_are_kept_as_received() {
    let body = br#"{"cut":"ab\ud83d","tail":"\uDE00 end","twice":"\ud800\ud800","then_pair":"\u00e9\udbff\ud83d\ude00","pair":"\ud83d\ude00"}"#;
    let value = parse(body).expect("both SDKs accept lone surrogate escapes");
    for (key, raw) in [
        ("cut", r"ab\ud83d"),
        ("tail", r"\uDE00 end"),
        ("twice", r"\ud800\ud800"),
        ("then_pair", r"\u00e9\udbff\ud83d\ude00"),
    ] {
        assert_eq!(value[key], Value::RawString(raw.into()), "{key}");
        assert_eq!(value[key].to_vec(), format!("\"{raw}\"").into_bytes());
        assert_eq!(value[key].as_str(), None, "no Rust string holds it");
    }
    assert_eq!(value["pair"], "😀", "a whole pair is one character");
    // Written back with every escape as received; the scan reads the same body.
    assert_eq!(
        value.clone().into_json(),
        r#"{"cut":"ab\ud83d","tail":"\uDE00 end","twice":"\ud800\ud800","then_pair":"\u00e9\udbff\ud83d\ude00","pair":"😀"}"#.as_bytes()
    );
    assert_eq!(
        scan(body).unwrap(),
        Envelope {
            is_object: true,
            ..Envelope::default()
        }
    );
    // What a serde_json value or a schema sees: each lone surrogate as U+FFFD.
    assert_eq!(serde_json::Value::from(value)["then_pair"], "é\u{fffd}😀");
}

#[test]
fn lone_surrogates_do_not_hide_the_real_error() {
    // The error of an invalid body is the one it would have without its lone surrogates, where it is.
    for (body, plain) in [
        (
            &br#"{"a":"\ud800","b":tru}"#[..],
            &br#"{"a":"\ufffd","b":tru}"#[..],
        ),
        (br#"["\udfff",]"#, br#"["\ufffd",]"#),
        (br#"{"a":"\ud800","a":1}"#, br#"{"a":"\ufffd","a":1}"#),
    ] {
        let error = parse(body).unwrap_err().to_string();
        assert_eq!(error, parse(plain).unwrap_err().to_string());
        assert_eq!(error, scan(body).unwrap_err().to_string());
        assert!(!error.contains("surrogate"), "{error}");
    }
    let truncated = br#"{"a":"\ud8"}"#;
    assert!(parse(truncated).unwrap_err().to_string().contains("escape"));
}

#[test]
fn a_key_with_a_lone_surrogate_is_refused_by_name_and_place() {
    for body in [&br#"{"ok":1,"\ud800":1}"#[..], br#"{"ok":1,"x\udc00":[]}"#] {
        let error = parse(body).unwrap_err();
        assert!(
            matches!(error, JsonError::SurrogateKey { line: 1, column: 9 }),
            "{error}"
        );
        assert_eq!(scan(body).unwrap_err().to_string(), error.to_string());
        assert!(
            error.to_string().contains("lone surrogate escape"),
            "{error}"
        );
    }
    // Escaped keys without one are read and compared decoded, by the scan as by the parser.
    assert!(
        matches!(scan(br#"{"a\u0062":1,"ab":2}"#), Err(JsonError::DuplicateKey(k)) if k == "ab")
    );
    assert_eq!(
        scan(br#"{"ev\u0065ntType":"caf\u00e9","payload":{"a":1}}"#)
            .unwrap()
            .event_type
            .as_deref(),
        Some("café")
    );
}

/// A body nested [`MAX_DEPTH`] levels, arrays and objects alternating, around a scalar.
fn nested(levels: usize) -> String {
    let mut text = String::new();
    for level in 0..levels {
        text.push_str(if level % 2 == 0 { "[" } else { "{\"a\":" });
    }
    text.push('1');
    for level in (0..levels).rev() {
        text.push(if level % 2 == 0 { ']' } else { '}' });
    }
    text
}

#[test]
fn the_nesting_bound_is_exact_for_arrays_objects_and_empty_ones() {
    let at_bound = nested(MAX_DEPTH);
    assert!(parse(at_bound.as_bytes()).is_ok());
    assert!(scan(at_bound.as_bytes()).is_ok());
    let past = nested(MAX_DEPTH + 1);
    for error in [
        parse(past.as_bytes()).unwrap_err(),
        scan(past.as_bytes()).unwrap_err(),
    ] {
        assert!(matches!(error, JsonError::TooDeep));
        assert_eq!(
            error.to_string(),
            format!("body nests arrays and objects deeper than {MAX_DEPTH} levels")
        );
    }
    // An empty container one past the bound is one level too many too.
    let empty_past = format!("{}{{}}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(matches!(
        parse(empty_past.as_bytes()),
        Err(JsonError::TooDeep)
    ));
    assert!(matches!(
        scan(empty_past.as_bytes()),
        Err(JsonError::TooDeep)
    ));
    const { assert!(MAX_DEPTH >= 200, "both Extend SDKs take 200 levels") };
}

#[test]
fn a_syntax_error_deeper_than_serde_json_recurses_is_named_where_it_is() {
    // serde_json, which words syntax errors, stops at 128 levels; this error is at 200.
    let body = format!("{}tru{}", "[".repeat(200), "]".repeat(200));
    for error in [
        parse(body.as_bytes()).unwrap_err(),
        scan(body.as_bytes()).unwrap_err(),
    ] {
        assert_eq!(
            error.to_string(),
            "body is not valid JSON: invalid JSON at line 1 column 201"
        );
    }
    let shallow = format!("{}tru{}", "[".repeat(100), "]".repeat(100));
    assert!(parse(shallow.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("expected ident at line 1 column 104"));
}

/// Every recursive walk of a tree at the bound fits a server thread's stack (2 MiB, the default of
/// the worker and blocking threads) in a debug build: parse, scan, clone, compare, write (both
/// writers), the `serde_json` and schema view, the shadow fingerprint and drop.
#[test]
fn a_body_at_the_bound_fits_a_server_threads_stack() {
    let body = format!(
        r#"{{"eventId":"e","eventType":"t","payload":{{"value":{}}}}}"#,
        nested(MAX_DEPTH - 3)
    );
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let bytes = body.as_bytes();
            scan(bytes).unwrap();
            let value = parse(bytes).unwrap();
            let copy = value.clone();
            assert_eq!(copy, value);
            assert_eq!(copy.to_vec(), bytes);
            let fingerprint = crate::shadow::Fingerprint::of(&value, true);
            assert!(fingerprint.node_count() > 1);
            let serde: serde_json::Value = copy.into();
            drop(serde);
            assert_eq!(value.into_json(), bytes);
        })
        .unwrap()
        .join()
        .expect("no stack overflow at the bound");
}

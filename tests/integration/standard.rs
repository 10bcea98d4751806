//! A Standard Webhooks route (`provider = "standard"`): a made-up billing sender's `v1 -> v2`
//! (`tests/mappings-standard`, `{type, timestamp, data}` events) translated end to end through the
//! `hookshift` binary, signed under `webhook-*` and `svix-*` header names; hostile signature headers
//! answered 401 by the server; a pass-through route starting on the shipped Extend set; and
//! `hookshift check` naming the lines of a bad configuration.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::faults::Binary;
use crate::support::*;
use hookshift::provider::Provider;

const STANDARD_MAPPINGS: &str = "tests/mappings-standard";
/// The sender's signing secret (the inbound one) and the handler's.
const SENDER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HANDLER_SECRET: &str = "whsec_aGFuZGxlci1zaWRlLXNlY3JldC1rZXk=";

/// A Standard Webhooks route at `/hooks/{name}` delivering to a `v2` handler; `v1` is forwarded
/// (translated) when `translate`, else only `v2` is (passed through).
fn standard_route(name: &str, url: &str, translate: bool) -> RouteSpec {
    let mut route = RouteSpec::new(name, url);
    route.provider = "standard";
    route.inbound_secrets = vec![SENDER_SECRET.to_owned()];
    route.downstream_secret = HANDLER_SECRET.to_owned();
    route.policy = vec![("v2".to_owned(), "forward".to_owned())];
    if translate {
        route.policy.push(("v1".to_owned(), "forward".to_owned()));
    }
    route.default_version = if translate { "v1" } else { "v2" }.to_owned();
    route.downstream_version = "v2".to_owned();
    route.unmapped = "reject";
    route
}

/// A route's TOML with its own `mappings` folder.
fn with_mappings(route: &RouteSpec, mappings: &Path) -> String {
    route.toml().replacen(
        "[routes.downstream]",
        &format!(
            "mappings = {:?}\n[routes.downstream]",
            mappings.display().to_string()
        ),
        1,
    )
}

/// A whole configuration whose global mappings are the shipped Extend set, with `routes` (TOML).
fn config_with(dir: &Path, routes: &[String]) -> std::path::PathBuf {
    config_with_ledger(dir, routes, None)
}

/// [`config_with`], with a file ledger at `ledger` when given.
fn config_with_ledger(dir: &Path, routes: &[String], ledger: Option<&Path>) -> std::path::PathBuf {
    let mut spec = ConfigSpec::new(&repo_path("mappings"), Vec::new());
    spec.extra_toml.clear();
    if let Some(path) = ledger {
        spec.ledger = format!(
            "[ledger]\nbackend = \"file\"\npath = {:?}\n",
            path.display()
        );
    }
    let mut text = spec.toml();
    for route in routes {
        text.push_str(route);
        text.push('\n');
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Standard Webhooks headers for `body`, named `webhook-*` or (`svix`) `svix-*`.
fn signed_headers(id: &str, body: &[u8], svix: bool) -> Vec<(String, String)> {
    let ts = now().to_string();
    let sig = hookshift::provider::standard_signature(SENDER_SECRET.as_bytes(), id, &ts, body)
        .expect("a whsec_ secret");
    headers(id, &ts, &format!("v1,{sig}"), svix)
}

fn headers(id: &str, ts: &str, signature: &str, svix: bool) -> Vec<(String, String)> {
    let prefix = if svix { "svix" } else { "webhook" };
    vec![
        (format!("{prefix}-id"), id.to_owned()),
        (format!("{prefix}-timestamp"), ts.to_owned()),
        (format!("{prefix}-signature"), signature.to_owned()),
        ("content-type".to_owned(), "application/json".to_owned()),
    ]
}

fn check(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookshift"))
        .args(["check", "--config"])
        .arg(config)
        .env("NO_COLOR", "1")
        .output()
        .expect("hookshift check runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[tokio::test]
async fn a_standard_webhooks_route_translates_its_example_step_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let mappings = repo_path(STANDARD_MAPPINGS);
    let route = standard_route("standard_e2e", &down.url(), true);
    let config = config_with(dir.path(), &[with_mappings(&route, &mappings)]);
    let (ok, report) = check(&config);
    assert!(ok, "hookshift check refused the configuration:\n{report}");
    let hs = Binary::start(&config, &[]);
    let url = |version: &str| format!("{}/hooks/standard_e2e?api_version={version}", hs.base);

    let golden = mappings.join("v1_to_v2/golden");
    let mut delivered = 0;
    for (case, svix) in [("invoice_paid", false), ("invoice_payment_failed", true)] {
        let input = std::fs::read(golden.join(format!("{case}.input.json"))).unwrap();
        let expected: Value = serde_json::from_slice(
            &std::fs::read(golden.join(format!("{case}.output.json"))).unwrap(),
        )
        .unwrap();
        let id = format!("msg_{case}");
        let answer = post(
            &url("v1"),
            input.clone(),
            &signed_headers(&id, &input, svix),
        )
        .await;
        assert_eq!(
            (answer.status, answer.json["status"].as_str()),
            (200, Some("delivered")),
            "{case}: {answer:?}"
        );
        delivered += 1;
        let received = down.wait_for(delivered).await.pop().unwrap();
        assert_eq!(received.json(), expected, "{case}");
        // Re-signed with the handler's secret, under the same id, in the family the sender used.
        received.assert_signed(Provider::Standard, HANDLER_SECRET);
        let (kept, other) = if svix {
            ("svix-id", "webhook-id")
        } else {
            ("webhook-id", "svix-id")
        };
        assert_eq!(received.headers[kept], id.as_str(), "{case}");
        assert!(received.headers.get(other).is_none(), "{case}");
        assert!(received.headers.get("x-extend-request-signature").is_none());
    }

    // The sender's retry (same webhook-id, fresh signature) is delivered under that id again.
    let input = std::fs::read(golden.join("invoice_paid.input.json")).unwrap();
    let answer = post(
        &url("v1"),
        input.clone(),
        &signed_headers("msg_invoice_paid", &input, false),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    delivered += 1;
    let received = down.wait_for(delivered).await.pop().unwrap();
    assert_eq!(received.headers["webhook-id"], "msg_invoice_paid");

    // The handler's own version passes as received, byte for byte.
    let v2 = br#"{"type":"invoice.payment.succeeded","timestamp":"2026-03-02T09:15:00Z","data":{"invoice":{"id":"in_2"},"amount":{"value":1,"currency":"EUR"},"outcome":"succeeded"}}"#;
    let answer = post(
        &url("v2"),
        v2.to_vec(),
        &signed_headers("msg_v2", v2, false),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    delivered += 1;
    let received = down.wait_for(delivered).await.pop().unwrap();
    assert_eq!(received.body.as_ref(), v2.as_slice());
    received.assert_signed(Provider::Standard, HANDLER_SECRET);
    assert_eq!(received.headers["webhook-id"], "msg_v2");

    // A payload no rule expects is refused naming its place in `data`; an unknown type is unmapped.
    let odd = br#"{"type":"invoice.paid","timestamp":"2026-03-02T09:15:00Z","data":{"id":"in_3","amount_cents":1,"currency":"EUR","status":"refunded"}}"#;
    let answer = post(
        &url("v1"),
        odd.to_vec(),
        &signed_headers("msg_odd", odd, false),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (422, "translation_failed"),
        "{answer:?}"
    );
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("data.status"),
        "{answer:?}"
    );
    let unknown = br#"{"type":"invoice.created","timestamp":"2026-03-02T09:15:00Z","data":{}}"#;
    let answer = post(
        &url("v1"),
        unknown.to_vec(),
        &signed_headers("msg_u", unknown, false),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "unmapped_event_type"),
        "{answer:?}"
    );
    // An Extend-shaped body is not a Standard Webhooks event, whatever its signature.
    let extend = br#"{"eventId":"e","eventType":"invoice.paid","payload":{"id":"x"}}"#;
    let answer = post(
        &url("v1"),
        extend.to_vec(),
        &signed_headers("msg_e", extend, false),
    )
    .await;
    assert_eq!(
        (answer.status, answer.error()),
        (400, "not_an_event"),
        "{answer:?}"
    );
    assert!(answer.json["message"]
        .as_str()
        .unwrap()
        .contains("type must be a string"));
    assert_eq!(
        down.requests().len(),
        delivered,
        "refused events are not delivered"
    );
}

#[tokio::test]
async fn the_ledger_knows_an_event_by_its_webhook_id_and_pairs_twins_by_declared_identity() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let route = standard_route("standard_ledger", &down.url(), true);
    let config = config_with_ledger(
        dir.path(),
        &[with_mappings(&route, &repo_path(STANDARD_MAPPINGS))],
        Some(&dir.path().join("hookshift.ledger")),
    );
    let hs = Binary::start(&config, &[]);
    let url = |version: &str| format!("{}/hooks/standard_ledger?api_version={version}", hs.base);
    let send = |version: &'static str, id: &'static str, body: &'static [u8]| {
        let url = url(version);
        async move { post(&url, body.to_vec(), &signed_headers(id, body, false)).await }
    };
    let status = |answer: &Answer| {
        (
            answer.status,
            answer.json["status"].as_str().map(str::to_owned),
        )
    };
    let delivered = || (200, Some("delivered".to_owned()));
    let duplicate = || (200, Some("duplicate".to_owned()));

    // An invoice payment sent to both endpoints, each copy under its own webhook-id: the identity
    // declared in identity.toml (the invoice) pairs them, and the handler gets it once.
    let v1 = br#"{"type":"invoice.paid","timestamp":"2026-03-02T09:15:00Z","data":{"id":"in_led","amount_cents":1250,"currency":"EUR","status":"paid"}}"#;
    let v2 = br#"{"type":"invoice.payment.succeeded","timestamp":"2026-03-02T09:15:00Z","data":{"invoice":{"id":"in_led"},"amount":{"value":1250,"currency":"EUR"},"outcome":"succeeded"}}"#;
    assert_eq!(status(&send("v1", "msg_v1_copy", v1).await), delivered());
    let received = down.wait_for(1).await.pop().unwrap();
    assert_eq!(received.headers["webhook-id"], "msg_v1_copy");
    assert_eq!(status(&send("v2", "msg_v2_copy", v2).await), duplicate());
    // The sender's retry of the delivered copy (same webhook-id) is a duplicate too.
    assert_eq!(status(&send("v1", "msg_v1_copy", v1).await), duplicate());

    // A type with no declared identity is known by its webhook-id: a retry is a duplicate, while
    // another id with the same bytes is another event, delivered.
    let plain =
        br#"{"type":"customer.created","timestamp":"2026-03-02T09:15:00Z","data":{"id":"cus_1"}}"#;
    assert_eq!(status(&send("v2", "msg_plain", plain).await), delivered());
    assert_eq!(status(&send("v2", "msg_plain", plain).await), duplicate());
    assert_eq!(status(&send("v2", "msg_plain_2", plain).await), delivered());
    let all = down.wait_for(3).await;
    let ids: Vec<&str> = all
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert_eq!(ids, ["msg_v1_copy", "msg_plain", "msg_plain_2"]);
    assert_eq!(down.requests().len(), 3, "each event delivered once");
}

#[tokio::test]
async fn hostile_signature_headers_are_answered_401_and_never_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let down = Downstream::start().await;
    let route = standard_route("standard_hostile", &down.url(), true);
    let config = config_with(
        dir.path(),
        &[with_mappings(&route, &repo_path(STANDARD_MAPPINGS))],
    );
    let hs = Binary::start(&config, &[]);
    let url = format!("{}/hooks/standard_hostile?api_version=v2", hs.base);
    let body =
        br#"{"type":"invoice.payment.succeeded","timestamp":"2026-03-02T09:15:00Z","data":{}}"#;
    let ts = now().to_string();
    let good =
        hookshift::provider::standard_signature(SENDER_SECRET.as_bytes(), "msg_h", &ts, body)
            .unwrap();
    let wrong = "v1,".to_owned() + &"A".repeat(43) + "=";
    // Under the server's 64 KiB head limit: 1,200 full candidates, or 9,000 short skipped ones.
    let thousands = vec![wrong.as_str(); 1200].join(" ") + &format!(" v1,{good}");
    let skipped = vec!["v1a,AA"; 9000].join(" ") + &format!(" v1,{good}");
    // Signed with the key bytes as the secret, not with the whsec_ base64 key.
    let unkeyed = hookshift::provider::standard_signature(
        format!(
            "whsec_{}",
            "d2hzZWNfTWZLUTlyOEdLWXFyVHdqVVBEOElMUFpJbzJMYUxhU3c="
        )
        .as_bytes(),
        "msg_h",
        &ts,
        body,
    )
    .unwrap();
    let cases = [
        ("empty v1,", "v1,".to_owned()),
        ("empty v1, beside a valid one", format!("v1, v1,{good}")),
        ("bare v1", "v1".to_owned()),
        ("bad base64", "v1,not*base64".to_owned()),
        ("thousands of candidates", thousands),
        ("thousands of skipped entries", skipped),
        ("another key", format!("v1,{unkeyed}")),
    ];
    for (what, signature) in cases {
        let answer = post(
            &url,
            body.to_vec(),
            &headers("msg_h", &ts, &signature, false),
        )
        .await;
        assert_eq!(
            (answer.status, answer.error()),
            (401, "invalid_signature"),
            "{what}: {answer:?}"
        );
        let message = answer.json["message"].as_str().unwrap_or_default();
        assert!(!message.contains("whsec_"), "{what}: {message}");
    }
    // The same delivery with its one valid signature goes through.
    let answer = post(
        &url,
        body.to_vec(),
        &headers("msg_h", &ts, &format!("v1,{good}"), false),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(down.wait_for(1).await.len(), 1);
    assert_eq!(
        down.requests().len(),
        1,
        "refused deliveries are not delivered"
    );
}

#[test]
fn a_pass_through_standard_route_starts_on_the_shipped_extend_set() {
    let dir = tempfile::tempdir().unwrap();
    // No `mappings` of its own: the global set is Extend's, written for `eventType` and `payload`.
    let passing = standard_route("standard_pass", "http://127.0.0.1:9/", false);
    let config = config_with(dir.path(), &[passing.toml()]);
    hookshift::state::State::load(&config).unwrap();
    let (ok, report) = check(&config);
    assert!(ok, "{report}");

    // Translating on that set is refused: it reads neither Standard Webhooks' type nor its data.
    let mut translating = standard_route("standard_misfit", "http://127.0.0.1:9/", true);
    translating.policy = vec![(OLD.to_owned(), "forward".to_owned())];
    translating.default_version = OLD.to_owned();
    translating.downstream_version = NEW.to_owned();
    let config = config_with(dir.path(), &[translating.toml()]);
    let error = hookshift::state::State::load(&config)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("routes[0].mappings")
            && error.contains("standard events carry their payload in `data`")
            && error.contains("standard events name it in `type`"),
        "{error}"
    );
}

#[test]
fn check_names_the_line_of_a_secret_that_is_not_whsec_base64() {
    let dir = tempfile::tempdir().unwrap();
    let mut route = standard_route("standard_bad_secret", "http://127.0.0.1:9/", false);
    route.inbound_secrets = vec!["wss_not_standard".to_owned()];
    route.downstream_secret = "whsec_***".to_owned();
    let config = config_with(dir.path(), &[route.toml()]);
    let text = std::fs::read_to_string(&config).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (ok, report) = check(&config);
    assert!(!ok, "{report}");
    assert!(
        report.contains(&format!(
            "routes[0].inbound_secrets[0]: a Standard Webhooks secret starts with whsec_ \
             (whsec_<base64 key>) (line {})",
            line_of("inbound_secrets")
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "routes[0].downstream.secret: the part after whsec_ must be the base64 of a non-empty \
             key (line {})",
            line_of("whsec_***")
        )),
        "{report}"
    );
    assert!(!report.contains("wss_not_standard"), "{report}");
}

#[test]
fn the_example_set_declares_its_envelope_and_identities() {
    let set = hookshift::mapping::Mappings::load(&repo_path(STANDARD_MAPPINGS)).unwrap();
    assert_eq!((set.event_type_key(), set.payload_key()), ("type", "data"));
    assert_eq!(set.check_golden(), Vec::<String>::new());
    assert_eq!(set.check_identities(), Vec::<String>::new());
    let golden = repo_path(STANDARD_MAPPINGS).join("v1_to_v2/golden");
    let read = |name: &str| -> hookshift::json::Value {
        let text = std::fs::read(golden.join(name)).unwrap();
        hookshift::json::parse(&text).unwrap()
    };
    // Twins: the v1 copy's translation has the identity of the v2 copy (the invoice), by `type`.
    let v1 = read("invoice_paid.input.json");
    let v2 = read("invoice_paid.output.json");
    let plan = set.plan("v1", "v2").unwrap();
    let delivery = hookshift::mapping::Delivery { timestamp: 0 };
    let translated = hookshift::mapping::translate(plan, v1, &delivery).unwrap();
    let identities = set.identities();
    let twin = identities.of("v2", &v2).unwrap();
    assert_eq!(identities.of("v2", &translated), Some(twin.clone()));
    assert_eq!(twin.event_type, "invoice.payment.succeeded");

    // A versions.toml whose event_type is not a member name is refused with its line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("v1_to_v2")).unwrap();
    std::fs::copy(
        repo_path(STANDARD_MAPPINGS).join("v1_to_v2/invoices.toml"),
        dir.path().join("v1_to_v2/invoices.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("versions.toml"),
        "order = [\"v1\", \"v2\"]\npayload = \"data\"\nevent_type = \"meta.type\"\n",
    )
    .unwrap();
    let errors = hookshift::mapping::Mappings::load(dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains(
            "versions.toml:3: event_type: must name the envelope member holding the event type"
        ),
        "{errors}"
    );
}

mod properties {
    use base64::Engine as _;
    use bytes::Bytes;
    use hookshift::config::Secret;
    use hookshift::provider::{self, Provider, SignatureError, VerifyParams};
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000;

    fn params(secrets: &[Secret]) -> VerifyParams<'_> {
        VerifyParams {
            provider: Provider::Standard,
            secrets,
            tolerance_secs: 300,
            now: NOW,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

        /// What `sign_event` writes under any key and id, `verify` accepts with that id; any change
        /// to the body or the id is a mismatch.
        #[test]
        fn signatures_verify_exactly_the_signed_id_and_bytes(
            key in proptest::collection::vec(any::<u8>(), 1..64),
            id in "[!-~]{1,64}",
            body in proptest::collection::vec(any::<u8>(), 0..256),
            flip in any::<usize>(),
        ) {
            let secret = Secret::inline(format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(&key)
            ));
            let mut headers = HeaderMap::new();
            for (name, value) in provider::sign_event(Provider::Standard, &secret, NOW, Some(&id), &body) {
                headers.insert(name, value);
            }
            let secrets = [secret];
            let verified = provider::verify(params(&secrets), &headers, Bytes::from(body.clone()));
            prop_assert_eq!(verified.as_ref().ok().and_then(|v| v.signed_id()), Some(id.as_str()));
            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip % body.len()] ^= 1;
                prop_assert_eq!(
                    provider::verify(params(&secrets), &headers, Bytes::from(changed)).unwrap_err(),
                    SignatureError::Mismatch
                );
            }
            headers.insert("webhook-id", HeaderValue::from_str(&format!("{id}x")).unwrap());
            prop_assert_eq!(
                provider::verify(params(&secrets), &headers, Bytes::from(body)).unwrap_err(),
                SignatureError::Mismatch
            );
        }

        /// Arbitrary signature headers: always an answer, never a panic, never a success without the
        /// key.
        #[test]
        fn arbitrary_signature_headers_never_verify(
            entries in proptest::collection::vec(
                prop_oneof![
                    Just("v1".to_owned()),
                    Just("v1,".to_owned()),
                    "v1,[A-Za-z0-9+/=]{0,48}",
                    "v1a,[A-Za-z0-9+/=]{0,8}",
                    "[ -~]{0,12}",
                ],
                0..24,
            ),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let secrets = [Secret::inline("whsec_cHJvcC1rZXk="), Secret::inline("not-whsec")];
            let mut headers = HeaderMap::new();
            headers.insert("webhook-id", HeaderValue::from_static("msg_prop"));
            headers.insert("webhook-timestamp", HeaderValue::from_static("1700000000"));
            if let Ok(value) = HeaderValue::from_str(&entries.join(" ")) {
                headers.insert("webhook-signature", value);
            }
            prop_assert!(provider::verify(params(&secrets), &headers, Bytes::from(body)).is_err());
        }
    }
}

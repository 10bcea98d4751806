//! The configuration as a user writes it: loading, defaults, overrides and every problem named with
//! its key and line.

use std::path::PathBuf;

use super::load::{env_key_to_path, without_source_excerpt};
use super::*;

const VALID: &str = r#"
[server]
listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9464"

[mappings]
dir = "mappings"

[[routes]]
name = "extend"
path = "/webhooks/extend"
inbound_secrets = ["wss_in"]
default_version = "2025-04-21"
[routes.downstream]
url = "http://127.0.0.1:3000/webhooks"
version = "2026-02-09"
secret = "wss_out"
[routes.policy]
"2025-04-21" = "forward"
"2026-02-09" = "ack"
"#;

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn errors_of(toml: &str, env: Vec<(String, String)>) -> Vec<String> {
    match Config::parse_str(toml, env) {
        Ok(c) => c.validate().iter().map(ToString::to_string).collect(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn valid_config_with_defaults() {
    let c = Config::parse_str(VALID, no_env()).unwrap();
    assert!(c.validate().is_empty());
    assert_eq!(c.server.max_body_bytes, 26_214_400);
    assert_eq!(c.server.max_buffered_bytes, 256 * 1024 * 1024);
    let r = &c.routes[0];
    assert_eq!(r.provider, Provider::Extend);
    assert_eq!(r.timestamp_tolerance_secs, 300);
    assert_eq!(r.version_param, "api_version");
    assert_eq!(r.unmapped, UnmappedAction::Ack);
    assert_eq!(r.downstream.timeout_ms, 25_000);
    assert_eq!(r.policy["2025-04-21"], Policy::Forward);
    assert_eq!(r.policy["2026-02-09"], Policy::Ack);
    assert_eq!(r.downstream.url, "http://127.0.0.1:3000/webhooks");
    assert_eq!(c.route_for_path("/webhooks/extend").unwrap().name, "extend");
}

#[test]
fn standard_webhooks_secrets_must_be_whsec_base64_and_errors_name_the_line() {
    let standard = VALID
        .replace(
            "path = \"/webhooks/extend\"",
            "path = \"/webhooks/extend\"\nprovider = \"standard\"",
        )
        .replace("secret = \"wss_out\"", "secret = \"whsec_!!notbase64\"");
    let errs = errors_of(&standard, no_env());
    assert_eq!(
        errs,
        vec![
            "routes[0].inbound_secrets[0]: a Standard Webhooks secret starts with whsec_ \
             (whsec_<base64 key>) (line 13)",
            "routes[0].downstream.secret: the part after whsec_ must be the base64 of a \
             non-empty key (line 18)",
        ],
    );
    for error in &errs {
        assert!(
            !error.contains("notbase64") && !error.contains("wss_in"),
            "{error}"
        );
    }
    let good = standard
        .replace(
            "[\"wss_in\"]",
            "[\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]",
        )
        .replace("whsec_!!notbase64", "whsec_c2VjcmV0LWtleQ==");
    assert_eq!(errors_of(&good, no_env()), Vec::<String>::new());
    let c = Config::parse_str(&good, no_env()).unwrap();
    assert_eq!(c.routes[0].provider, Provider::Standard);
}

#[test]
fn unknown_keys_are_named() {
    let errs = errors_of(
        &VALID.replace("secret = \"wss_out\"", "secret = \"wss_out\"\nurll = 1"),
        no_env(),
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("routes[0].downstream") && errs[0].contains("urll"),
        "{errs:?}"
    );

    let errs = errors_of(
        &VALID.replace("[server]", "[server]\nlisten_addr = 1"),
        no_env(),
    );
    assert!(
        errs[0].contains("server") && errs[0].contains("listen_addr"),
        "{errs:?}"
    );

    let errs = errors_of(&format!("{VALID}\n[extra]\na = 1\n"), no_env());
    assert!(errs[0].contains("extra"), "{errs:?}");
}

#[test]
fn bad_values_are_named() {
    let errs = errors_of(&VALID.replace("= \"forward\"", "= \"forwrd\""), no_env());
    assert!(
        errs[0].starts_with("routes[0].policy.2025-04-21: ") && errs[0].contains("forwrd"),
        "{errs:?}"
    );

    let errs = errors_of(
        &VALID.replace("http://127.0.0.1:3000/webhooks", "ftp://example.com/"),
        no_env(),
    );
    assert!(
        errs[0].starts_with("routes[0].downstream.url: ") && errs[0].contains("https://"),
        "{errs:?}"
    );
    assert!(errors_of(
        &VALID.replace("http://127.0.0.1:3000/webhooks", "https://example.com/"),
        no_env()
    )
    .is_empty());

    let errs = errors_of(
        &VALID.replace(
            "url = \"http://127.0.0.1:3000/webhooks\"",
            "url = \"http://127.0.0.1:3000/webhooks\"\nca_file = \"ca.pem\"",
        ),
        no_env(),
    );
    assert_eq!(
        errs,
        ["routes[0].downstream.ca_file: only applies to an https:// downstream.url (line 16)"]
    );

    let errs = errors_of(&VALID.replace("127.0.0.1:8080", "nowhere"), no_env());
    assert!(errs[0].starts_with("server.listen: "), "{errs:?}");

    let errs = errors_of(
        &VALID.replace(
            "default_version = \"2025-04-21\"",
            "default_version = \"2024-01-01\"",
        ),
        no_env(),
    );
    assert_eq!(
        errs,
        vec![
            "routes[0].default_version: \"2024-01-01\" has no entry in routes[0].policy (line 13)"
        ]
    );

    let errs = errors_of(
        &VALID.replace("name = \"extend\"", "name = \"Extend Route\""),
        no_env(),
    );
    assert!(errs[0].starts_with("routes[0].name: "), "{errs:?}");

    let errs = errors_of(
        &VALID.replace("inbound_secrets = [\"wss_in\"]", "inbound_secrets = []"),
        no_env(),
    );
    assert_eq!(
        errs,
        vec!["routes[0].inbound_secrets: at least one secret is required (line 12)"]
    );
}

#[test]
fn signed_url_keys_default_and_are_validated() {
    let c = Config::parse_str(VALID, no_env()).unwrap();
    let signed = &c.routes[0].signed_url;
    assert!(signed.resolve);
    assert!(signed.allow_hosts.is_empty());
    assert_eq!(signed.timeout_ms, 10_000);

    let with = |table: &str| format!("{VALID}[routes.signed_url]\n{table}\n");
    let c = Config::parse_str(
        &with("resolve = false\nallow_hosts = [\"*.s3.amazonaws.com\", \"127.0.0.1\"]\ntimeout_ms = 500"),
        no_env(),
    )
    .unwrap();
    assert!(c.validate().is_empty());
    assert!(!c.routes[0].signed_url.resolve);
    assert_eq!(c.routes[0].signed_url.allow_hosts.len(), 2);

    let errs = errors_of(&with("timeout_ms = 0"), no_env());
    assert_eq!(
        errs,
        ["routes[0].signed_url.timeout_ms: must be greater than 0 (line 22)"]
    );
    let errs = errors_of(
        &with("allow_hosts = [\"ok.example\", \"https://bad.example/\"]"),
        no_env(),
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("routes[0].signed_url.allow_hosts[1]: "),
        "{errs:?}"
    );
    let errs = errors_of(&with("allow_host = []"), no_env());
    assert!(
        errs[0].contains("routes[0].signed_url") && errs[0].contains("allow_host"),
        "{errs:?}"
    );
    let env = vec![(
        "HOOKSHIFT__ROUTES__0__SIGNED_URL__ALLOW_HOSTS".to_owned(),
        "[\"payloads.example.com\"]".to_owned(),
    )];
    let c = Config::parse_str(VALID, env).unwrap();
    assert_eq!(c.routes[0].signed_url.allow_hosts, ["payloads.example.com"]);
}

#[test]
fn missing_keys_are_named() {
    let errs = errors_of(&VALID.replace("version = \"2026-02-09\"\n", ""), no_env());
    assert!(
        errs[0].starts_with("routes[0].downstream: ") && errs[0].contains("`version`"),
        "{errs:?}"
    );
}

#[test]
fn the_body_budget_holds_two_largest_bodies() {
    let errs = errors_of(
        &VALID.replace(
            "[server]",
            "[server]\nmax_body_bytes = 2048\nmax_buffered_bytes = 4095",
        ),
        no_env(),
    );
    assert_eq!(
        errs,
        ["server.max_buffered_bytes: must be at least twice server.max_body_bytes (line 4)"]
    );
    let c = Config::parse_str(
        &VALID.replace("[server]", "[server]\nmax_buffered_bytes = 52428800"),
        no_env(),
    )
    .unwrap();
    assert!(c.validate().is_empty());
    assert_eq!(c.server.max_buffered_bytes, 52_428_800);
}

#[test]
fn every_validation_problem_is_reported() {
    let two_routes = format!(
        "{VALID}\n{}",
        &VALID[VALID.find("[[routes]]").unwrap()..].replace("wss_in", "")
    );
    let errs = errors_of(
        &two_routes.replace("[server]", "[server]\nmax_body_bytes = 0"),
        no_env(),
    );
    assert!(
        errs.contains(&"server.max_body_bytes: must be greater than 0 (line 3)".to_owned()),
        "{errs:?}"
    );
    assert!(
        errs.contains(&"routes[1].name: \"extend\" is used by another route (line 24)".to_owned()),
        "{errs:?}"
    );
    assert!(
        errs.contains(
            &"routes[1].path: \"/webhooks/extend\" is used by another route (line 25)".to_owned()
        ),
        "{errs:?}"
    );
    assert!(
        errs.contains(&"routes[1].inbound_secrets[0]: secret is empty (line 26)".to_owned()),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 4, "{errs:?}");
}

#[test]
fn env_overrides_any_key() {
    let env = vec![
        (
            "HOOKSHIFT__SERVER__MAX_BODY_BYTES".to_owned(),
            "1024".to_owned(),
        ),
        (
            "HOOKSHIFT__ROUTES__0__DOWNSTREAM__URL".to_owned(),
            "http://10.0.0.1:9/h".to_owned(),
        ),
        (
            "HOOKSHIFT__ROUTES__0__POLICY__2026-02-09".to_owned(),
            "reject".to_owned(),
        ),
        (
            "HOOKSHIFT__ROUTES__0__INBOUND_SECRETS".to_owned(),
            r#"["wss_a","wss_b"]"#.to_owned(),
        ),
        ("OTHER__SERVER__MAX_BODY_BYTES".to_owned(), "5".to_owned()),
    ];
    let c = Config::parse_str(VALID, env).unwrap();
    assert!(c.validate().is_empty());
    assert_eq!(c.server.max_body_bytes, 1024);
    assert_eq!(c.routes[0].downstream.url, "http://10.0.0.1:9/h");
    assert_eq!(c.routes[0].policy["2026-02-09"], Policy::Reject);
    assert_eq!(c.routes[0].inbound_secrets.len(), 2);
    assert_eq!(c.routes[0].inbound_secrets[1].expose(), b"wss_b");

    let bad = vec![(
        "HOOKSHIFT__SERVER__MAX_BODY_BYTES".to_owned(),
        "lots".to_owned(),
    )];
    let errs = errors_of(VALID, bad);
    assert!(errs[0].starts_with("server.max_body_bytes: "), "{errs:?}");

    let unknown = vec![("HOOKSHIFT__SERVER__COLOUR".to_owned(), "red".to_owned())];
    let errs = errors_of(VALID, unknown);
    assert!(errs[0].contains("colour"), "{errs:?}");
}

#[test]
fn env_secrets_resolve_and_missing_ones_are_named() {
    // Unique names: tests share the process environment.
    std::env::set_var("HOOKSHIFT_TEST_CONFIG_SECRET_A", "wss_from_env");
    let toml = VALID
        .replace(
            "inbound_secrets = [\"wss_in\"]",
            "inbound_secrets = [\"env:HOOKSHIFT_TEST_CONFIG_SECRET_A\"]",
        )
        .replace(
            "secret = \"wss_out\"",
            "secret = \"env:HOOKSHIFT_TEST_CONFIG_SECRET_UNSET\"",
        );
    let c = Config::parse_str(&toml, no_env()).unwrap();
    assert_eq!(c.routes[0].inbound_secrets[0].expose(), b"wss_from_env");
    let errs: Vec<String> = c.validate().iter().map(ToString::to_string).collect();
    assert_eq!(
        errs,
        vec!["routes[0].downstream.secret: environment variable HOOKSHIFT_TEST_CONFIG_SECRET_UNSET is not set (line 17)"]
    );
}

#[test]
fn every_type_problem_is_reported_with_its_line() {
    // Three mistakes of three kinds: an unknown key, a bad enum value, a bad URL.
    let toml = VALID
        .replace("[server]\n", "[server]\nlisten_addr = 1\n")
        .replace(
            "\"2026-02-09\" = \"ack\"",
            "\"2026-02-09\" = \"acknowledge\"",
        )
        .replace("http://127.0.0.1:3000/webhooks", "ftp://handler/webhooks");
    let mut errs = errors_of(&toml, no_env());
    errs.sort();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].starts_with(
            "routes[0].downstream.url: URL \"ftp://handler/webhooks\" must start with"
        ) && errs[0].ends_with("(line 16)"),
        "{errs:?}"
    );
    assert!(
        errs[1].starts_with("routes[0].policy.2026-02-09: \"acknowledge\" is not one of")
            && errs[1].ends_with("(line 21)"),
        "{errs:?}"
    );
    assert!(
        errs[2].starts_with("server: unknown field `listen_addr`") && errs[2].ends_with("(line 3)"),
        "{errs:?}"
    );
}

#[test]
fn missing_keys_and_bad_required_values_do_not_hide_the_rest() {
    // A required key missing, a required key of the wrong type, and a value problem found by
    // validation: all three, and nothing about the stand-ins put in their place.
    let toml = VALID
        .replace("version = \"2026-02-09\"\n", "")
        .replace("path = \"/webhooks/extend\"", "path = [7]")
        .replace("[server]\n", "[server]\nmax_body_bytes = 0\n");
    let mut errs = errors_of(&toml, no_env());
    errs.sort();
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs[0].starts_with("routes[0].downstream: missing field `version`"),
        "{errs:?}"
    );
    assert!(errs[0].ends_with("(line 15)"), "{errs:?}");
    assert!(
        errs[1].starts_with("routes[0].path: invalid type"),
        "{errs:?}"
    );
    assert_eq!(
        errs[2],
        "server.max_body_bytes: must be greater than 0 (line 3)"
    );
    // A bad secret is named, never quoted, and does not stop the check either.
    let errs = errors_of(
        &VALID
            .replace("[\"wss_in\"]", "\"wss_in_not_a_list\"")
            .replace("[server]\n", "[server]\ncolour = 1\n"),
        no_env(),
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs.iter().all(|e| !e.contains("wss_")), "{errs:?}");
}

#[test]
fn wrong_shapes_end_with_one_problem_each() {
    let cases = [
        ("[server]", "server = 1\n[unused]", "server: "),
        (
            "[mappings]\ndir = \"mappings\"",
            "[mappings]\ndir = [1]",
            "mappings.dir: ",
        ),
        (
            "[routes.downstream]",
            "[routes.downstreams]",
            "routes[0]: unknown field `downstreams`",
        ),
    ];
    for (from, to, first) in cases {
        let errs = errors_of(&VALID.replace(from, to), no_env());
        assert!(errs.iter().any(|e| e.starts_with(first)), "{to}: {errs:?}");
        assert!(errs.len() <= 4, "{to}: {errs:?}");
    }
    let errs = errors_of("routes = \"x\"\n[server]\nlisten = 5\n", no_env());
    assert!(!errs.is_empty() && errs.len() <= 4, "{errs:?}");
}

#[test]
fn problems_of_overridden_keys_name_the_variable() {
    let env = vec![(
        "HOOKSHIFT__SERVER__MAX_BODY_BYTES".to_owned(),
        "0".to_owned(),
    )];
    let errs = errors_of(VALID, env);
    assert_eq!(
        errs,
        ["server.max_body_bytes: must be greater than 0 (from environment variable HOOKSHIFT__SERVER__MAX_BODY_BYTES)"]
    );
}

#[test]
fn optional_env_secrets_are_skipped_when_absent() {
    std::env::set_var("HOOKSHIFT_TEST_CONFIG_OPTIONAL_SET", "wss_new_endpoint");
    std::env::set_var("HOOKSHIFT_TEST_CONFIG_OPTIONAL_EMPTY", "");
    let toml = VALID.replace(
        "inbound_secrets = [\"wss_in\"]",
        "inbound_secrets = [\"wss_in\", \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET\", \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_EMPTY\", \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_SET\"]",
    );
    let c = Config::parse_str(&toml, no_env()).unwrap();
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    let secrets: Vec<&[u8]> = c.routes[0]
        .inbound_secrets
        .iter()
        .map(Secret::expose)
        .collect();
    assert_eq!(secrets, [&b"wss_in"[..], b"wss_new_endpoint"]);
    assert_eq!(
        c.routes[0].skipped_secrets,
        [
            "HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET",
            "HOOKSHIFT_TEST_CONFIG_OPTIONAL_EMPTY"
        ]
    );

    // Only absent ones: the route would accept nothing.
    let toml = VALID.replace(
        "inbound_secrets = [\"wss_in\"]",
        "inbound_secrets = [\"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET\"]",
    );
    assert_eq!(
        errors_of(&toml, no_env()),
        ["routes[0].inbound_secrets: at least one secret is required (optional ones not set: HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET) (line 12)"]
    );
    // The handler's secret signs every delivery: it cannot be optional.
    let toml = VALID.replace(
        "secret = \"wss_out\"",
        "secret = \"env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_SET\"",
    );
    let errs = errors_of(&toml, no_env());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("routes[0].downstream.secret: env?: "),
        "{errs:?}"
    );
    // The same through the environment override the Kubernetes Deployment uses.
    let env = vec![(
        "HOOKSHIFT__ROUTES__0__INBOUND_SECRETS".to_owned(),
        r#"["wss_in","env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET"]"#.to_owned(),
    )];
    let c = Config::parse_str(VALID, env).unwrap();
    assert_eq!(c.routes[0].inbound_secrets.len(), 1);
    assert_eq!(
        format!(
            "{:?}",
            Secret::from_spec("env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET")
        ),
        "Secret(env?:HOOKSHIFT_TEST_CONFIG_OPTIONAL_UNSET, absent)"
    );
}

#[test]
fn secrets_are_redacted() {
    let c = Config::parse_str(VALID, no_env()).unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("wss_in") && !debug.contains("wss_out"),
        "{debug}"
    );
    assert!(debug.contains("Secret(***)"));
    assert_eq!(Secret::inline("wss_x").to_string(), "***");
    std::env::set_var("HOOKSHIFT_TEST_CONFIG_SECRET_B", "wss_hidden");
    let from_env = Secret::from_spec("env:HOOKSHIFT_TEST_CONFIG_SECRET_B");
    assert_eq!(
        format!("{from_env:?}"),
        "Secret(env:HOOKSHIFT_TEST_CONFIG_SECRET_B, ***)"
    );
    assert_eq!(from_env.expose(), b"wss_hidden");
}

#[test]
fn errors_never_quote_secrets() {
    let cases = [
        VALID.replace("[\"wss_in\"]", "[\"wss_in_unterminated\n"),
        VALID.replace("secret = \"wss_out\"", "secret = \"wss_out_trailing\" junk"),
        VALID.replace("[\"wss_in\"]", "\"wss_in_not_a_list\""),
        VALID.replace("secret = \"wss_out\"", "secret = [\"wss_out_in_a_list\"]"),
        VALID.replace(
            "secret = \"wss_out\"",
            "secret = { v = \"wss_out_in_a_table\" }",
        ),
    ];
    for toml in &cases {
        let errs = errors_of(toml, no_env());
        assert!(!errs.is_empty(), "{toml}");
        for err in &errs {
            assert!(!err.contains("wss_"), "{err}");
        }
    }
    let errs = errors_of(&cases[0], no_env());
    assert!(errs[0].contains("line 12"), "{errs:?}");
    let errs = errors_of(&cases[2], no_env());
    assert_eq!(
        errs,
        vec!["routes[0].inbound_secrets: must be a list of strings (the value is not shown: it may be a secret) (line 12)"]
    );
    assert_eq!(
        without_source_excerpt("TOML parse error at line 3, column 9\n  |\n3 | a = \"x\n  |         ^\ninvalid basic string\n"),
        "TOML parse error at line 3, column 9: invalid basic string"
    );
}

#[test]
fn schemas_dir_defaults_beside_the_config_file_and_may_be_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, VALID).unwrap();
    let c = Config::parse(&path, no_env()).unwrap();
    assert_eq!(c.schemas_dir(), (dir.path().join("schemas"), false));
    assert_eq!(c.schemas.scan_queue, DEFAULT_SCAN_QUEUE);
    std::fs::write(&path, format!("{VALID}\n[schemas]\nscan_queue = 0\n")).unwrap();
    assert_eq!(
        Config::parse(&path, no_env()).unwrap().schemas.scan_queue,
        0
    );
    std::fs::write(&path, format!("{VALID}\n[schemas]\ndir = \"/srv/s\"\n")).unwrap();
    let c = Config::parse(&path, no_env()).unwrap();
    assert_eq!(c.schemas_dir(), (PathBuf::from("/srv/s"), true));
    std::fs::write(&path, format!("{VALID}\n[schemas]\ndir = \"\"\n")).unwrap();
    let c = Config::parse(&path, no_env()).unwrap();
    assert!(c
        .validate()
        .iter()
        .any(|e| e.to_string().contains("schemas.dir")));
}

#[test]
fn mappings_dir_is_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookshift.toml");
    std::fs::write(&path, VALID).unwrap();
    let c = Config::parse(&path, no_env()).unwrap();
    assert_eq!(c.mappings_dir(), dir.path().join("mappings"));
    assert_eq!(c.source(), Some(path.as_path()));
}

#[test]
fn env_key_paths() {
    assert_eq!(
        env_key_to_path("HOOKSHIFT__SERVER__LISTEN").unwrap(),
        "server.listen"
    );
    assert_eq!(
        env_key_to_path("HOOKSHIFT__ROUTES__1__DOWNSTREAM__SECRET").unwrap(),
        "routes[1].downstream.secret"
    );
    assert!(env_key_to_path("HOOKSHIFT__SERVER____LISTEN").is_err());
    assert!(env_key_to_path("HOOKSHIFT__SERVER__A.B").is_err());
}

#[test]
fn workers_default_to_one_per_cpu_and_are_bounded() {
    let c = Config::parse_str(VALID, no_env()).unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!((c.server.workers, c.server.worker_count()), (0, cpus));
    let c = Config::parse_str(
        &VALID.replace("[server]", "[server]\nworkers = 3"),
        no_env(),
    )
    .unwrap();
    assert_eq!(c.server.worker_count(), 3);
    assert!(c.server.reuse_port, "SO_REUSEPORT by default");
    let errs = errors_of(
        &VALID.replace("[server]", "[server]\nworkers = 5000"),
        no_env(),
    );
    assert_eq!(
        errs,
        ["server.workers: must be at most 1024 (0: one per CPU) (line 3)"],
        "{errs:?}"
    );
}

#[test]
fn ledger_defaults_to_a_file_beside_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookshift.toml");
    std::fs::write(&path, VALID).unwrap();
    let c = Config::parse(&path, no_env()).unwrap();
    assert_eq!(c.ledger.backend, LedgerBackend::File);
    assert_eq!(c.ledger_path(), dir.path().join("hookshift.ledger"));
    assert_eq!(c.ledger.retention_hours, 72);
    assert_eq!(c.ledger.max_entries, 1_000_000);
    assert!(!c.ledger.keep_values);
}

#[test]
fn readiness_defaults_and_bad_values_with_their_lines() {
    let c = Config::parse_str(VALID, no_env()).unwrap();
    assert_eq!(c.routes[0].readiness, ReadinessConfig::default());
    assert_eq!(c.routes[0].readiness.min_pairs, 1_000);
    let text = format!(
        "{VALID}[routes.readiness]\nmin_pairs = 10\nmin_match_ratio = 99.9\nwindow_hours = 0\n"
    );
    let line_of = |key: &str| text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    let errs = errors_of(&text, no_env());
    assert_eq!(
        errs,
        vec![
            format!(
                "routes[0].readiness.min_match_ratio: 99.9 must be between 0 and 1 (0.999 is 99.9 %) (line {})",
                line_of("min_match_ratio")
            ),
            format!(
                "routes[0].readiness.window_hours: must be between 1 and 720 (line {})",
                line_of("window_hours")
            ),
        ]
    );
}

#[test]
fn ledger_keys_are_checked_and_named() {
    let with = |ledger: &str| format!("{VALID}\n[ledger]\n{ledger}\n");
    let errs = errors_of(&with("backend = \"sqlite\""), no_env());
    assert!(errs[0].starts_with("ledger.backend:"), "{errs:?}");
    let errs = errors_of(&with("retention = 1"), no_env());
    assert!(errs[0].contains("retention"), "{errs:?}");
    let errs = errors_of(&with("retention_hours = 0\nmax_entries = 0"), no_env());
    assert!(
        errs.iter()
            .any(|e| e.starts_with("ledger.retention_hours:")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.starts_with("ledger.max_entries:")),
        "{errs:?}"
    );
    // Off: nothing else is checked.
    assert!(errors_of(&with("backend = \"off\"\nmax_entries = 0"), no_env()).is_empty());
}

#[test]
fn a_redis_ledger_needs_its_url_and_never_shows_it() {
    let toml = format!(
        "{VALID}\n[ledger]\nbackend = \"redis\"\nurl = \"env:HOOKSHIFT_TEST_LEDGER_URL\"\n"
    );
    let errs = errors_of(&toml, no_env());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .starts_with("ledger.url: environment variable HOOKSHIFT_TEST_LEDGER_URL is not set"),
        "{errs:?}"
    );
    let toml =
        format!("{VALID}\n[ledger]\nbackend = \"redis\"\nurl = \"http://user:pw-123@host\"\n");
    let errs = errors_of(&toml, no_env());
    assert!(
        errs[0].starts_with("ledger.url: must start with redis://"),
        "{errs:?}"
    );
    assert!(!errs[0].contains("pw-123"), "{errs:?}");
    let toml =
        format!("{VALID}\n[ledger]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379/\"\n");
    assert!(errors_of(&toml, no_env()).is_empty());
}

#[test]
fn hosts_match_exactly_or_below_a_wildcard() {
    let patterns = vec![
        "payloads.example.com".to_owned(),
        "*.S3.amazonaws.com".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    for host in [
        "payloads.example.com",
        "PAYLOADS.example.com.",
        "bucket.s3.amazonaws.com",
        "a.b.s3.amazonaws.com",
        "127.0.0.1",
        "::1",
        "[::1]",
    ] {
        assert!(host_allowed(&patterns, host), "{host}");
    }
    for host in [
        "example.com",
        "evil-payloads.example.com",
        "payloads.example.com.evil.net",
        "s3.amazonaws.com",
        "bucket.s3.amazonaws.com.evil.net",
        "evils3.amazonaws.com",
        "127.0.0.2",
        "localhost",
    ] {
        assert!(!host_allowed(&patterns, host), "{host}");
    }
    assert!(!host_allowed(&[], "payloads.example.com"));
}

#[test]
fn allow_host_patterns_are_validated() {
    for good in [
        "a.example",
        "*.example.com",
        "127.0.0.1",
        "[::1]",
        "::1",
        "localhost",
    ] {
        assert_eq!(pattern_problem(good), None, "{good}");
    }
    for bad in [
        "",
        "*",
        "*.",
        "https://a.example",
        "a.example:443",
        "a.example/path",
        "a..example",
        "*.127.0.0.1",
        "a.*.example",
    ] {
        assert!(pattern_problem(bad).is_some(), "{bad:?}");
    }
}

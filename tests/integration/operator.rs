//! What an operator relies on: `env?:` secrets that may be absent until a migration stage creates
//! them, `hookshift send` against a running route, and `hookshift check` naming every mistake.

use std::process::Command;

use crate::support::*;

const NEW_ENDPOINT_VAR: &str = "HOOKSHIFT_TEST_OPERATOR_NEW_ENDPOINT";
const NEW_ENDPOINT_SECRET: &str = "wss_operator_new_endpoint";

fn route_with_optional_secret(url: &str, name: &str) -> RouteSpec {
    let mut route = RouteSpec::new(name, url);
    route.inbound_secrets = vec![IN_SECRET.to_owned(), format!("env?:{NEW_ENDPOINT_VAR}")];
    route
}

#[tokio::test]
async fn an_absent_optional_secret_is_skipped_and_verifies_nothing() {
    let downstream = Downstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mappings = test_mappings(dir.path());
    // Before stage 1 the new endpoint's secret does not exist: the variable is unset.
    std::env::remove_var(NEW_ENDPOINT_VAR);
    let route = route_with_optional_secret(&downstream.url(), "optional_absent");
    let hs = Hookshift::start(dir.path(), &ConfigSpec::new(&mappings, vec![route])).await;
    let event = old_extract_event("opt1");

    let answer = post_signed(&hs, "/hooks/optional_absent", IN_SECRET, &event).await;
    assert_eq!(
        (answer.status, answer.json["status"].as_str()),
        (200, Some("delivered"))
    );
    // The skipped entry is not an empty key: a body signed with "" must not verify.
    let answer = post_signed(&hs, "/hooks/optional_absent", "", &event).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_signature"));
    let answer = post_signed(&hs, "/hooks/optional_absent", NEW_ENDPOINT_SECRET, &event).await;
    assert_eq!(answer.status, 401);
    assert_eq!(downstream.requests().len(), 1);
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_present_optional_secret_verifies_like_any_other() {
    let downstream = Downstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mappings = test_mappings(dir.path());
    let mut route = RouteSpec::new("optional_present", &downstream.url());
    // A distinct variable: tests share the process environment.
    let var = "HOOKSHIFT_TEST_OPERATOR_NEW_ENDPOINT_SET";
    std::env::set_var(var, NEW_ENDPOINT_SECRET);
    route.inbound_secrets = vec![IN_SECRET.to_owned(), format!("env?:{var}")];
    let hs = Hookshift::start(dir.path(), &ConfigSpec::new(&mappings, vec![route])).await;
    let answer = post_signed(
        &hs,
        "/hooks/optional_present?api_version=2025-04-21",
        NEW_ENDPOINT_SECRET,
        &old_extract_event("opt2"),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    downstream.wait_for(1).await[0]
        .assert_signed(hookshift::provider::Provider::Extend, OUT_SECRET);
    hs.stop().await.unwrap();
}

fn hookshift_binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hookshift"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the hookshift binary runs")
}

#[tokio::test]
async fn send_signs_and_posts_to_a_running_route() {
    let downstream = Downstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mappings = test_mappings(dir.path());
    let route = RouteSpec::new("operator_send", &downstream.url()).policy(NEW, "reject");
    let hs = Hookshift::start(dir.path(), &ConfigSpec::new(&mappings, vec![route])).await;
    let event = dir.path().join("event.json");
    std::fs::write(&event, old_extract_event("send1")).unwrap();
    let url = format!("{}/hooks/operator_send", hs.base);
    let event_arg = event.to_str().unwrap().to_owned();

    let args = [
        "send",
        &event_arg,
        "--to",
        &url,
        "--secret",
        IN_SECRET,
        "--api-version",
        OLD,
    ];
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        hookshift_binary(&owned.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 OK\n{\"status\":\"delivered\"}\n"
    );
    let delivered = downstream.wait_for(1).await;
    assert_eq!(delivered[0].json()["eventType"], "extract_run.processed");

    // The new endpoint's version is rejected at this stage: send exits non-zero with the answer.
    let args = [
        "send",
        &event_arg,
        "--to",
        &url,
        "--secret",
        IN_SECRET,
        "--api-version",
        NEW,
    ];
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        hookshift_binary(&owned.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("hookshift: answered 400 Bad Request: {\"error\":\"version_rejected\""),
        "{stderr}"
    );
    assert_eq!(downstream.requests().len(), 1);
    hs.stop().await.unwrap();
}

#[test]
fn check_reports_every_mistake_with_its_line_and_what_it_checked() {
    let dir = tempfile::tempdir().unwrap();
    // The shipped mappings: every rule has its golden cases.
    let good = ConfigSpec::new(
        &repo_path("mappings"),
        vec![RouteSpec::new("check_ok", "http://127.0.0.1:9/h")],
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, good.toml()).unwrap();
    let out = hookshift_binary(&["check", "--config", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 route(s):"), "{stdout}");
    assert!(
        stdout
            .contains("check_ok /hooks/check_ok (extend): 2025-04-21 forward, 2026-02-09 forward"),
        "{stdout}"
    );
    assert!(
        stdout.contains("mapping step(s)") && stdout.contains("rule(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("golden case(s)"), "{stdout}");

    // Three mistakes of three kinds, each reported with its key and line.
    let bad = good
        .toml()
        .replace(
            "reload_poll_ms = 100\n",
            "reload_poll_ms = 100\nreload_pol_ms = 5\n",
        )
        .replace("unmapped = \"ack\"", "unmapped = \"acknowledge\"")
        .replace("http://127.0.0.1:9/h", "127.0.0.1:9/h");
    std::fs::write(&path, &bad).unwrap();
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let out = hookshift_binary(&["check", "--config", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("hookshift:"))
        .collect();
    assert_eq!(problems.len(), 3, "{stderr}");
    for (key, needle) in [
        ("server: unknown field `reload_pol_ms`", "reload_pol_ms"),
        (
            "routes[0].unmapped: \"acknowledge\" is not one of",
            "acknowledge",
        ),
        ("routes[0].downstream.url: ", "127.0.0.1:9/h"),
    ] {
        let line = format!("(line {})", line_of(needle));
        assert!(
            problems
                .iter()
                .any(|p| p.contains(key) && p.ends_with(&line)),
            "no {key:?} at {line}: {stderr}"
        );
    }
    assert!(stderr.contains("check found 3 problem(s)"), "{stderr}");
}

#[tokio::test]
async fn event_series_exist_at_zero_before_the_first_event() {
    let dir = tempfile::tempdir().unwrap();
    let mappings = test_mappings(dir.path());
    // Not delivering anywhere: no request is sent.
    let route = RouteSpec::new("operator_zero", "http://127.0.0.1:9/h").policy(NEW, "ack");
    let hs = Hookshift::start(dir.path(), &ConfigSpec::new(&mappings, vec![route])).await;
    let page = hs.metrics().await;
    let route = ("route", "operator_zero");
    for version in [OLD, NEW] {
        assert!(
            has_series(
                &page,
                "hookshift_events_received_total",
                &[route, ("api_version", version)]
            ),
            "{page}"
        );
        // Every outcome an alert or panel selects, e.g. `outcome="unauthorized"`.
        for outcome in [
            "delivered",
            "acked",
            "rejected",
            "unauthorized",
            "unmapped",
            "translation_error",
            "downstream_error",
        ] {
            let labels = [
                route,
                ("api_version", version),
                ("target_version", NEW),
                ("outcome", outcome),
            ];
            assert!(
                has_series(&page, "hookshift_events_total", &labels),
                "{outcome}: {page}"
            );
            assert_eq!(metric_sum(&page, "hookshift_events_total", &labels), 0.0);
        }
    }
    for class in ["2xx", "3xx", "4xx", "5xx", "timeout", "connect_error"] {
        assert!(
            has_series(
                &page,
                "hookshift_downstream_responses_total",
                &[route, ("status_class", class)]
            ),
            "{class}: {page}"
        );
    }
    assert!(
        has_series(&page, "hookshift_inflight_requests", &[route]),
        "{page}"
    );
    hs.stop().await.unwrap();
}

/// `hookshift translate` refuses what the server answers 400 `not_an_event`, with the server's words,
/// and translates a string cut inside a surrogate pair as the server does.
#[tokio::test]
async fn translate_refuses_what_the_server_refuses_in_the_same_words() {
    let Harness { hs, down, .. } = Harness::setup(RouteSpec::extend("operator_translate"))
        .shipped_mappings()
        .start()
        .await;
    let golden = std::fs::read_to_string(repo_path(
        "mappings/2025-04-21_to_2026-02-09/golden/extract_processed.input.json",
    ))
    .unwrap();
    let id = r#""eventId": "evt_7Qm2Lx9RfT4vB8nK1cZ3p","#;
    assert!(golden.contains(id), "{golden}");
    let refused = [
        golden.replacen(id, "", 1),
        golden.replacen(id, r#""eventId": "evt_\ud83d","#, 1),
        {
            let start = golden.find(r#""payload": {"#).unwrap();
            format!("{}\"payload\": {{}}\n}}\n", &golden[..start])
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let mappings = repo_path("mappings");
    let translate = |body: &str| {
        let input = dir.path().join("event.json");
        std::fs::write(&input, body).unwrap();
        hookshift_binary(&[
            "translate",
            "--from",
            OLD,
            "--to",
            NEW,
            "--mappings",
            mappings.to_str().unwrap(),
            "--timestamp",
            "1771000000",
            "--compact",
            input.to_str().unwrap(),
        ])
    };
    for body in &refused {
        let answer =
            post_signed(&hs, "/hooks/operator_translate", IN_SECRET, body.as_bytes()).await;
        assert_eq!(
            (answer.status, answer.error()),
            (400, "not_an_event"),
            "{body}"
        );
        let server = answer.json["message"].as_str().unwrap().to_owned();
        let out = translate(body);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{body}");
        assert!(out.stdout.is_empty(), "{body}");
        assert!(stderr.trim_end().ends_with(&server), "{stderr} / {server}");
    }

    let cut = golden.replacen(r#""Acme Corp""#, r#""Acme \ud83d""#, 1);
    assert_ne!(cut, golden);
    let answer = post_signed(&hs, "/hooks/operator_translate", IN_SECRET, cut.as_bytes()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let delivered = down.wait_for(1).await;
    let out = translate(&cut);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains(r#""vendor_name":"Acme \ud83d""#),
        "{printed}"
    );
    let served = String::from_utf8(delivered[0].body.to_vec()).unwrap();
    assert!(
        served.contains(r#""vendor_name":"Acme \ud83d""#),
        "{served}"
    );
    hs.stop().await.unwrap();
}

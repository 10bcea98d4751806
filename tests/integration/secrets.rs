//! Secrets never show: not in logs (the real binary's stderr at `RUST_LOG=trace`), not in error
//! answers, not in `/metrics`, not in `hookshift check` output, not in `Debug` output (what panic
//! messages print: `unwrap`/`expect` format values with `Debug`); and senders cannot forge log lines.

use std::{process::Command, time::Duration};

use crate::faults::*;
use crate::support::*;

const INLINE_IN: &str = "wss_inline_inbound_Q7v2k9";
const ENV_IN: &str = "wss_env_inbound_Zp4m1x";
const ENV_OUT: &str = "wss_env_handler_Hd8s3c";
const ENV_IN_VAR: &str = "HOOKSHIFT_TEST_LEAK_IN";
const ENV_OUT_VAR: &str = "HOOKSHIFT_TEST_LEAK_OUT";

fn secrets() -> [&'static str; 3] {
    [INLINE_IN, ENV_IN, ENV_OUT]
}

/// Fails with the context around the first secret found in `text`.
fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        // Also partial quotes (a truncated excerpt would still leak most of it).
        for needle in [secret, &secret[..secret.len() - 4], &secret[4..]] {
            if let Some(at) = text.find(needle) {
                let from = at.saturating_sub(200);
                let to = (at + 200).min(text.len());
                panic!("{what} holds a secret: …{}…", &text[from..to]);
            }
        }
    }
}

/// Two routes whose secrets come inline and from the environment: `leak` delivers to the harness's
/// downstream, `leak_gone` to `unreachable`.
fn setup(unreachable: &str) -> Setup {
    let mut route = RouteSpec::extend("leak")
        .inbound_secrets(&[INLINE_IN, &format!("env:{ENV_IN_VAR}")])
        .timeout_ms(500);
    route.downstream_secret = format!("env:{ENV_OUT_VAR}");
    let mut gone = RouteSpec::extend("leak_gone")
        .to(unreachable)
        .inbound_secrets(&[&format!("env:{ENV_IN_VAR}")]);
    gone.downstream_secret = format!("env:{ENV_OUT_VAR}");
    Harness::setup(route).route(gone).config(|spec| {
        spec.max_body_bytes = 2048;
        spec.reload_poll_ms = 50;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_answers_metrics_or_debug_output() {
    let files = setup(&closed_port_url().await).write().await;
    let (config_path, good_config, down) =
        (files.config_path.clone(), files.spec.toml(), &files.down);
    let env = [
        (ENV_IN_VAR, ENV_IN),
        (ENV_OUT_VAR, ENV_OUT),
        ("RUST_LOG", "trace"),
    ];
    let mut hs = Binary::start(&config_path, &env);
    let mut answers = String::new();
    let client = reqwest::Client::new();
    let base = hs.base.clone();
    let send = |path: &str, headers: Vec<(String, String)>, body: Vec<u8>| {
        let mut request = client.post(format!("{base}{path}")).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };

    // Deliveries that work, with every inbound secret.
    let path = format!("/hooks/leak?api_version={NEW}");
    let ev = |id: &str| {
        format!(
            r#"{{"eventId":"{id}","eventType":"extract_run.processed","payload":{{"id":"x"}}}}"#
        )
        .into_bytes()
    };
    for (i, secret) in [INLINE_IN, ENV_IN].iter().enumerate() {
        let body = ev(&format!("evt_ok_{i}"));
        let response = send(&path, extend_headers(secret, now(), &body), body)
            .await
            .unwrap();
        assert_eq!(record(&mut answers, response).await, 200);
    }
    let body = old_extract_event("leak_tr");
    let response = send("/hooks/leak", extend_headers(INLINE_IN, now(), &body), body)
        .await
        .unwrap();
    assert_eq!(record(&mut answers, response).await, 200);
    for request in down.wait_for(3).await {
        request.assert_signed(hookshift::provider::Provider::Extend, ENV_OUT);
    }

    // Every kind of refusal.
    let body = ev("evt_bad");
    let ts = now().to_string();
    let cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        (
            "wrong secret",
            extend_headers("wss_guess", now(), &body),
            body.clone(),
        ),
        (
            "a secret as the signature",
            vec![
                ("x-extend-request-timestamp".into(), ts.clone()),
                ("x-extend-request-signature".into(), INLINE_IN.into()),
            ],
            body.clone(),
        ),
        (
            "a secret as the timestamp",
            vec![
                ("x-extend-request-timestamp".into(), ENV_IN.into()),
                ("x-extend-request-signature".into(), "00".into()),
            ],
            body.clone(),
        ),
        (
            "stale",
            extend_headers(ENV_IN, now() - 3600, &body),
            body.clone(),
        ),
        (
            "too large",
            extend_headers(ENV_IN, now(), &[b'x'; 4096]),
            vec![b'x'; 4096],
        ),
        (
            "not JSON",
            extend_headers(ENV_IN, now(), b"nope"),
            b"nope".to_vec(),
        ),
        (
            "duplicate keys",
            extend_headers(ENV_IN, now(), br#"{"a":1,"a":2}"#),
            br#"{"a":1,"a":2}"#.to_vec(),
        ),
    ];
    for (what, headers, body) in cases {
        let response = send(&path, headers, body).await.unwrap();
        let status = record(&mut answers, response).await;
        assert!((400..500).contains(&status), "{what}: {status}");
    }
    // The handler fails, times out, is unreachable.
    for behaviour in [
        Behaviour::Status(500),
        Behaviour::Delay(Duration::from_millis(800), 200),
    ] {
        down.set(behaviour);
        let body = ev("evt_down");
        let response = send(&path, extend_headers(ENV_IN, now(), &body), body)
            .await
            .unwrap();
        assert!(record(&mut answers, response).await >= 500);
    }
    down.set(Behaviour::Status(200));
    let body = ev("evt_gone");
    let response = send(
        &format!("/hooks/leak_gone?api_version={NEW}"),
        extend_headers(ENV_IN, now(), &body),
        body,
    )
    .await
    .unwrap();
    assert_eq!(record(&mut answers, response).await, 502);

    // A sender trying to forge a log line through the version parameter (refused before verification).
    let body = ev("evt_forge");
    let response = send(
        "/hooks/leak?api_version=x%0A2026-01-01T00:00:00Z%20INFO%20FORGED%20line%0D%0A",
        extend_headers("wss_guess", now(), &body),
        body,
    )
    .await
    .unwrap();
    assert_eq!(record(&mut answers, response).await, 401);

    // Reloads refused because of broken files: a syntax error on a secret's line, a secret of the wrong type.
    let reloads_failed = |page: &str| {
        metric_sum(
            page,
            "hookshift_config_reloads_total",
            &[("result", "failure")],
        )
    };
    let metrics = |admin: String| async move {
        reqwest::get(format!("{admin}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = reloads_failed(&metrics(hs.admin.clone()).await);
    let broken = [
        good_config.replace(&format!("\"{INLINE_IN}\","), &format!("\"{INLINE_IN},")),
        good_config.replace(
            &format!("[\"{INLINE_IN}\", \"env:{ENV_IN_VAR}\"]"),
            &format!("\"{INLINE_IN}\""),
        ),
    ];
    assert_ne!(broken[0], good_config);
    assert_ne!(broken[1], good_config);
    for (n, text) in broken.iter().enumerate() {
        std::fs::write(&config_path, text).unwrap();
        let admin = hs.admin.clone();
        eventually("the broken configuration is refused", move || {
            let admin = admin.clone();
            async move { reloads_failed(&metrics(admin).await) >= before + n as f64 + 1.0 }
        })
        .await;

        // `hookshift check` on the same file.
        let out = Command::new(env!("CARGO_BIN_EXE_hookshift"))
            .args(["check", "--config"])
            .arg(&config_path)
            .envs(env)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("inbound_secrets") || text.contains("line"),
            "{text}"
        );
        assert_no_secret("hookshift check output", &text);
    }
    std::fs::write(&config_path, &good_config).unwrap();
    hs.signal("HUP");

    let page = metrics(hs.admin.clone()).await;
    assert_no_secret("/metrics", &page);
    assert_no_secret("answers", &answers);

    hs.signal("TERM");
    let code = hs.wait(Duration::from_secs(20));
    let log = hs.log();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("webhook refused") && log.contains("configuration reload refused"),
        "{log}"
    );
    assert!(
        log.lines().count() > 20,
        "too few log lines to mean anything:\n{log}"
    );
    assert_no_secret("the log", &log);
    // Every log line is one the program wrote: the forged one stayed inside its field.
    assert!(
        !log.lines()
            .any(|line| line.contains("FORGED") && !line.contains("webhook refused")),
        "a sender forged a log line:\n{log}"
    );
    assert!(log.contains("refused"), "{log}");

    // Debug and Display of everything that holds the configuration.
    // In this process the variables are not set (setting them would race other tests): the same
    // configuration with every secret inline.
    let inline = good_config
        .replace(&format!("env:{ENV_IN_VAR}"), ENV_IN)
        .replace(&format!("env:{ENV_OUT_VAR}"), ENV_OUT);
    assert!(inline.contains(ENV_IN) && inline.contains(ENV_OUT));
    std::fs::write(&config_path, &inline).unwrap();
    let state = hookshift::state::State::load(&config_path).unwrap();
    assert_no_secret("Debug of State", &format!("{state:?} {:#?}", state.config));
    let shared = std::sync::Arc::new(hookshift::reload::Shared::new(state));
    let pipeline = hookshift::pipeline::Pipeline::new(std::sync::Arc::clone(&shared));
    assert_no_secret(
        "Debug of Pipeline and Shared",
        &format!("{pipeline:?} {shared:?}"),
    );
    let inline_broken = [
        inline.replace(&format!("\"{INLINE_IN}\","), &format!("\"{INLINE_IN},")),
        inline.replace(
            &format!("[\"{INLINE_IN}\", \"{ENV_IN}\"]"),
            &format!("\"{ENV_IN}\""),
        ),
    ];
    for text in &inline_broken {
        assert_ne!(text, &inline);
        std::fs::write(&config_path, text).unwrap();
        let e = hookshift::state::State::load(&config_path).unwrap_err();
        assert_no_secret("a load error", &format!("{e} {e:?}"));
    }
}

/// Appends the answer to `answers`; its status.
async fn record(answers: &mut String, response: reqwest::Response) -> u16 {
    let status = response.status().as_u16();
    answers.push_str(&format!("{status} {}\n", response.text().await.unwrap()));
    status
}

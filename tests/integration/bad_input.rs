//! Bad input never reaches the handler: signatures (401), JSON and envelope (400), size (413).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// A name, the request headers, and a piece of the expected message.
type SignatureCase = (&'static str, Vec<(String, String)>, &'static str);

/// One route behind a 1 KiB body limit.
async fn start(name: &str) -> Harness {
    Harness::setup(RouteSpec::extend(name))
        .config(|c| c.max_body_bytes = 1024)
        .start()
        .await
}

#[tokio::test]
async fn bad_signatures_are_401() {
    let Harness { hs, down, .. } = start("badsig").await;
    let url = format!("{}/hooks/badsig?api_version={NEW}", hs.base);
    let body = new_event_bytes();

    let cases: Vec<SignatureCase> = vec![
        (
            "no headers",
            vec![],
            "missing header x-extend-request-timestamp",
        ),
        (
            "no signature",
            vec![("x-extend-request-timestamp".to_owned(), now().to_string())],
            "missing header x-extend-request-signature",
        ),
        (
            "wrong secret",
            extend_headers("wss_wrong", now(), &body),
            "does not match",
        ),
        (
            "stale",
            extend_headers(IN_SECRET, now() - 301, &body),
            "old",
        ),
        (
            "future",
            extend_headers(IN_SECRET, now() + 90, &body),
            "future",
        ),
        (
            "signature of other bytes",
            extend_headers(IN_SECRET, now(), b"{\"eventType\":\"x\",\"payload\":{}}"),
            "does not match",
        ),
        (
            "malformed timestamp",
            vec![
                (
                    "x-extend-request-timestamp".to_owned(),
                    "yesterday".to_owned(),
                ),
                ("x-extend-request-signature".to_owned(), "00".repeat(32)),
            ],
            "malformed header x-extend-request-timestamp",
        ),
    ];
    for (what, headers, needle) in cases {
        let answer = post(&url, body.clone(), &headers).await;
        assert_eq!(
            (answer.status, answer.error()),
            (401, "invalid_signature"),
            "{what}: {answer:?}"
        );
        let message = answer.json["message"].as_str().unwrap();
        assert!(message.contains(needle), "{what}: {message}");
    }
    // Within the window on both sides: accepted.
    assert_eq!(
        post(
            &url,
            body.clone(),
            &extend_headers(IN_SECRET, now() - 250, &body)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        post(
            &url,
            body.clone(),
            &extend_headers(IN_SECRET, now() + 30, &body)
        )
        .await
        .status,
        200
    );
    assert_eq!(
        down.wait_for(2).await.len(),
        2,
        "only the two valid requests reach the handler"
    );

    let page = hs.metrics().await;
    let n = metric_sum(
        &page,
        "hookshift_events_total",
        &[
            ("route", "badsig"),
            ("outcome", "unauthorized"),
            ("event_type", "unknown"),
        ],
    );
    assert_eq!(n, 7.0, "{page}");
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn bodies_that_are_not_events_are_400() {
    let Harness { hs, down, .. } = start("badjson").await;
    let cases: [(&[u8], &str); 7] = [
        (b"not json", "invalid_json"),
        (b"{\"eventType\":", "invalid_json"),
        (
            b"{\"eventType\":\"a.b\",\"eventType\":\"c.d\",\"payload\":{}}",
            "invalid_json",
        ),
        (b"[1,2]", "not_an_event"),
        (b"{\"foo\":1}", "not_an_event"),
        (b"{\"eventType\":7,\"payload\":{}}", "not_an_event"),
        (
            b"{\"eventId\":\"e\",\"eventType\":\"extract_run.processed\"}",
            "not_an_event",
        ),
    ];
    for (body, code) in cases {
        for version in [OLD, NEW] {
            let answer = post_signed(
                &hs,
                &format!("/hooks/badjson?api_version={version}"),
                IN_SECRET,
                body,
            )
            .await;
            assert_eq!(
                (answer.status, answer.error()),
                (400, code),
                "{:?}: {answer:?}",
                String::from_utf8_lossy(body)
            );
            assert!(!answer.json["message"].as_str().unwrap().is_empty());
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(down.requests().is_empty());
    let page = hs.metrics().await;
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_total",
            &[("route", "badjson"), ("outcome", "invalid")]
        ),
        14.0
    );
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn too_large_bodies_are_413_declared_or_chunked() {
    let Harness { hs, down, .. } = start("large").await;

    // Declared with Content-Length.
    let big = format!(
        "{{\"eventId\":\"e\",\"eventType\":\"extract_run.processed\",\"payload\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(2000)
    );
    let answer = post_signed(&hs, "/hooks/large", IN_SECRET, big.as_bytes()).await;
    assert_eq!(
        (answer.status, answer.error()),
        (413, "payload_too_large"),
        "{answer:?}"
    );

    // Chunked, no Content-Length: refused once the limit is crossed.
    let addr = hs.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /hooks/large HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nx-extend-request-timestamp: {}\r\n\
         x-extend-request-signature: {}\r\nConnection: close\r\n\r\n",
        now(),
        "00".repeat(32)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = "y".repeat(600);
    for _ in 0..4 {
        // The server may answer and close before all chunks are written.
        if stream
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");

    // Just under the limit is fine.
    let small = new_event_bytes();
    assert!(small.len() < 1024);
    assert_eq!(
        post_signed(
            &hs,
            &format!("/hooks/large?api_version={NEW}"),
            IN_SECRET,
            &small
        )
        .await
        .status,
        200
    );
    assert_eq!(down.wait_for(1).await.len(), 1);

    let page = hs.metrics().await;
    assert_eq!(
        metric_sum(
            &page,
            "hookshift_events_total",
            &[("route", "large"), ("outcome", "too_large")]
        ),
        2.0
    );
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_paths_and_methods_are_refused() {
    let Harness { hs, down, .. } = start("paths").await;

    let answer = post_signed(&hs, "/hooks/nowhere", IN_SECRET, &new_event_bytes()).await;
    assert_eq!((answer.status, answer.error()), (404, "not_found"));
    let response = reqwest::get(format!("{}/hooks/paths", hs.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert!(down.requests().is_empty());
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_sender_that_stalls_mid_body_is_cut_off() {
    let Harness { hs, down, .. } = Harness::setup(RouteSpec::extend("stall"))
        .config(|c| c.body_read_timeout_ms = 300)
        .start()
        .await;

    let addr = hs.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Signature headers that pass the head check (a request without them is answered 401 before its
    // body is read); the MAC would only be checked once the body is in.
    let head = format!(
        "POST /hooks/stall HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\
         x-extend-request-timestamp: {}\r\nx-extend-request-signature: {}\r\n\r\n{{\"eventId\":",
        now(),
        "00".repeat(32)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("body_timeout"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(down.requests().is_empty());
    hs.stop().await.unwrap();
}

#[tokio::test]
async fn a_sender_that_stalls_in_the_headers_is_disconnected() {
    let Harness { hs, down, .. } = Harness::setup(RouteSpec::extend("slowhead"))
        .config(|c| c.extra_server = "header_read_timeout_ms = 300".to_owned())
        .start()
        .await;

    let addr = hs.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /hooks/slowhead HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut response = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    assert!(read.is_ok(), "the connection was held open");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(down.requests().is_empty());
    hs.stop().await.unwrap();
}

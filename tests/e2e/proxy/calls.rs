//! Calls through the proxy, and the records they leave on the broker.

use super::{
    Caller, Fixture, PATIENCE, bearer, call, chat_body, client, ingest_topic, read_records, upstream,
};
use crate::broker;
use serde_json::{Value, json};
use tokentally_core::SourcePosition;

fn here() -> SourcePosition {
    SourcePosition {
        source: "proxy-test".into(),
        partition: None,
        offset: 1,
    }
}

/// The caller gets the first event while upstream still holds the rest, and the
/// record on the broker holds exactly the bytes the caller received.
async fn streamed_call(http2: bool) {
    let fx = Fixture::start("proxy-stream").await;
    let mut response = client(http2)
        .post(format!(
            "http://{}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
            fx.proxy.addr()
        ))
        .header("authorization", bearer("app-stream"))
        .json(&chat_body(true))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
    let version = if http2 {
        reqwest::Version::HTTP_2
    } else {
        reqwest::Version::HTTP_11
    };
    assert_eq!(response.version(), version);
    // Upstream sends one event, then waits for the gate: receiving it proves the
    // proxy passed it on without waiting for the end of the stream.
    let first = tokio::time::timeout(PATIENCE, response.chunk())
        .await
        .expect("the first event arrives while upstream holds the rest (the proxy must not buffer)")
        .expect("chunk")
        .expect("a first chunk");
    let mut seen = first.to_vec();
    assert_eq!(String::from_utf8_lossy(&seen), upstream::sse_events()[0]);
    fx.upstream.open_gate();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        seen.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&seen), upstream::sse_events().concat());

    let records = read_records(&fx.topic, 1);
    let record = &records[0].1;
    assert_eq!(
        record["response"]["sse"].as_str().map(str::as_bytes),
        Some(seen.as_slice())
    );
    assert_eq!(record["response"]["status"], json!(200));
    assert_eq!(record["response"]["complete"], json!(true));
    assert_eq!(record["deployment"], json!("gpt-4o"));
    assert_eq!(record["api_version"], json!("2024-10-21"));
    assert_eq!(record["request"], chat_body(true));
    assert_eq!(record["region"], json!("swedencentral"));
    assert_eq!(
        record["caller"]["claims"],
        json!({"appid": "app-stream", "tid": "tenant-1", "oid": "obj-1"})
    );
    let raw = String::from_utf8_lossy(&records[0].0);
    assert!(
        !raw.contains("SIGNATURE-MUST-NOT-LEAK") && !raw.contains("Ada Lovelace"),
        "{raw}"
    );

    // The record is a gateway record the parser rebuilds into the caller's text.
    let row = tokentally_parse::parse_record(&records[0].0, here()).expect("parses");
    assert_eq!(row.app_id, "app-stream");
    assert!(row.streamed && !row.partial, "{row:?}");
    assert!(row.completion_tokens > 0 && row.prompt_tokens > 0, "{row:?}");

    let stats = fx.stop().await;
    assert_eq!((stats.calls, stats.records_sent, stats.records_lost), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_stream_is_passed_through_unbuffered_and_recorded_as_seen() {
    streamed_call(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_stream_is_passed_through_unbuffered_and_recorded_as_seen() {
    streamed_call(true).await;
}

/// Upstream errors reach the caller untouched and are recorded; an unreachable
/// upstream is a clear 502 for the caller and a record too; key-based callers
/// are told apart by a fingerprint, never by their key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_and_unreachable_upstreams_are_answered_and_recorded() {
    let fx = Fixture::start("proxy-errors").await;
    let key = Caller::Key("key-of-team-a");
    let throttled = call(fx.proxy.addr(), "throttled", key, false).await;
    assert_eq!(throttled.status(), 429);
    let body: Value = throttled.json().await.expect("json");
    assert_eq!(body["error"]["code"], json!("429"));

    // A second proxy, to the same topic, whose upstream is a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let closed_url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dead_dir = tempfile::tempdir().expect("tempdir");
    let text = super::config_text(dead_dir.path(), &closed_url, &broker::address(), &fx.topic, "");
    let dead = super::start_proxy(dead_dir.path(), &text).await;
    let bad_gateway = call(dead.addr(), "gpt-4o", key, false).await;
    assert_eq!(bad_gateway.status(), 502);
    let body: Value = bad_gateway.json().await.expect("json");
    assert_eq!(body["error"]["code"], json!("upstream_unreachable"));

    let records = read_records(&fx.topic, 2);
    let mut statuses: Vec<u64> = records
        .iter()
        .map(|(_, r)| r["response"]["status"].as_u64().unwrap_or_default())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [429, 502]);
    let fingerprint = tokentally_proxy::fingerprint("e2e-salt", b"key-of-team-a");
    for (raw, record) in &records {
        assert_eq!(record["caller"]["api_key_fingerprint"], json!(fingerprint));
        assert!(!String::from_utf8_lossy(raw).contains("key-of-team-a"));
        let row = tokentally_parse::parse_record(raw, here()).expect("parses");
        assert_eq!(row.app_id, format!("api-key:{fingerprint}"));
        assert_eq!(row.total_tokens, 0, "failed calls bill nothing");
    }
    dead.shutdown();
    assert_eq!(dead.wait().await.expect("stop").upstream_errors, 1);
    assert_eq!(fx.stop().await.upstream_errors, 0);
}

/// A caller that hangs up mid-stream still leaves a record of what it got,
/// marked incomplete, which the parser counts as partial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_leaving_mid_stream_leaves_a_partial_record() {
    let fx = Fixture::start("proxy-disconnect").await;
    let mut response = call(fx.proxy.addr(), "endless", Caller::App("app-impatient"), true).await;
    for _ in 0..3 {
        response.chunk().await.expect("chunk").expect("more");
    }
    drop(response);

    let records = read_records(&fx.topic, 1);
    let record = &records[0].1;
    assert_eq!(record["response"]["complete"], json!(false));
    assert!(
        record["response"]["sse"]
            .as_str()
            .is_some_and(|s| s.contains("tick"))
    );
    let row = tokentally_parse::parse_record(&records[0].0, here()).expect("parses");
    assert!(row.partial && row.completion_tokens > 0, "{row:?}");
    assert_eq!(fx.stop().await.records_sent, 1);
}

/// A caller that hangs up after its request went upstream and before any answer
/// still leaves a record (status 0, incomplete), which the parser counts as a
/// partial call with its prompt estimated: hanging up early hides no charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_leaving_before_the_answer_leaves_an_unanswered_record() {
    let fx = Fixture::start("proxy-unanswered").await;
    let addr = fx.proxy.addr();
    // Upstream never answers `silent`; the caller gives up first.
    let hasty = tokio::spawn(async move { call(addr, "silent", Caller::App("app-hasty"), false).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    hasty.abort();

    let records = read_records(&fx.topic, 1);
    let record = &records[0].1;
    assert_eq!(record["response"]["status"], json!(0));
    assert_eq!(record["response"]["complete"], json!(false));
    let row = tokentally_parse::parse_record(&records[0].0, here()).expect("parses");
    assert!(row.partial && row.prompt_tokens > 0, "{row:?}");
    assert_eq!(row.app_id, "app-hasty");
    let stats = fx.stop().await;
    assert_eq!((stats.callers_left_unanswered, stats.records_sent), (1, 1));
}

/// A record over the broker's event limit is sent gzip-compressed, and inflates
/// to the whole record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_over_the_event_limit_are_sent_compressed() {
    let fx = Fixture::start("proxy-huge").await;
    let response = call(fx.proxy.addr(), "huge", Caller::App("app-big"), false).await;
    let body = response.bytes().await.expect("body");
    assert!(body.len() > 1_000_000);
    let records = read_records(&fx.topic, 1);
    let (raw, record) = &records[0];
    assert!(
        raw.starts_with(&[0x1f, 0x8b]) && raw.len() <= 100_000,
        "{} bytes",
        raw.len()
    );
    let sent: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(record["response"]["body"], sent);
    assert_eq!(record["response"]["complete"], json!(true));
    let stats = fx.stop().await;
    assert_eq!(
        (stats.records_compressed, stats.records_sent, stats.records_lost),
        (1, 1, 0)
    );
}

/// A record too big for the event limit even compressed is split into parts on
/// one partition, and ingest joins them back into one row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_too_big_compressed_are_split_and_ingest_joins_them() {
    let fx = Fixture::start("proxy-split").await;
    for deployment in ["incompressible", "gpt-4o"] {
        let response = call(fx.proxy.addr(), deployment, Caller::App("app-split"), false).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    let Fixture {
        dir, topic, proxy, ..
    } = fx;
    proxy.shutdown();
    let stats = proxy.wait().await.expect("stop");
    let dir = dir.path();
    assert_eq!(
        (stats.records_split, stats.records_sent, stats.records_lost),
        (1, 2, 0)
    );

    let summary = ingest_topic(dir, &topic);
    assert!(
        summary["records"].as_u64().unwrap_or(0) > 3,
        "parts are events: {summary}"
    );
    assert_eq!(
        (
            summary["rows_written"].clone(),
            summary["quarantined"].clone(),
            summary["partial_rows"].clone()
        ),
        (json!(2), json!(0), json!(0)),
        "whole, unbroken rows: {summary}"
    );
    assert_eq!(broker::dataset_counts(&dir.join("out")), (2, 2));
}

/// Shutdown waits for a stream in flight: the caller gets all of it, and its
/// record is delivered before the proxy stops. Health and readiness answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_streams_in_flight() {
    let fx = Fixture::start("proxy-drain").await;
    for path in ["healthz", "readyz"] {
        let health = client(false)
            .get(format!("http://{}/{path}", fx.proxy.addr()))
            .send()
            .await
            .expect("health");
        assert_eq!(health.status(), 200);
    }
    let mut response = call(fx.proxy.addr(), "gpt-4o", Caller::App("app-drain"), true).await;
    let mut seen = response.chunk().await.expect("chunk").expect("first").to_vec();
    fx.proxy.shutdown();
    fx.upstream.open_gate();
    while let Some(chunk) = response.chunk().await.expect("the stream survives the shutdown") {
        seen.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&seen), upstream::sse_events().concat());
    let topic = fx.topic.clone();
    let stats = fx.stop().await;
    assert_eq!((stats.calls, stats.records_sent, stats.spool_bytes), (1, 1, 0));
    let records = read_records(&topic, 1);
    assert_eq!(records[0].1["response"]["complete"], json!(true));
}

/// With a certificate the proxy serves TLS and offers HTTP/2 by ALPN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_http2_by_alpn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).expect("write cert");
    std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).expect("write key");
    let upstream = upstream::start().await;
    upstream.open_gate();
    let topic = super::topic("proxy-tls").await;
    let tls = "tls = { cert_file = \"cert.pem\", key_file = \"key.pem\" }";
    let text = super::config_text(dir.path(), &upstream.url(), &broker::address(), &topic, tls);
    let proxy = super::start_proxy(dir.path(), &text).await;

    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root");
    let https = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", proxy.addr())
        .build()
        .expect("client");
    let response = https
        .post(format!(
            "https://localhost:{}/openai/deployments/gpt-4o/chat/completions",
            proxy.addr().port()
        ))
        .header("authorization", bearer("app-tls"))
        .json(&chat_body(true))
        .send()
        .await
        .expect("call over TLS");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        response.text().await.expect("body"),
        upstream::sse_events().concat()
    );
    assert_eq!(
        read_records(&topic, 1)[0].1["caller"]["claims"]["appid"],
        json!("app-tls")
    );
    proxy.shutdown();
    assert_eq!(proxy.wait().await.expect("stop").records_sent, 1);
}

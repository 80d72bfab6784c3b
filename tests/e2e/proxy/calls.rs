//! Calls through the proxy, and the records they leave on the broker.

use super::{
    PATIENCE, bearer, chat_body, client, config_text, eventually, read_records, start_proxy, topic, upstream,
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

const STREAM_URL: &str = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";

/// The caller gets the first event while upstream still holds the rest, and the
/// record on the broker holds exactly the bytes the caller received.
async fn streamed_call(http2: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    let topic = topic("proxy-stream").await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &broker::address(), &topic, ""),
    )
    .await;

    let mut response = client(http2)
        .post(format!("http://{}{STREAM_URL}", proxy.addr()))
        .header("authorization", bearer("app-stream"))
        .json(&chat_body(true))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.version(),
        if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        }
    );
    // Upstream sends one event, then waits for the gate: receiving it proves the
    // proxy passed it on without waiting for the end of the stream.
    let first = tokio::time::timeout(PATIENCE, response.chunk())
        .await
        .expect("the first event arrives while upstream holds the rest (the proxy must not buffer)")
        .expect("chunk")
        .expect("a first chunk");
    let mut seen = first.to_vec();
    assert_eq!(String::from_utf8_lossy(&seen), upstream::sse_events()[0]);
    upstream.open_gate();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        seen.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&seen), upstream::sse_events().concat());

    let records = read_records(&topic, 1);
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

    proxy.shutdown();
    let stats = proxy.wait().await.expect("clean stop");
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
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    let topic = topic("proxy-errors").await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &broker::address(), &topic, ""),
    )
    .await;
    let http = client(false);

    let throttled = http
        .post(format!(
            "http://{}/openai/deployments/throttled/chat/completions",
            proxy.addr()
        ))
        .header("api-key", "key-of-team-a")
        .json(&chat_body(false))
        .send()
        .await
        .expect("call");
    assert_eq!(throttled.status(), 429);
    let body: Value = throttled.json().await.expect("json");
    assert_eq!(body["error"]["code"], json!("429"));

    let unreachable_dir = tempfile::tempdir().expect("tempdir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let closed_url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dead = start_proxy(
        unreachable_dir.path(),
        &config_text(
            unreachable_dir.path(),
            &closed_url,
            &broker::address(),
            &topic,
            "",
        ),
    )
    .await;
    let bad_gateway = http
        .post(format!(
            "http://{}/openai/deployments/gpt-4o/chat/completions",
            dead.addr()
        ))
        .header("api-key", "key-of-team-a")
        .json(&chat_body(false))
        .send()
        .await
        .expect("call");
    assert_eq!(bad_gateway.status(), 502);
    let body: Value = bad_gateway.json().await.expect("json");
    assert_eq!(body["error"]["code"], json!("upstream_unreachable"));

    let records = read_records(&topic, 2);
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
    proxy.shutdown();
    dead.shutdown();
    assert_eq!(proxy.wait().await.expect("stop").upstream_errors, 0);
    assert_eq!(dead.wait().await.expect("stop").upstream_errors, 1);
}

/// A caller that hangs up mid-stream still leaves a record of what it got,
/// marked incomplete, which the parser counts as partial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_leaving_mid_stream_leaves_a_partial_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    let topic = topic("proxy-disconnect").await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &broker::address(), &topic, ""),
    )
    .await;
    let mut response = client(false)
        .post(format!(
            "http://{}/openai/deployments/endless/chat/completions",
            proxy.addr()
        ))
        .header("authorization", bearer("app-impatient"))
        .json(&chat_body(true))
        .send()
        .await
        .expect("call");
    let mut seen = 0;
    while seen < 3 {
        response.chunk().await.expect("chunk").expect("more");
        seen += 1;
    }
    drop(response);

    let records = read_records(&topic, 1);
    let record = &records[0].1;
    assert_eq!(record["response"]["complete"], json!(false));
    assert!(
        record["response"]["sse"]
            .as_str()
            .is_some_and(|s| s.contains("tick"))
    );
    let row = tokentally_parse::parse_record(&records[0].0, here()).expect("parses");
    assert!(row.partial && row.completion_tokens > 0, "{row:?}");
    proxy.shutdown();
    assert_eq!(proxy.wait().await.expect("stop").records_sent, 1);
}

/// A record over the broker's event limit is sent gzip-compressed, and ingest's
/// reader (here: the test's) inflates it to the whole record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_over_the_event_limit_are_sent_compressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    let topic = topic("proxy-huge").await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &broker::address(), &topic, ""),
    )
    .await;
    let body = client(false)
        .post(format!(
            "http://{}/openai/deployments/huge/chat/completions",
            proxy.addr()
        ))
        .header("authorization", bearer("app-big"))
        .json(&chat_body(false))
        .send()
        .await
        .expect("call")
        .bytes()
        .await
        .expect("body");
    assert!(body.len() > 1_000_000);
    let records = read_records(&topic, 1);
    let (raw, record) = &records[0];
    assert!(
        raw.starts_with(&[0x1f, 0x8b]) && raw.len() <= 100_000,
        "{} bytes",
        raw.len()
    );
    let sent: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(record["response"]["body"], sent);
    proxy.shutdown();
    let stats = proxy.wait().await.expect("stop");
    assert_eq!(
        (stats.records_compressed, stats.records_sent, stats.records_lost),
        (1, 1, 0)
    );
}

/// Shutdown waits for a stream in flight: the caller gets all of it, and its
/// record is delivered before the proxy stops. Health and readiness answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_streams_in_flight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    let topic = topic("proxy-drain").await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &broker::address(), &topic, ""),
    )
    .await;
    let http = client(false);
    for path in ["healthz", "readyz"] {
        let health = http
            .get(format!("http://{}/{path}", proxy.addr()))
            .send()
            .await
            .expect("health");
        assert_eq!(health.status(), 200);
    }
    let mut response = http
        .post(format!("http://{}{STREAM_URL}", proxy.addr()))
        .header("authorization", bearer("app-drain"))
        .json(&chat_body(true))
        .send()
        .await
        .expect("call");
    let mut seen = response.chunk().await.expect("chunk").expect("first").to_vec();
    proxy.shutdown();
    upstream.open_gate();
    while let Some(chunk) = response.chunk().await.expect("the stream survives the shutdown") {
        seen.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&seen), upstream::sse_events().concat());
    let stats = proxy.wait().await.expect("stop");
    assert_eq!((stats.calls, stats.records_sent), (1, 1));
    let records = read_records(&topic, 1);
    assert_eq!(records[0].1["response"]["complete"], json!(true));
    eventually("nothing left in the spool", || stats.spool_bytes == 0).await;
}

/// A record too big for the event limit even compressed is split into parts on
/// one partition, and ingest joins them back into one row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_too_big_compressed_are_split_and_ingest_joins_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    let topic = topic("proxy-split").await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &broker::address(), &topic, ""),
    )
    .await;
    for deployment in ["incompressible", "gpt-4o"] {
        let response = client(false)
            .post(format!(
                "http://{}/openai/deployments/{deployment}/chat/completions",
                proxy.addr()
            ))
            .header("authorization", bearer("app-split"))
            .json(&chat_body(false))
            .send()
            .await
            .expect("call");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    proxy.shutdown();
    let stats = proxy.wait().await.expect("stop");
    assert_eq!(
        (stats.records_split, stats.records_sent, stats.records_lost),
        (1, 2, 0)
    );

    let config = broker::kafka_config(dir.path(), "ingest.toml", &topic, &broker::unique("split"), "");
    let output = crate::support::tokentally(
        dir.path(),
        &["ingest", "--config", config.to_str().expect("utf-8"), "--json"],
        0,
    );
    let summary: Value = serde_json::from_slice(&output.stdout).expect("summary JSON");
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
    let (rows, distinct) = broker::dataset_counts(&dir.path().join("out"));
    assert_eq!((rows, distinct), (2, 2));
}

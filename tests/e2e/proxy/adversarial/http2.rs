//! HTTP/2 callers that break the rules a real client keeps: streams past the
//! advertised `max_concurrent_streams`, a connection held open with no stream, a
//! stream whose caller grants no window to send its response in.

use super::h2_wire::{self, CANCEL, DATA, END_STREAM, GOAWAY, H2, HEADERS, PING, REFUSED_STREAM, RST_STREAM};
use super::path;
use crate::broker;
use crate::proxy::{Fixture, chat_body, eventually};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn limits(lines: &str) -> String {
    format!("\n[limits]\n{lines}\n")
}

fn streamed_body() -> Vec<u8> {
    serde_json::to_vec(&chat_body(true)).expect("json")
}

/// A caller that ignores the advertised limit and opens four streams at once gets
/// two through; the others are refused (REFUSED_STREAM), never forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_cap_are_refused() {
    let rest = limits("max_concurrent_streams = 2");
    let fx = Fixture::configured("adv-h2-cap", &broker::address(), "", &rest).await;
    let counts = std::sync::Arc::clone(&fx.upstream.counts);
    let mut h2 = H2::connect(fx.proxy.addr(), 65_535).await;
    let body = streamed_body();
    for id in [1, 3] {
        h2.post(id, &path(), Some(&body)).await;
    }
    for id in [5, 7] {
        h2.post(id, &path(), None).await;
    }
    let mut refused = Vec::new();
    while refused.len() < 2 {
        let frame = h2.until(|f| f.kind == RST_STREAM).await.expect("the refusals");
        assert_eq!(frame.error_code(), Some(REFUSED_STREAM), "{frame:?}");
        refused.push(frame.stream);
    }
    refused.sort_unstable();
    assert_eq!(refused, [5, 7]);
    eventually("two streams held upstream", || {
        counts.held.load(Ordering::SeqCst) == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(counts.held_peak.load(Ordering::SeqCst), 2);
    assert_eq!(
        counts.requests.load(Ordering::SeqCst),
        2,
        "refused streams are never forwarded"
    );
    fx.upstream.open_gate();
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let frame = h2
            .until(|f| f.flags & END_STREAM != 0 && f.stream != 0)
            .await
            .expect("the two answers end");
        ended.push(frame.stream);
    }
    ended.sort_unstable();
    assert_eq!(ended, [1, 3]);
    drop(h2);
    let stats = fx.stop().await;
    assert_eq!(stats.calls, 2, "{stats:?}");
}

/// A connection that answers pings but opens no stream is sent GOAWAY and closed
/// after `header_read_timeout_secs`, as an idle HTTP/1.1 connection is; one
/// whose stream is still running is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_sent_goaway() {
    let rest = limits("header_read_timeout_secs = 1");
    let fx = Fixture::configured("adv-h2-idle", &broker::address(), "", &rest).await;
    let mut busy = H2::connect(fx.proxy.addr(), 1 << 24).await;
    busy.post(
        1,
        "/openai/deployments/endless/chat/completions",
        Some(&streamed_body()),
    )
    .await;
    let mut idle = H2::connect(fx.proxy.addr(), 65_535).await;
    let started = Instant::now();
    idle.until(|f| f.kind == GOAWAY).await.expect("GOAWAY");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "{waited:?}: before the timeout"
    );
    let traffic = idle.until(|f| f.kind == HEADERS || f.kind == DATA).await;
    assert!(traffic.is_none(), "then the connection closes: {traffic:?}");
    // The connection with a stream running (an endless answer) stays, well past
    // the timeout, and keeps receiving its answer.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let frame = busy.next().await.expect("the busy connection stays open");
        assert_ne!(frame.kind, GOAWAY, "{frame:?}");
    }
    drop(busy);
    let stats = fx.stop().await;
    assert!(stats.connections_timed_out >= 1, "{stats:?}");
}

/// A caller that stops reading is cut off at `response_write_timeout_secs`: over
/// HTTP/2 its stream is reset (the connection lives on), over HTTP/1.1 its
/// connection is closed. Upstream is let go, the calls are recorded as partial
/// and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_stops_reading_is_cut_off() {
    let rest = limits("response_write_timeout_secs = 1\nmax_capture_bytes = 1048576");
    let fx = Fixture::configured("adv-not-reading", &broker::address(), "", &rest).await;
    let counts = std::sync::Arc::clone(&fx.upstream.counts);
    let firehose = "/openai/deployments/firehose/chat/completions";

    // HTTP/2: a window of 0, so not a byte of the answer can be sent.
    let mut h2 = H2::connect(fx.proxy.addr(), 0).await;
    h2.post(1, firehose, Some(&streamed_body())).await;
    let head = h2.until(|f| f.kind == HEADERS).await.expect("the answer's head");
    assert_eq!(head.stream, 1);
    let started = Instant::now();
    let reset = h2
        .until(|f| f.kind == RST_STREAM)
        .await
        .expect("the stream is reset");
    assert_eq!((reset.stream, reset.error_code()), (1, Some(CANCEL)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    h2.send(PING, 0, 0, b"stillup!").await;
    let pong = h2
        .until(|f| f.kind == PING)
        .await
        .expect("the connection lives on");
    assert_eq!(pong.payload, b"stillup!");

    // HTTP/1.1: a caller with a small receive buffer that never reads.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small receive buffer");
    let mut h1 = socket.connect(fx.proxy.addr()).await.expect("connect");
    let body = streamed_body();
    let head = format!(
        "POST {firehose} HTTP/1.1\r\nhost: proxy\r\napi-key: k\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut h1, head.as_bytes())
        .await
        .expect("write");
    tokio::io::AsyncWriteExt::write_all(&mut h1, &body)
        .await
        .expect("write");
    eventually("the HTTP/1.1 caller cut off", || {
        fx.proxy.stats().callers_not_reading == 2
    })
    .await;
    // What was sent before the cut drains, then the connection is closed.
    let mut rest = Vec::new();
    tokio::time::timeout(
        crate::proxy::PATIENCE,
        tokio::io::AsyncReadExt::read_to_end(&mut h1, &mut rest),
    )
    .await
    .expect("the proxy closes the connection")
    .expect("read");

    eventually("upstream let go", || counts.firehoses.load(Ordering::SeqCst) == 0).await;
    let records = crate::proxy::read_records(&fx.topic, 2);
    for (_, record) in &records {
        assert_eq!(
            record["response"]["complete"],
            serde_json::json!(false),
            "{record}"
        );
    }
    drop(h2);
    let stats = fx.stop().await;
    assert_eq!((stats.callers_not_reading, stats.calls), (2, 2), "{stats:?}");
}

#[test]
fn frames_name_their_codes() {
    let reset = h2_wire::Frame {
        kind: RST_STREAM,
        flags: 0,
        stream: 1,
        payload: CANCEL.to_be_bytes().to_vec(),
    };
    assert_eq!(reset.error_code(), Some(CANCEL));
}

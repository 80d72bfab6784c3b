//! What callers and upstream can make the proxy hold, and for how long: slow heads
//! and bodies, silent upstreams, floods of connections, streams and large bodies,
//! redirects, and what a 502 may say. Limits are set small so each is reached
//! within a bounded loop.

use super::{credential, path, post, refusal};
use crate::broker;
use crate::proxy::{Caller, Fixture, PATIENCE, chat_body, eventually, read_records};
use serde_json::json;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn limits(lines: &str) -> String {
    format!("\n[limits]\n{lines}\n")
}

/// Reads what the proxy sends until it closes the connection.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut seen))
        .await
        .expect("the proxy closes a connection that holds back its request")
        .expect("read");
    String::from_utf8_lossy(&seen).into_owned()
}

/// Slowloris: a connection that sends nothing, one that sends half a head, and
/// one that sends half a body are all cut off at their timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_callers_are_cut_off() {
    let rest = limits("header_read_timeout_secs = 1\nrequest_body_timeout_secs = 1");
    let fx = Fixture::configured("adv-slowloris", &broker::address(), "", &rest).await;
    let addr = fx.proxy.addr();
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut half_head = tokio::net::TcpStream::connect(addr).await.expect("connect");
    half_head
        .write_all(b"POST /openai/deployments/gpt-4o/chat/completions HTTP/1.1\r\nhost: proxy\r\n")
        .await
        .expect("write");
    let mut half_body = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: proxy\r\napi-key: k\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"messages\":",
        path()
    );
    half_body.write_all(head.as_bytes()).await.expect("write");

    until_closed(&mut silent).await;
    until_closed(&mut half_head).await;
    let answer = until_closed(&mut half_body).await;
    assert!(
        answer.starts_with("HTTP/1.1 408") && answer.contains("request_body_timeout"),
        "{answer}"
    );
    let stats = fx.stop().await;
    assert_eq!(
        (stats.connections_timed_out, stats.request_timeouts, stats.calls),
        (2, 1, 0)
    );
}

/// An upstream that falls silent mid-stream, or never answers, ends the call at
/// `upstream_idle_timeout_secs`; both are recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_cannot_hold_a_call() {
    let rest = limits("upstream_idle_timeout_secs = 1");
    let fx = Fixture::configured("adv-idle", &broker::address(), "", &rest).await;
    let addr = fx.proxy.addr();
    let stalled = "/openai/deployments/stall/chat/completions";
    let mut response = post(addr, stalled, &[credential(Caller::App("app-idle"))], true).await;
    assert_eq!(response.status(), 200);
    response
        .chunk()
        .await
        .expect("first event")
        .expect("a first event");
    assert!(
        response.chunk().await.is_err(),
        "the stream is cut, not left hanging"
    );
    let silent = "/openai/deployments/silent/chat/completions";
    let (status, code) =
        refusal(post(addr, silent, &[credential(Caller::App("app-idle"))], false).await).await;
    assert_eq!((status, code.as_str()), (504, "upstream_timeout"));
    let mut records: Vec<_> = read_records(&fx.topic, 2).into_iter().map(|(_, r)| r).collect();
    records.sort_by_key(|r| r["response"]["status"].as_u64());
    assert_eq!(
        records[0]["response"]["complete"],
        json!(false),
        "the stalled stream is partial"
    );
    assert_eq!(records[1]["response"]["status"], json!(504));
    assert_eq!(fx.stop().await.upstream_timeouts, 2);
}

/// Starts a call of `body` on `client` in the background: its status and body.
fn spawn_call(
    client: reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> tokio::task::JoinHandle<(u16, String)> {
    tokio::spawn(async move {
        let response = client
            .post(url)
            .header("api-key", "k")
            .json(&body)
            .send()
            .await
            .expect("call");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    })
}

/// A streamed chat body of about `kib` KiB.
fn body_of(kib: usize) -> serde_json::Value {
    json!({"messages": [{"role": "user", "content": "x".repeat(kib << 10)}], "stream": true})
}

/// A flood of HTTP/2 streams, of calls and of large bodies: the proxy lets
/// through at most `max_concurrent_streams` per connection, `max_calls` in all
/// and `max_buffered_request_bytes` of bodies; the rest wait (streams, on the
/// caller's side) or are refused (503 `proxy_busy`, 413), and every call let
/// through completes. The phases wait for the records of the one before: a
/// record holds its call's slot until the broker has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_calls_and_bodies_are_held_within_the_limits() {
    let rest = limits(
        "max_calls = 4\nmax_concurrent_streams = 2\nmax_request_bytes = 102400\nmax_buffered_request_bytes = 204800",
    );
    let fx = Fixture::configured("adv-flood", &broker::address(), "", &rest).await;
    let (addr, counts) = (fx.proxy.addr(), std::sync::Arc::clone(&fx.upstream.counts));
    let url = format!("http://{addr}{}", path());
    let held = || counts.held.load(Ordering::SeqCst);
    let sent = || fx.proxy.stats().records_sent;
    // Streams: one HTTP/2 connection, its settings known (one short call first),
    // carries two at once; the other two wait on the caller's side.
    let h2 = crate::proxy::client(true);
    let warm = spawn_call(h2.clone(), url.clone(), chat_body(false));
    assert_eq!(warm.await.expect("call").0, 200);
    let streams: Vec<_> = (0..4)
        .map(|_| spawn_call(h2.clone(), url.clone(), chat_body(true)))
        .collect();
    eventually("two streams held upstream", || held() == 2).await;
    // Room for more to arrive if the limit let them.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        counts.held_peak.load(Ordering::SeqCst),
        2,
        "no stream past max_concurrent_streams got through"
    );
    fx.upstream.open_gate();
    for call in streams {
        assert_eq!(call.await.expect("call").0, 200);
    }
    eventually("the five records delivered", || sent() == 5).await;

    // Calls: one a connection, max_calls of them held; then the proxy is busy.
    fx.upstream.gate.forget_permits(usize::MAX);
    let calls: Vec<_> = (0..4)
        .map(|_| spawn_call(crate::proxy::client(false), url.clone(), chat_body(true)))
        .collect();
    eventually("four calls held upstream", || held() == 4).await;
    let (status, code) = refusal(post(addr, &path(), &[credential(Caller::Key("k"))], true).await).await;
    assert_eq!((status, code.as_str()), (503, "proxy_busy"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        counts.held_peak.load(Ordering::SeqCst),
        4,
        "no call past max_calls got through"
    );
    fx.upstream.open_gate();
    for call in calls {
        assert_eq!(call.await.expect("call").0, 200);
    }
    eventually("the nine records delivered", || sent() == 9).await;

    // Bodies: two of 80 KiB are held; a third would pass the 200 KiB budget.
    fx.upstream.gate.forget_permits(usize::MAX);
    let held_bodies: Vec<_> = (0..2)
        .map(|_| spawn_call(crate::proxy::client(false), url.clone(), body_of(80)))
        .collect();
    eventually("two large bodies held", || held() == 2).await;
    let over_budget = spawn_call(crate::proxy::client(false), url.clone(), body_of(80))
        .await
        .expect("call");
    assert_eq!(over_budget.0, 503, "{}", over_budget.1);
    let too_large = spawn_call(crate::proxy::client(false), url.clone(), body_of(120))
        .await
        .expect("call");
    assert_eq!(too_large.0, 413, "{}", too_large.1);
    fx.upstream.open_gate();
    for call in held_bodies {
        assert_eq!(call.await.expect("call").0, 200);
    }
    let stats = fx.stop().await;
    assert_eq!((stats.calls_refused_busy, stats.calls), (2, 11), "{stats:?}");
}

/// A record holds its call's slot until the broker or the spool has it: with the
/// broker away, a call past `max_calls` while the records of finished calls still
/// wait is refused (503), so waiting records cannot pile up in memory; once they
/// are spooled the slots are free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_waiting_for_the_broker_hold_their_slots() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let brokers = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let fx = Fixture::configured("adv-pending-records", &brokers, "", &limits("max_calls = 2")).await;
    fx.upstream.open_gate();
    let addr = fx.proxy.addr();
    for _ in 0..2 {
        let response = post(addr, &path(), &[credential(Caller::Key("k"))], false).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    // Both records wait for the absent broker (message.timeout.ms = 3000).
    let (status, code) = refusal(post(addr, &path(), &[credential(Caller::Key("k"))], false).await).await;
    assert_eq!((status, code.as_str()), (503, "proxy_busy"));
    eventually("both records spooled", || fx.proxy.stats().records_spooled == 2).await;
    let again = post(addr, &path(), &[credential(Caller::Key("k"))], false).await;
    assert_eq!(again.status(), 200, "the slots are free again");
    again.bytes().await.expect("body");
    let stats = fx.stop().await;
    assert_eq!((stats.calls_refused_busy, stats.calls), (1, 3), "{stats:?}");
}

/// A flood of connections: at most `max_connections` are held; the others wait
/// in the listen backlog and are served as the first ones close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_connections_waits_its_turn() {
    let rest = limits("max_connections = 4");
    let fx = Fixture::configured("adv-connections", &broker::address(), "", &rest).await;
    let counts = std::sync::Arc::clone(&fx.upstream.counts);
    let url = format!("http://{}{}", fx.proxy.addr(), path());
    // Each caller its own client, so its own connection, closed when it is done.
    let callers: Vec<_> = (0..12)
        .map(|_| spawn_call(crate::proxy::client(false), url.clone(), chat_body(true)))
        .collect();
    eventually("four streams held upstream", || {
        counts.held.load(Ordering::SeqCst) == 4
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        counts.held_peak.load(Ordering::SeqCst),
        4,
        "connections past the limit were served"
    );
    fx.upstream.open_gate();
    for caller in callers {
        assert_eq!(caller.await.expect("call").0, 200);
    }
    let stats = fx.stop().await;
    assert_eq!((stats.connections_peak, stats.calls), (4, 12), "{stats:?}");
}

/// A redirect from upstream goes back to the caller; the proxy does not follow it
/// (which would send the caller's credentials wherever upstream points).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_redirects_are_not_followed() {
    let fx = Fixture::start("adv-redirect").await;
    let redirect = "/openai/deployments/redirect/chat/completions";
    let caller = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = caller
        .post(format!("http://{}{redirect}", fx.proxy.addr()))
        .header("api-key", "k")
        .json(&chat_body(false))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 307);
    assert_eq!(
        response.headers().get("location").and_then(|l| l.to_str().ok()),
        Some("/redirected")
    );
    assert_eq!(fx.upstream.counts.redirects_followed.load(Ordering::SeqCst), 0);
    fx.stop().await;
}

/// A 502 tells the caller what kind of failure it was, never the upstream's
/// address nor the call's query string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_502_echoes_neither_upstream_nor_query() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let closed_url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = crate::proxy::topic("adv-502").await;
    let text = crate::proxy::config_text(dir.path(), &closed_url, &broker::address(), &topic, "");
    let proxy = crate::proxy::start_proxy(dir.path(), &text).await;
    let response = crate::proxy::client(false)
        .post(format!(
            "http://{}{}?api-version=2024-10-21&leak=QUERY-SECRET",
            proxy.addr(),
            path()
        ))
        .header("api-key", "k")
        .json(&chat_body(false))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 502);
    let body = response.text().await.expect("body");
    let port = closed_url.rsplit(':').next().unwrap_or_default();
    assert!(
        !body.contains("QUERY-SECRET") && !body.contains(port) && !body.contains("127.0.0.1"),
        "{body}"
    );
    assert!(body.contains("upstream_unreachable"), "{body}");
    proxy.shutdown();
    proxy.wait().await.expect("stop");
}

/// A request head over `max_header_bytes` is refused before anything is read or
/// forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_head_is_refused() {
    let fx = Fixture::start("adv-head").await;
    let padding = ("x-padding", "x".repeat(100 << 10));
    let response = post(
        fx.proxy.addr(),
        &path(),
        &[credential(Caller::Key("k")), padding],
        false,
    )
    .await;
    assert_eq!(response.status(), 431);
    assert_eq!(fx.upstream.counts.requests.load(Ordering::SeqCst), 0);
    fx.stop().await;
}

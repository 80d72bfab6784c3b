//! A fake Azure OpenAI for the proxy tests: answers chat/completions like AOAI
//! (SSE chunks or a JSON body), and lets a test hold a stream after its first
//! event, so "the caller saw the first event before upstream finished" is a fact
//! the test arranges, not a timing it hopes for.
//!
//! Deployments choose the behaviour: `gpt-4o` answers normally, `throttled`
//! answers 429, `endless` streams an event every 20 ms until the caller leaves,
//! `huge` answers a non-streamed body of about 1.5 MB that compresses well,
//! `incompressible` one of about 600 kB that does not, `refused` answers 401,
//! `redirect` answers 307 to `/redirected` here (counted in `redirects_followed`),
//! `stall` streams its first event and then nothing, `silent` never answers,
//! `firehose` streams 16 KiB events as fast as they are taken until the caller
//! leaves (counted in `firehoses` while it runs).

use bytes::Bytes;
use http_body_util::{BodyExt as _, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// The completion every normal call streams, split into these deltas.
pub const DELTAS: [&str; 4] = ["Hello", ", wor", "ld", "! 👋"];

#[derive(Debug)]
pub struct Upstream {
    pub addr: SocketAddr,
    /// Each streamed answer takes one permit after its first event.
    pub gate: Arc<Semaphore>,
    pub counts: Arc<Counts>,
}

/// What the fake has seen.
#[derive(Debug, Default)]
pub struct Counts {
    /// Streams waiting at the gate now, and the most at once.
    pub held: AtomicUsize,
    pub held_peak: AtomicUsize,
    /// Requests to `/redirected`: a proxy that followed a redirect.
    pub redirects_followed: AtomicUsize,
    /// Every request that reached the fake.
    pub requests: AtomicUsize,
    /// `firehose` answers still streaming: a proxy that holds upstream for a
    /// caller that left.
    pub firehoses: AtomicUsize,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets held streams (and all later ones) run to the end.
    pub fn open_gate(&self) {
        self.gate.add_permits(1000);
    }
}

/// Starts the fake on 127.0.0.1; it lives as long as the test's runtime.
pub async fn start() -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("upstream address");
    let gate = Arc::new(Semaphore::new(0));
    let counts = Arc::new(Counts::default());
    let (held, seen) = (Arc::clone(&gate), Arc::clone(&counts));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (gate, counts) = (Arc::clone(&held), Arc::clone(&seen));
            tokio::spawn(async move {
                let service =
                    service_fn(move |request| answer(Arc::clone(&gate), Arc::clone(&counts), request));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream { addr, gate, counts }
}

type Body = BoxBody<Bytes, Infallible>;

async fn answer(
    gate: Arc<Semaphore>,
    counts: Arc<Counts>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    counts.requests.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    if path == "/redirected" {
        counts.redirects_followed.fetch_add(1, Ordering::SeqCst);
    }
    let authorized =
        request.headers().contains_key("authorization") || request.headers().contains_key("api-key");
    let leaked_context = request.headers().contains_key("x-tokentally-context")
        || request.headers().contains_key("x-tokentally-signature");
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if !authorized || leaked_context {
        return Ok(json_answer(
            401,
            r#"{"error":{"code":"401","message":"no credentials, or the proxy's context header leaked"}}"#
                .to_owned(),
        ));
    }
    let deployment = path
        .split('/')
        .skip_while(|s| *s != "deployments")
        .nth(1)
        .unwrap_or_default();
    let streamed = json["stream"] == serde_json::Value::Bool(true);
    Ok(match deployment {
        "throttled" => json_answer(
            429,
            r#"{"error":{"code":"429","message":"Rate limit is exceeded. Try again in 3 seconds."}}"#
                .to_owned(),
        ),
        "huge" => json_answer(200, huge_body()),
        "incompressible" => json_answer(200, incompressible_body()),
        "refused" => json_answer(
            401,
            r#"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint."}}"#
                .to_owned(),
        ),
        "redirect" => Response::builder()
            .status(307)
            .header("location", "/redirected")
            .body(http_body_util::Full::new(Bytes::new()).boxed())
            .expect("response"),
        "silent" => std::future::pending::<Response<Body>>().await,
        "stall" => sse_answer(gate, counts, Pace::Stall),
        "endless" => sse_answer(gate, counts, Pace::Endless),
        "firehose" => sse_answer(gate, counts, Pace::Firehose),
        _ if streamed => sse_answer(gate, counts, Pace::Gated),
        _ => json_answer(200, completion_body()),
    })
}

fn json_answer(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("apim-request-id", "fake")
        .body(http_body_util::Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

fn chunk(delta: &serde_json::Value, finish: Option<&str>) -> String {
    let event = serde_json::json!({
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_763_800_000,
        "model": "gpt-4o-2024-11-20", "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null,
                     "content_filter_results": {}}]
    });
    format!("data: {event}\n\n")
}

/// The events of the normal streamed answer, exactly as sent.
pub fn sse_events() -> Vec<String> {
    let mut events = vec![
        "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n".to_owned(),
        chunk(&serde_json::json!({"role": "assistant", "content": ""}), None),
    ];
    events.extend(
        DELTAS
            .iter()
            .map(|d| chunk(&serde_json::json!({"content": d}), None)),
    );
    events.push(chunk(&serde_json::json!({}), Some("stop")));
    events.push("data: [DONE]\n\n".to_owned());
    events
}

/// How a streamed answer goes on after its first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Waits at the gate, then the rest.
    Gated,
    /// A tick every 20 ms until the caller leaves.
    Endless,
    /// Nothing more, the connection kept open.
    Stall,
    /// 16 KiB events as fast as they are taken, until the caller leaves.
    Firehose,
}

fn sse_answer(gate: Arc<Semaphore>, counts: Arc<Counts>, pace: Pace) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        let events = sse_events();
        let mut events = events.into_iter();
        if let Some(first) = events.next()
            && tx.send(Bytes::from(first)).await.is_err()
        {
            return;
        }
        if pace == Pace::Stall {
            tx.closed().await;
            return;
        }
        if pace == Pace::Firehose {
            counts.firehoses.fetch_add(1, Ordering::SeqCst);
            let event = Bytes::from(chunk(&serde_json::json!({"content": "x".repeat(16 << 10)}), None));
            while tx.send(event.clone()).await.is_ok() {}
            counts.firehoses.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        if pace == Pace::Endless {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if tx
                    .send(Bytes::from(chunk(&serde_json::json!({"content": "tick "}), None)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let now = counts.held.fetch_add(1, Ordering::SeqCst) + 1;
        counts.held_peak.fetch_max(now, Ordering::SeqCst);
        let permit = gate.acquire().await;
        counts.held.fetch_sub(1, Ordering::SeqCst);
        let Ok(permit) = permit else { return };
        permit.forget();
        for event in events {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .body(StreamBody::new(stream).boxed())
        .expect("response")
}

fn completion_body() -> String {
    serde_json::json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_763_800_000, "model": "gpt-4o-2024-11-20",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": DELTAS.concat()}}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28}
    })
    .to_string()
}

/// About 1.5 MB of repetitive text: over the tests' 100 kB event limit, under it
/// once the proxy has compressed the record.
fn huge_body() -> String {
    let text: String = (0..250_000).map(|i| format!("w{} ", i % 997)).collect();
    serde_json::json!({
        "id": "chatcmpl-huge", "object": "chat.completion", "created": 1_763_800_000, "model": "gpt-4o-2024-11-20",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 240_000, "total_tokens": 240_010}
    })
    .to_string()
}

/// About 600 kB of pseudo-random letters: still far over a 100 kB event limit
/// after gzip, so the proxy must split the record into parts.
fn incompressible_body() -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let text: String = (0..600_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    serde_json::json!({
        "id": "chatcmpl-random", "object": "chat.completion", "created": 1_763_800_000, "model": "gpt-4o-2024-11-20",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 150_000, "total_tokens": 150_012}
    })
    .to_string()
}

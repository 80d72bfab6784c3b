//! What the capture proxy costs a call: added time to the first byte, calls per
//! second per core of the proxy's own CPU time, and memory per call in flight.
//!
//! `cargo bench -p tokentally-proxy --bench proxy` (release). Self-contained: a
//! fake AOAI upstream and the load generator run in this process on runtimes of
//! their own, and records go to rdkafka's in-process mock cluster, so no broker
//! is needed. The proxy runs on its own runtime (threads named `proxy`); its CPU
//! time is read per thread from /proc (`proxy*` and librdkafka's `rdk:*`
//! threads), so the figure is the proxy's work however busy the machine is.
//! Not criterion: the figures are distributions over many calls of one setup.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

/// The `tokentally` binary's allocator, so the proxy is timed as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

const TOPIC: &str = "bench-records";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn runtime(name: &str, threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// A streamed chat completion of `chunks` content events, ~250 bytes each, the
/// way AOAI sends them: one event per write.
fn events(chunks: usize) -> Vec<Bytes> {
    let mut out = vec![Bytes::from_static(
        b"data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}]}\n\n",
    )];
    for i in 0..chunks {
        out.push(Bytes::from(format!(
            "data: {{\"choices\":[{{\"content_filter_results\":{{\"hate\":{{\"filtered\":false,\"severity\":\"safe\"}}}},\"delta\":{{\"content\":\" word{i}\"}},\"finish_reason\":null,\"index\":0,\"logprobs\":null}}],\"created\":1763800000,\"id\":\"chatcmpl-bench\",\"model\":\"gpt-4o-2024-11-20\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_bench\"}}\n\n"
        )));
    }
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

/// The fake upstream: streams `events`, `gap` apart (none: as fast as it can, so
/// a proxy that falls behind finds several in one read); with a `gate`, holds
/// each stream after its first half until a permit is added.
async fn upstream(events: Arc<Vec<Bytes>>, gap: Duration, gate: Option<Arc<Semaphore>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let (events, gate) = (Arc::clone(&events), gate.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (events, gate) = (Arc::clone(&events), gate.clone());
                    async move {
                        let _ = request.into_body().collect().await;
                        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
                        tokio::spawn(async move {
                            let half = events.len() / 2;
                            for (i, event) in events.iter().enumerate() {
                                if i == half
                                    && let Some(gate) = &gate
                                {
                                    gate.acquire().await.unwrap().forget();
                                }
                                if i > 0 && !gap.is_zero() {
                                    tokio::time::sleep(gap).await;
                                }
                                if tx.send(event.clone()).await.is_err() {
                                    return;
                                }
                            }
                        });
                        let body = StreamBody::new(futures_util::stream::unfold(rx, |mut rx| async move {
                            rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
                        }));
                        let response: Response<BoxBody<Bytes, Infallible>> = Response::builder()
                            .header("content-type", "text/event-stream")
                            .body(body.boxed())
                            .unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// CPU time (ns) of this process's threads by thread name.
fn thread_cpu_by_name() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let schedstat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        let ns = schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        *by_name.entry(name.trim().to_owned()).or_default() += ns;
    }
    by_name
}

/// The proxy's threads: its runtime (`proxy`) and its producer's librdkafka
/// threads; not the mock cluster's own threads (named `rdk:mock…`).
fn is_proxy_thread(name: &str) -> bool {
    name.starts_with("proxy") || (name.starts_with("rdk:") && !name.contains("mock"))
}

fn thread_cpu_ns(by_name: &std::collections::BTreeMap<String, u64>) -> u64 {
    by_name
        .iter()
        .filter(|(n, _)| is_proxy_thread(n))
        .map(|(_, ns)| ns)
        .sum()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

fn proxy_config(dir: &std::path::Path, upstream: &str, brokers: &str) -> tokentally_proxy::ProxyConfig {
    let text = format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstreams = [{{ url = {upstream:?} }}]\nshutdown_timeout_secs = 5\n\n\
         [kafka]\nbrokers = {brokers:?}\ntopic = {TOPIC:?}\n\n[kafka.options]\n\"linger.ms\" = \"5\"\n\n[spool]\ndir = {:?}\n",
        dir.join("spool")
    );
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).unwrap();
    tokentally_proxy::ProxyConfig::from_file(&path).unwrap()
}

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

async fn first_byte(client: &reqwest::Client, url: &str, body: &str) -> Duration {
    let start = Instant::now();
    let mut response = client.post(url).body(body.to_owned()).send().await.unwrap();
    response.chunk().await.unwrap().unwrap();
    let elapsed = start.elapsed();
    while response.chunk().await.unwrap().is_some() {}
    elapsed
}

fn main() {
    let samples = env_number("TOKENTALLY_BENCH_SAMPLES", 2000) as usize;
    let seconds = env_number("TOKENTALLY_BENCH_SECONDS", 10);
    let concurrency = env_number("TOKENTALLY_BENCH_CONCURRENCY", 32) as usize;
    let in_flight = env_number("TOKENTALLY_BENCH_IN_FLIGHT", 500) as usize;
    let chunks = env_number("TOKENTALLY_BENCH_CHUNKS", 60) as usize;
    // Milliseconds between upstream's events (0: back to back). With a gap every
    // event reaches the proxy alone, as from a model generating token by token;
    // lower SAMPLES and raise CONCURRENCY to keep the run short and the proxy busy.
    let gap = Duration::from_millis(env_number("TOKENTALLY_BENCH_GAP_MS", 0));
    let events = Arc::new(events(chunks));
    let sse_bytes: usize = events.iter().map(Bytes::len).sum();
    let body = r#"{"messages":[{"role":"user","content":"Write a short poem."}],"stream":true}"#;
    let path = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";

    let mock = MockCluster::<DefaultProducerContext>::new(1).unwrap();
    mock.create_topic(TOPIC, 4, 1).unwrap();
    let brokers = mock.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let load = runtime("load", 1);
    let upstream_rt = runtime("upstream", 1);
    let proxy_rt = runtime("proxy", 1);

    // 1. Added latency to the first byte, one call at a time on a kept-alive connection.
    let upstream_url = upstream_rt.block_on(upstream(Arc::clone(&events), gap, None));
    let proxy = proxy_rt
        .block_on(tokentally_proxy::start(proxy_config(
            dir.path(),
            &upstream_url,
            &brokers,
        )))
        .unwrap();
    let proxy_url = format!("http://{}{path}", proxy.addr());
    let direct_url = format!("{upstream_url}{path}");
    let (direct, proxied) = load.block_on(async {
        let client = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
        for _ in 0..50 {
            first_byte(&client, &direct_url, body).await;
            first_byte(&client, &proxy_url, body).await;
        }
        let (mut direct, mut proxied) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            direct.push(first_byte(&client, &direct_url, body).await.as_secs_f64() * 1e6);
            proxied.push(first_byte(&client, &proxy_url, body).await.as_secs_f64() * 1e6);
        }
        (median(direct), median(proxied))
    });

    // 2. Throughput: `concurrency` callers for `seconds`; the proxy's CPU time.
    let calls = Arc::new(AtomicU64::new(0));
    let cpu_before = thread_cpu_by_name();
    let started = Instant::now();
    load.block_on(async {
        let client = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, url, calls) = (client.clone(), proxy_url.clone(), Arc::clone(&calls));
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let mut response = client.post(&url).body(body).send().await.unwrap();
                    while response.chunk().await.unwrap().is_some() {}
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let wall = started.elapsed().as_secs_f64();
    // Records still being delivered belong to these calls' cost.
    std::thread::sleep(Duration::from_millis(500));
    let cpu_after = thread_cpu_by_name();
    let proxy_cpu = (thread_cpu_ns(&cpu_after) - thread_cpu_ns(&cpu_before)) as f64 / 1e9;
    let threads: std::collections::BTreeMap<&str, f64> = cpu_after
        .iter()
        .map(|(name, ns)| {
            (
                name.as_str(),
                (ns - cpu_before.get(name).copied().unwrap_or(0)) as f64 / 1e9,
            )
        })
        .filter(|(_, secs)| *secs > 0.01)
        .collect();
    let calls = calls.load(Ordering::Relaxed);
    let stats = proxy.stats();
    proxy.shutdown();
    let stopped = proxy_rt.block_on(proxy.wait()).unwrap();

    // 3. Memory per call in flight: streams held after half their events.
    let gate = Arc::new(Semaphore::new(0));
    let held_url = upstream_rt.block_on(upstream(Arc::clone(&events), gap, Some(Arc::clone(&gate))));
    let dir2 = tempfile::tempdir().unwrap();
    let proxy = proxy_rt
        .block_on(tokentally_proxy::start(proxy_config(
            dir2.path(),
            &held_url,
            &brokers,
        )))
        .unwrap();
    let url = format!("http://{}{path}", proxy.addr());
    let rss_idle = rss_bytes();
    let (responses, rss_held) = load.block_on(async {
        let client = reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
        let mut responses = Vec::new();
        for _ in 0..in_flight {
            let mut response = client.post(&url).body(body).send().await.unwrap();
            response.chunk().await.unwrap();
            responses.push(response);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        (responses, rss_bytes())
    });
    gate.add_permits(in_flight);
    load.block_on(async {
        for mut response in responses {
            while response.chunk().await.unwrap().is_some() {}
        }
    });
    proxy.shutdown();
    proxy_rt.block_on(proxy.wait()).unwrap();

    let report = serde_json::json!({
        "sse_bytes_per_call": sse_bytes,
        "events_per_call": events.len(),
        "gap_ms_between_events": gap.as_millis(),
        "first_byte_us": {
            "direct_median": direct.0, "direct_p99": direct.1,
            "proxied_median": proxied.0, "proxied_p99": proxied.1,
            "added_median": proxied.0 - direct.0,
        },
        "throughput": {
            "concurrency": concurrency,
            "calls": calls,
            "wall_secs": wall,
            "calls_per_sec_wall": calls as f64 / wall,
            "proxy_cpu_secs": proxy_cpu,
            "calls_per_proxy_core_sec": calls as f64 / proxy_cpu,
            "records_sent": stopped.records_sent,
            "records_sent_before_stop": stats.records_sent,
            "records_lost": stopped.records_lost,
            "cpu_secs_by_thread": threads,
        },
        "memory": {
            "in_flight_calls": in_flight,
            "rss_idle_mib": rss_idle as f64 / 1048576.0,
            "rss_held_mib": rss_held as f64 / 1048576.0,
            "per_call_kib_upper_bound": (rss_held.saturating_sub(rss_idle)) as f64 / in_flight as f64 / 1024.0,
            "note": "RSS of the whole process: the bench's client and fake upstream connections are included",
        },
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

//! The proxy's peak memory under a flood: slow readers over HTTP/2, large
//! bodies, bodies that trickle in, and idle connections past `max_connections`,
//! all at once, against the shipped limits. The figure to compare is the proxy's
//! peak RSS growth with `Limits::memory_bound` (docs/security.md, "Memory").
//!
//! `cargo bench -p tokentally-proxy --bench flood` (release). The proxy runs in a
//! child process (this bench, run again with `TOKENTALLY_FLOOD_CHILD` set), so its
//! RSS is its own: the flood's clients, the fake upstream and rdkafka's mock
//! cluster live in the parent. Knobs: `TOKENTALLY_FLOOD_{SECONDS,IDLE,H2_CLIENTS,
//! BIG_BODIES,TRICKLES,EVENT_KIB}`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

/// The `tokentally` binary's allocator, so the proxy's memory is measured as it runs there.
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
use std::io::{BufRead as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;

const CHILD: &str = "TOKENTALLY_FLOOD_CHILD";
const TOPIC: &str = "flood-records";
const PATH: &str = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The child: the proxy alone, until its stdin closes.
fn child(config: &str) {
    let config = tokentally_proxy::ProxyConfig::from_file(std::path::Path::new(config)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let proxy = tokentally_proxy::start(config).await.unwrap();
        println!("{}", proxy.addr());
        tokio::task::spawn_blocking(|| std::io::stdin().lines().count())
            .await
            .unwrap();
        proxy.shutdown();
        let stats = proxy.wait().await.unwrap();
        println!("{}", serde_json::to_string(&stats).unwrap());
    });
}

/// A fake AOAI whose streamed answers are large and sent as fast as the proxy takes them.
async fn upstream(event_kib: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let content = "x".repeat(event_kib << 10);
    let event = Bytes::from(format!(
        "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n"
    ));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let event = event.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let event = event.clone();
                    async move {
                        let _ = request.into_body().collect().await;
                        let events = futures_util::stream::iter(
                            (0..256).map(move |_| Ok::<_, Infallible>(Frame::data(event.clone()))),
                        );
                        let response: Response<BoxBody<Bytes, Infallible>> = Response::builder()
                            .header("content-type", "text/event-stream")
                            .body(StreamBody::new(events).boxed())
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

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    if let Ok(config) = std::env::var(CHILD) {
        return child(&config);
    }
    let seconds = env_number("TOKENTALLY_FLOOD_SECONDS", 10);
    let idle = env_number("TOKENTALLY_FLOOD_IDLE", 600);
    let h2_clients = env_number("TOKENTALLY_FLOOD_H2_CLIENTS", 12);
    let big_bodies = env_number("TOKENTALLY_FLOOD_BIG_BODIES", 32);
    let trickles = env_number("TOKENTALLY_FLOOD_TRICKLES", 32);
    let event_kib = env_number("TOKENTALLY_FLOOD_EVENT_KIB", 8);

    let mock = MockCluster::<DefaultProducerContext>::new(1).unwrap();
    mock.create_topic(TOPIC, 1, 1).unwrap();
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let upstream_url = load.block_on(upstream(event_kib));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxy.toml");
    std::fs::write(
        &config,
        format!(
            "[proxy]\nlisten = \"127.0.0.1:0\"\nupstreams = [{{ url = {upstream_url:?} }}]\nshutdown_timeout_secs = 1\n\n\
             [kafka]\nbrokers = {:?}\ntopic = {TOPIC:?}\n\n[spool]\ndir = \"spool\"\n",
            mock.bootstrap_servers()
        ),
    )
    .unwrap();
    let limits = tokentally_proxy::ProxyConfig::from_file(&config).unwrap().limits;
    let mut proxy = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, &config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = proxy.id();
    let mut lines = std::io::BufReader::new(proxy.stdout.take().unwrap()).lines();
    let addr = lines.next().unwrap().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = status_kib(pid, "VmRSS:");

    let sampled_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = Arc::clone(&sampled_peak);
        std::thread::spawn(move || {
            while status_kib(pid, "VmRSS:") > 0 && peak.load(Ordering::Relaxed) != u64::MAX {
                peak.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let started = Instant::now();
    let held = load.block_on(flood(&addr, h2_clients, big_bodies, trickles, idle, seconds));
    let rss_peak = status_kib(pid, "VmHWM:");
    let flood_peak = sampled_peak.load(Ordering::Relaxed);
    // The callers leave: every call ends, and its record is built and delivered.
    drop(held);
    std::thread::sleep(Duration::from_secs(5));
    let rss_peak_after = status_kib(pid, "VmHWM:");
    drop(proxy.stdin.take());
    let stats: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    proxy.wait().unwrap();
    sampled_peak.store(u64::MAX, Ordering::Relaxed);
    sampler.join().unwrap();

    let bound = limits.memory_bound();
    let within_bound = (rss_peak.saturating_sub(rss_idle) as usize) << 10 <= bound.total;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let report = serde_json::json!({
        "flood_secs": started.elapsed().as_secs_f64(),
        "rss_idle_mib": mib(rss_idle),
        "rss_peak_mib": mib(rss_peak),
        "rss_peak_sampled_mib": mib(flood_peak),
        "rss_peak_after_records_mib": mib(rss_peak_after),
        "growth_mib": mib(rss_peak.saturating_sub(rss_idle)),
        "bound_mib": bound.total as f64 / 1048576.0,
        "bound": format!("{bound:?}"),
        "within_bound": within_bound,
        "stats": stats,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    std::io::stdout().flush().unwrap();
    // A broken bound is a failed run, for a script that checks the status.
    if !within_bound {
        std::process::exit(1);
    }
}

/// Everything at once; returns what must stay open until the peak is read.
async fn flood(
    addr: &str,
    h2_clients: usize,
    big_bodies: usize,
    trickles: usize,
    idle: usize,
    seconds: usize,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let url = format!("http://{addr}{PATH}");
    let body =
        |content: &str| format!(r#"{{"messages":[{{"role":"user","content":"{content}"}}],"stream":true}}"#);
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    let mut tasks = Vec::new();
    // Slow readers: streamed calls whose answers nobody reads, many per HTTP/2 connection.
    for _ in 0..h2_clients {
        // Windows wide enough that the proxy could send each stream its whole answer.
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .http2_initial_stream_window_size(8 << 20)
            .http2_initial_connection_window_size((1 << 31) - 1)
            .build()
            .unwrap();
        for _ in 0..32 {
            let (client, url, body) = (client.clone(), url.clone(), body("hi"));
            tasks.push(tokio::spawn(async move {
                let response = client.post(url).header("api-key", "k").body(body).send().await;
                Box::new((client, response)) as Box<dyn std::any::Any + Send>
            }));
        }
    }
    // Large bodies with a Content-Length, at max_request_bytes.
    let big = Bytes::from(body(&"y".repeat((32 << 20) - 100)));
    for _ in 0..big_bodies {
        let (url, big) = (url.clone(), big.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().http1_only().build().unwrap();
            let response = client.post(url).header("api-key", "k").body(big).send().await;
            Box::new((client, response)) as Box<dyn std::any::Any + Send>
        }));
    }
    // Bodies without a length that trickle in, 1 MiB every 100 ms.
    for _ in 0..trickles {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let chunk = Bytes::from(vec![b' '; 1 << 20]);
            let pieces = futures_util::stream::unfold(0, move |i| {
                let chunk = chunk.clone();
                async move {
                    (i < 30).then_some(())?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((Ok::<_, std::io::Error>(chunk), i + 1))
                }
            });
            let client = reqwest::Client::builder().http1_only().build().unwrap();
            let response = client
                .post(url)
                .header("api-key", "k")
                .body(reqwest::Body::wrap_stream(pieces))
                .send()
                .await;
            Box::new((client, response)) as Box<dyn std::any::Any + Send>
        }));
    }
    // Idle connections with half a head, more than max_connections (those the
    // listen backlog does not take at once are given up on).
    for _ in 0..idle {
        let connect = tokio::time::timeout(Duration::from_millis(500), tokio::net::TcpStream::connect(addr));
        if let Ok(Ok(mut stream)) = connect.await {
            let _ = stream.write_all(b"POST / HTTP/1.1\r\n").await;
            held.push(Box::new(stream));
        }
    }
    let deadline = tokio::time::sleep(Duration::from_secs(seconds as u64));
    tokio::pin!(deadline);
    for task in tasks {
        tokio::select! {
            done = task => if let Ok(done) = done { held.push(done) },
            () = &mut deadline => break,
        }
    }
    deadline.await;
    held
}

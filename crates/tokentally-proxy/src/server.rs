//! Serving: the accept loop (`accept.rs`) hands each connection to `conn.rs`;
//! the health endpoints; and the shutdown order that keeps every record: stop
//! accepting, let in-flight streams finish (cut them after the timeout, which
//! still records them as partial), then settle every record with the broker or
//! the spool.

use crate::accept::Acceptor;
use crate::budget::Budget;
use crate::config::{ContextHeader, ProxyConfig};
use crate::context::Verifier;
use crate::delivery::Delivery;
use crate::error::{IoContext as _, Result};
use crate::forward::{self, ProxyBody, Shared};
use crate::reply::json_response;
use crate::stats::StatsSnapshot;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// HTTP/2 stream window towards upstream (see [`crate::limits::MemoryBound`]).
pub const UPSTREAM_WINDOW: u32 = 256 << 10;

/// Every call's stream window, so one slow caller never stalls the others on a
/// shared upstream connection (capped at HTTP/2's largest window).
fn upstream_connection_window(max_calls: usize) -> u32 {
    let calls = u32::try_from(max_calls).unwrap_or(u32::MAX);
    calls.saturating_mul(UPSTREAM_WINDOW).min((1 << 31) - 1)
}

/// How long the producer gets at shutdown to deliver what is queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// A proxy serving in the background.
#[derive(Debug)]
pub struct RunningProxy {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    delivery: Arc<Delivery>,
    task: JoinHandle<Result<StatsSnapshot>>,
}

impl RunningProxy {
    /// Where it listens (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.delivery.snapshot()
    }

    /// Starts a graceful shutdown; [`RunningProxy::wait`] returns when it is done.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits for the proxy to stop; the final counters.
    pub async fn wait(self) -> Result<StatsSnapshot> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(crate::Error::Io {
                context: "the proxy task".into(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Binds the listener and serves until [`RunningProxy::shutdown`].
pub async fn start(config: ProxyConfig) -> Result<RunningProxy> {
    config.validate()?;
    let api_key_salt = match &config.proxy.api_key_salt {
        Some(source) => Some(source.read("proxy.api_key_salt")?),
        None => {
            tracing::warn!(
                "no [proxy.api_key_salt]: callers using api-key headers are recorded without a fingerprint"
            );
            None
        }
    };
    let verifier = match (&config.proxy.context_header, &config.proxy.context_secret) {
        (ContextHeader::Trust, Some(secret)) => Some(Verifier::new(
            &secret.read("proxy.context_secret")?,
            config.proxy.context_max_skew_secs,
        )),
        _ => None,
    };
    let tls = config.proxy.tls.as_ref().map(crate::tls::acceptor).transpose()?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(config.proxy.connect_timeout_secs))
        .tcp_nodelay(true)
        // What upstream may send ahead of a caller that reads slowly: a stream
        // window per call, and a connection window that never stalls the others.
        .http2_initial_stream_window_size(UPSTREAM_WINDOW)
        .http2_initial_connection_window_size(upstream_connection_window(config.limits.max_calls))
        // A redirect goes back to the caller: following it would send the
        // caller's credentials to wherever upstream points.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| crate::Error::Config(format!("building the HTTP client: {e}")))?;
    let delivery = Delivery::new(&config, tokio::runtime::Handle::current())?;
    let listener = TcpListener::bind(config.proxy.listen)
        .await
        .context(|| format!("listening on {}", config.proxy.listen))?;
    let addr = listener
        .local_addr()
        .context(|| "reading the listen address".into())?;
    let upstreams = config
        .proxy
        .upstreams
        .iter()
        .map(|u| Ok((crate::config::origin(&u.url)?, u.region.clone())))
        .collect::<Result<Vec<_>>>()?;
    let shared = Arc::new(Shared {
        calls: crate::admission::call_slots(config.limits.max_calls),
        body_budget: Budget::new(config.limits.max_buffered_request_bytes),
        capture_budget: Budget::new(config.limits.max_buffered_capture_bytes),
        config,
        upstreams,
        client,
        delivery: Arc::clone(&delivery),
        api_key_salt,
        verifier,
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, tls, shared, stopped));
    tracing::info!(%addr, "proxy listening");
    Ok(RunningProxy {
        addr,
        stop,
        delivery,
        task,
    })
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Result<StatsSnapshot> {
    let ready = Arc::new(AtomicBool::new(true));
    let (drain_stop, drain_stopped) = watch::channel(false);
    let drainer = {
        let delivery = Arc::clone(&shared.delivery);
        let every = Duration::from_secs(shared.config.spool.retry_secs);
        tokio::spawn(async move { delivery.drain_spool_every(every, drain_stopped).await })
    };
    let closing = CancellationToken::new();
    let mut connections = JoinSet::new();
    let mut acceptor = Acceptor::new(listener, shared.config.limits.max_connections);
    loop {
        tokio::select! {
            accepted = acceptor.next(&shared.delivery.stats) => {
                let _ = accepted.stream.set_nodelay(true);
                let service = {
                    let shared = Arc::clone(&shared);
                    let ready = Arc::clone(&ready);
                    service_fn(move |request| route(Arc::clone(&shared), Arc::clone(&ready), request))
                };
                let closing = closing.clone();
                let tls = tls.clone();
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let stats = &shared.delivery.stats;
                    stats.connection_opened();
                    let served = crate::conn::serve(accepted.stream, tls, service, &shared.config.limits, closing, stats).await;
                    stats.connection_closed();
                    drop(accepted.permit);
                    if let Err(ended) = served {
                        tracing::debug!(%ended, "connection ended early");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(acceptor);
    ready.store(false, Ordering::Relaxed);
    let timeout = shared.config.shutdown_timeout();
    tracing::info!(
        in_flight = connections.len(),
        "shutting down: waiting for in-flight calls"
    );
    closing.cancel();
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(timeout, finished).await.is_err() {
        tracing::warn!(
            ?timeout,
            "in-flight calls still running at the shutdown timeout: cut off, recorded as partial"
        );
    }
    // Dropping a connection drops its response bodies, which records them.
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    let _ = drain_stop.send(true);
    let _ = drainer.await;
    shared.delivery.close(FLUSH_TIMEOUT).await;
    Ok(shared.delivery.snapshot())
}

async fn route(
    shared: Arc<Shared>,
    ready: Arc<AtomicBool>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let path = request.uri().path();
    if request.method() == Method::GET && (path == "/healthz" || path == "/readyz") {
        let stats = shared.delivery.snapshot();
        let is_ready = path == "/healthz" || ready.load(Ordering::Relaxed);
        let status = if is_ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let body = json!({"status": if is_ready { "ok" } else { "shutting down" }, "stats": stats});
        return Ok(json_response(status, &body));
    }
    Ok(forward::forward(shared, request).await)
}

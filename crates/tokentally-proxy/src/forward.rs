//! One call: admit it (context, credentials, a slot), read its body within the
//! limits, choose the upstream from the allow-list, forward the request as the
//! caller sent it (their `Authorization` or `api-key` included; redirects are
//! passed back, never followed), and stream the answer back through the [`Tee`].
//! The proxy's own failures become a clear 502 or 504 for the caller, which names
//! neither the upstream nor the query, and a record with that status, never a
//! lost call.

use crate::admission::{self, Admitted};
use crate::budget::Budget;
use crate::config::ProxyConfig;
use crate::context::{GatewayContext, Verifier};
use crate::delivery::Delivery;
use crate::headers::{forwarded_headers, response_headers};
use crate::idle::IdleLimit;
use crate::record::{CallInfo, Ending, route_parts};
use crate::reply::{error_body, error_response};
use crate::request_body::{self, BodyRefusal, HeldBody};
use crate::stats::Stats;
use crate::tee::{Capture, Reserved, Tee};
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::header;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::{Frame, Incoming};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

pub type ProxyBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// What every call shares.
#[derive(Debug)]
pub struct Shared {
    pub(crate) config: ProxyConfig,
    /// `(origin, region)` of each allowed upstream; the first is the default.
    pub(crate) upstreams: Vec<(String, Option<String>)>,
    pub(crate) client: reqwest::Client,
    pub(crate) delivery: Arc<Delivery>,
    pub(crate) api_key_salt: Option<String>,
    /// Checks APIM's signature on contexts (with `context_header = "trust"`).
    pub(crate) verifier: Option<Verifier>,
    /// `max_calls` slots.
    pub(crate) calls: Arc<Semaphore>,
    pub(crate) body_budget: Budget,
    pub(crate) capture_budget: Budget,
}

pub async fn forward(shared: Arc<Shared>, request: Request<Incoming>) -> Response<ProxyBody> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let admitted = match admission::admit(&shared, &parts) {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.respond(&shared),
    };
    let Some((origin, region)) = pick_upstream(&shared, admitted.context.as_ref()) else {
        let asked = admitted
            .context
            .as_ref()
            .and_then(|c| c.upstream.as_deref())
            .unwrap_or_default();
        tracing::error!(upstream = %asked, "refused: upstream not in the proxy's allow-list");
        return error_response(
            StatusCode::BAD_GATEWAY,
            "upstream_not_allowed",
            "the upstream named in x-tokentally-context is not in the tokentally proxy's [proxy] upstreams",
        );
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse().ok());
    let limits = &shared.config.limits;
    let body = match request_body::read(body, declared, limits, &shared.body_budget).await {
        Ok(body) => body,
        Err(refusal) => return body_refused(&shared, refusal),
    };
    let call = Call {
        info: call_info(&parts, &admitted, &body, &origin, region, started),
        reserved: Reserved {
            slot: admitted.slot,
            body: body.share,
            capture: shared.capture_budget.share(),
        },
    };
    let mut pending = Unanswered {
        shared: Arc::clone(&shared),
        call: Some(call),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let sent = shared
        .client
        .request(parts.method, format!("{origin}{path}"))
        .headers(forwarded_headers(&parts.headers))
        .body(body.bytes)
        .send();
    let answer = tokio::time::timeout(limits.upstream_idle_timeout(), sent).await;
    let Some(call) = pending.call.take() else {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "proxy_error",
            "the tokentally proxy lost track of the call",
        );
    };
    match answer {
        Ok(Ok(upstream)) => relay(&shared, call, upstream),
        Ok(Err(e)) => unreachable(&shared, call, &origin, parts.uri.path(), e),
        Err(_) => {
            Stats::add(&shared.delivery.stats.upstream_timeouts);
            tracing::warn!(%origin, path = parts.uri.path(), "upstream sent no answer within upstream_idle_timeout_secs");
            let message =
                "the upstream sent no answer within the tokentally proxy's upstream_idle_timeout_secs";
            proxy_failure(
                &shared,
                call,
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                message,
            )
        }
    }
}

/// A call admitted and read, on its way upstream, with what it holds of the limits.
struct Call {
    info: CallInfo,
    reserved: Reserved,
}

/// A call sent upstream and not yet answered. A caller that goes away now makes
/// hyper drop the future holding this, while upstream may already be running
/// (and billing) the call: it is recorded as unanswered (status 0, partial; the
/// parser estimates its prompt) rather than lost, so hanging up early hides no
/// charge.
struct Unanswered {
    shared: Arc<Shared>,
    call: Option<Call>,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            Stats::add(&self.shared.delivery.stats.callers_left_unanswered);
            tracing::info!(
                request_id = %call.info.request_id,
                "caller went away before upstream answered; recording the call as unanswered"
            );
            capture(&self.shared, call, 0, false, Vec::new(), None).finish(Ending::Partial);
        }
    }
}

fn call_info(
    parts: &Parts,
    admitted: &Admitted,
    body: &HeldBody,
    origin: &str,
    region: Option<String>,
    started: Instant,
) -> CallInfo {
    let context = admitted.context.as_ref();
    let (deployment, api_version, operation) = route_parts(parts.uri.path(), parts.uri.query());
    CallInfo {
        // With no trusted context, the id and time are the proxy's own, so no
        // caller can merge calls into one event id or move one out of its month.
        request_id: context
            .and_then(|c| c.request_id.clone())
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        request_time: context
            .and_then(|c| c.request_time.clone())
            .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        caller: admitted.caller.clone(),
        deployment,
        api_version,
        operation,
        request: CallInfo::json_body(body.bytes.clone()),
        region: region.or_else(|| context.and_then(|c| c.region.clone())),
        backend: origin.to_owned(),
        started,
        caller_from_credentials: context.is_none(),
    }
}
/// Streams upstream's answer back through the tee, which records it at the end.
fn relay(shared: &Arc<Shared>, call: Call, upstream: reqwest::Response) -> Response<ProxyBody> {
    let status = upstream.status();
    let sse = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        });
    let mut response = Response::builder().status(status);
    if let Some(headers) = response.headers_mut() {
        *headers = response_headers(upstream.headers());
    }
    let expected_len = upstream.content_length();
    // Room for a body of known length up front, if the capture budget has it.
    let mut call = call;
    let initial = initial_capacity(expected_len);
    let body = match call.reserved.capture.cover(initial) {
        Ok(()) => Vec::with_capacity(initial),
        Err(_) => Vec::new(),
    };
    let capture = capture(shared, call, status.as_u16(), sse, body, expected_len);
    let idle = shared.config.limits.upstream_idle_timeout();
    let chunks = IdleLimit::new(
        Box::pin(upstream.bytes_stream()),
        idle,
        Arc::clone(&shared.delivery),
    );
    let tee = Tee::new(chunks, capture);
    let body = StreamBody::new(tee.map_ok(Frame::data));
    response
        .body(body.boxed_unsync())
        .unwrap_or_else(|e| error_response(StatusCode::BAD_GATEWAY, "bad_upstream_response", &e.to_string()))
}

/// 502: upstream could not be reached. The caller learns what kind of failure it
/// was; the log has the rest (origin and path, never the query).
fn unreachable(
    shared: &Arc<Shared>,
    call: Call,
    origin: &str,
    path: &str,
    e: reqwest::Error,
) -> Response<ProxyBody> {
    Stats::add(&shared.delivery.stats.upstream_errors);
    let e = e.without_url();
    tracing::warn!(%origin, path, error = %error_chain(&e), "upstream unreachable");
    let kind = if e.is_connect() {
        "could not connect to the upstream"
    } else if e.is_timeout() {
        "the connection to the upstream timed out"
    } else {
        "the request to the upstream failed"
    };
    let message = format!("the tokentally proxy could not reach the upstream: {kind}");
    proxy_failure(
        shared,
        call,
        StatusCode::BAD_GATEWAY,
        "upstream_unreachable",
        &message,
    )
}

/// An answer of the proxy's own for a call it forwarded: the caller gets it, and
/// the call is recorded with it.
fn proxy_failure(
    shared: &Arc<Shared>,
    call: Call,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<ProxyBody> {
    let body = error_body(code, message).to_string().into_bytes();
    capture(shared, call, status.as_u16(), false, body, None).finish(Ending::Complete);
    error_response(status, code, message)
}

fn capture(
    shared: &Arc<Shared>,
    call: Call,
    status: u16,
    sse: bool,
    body: Vec<u8>,
    expected_len: Option<u64>,
) -> Capture {
    Capture {
        info: call.info,
        status,
        sse,
        body,
        limit: shared.config.limits.max_capture_bytes,
        truncated: false,
        expected_len,
        received: 0,
        delivery: Arc::clone(&shared.delivery),
        reserved: call.reserved,
    }
}

/// A body the proxy would not take: answered, counted, not forwarded, not recorded.
fn body_refused(shared: &Shared, refusal: BodyRefusal) -> Response<ProxyBody> {
    let limits = &shared.config.limits;
    match refusal {
        BodyRefusal::TooLarge => error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            &format!(
                "request body over the proxy's max_request_bytes ({})",
                limits.max_request_bytes
            ),
        ),
        BodyRefusal::Busy => admission::busy(shared, "max_buffered_request_bytes of request bodies are held"),
        BodyRefusal::TimedOut => {
            Stats::add(&shared.delivery.stats.request_timeouts);
            error_response(
                StatusCode::REQUEST_TIMEOUT,
                "request_body_timeout",
                &format!(
                    "the request body did not arrive within the proxy's request_body_timeout_secs ({})",
                    limits.request_body_timeout_secs
                ),
            )
        }
        BodyRefusal::Unreadable(reason) => {
            error_response(StatusCode::BAD_REQUEST, "request_unreadable", &reason)
        }
    }
}

/// Room for a body of known length up front (bounded: the header is upstream's word).
fn initial_capacity(expected_len: Option<u64>) -> usize {
    expected_len.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(1 << 20))
}

/// The upstream named by the context (only if allow-listed), else the default.
fn pick_upstream(shared: &Shared, context: Option<&GatewayContext>) -> Option<(String, Option<String>)> {
    match context.and_then(|c| c.upstream.as_deref()) {
        Some(asked) => {
            let asked = crate::config::origin(asked).ok()?;
            shared
                .upstreams
                .iter()
                .find(|(origin, _)| *origin == asked)
                .cloned()
        }
        None => shared.upstreams.first().cloned(),
    }
}

/// reqwest's top-level message is vague ("error sending request"); the cause says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

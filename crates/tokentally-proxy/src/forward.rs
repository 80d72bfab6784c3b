//! One call: choose the upstream from the allow-list, forward the request as the
//! caller sent it (their `Authorization` or `api-key` included), and stream the
//! answer back through the [`Tee`]. The proxy's own failures become a clear 502
//! for the caller and a record with that status, never a lost call.

use crate::caller::{self, CONTEXT_HEADER, GatewayContext};
use crate::config::{ContextHeader, ProxyConfig};
use crate::delivery::Delivery;
use crate::record::{CallInfo, Ending, route_parts};
use crate::tee::{Capture, Tee};
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

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
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the proxy owns.
const NOT_FORWARDED: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    CONTEXT_HEADER,
];

pub async fn forward(shared: Arc<Shared>, request: Request<Incoming>) -> Response<ProxyBody> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let context = match shared.config.proxy.context_header {
        ContextHeader::Trust => GatewayContext::from_headers(&parts.headers),
        ContextHeader::Ignore => None,
    };
    let Some((origin, region)) = pick_upstream(&shared, context.as_ref()) else {
        let asked = context
            .as_ref()
            .and_then(|c| c.upstream.clone())
            .unwrap_or_default();
        tracing::error!(upstream = %asked, "refused: upstream not in the proxy's allow-list");
        return error_response(
            StatusCode::BAD_GATEWAY,
            "upstream_not_allowed",
            &format!("upstream {asked:?} is not in the tokentally proxy's [proxy] upstreams"),
        );
    };
    let limit = shared.config.proxy.max_request_bytes;
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                &format!("request body over the proxy's max_request_bytes ({limit})"),
            );
        }
        Err(e) => {
            return error_response(StatusCode::BAD_REQUEST, "request_unreadable", &e.to_string());
        }
    };

    let (deployment, api_version, operation) = route_parts(parts.uri.path(), parts.uri.query());
    let context_region = context.as_ref().and_then(|c| c.region.clone());
    let info = CallInfo {
        request_id: context
            .as_ref()
            .and_then(|c| c.request_id.clone())
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        request_time: context
            .as_ref()
            .and_then(|c| c.request_time.clone())
            .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        caller: caller::caller(&parts.headers, context.as_ref(), shared.api_key_salt.as_deref()),
        deployment,
        api_version,
        operation,
        request: serde_json::from_slice(&body).unwrap_or(Value::Null),
        region: region.or(context_region),
        backend: origin.clone(),
        started,
    };

    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let upstream = shared
        .client
        .request(parts.method, format!("{origin}{path}"))
        .headers(forwarded_headers(&parts.headers))
        .body(body)
        .send()
        .await;
    let capture = |status: u16, sse: bool, body: Vec<u8>, expected_len: Option<u64>| Capture {
        info,
        status,
        sse,
        body,
        limit: shared.config.proxy.max_capture_bytes,
        truncated: false,
        expected_len,
        received: 0,
        delivery: Arc::clone(&shared.delivery),
    };
    match upstream {
        Err(e) => {
            shared
                .delivery
                .stats
                .upstream_errors
                .fetch_add(1, Ordering::Relaxed);
            let message = format!(
                "the tokentally proxy could not reach {origin}: {}",
                error_chain(&e)
            );
            tracing::warn!(%message, "upstream unreachable");
            let response = error_response(StatusCode::BAD_GATEWAY, "upstream_unreachable", &message);
            let body = error_body("upstream_unreachable", &message)
                .to_string()
                .into_bytes();
            capture(StatusCode::BAD_GATEWAY.as_u16(), false, body, None).finish(Ending::Complete);
            response
        }
        Ok(upstream) => {
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
            let body = Vec::with_capacity(initial_capacity(expected_len));
            let capture = capture(status.as_u16(), sse, body, expected_len);
            let tee = Tee::new(Box::pin(upstream.bytes_stream()), capture);
            let body = StreamBody::new(tee.map_ok(Frame::data));
            response.body(body.boxed_unsync()).unwrap_or_else(|e| {
                error_response(StatusCode::BAD_GATEWAY, "bad_upstream_response", &e.to_string())
            })
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

/// The caller's headers minus hop-by-hop ones, the context header, and
/// `Accept-Encoding`: the record needs the response as text, so upstream is asked
/// for it uncompressed (SSE is rarely compressed anyway).
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = strip_hop_by_hop(headers);
    out.remove(header::ACCEPT_ENCODING);
    out.remove(header::CONTENT_LENGTH);
    out
}

fn response_headers(headers: &HeaderMap) -> HeaderMap {
    strip_hop_by_hop(headers)
}

fn strip_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let lower = name.as_str();
        if NOT_FORWARDED.contains(&lower) || named.iter().any(|n| n == lower) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

fn error_body(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// An error in AOAI's own shape, so clients report it like any AOAI error.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    json_response(status, &error_body(code, message))
}

pub fn json_response(status: StatusCode, body: &Value) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(
        HeaderName::from_static("x-tokentally-proxy"),
        HeaderValue::from_static("1"),
    );
    response
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_owned_headers_are_not_forwarded() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("authorization", "Bearer t"),
            ("api-key", "k"),
            ("accept-encoding", "gzip"),
            ("host", "proxy"),
            (CONTEXT_HEADER, "e30="),
            ("content-type", "application/json"),
        ] {
            h.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let out = forwarded_headers(&h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["authorization", "api-key", "content-type"]);
    }
}

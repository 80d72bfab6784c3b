//! The gateway record (docs/formats.md, `schema: 1`) of one proxied call: the
//! request side is fixed when the call arrives, the response side when its body
//! ends (or breaks off).
//!
//! The request body goes into the record as the caller sent it, checked to be
//! JSON but never parsed into a tree: a body of many small values would take many
//! times its size as one. A call upstream refused (401/403) is recorded without
//! either body, and, when the proxy read the caller from the credentials
//! upstream just refused, without that caller either.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::time::Instant;

/// What is known about a call before upstream answers.
#[derive(Debug)]
pub struct CallInfo {
    pub request_id: String,
    pub request_time: String,
    pub caller: Map<String, Value>,
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    pub operation: String,
    /// The request body, when it is JSON (else the record's `request` is null).
    pub request: Option<Bytes>,
    pub region: Option<String>,
    pub backend: String,
    pub started: Instant,
    /// The caller was read from the call's credentials (no trusted context), so it
    /// is only as good as upstream's acceptance of them.
    pub caller_from_credentials: bool,
}

impl CallInfo {
    /// The request body, if it is JSON: validated without building a tree.
    pub fn json_body(body: Bytes) -> Option<Bytes> {
        serde_json::from_slice::<serde::de::IgnoredAny>(&body)
            .ok()
            .map(|_| body)
    }
}

/// Upstream refused the call's credentials: nothing was used, and what the
/// credentials say about the caller is unproven.
pub fn refused(status: u16) -> bool {
    matches!(status, 401 | 403)
}

/// How the response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Upstream finished and the caller took every byte.
    Complete,
    /// Upstream broke off, the caller went away, or the capture limit was passed.
    Partial,
}

/// The record after `"schema":1,"request":<body>,`, which [`CallInfo::to_record`]
/// writes itself so the body is copied as it came.
#[derive(Serialize)]
struct Record<'a> {
    request_id: &'a str,
    request_time: &'a str,
    caller: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_version: Option<&'a str>,
    operation: &'a str,
    response: ResponsePart<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    backend: &'a str,
    latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dropped: Option<Value>,
}

#[derive(Serialize)]
struct ResponsePart<'a> {
    status: u16,
    body: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    sse: Option<std::borrow::Cow<'a, str>>,
    complete: bool,
}

impl CallInfo {
    /// The record as JSON. `status` is what the caller got (0: nothing); `body` is
    /// the response bytes, kept as the SSE text when `sse`, else as JSON (or a
    /// string when it is not JSON).
    pub fn to_record(&self, status: u16, sse: bool, body: &[u8], ending: Ending) -> Vec<u8> {
        let refused = refused(status);
        let (body, request) = if refused {
            (&[][..], None)
        } else {
            (body, self.request.as_ref())
        };
        let request_len = request.map_or(0, Bytes::len);
        let capacity = body.len() + body.len() / 4 + request_len + 1024;
        let empty = Map::new();
        let caller = if refused && self.caller_from_credentials {
            &empty
        } else {
            &self.caller
        };
        let dropped = refused.then(|| {
            json!({"reason": format!("upstream refused the call ({status})"), "fields": ["request", "response.body"]})
        });
        let (body, sse) = if sse && !refused {
            (Value::Null, Some(text(body)))
        } else if body.is_empty() {
            (Value::Null, None)
        } else {
            let value =
                serde_json::from_slice(body).unwrap_or_else(|_| Value::String(text(body).into_owned()));
            (value, None)
        };
        let record = Record {
            request_id: &self.request_id,
            request_time: &self.request_time,
            caller,
            deployment: self.deployment.as_deref(),
            api_version: self.api_version.as_deref(),
            operation: &self.operation,
            response: ResponsePart {
                status,
                body,
                sse,
                complete: ending == Ending::Complete,
            },
            region: self.region.as_deref(),
            backend: &self.backend,
            latency_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            dropped,
        };
        // Room for the escaped SSE text (a quote every few bytes) and the rest, so
        // the record is not copied again and again as it grows.
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(b"{\"schema\":1,\"request\":");
        out.extend_from_slice(request.map_or(&b"null"[..], |r| r.as_ref()));
        out.push(b',');
        let rest = out.len();
        // Serializing maps, strings and numbers into a Vec cannot fail; the rest
        // is an object whose opening brace the prefix above already wrote.
        match serde_json::to_writer(&mut out, &record) {
            Ok(()) => {
                out.remove(rest);
                out
            }
            Err(_) => Vec::new(),
        }
    }
}

/// The body as text. Checked with the fast validator first: the lossy one walks
/// the bytes one at a time, which cost a tenth of the proxy's CPU on SSE bodies
/// that are (nearly always) valid UTF-8.
fn text(body: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(body) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    }
}

/// Deployment, api-version and operation from an AOAI URL:
/// `/openai/deployments/{deployment}/chat/completions?api-version=…`, or the v1
/// form `/openai/v1/chat/completions` (model in the body).
pub fn route_parts(path: &str, query: Option<&str>) -> (Option<String>, Option<String>, String) {
    let mut segments = path.split('/');
    let deployment = segments
        .by_ref()
        .skip_while(|s| *s != "deployments")
        .nth(1)
        .filter(|s| !s.is_empty())
        .map(percent_decode);
    let api_version = query.and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "api-version")
            .map(|(_, v)| percent_decode(v))
    });
    (deployment, api_version, path.to_owned())
}

/// Deployment names are plain, but a client may still percent-encode them.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn route_parts_of_both_url_forms() {
        let (d, v, op) = route_parts(
            "/openai/deployments/gpt%2D4o/chat/completions",
            Some("api-version=2024-10-21&x=1"),
        );
        assert_eq!(d.as_deref(), Some("gpt-4o"));
        assert_eq!(v.as_deref(), Some("2024-10-21"));
        assert_eq!(op, "/openai/deployments/gpt%2D4o/chat/completions");
        let (d, v, _) = route_parts("/openai/v1/responses", None);
        assert_eq!((d, v), (None, None));
    }

    #[test]
    fn record_holds_sse_text_or_json_body() {
        let info = info(Some(r#"{"stream": true}"#));
        let sse: Value =
            serde_json::from_slice(&info.to_record(200, true, b"data: [DONE]\n\n", Ending::Partial))
                .expect("json");
        assert_eq!(sse["response"]["sse"], json!("data: [DONE]\n\n"));
        assert_eq!(sse["response"]["complete"], json!(false));
        assert_eq!(sse["schema"], json!(1));
        assert_eq!(sse["request"], json!({"stream": true}));
        let body: Value =
            serde_json::from_slice(&info.to_record(500, false, b"{\"error\":{}}", Ending::Complete))
                .expect("json");
        assert_eq!(body["response"]["body"], json!({"error": {}}));
        assert!(body["response"].get("sse").is_none());
        let text: Value =
            serde_json::from_slice(&info.to_record(502, false, b"bad gateway", Ending::Complete))
                .expect("json");
        assert_eq!(text["response"]["body"], json!("bad gateway"));
    }

    fn info(request: Option<&'static str>) -> CallInfo {
        CallInfo {
            request_id: "r".into(),
            request_time: "2026-11-23T10:00:00.000Z".into(),
            caller: json!({"claims": {"appid": "forged"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            deployment: Some("gpt-4o".into()),
            api_version: None,
            operation: "/openai/deployments/gpt-4o/chat/completions".into(),
            request: request.and_then(|r| CallInfo::json_body(Bytes::from_static(r.as_bytes()))),
            region: Some("swedencentral".into()),
            backend: "https://a".into(),
            started: Instant::now(),
            caller_from_credentials: true,
        }
    }

    #[test]
    fn non_json_request_bodies_are_recorded_as_null() {
        assert!(info(Some("not json")).request.is_none());
        let record: Value =
            serde_json::from_slice(&info(Some("[1,")).to_record(200, false, b"{}", Ending::Complete))
                .expect("json");
        assert_eq!(record["request"], Value::Null);
    }

    #[test]
    fn refused_calls_are_recorded_without_bodies_or_unproven_callers() {
        let info = info(Some(
            r#"{"messages": [{"role": "user", "content": "secret prompt"}]}"#,
        ));
        // Unauthenticated and forbidden alike: upstream refused the caller.
        for status in [401_u16, 403] {
            let body = format!("{{\"error\":{{\"code\":\"{status}\"}}}}");
            let raw = info.to_record(status, false, body.as_bytes(), Ending::Complete);
            let record: Value = serde_json::from_slice(&raw).expect("json");
            assert_eq!(record["request"], Value::Null, "{status}");
            assert_eq!(record["response"]["body"], Value::Null, "{status}");
            assert_eq!(record["response"]["status"], json!(status));
            assert_eq!(
                record["caller"],
                json!({}),
                "{status}: claims of a refused token are unproven"
            );
            assert_eq!(
                record["dropped"]["fields"],
                json!(["request", "response.body"]),
                "{status}"
            );
            assert!(
                !String::from_utf8_lossy(&raw).contains("secret prompt"),
                "{status}"
            );
        }
    }
}

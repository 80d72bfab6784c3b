//! The proxy's own answers: errors in AOAI's shape, so clients report them like
//! any AOAI error, marked as the proxy's.

use crate::forward::ProxyBody;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

pub fn error_body(code: &str, message: &str) -> Value {
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

//! Which headers cross the proxy: the caller's go upstream minus hop-by-hop ones
//! and the ones the proxy owns (APIM's context and its signature, never passed on
//! to AOAI); upstream's come back minus hop-by-hop ones.

use crate::context::{CONTEXT_HEADER, SIGNATURE_HEADER};
use http::header::{self, HeaderMap};

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the proxy owns.
const NOT_FORWARDED: [&str; 11] = [
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
    SIGNATURE_HEADER,
];

/// The caller's headers minus hop-by-hop ones, the context header, and
/// `Accept-Encoding`: the record needs the response as text, so upstream is asked
/// for it uncompressed (SSE is rarely compressed anyway).
pub fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = strip_hop_by_hop(headers);
    out.remove(header::ACCEPT_ENCODING);
    out.remove(header::CONTENT_LENGTH);
    out
}

pub fn response_headers(headers: &HeaderMap) -> HeaderMap {
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{HeaderName, HeaderValue};

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
            (SIGNATURE_HEADER, "t=1,v1=AA=="),
            ("content-type", "application/json"),
        ] {
            h.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        let out = forwarded_headers(&h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["authorization", "api-key", "content-type"]);
    }
}

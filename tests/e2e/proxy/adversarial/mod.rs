//! Attacks on the capture proxy (issue 15, docs/security.md), one test per point:
//! who may say who pays (`identity`), what a caller can make the proxy hold and
//! for how long (`limits`, `descriptors`, `http2`), and a spool that never jams (`spool`). Each asserts
//! what the attack must not achieve and that the refusal was counted.

mod descriptors;
mod h2_wire;
mod http2;
mod identity;
mod limits;
mod spool;

use super::{Caller, bearer, chat_body, chat_path, client};
use serde_json::Value;
use std::net::SocketAddr;

/// A POST of a chat/completions body to `path` with the given headers, HTTP/1.1.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    stream: bool,
) -> reqwest::Response {
    let mut request = client(false)
        .post(format!("http://{addr}{path}?api-version=2024-10-21"))
        .json(&chat_body(stream));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("the proxy answers")
}

/// The answer's status and its error code.
pub async fn refusal(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
    (status, code)
}

/// Headers that identify `caller` the way [`super::call`] does.
pub fn credential(caller: Caller<'_>) -> (&'static str, String) {
    match caller {
        Caller::App(app) => ("authorization", bearer(app)),
        Caller::Key(key) => ("api-key", key.to_owned()),
    }
}

/// The usual chat path, for calls that do not care which deployment.
pub fn path() -> String {
    chat_path("gpt-4o")
}

//! APIM's word on a call: `x-tokentally-context` (base64 of a JSON object: request
//! id and time, the caller as APIM authenticated it, region, upstream) and the proof
//! that APIM wrote it, `x-tokentally-signature: t=<unix seconds>,v1=<base64>`.
//!
//! Anything a client can send, a client can forge; so the context is believed only
//! with a signature: HMAC-SHA256, keyed with a secret APIM holds as a named value,
//! over [`SIGNATURE_LABEL`], the time, the method, the path and the context, each on
//! its own line. Signing method and path keeps a captured header from being moved
//! onto another operation; the time, checked against `context_max_skew_secs`, makes
//! it worthless soon after. `pipelines/apim/route-streaming-to-proxy.xml` computes
//! the same text (`tests/python/check_apim_policies.py` checks that it does).

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

/// The header APIM's route-streaming policy writes (base64 of a JSON object).
pub const CONTEXT_HEADER: &str = "x-tokentally-context";
/// The header that proves APIM wrote [`CONTEXT_HEADER`].
pub const SIGNATURE_HEADER: &str = "x-tokentally-signature";
/// First line of the signed text: names the format, so a signature made for
/// anything else never checks.
pub const SIGNATURE_LABEL: &str = "tokentally-context-v1";

/// What APIM tells the proxy about a call.
#[derive(Debug, Default, Deserialize)]
pub struct GatewayContext {
    pub request_id: Option<String>,
    pub request_time: Option<String>,
    #[serde(default)]
    pub caller: Map<String, Value>,
    pub region: Option<String>,
    pub upstream: Option<String>,
}

/// Why a call's context was refused (the call is answered 400 and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Repeated,
    SignatureMissing,
    SignatureMalformed,
    SignatureExpired,
    SignatureInvalid,
    Unreadable,
}

impl Refusal {
    /// The error code of the 400 answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "context_missing",
            Self::Repeated => "context_repeated",
            Self::SignatureMissing => "context_signature_missing",
            Self::SignatureMalformed => "context_signature_malformed",
            Self::SignatureExpired => "context_signature_expired",
            Self::SignatureInvalid => "context_signature_invalid",
            Self::Unreadable => "context_unreadable",
        }
    }

    /// What is wrong, for the caller (names headers, never their values).
    pub fn message(self, max_skew_secs: u64) -> String {
        match self {
            Self::Missing => format!(
                "this proxy takes calls only through APIM's route-streaming policy, which sends {CONTEXT_HEADER}"
            ),
            Self::Repeated => format!("{CONTEXT_HEADER} or {SIGNATURE_HEADER} appears more than once"),
            Self::SignatureMissing => {
                format!("{CONTEXT_HEADER} without {SIGNATURE_HEADER}: unsigned contexts are not believed")
            }
            Self::SignatureMalformed => {
                format!("{SIGNATURE_HEADER} is not `t=<unix seconds>,v1=<base64 HMAC-SHA256>`")
            }
            Self::SignatureExpired => format!(
                "the time in {SIGNATURE_HEADER} is more than {max_skew_secs} s from the proxy's clock"
            ),
            Self::SignatureInvalid => format!(
                "{SIGNATURE_HEADER} does not match this call's method, path and {CONTEXT_HEADER} under the proxy's context_secret"
            ),
            Self::Unreadable => format!("{CONTEXT_HEADER} is signed but not base64 of a JSON object"),
        }
    }
}

/// Checks contexts against the secret APIM signs them with.
pub struct Verifier {
    secret: Vec<u8>,
    max_skew_secs: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &"<redacted>")
            .field("max_skew_secs", &self.max_skew_secs)
            .finish()
    }
}

impl Verifier {
    pub fn new(secret: &str, max_skew_secs: u64) -> Self {
        Self {
            secret: secret.as_bytes().to_vec(),
            max_skew_secs,
        }
    }

    pub fn max_skew_secs(&self) -> u64 {
        self.max_skew_secs
    }

    /// The context of a call, if APIM's signature on it checks at `now` (unix seconds).
    pub fn check(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<GatewayContext, Refusal> {
        let context = single(headers, CONTEXT_HEADER)?.ok_or(Refusal::Missing)?;
        let signature = single(headers, SIGNATURE_HEADER)?.ok_or(Refusal::SignatureMissing)?;
        let (timestamp, mac) = parse_signature(signature).ok_or(Refusal::SignatureMalformed)?;
        if now.abs_diff(timestamp) > self.max_skew_secs {
            return Err(Refusal::SignatureExpired);
        }
        // verify_slice compares in constant time.
        mac_of(&self.secret, timestamp, method, path, context)
            .verify_slice(&mac)
            .map_err(|_| Refusal::SignatureInvalid)?;
        decode(context).ok_or(Refusal::Unreadable)
    }
}

/// The value of a header that may appear once at most.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a [u8]>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Refusal::Repeated);
    }
    Ok(first.map(|v| v.as_bytes().trim_ascii()))
}

/// `t=<digits>,v1=<base64>`, in that order.
fn parse_signature(value: &[u8]) -> Option<(i64, Vec<u8>)> {
    let text = std::str::from_utf8(value).ok()?;
    let (t, v1) = text.split_once(',')?;
    let timestamp = t.trim().strip_prefix("t=")?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mac = base64::engine::general_purpose::STANDARD
        .decode(v1.trim().strip_prefix("v1=")?)
        .ok()?;
    Some((timestamp.parse().ok()?, mac))
}

fn decode(context: &[u8]) -> Option<GatewayContext> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(context).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The HMAC over the signed text: label, time, method, path, context, one per line.
fn mac_of(secret: &[u8], timestamp: i64, method: &str, path: &str, context: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    for (i, part) in [
        SIGNATURE_LABEL.as_bytes(),
        timestamp.to_string().as_bytes(),
        method.as_bytes(),
        path.as_bytes(),
        context,
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            mac.update(b"\n");
        }
        mac.update(part);
    }
    mac
}

/// `x-tokentally-signature` for a context, as APIM's policy writes it: what
/// tests and benches send to play APIM.
pub fn signature_header(secret: &str, timestamp: i64, method: &str, path: &str, context: &str) -> String {
    let mac = mac_of(secret.as_bytes(), timestamp, method, path, context.as_bytes()).finalize();
    let mac = base64::engine::general_purpose::STANDARD.encode(mac.into_bytes());
    format!("t={timestamp},v1={mac}")
}

#[cfg(test)]
mod tests;

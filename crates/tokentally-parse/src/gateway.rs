//! The gateway record: the input contract (docs/formats.md, "Gateway record").

use crate::shallow::Shallow;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

/// The only gateway record version this build understands.
pub const GATEWAY_SCHEMA: i64 = 1;

/// One AOAI call as the capture proxy or the APIM policy logged it.
///
/// Fields are optional here so that a record missing one is reported by name
/// (see [`crate::ParseError::MissingField`]) rather than as a serde message.
///
/// `parse_record` reads it straight from the record's text, and from a `Value`
/// only when that fails. For both to accept the same records, unknown members
/// are not skipped (serde's skipping checks less than a `Value` does: nesting
/// depth, number range, lone surrogates) but collected through `flatten`,
/// which reads them as fully as a `Value` would, and then dropped.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GatewayRecord {
    pub schema: Option<i64>,
    pub request_id: Option<String>,
    pub request_time: Option<String>,
    #[serde(default)]
    pub caller: Caller,
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    pub operation: Option<String>,
    /// The caller's request, read to a bounded depth (`shallow.rs`).
    #[serde(default)]
    pub request: Shallow,
    #[serde(default)]
    pub response: Response,
    pub region: Option<String>,
    pub backend: Option<String>,
    pub latency_ms: Option<i64>,
    /// What the producer left out and why (`{"reason", "fields"}`), as written.
    pub dropped: Option<Value>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

impl GatewayRecord {
    /// What the producer says it dropped; `None` when it says nothing.
    pub fn dropped_parts(&self) -> Option<Dropped> {
        let dropped = self.dropped.as_ref()?;
        let fields: Vec<String> = dropped
            .get("fields")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let reason = dropped.get("reason").and_then(Value::as_str).map(str::to_owned);
        (!fields.is_empty() || reason.is_some()).then_some(Dropped { fields, reason })
    }

    /// The record read straight from its text, without building a `Value` of the
    /// whole record first. `None` for every record the `Value` reading in
    /// `parse_record` would reject or read differently (not an object, another
    /// schema, a repeated member, a mistyped field): that reading then gives the
    /// result, and its error.
    pub fn from_text(text: &str) -> Option<Self> {
        // serde would read a struct from an array too.
        if !text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
            return None;
        }
        serde_json::from_str::<Self>(text)
            .ok()
            .filter(|record| record.schema == Some(GATEWAY_SCHEMA))
    }
}

/// What a producer says it left out of a record (its `dropped` member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub fields: Vec<String>,
    pub reason: Option<String>,
}

impl Dropped {
    /// Whether nothing is left to count tokens from: the request and the
    /// response's content (its body, and its stream unless `sse` was kept) went.
    pub fn leaves_nothing_to_count(&self, sse_kept: bool) -> bool {
        let has = |f: &str| self.fields.iter().any(|d| d == f);
        has("request") && (has("response") || (has("response.body") && !sse_kept))
    }
}

/// Who made the call; every member is optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Caller {
    pub authorization: Option<String>,
    pub claims: Option<Map<String, Value>>,
    pub subscription_id: Option<String>,
    pub subscription_name: Option<String>,
    pub product: Option<String>,
    /// Salted fingerprint of the caller's `api-key` header (the capture proxy's), so
    /// key-based callers without a subscription are still told apart.
    pub api_key_fingerprint: Option<String>,
    /// `ip` and whatever else a producer adds.
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// What AOAI answered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Response {
    pub status: Option<u16>,
    #[serde(default)]
    pub body: Value,
    pub sse: Option<String>,
    pub complete: Option<bool>,
    /// The call was streamed although the capture holds the assembled body, not the
    /// SSE bytes (APIM's LLM log rejoined by ingest).
    pub streamed: Option<bool>,
    #[serde(flatten)]
    pub unknown: Unknown,
}

/// Members of the record that this build does not read (see [`GatewayRecord`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unknown;

impl<'de> Deserialize<'de> for Unknown {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Already read in full while collected; only the collection is drained.
        IgnoredAny::deserialize(d).map(|_| Self)
    }
}

//! The gateway record: the input contract (docs/formats.md, "Gateway record").

use serde::Deserialize;
use serde_json::{Map, Value};

/// The only gateway record version this build understands.
pub const GATEWAY_SCHEMA: i64 = 1;

/// One AOAI call as the capture proxy or the APIM policy logged it.
///
/// Fields are optional here so that a record missing one is reported by name
/// (see [`crate::ParseError::MissingField`]) rather than as a serde message.
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
    #[serde(default)]
    pub request: Value,
    #[serde(default)]
    pub response: Response,
    pub region: Option<String>,
    pub backend: Option<String>,
    pub latency_ms: Option<i64>,
}

/// Who made the call; every member is optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Caller {
    pub authorization: Option<String>,
    pub claims: Option<Map<String, Value>>,
    pub subscription_id: Option<String>,
    pub subscription_name: Option<String>,
    pub product: Option<String>,
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
}

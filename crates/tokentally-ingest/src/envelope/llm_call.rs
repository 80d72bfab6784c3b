//! One call's LLM-log records merged into a gateway record (docs/formats.md), then
//! parsed like any other, so identity, estimation and event ids follow one code
//! path: `request_id` is the `CorrelationId`, which is APIM's request id, so a
//! call also captured by the gateway-record policy is counted once.
//!
//! Merging does not depend on the order records arrived in: fields are taken from
//! the token row first (the row with the deployment and tokens, as Microsoft's
//! cost queries select it: `DeploymentName != ''`), then from the other rows by
//! sequence number; an empty value never stands in for a filled one, and token
//! counts are the largest any row carries.

use super::Decoded;
use super::Expiry;
use super::diagnostic::DiagRecord;
use chrono::DateTime;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use tokentally_core::{SourcePosition, UsageRecord};
use tokentally_parse::usage::whole_count;

const REQUEST: &[&str] = &["RequestMessages"];
const RESPONSE: &[&str] = &["ResponseMessages"];
const TOKENS: [&[&str]; 3] = [&["PromptTokens"], &["CompletionTokens"], &["TotalTokens"]];
/// Not in Azure's table; read when an exporter adds it.
const CACHED: &[&str] = &["CachedTokens", "CachedPromptTokens"];
// The gateway log's columns (Log Analytics name, resource-log name).
const TIME: &[&str] = &["TimeGenerated", "time"];
const REGION: &[&str] = &["Region", "location"];
const URL: &[&str] = &["Url"];
const BACKEND: &[&str] = &["BackendUrl"];
const STATUS: &[&str] = &["ResponseCode", "BackendResponseCode"];
const LATENCY: &[&str] = &["TotalTime", "durationMs"];

/// One held LLM-log record: what deciding readiness needs, and its bytes.
#[derive(Debug)]
pub(super) struct LlmRecord {
    pub(super) seq: Option<i64>,
    /// Carries the deployment or a token count: the row that bills.
    pub(super) token_row: bool,
    request: bool,
    response: bool,
    pub(super) raw: Vec<u8>,
}

impl LlmRecord {
    pub(super) fn new(record: DiagRecord<'_>) -> Self {
        let tokens = TOKENS.iter().any(|names| {
            record
                .get(names)
                .is_some_and(|v| whole_count(&logged_count(v)).is_ok_and(|n| n > 0))
        });
        Self {
            seq: record.int(&["SequenceNumber"]),
            token_row: tokens || record.str(&["DeploymentName"]).is_some(),
            request: messages(record, REQUEST).is_some(),
            response: messages(record, RESPONSE).is_some(),
            raw: serde_json::to_vec(record.0).unwrap_or_default(),
        }
    }

    /// Two different records with the message fragment of one side at one place.
    pub(super) fn clashes_with(&self, other: &Self) -> bool {
        self.seq.is_some()
            && self.seq == other.seq
            && ((self.request && other.request) || (self.response && other.response))
            && self.raw != other.raw
    }
}

/// A record's messages of one side, unless empty.
fn messages<'a>(record: DiagRecord<'a>, side: &[&str]) -> Option<&'a Value> {
    record.get(side).filter(|v| match v {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    })
}

/// No sequence number is missing between those seen (counting from 0 or 1).
pub(super) fn sequence_complete(seqs: impl Iterator<Item = Option<i64>>) -> bool {
    let seen: BTreeSet<i64> = seqs.flatten().collect();
    let n = i64::try_from(seen.len()).unwrap_or(i64::MAX);
    seen.is_empty() || seen.iter().copied().eq(0..n) || seen.iter().copied().eq(1..=n)
}

/// The call as a usage row, or a quarantine entry when nothing billable arrived.
pub(super) fn decode(
    id: &str,
    position: &SourcePosition,
    records: &[LlmRecord],
    gateway: Option<&[u8]>,
    why: Option<&Expiry>,
) -> Decoded {
    let token_row = records.iter().any(|r| r.token_row);
    if !token_row && !records.iter().any(|r| r.request || r.response) {
        let reason = format!(
            "LLM log {id}: neither a token row nor messages arrived, nothing to bill{}",
            why.map(|w| format!(" ({})", w.describe())).unwrap_or_default()
        );
        return Decoded::Bad {
            kind: "incomplete_llm_log".to_owned(),
            reason,
            raw: Some(raw_lines(records)),
        };
    }
    let values: Vec<(&LlmRecord, Value)> = records
        .iter()
        .filter_map(|r| Some((r, serde_json::from_slice(&r.raw).ok()?)))
        .collect();
    let gateway: Option<Value> = gateway.and_then(|g| serde_json::from_slice(g).ok());
    let record = gateway_record(id, &values, gateway.as_ref().map(DiagRecord));
    match parsed(&format!("LLM log {id}"), &record, position) {
        Ok(mut row) => {
            let mut notes: Vec<String> = Vec::new();
            if !token_row {
                notes.push("LLM log: no token row arrived; tokens estimated from the logged messages".into());
            }
            if let Some(why) = why {
                notes.push(format!(
                    "LLM log written before all its records arrived: {}",
                    why.describe()
                ));
            }
            notes.extend(row.notes.take());
            row.notes = (!notes.is_empty()).then(|| notes.join("; "));
            Decoded::Row(row)
        }
        Err(bad) => bad,
    }
}

/// A merged record parsed like any gateway record; quarantined with its bytes,
/// the error named after `what`, when it does not parse.
fn parsed(what: &str, record: &Value, position: &SourcePosition) -> Result<Box<UsageRecord>, Decoded> {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    tokentally_parse::parse_record(&bytes, position.clone())
        .map(Box::new)
        .map_err(|e| Decoded::Bad {
            kind: e.kind().to_owned(),
            reason: format!("{what}: {e}"),
            raw: Some(bytes),
        })
}

/// A URL without its query: the operation a gateway log names.
fn url_path(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The records as JSON Lines, for quarantine.
fn raw_lines(records: &[LlmRecord]) -> Vec<u8> {
    let mut raw = Vec::new();
    for r in records {
        raw.extend_from_slice(&r.raw);
        raw.push(b'\n');
    }
    raw
}

/// The merged call as a gateway record (schema 1).
fn gateway_record(id: &str, values: &[(&LlmRecord, Value)], gateway: Option<DiagRecord<'_>>) -> Value {
    // Token rows first, then by sequence number, then by bytes: one order
    // whatever order the records arrived in.
    let mut sorted: Vec<&(&LlmRecord, Value)> = values.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| (!a.token_row, a.seq, &a.raw).cmp(&(!b.token_row, b.seq, &b.raw)));
    let rows: Vec<DiagRecord<'_>> = sorted.iter().map(|(_, v)| DiagRecord(v)).collect();
    let text = |names: &[&str]| rows.iter().find_map(|r| r.str(names));
    // Counts come from the token rows only: message rows may carry zeros.
    let token_rows: Vec<DiagRecord<'_>> = sorted
        .iter()
        .filter(|(r, _)| r.token_row)
        .map(|(_, v)| DiagRecord(v))
        .collect();
    let counts = |names: &[&str]| count_of(&token_rows, names);
    let gw_str = |names: &[&str]| gateway.and_then(|g| g.str(names));
    let token_row = values.iter().any(|(r, _)| r.token_row);
    // Tokens counted from part of the call: no token row, or a chunk missing.
    let complete = token_row && sequence_complete(values.iter().map(|(r, _)| r.seq));

    let model = text(&["ModelName", "Model"]);
    let streamed = rows
        .iter()
        .find_map(|r| r.bool(&["IsStreamCompletion"]))
        .unwrap_or(false);
    let side = |names: &[&str]| {
        let mut parts: Vec<(Option<i64>, &Vec<u8>, &Value)> = sorted
            .iter()
            .filter_map(|(r, v)| Some((r.seq, &r.raw, messages(DiagRecord(v), names)?)))
            .collect();
        parts.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        join(parts.into_iter().map(|(_, _, v)| v))
    };
    let response = side(RESPONSE);

    let mut request = Map::new();
    if let Some(model) = model {
        request.insert("model".into(), model.into());
    }
    request.insert("stream".into(), streamed.into());
    if let Some(messages) = side(REQUEST) {
        request.insert("messages".into(), messages);
    }

    let mut body = Map::new();
    body.insert("object".into(), "chat.completion".into());
    if let Some(model) = model {
        body.insert("model".into(), model.into());
    }
    let body_usage = response
        .as_ref()
        .and_then(|r| r.get("usage"))
        .filter(|u| u.is_object())
        .cloned();
    body.insert("choices".into(), response.map_or_else(|| json!([]), choices));
    if let Some(usage) = usage(token_row, &counts, body_usage) {
        body.insert("usage".into(), usage);
    }

    let status = gateway.and_then(|g| g.int(STATUS)).unwrap_or(200);
    let operation = gw_str(URL).map(|url| url_path(url).to_owned()).or_else(|| {
        rows.iter()
            .find_map(|r| r.str(&["OperationName"]).and_then(operation_of))
    });
    json!({
        "schema": 1,
        "request_id": id,
        "request_time": request_time(&rows, token_row).or_else(|| gw_str(TIME)),
        "caller": caller(gateway),
        "deployment": text(&["DeploymentName"]),
        "api_version": text(&["ApiVersion"]),
        "operation": operation,
        "request": request,
        "response": {"status": status, "body": body, "streamed": streamed, "complete": complete},
        "region": text(REGION).or_else(|| gw_str(REGION)),
        "backend": gw_str(BACKEND),
        "latency_ms": gateway.and_then(|g| g.int(LATENCY)),
    })
}

/// Says what a gateway log copy of a call left out, for the parser.
const GATEWAY_ONLY: &str = "an APIM gateway log whose LLM log this source did not carry \
                            (another partition or capture file): the call's tokens are in the LLM log's copy";

/// A gateway log whose call's LLM log this source did not carry, written as a
/// copy of the call that names its caller and has nothing to count tokens from.
/// The copy built from the LLM log (another Event Hubs partition, another
/// capture file) carries the tokens; the report takes the tokens from the copy
/// that has them and the caller from the copy that names it (`dedup.rs` in the
/// report), as the SQL `calls` view does. A failed call with no LLM log is a
/// failed call of no tokens. `None` for the gateway log of an API that is not
/// Azure OpenAI (APIM logs every API it fronts).
pub(super) fn gateway_copy(id: &str, position: &SourcePosition, gateway: &[u8]) -> Option<Decoded> {
    let value: Value = serde_json::from_slice(gateway).ok()?;
    let gateway = DiagRecord(&value);
    let url = gateway.str(URL);
    let backend = gateway.str(BACKEND);
    let openai = [url, backend]
        .into_iter()
        .flatten()
        .any(|u| u.contains("/openai/") || u.contains(".openai.azure.com"));
    if !openai {
        return None;
    }
    let path = url.map(url_path);
    let deployment = path.and_then(|p| p.split("/deployments/").nth(1)?.split('/').next());
    let record = json!({
        "schema": 1,
        "request_id": id,
        "request_time": gateway.str(TIME),
        "caller": caller(Some(gateway)),
        "deployment": deployment,
        "operation": path,
        "request": null,
        "response": {"status": gateway.int(STATUS).unwrap_or(0), "body": null},
        "region": gateway.str(REGION),
        "backend": backend,
        "latency_ms": gateway.int(LATENCY),
        "dropped": {"reason": GATEWAY_ONLY, "fields": ["request", "response"]},
    });
    Some(parsed(&format!("gateway log {id}"), &record, position).map_or_else(|bad| bad, Decoded::Row))
}

/// The caller as the gateway log names it.
fn caller(gateway: Option<DiagRecord<'_>>) -> Map<String, Value> {
    let mut caller = Map::new();
    for (key, names) in [
        ("subscription_id", &["ApimSubscriptionId"][..]),
        ("product", &["ProductId"][..]),
        ("ip", &["CallerIpAddress"][..]),
    ] {
        if let Some(v) = gateway.and_then(|g| g.str(names)) {
            caller.insert(key.into(), v.into());
        }
    }
    caller
}

/// The token row's time (when the call began, by Microsoft's table), else the
/// earliest any record carries.
fn request_time<'a>(rows: &[DiagRecord<'a>], token_row: bool) -> Option<&'a str> {
    if token_row && let Some(time) = rows.first().and_then(|r| r.str(TIME)) {
        return Some(time);
    }
    rows.iter()
        .filter_map(|r| r.str(TIME))
        .min_by_key(|t| DateTime::parse_from_rfc3339(t).ok())
}

/// Reported usage from the token rows; cached and reasoning tokens where the log
/// carries them (a `CachedTokens` column, or a `usage` object in the logged
/// response body). Azure's table has neither, so they are usually 0. The counts
/// go into the record as logged, so the usage parser accepts (`640.0`) or
/// rejects them by name, never reads a bad one as none.
fn usage(
    token_row: bool,
    counts: &dyn Fn(&[&str]) -> Option<Value>,
    body_usage: Option<Value>,
) -> Option<Value> {
    let [prompt, completion, total] = TOKENS.map(counts);
    if !token_row || (prompt.is_none() && completion.is_none()) {
        return None;
    }
    let detail = |outer: &str, inner: &str| {
        body_usage
            .as_ref()
            .and_then(|u| u.get(outer)?.get(inner))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let mut usage = Map::new();
    for (name, value) in [
        ("prompt_tokens", prompt),
        ("completion_tokens", completion),
        ("total_tokens", total),
    ] {
        if let Some(value) = value {
            usage.insert(name.into(), value);
        }
    }
    if let Some(cached) = counts(CACHED).or_else(|| detail("prompt_tokens_details", "cached_tokens")) {
        usage.insert("prompt_tokens_details".into(), json!({ "cached_tokens": cached }));
    }
    if let Some(reasoning) = detail("completion_tokens_details", "reasoning_tokens") {
        usage.insert(
            "completion_tokens_details".into(),
            json!({ "reasoning_tokens": reasoning }),
        );
    }
    Some(Value::Object(usage))
}

/// A count as a log row holds it: a number, or a string holding one (some
/// exporters write numbers as text); anything else as it is.
fn logged_count(value: &Value) -> Value {
    match value {
        Value::String(s) => s
            .trim()
            .parse::<serde_json::Number>()
            .map_or_else(|_| value.clone(), Value::Number),
        other => other.clone(),
    }
}

/// One count over a call's token rows: the largest when every row's is a count
/// (Azure repeats a call's counts on each of its token rows), else the first
/// that is not, so the usage parser names it; `None` when no row has one.
fn count_of(token_rows: &[DiagRecord<'_>], names: &[&str]) -> Option<Value> {
    let values: Vec<Value> = token_rows
        .iter()
        .filter_map(|r| r.get(names))
        .map(logged_count)
        .collect();
    if let Some(bad) = values.iter().find(|v| whole_count(v).is_err()) {
        return Some(bad.clone());
    }
    values.into_iter().max_by_key(|v| whole_count(v).unwrap_or(0))
}

/// Rejoins message chunks in order: arrays are concatenated; string fragments
/// are concatenated and read as JSON when they form JSON, else kept as text (a
/// message cut at the API's log size limit stays readable text).
fn join<'a>(parts: impl Iterator<Item = &'a Value>) -> Option<Value> {
    let parts: Vec<&Value> = parts.collect();
    if parts.is_empty() {
        return None;
    }
    if let [whole] = parts[..]
        && !whole.is_string()
    {
        return Some(whole.clone());
    }
    if parts.iter().all(|p| p.is_string()) {
        let text: String = parts.iter().filter_map(|p| p.as_str()).collect();
        return Some(serde_json::from_str(&text).unwrap_or(Value::String(text)));
    }
    let mut items = Vec::new();
    for part in parts {
        match part {
            Value::Array(a) => items.extend(a.iter().cloned()),
            other => items.push(other.clone()),
        }
    }
    Some(Value::Array(items))
}

/// Response messages as chat choices: a list of messages, a list of choices, a
/// whole body, or bare text.
fn choices(messages: Value) -> Value {
    let as_choice = |(i, m): (usize, Value)| match m {
        Value::Object(ref o) if o.contains_key("message") => m,
        Value::String(text) => json!({"index": i, "message": {"role": "assistant", "content": text}}),
        m => json!({"index": i, "message": m}),
    };
    match messages {
        Value::Object(mut o) if o.contains_key("choices") => o.remove("choices").unwrap_or_default(),
        Value::Array(items) => Value::Array(items.into_iter().enumerate().map(as_choice).collect()),
        other => Value::Array(vec![as_choice((0, other))]),
    }
}

/// APIM operation names (`ChatCompletions_Create`, `Embeddings_Create` …) to the
/// gateway record's operation.
fn operation_of(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let op = if lower.contains("chat") {
        "chat/completions"
    } else if lower.contains("embedding") {
        "embeddings"
    } else if lower.contains("response") {
        "responses"
    } else if lower.contains("completion") {
        "completions"
    } else {
        return None;
    };
    Some(op.to_owned())
}

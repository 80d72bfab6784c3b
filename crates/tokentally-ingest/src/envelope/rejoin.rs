//! Rejoining API Management's LLM log. Messages over 32 KB are logged as several
//! records with one `CorrelationId` and increasing `SequenceNumber`, possibly in
//! different events; the gateway log with the same `CorrelationId` names the caller's
//! subscription. A joined call is rewritten as a gateway record (docs/formats.md) and
//! parsed like any other, so identity, estimation and event ids follow one code path:
//! `request_id` is the `CorrelationId`, which is APIM's request id, so a call also
//! captured by the gateway-record policy is counted once.

use super::Decoded;
use super::diagnostic::DiagRecord;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use tokentally_core::SourcePosition;

/// One LLM-log chunk: the parts of a record that differ between chunks.
#[derive(Debug, Clone)]
struct Chunk {
    request: Option<Value>,
    response: Option<Value>,
}

#[derive(Debug)]
struct Group {
    correlation_id: String,
    position: SourcePosition,
    /// The first LLM record seen: model, deployment, tokens, time.
    llm: Option<Value>,
    chunks: BTreeMap<i64, Chunk>,
    /// The largest token counts any chunk reported (some exporters repeat them on
    /// every chunk, some put them on one).
    tokens: [Option<i64>; 3],
    gateway: Option<Value>,
}

/// LLM-log chunks and gateway logs of the current batch, grouped by `CorrelationId`
/// in arrival order (so output order, and with it file bytes, is deterministic).
#[derive(Debug, Default)]
pub(crate) struct Rejoin {
    index: HashMap<String, usize>,
    groups: Vec<Group>,
}

const CORRELATION: &[&str] = &["CorrelationId", "correlationId"];

impl Rejoin {
    fn group(&mut self, correlation_id: &str, position: &SourcePosition) -> &mut Group {
        let next = self.groups.len();
        let i = *self.index.entry(correlation_id.to_owned()).or_insert(next);
        if i == next {
            self.groups.push(Group {
                correlation_id: correlation_id.to_owned(),
                position: position.clone(),
                llm: None,
                chunks: BTreeMap::new(),
                tokens: [None; 3],
                gateway: None,
            });
        }
        &mut self.groups[i]
    }

    pub(super) fn add_llm(
        &mut self,
        record: DiagRecord<'_>,
        position: &SourcePosition,
    ) -> Result<(), String> {
        let id = record.str(CORRELATION).ok_or("no CorrelationId")?;
        let seq = record.int(&["SequenceNumber"]).unwrap_or(0);
        let tokens = [
            record.int(&["PromptTokens"]),
            record.int(&["CompletionTokens"]),
            record.int(&["TotalTokens"]),
        ];
        let chunk = Chunk {
            request: record.get(&["RequestMessages"]).cloned(),
            response: record.get(&["ResponseMessages"]).cloned(),
        };
        let group = self.group(id, position);
        if group.chunks.insert(seq, chunk).is_some() {
            return Err(format!("SequenceNumber {seq} of CorrelationId {id} seen twice"));
        }
        for (have, new) in group.tokens.iter_mut().zip(tokens) {
            *have = (*have).max(new);
        }
        group.llm.get_or_insert_with(|| record.0.clone());
        Ok(())
    }

    pub(super) fn add_gateway(
        &mut self,
        record: DiagRecord<'_>,
        position: &SourcePosition,
    ) -> Result<(), String> {
        let id = record.str(CORRELATION).ok_or("no CorrelationId")?;
        let group = self.group(id, position);
        group.gateway.get_or_insert_with(|| record.0.clone());
        Ok(())
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<(SourcePosition, Decoded)>) {
        self.index.clear();
        for group in self.groups.drain(..) {
            let position = group.position.clone();
            let decoded = match group.llm.is_some() {
                false => Decoded::Skipped {
                    what: "gateway log without an LLM log".to_owned(),
                },
                true => {
                    let record = gateway_record(&group);
                    let bytes = serde_json::to_vec(&record).unwrap_or_default();
                    match tokentally_parse::parse_record(&bytes, position.clone()) {
                        Ok(row) => Decoded::Row(Box::new(row)),
                        Err(e) => Decoded::Bad {
                            kind: e.kind().to_owned(),
                            reason: format!("LLM log {}: {e}", group.correlation_id),
                            raw: Some(bytes),
                        },
                    }
                }
            };
            out.push((position, decoded));
        }
    }
}

/// The joined call as a gateway record (schema 1).
fn gateway_record(group: &Group) -> Value {
    let empty = Value::Null;
    let llm = DiagRecord(group.llm.as_ref().unwrap_or(&empty));
    let gateway = group.gateway.as_ref().map(DiagRecord);
    let gw_str = |names: &[&str]| gateway.and_then(|g| g.str(names));
    let model = llm.str(&["ModelName", "Model"]);
    let streamed = llm.bool(&["IsStreamCompletion"]).unwrap_or(false);
    // Sequence numbers count from 0 or from 1; a gap means a chunk never arrived.
    let n = i64::try_from(group.chunks.len()).unwrap_or(i64::MAX);
    let keys = || group.chunks.keys().copied();
    let complete = keys().eq(0..n) || keys().eq(1..=n);

    let mut request = Map::new();
    if let Some(model) = model {
        request.insert("model".into(), model.into());
    }
    request.insert("stream".into(), streamed.into());
    if let Some(messages) = join(group.chunks.values().map(|c| c.request.as_ref())) {
        request.insert("messages".into(), messages);
    }

    let mut body = Map::new();
    body.insert("object".into(), "chat.completion".into());
    if let Some(model) = model {
        body.insert("model".into(), model.into());
    }
    let choices = join(group.chunks.values().map(|c| c.response.as_ref())).map(choices);
    body.insert("choices".into(), choices.unwrap_or_else(|| json!([])));
    if let [Some(prompt), Some(completion), total] = group.tokens {
        body.insert(
            "usage".into(),
            json!({"prompt_tokens": prompt, "completion_tokens": completion,
                   "total_tokens": total.unwrap_or(prompt + completion)}),
        );
    }

    let status = gateway
        .and_then(|g| g.int(&["ResponseCode", "BackendResponseCode"]))
        .unwrap_or(200);
    let mut caller = Map::new();
    for (key, names) in [
        ("subscription_id", &["ApimSubscriptionId"][..]),
        ("product", &["ProductId"][..]),
        ("ip", &["CallerIpAddress"][..]),
    ] {
        if let Some(v) = gw_str(names) {
            caller.insert(key.into(), v.into());
        }
    }
    let time = llm
        .str(&["TimeGenerated", "time"])
        .or_else(|| gw_str(&["TimeGenerated", "time"]));
    let operation = gw_str(&["Url"])
        .map(|url| url.split('?').next().unwrap_or(url).to_owned())
        .or_else(|| llm.str(&["OperationName"]).and_then(operation_of));
    json!({
        "schema": 1,
        "request_id": group.correlation_id,
        "request_time": time,
        "caller": caller,
        "deployment": llm.str(&["DeploymentName"]),
        "api_version": llm.str(&["ApiVersion"]),
        "operation": operation,
        "request": request,
        "response": {"status": status, "body": body, "streamed": streamed, "complete": complete},
        "region": llm.str(&["Region", "location"]).or_else(|| gw_str(&["Region", "location"])),
        "backend": gw_str(&["BackendUrl"]),
        "latency_ms": gateway.and_then(|g| g.int(&["TotalTime", "durationMs"])),
    })
}

/// Rejoins message chunks: arrays are concatenated; string fragments are
/// concatenated and read as JSON when they form JSON, else kept as text.
fn join<'a>(parts: impl Iterator<Item = Option<&'a Value>>) -> Option<Value> {
    let parts: Vec<&Value> = parts.flatten().collect();
    if parts.is_empty() {
        return None;
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

//! One gateway record in, one usage record out: ties together the envelope,
//! identity, output reconstruction and token counting.

use crate::gateway::{GATEWAY_SCHEMA, GatewayRecord, Response};
use crate::output::{Output, rebuild_stream_str};
use crate::tokens::{count_tokens, estimate_chat_prompt, estimate_responses_input, estimate_text_input};
use crate::usage::read_usage;
use crate::{ParseError, identity};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokentally_core::{
    Encoding, ModelInfo, Operation, SourcePosition, UsageRecord, UsageSource, lookup_model,
};

/// The tokenizer used for a model the catalog does not know; the row says so.
const FALLBACK_ENCODING: Encoding = Encoding::O200kBase;

/// Parses one gateway record (one JSON document) into its usage row.
///
/// Never panics. Input that is not a gateway record is an error; a record whose
/// response is odd (cut off, unparsable events, unknown model) still gives a row,
/// with `partial` set and the reason in `notes`.
///
/// # Errors
/// The record is not UTF-8 JSON, has an unknown `schema`, lacks `request_id` or
/// a valid `request_time`, or reports a usage that cannot be true (a count that
/// is negative, fractional or above the per-call bound, parts above their whole).
pub fn parse_record(raw: &[u8], source: SourcePosition) -> Result<UsageRecord, ParseError> {
    let text = std::str::from_utf8(raw).map_err(|e| ParseError::InvalidUtf8(e.valid_up_to()))?;
    // From the validated `str`: serde_json does not validate every string again
    // (the `sse` string is most of a streamed record).
    match GatewayRecord::from_text(text) {
        Some(record) => build(record, source),
        None => parse_value(text, source),
    }
}

/// The record read as a `Value` first: the reference reading, which decides
/// every record the typed reading declines, with its error.
fn parse_value(text: &str, source: SourcePosition) -> Result<UsageRecord, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    if !value.is_object() {
        return Err(ParseError::InvalidJson("expected an object".to_owned()));
    }
    match value.get("schema") {
        Some(Value::Number(n)) if n.as_i64() == Some(GATEWAY_SCHEMA) => {}
        Some(other) => return Err(ParseError::UnknownSchema(other.to_string())),
        None => return Err(ParseError::MissingField("schema")),
    }
    let record: GatewayRecord = serde_json::from_value(value).map_err(|e| ParseError::InvalidField {
        field: "record",
        reason: e.to_string(),
    })?;
    build(record, source)
}

fn build(mut record: GatewayRecord, source: SourcePosition) -> Result<UsageRecord, ParseError> {
    let (request_id, request_time) = call_key(&mut record)?;
    let mut notes = Vec::new();
    let dropped = record.dropped_parts();
    // A copy with nothing to count from (an APIM gateway log standing in for
    // its call, or a record past the policy's size limit) is not estimated: its
    // usage is unknown here, not zero.
    let estimable = !dropped
        .as_ref()
        .is_some_and(|d| d.leaves_nothing_to_count(record.response.sse.is_some()));
    let request = std::mem::take(&mut record.request);
    if request.cut {
        notes.push(format!(
            "the request is nested deeper than {} levels: its deepest parts are not read",
            crate::shallow::MAX_DEPTH
        ));
    }
    let id = identity::identify(&record.caller);
    notes.extend(id.note.clone());
    let operation = match record.operation.as_deref() {
        Some(op) => Operation::from_path(op),
        None => infer_operation(&request.value, record.deployment.as_deref()),
    };
    let status = record.response.status.unwrap_or(0);
    let Answer {
        output,
        partial,
        streamed,
    } = answer(&record.response, &mut notes);

    let request_model = request
        .value
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    // The stored model is only what the call named: a failed call's error body
    // names none, and the deployment's name is not a model (docs/formats.md).
    let model = output.model.clone().or(request_model.map(str::to_owned));
    // The tokenizer may still be chosen by a deployment named after its model.
    let catalog = model
        .as_deref()
        .or(record.deployment.as_deref())
        .and_then(lookup_model);

    let mut row = UsageRecord {
        event_id: event_id(&request_id),
        request_id: Some(request_id),
        request_time,
        app_id: id.app_id,
        app_id_source: id.app_id_source,
        tenant_id: id.tenant_id,
        object_id: id.object_id,
        subscription: id.subscription,
        product: id.product,
        deployment: record.deployment,
        model_family: model
            .as_deref()
            .and_then(lookup_model)
            .map(|info| info.family.to_owned()),
        model,
        api_version: record.api_version,
        operation,
        streamed,
        status,
        prompt_tokens: 0,
        cached_prompt_tokens: 0,
        audio_prompt_tokens: 0,
        cached_audio_prompt_tokens: 0,
        image_prompt_tokens: 0,
        cached_image_prompt_tokens: 0,
        completion_tokens: 0,
        reasoning_tokens: 0,
        audio_completion_tokens: 0,
        image_completion_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
        total_tokens: 0,
        estimated_prompt_tokens: None,
        estimated_completion_tokens: None,
        usage_source: UsageSource::None,
        encoding: None,
        finish_reason: finish_reasons(&output),
        choice_count: i32::try_from(output.choices.len()).unwrap_or(i32::MAX),
        partial,
        region: record.region.as_deref().and_then(crate::region::region_id),
        backend: record.backend,
        latency_ms: record.latency_ms,
        notes: None,
        source,
    };

    count(&mut row, catalog, &request.value, &output, estimable, &mut notes)?;
    // An estimate from part of the request counts part of the call.
    if request.cut && row.usage_source == UsageSource::Estimated {
        row.partial = true;
    }
    // So does one from a record whose producer dropped bodies (the APIM policy
    // past its 200 KB message limit), and a successful call with nothing left to
    // count from has unknown usage: say what went.
    let unknown = !estimable && row.usage_source == UsageSource::None && succeeded(row.status);
    if (row.usage_source == UsageSource::Estimated || unknown)
        && let Some(dropped) = dropped
    {
        row.partial = true;
        let fields = if dropped.fields.is_empty() {
            "parts of the record".to_owned()
        } else {
            dropped.fields.join(", ")
        };
        let dropped = match dropped.reason {
            Some(reason) => format!("the producer dropped {fields} ({reason})"),
            None => format!("the producer dropped {fields}"),
        };
        notes.push(if unknown {
            format!("{dropped}: the call's tokens are not in this record")
        } else {
            format!("{dropped}: the estimate counts only what it kept")
        });
    }
    if !notes.is_empty() {
        row.notes = Some(notes.join("; "));
    }
    Ok(row)
}

/// The call's request id (never blank) and its time.
fn call_key(record: &mut GatewayRecord) -> Result<(String, DateTime<Utc>), ParseError> {
    let request_id = record
        .request_id
        .take()
        .filter(|s| !s.trim().is_empty())
        .ok_or(ParseError::MissingField("request_id"))?;
    let time = record
        .request_time
        .as_deref()
        .ok_or(ParseError::MissingField("request_time"))?;
    let request_time = DateTime::parse_from_rfc3339(time)
        .map_err(|e| ParseError::InvalidField {
            field: "request_time",
            reason: format!("{time:?}: {e}"),
        })?
        .with_timezone(&Utc);
    Ok((request_id, request_time))
}

/// What upstream answered, as far as the record holds it.
struct Answer {
    output: Output,
    /// Cut off: the record says so, or the stream ended without `[DONE]`.
    partial: bool,
    streamed: bool,
}

/// Rebuilds the answer from the stream or the body; says in `notes` what was
/// wrong with it.
fn answer(response: &Response, notes: &mut Vec<String>) -> Answer {
    let mut output = Output::default();
    let mut partial = response.complete == Some(false);
    let streamed = response.sse.is_some() || response.streamed == Some(true);
    if let Some(sse) = &response.sse {
        let (rebuilt, cut) = rebuild(sse, notes);
        output = rebuilt;
        partial |= cut;
    } else {
        match &response.body {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(body) => output.absorb_body(&body),
                Err(_) if !s.trim().is_empty() => notes.push("response body is not JSON".to_owned()),
                Err(_) => {}
            },
            Value::Null => {}
            body => output.absorb_body(body),
        }
    }
    if let Some(error) = &output.error {
        notes.push(format!("error: {error}"));
    }
    Answer {
        output,
        partial,
        streamed,
    }
}

/// The row's token counts: as reported when the answer carries usage, and
/// estimated (for the drift report, or as the count when none was reported)
/// when upstream may have billed the call.
fn count(
    row: &mut UsageRecord,
    catalog: Option<ModelInfo>,
    request: &Value,
    output: &Output,
    estimable: bool,
    notes: &mut Vec<String>,
) -> Result<(), ParseError> {
    let (status, partial, streamed) = (row.status, row.partial, row.streamed);
    let succeeded = succeeded(status);
    let reported = match &output.usage {
        Some(usage) => Some(
            read_usage(usage, row.operation).map_err(|e| ParseError::InvalidField {
                field: "usage",
                reason: e.0,
            })?,
        ),
        None => None,
    };
    // Sent upstream, and the caller left before any answer came (the proxy
    // records that as status 0, incomplete): upstream may have run and billed
    // it, so its prompt is estimated rather than the call counted as free.
    let unanswered = status == 0 && partial && output.choices.is_empty() && output.error.is_none();
    if unanswered {
        notes.push("the caller left before upstream answered; prompt estimated".to_owned());
    }
    if estimable && (succeeded || unanswered || (streamed && !output.choices.is_empty())) {
        // Estimate even when usage is reported: the estimate columns feed the
        // drift report (pipelines/queries/estimate-drift.sql).
        estimate(row, catalog, request, output, reported.is_some(), notes);
    }
    if let Some(tokens) = reported {
        row.set_token_counts(tokens);
        row.usage_source = UsageSource::Reported;
    }
    Ok(())
}

/// Whether AOAI answered the call (a 2xx status).
fn succeeded(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Rebuilds a streamed response; says in `notes` what made it partial.
fn rebuild(sse: &str, notes: &mut Vec<String>) -> (Output, bool) {
    let rebuilt = rebuild_stream_str(sse);
    if rebuilt.bad_events > 0 {
        notes.push(format!("{} stream event(s) were not JSON", rebuilt.bad_events));
    }
    if rebuilt.truncated || !rebuilt.output.done {
        notes.push("stream ended without its final event".to_owned());
    }
    let partial = rebuilt.partial();
    (rebuilt.output, partial)
}

/// A record without `operation`: the request body's shape says which API it was.
/// `input` is shared by embeddings and the Responses API; an embedding model or
/// deployment name decides.
fn infer_operation(request: &Value, deployment: Option<&str>) -> Operation {
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .or(deployment)
        .unwrap_or_default();
    if request.get("messages").is_some() {
        Operation::ChatCompletions
    } else if request.get("prompt").is_some() {
        Operation::Completions
    } else if request.get("input").is_some() && model.contains("embedding") {
        Operation::Embeddings
    } else if request.get("input").is_some() {
        Operation::Responses
    } else {
        Operation::ChatCompletions
    }
}

fn finish_reasons(output: &Output) -> Option<String> {
    let reasons: Vec<&str> = output
        .choices
        .values()
        .filter_map(|c| c.finish_reason.as_deref())
        .collect();
    (!reasons.is_empty()).then(|| reasons.join(","))
}

/// Counts prompt and completion tokens with the model's tokenizer into the
/// `estimated_*` columns and, unless the response `reported` its usage, into the
/// billed columns too.
fn estimate(
    row: &mut UsageRecord,
    catalog: Option<ModelInfo>,
    request: &Value,
    output: &Output,
    reported: bool,
    notes: &mut Vec<String>,
) {
    let encoding = match catalog {
        Some(info) => {
            if info.reasoning && !reported {
                notes.push(
                    "reasoning model without reported usage: hidden reasoning tokens are not counted"
                        .to_owned(),
                );
            }
            info.encoding
        }
        None => {
            let name = row.model.as_deref().unwrap_or("(none)");
            notes.push(format!(
                "unknown model {name:?}: estimated with {FALLBACK_ENCODING}"
            ));
            FALLBACK_ENCODING
        }
    };
    let prompt = match row.operation {
        Operation::ChatCompletions => estimate_chat_prompt(encoding, request),
        Operation::Completions => request
            .get("prompt")
            .map_or(0, |p| estimate_text_input(encoding, p)),
        Operation::Embeddings => request
            .get("input")
            .map_or(0, |p| estimate_text_input(encoding, p)),
        // The text prompt only: input images of an edit are not in a JSON body.
        Operation::Images => request
            .get("prompt")
            .map_or(0, |p| estimate_text_input(encoding, p)),
        Operation::Responses => ["instructions", "input"]
            .iter()
            .filter_map(|k| request.get(k))
            .map(|v| estimate_responses_input(encoding, v))
            .sum(),
        Operation::Other => 0,
    };
    let completion: i64 = output
        .choices
        .values()
        .map(|choice| {
            count_tokens(encoding, &choice.text)
                + choice
                    .tool_calls
                    .values()
                    .map(|call| count_tokens(encoding, &call.name) + count_tokens(encoding, &call.arguments))
                    .sum::<i64>()
        })
        .sum();
    row.estimated_prompt_tokens = Some(prompt);
    row.estimated_completion_tokens = Some(completion);
    row.encoding = Some(encoding.as_str().to_owned());
    if !reported {
        row.prompt_tokens = prompt;
        row.completion_tokens = completion;
        // Counted from at most an event's bytes: far from overflowing.
        row.total_tokens = prompt.saturating_add(completion);
        row.usage_source = UsageSource::Estimated;
    }
}

/// Deterministic id of a call: replays and duplicate captures get the same id.
pub fn event_id(request_id: &str) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(request_id.as_bytes()))
}

#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;

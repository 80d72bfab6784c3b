//! Chat completion bodies: tool definitions and calls, usage, non-streamed responses.
//!
//! Usage is computed with tokentally's own counting, so that a report over the
//! sample agrees with itself whether a call's usage was reported or estimated.

use crate::deployments::Deployment;
use crate::ids::alnum;
use crate::sse::{CONTENT_FILTER_SAFE, Choice, Meta, PROMPT_FILTER_SAFE, ToolCall};
use crate::text::{Style, pick, pick_any};
use crate::vocab;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokentally_core::Encoding;
use tokentally_parse::count_tokens;

/// The functions an app offers the model.
pub(crate) fn tool_definitions(style: Style) -> Option<Value> {
    let defs = match style {
        Style::Support => json!([
            function(
                "lookup_order",
                "Look up an order by number; returns status, carrier and ETA.",
                json!({"order_id": {"type": "string", "description": "Order number, e.g. ORD-12345"}}),
                &["order_id"]
            ),
            function(
                "create_ticket",
                "Open a ticket for a human agent when you cannot solve the issue.",
                json!({"subject": {"type": "string"}, "priority": {"type": "string", "enum": ["low", "normal", "high"]},
                       "summary": {"type": "string"}}),
                &["subject", "priority"]
            ),
        ]),
        Style::Assistant => json!([
            function(
                "get_calendar_events",
                "List the user's calendar events between two instants.",
                json!({"start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}),
                &["start", "end"]
            ),
            function(
                "search_documents",
                "Search SharePoint and OneDrive documents the user can read.",
                json!({"query": {"type": "string"}, "top": {"type": "integer", "minimum": 1, "maximum": 20}}),
                &["query"]
            ),
        ]),
        Style::Extraction => json!([function(
            "record_invoice",
            "Store the fields extracted from one invoice.",
            json!({
                "invoice_number": {"type": "string"}, "supplier": {"type": "string"},
                "currency": {"type": "string", "description": "ISO 4217 code"}, "total": {"type": "number"},
                "due_days": {"type": "integer"}, "line_items": {"type": "integer", "description": "Number of lines"}
            }),
            &["invoice_number", "supplier", "total"]
        )]),
        _ => return None,
    };
    Some(defs)
}

fn function(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({"type": "function", "function": {"name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required}}})
}

/// A call of one of the app's functions, with arguments as the model writes them.
pub(crate) fn tool_call(rng: &mut ChaCha8Rng, style: Style, second: bool) -> ToolCall {
    let id = format!("call_{}", alnum(rng, 24));
    let (name, arguments) = match (style, second) {
        (Style::Support, false) => (
            "lookup_order",
            format!(r#"{{"order_id":"ORD-{}"}}"#, rng.random_range(10_000..99_999)),
        ),
        (Style::Support, true) => (
            "create_ticket",
            format!(
                r#"{{"subject":"{} for order ORD-{}","priority":"{}","summary":"Customer reports a {} {}."}}"#,
                pick(rng, &["Refund request", "Missing parcel", "Damaged item"]),
                rng.random_range(10_000..99_999),
                pick(rng, &["low", "normal", "high"]),
                pick(rng, vocab::SUPPORT.adjectives),
                pick(rng, vocab::SUPPORT.nouns)
            ),
        ),
        (Style::Assistant, false) => {
            let day = rng.random_range(1..28);
            (
                "get_calendar_events",
                format!(
                    r#"{{"start":"2026-10-{day:02}T00:00:00Z","end":"2026-10-{:02}T00:00:00Z"}}"#,
                    day + 1
                ),
            )
        }
        (Style::Assistant, true) => (
            "search_documents",
            format!(
                r#"{{"query":"{} {}","top":{}}}"#,
                pick(rng, vocab::ASSISTANT.adjectives),
                pick(rng, vocab::ASSISTANT.nouns),
                rng.random_range(3..10)
            ),
        ),
        _ => ("record_invoice", crate::text::reply(rng, Style::Extraction, None)),
    };
    ToolCall { id, name, arguments }
}

/// What the app's function returned, sent back as a `tool` message.
pub(crate) fn tool_result(rng: &mut ChaCha8Rng, call: &ToolCall) -> Value {
    let content = match call.name {
        "lookup_order" => format!(
            r#"{{"status":"{}","carrier":"{}","eta":"2026-10-{:02}"}}"#,
            pick(rng, &["in_transit", "delivered", "returned", "processing"]),
            pick(rng, &["PostNord", "DHL", "UPS", "Bring"]),
            rng.random_range(1..29)
        ),
        "create_ticket" => format!(
            r#"{{"ticket":"INC{}","queue":"tier-2"}}"#,
            rng.random_range(100_000..999_999)
        ),
        "get_calendar_events" => {
            let mut events = Vec::new();
            for _ in 0..rng.random_range(1..5) {
                let title = format!(
                    "{} {}",
                    pick(rng, vocab::ASSISTANT.adjectives),
                    pick(rng, vocab::ASSISTANT.nouns)
                );
                events.push(
                    json!({"title": title, "start": format!("{:02}:00", rng.random_range(8..17)),
                    "organizer": pick_any(rng, vocab::PEOPLE).0}),
                );
            }
            Value::Array(events).to_string()
        }
        _ => format!(
            r#"{{"results":[{{"title":"{}","url":"https://contoso.sharepoint.com/sites/pmo/doc{}.docx"}}]}}"#,
            pick(rng, vocab::ASSISTANT.nouns),
            rng.random_range(1..999)
        ),
    };
    json!({"role": "tool", "tool_call_id": call.id, "content": content})
}

/// Output tokens of a choice: its text plus the name and arguments of each tool
/// call (the model writes both), counted apart as tokentally's estimate does.
pub(crate) fn choice_tokens(encoding: Encoding, content: Option<&str>, calls: &[(&str, &str)]) -> i64 {
    content.map_or(0, |c| count_tokens(encoding, c))
        + calls
            .iter()
            .map(|(name, arguments)| count_tokens(encoding, name) + count_tokens(encoding, arguments))
            .sum::<i64>()
}

/// The `usage` object as the deployment's model reports it.
pub(crate) fn usage(
    deployment: &Deployment,
    prompt: i64,
    cached: i64,
    completion: i64,
    reasoning: i64,
) -> Value {
    if deployment.detailed_usage {
        json!({
            "completion_tokens": completion,
            "completion_tokens_details": {"accepted_prediction_tokens": 0, "audio_tokens": 0,
                "reasoning_tokens": reasoning, "rejected_prediction_tokens": 0},
            "prompt_tokens": prompt,
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": cached},
            "total_tokens": prompt + completion,
        })
    } else {
        json!({"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion})
    }
}

/// A non-streamed `chat.completion` body.
pub(crate) fn completion_body(meta: &Meta<'_>, choices: &[Choice], usage: Value) -> Value {
    let safe: Value = serde_json::from_str(CONTENT_FILTER_SAFE).unwrap_or(Value::Null);
    let prompt_filter: Value = serde_json::from_str(PROMPT_FILTER_SAFE).unwrap_or(Value::Null);
    let choices: Vec<Value> = choices
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let mut message =
                json!({"annotations": [], "content": c.content, "refusal": null, "role": "assistant"});
            if !c.tool_calls.is_empty() {
                message["tool_calls"] = tool_calls_json(&c.tool_calls);
            }
            let filter = if c.content.is_some() {
                safe.clone()
            } else {
                json!({})
            };
            json!({"content_filter_results": filter, "finish_reason": c.finish, "index": index,
                "logprobs": null, "message": message})
        })
        .collect();
    json!({
        "choices": choices, "created": meta.created, "id": meta.id, "model": meta.model,
        "object": "chat.completion", "prompt_filter_results": prompt_filter,
        "system_fingerprint": meta.fingerprint, "usage": usage,
    })
}

pub(crate) fn tool_calls_json(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|t| json!({"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tool_arguments_are_json() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for style in [Style::Support, Style::Assistant, Style::Extraction] {
            assert!(tool_definitions(style).is_some());
            for second in [false, true] {
                let call = tool_call(&mut rng, style, second);
                serde_json::from_str::<Value>(&call.arguments).expect("arguments are JSON");
                let result = tool_result(&mut rng, &call);
                serde_json::from_str::<Value>(result["content"].as_str().expect("str"))
                    .expect("result is JSON");
            }
        }
    }
}

//! The parser as it was before chunks were typed: `serde_json::Value` lookups.
//! Kept (tests only) as the oracle of the differential property test in
//! `tests.rs`: the typed path must rebuild exactly what this one does.

use super::{Choice, LEGACY_FUNCTION_CALL, Output, ToolCall};
use crate::usage::has_counts;
use serde_json::Value;

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn index_of(v: &Value) -> u32 {
    v.get("index")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0)
}

/// An [`Output`] rebuilt the old way.
#[derive(Debug, Default)]
pub(super) struct Reference(pub Output);

impl Reference {
    fn set_model(&mut self, v: &Value) {
        if let Some(model) = str_of(v, "model").filter(|m| !m.is_empty()) {
            self.0.model.get_or_insert_with(|| model.to_owned());
        }
    }

    fn set_usage(&mut self, v: &Value) {
        if let Some(usage) = v.get("usage").filter(|u| has_counts(u)) {
            self.0.usage = Some(usage.clone());
        }
    }

    fn set_error(&mut self, v: &Value) {
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let message = str_of(err, "message")
                .or_else(|| str_of(err, "code"))
                .unwrap_or("error");
            self.0.error = Some(message.to_owned());
        }
    }

    /// Absorbs one streamed event's JSON: a chat or text completion chunk, or a
    /// Responses API event.
    pub(super) fn absorb_chunk(&mut self, chunk: &Value) {
        if let Some(kind) = str_of(chunk, "type").filter(|t| t.starts_with("response.")) {
            self.absorb_responses_event(kind, chunk);
            return;
        }
        self.absorb_envelope(chunk);
        self.absorb_choices(chunk, "delta");
    }

    /// Model, usage and error: the same members in chunks and whole bodies.
    fn absorb_envelope(&mut self, v: &Value) {
        self.set_model(v);
        self.set_usage(v);
        self.set_error(v);
    }

    /// `choices` of a chunk or a body; they differ only in whether the output sits
    /// under `delta` (a fragment) or `message` (the whole message).
    fn absorb_choices(&mut self, v: &Value, message_key: &str) {
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return;
        };
        for c in choices {
            let choice = self.0.choices.entry(index_of(c)).or_default();
            if let Some(text) = str_of(c, "text") {
                choice.text.push_str(text);
            }
            if let Some(message) = c.get(message_key) {
                absorb_message(choice, message);
            }
            if let Some(reason) = str_of(c, "finish_reason") {
                choice.finish_reason = Some(reason.to_owned());
            }
        }
    }

    fn absorb_responses_event(&mut self, kind: &str, event: &Value) {
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(delta) = str_of(event, "delta") {
                    self.0.choices.entry(0).or_default().text.push_str(delta);
                }
            }
            "response.function_call_arguments.delta" => {
                let index = index_of_output(event);
                if let Some(delta) = str_of(event, "delta") {
                    let call = self
                        .0
                        .choices
                        .entry(0)
                        .or_default()
                        .tool_calls
                        .entry(index)
                        .or_default();
                    call.arguments.push_str(delta);
                }
            }
            "response.output_item.added" => {
                let item = event.get("item").unwrap_or(&Value::Null);
                if let Some(name) = str_of(item, "name") {
                    let call = self
                        .0
                        .choices
                        .entry(0)
                        .or_default()
                        .tool_calls
                        .entry(index_of_output(event))
                        .or_default();
                    call.name = name.to_owned();
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = event.get("response").unwrap_or(&Value::Null);
                self.absorb_envelope(response);
                let status = str_of(response, "status").unwrap_or(match kind {
                    "response.completed" => "completed",
                    "response.incomplete" => "incomplete",
                    _ => "failed",
                });
                self.0.choices.entry(0).or_default().finish_reason = Some(status.to_owned());
                self.0.done = true;
            }
            "response.created" | "response.in_progress" => {
                self.set_model(event.get("response").unwrap_or(&Value::Null));
            }
            _ => {}
        }
    }

    /// Absorbs a whole (non-streamed) response body of any operation.
    pub(super) fn absorb_body(&mut self, body: &Value) {
        self.absorb_envelope(body);
        self.absorb_choices(body, "message");
        if let Some(items) = body.get("output").and_then(Value::as_array) {
            let choice = self.0.choices.entry(0).or_default();
            for (i, item) in items.iter().enumerate() {
                absorb_response_item(choice, u32::try_from(i).unwrap_or(u32::MAX - 1), item);
            }
            if let Some(status) = str_of(body, "status") {
                choice.finish_reason = Some(status.to_owned());
            }
        }
        self.0.done = true;
    }
}

fn index_of_output(event: &Value) -> u32 {
    event
        .get("output_index")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0)
}

/// A chat `message` or `delta`: content, refusal, tool calls, legacy function call.
fn absorb_message(choice: &mut Choice, message: &Value) {
    for key in ["content", "refusal"] {
        if let Some(text) = str_of(message, key) {
            choice.text.push_str(text);
        }
    }
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        for (position, call) in calls.iter().enumerate() {
            // Streamed fragments carry `index`; whole messages list calls in order.
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or_else(|| u32::try_from(position).unwrap_or(0));
            absorb_function(choice.tool_calls.entry(index).or_default(), call.get("function"));
        }
    }
    if let Some(function) = message.get("function_call").filter(|f| !f.is_null()) {
        absorb_function(
            choice.tool_calls.entry(LEGACY_FUNCTION_CALL).or_default(),
            Some(function),
        );
    }
}

fn absorb_function(call: &mut ToolCall, function: Option<&Value>) {
    let Some(function) = function else { return };
    if let Some(name) = str_of(function, "name") {
        call.name.push_str(name);
    }
    if let Some(arguments) = str_of(function, "arguments") {
        call.arguments.push_str(arguments);
    }
}

fn absorb_response_item(choice: &mut Choice, index: u32, item: &Value) {
    match str_of(item, "type") {
        Some("message") => {
            for part in item
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for key in ["text", "refusal"] {
                    if let Some(text) = str_of(part, key) {
                        choice.text.push_str(text);
                    }
                }
            }
        }
        Some("function_call") => {
            let call = choice.tool_calls.entry(index).or_default();
            call.name = str_of(item, "name").unwrap_or_default().to_owned();
            call.arguments = str_of(item, "arguments").unwrap_or_default().to_owned();
        }
        _ => {}
    }
}

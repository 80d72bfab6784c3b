//! Rebuilds what the model produced, from a streamed response's chunks or from a
//! whole response body, so it can be tokenized when usage was not reported.

use crate::usage::Usage;
use serde_json::Value;
use std::collections::BTreeMap;

/// One tool or function call, assembled from its fragments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: String,
}

/// The output of one choice (`n` > 1 gives several).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    /// Content, refusal or legacy completion text, in arrival order.
    pub text: String,
    /// By tool-call index; the legacy `function_call` is index `u32::MAX`.
    pub tool_calls: BTreeMap<u32, ToolCall>,
    pub finish_reason: Option<String>,
}

/// Everything a response said that billing cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub model: Option<String>,
    pub choices: BTreeMap<u32, Choice>,
    pub usage: Option<Usage>,
    /// The stream's `data: [DONE]` or the Responses API's terminal event arrived.
    pub done: bool,
    /// Error message carried in the body or in a stream event.
    pub error: Option<String>,
}

const LEGACY_FUNCTION_CALL: u32 = u32::MAX;

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn index_of(v: &Value) -> u32 {
    v.get("index")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0)
}

impl Output {
    fn set_model(&mut self, v: &Value) {
        if let Some(model) = str_of(v, "model").filter(|m| !m.is_empty()) {
            self.model.get_or_insert_with(|| model.to_owned());
        }
    }

    fn set_usage(&mut self, v: &Value) {
        if let Some(usage) = v.get("usage").and_then(Usage::from_json) {
            self.usage = Some(usage);
        }
    }

    fn set_error(&mut self, v: &Value) {
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let message = str_of(err, "message")
                .or_else(|| str_of(err, "code"))
                .unwrap_or("error");
            self.error = Some(message.to_owned());
        }
    }

    /// Absorbs one streamed event's JSON: a chat or text completion chunk, or a
    /// Responses API event.
    pub fn absorb_chunk(&mut self, chunk: &Value) {
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
            let choice = self.choices.entry(index_of(c)).or_default();
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
                    self.choices.entry(0).or_default().text.push_str(delta);
                }
            }
            "response.function_call_arguments.delta" => {
                let index = index_of_output(event);
                if let Some(delta) = str_of(event, "delta") {
                    let call = self
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
                self.choices.entry(0).or_default().finish_reason = Some(status.to_owned());
                self.done = true;
            }
            "response.created" | "response.in_progress" => {
                self.set_model(event.get("response").unwrap_or(&Value::Null));
            }
            _ => {}
        }
    }

    /// Absorbs a whole (non-streamed) response body of any operation.
    pub fn absorb_body(&mut self, body: &Value) {
        self.absorb_envelope(body);
        self.absorb_choices(body, "message");
        if let Some(items) = body.get("output").and_then(Value::as_array) {
            let choice = self.choices.entry(0).or_default();
            for (i, item) in items.iter().enumerate() {
                absorb_response_item(choice, u32::try_from(i).unwrap_or(u32::MAX - 1), item);
            }
            if let Some(status) = str_of(body, "status") {
                choice.finish_reason = Some(status.to_owned());
            }
        }
        self.done = true;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_chunks_with_tool_calls_and_two_choices() {
        let mut out = Output::default();
        for chunk in [
            json!({"choices": [], "model": "", "prompt_filter_results": []}),
            json!({"model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}),
            json!({"choices": [{"index": 1, "delta": {"content": "Bon"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
            json!({"choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get", "arguments": "{\"a\""}}]}}]}),
            json!({"choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}),
        ] {
            out.absorb_chunk(&chunk);
        }
        assert_eq!(out.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(out.choices[&0].text, "Hello");
        assert_eq!(out.choices[&1].text, "Bon");
        assert_eq!(
            out.choices[&1].tool_calls[&0],
            ToolCall {
                name: "get".into(),
                arguments: "{\"a\":1}".into()
            }
        );
        assert_eq!(out.choices[&1].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(out.usage.map(|u| u.total), Some(12));
    }

    #[test]
    fn chat_body_and_error_body() {
        let mut out = Output::default();
        out.absorb_body(&json!({"model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}}]}));
        assert_eq!(out.choices[&0].text, "Hi");
        assert_eq!(out.choices[&0].tool_calls[&0].name, "f");
        let mut err = Output::default();
        err.absorb_body(&json!({"error": {"code": "429", "message": "Too many requests"}}));
        assert_eq!(err.error.as_deref(), Some("Too many requests"));
        assert!(err.choices.is_empty());
    }

    #[test]
    fn responses_stream_events() {
        let mut out = Output::default();
        out.absorb_chunk(&json!({"type": "response.created", "response": {"model": "gpt-4.1"}}));
        out.absorb_chunk(&json!({"type": "response.output_text.delta", "delta": "Hi "}));
        out.absorb_chunk(&json!({"type": "response.output_text.delta", "delta": "there"}));
        out.absorb_chunk(
            &json!({"type": "response.completed", "response": {"status": "completed",
            "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}}),
        );
        assert_eq!(out.choices[&0].text, "Hi there");
        assert!(out.done);
        assert_eq!(out.usage.map(|u| u.completion), Some(2));
    }
}

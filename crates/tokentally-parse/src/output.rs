//! Rebuilds what the model produced, from a streamed response's chunks or from a
//! whole response body, so it can be tokenized when usage was not reported.
//!
//! Chunks are deserialized into the borrowed structs of [`wire`]; text is appended
//! to one buffer per choice and tokenized once, after the stream, by the caller.

pub(crate) mod loose;
mod stream;
pub(crate) mod wire;

use crate::usage::has_counts;
use loose::Obj;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
pub use stream::{Rebuilt, rebuild_stream, rebuild_stream_str};
use wire::{Body, ChoiceWire, Chunk, ErrorWire, FunctionWire, ItemWire, MessageWire};

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
    /// The last `usage` object that reported counts, as sent: read (and checked)
    /// by [`crate::usage::read_usage`] once the operation is known.
    pub usage: Option<Value>,
    /// The stream's `data: [DONE]` or the Responses API's terminal event arrived.
    pub done: bool,
    /// Error message carried in the body or in a stream event.
    pub error: Option<String>,
}

const LEGACY_FUNCTION_CALL: u32 = u32::MAX;

/// A stream event's data was not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

fn to_u32(n: Option<u64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

impl Output {
    /// Absorbs one streamed event's JSON text: a chat or text completion chunk, or
    /// a Responses API event.
    ///
    /// # Errors
    /// The text is not JSON; nothing was absorbed.
    pub fn absorb_event(&mut self, data: &[u8]) -> Result<(), NotJson> {
        // Valid UTF-8 (every event of a logged record) is parsed as `str`: serde_json
        // then skips validating each key and string on its own. Other bytes keep the
        // byte parser, which is what decides whether they count as JSON.
        match std::str::from_utf8(data) {
            Ok(text) => self.absorb_event_str(text),
            Err(_) => self.absorb_parsed(serde_json::from_slice(data), || serde_json::from_slice(data)),
        }
    }

    /// [`Self::absorb_event`] of text known to be UTF-8.
    ///
    /// # Errors
    /// The text is not JSON; nothing was absorbed.
    pub fn absorb_event_str(&mut self, text: &str) -> Result<(), NotJson> {
        self.absorb_parsed(serde_json::from_str(text), || serde_json::from_str(text))
    }

    /// Absorbs an event read as a chunk, or, when that failed, read as a `Value`.
    fn absorb_parsed<'a>(
        &mut self,
        chunk: serde_json::Result<Obj<Chunk<'a>>>,
        value: impl FnOnce() -> serde_json::Result<Value>,
    ) -> Result<(), NotJson> {
        // Through `Obj`: serde would read a struct from an array too, but valid
        // JSON that is not an object carries nothing (and is no error).
        match chunk {
            Ok(chunk) => {
                if let Some(chunk) = chunk.object() {
                    self.absorb_chunk(chunk);
                }
            }
            // Loose members accept every type, so this is either not JSON or a
            // repeated member, which serde rejects and `Value` resolves to the last
            // occurrence, as the parser always did.
            Err(_) => {
                let value = value().map_err(|_| NotJson)?;
                if let Ok(Obj::Object(chunk)) = Obj::<Chunk<'_>>::deserialize(&value) {
                    self.absorb_chunk(&chunk);
                }
            }
        }
        Ok(())
    }

    fn absorb_chunk(&mut self, chunk: &Chunk<'_>) {
        if let Some(kind) = chunk.kind.get().filter(|t| t.starts_with("response.")) {
            self.absorb_responses_event(kind, chunk);
            return;
        }
        self.absorb_envelope(chunk.model.get(), chunk.usage.as_deref(), chunk.error.as_deref());
        self.absorb_choices(chunk.choices.items(), |c| c.delta.as_ref());
    }

    /// Absorbs a whole (non-streamed) response body of any operation.
    pub fn absorb_body(&mut self, body: &Value) {
        // Every object deserializes (loose members, and a `Value` has no repeated
        // keys); anything else carries no output.
        if let Ok(Obj::Object(body)) = Obj::<Body<'_>>::deserialize(body) {
            self.absorb_envelope(body.model.get(), Some(&body.usage), body.error.as_ref());
            self.absorb_choices(body.choices.items(), |c| c.message.as_deref());
            if let Some(items) = &body.output.0 {
                let choice = self.choices.entry(0).or_default();
                for (i, item) in items.iter().enumerate() {
                    absorb_response_item(choice, u32::try_from(i).unwrap_or(u32::MAX - 1), item);
                }
                if let Some(status) = body.status.get() {
                    choice.finish_reason = Some(status.to_owned());
                }
            }
        }
        self.done = true;
    }

    /// Model, usage and error: the same members in chunks, bodies and the
    /// Responses API's `response` object.
    fn absorb_envelope(&mut self, model: Option<&str>, usage: Option<&Value>, error: Obj<&ErrorWire<'_>>) {
        if let Some(model) = model.filter(|m| !m.is_empty()) {
            self.model.get_or_insert_with(|| model.to_owned());
        }
        if let Some(usage) = usage.filter(|u| has_counts(u)) {
            self.usage = Some(usage.clone());
        }
        if error.is_given() {
            let error = error.object();
            let message = error
                .and_then(|e| e.message.get())
                .or_else(|| error.and_then(|e| e.code.get()))
                .unwrap_or("error");
            self.error = Some(message.to_owned());
        }
    }

    /// `choices` of a chunk or a body; they differ only in whether the output sits
    /// under `delta` (a fragment) or `message` (the whole message).
    fn absorb_choices<'a>(
        &mut self,
        choices: &'a [ChoiceWire<'a>],
        message: impl Fn(&'a ChoiceWire<'a>) -> Obj<&'a MessageWire<'a>>,
    ) {
        for c in choices {
            let choice = self.choices.entry(to_u32(c.index.0).unwrap_or(0)).or_default();
            if let Some(text) = c.text.get() {
                choice.text.push_str(text);
            }
            if let Some(m) = message(c).object() {
                absorb_message(choice, m);
            }
            if let Some(reason) = c.finish_reason.get() {
                choice.finish_reason = Some(reason.to_owned());
            }
        }
    }

    fn absorb_responses_event(&mut self, kind: &str, event: &Chunk<'_>) {
        let output_index = to_u32(event.output_index.0).unwrap_or(0);
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(delta) = event.delta.get() {
                    self.choices.entry(0).or_default().text.push_str(delta);
                }
            }
            "response.function_call_arguments.delta" => {
                if let Some(delta) = event.delta.get() {
                    let choice = self.choices.entry(0).or_default();
                    let call = choice.tool_calls.entry(output_index).or_default();
                    call.arguments.push_str(delta);
                }
            }
            "response.output_item.added" => {
                if let Some(name) = event.item.object().and_then(|item| item.name.get()) {
                    let choice = self.choices.entry(0).or_default();
                    choice.tool_calls.entry(output_index).or_default().name = name.to_owned();
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = event.response.object();
                if let Some(r) = response {
                    self.absorb_envelope(r.model.get(), Some(&r.usage), r.error.as_ref());
                }
                let status = response.and_then(|r| r.status.get()).unwrap_or(match kind {
                    "response.completed" => "completed",
                    "response.incomplete" => "incomplete",
                    _ => "failed",
                });
                self.choices.entry(0).or_default().finish_reason = Some(status.to_owned());
                self.done = true;
            }
            "response.created" | "response.in_progress" => {
                let model = event.response.object().and_then(|r| r.model.get());
                if let Some(model) = model.filter(|m| !m.is_empty()) {
                    self.model.get_or_insert_with(|| model.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// A chat `message` or `delta`: content, refusal, tool calls, legacy function call.
fn absorb_message(choice: &mut Choice, message: &MessageWire<'_>) {
    for text in [message.content.get(), message.refusal.get()]
        .into_iter()
        .flatten()
    {
        choice.text.push_str(text);
    }
    for (position, call) in message.tool_calls.items().iter().enumerate() {
        let index = to_u32(call.index.0).unwrap_or_else(|| u32::try_from(position).unwrap_or(0));
        absorb_function(
            choice.tool_calls.entry(index).or_default(),
            call.function.object(),
        );
    }
    if message.function_call.is_given() {
        let call = choice.tool_calls.entry(LEGACY_FUNCTION_CALL).or_default();
        absorb_function(call, message.function_call.object().map(|f| &**f));
    }
}

fn absorb_function(call: &mut ToolCall, function: Option<&FunctionWire<'_>>) {
    let Some(function) = function else { return };
    if let Some(name) = function.name.get() {
        call.name.push_str(name);
    }
    if let Some(arguments) = function.arguments.get() {
        call.arguments.push_str(arguments);
    }
}

fn absorb_response_item(choice: &mut Choice, index: u32, item: &ItemWire<'_>) {
    match item.kind.get() {
        Some("message") => {
            for part in item.content.items() {
                for text in [part.text.get(), part.refusal.get()].into_iter().flatten() {
                    choice.text.push_str(text);
                }
            }
        }
        Some("function_call") => {
            let call = choice.tool_calls.entry(index).or_default();
            call.name = item.name.get().unwrap_or_default().to_owned();
            call.arguments = item.arguments.get().unwrap_or_default().to_owned();
        }
        _ => {}
    }
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

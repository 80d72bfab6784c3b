//! The members of AOAI responses that billing reads, as borrowed serde structs.
//!
//! A stream is hundreds of chunks, each mostly `content_filter_results` and ids
//! nobody bills. Deserializing straight into these structs skips those members
//! without building them and borrows text from the input, where a
//! `serde_json::Value` per chunk allocated every key and string. Members are
//! [`loose`](super::loose) types, so no member's type can fail a chunk.
//!
//! Members that are rare in chunks (usage, error, Responses objects, a whole
//! message, a legacy function call) are boxed: serde moves a struct by value
//! several times while building it, and unboxed they would make every chunk as
//! large as all of them together.
//!
//! `usage` is kept as a `Value`: it arrives once per call (streams send
//! `"usage": null` until the last chunk), and `usage.rs` reads its counts by
//! path, strictly, so one reading serves chunks, bodies and the reference parser.

use super::loose::{List, Obj, Str, Uint};
use serde::Deserialize;
use serde_json::Value;

/// One streamed event: a chat or text completion chunk, or a Responses API event
/// (`type: "response.…"`). The two never share members, so one struct holds both.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Chunk<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub model: Str<'a>,
    /// `None` when absent; `null` in most chunks.
    pub usage: Option<Box<Value>>,
    #[serde(borrow)]
    pub error: Obj<Box<ErrorWire<'a>>>,
    #[serde(borrow)]
    pub choices: List<ChoiceWire<'a>>,
    /// Responses API: the text or arguments fragment.
    #[serde(borrow)]
    pub delta: Str<'a>,
    pub output_index: Uint,
    #[serde(borrow)]
    pub item: Obj<Box<ItemWire<'a>>>,
    #[serde(borrow)]
    pub response: Obj<Box<ResponseWire<'a>>>,
}

/// A whole (non-streamed) response body of any operation.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Body<'a> {
    #[serde(borrow)]
    pub model: Str<'a>,
    pub usage: Value,
    #[serde(borrow)]
    pub error: Obj<ErrorWire<'a>>,
    #[serde(borrow)]
    pub choices: List<ChoiceWire<'a>>,
    /// Responses API output items.
    #[serde(borrow)]
    pub output: List<ItemWire<'a>>,
    #[serde(borrow)]
    pub status: Str<'a>,
}

/// The `response` object of Responses API stream events. Its `output` repeats
/// what the deltas already delivered, so it is not read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResponseWire<'a> {
    #[serde(borrow)]
    pub model: Str<'a>,
    pub usage: Value,
    #[serde(borrow)]
    pub error: Obj<ErrorWire<'a>>,
    #[serde(borrow)]
    pub status: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorWire<'a> {
    #[serde(borrow)]
    pub message: Str<'a>,
    #[serde(borrow)]
    pub code: Str<'a>,
}

/// A choice of a chunk (output under `delta`) or of a body (under `message`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChoiceWire<'a> {
    pub index: Uint,
    /// Legacy completions text.
    #[serde(borrow)]
    pub text: Str<'a>,
    #[serde(borrow)]
    pub delta: Obj<MessageWire<'a>>,
    #[serde(borrow)]
    pub message: Obj<Box<MessageWire<'a>>>,
    #[serde(borrow)]
    pub finish_reason: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageWire<'a> {
    #[serde(borrow)]
    pub content: Str<'a>,
    #[serde(borrow)]
    pub refusal: Str<'a>,
    #[serde(borrow)]
    pub tool_calls: List<ToolCallWire<'a>>,
    #[serde(borrow)]
    pub function_call: Obj<Box<FunctionWire<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToolCallWire<'a> {
    /// Streamed fragments carry it; whole messages list calls in order.
    pub index: Uint,
    #[serde(borrow)]
    pub function: Obj<FunctionWire<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FunctionWire<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub arguments: Str<'a>,
}

/// A Responses API output item (body `output[]`, stream `item`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ItemWire<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(borrow)]
    pub arguments: Str<'a>,
    #[serde(borrow)]
    pub content: List<PartWire<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PartWire<'a> {
    #[serde(borrow)]
    pub text: Str<'a>,
    #[serde(borrow)]
    pub refusal: Str<'a>,
}

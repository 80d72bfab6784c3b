//! Pure, sans-IO parsing of gateway records into usage records.
//!
//! **Architecture invariant:** nothing here does I/O or panics on input. Bytes come
//! in, a [`UsageRecord`](tokentally_core::UsageRecord) or a [`ParseError`] comes out;
//! odd but usable input becomes a row flagged `partial` with `notes`, never a
//! silent zero.

mod bpe_count;
mod call;
mod claims_memo;
pub mod count_cache;
mod error;
pub mod gateway;
pub mod identity;
mod memo;
pub mod output;
mod piece_cache;
mod pretokenize;
pub mod region;
pub mod shallow;
pub mod sse;
pub mod tokens;
pub mod usage;

pub use call::{event_id, parse_record};
pub use error::ParseError;
pub use tokens::{count_tokens, estimate_chat_prompt, estimate_responses_input, estimate_text_input};

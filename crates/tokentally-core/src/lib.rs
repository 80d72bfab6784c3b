//! The vocabulary every tokentally crate shares: one [`UsageRecord`] per billable
//! call, the Arrow schema it is stored under, and the model catalog that tells
//! which tokenizer a model uses.
//!
//! This crate knows nothing of I/O, Kafka, SSE or DataFusion: it is the contract
//! between the parser that produces rows and the readers that consume them.

mod columns;
mod error;
mod jwt;
pub mod model;
mod record;
mod schema;
mod tokens;

pub use columns::UsageColumns;
pub use error::{Error, Result};
pub use jwt::jwt_claims;
pub use model::{Encoding, ModelInfo, lookup_model};
pub use record::{AppIdSource, Operation, SourcePosition, UsageRecord, UsageSource};
pub use schema::{USAGE_SCHEMA_VERSION, usage_schema, usage_to_batch};
pub use tokens::{ClassTokens, MAX_TOKENS_PER_CALL, TokenClass, TokenCounts, TokenError};

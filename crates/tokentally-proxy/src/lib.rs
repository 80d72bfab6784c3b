//! `tokentally proxy`: a reverse proxy between APIM (or any client) and Azure
//! OpenAI that passes every response byte through as it arrives and, when the
//! call ends, sends one gateway record (docs/formats.md) to Kafka / Event Hubs.
//!
//! **Invariants:** the caller's response is never held back, slowed or failed by
//! the record (capture is a copy on the way; delivery happens after the call, off
//! its path); every call it forwards yields exactly one record, also when
//! upstream fails or the caller disconnects (then marked incomplete); calls it
//! refuses before forwarding (an upstream not allowed, a request over
//! `max_request_bytes`) get an error and no record; a record the broker cannot
//! take waits in a bounded disk spool, and only a full spool (or a record too big
//! even compressed and split) loses records, each loss counted and logged as an
//! error; no credential is ever recorded or logged.

mod caller;
mod config;
mod delivery;
mod error;
mod forward;
mod record;
mod server;
mod spool;
mod tee;
mod tls;
mod turn;

pub use caller::{CONTEXT_HEADER, fingerprint};
pub use config::{
    ContextHeader, ListenConfig, ProducerConfig, ProxyConfig, SecretSource, SpoolConfig, TlsConfig, Upstream,
};
pub use delivery::StatsSnapshot;
pub use error::{Error, Result};
pub use server::{RunningProxy, start};

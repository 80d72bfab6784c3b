//! `tokentally proxy`: a reverse proxy between APIM (or any client) and Azure
//! OpenAI that passes every response byte through as it arrives and, when the
//! call ends, sends one gateway record (docs/formats.md) to Kafka / Event Hubs.
//!
//! **Invariants:** the caller's response is never held back, slowed or failed by
//! the record (capture is a copy on the way; delivery happens after the call, off
//! its path); every call it forwards yields exactly one record, also when
//! upstream fails or the caller disconnects (then marked incomplete); calls it
//! refuses before forwarding (a context without APIM's signature, ambiguous
//! credentials, an upstream not allowed, a request over a limit) get a clear
//! error, are counted, and leave no record; who pays is read from the
//! credentials, or from APIM's context only when its signature checks, and the
//! request id and time are the proxy's own otherwise; what callers can make the
//! proxy hold is bounded (`[limits]`, docs/security.md); a record the broker
//! cannot take waits in a bounded disk spool, and only a full spool, a record
//! too big even compressed and split, or one the broker refuses for good loses
//! records, each loss counted and logged as an error; no credential is ever
//! recorded or logged.

mod accept;
mod admission;
mod budget;
mod caller;
mod config;
mod conn;
mod context;
mod delivery;
mod error;
mod forward;
mod headers;
mod idle;
mod limits;
mod record;
mod reply;
mod request_body;
mod server;
mod spool;
mod stats;
mod streams;
mod tee;
mod tls;
mod turn;
mod write_timeout;

pub use caller::fingerprint;
pub use config::{
    ContextHeader, ListenConfig, ProducerConfig, ProxyConfig, SecretSource, SpoolConfig, TlsConfig, Upstream,
};
pub use context::{CONTEXT_HEADER, SIGNATURE_HEADER, SIGNATURE_LABEL, signature_header};
pub use delivery::MAX_KEY_BYTES;
pub use error::{Error, Result};
pub use limits::{Limits, MemoryBound};
pub use server::{RunningProxy, start};
pub use spool::{DEAD_LETTER, OVERSIZED};
pub use stats::StatsSnapshot;

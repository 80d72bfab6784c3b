//! `[limits]` of `pipelines/proxy.toml`: how much and for how long callers (and
//! upstream) can make the proxy hold anything. Each limit answers one way to
//! exhaust it; `docs/security.md` states the memory bound they add up to.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body forwarded (the proxy holds a request to record it).
    /// A bigger one is answered 413 `request_too_large` and not forwarded.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// All request bodies held at once, over every call. A call whose body would
    /// pass it is answered 503 `proxy_busy` and not forwarded, so many large
    /// bodies at once cost at most this much memory.
    #[serde(default = "default_max_buffered_request_bytes")]
    pub max_buffered_request_bytes: usize,
    /// Most response bytes kept for one call's record; past it the stream still
    /// reaches the caller in full and the record is marked incomplete.
    #[serde(default = "default_max_capture_bytes")]
    pub max_capture_bytes: usize,
    /// All response bytes kept for records at once, over every call. Past it a
    /// record is cut short where it is (marked incomplete and counted); the
    /// caller still gets the whole response.
    #[serde(default = "default_max_buffered_capture_bytes")]
    pub max_buffered_capture_bytes: usize,
    /// Connections held at once. At the limit the proxy stops accepting until one
    /// closes (new callers wait in the listen backlog). Each takes a file
    /// descriptor: keep it under half of `ulimit -n`.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Calls in flight at once, over every connection (HTTP/1.1 carries one call
    /// per connection, HTTP/2 up to `max_concurrent_streams`). Past it a call is
    /// answered 503 `proxy_busy` before its body is read.
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// HTTP/2 streams one connection may have open (advertised to the caller).
    #[serde(default = "default_max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// Largest request head: request line and headers (HTTP/1.1), header list
    /// (HTTP/2). Bigger heads are refused (431, or a stream reset).
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Time a caller has to send its request head, counted from the connection's
    /// first byte (and to finish the TLS handshake). A kept-alive connection with
    /// no new request for this long is closed.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// Time a caller has to send its whole request body; past it 408
    /// `request_body_timeout`, nothing forwarded.
    #[serde(default = "default_request_body_timeout_secs")]
    pub request_body_timeout_secs: u64,
    /// Longest silence from upstream: before its response head and between chunks
    /// of its body. Reasoning models think for minutes before the first token, so
    /// keep it long; past it the call ends (504 `upstream_timeout` before the
    /// head, a cut-off stream after) and is recorded as partial.
    #[serde(default = "default_upstream_idle_timeout_secs")]
    pub upstream_idle_timeout_secs: u64,
    /// Longest a caller may leave the response unread: from the moment a chunk is
    /// ready for it until it takes it (its socket, or its HTTP/2 stream window, has
    /// room again). Past it the call is cut off (the HTTP/1.1 connection closed,
    /// the HTTP/2 stream reset), recorded as partial and counted in
    /// `callers_not_reading`, so a caller that stops reading cannot hold upstream,
    /// its capture and its slot for ever.
    #[serde(default = "default_response_write_timeout_secs")]
    pub response_write_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: default_max_request_bytes(),
            max_buffered_request_bytes: default_max_buffered_request_bytes(),
            max_capture_bytes: default_max_capture_bytes(),
            max_buffered_capture_bytes: default_max_buffered_capture_bytes(),
            max_connections: default_max_connections(),
            max_calls: default_max_calls(),
            max_concurrent_streams: default_max_concurrent_streams(),
            max_header_bytes: default_max_header_bytes(),
            header_read_timeout_secs: default_header_read_timeout_secs(),
            request_body_timeout_secs: default_request_body_timeout_secs(),
            upstream_idle_timeout_secs: default_upstream_idle_timeout_secs(),
            response_write_timeout_secs: default_response_write_timeout_secs(),
        }
    }
}

fn default_max_request_bytes() -> usize {
    32 << 20
}
fn default_max_buffered_request_bytes() -> usize {
    256 << 20
}
fn default_max_capture_bytes() -> usize {
    64 << 20
}
fn default_max_buffered_capture_bytes() -> usize {
    512 << 20
}
fn default_max_connections() -> usize {
    512
}
fn default_max_calls() -> usize {
    512
}
fn default_max_concurrent_streams() -> u32 {
    32
}
fn default_max_header_bytes() -> usize {
    64 << 10
}
fn default_header_read_timeout_secs() -> u64 {
    30
}
fn default_request_body_timeout_secs() -> u64 {
    60
}
fn default_upstream_idle_timeout_secs() -> u64 {
    600
}
fn default_response_write_timeout_secs() -> u64 {
    60
}

/// hyper's HTTP/1.1 read buffer cannot be smaller.
const MIN_HEADER_BYTES: usize = 8192;

/// Bytes kept per TLS connection (rustls: a record each way, plus its buffers).
const TLS_BUFFERS: usize = 96 << 10;
/// hyper's HTTP/1.1 read buffer towards upstream grows to this (its default);
/// above the HTTP/2 stream window, so it bounds either protocol.
const UPSTREAM_READ_BUFFER: usize = 400 << 10;

/// What the limits hold memory to, beyond the idle process and the delivery
/// queue: the figure docs/security.md states and the flood bench checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBound {
    /// `max_buffered_request_bytes`.
    pub request_bodies: usize,
    /// `max_buffered_capture_bytes`.
    pub captures: usize,
    /// Per connection: its read and write buffers (or HTTP/2 header decoding and
    /// receive window) and TLS.
    pub per_connection: usize,
    /// Per call: its request head, what the tee holds between writes, the HTTP/2
    /// send buffer towards the caller, and what upstream sent ahead.
    pub per_call: usize,
    /// All of it at `max_connections` and `max_calls`.
    pub total: usize,
}

impl Limits {
    /// The memory bound of these limits (see [`MemoryBound`]).
    pub fn memory_bound(&self) -> MemoryBound {
        let h2_window = usize::try_from(crate::conn::H2_WINDOW).unwrap_or(usize::MAX);
        let per_connection = 2 * self.max_header_bytes + h2_window + TLS_BUFFERS;
        let per_call = self.max_header_bytes
            + crate::tee::COALESCE_BYTES
            + crate::conn::H2_SEND_BUFFER
            + UPSTREAM_READ_BUFFER;
        let total = self.max_buffered_request_bytes
            + self.max_buffered_capture_bytes
            + self.max_connections * per_connection
            + self.max_calls * per_call;
        MemoryBound {
            request_bodies: self.max_buffered_request_bytes,
            captures: self.max_buffered_capture_bytes,
            per_connection,
            per_call,
            total,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::Config(format!("[limits] {msg}")));
        let counts = [
            ("max_request_bytes", self.max_request_bytes),
            ("max_buffered_request_bytes", self.max_buffered_request_bytes),
            ("max_capture_bytes", self.max_capture_bytes),
            ("max_buffered_capture_bytes", self.max_buffered_capture_bytes),
            ("max_connections", self.max_connections),
            ("max_calls", self.max_calls),
        ];
        if let Some((name, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return bad(&format!("{name} must be at least 1"));
        }
        if self.max_buffered_request_bytes < 2 * self.max_request_bytes {
            return bad(
                "max_buffered_request_bytes must be at least twice max_request_bytes (a body without Content-Length counts twice)",
            );
        }
        if self.max_buffered_capture_bytes < self.max_capture_bytes {
            return bad("max_buffered_capture_bytes must be at least max_capture_bytes");
        }
        if self.max_concurrent_streams == 0 {
            return bad("max_concurrent_streams must be at least 1");
        }
        if self.max_header_bytes < MIN_HEADER_BYTES || u32::try_from(self.max_header_bytes).is_err() {
            return bad(&format!(
                "max_header_bytes must be between {MIN_HEADER_BYTES} and 4 GiB"
            ));
        }
        let timeouts = [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("request_body_timeout_secs", self.request_body_timeout_secs),
            ("upstream_idle_timeout_secs", self.upstream_idle_timeout_secs),
            ("response_write_timeout_secs", self.response_write_timeout_secs),
        ];
        if let Some((name, _)) = timeouts.iter().find(|(_, secs)| *secs == 0) {
            return bad(&format!("{name} must be at least 1"));
        }
        Ok(())
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    pub fn request_body_timeout(&self) -> Duration {
        Duration::from_secs(self.request_body_timeout_secs)
    }

    pub fn upstream_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_idle_timeout_secs)
    }

    pub fn response_write_timeout(&self) -> Duration {
        Duration::from_secs(self.response_write_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_memory_bound_is_the_documented_one() {
        let bound = Limits::default().memory_bound();
        // docs/security.md, "Memory": 256 + 512 MiB, 480 KiB a connection, 592 KiB a call.
        assert_eq!((bound.per_connection >> 10, bound.per_call >> 10), (480, 592));
        assert_eq!(bound.total >> 20, 256 + 512 + 240 + 296);
    }

    #[test]
    fn defaults_are_valid_and_zeros_are_named() {
        assert!(Limits::default().validate().is_ok());
        let zero = Limits {
            max_calls: 0,
            ..Limits::default()
        };
        let err = zero.validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("max_calls"), "{err}");
        let small_budget = Limits {
            max_buffered_request_bytes: 1,
            ..Limits::default()
        };
        assert!(small_budget.validate().is_err());
        let no_timeout = Limits {
            upstream_idle_timeout_secs: 0,
            ..Limits::default()
        };
        assert!(no_timeout.validate().is_err());
        let no_write_timeout = Limits {
            response_write_timeout_secs: 0,
            ..Limits::default()
        };
        let err = no_write_timeout
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("response_write_timeout_secs"), "{err}");
    }
}

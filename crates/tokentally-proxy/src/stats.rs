//! The proxy's counters: shown by `/healthz` and `/readyz`, and printed as JSON
//! when it stops. Every refusal and every loss has one, so nothing the proxy turns
//! away or drops goes uncounted.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    pub calls: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub upstream_timeouts: AtomicU64,
    pub contexts_refused: AtomicU64,
    pub credentials_refused: AtomicU64,
    pub calls_refused_busy: AtomicU64,
    pub request_timeouts: AtomicU64,
    pub captures_cut_short: AtomicU64,
    pub callers_not_reading: AtomicU64,
    pub callers_left_unanswered: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_peak: AtomicU64,
    pub connections_timed_out: AtomicU64,
    pub accept_errors: AtomicU64,
    pub records_sent: AtomicU64,
    pub records_compressed: AtomicU64,
    pub records_split: AtomicU64,
    pub records_spooled: AtomicU64,
    pub records_resent: AtomicU64,
    pub records_lost: AtomicU64,
    pub records_dead_lettered: AtomicU64,
    pub refused_records_dropped: AtomicU64,
}

/// A point-in-time copy of [`Stats`] plus the spool's size.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Calls forwarded (each yields one record).
    pub calls: u64,
    /// Calls upstream could not be reached for (502).
    pub upstream_errors: u64,
    /// Calls upstream fell silent on for `upstream_idle_timeout_secs`.
    pub upstream_timeouts: u64,
    /// Calls refused for their `x-tokentally-context` (missing, unsigned, bad signature …).
    pub contexts_refused: u64,
    /// Calls refused for their credentials: two of a kind, both kinds, or a
    /// `Connection` header naming one (a hop would strip it).
    pub credentials_refused: u64,
    /// Calls refused with 503 `proxy_busy` (`max_calls`, `max_buffered_request_bytes`).
    pub calls_refused_busy: u64,
    /// Calls whose body did not arrive within `request_body_timeout_secs` (408).
    pub request_timeouts: u64,
    /// Records cut short because `max_buffered_capture_bytes` of responses were
    /// held at once (the caller still got everything; the record is partial).
    pub captures_cut_short: u64,
    /// Calls cut off because the caller left the response unread for
    /// `response_write_timeout_secs` (recorded as partial).
    pub callers_not_reading: u64,
    /// Calls whose caller went away after the request was sent upstream and
    /// before upstream answered (recorded as unanswered: status 0, partial).
    pub callers_left_unanswered: u64,
    pub connections_open: u64,
    /// Most connections open at once since the start (at most `max_connections`).
    pub connections_peak: u64,
    /// Connections closed for sending no request head within `header_read_timeout_secs`
    /// (HTTP/2: no stream open for that long; the proxy sends GOAWAY).
    pub connections_timed_out: u64,
    /// `accept` failures (file descriptors exhausted …); the proxy backs off after each.
    pub accept_errors: u64,
    pub records_sent: u64,
    pub records_compressed: u64,
    pub records_split: u64,
    pub records_spooled: u64,
    pub records_resent: u64,
    /// Records lost: spool full, too big even split, or refused by the broker for good.
    pub records_lost: u64,
    /// Spooled records the broker refused for good, moved to the spool's `dead-letter/`.
    pub records_dead_lettered: u64,
    /// Records of calls upstream refused (401/403) that the broker did not take;
    /// they are never spooled, so they cannot crowd out records of real usage.
    pub refused_records_dropped: u64,
    pub spool_bytes: u64,
}

impl Stats {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection opened; the peak follows.
    pub fn connection_opened(&self) {
        let open = self.connections_open.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_peak.fetch_max(open, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, spool_bytes: u64) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            calls: get(&self.calls),
            upstream_errors: get(&self.upstream_errors),
            upstream_timeouts: get(&self.upstream_timeouts),
            contexts_refused: get(&self.contexts_refused),
            credentials_refused: get(&self.credentials_refused),
            calls_refused_busy: get(&self.calls_refused_busy),
            request_timeouts: get(&self.request_timeouts),
            captures_cut_short: get(&self.captures_cut_short),
            callers_not_reading: get(&self.callers_not_reading),
            callers_left_unanswered: get(&self.callers_left_unanswered),
            connections_open: get(&self.connections_open),
            connections_peak: get(&self.connections_peak),
            connections_timed_out: get(&self.connections_timed_out),
            accept_errors: get(&self.accept_errors),
            records_sent: get(&self.records_sent),
            records_compressed: get(&self.records_compressed),
            records_split: get(&self.records_split),
            records_spooled: get(&self.records_spooled),
            records_resent: get(&self.records_resent),
            records_lost: get(&self.records_lost),
            records_dead_lettered: get(&self.records_dead_lettered),
            refused_records_dropped: get(&self.refused_records_dropped),
            spool_bytes,
        }
    }
}

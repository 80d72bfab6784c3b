//! The response body on its way to the caller: every chunk is passed on the moment
//! upstream yields it, and appended to the capture that becomes the record. The
//! record is sent when the body ends, fails, or is dropped because the caller went
//! away, so no call goes unrecorded. The capture holds at most what the record
//! will hold, and nothing past `max_capture_bytes`. Each chunk handed to hyper and
//! each ask for the next is marked for `response_write_timeout_secs`
//! (`write_timeout.rs`).

use crate::budget::Share;
use crate::delivery::{Delivery, RecordClass};
use crate::record::{self, CallInfo, Ending};
use crate::stats::Stats;
use crate::turn::Turn;
use crate::write_timeout::Progress;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::sync::OwnedSemaphorePermit;

/// What a call holds of the proxy's limits: its slot among `max_calls`, its
/// body's share of `max_buffered_request_bytes`, its capture's of
/// `max_buffered_capture_bytes`. Its record holds them until the broker has it or
/// the spool does, so records waiting for delivery count against the limits
/// instead of piling up behind a slow broker or disk.
#[derive(Debug)]
pub struct Reserved {
    #[allow(dead_code, reason = "held for its drop, which frees the slot")]
    pub slot: OwnedSemaphorePermit,
    #[allow(dead_code, reason = "held for its drop, which gives the budget back")]
    pub body: Share,
    pub capture: Share,
}

/// A finished call's facts, sent once.
#[derive(Debug)]
pub struct Capture {
    pub info: CallInfo,
    pub status: u16,
    pub sse: bool,
    pub body: Vec<u8>,
    pub limit: usize,
    pub truncated: bool,
    /// Upstream's `Content-Length`: a body that delivered all of it is complete
    /// even if the server drops it without polling for its end (hyper does, once
    /// it has written the announced length).
    pub expected_len: Option<u64>,
    pub received: u64,
    pub delivery: Arc<Delivery>,
    pub reserved: Reserved,
}

impl Capture {
    fn push(&mut self, chunk: &[u8]) {
        self.received += chunk.len() as u64;
        if self.truncated {
            return;
        }
        if self.body.len() + chunk.len() > self.limit {
            self.truncated = true;
            tracing::warn!(
                request_id = %self.info.request_id,
                limit = self.limit,
                "response bigger than max_capture_bytes: recorded up to the limit and marked incomplete"
            );
            return;
        }
        // The buffer grows by doubling, as a Vec would, but only as far as the
        // capture's share of the budget covers it.
        let need = self.body.len() + chunk.len();
        if need > self.body.capacity() {
            let target = need.max(self.body.capacity() * 2).min(self.limit);
            if self.reserved.capture.cover(target).is_err() {
                self.truncated = true;
                Stats::add(&self.delivery.stats.captures_cut_short);
                tracing::warn!(
                    request_id = %self.info.request_id,
                    "max_buffered_capture_bytes of responses held: this one recorded up to here and marked incomplete"
                );
                return;
            }
            self.body.reserve_exact(target - self.body.len());
        }
        self.body.extend_from_slice(chunk);
    }

    /// Builds the record and hands it over, with what the call holds of the limits.
    pub fn finish(self, ending: Ending) {
        let ending = if self.truncated { Ending::Partial } else { ending };
        let record = self.info.to_record(self.status, self.sse, &self.body, ending);
        if ending == Ending::Partial {
            tracing::debug!(request_id = %self.info.request_id, "call recorded as partial");
        }
        self.delivery.stats.calls.fetch_add(1, Ordering::Relaxed);
        let class = if record::refused(self.status) {
            RecordClass::Refused
        } else {
            RecordClass::Usage
        };
        self.delivery
            .submit(&self.info.request_id, record, class, self.reserved);
    }
}

/// `inner` (upstream's body) passed through, captured on the way.
pub struct Tee<S> {
    inner: S,
    capture: Option<Capture>,
    /// Chunks that have arrived and wait for the end of `turn` (see `poll_next`).
    held: Held,
    turn: Option<Turn>,
    /// A chunk arrived during the current turn.
    fresh: bool,
    /// Turns waited for the chunks held now.
    turns: u8,
    /// Upstream ended while chunks were held; said after them.
    ended: Option<End>,
    /// The end (or the break) has been said: the stream is over.
    done: bool,
    /// Where hyper's asks for chunks are marked (`response_write_timeout_secs`).
    progress: Option<Arc<Progress>>,
}

impl<S> std::fmt::Debug for Tee<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tee")
            .field("capture", &self.capture)
            .finish_non_exhaustive()
    }
}

impl<S> Tee<S> {
    pub fn new(inner: S, capture: Capture) -> Self {
        Self {
            inner,
            capture: Some(capture),
            held: Held::default(),
            turn: None,
            fresh: false,
            turns: 0,
            ended: None,
            done: false,
            progress: Progress::current(),
        }
    }
}

/// Most bytes of arrived chunks joined into one write to the caller.
pub const COALESCE_BYTES: usize = 64 * 1024;

/// Most turns held chunks wait while more keep arriving: a steady stream on a
/// busy proxy (where every turn brings something) is still passed on every few
/// turns, not only every [`COALESCE_BYTES`].
const MAX_TURNS: u8 = 8;

/// How upstream's body ended, once it has; reported after the data before it.
#[derive(Debug)]
enum End {
    Complete,
    Broken(String),
}

/// Arrived chunks not yet passed on: one is passed as it is, several are joined.
#[derive(Debug, Default)]
enum Held {
    #[default]
    Nothing,
    One(Bytes),
    Joined(BytesMut),
}

impl Held {
    fn len(&self) -> usize {
        match self {
            Self::Nothing => 0,
            Self::One(chunk) => chunk.len(),
            Self::Joined(joined) => joined.len(),
        }
    }

    fn add(&mut self, chunk: Bytes) {
        *self = match std::mem::take(self) {
            Self::Nothing => Self::One(chunk),
            Self::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + chunk.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&chunk);
                Self::Joined(joined)
            }
            Self::Joined(mut joined) => {
                joined.extend_from_slice(&chunk);
                Self::Joined(joined)
            }
        };
    }

    fn take(&mut self) -> Bytes {
        match std::mem::take(self) {
            Self::Nothing => Bytes::new(),
            Self::One(chunk) => chunk,
            Self::Joined(joined) => joined.freeze(),
        }
    }
}

impl<S> Tee<S> {
    /// Records the end of upstream's body (once).
    fn end(&mut self, end: &End) {
        if let Some(capture) = self.capture.take() {
            match end {
                End::Complete => capture.finish(Ending::Complete),
                End::Broken(message) => {
                    tracing::warn!(request_id = %capture.info.request_id, error = %message, "upstream broke off the response");
                    capture.finish(Ending::Partial);
                }
            }
        }
    }

    /// The held chunks, as one write.
    fn pass_on(&mut self) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if let Some(progress) = &self.progress {
            progress.handed_over();
        }
        self.turn = None;
        self.turns = 0;
        Poll::Ready(Some(Ok(self.held.take())))
    }
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, std::io::Error>;

    /// Passes on what upstream has sent as soon as the runtime has had a turn in
    /// which nothing more arrived, joining what did arrive into one write.
    ///
    /// Why wait for a turn: upstream's connection is a task of its own that hands
    /// the body over one chunk at a time (hyper's body channel holds one). When a
    /// socket read brought many SSE events, the next is ready only after that task
    /// has run again, so passing each on at once cost a write syscall and a TCP
    /// segment per event, most of the proxy's CPU on a long stream (the `proxy`
    /// bench; figures in benches/README.md). A
    /// turn never waits for upstream: it ends when every task that was ready has
    /// run ([`Turn`]), so an event that arrives alone is passed on within
    /// microseconds, and a proxy that falls behind writes bigger, fewer pieces
    /// (at most [`COALESCE_BYTES`] or [`MAX_TURNS`] turns, and only of what has
    /// already arrived).
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(progress) = &this.progress {
            progress.asked();
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some(end) = this.ended.take() {
                if this.held.len() > 0 {
                    this.ended = Some(end);
                    return this.pass_on();
                }
                this.done = true;
                this.end(&end);
                return Poll::Ready(match end {
                    End::Complete => None,
                    End::Broken(message) => Some(Err(std::io::Error::other(message))),
                });
            }
            if this.held.len() >= COALESCE_BYTES {
                return this.pass_on();
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(capture) = &mut this.capture {
                        capture.push(&chunk);
                    }
                    this.held.add(chunk);
                    this.fresh = true;
                }
                Poll::Ready(Some(Err(e))) => this.ended = Some(End::Broken(e.to_string())),
                Poll::Ready(None) => this.ended = Some(End::Complete),
                // Upstream's next chunk, if it comes, wakes this task too.
                Poll::Pending => {
                    if this.held.len() == 0 {
                        return Poll::Pending;
                    }
                    match &this.turn {
                        Some(turn) if !turn.is_over() => return Poll::Pending,
                        Some(_) if !this.fresh || this.turns >= MAX_TURNS => return this.pass_on(),
                        // No turn yet, or more arrived during the last one.
                        _ => {
                            this.turn = Some(Turn::begin(cx));
                            this.fresh = false;
                            this.turns += 1;
                            return Poll::Pending;
                        }
                    }
                }
            }
        }
    }
}

impl<S> Drop for Tee<S> {
    /// The caller disconnected (or the server shut the connection) before the end.
    fn drop(&mut self) {
        // hyper drops a body of known length once it has written it all, without
        // asking for more: nothing is left unread, whatever was last handed over.
        if let Some(progress) = &self.progress {
            progress.asked();
        }
        if let Some(capture) = self.capture.take() {
            if self.progress.as_ref().is_some_and(|p| p.was_cut()) {
                Stats::add(&capture.delivery.stats.callers_not_reading);
                tracing::warn!(
                    request_id = %capture.info.request_id,
                    "caller left the response unread for response_write_timeout_secs: cut off, recording what it got"
                );
                capture.finish(Ending::Partial);
            } else if capture.expected_len == Some(capture.received) {
                capture.finish(Ending::Complete);
            } else {
                tracing::info!(request_id = %capture.info.request_id, "caller went away mid-response; recording what it got");
                capture.finish(Ending::Partial);
            }
        }
    }
}

#[cfg(test)]
mod tests;

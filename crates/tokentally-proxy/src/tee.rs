//! The response body on its way to the caller: every chunk is passed on the moment
//! upstream yields it, and appended to the capture that becomes the record. The
//! record is sent when the body ends, fails, or is dropped because the caller went
//! away, so no call goes unrecorded. The capture holds at most what the record
//! will hold, and nothing past `max_capture_bytes`.

use crate::delivery::Delivery;
use crate::record::{CallInfo, Ending};
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

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
        self.body.extend_from_slice(chunk);
    }

    /// Builds the record and hands it over.
    pub fn finish(self, ending: Ending) {
        let ending = if self.truncated { Ending::Partial } else { ending };
        let record = self.info.to_record(self.status, self.sse, &self.body, ending);
        if ending == Ending::Partial {
            tracing::debug!(request_id = %self.info.request_id, "call recorded as partial");
        }
        self.delivery.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.delivery.submit(self.info.request_id, record);
    }
}

/// `inner` (upstream's body) passed through, captured on the way.
pub struct Tee<S> {
    inner: S,
    capture: Option<Capture>,
    /// Upstream ended while chunks were being joined; said on the next poll.
    ended: Option<End>,
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
            ended: None,
        }
    }
}

/// Most bytes of already-arrived chunks joined into one write to the caller.
const COALESCE_BYTES: usize = 64 * 1024;

/// How upstream's body ended, once it has; reported after the data before it.
#[derive(Debug)]
enum End {
    Complete,
    Broken(String),
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
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, std::io::Error>;

    /// Passes on what upstream has sent the moment it is there. Chunks that have
    /// already arrived together (an SSE event is often one chunk; many sit in one
    /// socket read) are joined into one write, which saves the caller's side a
    /// syscall and a TCP segment each without delaying any of them.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(end) = this.ended.take() {
            this.end(&end);
            return Poll::Ready(match end {
                End::Complete => None,
                End::Broken(message) => Some(Err(std::io::Error::other(message))),
            });
        }
        let first = match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(Some(Err(e))) => {
                let message = e.to_string();
                this.end(&End::Broken(message.clone()));
                return Poll::Ready(Some(Err(std::io::Error::other(message))));
            }
            Poll::Ready(None) => {
                this.end(&End::Complete);
                return Poll::Ready(None);
            }
        };
        if let Some(capture) = &mut this.capture {
            capture.push(&first);
        }
        let mut joined: Option<bytes::BytesMut> = None;
        while joined.as_ref().map_or(first.len(), bytes::BytesMut::len) < COALESCE_BYTES {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(more))) => {
                    if let Some(capture) = &mut this.capture {
                        capture.push(&more);
                    }
                    joined
                        .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
                        .extend_from_slice(&more);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.ended = Some(End::Broken(e.to_string()));
                    break;
                }
                Poll::Ready(None) => {
                    this.ended = Some(End::Complete);
                    break;
                }
                // The waker is registered: the next chunk wakes this stream.
                Poll::Pending => break,
            }
        }
        Poll::Ready(Some(Ok(joined.map_or(first, bytes::BytesMut::freeze))))
    }
}

impl<S> Drop for Tee<S> {
    /// The caller disconnected (or the server shut the connection) before the end.
    fn drop(&mut self) {
        if let Some(capture) = self.capture.take() {
            if capture.expected_len == Some(capture.received) {
                capture.finish(Ending::Complete);
            } else {
                tracing::info!(request_id = %capture.info.request_id, "caller went away mid-response; recording what it got");
                capture.finish(Ending::Partial);
            }
        }
    }
}

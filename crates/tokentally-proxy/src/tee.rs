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
        }
    }
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(capture) = &mut this.capture {
                    capture.push(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let message = e.to_string();
                if let Some(capture) = this.capture.take() {
                    tracing::warn!(request_id = %capture.info.request_id, error = %message, "upstream broke off the response");
                    capture.finish(Ending::Partial);
                }
                Poll::Ready(Some(Err(std::io::Error::other(message))))
            }
            Poll::Ready(None) => {
                if let Some(capture) = this.capture.take() {
                    capture.finish(Ending::Complete);
                }
                Poll::Ready(None)
            }
        }
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

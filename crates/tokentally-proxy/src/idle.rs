//! Upstream's body with a limit on silence: a stream that sends nothing for
//! `upstream_idle_timeout_secs` ends with an error, so a stalled upstream cannot
//! hold a call (its connection, its capture) for ever. Only the gaps count: a
//! long stream that keeps sending is never cut.

use crate::delivery::Delivery;
use crate::stats::Stats;
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pub struct IdleLimit<S> {
    inner: S,
    limit: Duration,
    timer: Pin<Box<Sleep>>,
    expired: bool,
    /// Counts the streams cut off.
    delivery: Arc<Delivery>,
}

impl<S> std::fmt::Debug for IdleLimit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleLimit")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<S> IdleLimit<S> {
    pub fn new(inner: S, limit: Duration, delivery: Arc<Delivery>) -> Self {
        Self {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
            expired: false,
            delivery,
        }
    }
}

impl<S, E> Stream for IdleLimit<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.timer.as_mut().reset(Instant::now() + this.limit);
                Poll::Ready(Some(item.map_err(|e| e.to_string())))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.expired = true;
                    Stats::add(&this.delivery.stats.upstream_timeouts);
                    Poll::Ready(Some(Err(format!(
                        "upstream sent nothing for {} s (upstream_idle_timeout_secs)",
                        this.limit.as_secs()
                    ))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

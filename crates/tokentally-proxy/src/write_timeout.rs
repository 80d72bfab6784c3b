//! `response_write_timeout_secs`: a caller that stops reading the response is cut
//! off instead of holding upstream, the capture and the call's slot for ever.
//!
//! hyper asks a response body for its next chunk only when it can send it: over
//! HTTP/1.1 when its write buffer has room (the socket took what was before),
//! over HTTP/2 when the stream's flow-control window has room (the caller granted
//! it). So a body that has handed a chunk over and is not asked for the next one
//! within the timeout belongs to a caller that stopped reading. The body (the
//! [`Tee`](crate::tee::Tee)) marks each hand-over and each ask on its
//! [`Progress`]; [`Watched`], around the future that polls the body (an HTTP/1.1
//! connection, or one HTTP/2 stream's task), drops that future once the wait has
//! passed the timeout: the HTTP/1.1 connection closes, the HTTP/2 stream is reset
//! (h2 sends `CANCEL` for a stream nobody holds), and the dropped body records the
//! call as partial. A slow upstream never counts: the body was asked and is
//! waiting for it.
//!
//! The body finds its `Progress` in a task-local that `Watched` sets while it
//! polls, since hyper creates the body inside the service, far from the task.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

tokio::task_local! {
    static PROGRESS: Arc<Progress>;
}

/// How far the caller has taken the response of the body polled under it.
#[derive(Debug, Default)]
pub struct Progress {
    /// Chunks handed over so far: which hand-over a running timer is for.
    handed: AtomicU64,
    /// A chunk was handed over and the next one not asked for yet.
    waiting: AtomicBool,
    /// [`Watched`] gave up on the caller; the body says so when it is dropped.
    cut: AtomicBool,
}

impl Progress {
    /// The `Progress` of the task polling now, if a [`Watched`] runs it.
    pub fn current() -> Option<Arc<Self>> {
        PROGRESS.try_with(Arc::clone).ok()
    }

    /// hyper asks for the next chunk: the caller took the last one.
    pub fn asked(&self) {
        self.waiting.store(false, Ordering::Relaxed);
    }

    /// A chunk is handed to hyper, to be written when the caller has room.
    pub fn handed_over(&self) {
        self.handed.fetch_add(1, Ordering::Relaxed);
        self.waiting.store(true, Ordering::Relaxed);
    }

    /// Whether the body was dropped because the caller stopped reading.
    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

/// `inner` (what polls a response body) dropped when its caller leaves a chunk
/// unread past the limit. Resolves to `None` when it was cut off.
pub struct Watched<F> {
    inner: Option<Pin<Box<F>>>,
    progress: Arc<Progress>,
    limit: Duration,
    /// Started on the first wait; reset for each later one.
    timer: Option<Pin<Box<Sleep>>>,
    /// The hand-over the timer runs for.
    timing: Option<u64>,
}

impl<F> std::fmt::Debug for Watched<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("progress", &self.progress)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Watched<F> {
    pub fn new(inner: F, limit: Duration) -> Self {
        Self {
            inner: Some(Box::pin(inner)),
            progress: Arc::new(Progress::default()),
            limit,
            timer: None,
            timing: None,
        }
    }

    /// The watched future, until it is cut off.
    pub fn inner_mut(&mut self) -> Option<Pin<&mut F>> {
        self.inner.as_mut().map(Pin::as_mut)
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let progress = Arc::clone(&this.progress);
        if let Poll::Ready(output) = PROGRESS.sync_scope(progress, || inner.as_mut().poll(cx)) {
            return Poll::Ready(Some(output));
        }
        if !this.progress.waiting.load(Ordering::Relaxed) {
            this.timing = None;
            return Poll::Pending;
        }
        let handed = this.progress.handed.load(Ordering::Relaxed);
        let deadline = Instant::now() + this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if this.timing != Some(handed) {
            this.timing = Some(handed);
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.progress.cut.store(true, Ordering::Relaxed);
        // Dropping it drops the body, which records the call.
        this.inner = None;
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often [`body_poller`] is woken.
    const TICK: Duration = Duration::from_millis(10);

    /// A stand-in for hyper polling a body: hands a chunk over, then asks for the
    /// next only when `reading` says the caller has room.
    fn body_poller(reading: Arc<AtomicBool>) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            if let Some(progress) = Progress::current()
                && reading.load(Ordering::Relaxed)
            {
                progress.asked();
                progress.handed_over();
            }
            // Woken again soon, as a connection with traffic is.
            let waker = cx.waker().clone();
            tokio::spawn(async move {
                tokio::time::sleep(TICK).await;
                waker.wake();
            });
            Poll::Pending
        })
    }

    // The clock is paused (it moves only to the next timer), so what is checked
    // is the order of events, never how fast this machine is.
    #[tokio::test(start_paused = true)]
    async fn a_caller_that_stops_reading_is_cut_and_one_that_reads_is_not() {
        let limit = Duration::from_millis(300);
        let reading = Arc::new(AtomicBool::new(true));
        let mut watched = Watched::new(body_poller(Arc::clone(&reading)), limit);
        let progress = Arc::clone(&watched.progress);
        let within = tokio::time::timeout(4 * limit, &mut watched).await;
        assert!(within.is_err(), "a reading caller is never cut");
        reading.store(false, Ordering::Relaxed);
        let started = Instant::now();
        let cut = tokio::time::timeout(Duration::from_secs(30), &mut watched).await;
        assert_eq!(cut.ok(), Some(None), "cut off");
        assert!(progress.was_cut());
        // Cut `limit` after the last chunk handed over, which was at most one
        // tick before the caller stopped reading.
        let waited = started.elapsed();
        assert!(waited <= limit && waited + TICK >= limit, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_waiting_for_upstream_is_never_cut() {
        // Asked, nothing handed over: the caller waits for upstream, not the reverse.
        let asked = std::future::poll_fn(|_| {
            if let Some(progress) = Progress::current() {
                progress.asked();
            }
            Poll::<()>::Pending
        });
        let mut watched = Watched::new(asked, Duration::from_millis(100));
        let waited = tokio::time::timeout(Duration::from_millis(500), &mut watched).await;
        assert!(waited.is_err());
        assert!(!watched.progress.was_cut());
    }

    #[tokio::test]
    async fn what_finishes_is_passed_through() {
        assert_eq!(Watched::new(async { 7 }, Duration::from_secs(1)).await, Some(7));
    }
}

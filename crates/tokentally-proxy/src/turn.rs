//! "Has the runtime had a turn since?" — how the [`Tee`](crate::tee::Tee) tells
//! chunks that have already arrived from chunks still on their way.
//!
//! Why not a plain self-wake: hyper polls a response body again in the same task
//! poll while the connection can take more, so a flag flipped on the first poll
//! is seen on the second without any other task having run. A turn here ends when
//! tokio wakes what `yield_now` deferred: after every task that was ready (upstream's
//! connection among them) has run and the I/O driver has been polled. Outside a
//! tokio worker the deferral is an immediate wake, so the turn is over at once.

use std::future::Future as _;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Wake, Waker};

/// One turn of the runtime, begun by [`Turn::begin`].
#[derive(Debug)]
pub(crate) struct Turn(Arc<Flag>);

#[derive(Debug)]
struct Flag {
    over: AtomicBool,
    task: Waker,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.over.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl Turn {
    /// Starts a turn; the task of `cx` is woken when it is over.
    pub(crate) fn begin(cx: &Context<'_>) -> Self {
        let flag = Arc::new(Flag {
            over: AtomicBool::new(false),
            task: cx.waker().clone(),
        });
        let waker = Waker::from(Arc::clone(&flag));
        // Its first poll hands `waker` to the scheduler's deferred list and is
        // always pending; the future itself is not needed after that.
        let _pending = pin!(tokio::task::yield_now()).poll(&mut Context::from_waker(&waker));
        Self(flag)
    }

    pub(crate) fn is_over(&self) -> bool {
        self.0.over.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;

    #[tokio::test(flavor = "current_thread")]
    async fn a_turn_ends_only_after_the_other_ready_tasks_ran() {
        let ran = Arc::new(AtomicBool::new(false));
        let mut turn: Option<Turn> = None;
        std::future::poll_fn(|cx| match &turn {
            None => {
                let ran = Arc::clone(&ran);
                tokio::spawn(async move { ran.store(true, Ordering::Release) });
                let begun = Turn::begin(cx);
                // Polled again at once, as hyper does: the turn is not over.
                assert!(!begun.is_over());
                turn = Some(begun);
                Poll::Pending
            }
            Some(t) if t.is_over() => {
                assert!(
                    ran.load(Ordering::Acquire),
                    "the turn ended before the spawned task ran"
                );
                Poll::Ready(())
            }
            Some(_) => Poll::Pending,
        })
        .await;
    }

    #[test]
    fn outside_a_runtime_a_turn_is_over_at_once() {
        let waker = Waker::noop();
        let turn = Turn::begin(&Context::from_waker(waker));
        assert!(turn.is_over());
    }
}

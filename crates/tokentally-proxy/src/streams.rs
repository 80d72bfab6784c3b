//! The HTTP/2 streams of one connection: hyper runs each as a task through this
//! executor, which watches it for a caller that stops reading
//! (`write_timeout.rs`) and counts it while it runs, so the connection knows
//! when it has been idle (no stream open) for `header_read_timeout_secs`.

use crate::write_timeout::Watched;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Spawns one connection's stream tasks.
#[derive(Debug, Clone)]
pub struct StreamExecutor {
    write_timeout: Duration,
    open: Arc<watch::Sender<usize>>,
}

impl StreamExecutor {
    /// The executor, and the number of its streams running, to watch.
    pub fn new(write_timeout: Duration) -> (Self, watch::Receiver<usize>) {
        let (open, running) = watch::channel(0);
        let executor = Self {
            write_timeout,
            open: Arc::new(open),
        };
        (executor, running)
    }
}

/// One running stream, counted until dropped (also when its task is aborted).
struct Open(Arc<watch::Sender<usize>>);

impl Open {
    fn new(open: &Arc<watch::Sender<usize>>) -> Self {
        open.send_modify(|n| *n += 1);
        Self(Arc::clone(open))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        let open = Open::new(&self.open);
        let watched = Watched::new(stream, self.write_timeout);
        tokio::spawn(async move {
            // A stream cut off is reset by h2 when it is dropped, inside `Watched`.
            let _ = watched.await;
            drop(open);
        });
    }
}

/// Resolves once no stream has been open for `limit` (never while one is).
pub async fn idle_for(running: &mut watch::Receiver<usize>, limit: Duration) {
    loop {
        // Each wait's result is reduced to a bool at once: its guard is not `Send`.
        let stopped = running.wait_for(|n| *n == 0).await.is_err();
        if stopped {
            return std::future::pending().await;
        }
        let busy_again = tokio::time::timeout(limit, running.wait_for(|n| *n > 0)).await;
        match busy_again.map(|changed| changed.is_ok()) {
            Err(_) => return,
            Ok(true) => {}
            Ok(false) => return std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor as _;

    // The clock is paused (it moves only to the next timer): the test checks
    // the order of events, never how fast this machine is.
    #[tokio::test(start_paused = true)]
    async fn idle_only_after_the_last_stream_and_the_limit() {
        let limit = Duration::from_millis(200);
        let (executor, mut running) = StreamExecutor::new(Duration::from_secs(60));
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        executor.execute(async move {
            let _ = finished.await;
        });
        assert_eq!(*running.borrow(), 1);
        let busy = tokio::time::timeout(3 * limit, idle_for(&mut running, limit)).await;
        assert!(busy.is_err(), "not idle while a stream runs");
        let _ = finish.send(());
        let started = tokio::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(10), idle_for(&mut running, limit))
            .await
            .expect("idle once the stream ended");
        assert_eq!(
            started.elapsed(),
            limit,
            "idle exactly `limit` after the last stream"
        );
        assert_eq!(*running.borrow(), 0);
    }
}

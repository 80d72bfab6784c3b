//! Taking connections: at most `max_connections` at once (past it the proxy stops
//! accepting and new callers wait in the kernel's listen backlog), and a pause
//! after `accept` fails, doubling while it keeps failing: when file descriptors
//! run out, every retry fails at once, and retrying without a pause would spin a
//! core while the connections that could free one wait.

use crate::stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The pause after the first failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Pauses between failed accepts.
#[derive(Debug, Default)]
pub struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    /// The pause after one more failure.
    pub fn failed(&mut self) -> Duration {
        let pause = self.next.unwrap_or(FIRST_PAUSE);
        self.next = Some((pause * 2).min(MAX_PAUSE));
        pause
    }

    pub fn succeeded(&mut self) {
        self.next = None;
    }
}

/// An accepted connection and its place among `max_connections`.
#[derive(Debug)]
pub struct Accepted {
    pub stream: TcpStream,
    pub permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    backoff: Backoff,
}

impl Acceptor {
    pub fn new(listener: TcpListener, max_connections: usize) -> Self {
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS))),
            backoff: Backoff::default(),
        }
    }

    /// The next connection, once one of `max_connections` is free. Cancel-safe.
    pub async fn next(&mut self, stats: &Stats) -> Accepted {
        loop {
            let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
                // The semaphore is never closed.
                continue;
            };
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    self.backoff.succeeded();
                    return Accepted { stream, permit };
                }
                Err(e) => {
                    Stats::add(&stats.accept_errors);
                    let pause = self.backoff.failed();
                    tracing::warn!(error = %e, ?pause, "accept failed; pausing before the next try");
                    drop(permit);
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_a_second_and_reset_on_success() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u128> = (0..9).map(|_| backoff.failed().as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(), FIRST_PAUSE);
    }
}

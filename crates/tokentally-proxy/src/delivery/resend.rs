//! The spool's way back to the broker: spooled records are offered again, oldest
//! first, until the broker is away again; one it refuses for good is set aside in
//! `dead-letter/` so the records behind it still go.

use super::{Delivery, SendError};
use crate::stats::Stats;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

impl Delivery {
    /// Offers spooled records to the broker, oldest first, until one fails.
    /// Returns how many were delivered.
    pub async fn drain_spool(&self) -> u64 {
        let spool = Arc::clone(&self.spool);
        let pending = match tokio::task::spawn_blocking(move || spool.pending()).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot list the spool");
                return 0;
            }
            Err(_) => return 0,
        };
        let mut delivered = 0;
        for path in pending {
            let spool = Arc::clone(&self.spool);
            let read_path = path.clone();
            let (key, payload, len) = match tokio::task::spawn_blocking(move || spool.read(&read_path)).await
            {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read a spooled record");
                    continue;
                }
                Err(_) => continue,
            };
            let sent = match self.spooled_events(&key, payload) {
                Ok(events) => self.send_all(&key, &events).await,
                Err(e) => Err(e),
            };
            match sent {
                Ok(()) => {}
                Err(SendError::Permanent(reason)) => {
                    self.set_aside(&path, &key, &reason).await;
                    continue;
                }
                // The broker is away: the rest waits for the next round.
                Err(SendError::Transient(_)) => break,
            }
            if let Err(e) = self.spool.remove(&path, len) {
                // Sent but still on disk: it will be sent again, and the report
                // counts the copies once (same request id, same event id).
                tracing::error!(error = %e, "a resent record stays in the spool");
            }
            delivered += 1;
            self.stats.records_resent.fetch_add(1, Ordering::Relaxed);
        }
        if delivered > 0 {
            tracing::info!(delivered, left = self.spool.used(), "spooled records delivered");
        }
        delivered
    }

    /// Moves a spooled record the broker will never take to `dead-letter/`, so it
    /// no longer holds up the records behind it. Counted as lost.
    async fn set_aside(&self, path: &std::path::Path, key: &str, reason: &str) {
        let spool = Arc::clone(&self.spool);
        let from = path.to_owned();
        match tokio::task::spawn_blocking(move || spool.dead_letter(&from)).await {
            Ok(Ok(to)) => {
                Stats::add(&self.stats.records_dead_lettered);
                Stats::add(&self.stats.records_lost);
                tracing::error!(
                    request_id = %key, %reason, kept = %to.display(),
                    "RECORD LOST: the broker refuses a spooled record for good; moved to the spool's dead-letter/ folder"
                );
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot move a refused record out of the spool"),
            Err(e) => tracing::error!(error = %e, "the spool writer failed"),
        }
    }

    /// Resends the spool every `every` until `stop` fires.
    pub async fn drain_spool_every(&self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            // A send cut short here stays in the spool and is sent again later; the
            // copy that did arrive has the same event id, which the report counts once.
            tokio::select! {
                _ = self.drain_spool() => {}
                _ = stop.changed() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

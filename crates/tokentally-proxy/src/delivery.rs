//! Getting records to the broker without ever holding up a call. A finished call
//! hands its record to [`Delivery::submit`], which returns at once; a task
//! compresses it if needed and sends it with rdkafka. What the broker does not
//! acknowledge (unreachable, queue full, timed out, purged at shutdown) goes to the
//! [`Spool`], which a background task offers to the broker again. Only a full spool
//! or a record too big for the broker even compressed loses a record, and each
//! loss is counted and logged as an error.

use crate::config::ProxyConfig;
use crate::error::{Error, Result};
use crate::spool::{Put, Spool};
use flate2::Compression;
use flate2::write::GzEncoder;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _, PurgeConfig};
use serde::Serialize;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokentally_ingest::{ClientRole, OAuthContext};
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

/// How long librdkafka keeps trying a record before it is spooled (unless the
/// config's `options` say otherwise).
const DEFAULT_MESSAGE_TIMEOUT_MS: &str = "30000";
const DEFAULT_QUEUE_KBYTES: &str = "65536";

/// Most parts a record is split into (ingest's limit too).
const MAX_PARTS: usize = 1024;

/// What a record is sent as.
enum Encoded {
    One(Vec<u8>),
    /// The compressed record (what the spool keeps) and the parts it is sent as.
    Parts(Vec<u8>, Vec<Vec<u8>>),
    /// Too big even compressed and split: the compressed record.
    TooBig(Vec<u8>),
}

/// Counters for `/readyz` and the shutdown log.
#[derive(Debug, Default)]
pub struct Stats {
    pub calls: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub records_sent: AtomicU64,
    pub records_compressed: AtomicU64,
    pub records_split: AtomicU64,
    pub records_spooled: AtomicU64,
    pub records_resent: AtomicU64,
    pub records_lost: AtomicU64,
}

/// A point-in-time copy of [`Stats`] plus the spool's size.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub upstream_errors: u64,
    pub records_sent: u64,
    pub records_compressed: u64,
    pub records_split: u64,
    pub records_spooled: u64,
    pub records_resent: u64,
    pub records_lost: u64,
    pub spool_bytes: u64,
}

pub struct Delivery {
    producer: FutureProducer<OAuthContext>,
    topic: String,
    max_event_bytes: usize,
    spool: Arc<Spool>,
    pub(crate) stats: Stats,
    tasks: TaskTracker,
    handle: Handle,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("topic", &self.topic)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("spool", &self.spool)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Creates the producer (it connects lazily: an unreachable broker does not
    /// stop the proxy from serving) and opens the spool.
    pub fn new(config: &ProxyConfig, handle: Handle) -> Result<Arc<Self>> {
        let kafka = &config.kafka;
        let connection = tokentally_ingest::connection_config(
            kafka.brokers.as_deref(),
            kafka.event_hubs.as_ref(),
            ClientRole::Producer,
        )?;
        let mut client = connection.config;
        client
            .set("client.id", "tokentally-proxy")
            .set("message.timeout.ms", DEFAULT_MESSAGE_TIMEOUT_MS)
            // Records waiting for an absent broker are held in memory until they
            // time out; past this many KiB the queue refuses them and they go
            // straight to the spool, which bounds memory during an outage.
            .set("queue.buffering.max.kbytes", DEFAULT_QUEUE_KBYTES)
            .set("message.max.bytes", (kafka.max_event_bytes + 4096).to_string());
        for (key, value) in &kafka.options {
            client.set(key, value);
        }
        let producer: FutureProducer<OAuthContext> = client
            .create_with_context(OAuthContext::new(connection.oauth))
            .map_err(|source| Error::Kafka {
                context: "creating the producer".into(),
                source,
            })?;
        let spool = Spool::open(&config.spool.dir, config.spool.max_bytes)?;
        Ok(Arc::new(Self {
            producer,
            topic: kafka.topic.clone(),
            max_event_bytes: kafka.max_event_bytes,
            spool: Arc::new(spool),
            stats: Stats::default(),
            tasks: TaskTracker::new(),
            handle,
        }))
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            calls: get(&self.stats.calls),
            upstream_errors: get(&self.stats.upstream_errors),
            records_sent: get(&self.stats.records_sent),
            records_compressed: get(&self.stats.records_compressed),
            records_split: get(&self.stats.records_split),
            records_spooled: get(&self.stats.records_spooled),
            records_resent: get(&self.stats.records_resent),
            records_lost: get(&self.stats.records_lost),
            spool_bytes: self.spool.used(),
        }
    }

    /// Takes a finished call's record; never blocks, never fails the call.
    pub fn submit(self: &Arc<Self>, key: String, record: Vec<u8>) {
        let this = Arc::clone(self);
        self.tasks
            .spawn_on(async move { this.deliver(key, record).await }, &self.handle);
    }

    async fn deliver(self: Arc<Self>, key: String, record: Vec<u8>) {
        let (whole, events) = match self.encode(&key, record) {
            Encoded::One(event) => (None, vec![event]),
            Encoded::Parts(compressed, parts) => (Some(compressed), parts),
            Encoded::TooBig(compressed) => {
                tracing::error!(
                    request_id = %key,
                    bytes = compressed.len(),
                    "RECORD LOST: too big for the broker even compressed and split; kept in the spool's oversized/ folder"
                );
                self.store(&key, compressed, true).await;
                self.stats.records_lost.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if let Err(reason) = self.send_all(&key, &events).await {
            tracing::warn!(request_id = %key, %reason, "record not delivered; spooling it");
            // A split record is spooled whole, as one entry, and resent as all its
            // parts: parts sent now and the rest sent much later could be too far
            // apart on the partition for ingest to join them. Ingest ignores a part
            // it already holds.
            let spooled = whole.or_else(|| events.into_iter().next()).unwrap_or_default();
            self.store(&key, spooled, false).await;
            return;
        }
        self.stats.records_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Sends a record's events in order, stopping at the first that fails.
    async fn send_all(&self, key: &str, events: &[Vec<u8>]) -> Result<(), String> {
        for event in events {
            self.send(key, event).await?;
        }
        Ok(())
    }

    /// The events a spooled entry is sent as: itself, or, for a split record's
    /// compressed form, its parts (the same parts as the first time: splitting is
    /// deterministic).
    fn spooled_events(&self, key: &str, payload: Vec<u8>) -> Vec<Vec<u8>> {
        if payload.len() <= self.max_event_bytes {
            vec![payload]
        } else {
            tokentally_ingest::split_event(key, &payload, self.max_event_bytes)
        }
    }

    /// One event to the broker, waiting for its acknowledgement.
    async fn send(&self, key: &str, event: &[u8]) -> Result<(), String> {
        match self
            .producer
            .send_result(FutureRecord::to(&self.topic).key(key).payload(event))
        {
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e.to_string()),
                Err(_) => Err("the producer was dropped".to_owned()),
            },
            Err((e, _)) => Err(e.to_string()),
        }
    }

    /// The events to send: the record itself when it fits; else gzip-compressed
    /// (ingest inflates gzip events); else the compressed record split into parts
    /// that ingest joins (`tokentally_ingest::split_event`).
    fn encode(&self, key: &str, record: Vec<u8>) -> Encoded {
        if record.len() <= self.max_event_bytes {
            return Encoded::One(record);
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(record.len() / 8), Compression::default());
        // Writing to a Vec cannot fail.
        let compressed = encoder
            .write_all(&record)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        self.stats.records_compressed.fetch_add(1, Ordering::Relaxed);
        if compressed.len() <= self.max_event_bytes {
            return Encoded::One(compressed);
        }
        let parts = tokentally_ingest::split_event(key, &compressed, self.max_event_bytes);
        if parts.len() > MAX_PARTS || parts.iter().any(|p| p.len() > self.max_event_bytes) {
            return Encoded::TooBig(compressed);
        }
        self.stats.records_split.fetch_add(1, Ordering::Relaxed);
        Encoded::Parts(compressed, parts)
    }

    /// Puts an event in the spool, off the async threads (it fsyncs).
    async fn store(&self, key: &str, payload: Vec<u8>, oversized: bool) {
        let spool = Arc::clone(&self.spool);
        let key = key.to_owned();
        let put = tokio::task::spawn_blocking(move || {
            if oversized {
                spool.put_oversized(&key, &payload)
            } else {
                spool.put(&key, &payload)
            }
        })
        .await;
        match put {
            Ok(Ok(Put::Spooled)) => {
                if !oversized {
                    self.stats.records_spooled.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Ok(Put::Full)) => {
                self.stats
                    .records_lost
                    .fetch_add(u64::from(!oversized), Ordering::Relaxed);
                tracing::error!(
                    spool = %self.spool.dir().display(),
                    used = self.spool.used(),
                    "RECORD LOST: the spool is full; raise [spool] max_bytes or bring the broker back"
                );
            }
            Ok(Err(e)) => {
                self.stats
                    .records_lost
                    .fetch_add(u64::from(!oversized), Ordering::Relaxed);
                tracing::error!(error = %e, "RECORD LOST: the spool could not be written");
            }
            Err(e) => {
                self.stats
                    .records_lost
                    .fetch_add(u64::from(!oversized), Ordering::Relaxed);
                tracing::error!(error = %e, "RECORD LOST: the spool writer failed");
            }
        }
    }

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
            if self
                .send_all(&key, &self.spooled_events(&key, payload))
                .await
                .is_err()
            {
                break;
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

    /// After the last call: waits up to `timeout` for the broker to take what is
    /// queued, spools the rest, and returns when every record is settled.
    pub async fn close(&self, timeout: Duration) {
        self.tasks.close();
        let producer = self.producer.clone();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        if !matches!(flushed, Ok(Ok(()))) {
            // Undelivered records resolve as failed and their tasks spool them.
            self.producer.purge(PurgeConfig::default().queue().inflight());
        }
        self.tasks.wait().await;
        let stats = self.snapshot();
        tracing::info!(?stats, "records settled");
    }
}

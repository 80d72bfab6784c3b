//! Getting records to the broker without ever holding up a call. A finished call
//! hands its record to [`Delivery::submit`], which returns at once; a task
//! compresses it if needed and sends it with rdkafka. What the broker does not
//! acknowledge (unreachable, queue full, timed out, purged at shutdown) goes to the
//! [`Spool`], which a background task offers to the broker again. Only a full spool,
//! a record too big for the broker even compressed, or one the broker refuses for
//! good (set aside in the spool's `dead-letter/`, so the records behind it still
//! go) loses a record, and each loss is counted and logged as an error. Records of
//! calls upstream refused (401/403) are never spooled. A record keeps its call's
//! slot among `max_calls` until it is settled, so a flood of calls while the
//! broker or the disk is slow is refused (503) rather than queued in memory.

use crate::config::ProxyConfig;
use crate::error::{Error, Result};
use crate::spool::{Put, Spool};
use crate::stats::{Stats, StatsSnapshot};
use crate::tee::Reserved;
use flate2::Compression;
use flate2::write::GzEncoder;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _, PurgeConfig};
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokentally_kafka::{ClientRole, OAuthContext};
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

mod resend;

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

/// Longest Kafka key: a request id up to this long is the key as it is, a longer
/// one is replaced by a digest, so no id can make an event too big to send.
pub const MAX_KEY_BYTES: usize = 128;

/// Which records may wait in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordClass {
    /// A call upstream served (or failed to): its record may carry usage.
    Usage,
    /// A call upstream refused (401/403): no usage, never spooled.
    Refused,
}

/// Why an event did not reach the broker.
#[derive(Debug)]
enum SendError {
    /// Worth trying again later (broker away, queue full, timed out).
    Transient(String),
    /// The broker will never take it (too big, malformed).
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transient(reason) => write!(f, "{reason}"),
            Self::Permanent(reason) => write!(f, "refused for good: {reason}"),
        }
    }
}

impl From<KafkaError> for SendError {
    fn from(e: KafkaError) -> Self {
        use RDKafkaErrorCode as Code;
        match e.rdkafka_error_code() {
            Some(
                Code::MessageSizeTooLarge
                | Code::InvalidMessageSize
                | Code::InvalidMessage
                | Code::MessageBatchTooLarge
                | Code::InvalidRecord
                | Code::BadMessage,
            ) => Self::Permanent(e.to_string()),
            _ => Self::Transient(e.to_string()),
        }
    }
}

/// The Kafka key of a record: its request id, or a digest of one longer than
/// [`MAX_KEY_BYTES`] (or with control characters, which the spool's format cannot hold).
pub fn record_key(request_id: &str) -> String {
    if request_id.len() <= MAX_KEY_BYTES && !request_id.chars().any(char::is_control) {
        return request_id.to_owned();
    }
    let digest = Sha256::digest(request_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
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
        let connection = tokentally_kafka::connection_config(
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
        self.stats.snapshot(self.spool.used())
    }

    /// Takes a finished call's record; never blocks, never fails the call.
    /// `reserved` (the call's slot and budget shares) is given back once the
    /// record is settled: sent, spooled or counted lost.
    pub fn submit(
        self: &Arc<Self>,
        request_id: &str,
        record: Vec<u8>,
        class: RecordClass,
        reserved: Reserved,
    ) {
        let this = Arc::clone(self);
        let key = record_key(request_id);
        self.tasks.spawn_on(
            async move {
                this.deliver(key, record, class).await;
                drop(reserved);
            },
            &self.handle,
        );
    }

    async fn deliver(self: Arc<Self>, key: String, record: Vec<u8>, class: RecordClass) {
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
            if class == RecordClass::Refused {
                Stats::add(&self.stats.refused_records_dropped);
                tracing::warn!(request_id = %key, %reason, "record of a call upstream refused not delivered; not spooled");
                return;
            }
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
    async fn send_all(&self, key: &str, events: &[Vec<u8>]) -> Result<(), SendError> {
        for event in events {
            self.send(key, event).await?;
        }
        Ok(())
    }

    /// The events a spooled entry is sent as: itself, or, for a split record's
    /// compressed form, its parts (the same parts as the first time: splitting is
    /// deterministic).
    fn spooled_events(&self, key: &str, payload: Vec<u8>) -> Result<Vec<Vec<u8>>, SendError> {
        if payload.len() <= self.max_event_bytes {
            return Ok(vec![payload]);
        }
        let parts = tokentally_kafka::split_event(key, &payload, self.max_event_bytes);
        if parts.len() > MAX_PARTS {
            return Err(SendError::Permanent(format!(
                "{} parts, more than ingest joins ({MAX_PARTS})",
                parts.len()
            )));
        }
        Ok(parts)
    }

    /// One event to the broker, waiting for its acknowledgement.
    async fn send(&self, key: &str, event: &[u8]) -> Result<(), SendError> {
        match self
            .producer
            .send_result(FutureRecord::to(&self.topic).key(key).payload(event))
        {
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e.into()),
                Err(_) => Err(SendError::Transient("the producer was dropped".to_owned())),
            },
            Err((e, _)) => Err(e.into()),
        }
    }

    /// The events to send: the record itself when it fits; else gzip-compressed
    /// (ingest inflates gzip events); else the compressed record split into parts
    /// that ingest joins (`tokentally_kafka::split_event`).
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
        let parts = tokentally_kafka::split_event(key, &compressed, self.max_event_bytes);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded() {
        assert_eq!(record_key("9f0c6c1e-3a8e-4a57"), "9f0c6c1e-3a8e-4a57");
        let long = "x".repeat(100_000);
        let key = record_key(&long);
        assert!(key.starts_with("sha256:") && key.len() <= MAX_KEY_BYTES, "{key}");
        assert_eq!(key, record_key(&long), "the same id gives the same key");
        assert!(record_key("a\nb").starts_with("sha256:"));
    }

    #[test]
    fn size_refusals_are_permanent_and_outages_are_not() {
        let too_big = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        assert!(matches!(SendError::from(too_big), SendError::Permanent(_)));
        let timed_out = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        assert!(matches!(SendError::from(timed_out), SendError::Transient(_)));
    }
}

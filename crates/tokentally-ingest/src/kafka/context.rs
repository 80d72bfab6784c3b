//! librdkafka callbacks: rebalances assign at the committed offsets and are queued
//! for the consume loop (which owns the batches), errors are logged through `tracing` and the last one is kept so a
//! failed connection can say why.

use rdkafka::client::OAuthToken;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokentally_kafka::EntraToken;

/// A partition of a topic.
pub(crate) type TopicPartition = (String, i32);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RebalanceEvent {
    /// With the committed offset each partition was assigned at (`None`: nothing
    /// committed yet, reading starts at the earliest offset).
    Assigned(Vec<(TopicPartition, Option<i64>)>),
    Revoked(Vec<TopicPartition>),
}

#[derive(Debug, Default)]
pub(crate) struct IngestContext {
    events: Mutex<Vec<RebalanceEvent>>,
    last_error: Mutex<Option<String>>,
    /// Set while the consume loop waits for the brokers: it logs one line per
    /// back-off step itself, so librdkafka's own reports (one per reconnect,
    /// hundreds a minute) go to debug then, and the last is kept for the reason.
    waiting: AtomicBool,
    /// Entra ID tokens for Event Hubs (OAUTHBEARER), when configured.
    oauth: Option<Arc<EntraToken>>,
}

impl IngestContext {
    /// A new client waits for its brokers (see `waiting`) until the consume
    /// loop has reached them.
    pub(crate) fn new(oauth: Option<Arc<EntraToken>>) -> Self {
        Self {
            oauth,
            waiting: AtomicBool::new(true),
            ..Self::default()
        }
    }

    /// Whether librdkafka will ask this context for tokens.
    pub(crate) fn uses_oauth(&self) -> bool {
        self.oauth.is_some()
    }

    pub(crate) fn take_events(&self) -> Vec<RebalanceEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Whether the consume loop is waiting for the brokers (see `waiting`).
    pub(crate) fn set_waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed)
    }

    fn record_error(&self, message: String) {
        if self.is_waiting() {
            tracing::debug!(target: "librdkafka", "{message}");
        } else {
            tracing::warn!(target: "librdkafka", "{message}");
        }
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    fn push(&self, event: RebalanceEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<TopicPartition> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl ClientContext for IngestContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        tokentally_kafka::oauth_token(self.oauth.as_deref()).inspect_err(|e| {
            self.record_error(format!("Entra ID token: {e}"));
        })
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if self.is_waiting() {
            tracing::debug!(target: "librdkafka", fac, "{message}");
            return;
        }
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{message}");
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Reaching a partition's end is news, not trouble (the consume loop acts on it).
        if matches!(error, KafkaError::PartitionEOF(_)) {
            tracing::debug!(target: "librdkafka", "{reason}");
            return;
        }
        self.record_error(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for IngestContext {
    /// Assigns every partition at its committed offset, explicitly. Left to
    /// librdkafka, a partition revoked and assigned back to the same member resumes
    /// at the position last fetched, past records whose batch was dropped at the
    /// revoke; they would never be read.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                match consumer.committed_offsets(tpl.clone(), Duration::from_secs(30)) {
                    Ok(committed) => {
                        for e in committed.elements() {
                            if let Offset::Offset(n) = e.offset()
                                && let Err(error) =
                                    tpl.set_partition_offset(e.topic(), e.partition(), Offset::Offset(n))
                            {
                                self.record_error(format!(
                                    "assigning {}[{}]: {error}",
                                    e.topic(),
                                    e.partition()
                                ));
                            }
                        }
                    }
                    Err(error) => self.record_error(format!("reading committed offsets: {error}")),
                }
                let assigned = tpl
                    .elements()
                    .iter()
                    .map(|e| {
                        let offset = match e.offset() {
                            Offset::Offset(n) => Some(n),
                            _ => None,
                        };
                        ((e.topic().to_owned(), e.partition()), offset)
                    })
                    .collect();
                if let Err(error) = consumer.assign(tpl) {
                    self.record_error(format!("assign: {error}"));
                }
                self.push(RebalanceEvent::Assigned(assigned));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.push(RebalanceEvent::Revoked(partitions(tpl)));
                if let Err(error) = consumer.unassign() {
                    self.record_error(format!("unassign: {error}"));
                }
            }
            other => {
                self.record_error(format!("rebalance failed: {}", RDKafkaErrorCode::from(other)));
                self.push(RebalanceEvent::Revoked(partitions(tpl)));
                if let Err(error) = consumer.unassign() {
                    self.record_error(format!("unassign: {error}"));
                }
            }
        }
    }
}

//! The consume loop. One thread polls, decodes and writes; librdkafka prefetches in
//! the background. Offsets are committed synchronously right after the files that
//! hold their rows are renamed into place, never before. A revoked partition's batch
//! is dropped unwritten: its offsets were not committed, so the next owner reads
//! those records again.

use super::context::{IngestContext, RebalanceEvent, TopicPartition};
use super::group::{GroupCheck, GroupProgress};
use super::partition::{PartitionState, Release, remove_uncommitted, remove_uncommitted_remote};
use super::{KafkaConfig, KafkaSummary, Mode, Progress};
use crate::{Error, IngestOptions, IngestSummary, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokentally_core::SourcePosition;

type Consumer = BaseConsumer<IngestContext>;

const POLL: Duration = Duration::from_millis(100);
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
const WATERMARKS_EVERY: Duration = Duration::from_secs(10);

pub(super) struct Run<'a> {
    pub(super) config: &'a KafkaConfig,
    pub(super) options: &'a IngestOptions,
    pub(super) stop: &'a AtomicBool,
    pub(super) progress: &'a mut dyn FnMut(&Progress),
}

struct State<'a> {
    run: Run<'a>,
    /// Every partition of the subscribed topics when the run started: an
    /// until-caught-up run is done only when its group has read all of them.
    expected: BTreeSet<TopicPartition>,
    /// How far other members have read the partitions they hold.
    group: GroupProgress,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    summary: IngestSummary,
    /// The latest rebalance event was an assignment (possibly empty: more consumers
    /// than partitions); false while a revoke waits for its reassignment.
    assigned: bool,
    started: Instant,
    last_flush: Instant,
    last_activity: Instant,
    last_progress: Instant,
    last_watermarks: Instant,
    commits: u64,
}

pub(super) fn consume(run: Run<'_>) -> Result<IngestSummary> {
    let connection = run.config.client_config()?;
    let consumer: Consumer = connection
        .config
        .create_with_context(IngestContext::new(connection.oauth))
        .map_err(|source| Error::Kafka {
            context: "creating the consumer".into(),
            source,
        })?;
    let expected = wait_for_topics(&consumer, run.config, run.stop)?;
    let topics: Vec<&str> = run.config.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics).map_err(|source| Error::Kafka {
        context: format!("subscribing to {}", run.config.topics.join(", ")),
        source,
    })?;
    let now = Instant::now();
    let summary = IngestSummary {
        inputs: run.config.topics.iter().map(|t| format!("kafka:{t}")).collect(),
        ..IngestSummary::default()
    };
    let mut state = State {
        run,
        expected,
        group: GroupProgress::default(),
        partitions: BTreeMap::new(),
        summary,
        assigned: false,
        started: now,
        last_flush: now,
        last_activity: now,
        last_progress: now,
        last_watermarks: now,
        commits: 0,
    };
    let interrupted = state.poll_loop(&consumer)?;
    // Caught up: LLM-log calls still held are written now, nothing stays pending.
    // Stopped by a signal: held records wait for the next run, as at any flush.
    let release = match state.run.config.mode {
        Mode::UntilCaughtUp if !interrupted => Release::Calls,
        mode => Release::Ready {
            follow: mode == Mode::Follow,
        },
    };
    state.flush_all(&consumer, release)?;
    state.report_progress();
    let State {
        run,
        partitions,
        mut summary,
        commits,
        ..
    } = state;
    summary.kafka = Some(KafkaSummary {
        mode: run.config.mode,
        group_id: run.config.group_id.clone(),
        interrupted,
        commits,
        partitions: partitions.into_values().map(|p| p.summary).collect(),
    });
    Ok(summary)
}

/// Bounded wait for the brokers and the topics, so a wrong address, bad
/// credentials or a missing topic fail with a clear message instead of hanging.
/// Returns every partition of the topics.
fn wait_for_topics(
    consumer: &Consumer,
    config: &KafkaConfig,
    stop: &AtomicBool,
) -> Result<BTreeSet<TopicPartition>> {
    // The context starts out waiting (`IngestContext::new`), so librdkafka's
    // first reconnect reports are quiet too.
    let partitions = wait_for_topics_logged(consumer, config, stop)?;
    // On failure the consumer is closed next, quietly: the error says why.
    consumer.context().set_waiting(false);
    Ok(partitions)
}

/// The address operators must check: `bootstrap.servers` as the client uses it.
fn broker_address(config: &KafkaConfig) -> String {
    config
        .client_config()
        .ok()
        .and_then(|c| c.config.get("bootstrap.servers").map(str::to_owned))
        .unwrap_or_else(|| "(no bootstrap.servers)".to_owned())
}

/// One log line per back-off step, naming the broker address (librdkafka's own
/// reports go to debug meanwhile, see `IngestContext::set_waiting`).
fn wait_for_topics_logged(
    consumer: &Consumer,
    config: &KafkaConfig,
    stop: &AtomicBool,
) -> Result<BTreeSet<TopicPartition>> {
    let deadline = Instant::now() + config.connect_timeout();
    let brokers = broker_address(config);
    let mut backoff = Duration::from_millis(250);
    loop {
        if consumer.context().uses_oauth() {
            // librdkafka asks for the first token through the consumer's queue,
            // which only a poll serves; nothing is assigned yet, so nothing is read.
            let _ = consumer.poll(Duration::ZERO);
        }
        let mut problem = None;
        let mut partitions = BTreeSet::new();
        for topic in &config.topics {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(500), Duration::from_secs(5));
            match consumer.fetch_metadata(Some(topic), wait) {
                Ok(meta) => match meta.topics().first() {
                    Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                        partitions.extend(t.partitions().iter().map(|p| (topic.clone(), p.id())));
                    }
                    Some(t) => {
                        problem = Some(format!(
                            "topic `{topic}` is not available on {brokers} ({:?}); create it or fix [kafka] topics",
                            t.error()
                        ));
                    }
                    None => problem = Some(format!("topic `{topic}` is not in the metadata of {brokers}")),
                },
                Err(e) => {
                    let why = consumer.context().last_error().unwrap_or_else(|| e.to_string());
                    problem = Some(format!("cannot reach the brokers at {brokers}: {why}"));
                }
            }
        }
        let Some(problem) = problem else {
            return Ok(partitions);
        };
        let forever = config.mode == Mode::Follow;
        if (!forever && Instant::now() >= deadline) || stop.load(Ordering::Relaxed) {
            return Err(Error::Unavailable(format!(
                "{problem} (gave up after {}s: check [kafka] brokers (or the Event Hubs namespace), \
                 or wait longer with [kafka] connect_timeout_secs)",
                config.connect_timeout_secs
            )));
        }
        tracing::warn!(%brokers, %problem, retry_in = ?backoff, "waiting for the brokers");
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

impl State<'_> {
    /// Polls until caught up (or stopped); returns whether a signal stopped it.
    fn poll_loop(&mut self, consumer: &Consumer) -> Result<bool> {
        loop {
            if self.run.stop.load(Ordering::Relaxed) {
                return Ok(true);
            }
            let message = consumer.poll(POLL);
            self.apply_rebalances(consumer)?;
            self.receive(message)?;
            self.flush_when_due(consumer)?;
            if self.last_progress.elapsed() >= PROGRESS_EVERY {
                let config = self.run.config;
                if config.mode == Mode::Follow && self.last_watermarks.elapsed() >= WATERMARKS_EVERY {
                    self.refresh_watermarks(consumer);
                }
                self.report_progress();
            }
            if self.run.config.mode == Mode::UntilCaughtUp && self.caught_up(consumer)? {
                return Ok(false);
            }
        }
    }

    /// What one poll brought: a record handled, or the end of a partition noted.
    fn receive(&mut self, message: Option<KafkaResult<BorrowedMessage<'_>>>) -> Result<()> {
        match message {
            Some(Ok(message)) => {
                let key = (message.topic().to_owned(), message.partition());
                self.handle(&key, message.offset(), message.payload())?;
            }
            // Carries no topic: every partition with this number that is past its
            // start high-water mark may stop, which is all `caught_up` promises.
            Some(Err(KafkaError::PartitionEOF(number))) => {
                for ((_, p), state) in &mut self.partitions {
                    if *p == number {
                        state.end_reached();
                    }
                }
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "consumer error");
            }
            None => {}
        }
        Ok(())
    }

    /// Flushes when the rows or bytes read reach their limit, or (following)
    /// when the interval has passed.
    fn flush_when_due(&mut self, consumer: &Consumer) -> Result<()> {
        let config = self.run.config;
        let batches = || self.partitions.values().filter_map(|p| p.batch.as_ref());
        let rows: usize = batches().map(|b| b.rows()).sum();
        let bytes: usize = batches().map(|b| b.bytes()).sum();
        let due = config.mode == Mode::Follow && self.last_flush.elapsed() >= config.flush_interval();
        if rows >= config.flush_records || bytes >= config.flush_bytes || due {
            self.flush_all(consumer, self.release())?;
        }
        Ok(())
    }

    /// For an until-caught-up run: whether it is done (its own partitions
    /// caught up and the group's others read to their end), or an error once
    /// nothing has moved for too long.
    fn caught_up(&mut self, consumer: &Consumer) -> Result<bool> {
        let config = self.run.config;
        let own_done = self.assigned && self.partitions.values().all(PartitionState::caught_up);
        let elsewhere = self.unassigned();
        let group = if own_done {
            self.group.check(consumer, &elsewhere)
        } else {
            GroupCheck::default()
        };
        if group.advanced {
            self.last_activity = Instant::now();
        }
        if own_done && group.behind.is_empty() {
            return Ok(true);
        }
        // Without every partition, a member killed earlier may still hold
        // some until its session times out: wait that out too, rather
        // than call the topic caught up with those partitions unread.
        let limit = if self.assigned && elsewhere.is_empty() {
            config.connect_timeout()
        } else {
            config.connect_timeout() + config.session_timeout()
        };
        if self.last_activity.elapsed() < limit {
            return Ok(false);
        }
        let why = if own_done {
            format!(
                "partitions {} are assigned to another member of group `{}` and its \
                 committed offsets are not at their end (a stopped or stuck member); \
                 an until-caught-up run ends only when its group has read every partition",
                group.behind.join(", "),
                config.group_id
            )
        } else {
            consumer
                .context()
                .last_error()
                .unwrap_or_else(|| "no records and no partition assignment arrived".into())
        };
        self.flush_all(consumer, self.release())?;
        Err(Error::Unavailable(format!(
            "no progress for {}s before catching up: {why}",
            limit.as_secs()
        )))
    }

    /// The topics' partitions this consumer is not assigned.
    fn unassigned(&self) -> Vec<TopicPartition> {
        self.expected
            .iter()
            .filter(|key| !self.partitions.contains_key(*key))
            .cloned()
            .collect()
    }

    fn handle(&mut self, key: &TopicPartition, offset: i64, payload: Option<&[u8]>) -> Result<()> {
        self.last_activity = Instant::now();
        let Some(partition) = self.partitions.get_mut(key) else {
            // A message of a partition revoked a moment ago: its next owner reads it.
            return Ok(());
        };
        if offset < partition.summary.next_offset {
            return Ok(());
        }
        if offset > partition.summary.next_offset {
            // Never on Event Hubs; on Kafka, compaction or transaction markers.
            tracing::info!(topic = %key.0, partition = key.1, expected = partition.summary.next_offset,
                got = offset, "offsets skipped by the broker");
        }
        self.summary.records += 1;
        let position = SourcePosition {
            source: key.0.clone(),
            partition: Some(key.1),
            offset,
        };
        let event = payload.unwrap_or_default();
        let mut decoded = Vec::new();
        if event.is_empty() {
            let bad = crate::envelope::Decoded::Bad {
                kind: "empty_event".into(),
                reason: "event has no payload".into(),
                raw: None,
            };
            decoded.push((position, bad));
        } else {
            partition.decoder.decode(event, &position, &mut decoded);
        }
        partition.advance(offset);
        let batch = partition.batch(self.run.options);
        for (position, outcome) in decoded {
            batch.accept(&mut self.summary, &position, outcome, event)?;
        }
        Ok(())
    }

    fn apply_rebalances(&mut self, consumer: &Consumer) -> Result<()> {
        for event in consumer.context().take_events() {
            match event {
                RebalanceEvent::Revoked(list) => {
                    for key in list {
                        self.assigned = false;
                        if let Some(p) = self.partitions.remove(&key)
                            && p.range.is_some()
                        {
                            tracing::info!(topic = %key.0, partition = key.1,
                                "partition revoked; its unwritten records go to its next owner");
                        }
                    }
                }
                RebalanceEvent::Assigned(list) => {
                    self.assigned = true;
                    self.last_activity = Instant::now();
                    for (key, committed) in list {
                        self.assign(consumer, key, committed)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes over a partition: where its committed offset is, where it ends, and
    /// removing output a previous run wrote but never committed.
    fn assign(&mut self, consumer: &Consumer, key: TopicPartition, committed: Option<i64>) -> Result<()> {
        let (low, high) = consumer
            .fetch_watermarks(&key.0, key.1, Duration::from_secs(10))
            .map_err(|source| Error::Kafka {
                context: format!("reading the end offsets of {}[{}]", key.0, key.1),
                source,
            })?;
        let start = committed.unwrap_or(low).max(low);
        for path in remove_uncommitted(&self.run.options.out_dir, &key.0, key.1, start)? {
            tracing::warn!(path = %path.display(), "removed output of an interrupted run; its records are read again");
        }
        if let Some(remote) = &self.run.options.remote {
            for url in remove_uncommitted_remote(remote, &key.0, key.1, start)? {
                tracing::warn!(%url, "removed output of an interrupted run; its records are read again");
            }
        }
        tracing::info!(topic = %key.0, partition = key.1, start, high, "partition assigned");
        let state = PartitionState::new(&key.0, key.1, start, high, self.run.options);
        self.partitions.insert(key, state);
        Ok(())
    }

    /// What a flush during the run lets out of the held records.
    fn release(&self) -> Release {
        Release::Ready {
            follow: self.run.config.mode == Mode::Follow,
        }
    }

    /// Writes every batch, then commits the offsets they cover in one synchronous commit.
    fn flush_all(&mut self, consumer: &Consumer, release: Release) -> Result<()> {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), state) in &mut self.partitions {
            if let Some(next) = state.flush(&mut self.summary, release, self.run.options)? {
                list.add_partition_offset(topic, *partition, Offset::Offset(next))
                    .map_err(|source| Error::Kafka {
                        context: format!("committing {topic}[{partition}]"),
                        source,
                    })?;
            }
        }
        self.last_flush = Instant::now();
        if list.count() == 0 {
            return Ok(());
        }
        // A crash here (files durable, offsets not committed) must mean a replay.
        fail::fail_point!("kafka::commit", |_| -> Result<()> { std::process::abort() });
        match consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => {
                self.commits += 1;
                Ok(())
            }
            // Files are durable; a lost commit only means those records are read
            // again, their files removed and rewritten by the next owner.
            Err(e) => {
                tracing::warn!(error = %e, "offset commit failed; the records will be read again");
                Ok(())
            }
        }
    }

    /// A following consumer's lag needs the partitions' current ends, which only
    /// the broker knows; asked for every [`WATERMARKS_EVERY`].
    fn refresh_watermarks(&mut self, consumer: &Consumer) {
        self.last_watermarks = Instant::now();
        for ((topic, partition), state) in &mut self.partitions {
            match consumer.fetch_watermarks(topic, *partition, Duration::from_secs(1)) {
                Ok((_, high)) => state.set_high_watermark(high),
                Err(e) => tracing::debug!(error = %e, %topic, partition, "reading the end offset for lag"),
            }
        }
    }

    fn report_progress(&mut self) {
        self.last_progress = Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let progress = Progress {
            records: self.summary.records,
            rows_written: self.summary.rows_written,
            quarantined: self.summary.quarantined,
            records_per_sec: self.summary.records as f64 / elapsed,
            partitions: self.partitions.values().map(|p| p.summary.clone()).collect(),
        };
        (self.run.progress)(&progress);
    }
}

//! How far the rest of the consumer group has read the partitions this consumer
//! does not hold. Several until-caught-up runs may share a group (scaling out,
//! docs/operations.md); one is done when its own partitions are caught up and the
//! group's committed offset of every other partition is at that partition's end.
//! A member that died still holds its partitions until its session times out, and
//! its committed offsets are behind: the run waits for them rather than call the
//! topic caught up with those records unread.

use super::context::{IngestContext, TopicPartition};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

/// Group offsets are asked of the coordinator at most this often.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One look at the partitions held elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct GroupCheck {
    /// Partitions (`topic[n]`) whose group offset is not yet at their end.
    pub(super) behind: Vec<String>,
    /// The group's offsets on them moved since the previous look: another
    /// member is making progress, which counts as activity for the idle limit.
    pub(super) advanced: bool,
}

/// The last look, reused until [`CHECK_EVERY`] has passed.
#[derive(Debug, Default)]
pub(super) struct GroupProgress {
    last: Option<Look>,
}

#[derive(Debug)]
struct Look {
    at: Instant,
    partitions: Vec<TopicPartition>,
    committed_sum: i64,
    behind: Vec<String>,
}

/// Where the group stands on one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PartitionEnds {
    /// The group's committed offset (the next to read), if any.
    pub(super) committed: Option<i64>,
    pub(super) low: i64,
    pub(super) high: i64,
}

impl PartitionEnds {
    /// Read to its end by the group: nothing committed reads from `low`.
    pub(super) fn read_to_end(self) -> bool {
        self.committed.unwrap_or(self.low).max(self.low) >= self.high
    }
}

impl GroupProgress {
    /// Looks at `elsewhere` (the partitions other members hold) unless the last
    /// look at the same set is recent.
    pub(super) fn check(
        &mut self,
        consumer: &BaseConsumer<IngestContext>,
        elsewhere: &[TopicPartition],
    ) -> GroupCheck {
        if elsewhere.is_empty() {
            self.last = None;
            return GroupCheck::default();
        }
        if let Some(last) = &self.last
            && last.partitions == elsewhere
            && last.at.elapsed() < CHECK_EVERY
        {
            return GroupCheck {
                behind: last.behind.clone(),
                advanced: false,
            };
        }
        let ends = ends(consumer, elsewhere);
        let committed_sum = ends.iter().flatten().filter_map(|e| e.committed).sum();
        let behind: Vec<String> = elsewhere
            .iter()
            .zip(&ends)
            .filter(|(_, ends)| !ends.is_some_and(PartitionEnds::read_to_end))
            .map(|((topic, partition), _)| format!("{topic}[{partition}]"))
            .collect();
        let advanced = self
            .last
            .as_ref()
            .is_some_and(|last| last.partitions == elsewhere && committed_sum > last.committed_sum);
        self.last = Some(Look {
            at: Instant::now(),
            partitions: elsewhere.to_vec(),
            committed_sum,
            behind: behind.clone(),
        });
        GroupCheck { behind, advanced }
    }
}

/// The group's offsets and the ends of `partitions`, in order; `None` where the
/// broker did not answer (counted as not read to the end).
fn ends(consumer: &BaseConsumer<IngestContext>, partitions: &[TopicPartition]) -> Vec<Option<PartitionEnds>> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    let committed = match consumer.committed_offsets(list, REQUEST_TIMEOUT) {
        Ok(committed) => committed,
        Err(error) => {
            tracing::debug!(%error, "reading the group's committed offsets");
            return vec![None; partitions.len()];
        }
    };
    partitions
        .iter()
        .map(|(topic, partition)| {
            let committed = match committed.find_partition(topic, *partition)?.offset() {
                Offset::Offset(n) => Some(n),
                _ => None,
            };
            match consumer.fetch_watermarks(topic, *partition, REQUEST_TIMEOUT) {
                Ok((low, high)) => Some(PartitionEnds { committed, low, high }),
                Err(error) => {
                    tracing::debug!(%error, %topic, partition, "reading the end offsets");
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::PartitionEnds;

    #[test]
    fn a_partition_counts_as_read_only_when_the_group_offset_reaches_its_end() {
        let ends = |committed, low, high| PartitionEnds { committed, low, high };
        assert!(ends(Some(10), 0, 10).read_to_end());
        assert!(!ends(Some(9), 0, 10).read_to_end(), "one record unread");
        assert!(
            !ends(None, 0, 10).read_to_end(),
            "nothing committed, records there"
        );
        assert!(ends(None, 5, 5).read_to_end(), "an empty partition");
        assert!(ends(Some(2), 10, 10).read_to_end(), "retention removed the rest");
        assert!(!ends(Some(2), 4, 10).read_to_end());
    }
}

//! Records split into parts by the capture proxy because they exceed the broker's
//! event limit even compressed (docs/formats.md, "Split records"). Each part is
//! `{"tokentally_part": {"record": id, "index": i, "count": n}, "data": base64}`;
//! the parts' data, joined in index order, is the event the record would have
//! been (usually gzip). Parts are held until all have arrived, across batches: a
//! Kafka partition commits no offset past its oldest held part, so a restart reads
//! the parts again. What is held is bounded (see [`super::Expiry`]).

use super::{Decoded, Expiry};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::time::Instant;
use tokentally_core::SourcePosition;
use tokentally_kafka::{MAX_PARTS, PartEvent, PartHeader};

#[derive(Debug)]
struct Group {
    count: u32,
    first: SourcePosition,
    first_seen: Instant,
    data: BTreeMap<u32, Vec<u8>>,
    /// The part events as read, quarantined if the record is never completed.
    raw: Vec<u8>,
}

impl Group {
    /// Bytes this group holds: the decoded data and the raw events kept for quarantine.
    fn bytes(&self) -> usize {
        self.raw.len() + self.data.values().map(Vec::len).sum::<usize>()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Parts {
    groups: BTreeMap<String, Group>,
    /// Sum of the groups' [`Group::bytes`].
    bytes: usize,
}

/// What one part event did.
pub(crate) enum Added {
    /// Held until the others arrive.
    Held,
    /// The last part: the record's event, joined, and where its first part was.
    Complete(Vec<u8>, SourcePosition),
    Bad(Decoded),
}

impl Parts {
    /// Adds one part event. `max_bytes` bounds the joined record (the event limit).
    pub(crate) fn add(&mut self, event: &[u8], position: &SourcePosition, max_bytes: usize) -> Added {
        let bad = |reason: String| Added::Bad(Decoded::bad("invalid_part", reason));
        let part: PartEvent = match serde_json::from_slice(event) {
            Ok(part) => part,
            Err(e) => return bad(format!("split-record part is not valid: {e}")),
        };
        let PartHeader { record, index, count } = part.tokentally_part;
        if count == 0 || count > MAX_PARTS || index >= count || record.is_empty() {
            return bad(format!(
                "split-record part {index} of {count} of record {record:?} is out of range (at most {MAX_PARTS} parts)"
            ));
        }
        let data = match base64::engine::general_purpose::STANDARD.decode(part.data.as_bytes()) {
            Ok(data) => data,
            Err(e) => return bad(format!("split-record part data is not base64: {e}")),
        };
        let group = self.groups.entry(record.clone()).or_insert_with(|| Group {
            count,
            first: position.clone(),
            first_seen: Instant::now(),
            data: BTreeMap::new(),
            raw: Vec::new(),
        });
        if group.count != count {
            return bad(format!(
                "split-record part of {record:?} says {count} parts, an earlier one said {}",
                group.count
            ));
        }
        let held: usize = group.data.values().map(Vec::len).sum();
        if held + data.len() > max_bytes {
            // Given up whole: the parts held so far go to quarantine with this one.
            let mut raw = Vec::new();
            if let Some(group) = self.groups.remove(&record) {
                self.bytes -= group.bytes();
                raw = group.raw;
            }
            raw.extend_from_slice(event);
            return Added::Bad(Decoded::Bad {
                kind: "oversized".to_owned(),
                reason: format!("split record {record:?} is over the event limit of {max_bytes} bytes"),
                raw: Some(raw),
            });
        }
        // A replayed part (same index) is the same bytes: keep the first.
        if let std::collections::btree_map::Entry::Vacant(slot) = group.data.entry(index) {
            self.bytes += data.len() + event.len() + 1;
            slot.insert(data);
            group.raw.extend_from_slice(event);
            group.raw.push(b'\n');
        }
        if group.data.len() < count as usize {
            return Added::Held;
        }
        let Some(group) = self.groups.remove(&record) else {
            return Added::Held;
        };
        self.bytes -= group.bytes();
        let joined = group.data.into_values().flatten().collect();
        Added::Complete(joined, group.first)
    }

    /// Bytes held by incomplete records.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The offset of the oldest held part, which must not be committed past.
    pub(crate) fn oldest_offset(&self) -> Option<i64> {
        self.groups.values().map(|g| g.first.offset).min()
    }

    /// Quarantines, as `incomplete_split_record`, every record `expired` selects
    /// by its first part's position and arrival; `why` says why in the reason.
    pub(crate) fn expire(
        &mut self,
        expired: impl Fn(&SourcePosition, Instant) -> bool,
        why: &Expiry,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        let ids: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| expired(&g.first, g.first_seen))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.quarantine(&id, why, out);
        }
    }

    /// Quarantines the record whose first part is the oldest; false when none is held.
    pub(crate) fn expire_oldest(&mut self, why: &Expiry, out: &mut Vec<(SourcePosition, Decoded)>) -> bool {
        let oldest = self
            .groups
            .iter()
            .min_by_key(|(_, g)| g.first.offset)
            .map(|(id, _)| id.clone());
        oldest.is_some_and(|id| self.quarantine(&id, why, out))
    }

    fn quarantine(&mut self, id: &str, why: &Expiry, out: &mut Vec<(SourcePosition, Decoded)>) -> bool {
        let Some(group) = self.groups.remove(id) else {
            return false;
        };
        self.bytes -= group.bytes();
        let reason = format!(
            "split record {id:?}: {} of {} parts arrived, the rest never did ({})",
            group.data.len(),
            group.count,
            why.describe()
        );
        out.push((
            group.first,
            Decoded::Bad {
                kind: "incomplete_split_record".into(),
                reason,
                raw: Some(group.raw),
            },
        ));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokentally_kafka::{is_part, split_event};

    fn at(offset: i64) -> SourcePosition {
        SourcePosition {
            source: "t".into(),
            partition: Some(0),
            offset,
        }
    }

    #[test]
    fn parts_join_in_index_order_whatever_order_they_arrive() {
        let event: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
        let parts = split_event("req-1", &event, 2000);
        assert!(parts.len() > 10 && parts.iter().all(|p| p.len() <= 2000 && is_part(p)));
        let mut buffer = Parts::default();
        let mut order: Vec<usize> = (0..parts.len()).rev().collect();
        order.insert(3, parts.len() - 1); // a replayed part
        let mut joined = None;
        for (n, i) in order.iter().enumerate() {
            match buffer.add(&parts[*i], &at(100 + n as i64), 1 << 20) {
                Added::Held => assert_eq!(buffer.oldest_offset(), Some(100)),
                Added::Complete(bytes, first) => joined = Some((bytes, first.offset)),
                Added::Bad(_) => panic!("part refused"),
            }
        }
        assert_eq!(joined, Some((event, 100)));
        assert_eq!(buffer.oldest_offset(), None);
    }

    #[test]
    fn incomplete_records_are_quarantined_with_their_parts() {
        let parts = split_event("req-2", &[7u8; 3000], 1000);
        let mut buffer = Parts::default();
        assert!(matches!(buffer.add(&parts[0], &at(5), 1 << 20), Added::Held));
        // The part as read (kept for quarantine) and its data.
        assert!(buffer.bytes() > parts[0].len(), "{}", buffer.bytes());
        let mut out = Vec::new();
        buffer.expire(|first, _| first.offset < 5, &Expiry::Span, &mut out);
        assert!(out.is_empty(), "not older than the bound yet");
        buffer.expire(|first, _| first.offset < 6, &Expiry::Span, &mut out);
        assert_eq!(out.len(), 1);
        match &out[0].1 {
            Decoded::Bad { kind, raw, .. } => {
                assert_eq!(kind, "incomplete_split_record");
                assert_eq!(raw.as_deref().map(|r| r.len()), Some(parts[0].len() + 1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((buffer.oldest_offset(), buffer.bytes()), (None, 0));
    }

    #[test]
    fn malformed_parts_are_refused() {
        let mut buffer = Parts::default();
        for bad in [
            &br#"{"tokentally_part": {"record": "r", "index": 2, "count": 2}, "data": ""}"#[..],
            br#"{"tokentally_part": {"record": "r", "index": 0, "count": 2}, "data": "***"}"#,
            br#"{"tokentally_part": 1}"#,
        ] {
            assert!(matches!(buffer.add(bad, &at(1), 1 << 20), Added::Bad(_)));
        }
        // The joined record may not pass the event limit.
        let big = split_event("r", &[1u8; 4000], 1000);
        assert!(matches!(buffer.add(&big[0], &at(1), 5000), Added::Held));
        let refused = big[1..].iter().find_map(|p| match buffer.add(p, &at(2), 3000) {
            Added::Bad(Decoded::Bad { kind, .. }) => Some(kind),
            _ => None,
        });
        assert_eq!(refused.as_deref(), Some("oversized"));
        assert_eq!(
            (buffer.oldest_offset(), buffer.bytes()),
            (None, 0),
            "nothing of it is held"
        );
    }
}

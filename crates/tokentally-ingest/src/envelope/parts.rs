//! Records split into parts by the capture proxy because they exceed the broker's
//! event limit even compressed (docs/formats.md, "Split records"). Each part is
//! `{"tokentally_part": {"record": id, "index": i, "count": n}, "data": base64}`;
//! the parts' data, joined in index order, is the event the record would have
//! been (usually gzip). Parts are held until all have arrived, across batches: a
//! Kafka partition commits no offset past its oldest held part, so a restart reads
//! the parts again.

use super::Decoded;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use tokentally_core::SourcePosition;

/// The prefix that tells a part from a gateway record without a JSON parse.
const MARKER: &[u8] = b"\"tokentally_part\"";
/// More parts than this is not a record anyone should send through Event Hubs.
const MAX_PARTS: u32 = 1024;
/// Parts of one record are sent back to back with one key, so they sit within a
/// few offsets of each other; a record whose first part is this far behind the
/// partition's position will not be completed (its producer died) and is
/// quarantined, releasing the offsets it held.
pub(crate) const MAX_PART_SPAN: i64 = 10_000;

#[derive(Deserialize)]
struct PartEvent {
    tokentally_part: PartHeader,
    data: String,
}

#[derive(Deserialize)]
struct PartHeader {
    record: String,
    index: u32,
    count: u32,
}

#[derive(Debug)]
struct Group {
    count: u32,
    first: SourcePosition,
    data: BTreeMap<u32, Vec<u8>>,
    /// The part events as read, quarantined if the record is never completed.
    raw: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct Parts {
    groups: BTreeMap<String, Group>,
}

pub(crate) fn is_part(event: &[u8]) -> bool {
    event
        .trim_ascii_start()
        .strip_prefix(b"{")
        .is_some_and(|rest| rest.trim_ascii_start().starts_with(MARKER))
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
            self.groups.remove(&record);
            return bad(format!(
                "split record {record:?} is over the limit of {max_bytes} bytes"
            ));
        }
        // A replayed part (same index) is the same bytes: keep the first.
        if let std::collections::btree_map::Entry::Vacant(slot) = group.data.entry(index) {
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
        let joined = group.data.into_values().flatten().collect();
        Added::Complete(joined, group.first)
    }

    /// The offset of the oldest held part of `source[partition]`, which must not be
    /// committed past.
    pub(crate) fn oldest_offset(&self) -> Option<i64> {
        self.groups.values().map(|g| g.first.offset).min()
    }

    /// Gives up on records that will not be completed: all of them (`before` =
    /// `None`, the end of a file) or those whose first part is older than `before`.
    pub(crate) fn expire(&mut self, before: Option<i64>, out: &mut Vec<(SourcePosition, Decoded)>) {
        let expired: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| before.is_none_or(|b| g.first.offset < b))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(group) = self.groups.remove(&id) {
                let reason = format!(
                    "split record {id:?}: {} of {} parts arrived; the rest never did",
                    group.data.len(),
                    group.count
                );
                out.push((
                    group.first,
                    Decoded::Bad {
                        kind: "incomplete_split_record".into(),
                        reason,
                        raw: Some(group.raw),
                    },
                ));
            }
        }
    }
}

/// Splits `event` into part events of at most `max_event_bytes` each (the capture
/// proxy's side of the format, here so both sides live together).
pub fn split_event(record_id: &str, event: &[u8], max_event_bytes: usize) -> Vec<Vec<u8>> {
    // Room for the JSON around the data, the id included; base64 is 4/3 the size.
    let overhead = 96 + record_id.len() * 2;
    let chunk = (max_event_bytes.saturating_sub(overhead) / 4 * 3).max(3);
    let count = event.len().div_ceil(chunk).max(1);
    event
        .chunks(chunk)
        .enumerate()
        .map(|(index, data)| {
            let part = PartOut {
                tokentally_part: HeaderOut {
                    record: record_id,
                    index,
                    count,
                },
                data: base64::engine::general_purpose::STANDARD.encode(data),
            };
            // Serializing strings and numbers cannot fail.
            serde_json::to_vec(&part).unwrap_or_default()
        })
        .collect()
}

/// Field order matters: the marker comes first, so readers spot a part by its prefix.
#[derive(serde::Serialize)]
struct PartOut<'a> {
    tokentally_part: HeaderOut<'a>,
    data: String,
}

#[derive(serde::Serialize)]
struct HeaderOut<'a> {
    record: &'a str,
    index: usize,
    count: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut out = Vec::new();
        buffer.expire(Some(5), &mut out);
        assert!(out.is_empty(), "not older than the bound yet");
        buffer.expire(Some(6), &mut out);
        assert_eq!(out.len(), 1);
        match &out[0].1 {
            Decoded::Bad { kind, raw, .. } => {
                assert_eq!(kind, "incomplete_split_record");
                assert_eq!(raw.as_deref().map(|r| r.len()), Some(parts[0].len() + 1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(buffer.oldest_offset(), None);
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
        let big = split_event("r", &[1u8; 4000], 1000);
        assert!(matches!(buffer.add(&big[0], &at(1), 100), Added::Bad(_)));
    }
}

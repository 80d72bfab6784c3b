//! The split-record format (docs/formats.md, "Split records"): a record that
//! exceeds the broker's event limit even compressed is sent by the capture proxy
//! as parts, each `{"tokentally_part": {"record": id, "index": i, "count": n},
//! "data": base64}`; the parts' data, joined in index order, is the event the
//! record would have been (usually gzip). The proxy splits here; ingest reads
//! parts with [`PartEvent`] and joins them (its `envelope/parts.rs`).

use base64::Engine as _;
use serde::Deserialize;

/// The prefix that tells a part from a gateway record without a JSON parse.
pub const MARKER: &[u8] = b"\"tokentally_part\"";
/// More parts than this is not a record anyone should send through Event Hubs.
pub const MAX_PARTS: u32 = 1024;

/// One part event as read.
#[derive(Debug, Deserialize)]
pub struct PartEvent {
    pub tokentally_part: PartHeader,
    pub data: String,
}

/// Which record a part belongs to, and where in it.
#[derive(Debug, Deserialize)]
pub struct PartHeader {
    pub record: String,
    pub index: u32,
    pub count: u32,
}

/// Whether `event` is a part (by its prefix, without a JSON parse).
pub fn is_part(event: &[u8]) -> bool {
    event
        .trim_ascii_start()
        .strip_prefix(b"{")
        .is_some_and(|rest| rest.trim_ascii_start().starts_with(MARKER))
}

/// Splits `event` into part events of at most `max_event_bytes` each (the capture
/// proxy's side of the format, here so both sides share it).
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

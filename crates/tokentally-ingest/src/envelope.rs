//! What one raw event (a file line, a Kafka message, a Capture record) holds: a
//! gateway record, or an Azure diagnostic export `{"records":[...]}` whose LLM-log
//! chunks must be rejoined before they say anything about a call.
//!
//! Every event ends as rows, quarantine entries or counted skips; the decoder never
//! drops one silently. Rejoined LLM logs come out of [`EventDecoder::finish_batch`],
//! because their chunks may span events.

mod diagnostic;
mod parts;
mod rejoin;

pub(crate) use parts::MAX_PART_SPAN;
pub use parts::split_event;

use flate2::read::MultiGzDecoder;
use std::io::Read as _;
use tokentally_core::{SourcePosition, UsageRecord};

use parts::{Added, Parts};
use rejoin::Rejoin;

/// What part of an event became.
#[derive(Debug)]
pub(crate) enum Decoded {
    Row(Box<UsageRecord>),
    /// Could not be used. `raw` is the offending part when it is not the whole event
    /// (one record of a diagnostic export).
    Bad {
        kind: String,
        reason: String,
        raw: Option<Vec<u8>>,
    },
    /// Understood and deliberately not a row (another log category, a gateway log
    /// with no LLM log beside it); counted by `what` in the summary.
    Skipped {
        what: String,
    },
}

impl Decoded {
    fn bad(kind: &str, reason: impl Into<String>) -> Self {
        Self::Bad {
            kind: kind.to_owned(),
            reason: reason.into(),
            raw: None,
        }
    }
}

/// Turns events into [`Decoded`] outcomes, holding LLM-log chunks until the batch ends.
#[derive(Debug)]
pub(crate) struct EventDecoder {
    max_event_bytes: usize,
    rejoin: Rejoin,
    parts: Parts,
}

impl EventDecoder {
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Self {
            max_event_bytes,
            rejoin: Rejoin::default(),
            parts: Parts::default(),
        }
    }

    /// Decodes one event; outcomes are appended to `out` with the position they
    /// belong to.
    pub(crate) fn decode(
        &mut self,
        event: &[u8],
        position: &SourcePosition,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        if event.len() > self.max_event_bytes {
            let reason = format!(
                "event of {} bytes is over the limit of {} bytes",
                event.len(),
                self.max_event_bytes
            );
            out.push((position.clone(), Decoded::bad("oversized", reason)));
            return;
        }
        if parts::is_part(event) {
            match self.parts.add(event, position, self.inflate_limit()) {
                Added::Held => {}
                Added::Complete(joined, first) => {
                    let from = out.len();
                    self.decode_whole(&joined, &first, out);
                    // A joined record that fails is quarantined whole, not as its last part.
                    for (_, outcome) in &mut out[from..] {
                        if let Decoded::Bad { raw: raw @ None, .. } = outcome {
                            *raw = Some(joined.clone());
                        }
                    }
                }
                Added::Bad(decoded) => out.push((position.clone(), decoded)),
            }
            return;
        }
        self.decode_whole(event, position, out);
    }

    /// Decodes an event that is whole (a record, gzip, a diagnostic export).
    fn decode_whole(
        &mut self,
        event: &[u8],
        position: &SourcePosition,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        if event.starts_with(&[0x1f, 0x8b]) {
            match self.gunzip(event) {
                Ok(inflated) => self.decode_json(&inflated, position, out),
                Err(reason) => out.push((position.clone(), Decoded::bad("invalid_gzip", reason))),
            }
            return;
        }
        self.decode_json(event, position, out);
    }

    /// The most bytes an event may expand to (gzip, joined parts).
    fn inflate_limit(&self) -> usize {
        self.max_event_bytes.saturating_mul(64)
    }

    /// Bounded inflation: a small compressed event must not expand without limit.
    fn gunzip(&self, event: &[u8]) -> Result<Vec<u8>, String> {
        let limit = self.inflate_limit();
        let mut inflated = Vec::new();
        MultiGzDecoder::new(event)
            .take(limit as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| format!("gzip-compressed event does not inflate: {e}"))?;
        if inflated.len() > limit {
            return Err(format!("gzip-compressed event inflates past {limit} bytes"));
        }
        Ok(inflated)
    }

    fn decode_json(
        &mut self,
        event: &[u8],
        position: &SourcePosition,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        if is_diagnostic_export(event) {
            diagnostic::decode(event, position, &mut self.rejoin, out);
            return;
        }
        let decoded = match tokentally_parse::parse_record(event, position.clone()) {
            Ok(row) => Decoded::Row(Box::new(row)),
            Err(e) => Decoded::bad(e.kind(), e.to_string()),
        };
        out.push((position.clone(), decoded));
    }

    /// Ends a batch: rejoined LLM logs become rows (chunks still missing are
    /// flagged partial). Called before a batch's files are made durable, so no
    /// chunk outlives the offsets committed for it.
    pub(crate) fn finish_batch(&mut self, out: &mut Vec<(SourcePosition, Decoded)>) {
        self.rejoin.finish(out);
    }

    /// The offset of the oldest part of a split record still waiting for the rest:
    /// nothing from there on may be committed.
    pub(crate) fn held_from(&self) -> Option<i64> {
        self.parts.oldest_offset()
    }

    /// Quarantines split records that will not be completed: every one still held
    /// (`before = None`: the end of a file) or those begun before offset `before`.
    pub(crate) fn expire_parts(&mut self, before: Option<i64>, out: &mut Vec<(SourcePosition, Decoded)>) {
        self.parts.expire(before, out);
    }
}

/// Azure's diagnostic export to Event Hubs is always `{"records": [...]}`; a cheap
/// prefix test keeps the hot path (gateway records) free of a second JSON parse.
fn is_diagnostic_export(event: &[u8]) -> bool {
    let rest = event.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b"{") else {
        return false;
    };
    rest.trim_ascii_start().starts_with(b"\"records\"")
}

#[cfg(test)]
mod tests;

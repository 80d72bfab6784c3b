//! What one raw event (a file line, a Kafka message, a Capture record) holds: a
//! gateway record, or an Azure diagnostic export `{"records":[...]}` whose LLM-log
//! chunks must be rejoined before they say anything about a call.
//!
//! Every event ends as rows, quarantine entries or counted skips; the decoder never
//! drops one silently. Split-record parts and LLM-log records may span events, so
//! they are held, bounded in bytes (`max_held_bytes`) and in positions
//! ([`MAX_HELD_SPAN`]), and come out when complete or when given up
//! ([`Expiry`]): LLM-log calls at a flush ([`EventDecoder::release_ready`]).

mod diagnostic;
mod llm_call;
mod parts;
mod rejoin;

use flate2::read::MultiGzDecoder;
use std::io::Read as _;
use std::time::{Duration, Instant};
use tokentally_core::{SourcePosition, UsageRecord};

use parts::{Added, Parts};
use rejoin::Rejoin;

/// Records held for joining (split-record parts, LLM-log records) are given up
/// once the source is this many positions (Kafka offsets, file lines, Capture
/// sequence numbers) past the first of them: the parts of a record are sent
/// back to back, and Azure writes a call's log records close together.
pub(crate) const MAX_HELD_SPAN: i64 = 10_000;
/// In follow mode, held records are given up after this long, so a quiet
/// partition does not keep them (and its commit) forever.
pub(crate) const MAX_HELD_AGE: Duration = Duration::from_secs(600);

/// Why records held for joining were given up before they were complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The input ended: the end of a file, or an until-caught-up run caught up.
    EndOfInput,
    /// The source moved [`MAX_HELD_SPAN`] positions past the first of them.
    Span,
    /// Held for [`MAX_HELD_AGE`] in follow mode.
    Age,
    /// What the source held passed `max_held_bytes` (the limit); oldest first.
    Memory(usize),
}

impl Expiry {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::EndOfInput => "the input ended first".to_owned(),
            Self::Span => format!("not complete within {MAX_HELD_SPAN} offsets"),
            Self::Age => format!("not complete within {} s", MAX_HELD_AGE.as_secs()),
            Self::Memory(limit) => {
                format!("held records passed max_held_bytes ({limit} bytes) and the oldest went first")
            }
        }
    }
}

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
    pub(crate) fn bad(kind: &str, reason: impl Into<String>) -> Self {
        Self::Bad {
            kind: kind.to_owned(),
            reason: reason.into(),
            raw: None,
        }
    }
}

/// Turns events into [`Decoded`] outcomes, holding split-record parts and LLM-log
/// records until what they belong to is complete, within bounds.
#[derive(Debug)]
pub(crate) struct EventDecoder {
    /// The most bytes one event may have, as read or once inflated or joined.
    max_event_bytes: usize,
    /// The most bytes of parts and LLM-log records held at once.
    max_held_bytes: usize,
    rejoin: Rejoin,
    parts: Parts,
}

impl EventDecoder {
    pub(crate) fn new(max_event_bytes: usize, max_held_bytes: usize) -> Self {
        Self {
            max_event_bytes,
            max_held_bytes,
            rejoin: Rejoin::default(),
            parts: Parts::default(),
        }
    }

    /// Decodes one event; outcomes are appended to `out` with the position they
    /// belong to, followed by anything held that this event pushed past a bound.
    pub(crate) fn decode(
        &mut self,
        event: &[u8],
        position: &SourcePosition,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        self.decode_event(event, position, out);
        self.bound(position.offset, out);
    }

    fn decode_event(
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
        if tokentally_kafka::is_part(event) {
            match self.parts.add(event, position, self.max_event_bytes) {
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
                Err(bad) => out.push((position.clone(), bad)),
            }
            return;
        }
        self.decode_json(event, position, out);
    }

    /// Bounded inflation: a compressed event inflates to at most the event limit,
    /// and no more than one byte past it is ever inflated (a gzip bomb costs
    /// `max_event_bytes` of memory, not what it would expand to).
    fn gunzip(&self, event: &[u8]) -> Result<Vec<u8>, Decoded> {
        let limit = self.max_event_bytes;
        let mut inflated = Vec::new();
        MultiGzDecoder::new(event)
            .take(limit as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| {
                Decoded::bad(
                    "invalid_gzip",
                    format!("gzip-compressed event does not inflate: {e}"),
                )
            })?;
        if inflated.len() > limit {
            let reason = format!(
                "gzip-compressed event of {} bytes inflates past the event limit of {limit} bytes",
                event.len()
            );
            return Err(Decoded::bad("oversized", reason));
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

    /// Gives up on what is held too long (by position) or past `max_held_bytes`,
    /// oldest first, whichever of parts and LLM-log records that is.
    fn bound(&mut self, offset: i64, out: &mut Vec<(SourcePosition, Decoded)>) {
        let before = offset.saturating_sub(MAX_HELD_SPAN);
        if self.parts.oldest_offset().is_some_and(|first| first < before) {
            self.parts
                .expire(|first, _| first.offset < before, &Expiry::Span, out);
        }
        if self.rejoin.first_offset().is_some_and(|first| first < before) {
            self.rejoin.expire(Some(before), &Expiry::Span, out);
        }
        let memory = Expiry::Memory(self.max_held_bytes);
        while self.held_bytes() > self.max_held_bytes {
            let parts_first = match (self.parts.oldest_offset(), self.rejoin.first_offset()) {
                (Some(part), Some(call)) => part <= call,
                (part, _) => part.is_some(),
            };
            let given_up = if parts_first {
                self.parts.expire_oldest(&memory, out)
            } else {
                self.rejoin.expire_first(&memory, out)
            };
            if !given_up {
                break;
            }
        }
    }

    /// Bytes held for joining: split-record parts and LLM-log records.
    pub(crate) fn held_bytes(&self) -> usize {
        self.parts.bytes() + self.rejoin.bytes()
    }

    /// At a flush: writes the LLM-log calls that are ready. In follow mode
    /// (`follow`), also what has been held for [`MAX_HELD_AGE`]: calls with what
    /// they have, incomplete split records to quarantine.
    pub(crate) fn release_ready(&mut self, follow: bool, out: &mut Vec<(SourcePosition, Decoded)>) {
        let older_than = follow.then(|| Instant::now().checked_sub(MAX_HELD_AGE)).flatten();
        self.release(older_than, out);
    }

    /// [`Self::release_ready`] with what arrived before `older_than` given up.
    fn release(&mut self, older_than: Option<Instant>, out: &mut Vec<(SourcePosition, Decoded)>) {
        self.rejoin.release_ready(older_than, out);
        if let Some(t) = older_than {
            self.parts.expire(|_, seen| seen < t, &Expiry::Age, out);
        }
    }

    /// Writes every LLM-log call held, ready or not (an until-caught-up run that
    /// caught up). Split records stay held: the commit waits at their first part
    /// and the next run reads them again with the rest.
    pub(crate) fn release_calls(&mut self, out: &mut Vec<(SourcePosition, Decoded)>) {
        self.rejoin.expire(None, &Expiry::EndOfInput, out);
    }

    /// The end of a file: everything held is written or quarantined.
    pub(crate) fn finish(&mut self, out: &mut Vec<(SourcePosition, Decoded)>) {
        self.release_calls(out);
        self.parts.expire(|_, _| true, &Expiry::EndOfInput, out);
    }

    /// The offset of the oldest record still held: nothing from there on may be
    /// committed.
    pub(crate) fn held_from(&self) -> Option<i64> {
        match (self.parts.oldest_offset(), self.rejoin.oldest_offset()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
pub(crate) mod llm_tests;
#[cfg(test)]
mod tests;

//! Rejoining API Management's LLM log. Azure logs one call as several records with
//! one `CorrelationId`: a token row (deployment, model, token counts) and request
//! and response message rows that need carry none of those, long messages split
//! into chunks with increasing `SequenceNumber`, in any order and in different
//! events. The gateway log with the same `CorrelationId` names the caller's
//! subscription. Records are held per call until the call is ready (see
//! [`Call::ready`]) or given up ([`super::Expiry`]), then merged
//! (`llm_call.rs`) and parsed like any gateway record.
//!
//! A call is written once: its id is remembered after it is written, and records
//! of it that arrive later are counted as skipped instead of making a second row,
//! except a token row for a call written without one.

use super::diagnostic::DiagRecord;
use super::llm_call::{self, LlmRecord};
use super::{Decoded, Expiry};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;
use tokentally_core::SourcePosition;

const CORRELATION: &[&str] = &["CorrelationId"];
/// Per held record on top of its bytes: its entry and bookkeeping.
const RECORD_OVERHEAD: usize = 64;
/// Ids of written calls remembered, so late records of them are recognised.
const REMEMBERED: usize = 16_384;

/// The records of one call held so far.
#[derive(Debug)]
pub(super) struct Call {
    correlation_id: String,
    first: SourcePosition,
    first_seen: Instant,
    llm: Vec<LlmRecord>,
    gateway: Option<Vec<u8>>,
    bytes: usize,
}

impl Call {
    /// Ready to write at a flush: it has its token row, no sequence number is
    /// missing between those seen, and its gateway log is in when the partition
    /// carries gateway logs at all. Message rows that come after that only feed
    /// the estimate columns, so they are not waited for.
    fn ready(&self, expect_gateway: bool) -> bool {
        self.llm.iter().any(|r| r.token_row)
            && llm_call::sequence_complete(self.llm.iter().map(|r| r.seq))
            && (self.gateway.is_some() || !expect_gateway)
    }
}

/// Calls held, in arrival order (so output order, and with it file bytes, is
/// deterministic for the same input and flush points).
#[derive(Debug, Default)]
pub(crate) struct Rejoin {
    index: HashMap<String, u64>,
    calls: BTreeMap<u64, Call>,
    next: u64,
    bytes: usize,
    /// This source has carried gateway logs, so every call waits for its own.
    expect_gateway: bool,
    written: Written,
}

impl Rejoin {
    fn call(&mut self, correlation_id: &str, position: &SourcePosition) -> &mut Call {
        let next = self.next;
        let key = *self.index.entry(correlation_id.to_owned()).or_insert(next);
        if key == next {
            self.next += 1;
        }
        self.calls.entry(key).or_insert_with(|| Call {
            correlation_id: correlation_id.to_owned(),
            first: position.clone(),
            first_seen: Instant::now(),
            llm: Vec::new(),
            gateway: None,
            bytes: 0,
        })
    }

    /// Holds one LLM-log record. Late and repeated records are counted skips.
    pub(super) fn add_llm(
        &mut self,
        record: DiagRecord<'_>,
        position: &SourcePosition,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) -> Result<(), String> {
        let id = record.str(CORRELATION).ok_or("no CorrelationId")?;
        let held = LlmRecord::new(record);
        match self.written.had_token_row(id) {
            Some(true) => return skip(out, position, "LLM-log record of a call already written"),
            Some(false) if !held.token_row => {
                return skip(out, position, "LLM-log message record of a call already written");
            }
            // The token row of a call written without one: a row of its own,
            // which the report prefers (same event id, reported usage).
            Some(false) => self.written.forget(id),
            None => {}
        }
        let call = self.call(id, position);
        if call.llm.iter().any(|r| r.raw == held.raw) {
            return skip(out, position, "repeated diagnostic record");
        }
        if let Some(clash) = call.llm.iter().find(|r| r.clashes_with(&held)) {
            return Err(format!(
                "SequenceNumber {} of CorrelationId {id} seen twice with different messages",
                clash.seq.unwrap_or_default()
            ));
        }
        let bytes = held.raw.len() + RECORD_OVERHEAD;
        call.bytes += bytes;
        call.llm.push(held);
        self.bytes += bytes;
        Ok(())
    }

    /// Holds a gateway log for the LLM log of the same call.
    pub(super) fn add_gateway(
        &mut self,
        record: DiagRecord<'_>,
        position: &SourcePosition,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) -> Result<(), String> {
        let id = record.str(CORRELATION).ok_or("no CorrelationId")?;
        self.expect_gateway = true;
        let raw = serde_json::to_vec(record.0).unwrap_or_default();
        match self.written.had_gateway(id) {
            Some(true) => return skip(out, position, "gateway log of a call already written"),
            // Its call was written without it (given up on): the caller comes
            // in a copy of its own.
            Some(false) => {
                self.written.gateway_arrived(id);
                match llm_call::gateway_copy(id, position, &raw) {
                    Some(copy) => out.push((position.clone(), copy)),
                    None => return skip(out, position, "gateway log of a call already written"),
                }
                return Ok(());
            }
            None => {}
        }
        let call = self.call(id, position);
        if call.gateway.is_some() {
            return skip(out, position, "repeated gateway log");
        }
        let bytes = raw.len() + RECORD_OVERHEAD;
        call.bytes += bytes;
        call.gateway = Some(raw);
        self.bytes += bytes;
        Ok(())
    }

    /// Bytes of the records held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Where the oldest held call began, which must not be committed past.
    pub(crate) fn oldest_offset(&self) -> Option<i64> {
        self.calls.values().map(|c| c.first.offset).min()
    }

    /// Where the call that arrived first began (about the oldest: a split record
    /// is positioned at its first part).
    pub(crate) fn first_offset(&self) -> Option<i64> {
        self.calls.first_key_value().map(|(_, c)| c.first.offset)
    }

    /// Writes the calls that are ready; `older_than` also writes, with what they
    /// have, those held since before it (follow mode's time bound).
    pub(crate) fn release_ready(
        &mut self,
        older_than: Option<Instant>,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        let expect_gateway = self.expect_gateway;
        let keys: Vec<(u64, Option<Expiry>)> = self
            .calls
            .iter()
            .filter_map(|(key, call)| {
                if call.ready(expect_gateway) {
                    Some((*key, None))
                } else if older_than.is_some_and(|t| call.first_seen < t) {
                    Some((*key, Some(Expiry::Age)))
                } else {
                    None
                }
            })
            .collect();
        for (key, why) in keys {
            self.write(key, why.as_ref(), out);
        }
    }

    /// Writes every call begun before offset `before` (all with `None`), ready or not.
    pub(crate) fn expire(
        &mut self,
        before: Option<i64>,
        why: &Expiry,
        out: &mut Vec<(SourcePosition, Decoded)>,
    ) {
        let keys: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| before.is_none_or(|b| c.first.offset < b))
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            self.write(key, Some(why), out);
        }
    }

    /// Writes the call that arrived first; false when none is held.
    pub(crate) fn expire_first(&mut self, why: &Expiry, out: &mut Vec<(SourcePosition, Decoded)>) -> bool {
        let Some(key) = self.calls.first_key_value().map(|(key, _)| *key) else {
            return false;
        };
        self.write(key, Some(why), out);
        true
    }

    /// Writes one call: a row, a quarantine entry when nothing billable came, or a
    /// counted skip for a gateway log alone. `why` says why it was given up on,
    /// which a ready call was not.
    fn write(&mut self, key: u64, why: Option<&Expiry>, out: &mut Vec<(SourcePosition, Decoded)>) {
        let Some(call) = self.calls.remove(&key) else {
            return;
        };
        let why = why.filter(|_| !call.ready(self.expect_gateway));
        self.bytes -= call.bytes;
        self.index.remove(&call.correlation_id);
        if call.llm.is_empty() {
            // The LLM log may be in another partition or file: the caller is
            // written as a copy of the call of its own.
            let copy = call
                .gateway
                .as_deref()
                .and_then(|g| llm_call::gateway_copy(&call.correlation_id, &call.first, g));
            let decoded = copy.unwrap_or_else(|| Decoded::Skipped {
                what: "gateway log of an API other than Azure OpenAI".to_owned(),
            });
            out.push((call.first, decoded));
            return;
        }
        let decoded = llm_call::decode(
            &call.correlation_id,
            &call.first,
            &call.llm,
            call.gateway.as_deref(),
            why,
        );
        let written = WrittenCall {
            token_row: call.llm.iter().any(|r| r.token_row),
            gateway: call.gateway.is_some(),
        };
        self.written.remember(call.correlation_id, written);
        out.push((call.first, decoded));
    }
}

fn skip(
    out: &mut Vec<(SourcePosition, Decoded)>,
    position: &SourcePosition,
    what: &str,
) -> Result<(), String> {
    out.push((
        position.clone(),
        Decoded::Skipped {
            what: what.to_owned(),
        },
    ));
    Ok(())
}

/// What a written call had.
#[derive(Debug, Clone, Copy)]
struct WrittenCall {
    token_row: bool,
    gateway: bool,
}

/// The most recently written calls, and what each had.
#[derive(Debug, Default)]
struct Written {
    order: VecDeque<String>,
    calls: HashMap<String, WrittenCall>,
}

impl Written {
    fn had_token_row(&self, id: &str) -> Option<bool> {
        self.calls.get(id).map(|c| c.token_row)
    }

    fn had_gateway(&self, id: &str) -> Option<bool> {
        self.calls.get(id).map(|c| c.gateway)
    }

    fn gateway_arrived(&mut self, id: &str) {
        if let Some(c) = self.calls.get_mut(id) {
            c.gateway = true;
        }
    }

    fn remember(&mut self, id: String, call: WrittenCall) {
        if self.calls.insert(id.clone(), call).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.calls.remove(&old);
            }
        }
    }

    fn forget(&mut self, id: &str) {
        self.calls.remove(id);
        self.order.retain(|known| known != id);
    }
}

//! The month's usage, deduplicated and aggregated per app × deployment × model ×
//! UTC day: the one pass over every row, so the one place speed matters
//! (benches/README.md has the figures).
//!
//! `scan_files.rs` reads each day's Parquet files (projection, the time filter,
//! repeated strings as dictionaries); deduplication and the aggregate run here,
//! day by day: copies of one call carry its one `request_time`, so they always
//! sit in the same `date=` partition, and a day's event ids are all the state
//! deduplication needs. Memory is bounded by the days in flight (their event
//! tables and one batch each), never by the month. Which copy of a call counts
//! is `dedup.rs`'s rule ([`Rank`]); this pass only applies it. Copies of a call
//! made at midnight by two recorders can sit on both sides of it: a day's calls
//! near its midnights are settled across days by `scan_edges.rs`.

use crate::dataset::DayUsage;
pub(crate) use crate::dedup::Rank;
use crate::scan_columns::{Columns, Interner, Key};
use crate::scan_edges::{EDGE_MICROS, EdgeCall};
use crate::scan_files::{TimeWindow, file_rows, read_file};
use crate::usage_dir::{DayFile, UsageDir};
use crate::{Month, Result};
use chrono::NaiveDate;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use std::sync::{Arc, Mutex};
use tokentally_core::TokenCounts;
use tokio::sync::Semaphore;

/// One call as the aggregate needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub rank: Rank,
    /// Index of the (app, source, deployment, model) key in the day's key table.
    pub key: u32,
    /// The key whose app and identity source the call is charged to: the
    /// copy that names the caller best (`dedup.rs`), and its rank.
    pub app: u32,
    pub app_rank: Rank,
    pub day: i32,
    pub failed: bool,
    pub estimated: bool,
    pub tokens: TokenCounts,
    /// Whether a copy of the call lies near one of its day's midnights, where a
    /// copy in the neighbouring day may compete ([`crate::scan_edges`]).
    pub edge: bool,
}

impl Call {
    /// Two copies of one call as one: the tokens and key of the copy that
    /// counts ([`Rank::before`]; the first offered among equals), the caller of
    /// the copy that names it best, near a midnight if either is.
    pub(crate) fn merged(self, other: Self, sources: &[String]) -> Self {
        let mut merged = if other.rank.before(&self.rank, sources) {
            other
        } else {
            self
        };
        let caller = if other.app_rank.names_caller_before(&self.app_rank, sources) {
            other
        } else {
            self
        };
        merged.app = caller.app;
        merged.app_rank = caller.app_rank;
        merged.edge = self.edge || other.edge;
        merged
    }
}

/// A day's calls by event id. Event ids are xxh3-128 hex, so almost all fit a
/// `u128`; any other id is kept as text, so no two ids are ever merged.
///
/// Every call with a hex id is appended as it comes, with its id's hash in one
/// of [`PARTS`] lists by the hash's top bits; [`DayCalls::resolve`] then
/// deduplicates one list at a time in a table small enough for the L2 cache.
/// Probing one table of the whole day cost a cache miss per new id, and was
/// half the scan's time (benches/README.md).
#[derive(Default)]
pub(crate) struct DayCalls {
    /// (hash, index into `calls`) of each call with a hex id, by [`part`].
    parts: Vec<Vec<(u64, u32)>>,
    /// One part's (hash, index) of the best copy per id, reused part to part.
    table: HashTable<(u64, u32)>,
    /// The numeric id of each call in `calls` (0 for a text id: never looked up).
    hex_ids: Vec<u128>,
    other: HashMap<String, u32>,
    calls: Vec<Call>,
    /// Whether each call in `calls` is its id's chosen copy (after `resolve`).
    live: Vec<bool>,
}

/// How many parts [`DayCalls`] splits a day's ids into: a day of a few hundred
/// thousand calls makes parts of a few thousand, whose table fits the L2 cache,
/// and 64 lists written at once still stream.
const PARTS: usize = 64;

/// The part of an id hashed to `hash`: its top bits (the table probes by the
/// low bits and hashbrown's tag by the top 7, so within a part they still vary).
fn part(hash: u64) -> usize {
    (hash >> 58) as usize
}

/// Hash of a numeric event id for [`DayCalls`]: a multiply of both halves, so
/// ids that are not uniformly random (tests, other producers) still spread.
fn hash_id(id: u128) -> u64 {
    let folded = (id as u64) ^ ((id >> 64) as u64).rotate_left(29);
    let x = folded.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 32)
}

/// A fast hasher for the scan's keys (event ids, id tuples, the day's strings):
/// they come from our own dataset, so there is no adversary to resist, and
/// SipHash would be a large share of the scan (the `monthly_report` bench).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher;

impl std::hash::BuildHasher for IdHasher {
    type Hasher = IdHash;
    fn build_hasher(&self) -> IdHash {
        IdHash(0)
    }
}

#[derive(Default)]
pub(crate) struct IdHash(u64);

impl std::hash::Hasher for IdHash {
    fn finish(&self) -> u64 {
        // splitmix64's finalizer: every input bit reaches the top bits the table probes by.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = self.0.rotate_left(32) ^ u64::from(n);
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64).rotate_left(17);
    }
}

/// Value of each byte as a lowercase hex digit, 0xff if it is not one.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// A lowercase 32-digit hex id as a number; anything else (upper case, signs,
/// other lengths) is `None`, so two different ids never share a number. A table
/// lookup per digit without branches: digits and letters alternate at random in
/// an id, so a branch per digit would be mispredicted half the time.
fn parse_hex_id(id: &str) -> Option<u128> {
    let bytes: &[u8; 32] = id.as_bytes().try_into().ok()?;
    let mut n: u128 = 0;
    let mut bad = 0u8;
    for &b in bytes {
        let digit = HEX[usize::from(b)];
        bad |= digit;
        n = (n << 4) | u128::from(digit & 0x0f);
    }
    // A digit is at most 0x0f; only the invalid marker sets the high bits.
    (bad & 0xf0 == 0).then_some(n)
}

impl DayCalls {
    fn with_capacity(rows: usize) -> Self {
        let mut calls = Self::default();
        calls.reset(rows);
        calls
    }

    /// Empties the day's calls for the next day, keeping the allocations: a
    /// fresh table and vectors per day cost a page fault per 4 KiB touched
    /// (about a tenth of the scan's time).
    fn reset(&mut self, rows: usize) {
        self.parts.resize_with(PARTS, Vec::new);
        for p in &mut self.parts {
            p.clear();
            // A little over an even share, so a part rarely grows.
            p.reserve(rows / PARTS + rows / (PARTS * 8) + 16);
        }
        self.table.clear();
        self.hex_ids.clear();
        self.other.clear();
        self.calls.clear();
        self.live.clear();
        self.hex_ids.reserve(rows);
        self.calls.reserve(rows);
        self.live.reserve(rows);
    }

    pub(crate) fn offer(&mut self, id: &str, call: Call, sources: &[String]) {
        let next = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
        if let Some(n) = parse_hex_id(id) {
            let hash = hash_id(n);
            if let Some(p) = self.parts.get_mut(part(hash)) {
                p.push((hash, next));
            }
            self.hex_ids.push(n);
            self.calls.push(call);
            self.live.push(true);
            return;
        }
        let kept = match self.other.entry(id.to_owned()) {
            Entry::Occupied(o) => *o.get(),
            Entry::Vacant(v) => {
                v.insert(next);
                self.hex_ids.push(0);
                self.calls.push(call);
                self.live.push(true);
                return;
            }
        };
        if let Some(kept) = self.calls.get_mut(kept as usize) {
            *kept = kept.merged(call, sources);
        }
    }

    /// Keeps the best-ranked copy of each hex id (the first offered among
    /// equals), part by part; [`DayCalls::calls`] then yields only those.
    pub(crate) fn resolve(&mut self, sources: &[String]) {
        let Self {
            parts,
            table,
            hex_ids,
            calls,
            live,
            ..
        } = self;
        for p in parts.iter_mut() {
            table.clear();
            table.reserve(p.len(), |&(h, _)| h);
            for &(hash, i) in p.iter() {
                // The ids are read only when the 64-bit hashes are equal (a
                // copy, almost always): reading each row's id would be a cache miss.
                let entry = table.entry(
                    hash,
                    |&(h, j)| h == hash && hex_ids.get(j as usize) == hex_ids.get(i as usize),
                    |&(h, _)| h,
                );
                let hashbrown::hash_table::Entry::Occupied(mut o) = entry else {
                    entry.insert((hash, i));
                    continue;
                };
                let kept = o.get().1;
                let (Some(new), Some(old)) = (calls.get(i as usize), calls.get(kept as usize)) else {
                    continue;
                };
                let merged = old.merged(*new, sources);
                let (winner, loser) = if new.rank.before(&old.rank, sources) {
                    o.get_mut().1 = i;
                    (i, kept)
                } else {
                    (kept, i)
                };
                if let Some(l) = live.get_mut(loser as usize) {
                    *l = false;
                }
                // The winner's slot stands for every copy.
                if let Some(w) = calls.get_mut(winner as usize) {
                    *w = merged;
                }
            }
            p.clear();
        }
    }

    fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls
            .iter()
            .zip(&self.live)
            .filter(|&(_, &live)| live)
            .map(|(c, _)| c)
    }

    /// The chosen copies near a midnight, with their event ids.
    fn edge_calls(&self) -> Vec<(String, &Call)> {
        let text: HashMap<u32, &str> = self.other.iter().map(|(id, &i)| (i, id.as_str())).collect();
        self.calls
            .iter()
            .zip(&self.live)
            .zip(&self.hex_ids)
            .enumerate()
            .filter(|&(_, ((c, &live), _))| live && c.edge)
            .map(|(i, ((c, _), &hex))| {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                let id = text
                    .get(&index)
                    .map_or_else(|| format!("{hex:032x}"), |&t| t.to_owned());
                (id, c)
            })
            .collect()
    }
}

/// What one day's scan hands on: the day's calls added up, and its calls near
/// a midnight, left for [`crate::scan_edges`] to settle against the neighbouring days.
#[derive(Default)]
struct DayScan {
    rows: Vec<DayUsage>,
    edges: Vec<EdgeCall>,
}

/// A day the scan reads: the month's own days count; the day before and the
/// day after the month are read only near the month's first and last midnight,
/// for copies that compete with the month's.
#[derive(Debug, Clone, Copy)]
struct ScanDay {
    day: NaiveDate,
    window: TimeWindow,
    counted: bool,
}

/// The month's days, then its two neighbours' edges.
fn scan_days(month: Month) -> Vec<ScanDay> {
    let window = TimeWindow::from(month);
    let mut days = Vec::new();
    let mut day = month.first_day();
    while day < month.end_day() {
        days.push(ScanDay {
            day,
            window,
            counted: true,
        });
        day = day.succ_opt().unwrap_or(NaiveDate::MAX);
    }
    if let Some(before) = month.first_day().pred_opt() {
        days.push(ScanDay {
            day: before,
            window: TimeWindow {
                start: window.start - EDGE_MICROS,
                end: window.start,
            },
            counted: false,
        });
    }
    days.push(ScanDay {
        day: month.end_day(),
        window: TimeWindow {
            start: window.end,
            end: window.end.saturating_add(EDGE_MICROS),
        },
        counted: false,
    });
    days
}

/// Days whose files are listed and fetched while earlier days decode.
const DAYS_AHEAD: usize = 6;

/// The month's calls in `usage`, one per event id, aggregated per app,
/// deployment, model and UTC day (the day decides which price applies).
/// `parallel` days run at once, each decoded on a blocking thread (decoding and
/// the dedup table are CPU work) once its files are listed (and, from object
/// storage, fetched).
pub(crate) async fn daily_usage(usage: &UsageDir, month: Month, parallel: usize) -> Result<Vec<DayUsage>> {
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    // Days listed (and, from object storage, fetched) ahead of their decoding, so
    // the store's round trips overlap the CPU work; also what bounds the days
    // held in memory.
    let ahead = Arc::new(Semaphore::new(parallel.max(1) + DAYS_AHEAD));
    // At most one `DayCalls` per day in flight, handed from day to day.
    let spare: Arc<Mutex<Vec<DayCalls>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for day in scan_days(month) {
        let (permits, ahead, spare, usage) = (permits.clone(), ahead.clone(), spare.clone(), usage.clone());
        tasks.spawn(async move {
            let _held = ahead.acquire_owned().await;
            let files = usage.day_files(day.day).await?;
            let _permit = permits.acquire_owned().await;
            tokio::task::spawn_blocking(move || scan_day(&files, day, &spare))
                .await
                .map_err(|e| crate::Error::Internal(format!("day scan failed: {e}")))?
        });
    }
    let mut rows = Vec::new();
    let mut edges = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let day = done.map_err(|e| crate::Error::Internal(format!("day scan failed: {e}")))??;
        rows.extend(day.rows);
        edges.extend(day.edges);
    }
    crate::scan_edges::add_to(&mut rows, &crate::scan_edges::winners(edges))?;
    rows.sort_by(|a, b| {
        let key = |d: &DayUsage| {
            (
                d.day,
                d.app_id.clone(),
                d.deployment.clone(),
                d.model.clone(),
                d.app_id_source.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(rows)
}

fn scan_day(files: &[DayFile], day: ScanDay, spare: &Mutex<Vec<DayCalls>>) -> Result<DayScan> {
    if files.is_empty() {
        return Ok(DayScan::default());
    }
    let mut rows = 0;
    for file in files {
        rows += file_rows(file)?;
    }
    let mut interner = Interner::default();
    let mut calls = match spare.lock().ok().and_then(|mut s| s.pop()) {
        Some(mut calls) => {
            calls.reset(rows);
            calls
        }
        None => DayCalls::with_capacity(rows),
    };
    for file in files {
        read_file(file, day.window, &mut |batch| {
            let cols = Columns::new(batch)?;
            let rows = cols.calls(&mut interner)?;
            for (row, call) in rows.into_iter().enumerate() {
                calls.offer(cols.event_id(row), call, interner.sources());
            }
            Ok(())
        })?;
    }
    calls.resolve(interner.sources());
    let scanned = settle(&calls, &interner, day.counted);
    if let Ok(mut spare) = spare.lock() {
        spare.push(calls);
    }
    scanned
}

/// The day's chosen copies: those near a midnight as [`EdgeCall`]s, the rest
/// added up (none for a day outside the month).
fn settle(calls: &DayCalls, interner: &Interner, counted: bool) -> Result<DayScan> {
    let near = calls.edge_calls();
    // Shared names for the edge calls: built only on a day that has some.
    let (keys, sources): (Vec<Arc<Key>>, Vec<Arc<str>>) = if near.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (
            interner.keys().iter().cloned().map(Arc::new).collect(),
            interner.sources().iter().map(|s| Arc::from(s.as_str())).collect(),
        )
    };
    let edges = near
        .into_iter()
        .filter_map(|(id, c)| {
            Some(EdgeCall {
                id,
                rank: c.rank.named(&sources),
                key: keys.get(c.key as usize)?.clone(),
                caller: c.app_rank.named(&sources),
                app_key: keys.get(c.app as usize)?.clone(),
                day: c.day,
                failed: c.failed,
                estimated: c.estimated,
                tokens: c.tokens,
                counted,
            })
        })
        .collect();
    let rows = if counted {
        aggregate(calls, interner.keys())?
    } else {
        Vec::new()
    };
    Ok(DayScan { rows, edges })
}

/// The date of a [`Call::day`] (days since 1970-01-01).
pub(crate) fn date_of(day: i32) -> NaiveDate {
    NaiveDate::default() + chrono::Days::new(u64::try_from(day).unwrap_or(0))
}

/// Sums the day's winning copies per key and day.
///
/// # Errors
/// A sum that overflows, naming the rows (app, deployment, model and day).
fn aggregate(calls: &DayCalls, keys: &[Key]) -> Result<Vec<DayUsage>> {
    let mut sums: HashMap<(u32, u32, i32), DayUsage, IdHasher> = HashMap::default();
    for c in calls.calls().filter(|c| !c.edge) {
        let (Some(key), Some(app)) = (keys.get(c.key as usize), keys.get(c.app as usize)) else {
            continue;
        };
        sums.entry((c.key, c.app, c.day))
            .or_insert_with(|| DayUsage::empty(app, key, date_of(c.day)))
            .add_call(c.failed, c.estimated, &c.tokens)?;
    }
    Ok(sums.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(usage: u8, source: u32, offset: i64, key: u32) -> Call {
        let rank = Rank {
            usage,
            identity: 0,
            source,
            partition: i64::MAX,
            offset,
        };
        Call {
            rank,
            key,
            app: key,
            app_rank: rank,
            day: 0,
            failed: false,
            estimated: usage == 1,
            edge: false,
            tokens: TokenCounts {
                prompt: 1,
                completion: 1,
                total: 2,
                ..TokenCounts::default()
            },
        }
    }

    #[test]
    fn the_best_ranked_copy_wins_whatever_the_order() {
        let id = "0123456789abcdef0123456789abcdef";
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let copies = [call(1, 0, 1, 7), call(0, 1, 9, 8), call(0, 2, 1, 9)];
            let mut day = DayCalls::with_capacity(4);
            let sources = ["a.jsonl".to_owned(), "b.jsonl".to_owned(), "c.jsonl".to_owned()];
            for i in order {
                day.offer(id, copies[i], &sources);
            }
            day.offer("e1", call(2, 0, 1, 3), &sources);
            day.offer("e1", call(2, 0, 0, 4), &sources);
            day.resolve(&sources);
            let mut winners: Vec<u32> = day.calls().map(|c| c.key).collect();
            winners.sort_unstable();
            // Reported beats estimated; among reported, the first source wins.
            assert_eq!(winners, [4, 8], "{order:?}");
        }
        // With usage equal, the token's app beats the subscription, whatever the source.
        let mut by_subscription = call(0, 0, 1, 20);
        by_subscription.rank.identity = 1;
        let mut day = DayCalls::with_capacity(2);
        let sources = ["a.jsonl".to_owned(), "b.jsonl".to_owned()];
        day.offer(id, by_subscription, &sources);
        day.offer(id, call(0, 1, 1, 21), &sources);
        day.resolve(&sources);
        assert_eq!(day.calls().map(|c| c.key).collect::<Vec<_>>(), [21]);
        assert_eq!(
            parse_hex_id("0123456789abcdef0123456789abcdef"),
            Some(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)
        );
        assert_eq!(parse_hex_id("0123456789ABCDEF0123456789abcdef"), None);
        assert_eq!(parse_hex_id("e1"), None);
        assert_eq!(parse_hex_id("+123456789abcdef0123456789abcdef"), None);
        // ':' follows '9', and two bad digits must not cancel out: either would
        // give an id another id's number, merging two calls.
        assert_eq!(parse_hex_id(":123456789abcdef0123456789abcdef"), None);
        assert_eq!(parse_hex_id("gg23456789abcdef0123456789abcdef"), None);
    }

    /// A call with any copy near a midnight is settled across days, whichever
    /// copy wins: the winner stands for every copy (hex ids and text ids alike).
    #[test]
    fn a_call_with_any_copy_near_a_midnight_is_an_edge_call() {
        let sources = ["a.jsonl".to_owned(), "b.jsonl".to_owned()];
        for id in ["0123456789abcdef0123456789abcdef", "text-id"] {
            for near_first in [true, false] {
                let mut near = call(1, 0, 1, 7);
                near.edge = true;
                // Reported, at midday: it wins.
                let far = call(0, 1, 1, 8);
                let mut day = DayCalls::with_capacity(4);
                let order = if near_first { [near, far] } else { [far, near] };
                for c in order {
                    day.offer(id, c, &sources);
                }
                day.resolve(&sources);
                let edges = day.edge_calls();
                assert_eq!(edges.len(), 1, "{id}");
                assert_eq!((edges[0].0.as_str(), edges[0].1.key), (id, 8), "{id}");
            }
        }
    }

    #[test]
    fn ids_sharing_a_half_or_a_hash_are_never_merged() {
        let sources = ["a.jsonl".to_owned()];
        let mut day = DayCalls::with_capacity(8);
        // Distinct ids with equal low halves, equal high halves, and (through the
        // fold in `hash_id`) possibly equal hashes: every one is its own call,
        // and a second copy of each is recognised.
        let ids: Vec<String> = (0..2000u128)
            .flat_map(|i| {
                [
                    format!("{:032x}", i << 64),
                    format!("{:032x}", i),
                    format!("{:032x}", i * 0x1_0000_0001),
                ]
            })
            .collect();
        for round in 0..2 {
            for (n, id) in ids.iter().enumerate() {
                day.offer(id, call(0, 0, round, u32::try_from(n).unwrap_or(0)), &sources);
            }
        }
        day.resolve(&sources);
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(day.calls().count(), unique.len());
        // The earlier offset of each id's two copies won.
        assert!(day.calls().all(|c| c.rank.offset == 0));

        // Ids whose halves fold to the same number have equal hashes: only the
        // ids themselves tell the calls apart.
        let mut day = DayCalls::with_capacity(8);
        let pairs: Vec<(u128, u128)> = (1..100u128)
            .map(|i| (i, (i << 64) | (i ^ u128::from((i as u64).rotate_left(29)))))
            .collect();
        for round in 0..2 {
            for &(a, b) in &pairs {
                assert_eq!(hash_id(a), hash_id(b));
                for id in [a, b] {
                    day.offer(&format!("{id:032x}"), call(0, 0, round, 0), &sources);
                }
            }
        }
        day.resolve(&sources);
        assert_eq!(day.calls().count(), 2 * pairs.len());
    }

    #[test]
    fn a_days_tables_are_sized_near_its_rows() {
        // Every part's list is reserved up front from the day's row count: sized
        // at many times its rows, a day of a few hundred thousand calls would
        // exhaust memory.
        for rows in [0, 4096] {
            let day = DayCalls::with_capacity(rows);
            assert_eq!(day.parts.len(), PARTS);
            let reserved: usize = day.parts.iter().map(Vec::capacity).sum();
            assert!(
                reserved <= 2 * rows + PARTS * 16,
                "{rows} rows, {reserved} reserved"
            );
        }
    }
}

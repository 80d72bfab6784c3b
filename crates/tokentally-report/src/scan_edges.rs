//! Copies of one call on both sides of a UTC midnight.
//!
//! The scan deduplicates day by day: copies of a call written by one recorder
//! share its `request_time`, so they share a `date=` folder. Copies from two
//! recorders (the capture proxy, the gateway policy, APIM's LLM log) carry each
//! recorder's own time, milliseconds to seconds apart, so a call made at
//! midnight can have a copy in each day. Each day therefore hands its winners
//! within [`EDGE_MICROS`] of its start or end here instead of adding them up;
//! once every day is read, the copies of one event id across days are ranked by
//! the same rule as within a day ([`NamedRank::before`]), and only the winner
//! counts, on its own day. The day before and the day after the month are read
//! for their edges only: a copy there that wins takes the call out of this
//! month (that month's report counts it), as the SQL `calls` view does. Copies
//! further apart than [`EDGE_MICROS`] across a midnight are counted on both
//! days (docs/formats.md says so).

use crate::Result;
use crate::dataset::DayUsage;
use crate::dedup::NamedRank;
use crate::scan_columns::Key;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Arc;
use tokentally_core::TokenCounts;

/// How close to a midnight a copy's `request_time` must be for the scan to look
/// for copies of its call in the neighbouring day: ten minutes, well beyond the
/// clock skew between recorders and APIM's 240 s cap on a backend call.
pub(crate) const EDGE_MICROS: i64 = 10 * 60 * 1_000_000;

const DAY_MICROS: i64 = 86_400_000_000;

/// Whether a `request_time` (microseconds since the epoch) is within
/// [`EDGE_MICROS`] of the start or the end of its UTC day.
pub(crate) fn near_midnight(micros: i64) -> bool {
    let t = micros.rem_euclid(DAY_MICROS);
    !(EDGE_MICROS..DAY_MICROS - EDGE_MICROS).contains(&t)
}

/// A day's winning copy of a call near one of the day's midnights.
#[derive(Debug, Clone)]
pub(crate) struct EdgeCall {
    pub id: String,
    pub rank: NamedRank,
    pub key: Arc<Key>,
    /// The copy that names the caller best, and its key (app and identity source).
    pub caller: NamedRank,
    pub app_key: Arc<Key>,
    /// Days since 1970-01-01 (as [`crate::scan::Call::day`]).
    pub day: i32,
    pub failed: bool,
    pub estimated: bool,
    pub tokens: TokenCounts,
    /// Whether the copy's day is in the month reported: a copy of the day
    /// before or after the month only competes.
    pub counted: bool,
}

impl EdgeCall {
    /// Two copies of one call as one, as [`crate::scan::Call::merged`] merges a
    /// day's: the tokens of the copy that counts (equal ranks would be one record
    /// twice: the earlier day then), the caller of the copy that names it best.
    fn merged(self, other: Self) -> Self {
        let other_counts = other.rank.before(&self.rank) || (other.rank == self.rank && other.day < self.day);
        let (caller, app_key) = if other.caller.names_caller_before(&self.caller) {
            (other.caller.clone(), other.app_key.clone())
        } else {
            (self.caller.clone(), self.app_key.clone())
        };
        let mut merged = if other_counts { other } else { self };
        merged.caller = caller;
        merged.app_key = app_key;
        merged
    }
}

/// The copies of `edges` that count: per event id the merged copies, if the
/// one that counts lies in the month. The result is sorted, so it does not
/// depend on the order the days finished in.
pub(crate) fn winners(edges: Vec<EdgeCall>) -> Vec<EdgeCall> {
    let mut best: HashMap<String, EdgeCall> = HashMap::with_capacity(edges.len());
    for copy in edges {
        let merged = match best.remove(&copy.id) {
            Some(kept) => kept.merged(copy),
            None => copy,
        };
        best.insert(merged.id.clone(), merged);
    }
    let mut counted: Vec<EdgeCall> = best.into_values().filter(|c| c.counted).collect();
    counted.sort_by(|a, b| a.id.cmp(&b.id));
    counted
}

/// Adds `calls` to `rows` (per app, identity source, deployment, model and
/// day, as the scan aggregates), merging into the row of the same key.
///
/// # Errors
/// A token sum that overflows, naming the rows.
pub(crate) fn add_to(rows: &mut Vec<DayUsage>, calls: &[EdgeCall]) -> Result<()> {
    type RowKey = (NaiveDate, String, String, Option<String>, Option<String>);
    let row_key = |d: &DayUsage| -> RowKey {
        (
            d.day,
            d.app_id.clone(),
            d.app_id_source.clone(),
            d.deployment.clone(),
            d.model.clone(),
        )
    };
    let mut index: HashMap<RowKey, usize> = rows.iter().enumerate().map(|(i, d)| (row_key(d), i)).collect();
    for c in calls {
        let fresh = DayUsage::empty(&c.app_key, &c.key, crate::scan::date_of(c.day));
        let at = *index.entry(row_key(&fresh)).or_insert_with(|| {
            rows.push(fresh);
            rows.len() - 1
        });
        if let Some(d) = rows.get_mut(at) {
            d.add_call(c.failed, c.estimated, &c.tokens)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Rank;

    fn copy(id: &str, usage: u8, source: &str, day: i32, counted: bool) -> EdgeCall {
        let sources: Vec<Arc<str>> = vec![source.into()];
        let rank = Rank {
            usage,
            identity: 0,
            source: 0,
            partition: i64::MAX,
            offset: 1,
        }
        .named(&sources);
        let key = Arc::new(Key {
            app_id: format!("app-{source}"),
            app_id_source: "claim".into(),
            deployment: Some("d".into()),
            model: Some("gpt-4o".into()),
        });
        EdgeCall {
            id: id.to_owned(),
            caller: rank.clone(),
            app_key: key.clone(),
            rank,
            key,
            day,
            failed: false,
            estimated: usage == 1,
            tokens: TokenCounts {
                prompt: 10,
                completion: 5,
                total: 15,
                ..TokenCounts::default()
            },
            counted,
        }
    }

    #[test]
    fn midnight_edges_are_ten_minutes_either_side() {
        let midnight = 20_000 * DAY_MICROS;
        assert!(near_midnight(midnight));
        assert!(near_midnight(midnight - 1));
        assert!(near_midnight(midnight + EDGE_MICROS - 1));
        assert!(!near_midnight(midnight + EDGE_MICROS));
        assert!(near_midnight(midnight - EDGE_MICROS));
        assert!(!near_midnight(midnight - EDGE_MICROS - 1));
        assert!(!near_midnight(midnight + DAY_MICROS / 2));
        // Before 1970 too.
        assert!(near_midnight(-1));
    }

    #[test]
    fn one_copy_per_id_counts_the_best_ranked_whatever_the_order() {
        let ids = ["a", "b", "c"];
        let copies = [
            // a: reported on day 10 beats estimated on day 11.
            copy(ids[0], 1, "proxy.jsonl", 11, true),
            copy(ids[0], 0, "apim.jsonl", 10, true),
            // b: equal usage, the first source by name wins; it is outside the
            // month, so the call counts in no day of this month.
            copy(ids[1], 0, "b.jsonl", 12, true),
            copy(ids[1], 0, "a.jsonl", 13, false),
            // c: one copy only.
            copy(ids[2], 0, "c.jsonl", 12, true),
        ];
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [1, 3, 0, 4, 2]] {
            let edges: Vec<EdgeCall> = order.iter().map(|&i| copies[i].clone()).collect();
            let won: Vec<(String, i32)> = winners(edges).into_iter().map(|c| (c.id, c.day)).collect();
            assert_eq!(won, [("a".to_owned(), 10), ("c".to_owned(), 12)], "{order:?}");
        }
    }

    #[test]
    fn edge_calls_merge_into_the_row_of_their_key_and_day() {
        let mut rows = Vec::new();
        add_to(&mut rows, &[copy("a", 0, "s", 10, true)]).expect("add");
        add_to(
            &mut rows,
            &[copy("b", 0, "s", 10, true), copy("c", 1, "s", 11, true)],
        )
        .expect("add");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].calls, 2);
        assert_eq!(rows[0].tokens.total, 30);
        assert_eq!((rows[1].calls, rows[1].estimated_calls), (1, 1));
        let mut huge = copy("d", 0, "s", 10, true);
        huge.tokens.total = i64::MAX;
        assert!(add_to(&mut rows, &[huge]).is_err());
    }
}

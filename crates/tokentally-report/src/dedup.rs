//! Which copy of a call counts, when the dataset holds it more than once (an
//! input ingested twice under another name, a call logged both by the gateway
//! policy and by APIM's LLM log, a Kafka range re-read after a crash).
//!
//! The rule has one owner, here: reported usage over an estimate over none,
//! then a token claim over an APIM subscription over an API-key fingerprint
//! over nothing, then the first by source name, partition (files, with none,
//! after Kafka partitions) and offset. The report scan (`scan_columns.rs`) ranks
//! each row with [`usage_rank`] and [`identity_rank`]; the SQL session's `calls`
//! view orders by [`winner_order_sql`], written from the same ranks, so the two
//! cannot drift (`tests` below checks they pick the same copy).

use tokentally_core::{AppIdSource, UsageSource};

/// Every usage source, best first.
pub(crate) const USAGE_ORDER: [UsageSource; 3] =
    [UsageSource::Reported, UsageSource::Estimated, UsageSource::None];

/// Every identity source, best first.
pub(crate) const IDENTITY_ORDER: [AppIdSource; 4] = [
    AppIdSource::Claim,
    AppIdSource::Subscription,
    AppIdSource::ApiKey,
    AppIdSource::None,
];

/// The rank of a usage source (0 best). Exhaustive, so a new variant must be ranked.
pub(crate) const fn usage_source_rank(source: UsageSource) -> u8 {
    match source {
        UsageSource::Reported => 0,
        UsageSource::Estimated => 1,
        UsageSource::None => 2,
    }
}

/// The rank of an identity source (0 best). Exhaustive, so a new variant must be ranked.
pub(crate) const fn identity_source_rank(source: AppIdSource) -> u8 {
    match source {
        AppIdSource::Claim => 0,
        AppIdSource::Subscription => 1,
        AppIdSource::ApiKey => 2,
        AppIdSource::None => 3,
    }
}

/// The rank of a stored `usage_source` value; anything unknown ranks last.
pub(crate) fn usage_rank(stored: Option<&str>) -> u8 {
    USAGE_ORDER
        .iter()
        .find(|s| Some(s.as_str()) == stored)
        .map_or(UNKNOWN_USAGE_RANK, |s| usage_source_rank(*s))
}

/// The rank of a stored `app_id_source` value; anything unknown ranks last.
pub(crate) fn identity_rank(stored: &str) -> u8 {
    IDENTITY_ORDER
        .iter()
        .find(|s| s.as_str() == stored)
        .map_or(UNKNOWN_IDENTITY_RANK, |s| identity_source_rank(*s))
}

/// Rank of a stored `usage_source` outside [`USAGE_ORDER`] (after every known one).
pub(crate) const UNKNOWN_USAGE_RANK: u8 = USAGE_ORDER.len() as u8;

/// Rank of a stored `app_id_source` outside [`IDENTITY_ORDER`].
pub(crate) const UNKNOWN_IDENTITY_RANK: u8 = IDENTITY_ORDER.len() as u8;

/// One copy's standing among the copies of its call, as the report scan reads it
/// from Parquet: the rule above, field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rank {
    /// [`usage_rank`] of the copy's `usage_source`.
    pub usage: u8,
    /// [`identity_rank`] of the copy's `app_id_source`.
    pub identity: u8,
    /// Index into the day's source names.
    pub source: u32,
    /// `i64::MAX` for null (files), sorting after Kafka partitions.
    pub partition: i64,
    pub offset: i64,
}

impl Rank {
    /// Whether this copy counts rather than `other`; `sources` names the
    /// `source` indexes (by name, so the choice never depends on listing order).
    pub(crate) fn before(&self, other: &Self, sources: &[String]) -> bool {
        let name = |r: &Self| sources.get(r.source as usize).map_or("", String::as_str);
        order(self, name(self)) < order(other, name(other))
    }

    /// The rank with its source named, to compare with copies read from
    /// another day (whose source indexes mean other names).
    pub(crate) fn named(&self, sources: &[std::sync::Arc<str>]) -> NamedRank {
        NamedRank {
            rank: *self,
            source: sources
                .get(self.source as usize)
                .cloned()
                .unwrap_or_else(|| "".into()),
        }
    }
}

/// A [`Rank`] that carries its source's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedRank {
    rank: Rank,
    source: std::sync::Arc<str>,
}

impl NamedRank {
    /// Whether this copy counts rather than `other`: [`Rank::before`]'s rule.
    pub(crate) fn before(&self, other: &Self) -> bool {
        order(&self.rank, &self.source) < order(&other.rank, &other.source)
    }
}

/// The fields a copy is ranked by, best (smallest) first; the one place the
/// order is written, for copies of a day and copies across days alike.
fn order<'a>(rank: &Rank, source: &'a str) -> (u8, u8, &'a str, i64, i64) {
    (rank.usage, rank.identity, source, rank.partition, rank.offset)
}

/// `CASE column WHEN 'name' THEN rank … ELSE last END`.
fn case_sql<T: Copy>(column: &str, order: &[T], name: fn(T) -> &'static str, rank: fn(T) -> u8) -> String {
    let mut sql = format!("CASE {column}");
    for &item in order {
        sql.push_str(&format!(" WHEN '{}' THEN {}", name(item), rank(item)));
    }
    sql.push_str(&format!(" ELSE {} END", order.len()));
    sql
}

/// The `ORDER BY` of a window over one event id's copies, best copy first.
pub(crate) fn winner_order_sql() -> String {
    format!(
        "{}, {}, source, source_partition ASC NULLS LAST, source_offset",
        case_sql(
            "usage_source",
            &USAGE_ORDER,
            UsageSource::as_str,
            usage_source_rank
        ),
        case_sql(
            "app_id_source",
            &IDENTITY_ORDER,
            AppIdSource::as_str,
            identity_source_rank
        ),
    )
}

/// The `calls` view: one row per event id, the copy the report counts.
pub(crate) fn calls_view_sql(usage_table: &str) -> String {
    format!(
        "SELECT * EXCLUDE (copy_rank) FROM (SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY {}) \
         AS copy_rank FROM {usage_table}) WHERE copy_rank = 1",
        winner_order_sql()
    )
}

#[cfg(test)]
mod tests;

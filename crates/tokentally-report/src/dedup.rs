//! Which copy of a call counts, when the dataset holds it more than once (an
//! input ingested twice under another name, a call logged both by the gateway
//! policy and by APIM's LLM log, a Kafka range re-read after a crash).
//!
//! The rule has one owner, here: reported usage over an estimate over none,
//! then a token claim over an APIM subscription over an API-key fingerprint
//! over nothing, then the first by source name, partition (files, with none,
//! after Kafka partitions) and offset. The caller (app id and the other identity
//! columns) is then taken from the copy that names it best: a token claim over a
//! subscription over a key over nothing, then the order above. So a call logged
//! both by the gateway policy (the caller's token, an estimate) and by APIM's LLM
//! log (reported tokens, the shared subscription) is charged to the token's app
//! with the reported tokens. The report scan (`scan_columns.rs`) ranks
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

    /// Whether this copy names the caller rather than `other`.
    pub(crate) fn names_caller_before(&self, other: &Self, sources: &[String]) -> bool {
        let name = |r: &Self| sources.get(r.source as usize).map_or("", String::as_str);
        caller_order(self, name(self)) < caller_order(other, name(other))
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

    /// Whether this copy names the caller rather than `other`: [`Rank::names_caller_before`]'s rule.
    pub(crate) fn names_caller_before(&self, other: &Self) -> bool {
        caller_order(&self.rank, &self.source) < caller_order(&other.rank, &other.source)
    }
}

/// The fields a copy is ranked by, best (smallest) first; the one place the
/// order is written, for copies of a day and copies across days alike.
fn order<'a>(rank: &Rank, source: &'a str) -> (u8, u8, &'a str, i64, i64) {
    (rank.usage, rank.identity, source, rank.partition, rank.offset)
}

/// The fields the copy that names the caller is chosen by, best first.
fn caller_order<'a>(rank: &Rank, source: &'a str) -> (u8, u8, &'a str, i64, i64) {
    (rank.identity, rank.usage, source, rank.partition, rank.offset)
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

fn usage_case_sql() -> String {
    case_sql(
        "usage_source",
        &USAGE_ORDER,
        UsageSource::as_str,
        usage_source_rank,
    )
}

fn identity_case_sql() -> String {
    case_sql(
        "app_id_source",
        &IDENTITY_ORDER,
        AppIdSource::as_str,
        identity_source_rank,
    )
}

/// The `ORDER BY` of a window over one event id's copies, best copy first.
pub(crate) fn winner_order_sql() -> String {
    format!(
        "{}, {}, source, source_partition ASC NULLS LAST, source_offset",
        usage_case_sql(),
        identity_case_sql()
    )
}

/// The `ORDER BY` of a window over one event id's copies, the copy that names
/// the caller best first.
pub(crate) fn caller_order_sql() -> String {
    format!(
        "{}, {}, source, source_partition ASC NULLS LAST, source_offset",
        identity_case_sql(),
        usage_case_sql()
    )
}

/// The columns that say who made a call, taken together from one copy.
pub(crate) const CALLER_COLUMNS: [&str; 6] = [
    "app_id",
    "app_id_source",
    "tenant_id",
    "object_id",
    "subscription",
    "product",
];

/// The `calls` view: one row per event id, the copy the report counts, with
/// the caller of the copy that names it best.
pub(crate) fn calls_view_sql(usage_table: &str) -> String {
    let caller = caller_order_sql();
    let picked: Vec<String> = CALLER_COLUMNS
        .iter()
        .map(|c| format!("first_value({c}) OVER (PARTITION BY event_id ORDER BY {caller}) AS call_{c}"))
        .collect();
    let hidden: Vec<String> = CALLER_COLUMNS.iter().map(|c| format!("call_{c}")).collect();
    let replaced: Vec<String> = CALLER_COLUMNS
        .iter()
        .map(|c| format!("call_{c} AS {c}"))
        .collect();
    format!(
        "SELECT * EXCLUDE (copy_rank, {hidden}) REPLACE ({replaced}) FROM (SELECT *, \
         row_number() OVER (PARTITION BY event_id ORDER BY {winner}) AS copy_rank, {picked} \
         FROM {usage_table}) WHERE copy_rank = 1",
        hidden = hidden.join(", "),
        replaced = replaced.join(", "),
        picked = picked.join(", "),
        winner = winner_order_sql(),
    )
}

#[cfg(test)]
mod tests;

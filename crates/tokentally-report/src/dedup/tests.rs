use super::*;
use crate::fixtures::{call, write_prices, write_usage};
use crate::{Month, ReportOptions, SqlSession, SqlTables, write_chargeback};
use arrow::array::Array as _;
use std::collections::BTreeSet;
use tokentally_core::UsageRecord;

#[test]
fn every_variant_has_its_own_rank_in_list_order() {
    for (i, s) in USAGE_ORDER.iter().enumerate() {
        assert_eq!(usize::from(usage_source_rank(*s)), i, "{s}");
        assert_eq!(usize::from(usage_rank(Some(s.as_str()))), i, "{s}");
    }
    for (i, s) in IDENTITY_ORDER.iter().enumerate() {
        assert_eq!(usize::from(identity_source_rank(*s)), i, "{s}");
        assert_eq!(usize::from(identity_rank(s.as_str())), i, "{s}");
    }
    assert_eq!(usize::from(usage_rank(Some("mystery"))), USAGE_ORDER.len());
    assert_eq!(usize::from(usage_rank(None)), USAGE_ORDER.len());
}

/// A copy of call `event` charged to `app`, read from `source`.
fn copy(event: &str, app: &str, source: &str, partition: Option<i32>, offset: i64) -> UsageRecord {
    let mut r = call(event, "2026-10-05T10:00:00Z", app, Some("gpt-4o"), 100, 10);
    r.source.source = source.into();
    r.source.partition = partition;
    r.source.offset = offset;
    r
}

/// Copies that differ in each part of the rule, each in a file of its own: the
/// report and the `calls` view must keep the same one of each call.
#[tokio::test]
async fn the_calls_view_keeps_the_copy_the_report_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut estimated = copy("e1", "loses-estimated", "a.jsonl", None, 1);
    estimated.usage_source = UsageSource::Estimated;
    let mut by_subscription = copy("e1", "loses-subscription", "a.jsonl", None, 2);
    by_subscription.app_id_source = AppIdSource::Subscription;
    let copies = [
        estimated,
        by_subscription,
        copy("e1", "wins-reported-claim", "z.jsonl", None, 9),
        copy("e2", "loses-file", "topic", None, 1),
        copy("e2", "wins-kafka-partition", "topic", Some(3), 7),
        copy("e3", "loses-source-name", "b.jsonl", None, 1),
        copy("e3", "wins-source-name", "a.jsonl", None, 4),
        copy("e4", "loses-offset", "a.jsonl", None, 9),
        copy("e4", "wins-offset", "a.jsonl", None, 3),
    ];
    // Written in reverse, so neither picks by the order it reads files in.
    for (i, record) in copies.iter().enumerate().rev() {
        write_usage(dir.path(), &format!("copy-{i}"), std::slice::from_ref(record));
    }
    let options = ReportOptions {
        data_dir: dir.path().to_owned(),
        out_dir: dir.path().to_owned(),
        month: "2026-10".parse::<Month>().expect("month"),
        prices: write_prices(dir.path()),
        deployments: None,
        cost_centers: None,
        invoice: None,
    };
    let report = write_chargeback(&options).await.expect("report");
    let reported: BTreeSet<String> = report.lines.iter().map(|l| l.app_id.clone()).collect();

    let tables = SqlTables {
        data_dir: dir.path().to_owned(),
        ..SqlTables::default()
    };
    let session = SqlSession::open(&tables).await.expect("session");
    let out = session.query("SELECT app_id FROM calls").await.expect("query");
    let mut viewed = BTreeSet::new();
    for batch in &out.batches {
        let apps = batch.column(0);
        for i in 0..apps.len() {
            viewed.insert(arrow::util::display::array_value_to_string(apps, i).expect("text"));
        }
    }
    assert_eq!(viewed, reported);
    assert!(viewed.iter().all(|a| a.starts_with("wins-")), "{viewed:?}");
    assert_eq!(viewed.len(), 4);
}

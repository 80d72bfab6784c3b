use super::*;
use crate::fixtures::{october, query_rows};
use crate::write_chargeback;
use std::collections::BTreeSet;
use tokentally_core::UsageRecord;
use tokentally_testdata::usage::{call, write_usage};

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
    let report = write_chargeback(&october(dir.path())).await.expect("report");
    let reported: BTreeSet<String> = report.lines.iter().map(|l| l.app_id.clone()).collect();

    let viewed: BTreeSet<String> = query_rows(dir.path(), "SELECT app_id FROM calls")
        .await
        .into_iter()
        .flat_map(|row| row.into_iter().next())
        .collect();
    assert_eq!(viewed, reported);
    assert!(viewed.iter().all(|a| a.starts_with("wins-")), "{viewed:?}");
    assert_eq!(viewed.len(), 4);
}

/// The differential check of the rule's two readers: many calls, most in several
/// copies that differ in usage source, identity, source and tokens, spread over
/// files and days, some on both sides of a midnight (the month's first and last
/// too). The report's per-app calls and token totals equal
/// `SELECT … FROM calls … GROUP BY app_id` through DataFusion on the same files.
#[tokio::test]
async fn report_totals_per_app_equal_the_calls_view_grouped_by_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let apps = ["app-a", "app-b", "app-c", "app-d"];
    let mut files: Vec<Vec<UsageRecord>> = vec![Vec::new(); 5];
    for n in 0..120_i64 {
        // Copy `k` of call `e`: copies tie on some parts of the rule and differ
        // on the next, so every part decides some calls.
        let (k, e) = (n / 41, n % 41);
        let day = 1 + e % 28;
        let at = if e % 6 == 0 {
            // Copies from two recorders' clocks on both sides of a midnight: the
            // month's first and last midnight among them, so a copy outside the
            // month competes too.
            let midnight = match e {
                0 => "2026-10-01".to_owned(),
                6 => "2026-11-01".to_owned(),
                _ => format!("2026-10-{day:02}"),
            };
            let midnight =
                chrono::DateTime::parse_from_rfc3339(&format!("{midnight}T00:00:00Z")).expect("time");
            let offset_ms = [-100, 100, -3000][k as usize];
            (midnight + chrono::Duration::milliseconds(offset_ms))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        } else {
            format!("2026-10-{day:02}T{:02}:00:00Z", e % 24)
        };
        let mut r = call(
            &format!("e{e}"),
            &at,
            apps[(n % 4) as usize],
            Some("gpt-4o"),
            100 + n,
            10 + n % 7,
        );
        r.usage_source = if k == 1 {
            UsageSource::Estimated
        } else {
            UsageSource::Reported
        };
        r.app_id_source = IDENTITY_ORDER[(if e % 7 == 0 { k } else { e } % 4) as usize];
        r.source.source = if e % 5 == 0 {
            format!("src-{}", 2 - k)
        } else {
            "src".into()
        };
        r.source.partition = match e % 3 {
            0 => None,
            1 => Some(i32::try_from(k).expect("small")),
            _ => (k != 0).then_some(1),
        };
        r.source.offset = 1000 - n;
        files[(n % 5) as usize].push(r);
    }
    // A call in November: outside the month for both readers.
    files[0].push(call(
        "late",
        "2026-11-01T00:00:00Z",
        "app-late",
        Some("gpt-4o"),
        5,
        5,
    ));
    for (i, rows) in files.iter().enumerate() {
        write_usage(dir.path(), &format!("part-{i}"), rows);
    }
    let report = write_chargeback(&october(dir.path())).await.expect("report");
    let mut reported: std::collections::BTreeMap<String, [i64; 4]> = std::collections::BTreeMap::new();
    for line in &report.lines {
        let sums = reported.entry(line.app_id.clone()).or_default();
        sums[0] += line.calls;
        sums[1] += line.tokens.prompt;
        sums[2] += line.tokens.completion;
        sums[3] += line.tokens.total;
    }

    let sql = "SELECT app_id, count(*), sum(prompt_tokens), sum(completion_tokens), sum(total_tokens) \
               FROM calls WHERE request_time >= TIMESTAMP '2026-10-01T00:00:00Z' \
               AND request_time < TIMESTAMP '2026-11-01T00:00:00Z' GROUP BY app_id";
    let number = |cell: &String| cell.parse::<i64>().expect("integer");
    let viewed: std::collections::BTreeMap<String, [i64; 4]> = query_rows(dir.path(), sql)
        .await
        .into_iter()
        .map(|row| {
            (
                row[0].clone(),
                [number(&row[1]), number(&row[2]), number(&row[3]), number(&row[4])],
            )
        })
        .collect();
    assert_eq!(viewed, reported);
    // 41 calls, one row each, less `e0`: its best copy is on 30 September.
    assert_eq!(
        reported.values().map(|s| s[0]).sum::<i64>(),
        40,
        "one row per call"
    );
}

/// The report's day lister and the SQL `usage` table read the same files: data
/// files in `date=` folders and in `key=value` folders below them, never hidden
/// or marker files (`.x`, `_x.parquet`) nor folders that are not `key=value`.
#[tokio::test]
async fn the_report_and_the_sql_table_read_the_same_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let at = "2026-10-05T10:00:00Z";
    let day = dir.path().join("usage/date=2026-10-05");
    let place = |name: &str, folder: &str, event: &str| {
        let staged = tempfile::tempdir().expect("tempdir");
        write_usage(
            staged.path(),
            "f",
            &[call(event, at, &format!("app-{event}"), Some("gpt-4o"), 10, 1)],
        );
        let target = day.join(folder);
        std::fs::create_dir_all(&target).expect("folder");
        std::fs::copy(
            staged.path().join("usage/date=2026-10-05/f.parquet"),
            target.join(name),
        )
        .expect("copy");
    };
    place("data.parquet", "", "read-top");
    place("part.parquet", "hour=10", "read-nested");
    place("_marker.parquet", "", "skip-underscore");
    place(".hidden.parquet", "", "skip-dot");
    place("x.parquet", "_temporary", "skip-temp-folder");
    place("x.parquet", ".staging", "skip-hidden-folder");

    let listed = crate::scan_files::day_files(&dir.path().join("usage"), "2026-10-05".parse().expect("day"))
        .expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");

    let apps: Vec<String> = query_rows(dir.path(), "SELECT app_id FROM usage ORDER BY app_id")
        .await
        .into_iter()
        .flat_map(|row| row.into_iter().next())
        .collect();
    assert_eq!(apps, ["app-read-nested", "app-read-top"]);
}

//! End-to-end tests: Parquet fixtures on disk → DataFusion → priced files.

use crate::fixtures::{PRICES, write_deployments, write_prices};
use crate::*;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tokentally_core::{AppIdSource, UsageRecord, UsageSource};
use tokentally_testdata::usage::{call, write_usage};

fn month(s: &str) -> Month {
    s.parse().expect("month")
}

fn options(root: &Path, m: &str) -> ReportOptions {
    ReportOptions {
        data_dir: root.join("data"),
        usage_store: None,
        out_dir: root.join("out"),
        month: month(m),
        prices: write_prices(root),
        deployments: Some(write_deployments(root)),
        cost_centers: Some(write_cost_centers(root)),
        invoice: None,
    }
}

/// Maps one fixture app; the others must show up as `unassigned`.
fn write_cost_centers(root: &Path) -> PathBuf {
    let path = root.join("cost-centers.csv");
    std::fs::write(
        &path,
        "app_id,app_name,team,cost_center,owner\npayroll-bot,Payroll bot,HR,CC-100,hr-platform@example.com\n",
    )
    .expect("write cost centers");
    path
}

fn report(root: &Path, m: &str) -> ChargebackReport {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(write_chargeback(&options(root, m)))
        .expect("report")
}

/// A small month touching every rule: cached and reasoning tokens, a failed call,
/// an estimate, an unpriced model, no deployment/model, a replayed duplicate, and
/// calls just outside the month.
fn small_fixture(data: &Path) {
    let mut cached = call(
        "e1",
        "2026-10-01T00:00:00Z",
        "payroll-bot",
        Some("gpt-4o-2024-08-06"),
        1000,
        500,
    );
    cached.cached_prompt_tokens = 200;
    cached.reasoning_tokens = 100;
    let tiny = call(
        "e2",
        "2026-10-15T12:00:00Z",
        "payroll-bot",
        Some("gpt-4o-2024-08-06"),
        3,
        1,
    );
    let mut throttled = call("e3", "2026-10-15T12:00:01Z", "payroll-bot", Some("gpt-4o"), 0, 0);
    throttled.status = 429;
    throttled.usage_source = UsageSource::None;
    let mut estimated = call(
        "e4",
        "2026-10-20T08:00:00Z",
        "hr-search",
        Some("gpt-4o-mini"),
        12345,
        678,
    );
    estimated.deployment = Some("mini".into());
    estimated.usage_source = UsageSource::Estimated;
    let mut llama = call(
        "e5",
        "2026-10-21T08:00:00Z",
        "sub-7f3a",
        Some("llama-3-70b"),
        40,
        2,
    );
    llama.deployment = Some("llama".into());
    llama.app_id_source = AppIdSource::Subscription;
    let mut lost = call(
        "e6",
        "2026-10-31T23:59:59.999999Z",
        UsageRecord::UNATTRIBUTED,
        None,
        0,
        0,
    );
    lost.deployment = None;
    lost.status = 0;
    lost.app_id_source = AppIdSource::None;
    // A second app on the provisioned `mini`, so its monthly cost is shared.
    let mut shared = call(
        "e9",
        "2026-10-22T08:00:00Z",
        "payroll-bot",
        Some("gpt-4o-mini"),
        1000,
        0,
    );
    shared.deployment = Some("mini".into());
    // Audio and predicted outputs: cached audio has no price in the fixture.
    let mut voice = call(
        "e10",
        "2026-10-10T09:00:00Z",
        "voice-bot",
        Some("gpt-4o-audio-preview-2024-12-17"),
        1000,
        600,
    );
    voice.deployment = Some("gpt-4o-audio".into());
    voice.cached_prompt_tokens = 100;
    voice.audio_prompt_tokens = 700;
    voice.cached_audio_prompt_tokens = 100;
    voice.audio_completion_tokens = 500;
    voice.accepted_prediction_tokens = 10;
    voice.rejected_prediction_tokens = 40;
    let mut image = call(
        "e11",
        "2026-10-11T09:00:00Z",
        "design-app",
        Some("gpt-image-1"),
        50,
        4160,
    );
    image.deployment = Some("gpt-image-1".into());
    image.operation = tokentally_core::Operation::Images;
    image.image_prompt_tokens = 40;
    image.image_completion_tokens = 4160;
    let before = call(
        "e7",
        "2026-09-30T23:59:59.999999Z",
        "payroll-bot",
        Some("gpt-4o"),
        10,
        10,
    );
    let after = call(
        "e8",
        "2026-11-01T00:00:00Z",
        "payroll-bot",
        Some("gpt-4o"),
        10,
        10,
    );
    write_usage(
        data,
        "a",
        &[
            cached.clone(),
            tiny,
            throttled,
            estimated,
            llama,
            lost,
            shared,
            voice,
            image,
            before,
            after,
        ],
    );
    let mut replay = cached;
    replay.source.source = "replay.jsonl".into();
    write_usage(data, "b", &[replay]);
}

#[test]
fn small_month_snapshot() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let report = report(root.path(), "2026-10");
    let csv = std::fs::read_to_string(&report.csv_path).expect("csv");
    insta::assert_snapshot!("chargeback_2026_10_csv", csv);
    insta::assert_snapshot!("chargeback_2026_10_summary", report.summary_table());
    let detail = std::fs::read_to_string(&report.detail_csv_path).expect("detail csv");
    insta::assert_snapshot!("chargeback_detail_2026_10_csv", detail);
    let unpriced = std::fs::read_to_string(&report.unpriced_path).expect("unpriced csv");
    insta::assert_snapshot!("unpriced_2026_10_csv", unpriced);

    assert_eq!(report.csv_path, root.path().join("out/chargeback-2026-10.csv"));
    assert_eq!(
        report.detail_parquet_path,
        root.path().join("out/chargeback-detail-2026-10.parquet")
    );
    assert_eq!(report.totals.calls, 9);
    assert_eq!(
        (report.totals.unpriced_lines, report.totals.unpriced_tokens),
        (2, 142)
    );
    // payroll-bot/gpt-4o-2024-08-06: input (800 + 3) × 2.5 = 0.0020075 → 0.002008,
    // cached 200 × 1.25 = 0.00025, output (500 + 1) × 10 = 0.00501: 0.007268.
    // mini is provisioned at 10 USD: hr-search 12345 + 678 and payroll-bot 1000 of
    // 14023 tokens: 8.8033944… + 0.4834914… + 0.7131141…, the spare micro-unit to
    // the largest remainder (hr-search input) → 9.286886 and 0.713114.
    let cost = |app: &str, dep: &str| {
        report
            .lines
            .iter()
            .find(|l| l.app_id == app && l.deployment == dep)
            .and_then(|l| l.cost)
            .map(|c| c.to_string())
    };
    assert_eq!(cost("hr-search", "mini").as_deref(), Some("9.286886"));
    assert_eq!(cost("payroll-bot", "mini").as_deref(), Some("0.713114"));
    // voice-bot: text input 1000 − 100 − (700 − 100) = 300 × 2.5 = 0.00075, text
    // output 600 − 500 = 100 × 10 = 0.001 (rejected predictions included), audio
    // input 600 × 40 = 0.024, audio output 500 × 80 = 0.04; its 100 cached audio
    // tokens have no price. design-app: text 10 × 5, image input 40 × 10, image
    // output 4160 × 40 = 0.00005 + 0.0004 + 0.1664.
    assert_eq!(cost("voice-bot", "gpt-4o-audio").as_deref(), Some("0.065750"));
    assert_eq!(cost("design-app", "gpt-image-1").as_deref(), Some("0.166850"));
    assert_eq!(
        report.totals.cost.get("USD").map(ToString::to_string).as_deref(),
        Some("10.239868")
    );
    let missing: Vec<String> = report.missing_prices.iter().map(ToString::to_string).collect();
    assert_eq!(
        missing,
        [
            "gpt-4o-audio-preview: no cached_audio_input price row (100 tokens; models gpt-4o-audio-preview-2024-12-17)"
        ]
    );
}

#[test]
fn parquet_output_has_the_documented_types() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let report = report(root.path(), "2026-10");
    let file = std::fs::File::open(&report.parquet_path).expect("parquet");
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("reader")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches");
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, CHARGEBACK_COLUMNS);
    let ty = |name: &str| schema.field_with_name(name).expect("field").data_type().clone();
    assert_eq!(ty("month"), DataType::Utf8);
    assert_eq!(ty("calls"), DataType::Int64);
    assert_eq!(ty("cost"), DataType::Decimal128(18, 6));
    assert_eq!(ty("priced"), DataType::Boolean);
    let batch = &batches[0];
    assert_eq!(batch.num_rows(), report.lines.len());
    let cost = batch
        .column_by_name("cost")
        .expect("cost")
        .as_primitive::<Decimal128Type>();
    for (i, line) in report.lines.iter().enumerate() {
        assert_eq!(
            cost.is_valid(i).then(|| cost.value(i)),
            line.cost.map(|c| c.mantissa()),
            "{line:?}"
        );
    }
    let calls = batch
        .column_by_name("calls")
        .expect("calls")
        .as_primitive::<Int64Type>();
    assert_eq!(calls.iter().flatten().sum::<i64>(), 9);
}

#[test]
fn a_call_in_two_files_counts_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let a = call("dup", "2026-10-03T10:00:00Z", "app", Some("gpt-4o"), 100, 10);
    let b = call("only-b", "2026-10-03T11:00:00Z", "app", Some("gpt-4o"), 1, 1);
    write_usage(&data, "first", std::slice::from_ref(&a));
    let mut again = a;
    again.source.source = "overlap.jsonl".into();
    again.source.offset = 9;
    write_usage(&data, "second", &[again.clone(), b]);
    write_usage(&data, "third", &[again]);
    let report = report(root.path(), "2026-10");
    assert_eq!(report.totals.calls, 2);
    assert_eq!(report.totals.tokens.prompt, 101);
}

#[test]
fn months_are_cut_at_utc_midnight() {
    let root = tempfile::tempdir().expect("tempdir");
    let at = |id: &str, t: &str| call(id, t, "app", Some("gpt-4o"), 1, 0);
    write_usage(
        &root.path().join("data"),
        "x",
        &[
            at("sep-last", "2026-09-30T23:59:59.999999Z"),
            at("oct-first", "2026-10-01T00:00:00Z"),
            // 2026-10-01T01:30+02:00 is still September 30th in UTC.
            at("sep-offset", "2026-10-01T01:30:00+02:00"),
            at("oct-last", "2026-10-31T23:59:59.999999Z"),
            at("nov-first", "2026-11-01T00:00:00Z"),
        ],
    );
    assert_eq!(report(root.path(), "2026-09").totals.calls, 2);
    assert_eq!(report(root.path(), "2026-10").totals.calls, 2);
    assert_eq!(report(root.path(), "2026-11").totals.calls, 1);
    // Before the fixture's PTU reservation starts, an empty month has no lines.
    let empty = report(root.path(), "2026-08");
    assert!(empty.lines.is_empty());
    let csv = std::fs::read_to_string(&empty.csv_path).expect("csv");
    assert_eq!(csv.trim_end(), CHARGEBACK_COLUMNS.join(","));
    let detail = std::fs::read_to_string(&empty.detail_csv_path).expect("detail csv");
    assert_eq!(detail.trim_end(), DETAIL_COLUMNS.join(","));
    // Once it runs, an unused reservation is still billed, to the idle-capacity app.
    let idle = report(root.path(), "2026-12");
    let apps: Vec<(&str, i64)> = idle.lines.iter().map(|l| (l.app_id.as_str(), l.calls)).collect();
    assert_eq!(apps, [(IDLE_CAPACITY_APP, 0)]);
    assert_eq!(
        idle.totals.cost.get("USD").map(ToString::to_string).as_deref(),
        Some("10.000000")
    );
}

/// Deterministic pseudo-random calls (no RNG dependency needed for a test).
fn many_calls() -> Vec<UsageRecord> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let apps = ["a", "b", "c", "unattributed"];
    let models = [
        Some("gpt-4o-2024-08-06"),
        Some("gpt-4o-mini"),
        Some("mystery"),
        None,
    ];
    (0..400)
        .map(|i| {
            let day = 25 + next(14); // Sep 25 – Oct 8: both sides of the boundary
            let (m, d) = if day > 30 { (10, day - 30) } else { (9, day) };
            let t = format!("2026-{m:02}-{d:02}T{:02}:{:02}:00Z", next(24), next(60));
            let prompt = next(5000) as i64;
            let completion = next(2000) as i64;
            let model = models[next(4) as usize];
            let mut r = call(
                &format!("e{i}"),
                &t,
                apps[next(4) as usize],
                model,
                prompt,
                completion,
            );
            if model == Some("mystery") {
                r.deployment = Some("custom".into());
            }
            r.cached_prompt_tokens = prompt / 3;
            r.reasoning_tokens = completion / 4;
            if next(10) == 0 {
                r.status = 500;
            }
            if next(5) == 0 {
                r.usage_source = UsageSource::Estimated;
            }
            r
        })
        .collect()
}

#[test]
fn totals_reconcile_with_usage_rows() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let calls = many_calls();
    write_usage(&data, "one", &calls[..300]);
    write_usage(&data, "two", &calls[200..]); // 100 calls in both files
    let report = report(root.path(), "2026-10");

    let oct = month("2026-10");
    let unique: BTreeMap<&str, &UsageRecord> = calls
        .iter()
        .filter(|r| r.request_time >= oct.start() && r.request_time < oct.end())
        .map(|r| (r.event_id.as_str(), r))
        .collect();
    let sum = |f: fn(&UsageRecord) -> i64| unique.values().map(|r| f(r)).sum::<i64>();
    let t = &report.totals;
    assert_eq!(t.calls, unique.len() as i64);
    assert_eq!(
        t.failed_calls,
        sum(|r| i64::from(r.status >= 400 || r.status == 0))
    );
    for (i, column) in tokentally_core::TokenCounts::COLUMNS.iter().enumerate() {
        let want: i64 = unique.values().map(|r| r.token_counts().values()[i]).sum();
        assert_eq!(t.tokens.values()[i], want, "{column}");
    }
    assert_eq!(
        t.estimated_calls,
        sum(|r| i64::from(r.usage_source == UsageSource::Estimated))
    );

    let line_cost: rust_decimal::Decimal = report.lines.iter().filter_map(|l| l.cost).sum();
    assert_eq!(t.cost.get("USD"), Some(&line_cost));
    let app_cost: rust_decimal::Decimal = report.apps.iter().filter_map(|a| a.cost.get("USD")).sum();
    assert_eq!(app_cost, line_cost);
    assert_eq!(report.apps.iter().map(|a| a.calls).sum::<i64>(), t.calls);
    // The unknown model on deployment gpt-4o is priced by the deployment name;
    // "mystery" on deployment "custom" by nothing.
    let unpriced: BTreeSet<&str> = report
        .lines
        .iter()
        .filter(|l| !l.priced)
        .map(|l| l.model.as_str())
        .collect();
    assert_eq!(unpriced, BTreeSet::from(["mystery"]));
    for l in &report.lines {
        let parts: Vec<Option<rust_decimal::Decimal>> = l
            .class_costs
            .iter()
            .map(|(_, c)| c)
            .chain([l.provisioned_cost])
            .collect();
        assert_eq!(
            l.cost,
            parts.into_iter().sum::<Option<rust_decimal::Decimal>>(),
            "{l:?}"
        );
    }
    let keys: Vec<_> = report
        .lines
        .iter()
        .map(|l| (&l.app_id, &l.deployment, &l.model))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] <= w[1]),
        "sorted by app, deployment, model"
    );
}

#[test]
fn outputs_are_byte_deterministic() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let calls = many_calls();
    write_usage(&data, "one", &calls[..250]);
    write_usage(&data, "two", &calls[150..]);
    let files = |r: &ChargebackReport| {
        [
            &r.csv_path,
            &r.parquet_path,
            &r.detail_csv_path,
            &r.detail_parquet_path,
            &r.unpriced_path,
        ]
        .map(|p| std::fs::read(p).expect("output file"))
    };
    let first = files(&report(root.path(), "2026-10"));
    let second = files(&report(root.path(), "2026-10"));
    assert!(first == second, "a re-run changed an output file");
    let leftovers: Vec<_> = std::fs::read_dir(root.path().join("out"))
        .expect("out dir")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn missing_or_empty_dataset_names_the_path() {
    let root = tempfile::tempdir().expect("tempdir");
    let opts = options(root.path(), "2026-10");
    let missing = write_chargeback(&opts)
        .await
        .expect_err("no usage dir")
        .to_string();
    let usage = root.path().join("data").join("usage");
    assert!(
        missing.contains(&usage.display().to_string()) && missing.contains("does not exist"),
        "{missing}"
    );
    std::fs::create_dir_all(usage.join("date=2026-10-01")).expect("mkdir");
    let empty = write_chargeback(&opts)
        .await
        .expect_err("empty usage dir")
        .to_string();
    assert!(empty.contains("holds no .parquet files"), "{empty}");
    let sql = run_sql(&root.path().join("data"), None, "SELECT 1")
        .await
        .expect_err("empty")
        .to_string();
    assert!(sql.contains("holds no .parquet files"), "{sql}");
}

#[tokio::test]
async fn bad_prices_fail_before_the_scan() {
    let root = tempfile::tempdir().expect("tempdir");
    let opts = options(root.path(), "2026-10");
    std::fs::write(
        &opts.prices,
        format!("{PRICES}gpt-4o,output,1M tokens,ten,USD,2026-01-01,,x\n"),
    )
    .expect("write");
    let err = write_chargeback(&opts).await.expect_err("bad price").to_string();
    assert!(
        err.starts_with(&format!("{}:15: price \"ten\"", opts.prices.display())),
        "{err}"
    );
}

#[tokio::test]
async fn sql_sees_usage_with_date_partitions_and_prices() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    small_fixture(&data);
    let prices = write_prices(root.path());
    let per_day = run_sql(
        &data,
        None,
        "SELECT date, COUNT(*) AS calls, COUNT(DISTINCT event_id) AS unique_calls \
         FROM usage GROUP BY date ORDER BY date",
    )
    .await
    .expect("query");
    insta::assert_snapshot!("sql_per_day", format_batches(&per_day).expect("format"));

    let joined = run_sql(
        &data,
        Some(&prices),
        "SELECT u.event_id, CAST(p.price AS VARCHAR) AS input_price, p.effective_from \
         FROM usage u JOIN prices p ON p.model = 'gpt-4o' AND p.token_class = 'input' \
         WHERE u.event_id = 'e2'",
    )
    .await
    .expect("join");
    let text = format_batches(&joined).expect("format");
    assert!(
        text.contains("| e2       | 2.5000000000 | 2026-01-01     |"),
        "{text}"
    );
}

mod dedup;
mod detail;
mod escaping;
mod invoice;
mod numbers;
mod sql;
mod statement;
mod store;

//! The monthly report end to end (read, deduplicate, aggregate, price, write) over
//! a synthetic month of usage rows, printing rows per second, once on one
//! DataFusion partition (the per-core figure) and once on the default (all cores).
//!
//! A script, not a criterion bench: one run over 10 M rows takes seconds, and what
//! matters is the rate and the peak memory (`/usr/bin/time -v`), not a
//! distribution of nanoseconds. See benches/README.md at the repository root.
//!
//! ```sh
//! cargo bench -p tokentally-report --bench monthly_report -- --rows 10000000 --generate-only
//! /usr/bin/time -v cargo bench -p tokentally-report --bench monthly_report -- --rows 10000000 --partitions 1
//! ```
//!
//! The dataset is synthesized straight into [`tokentally_core::usage_schema`]
//! Parquet with arrow (no parser in the loop), Hive-partitioned by day like the
//! ingest writes it, with 1 % of the calls written twice (a replayed input) so
//! deduplication does real work. It is kept under the target directory and reused.

// A benchmark script reports on stdout; that is its output.
#![allow(clippy::print_stdout)]

/// The `tokentally` binary's allocator, so the report is timed as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt16Array, new_null_array,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokentally_report::{Month, ReportOptions, write_chargeback_with};

type BoxError = Box<dyn std::error::Error>;

/// The sample organisation's deployments and the models they serve.
const DEPLOYMENTS: [(&str, &str, &str); 7] = [
    ("gpt-4o", "gpt-4o-2024-08-06", "swedencentral"),
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", "eastus2"),
    ("gpt-4.1", "gpt-4.1-2025-04-14", "swedencentral"),
    ("o3-mini", "o3-mini-2025-01-31", "eastus2"),
    ("gpt-35-turbo", "gpt-35-turbo-0125", "francecentral"),
    (
        "text-embedding-3-small",
        "text-embedding-3-small",
        "swedencentral",
    ),
    ("chat-prod", "gpt-4o-mini-2024-07-18", "eastus2"),
];
const APPS: usize = 40;
const BATCH: usize = 64 * 1024;
const SEED: u64 = 0x1234_5678_9abc_def1;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Args {
    rows: u64,
    data: PathBuf,
    partitions: Option<usize>,
    generate_only: bool,
}

fn args() -> Result<Args, BoxError> {
    let mut rows = 10_000_000;
    let mut data = None;
    let mut partitions = None;
    let mut generate_only = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--rows" => rows = it.next().ok_or("--rows N")?.parse()?,
            "--data" => data = Some(PathBuf::from(it.next().ok_or("--data DIR")?)),
            "--partitions" => partitions = Some(it.next().ok_or("--partitions N")?.parse()?),
            "--generate-only" => generate_only = true,
            _ => {} // `cargo bench` adds --bench and filters
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let data = data.unwrap_or_else(|| target.join(format!("bench-usage-{rows}")));
    Ok(Args {
        rows,
        data,
        partitions,
        generate_only,
    })
}

/// One batch of `n` calls on `day` (1-based October 2026), starting at call `first`.
fn batch(rng: &mut Rng, day: u32, first: u64, n: usize, source: &str) -> Result<RecordBatch, BoxError> {
    let schema = tokentally_core::usage_schema();
    let day_start = chrono::NaiveDate::from_ymd_opt(2026, 10, day)
        .ok_or("day")?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_micros();
    let picks: Vec<(usize, usize, u64)> = (0..n)
        .map(|_| {
            (
                rng.below(APPS as u64) as usize,
                rng.below(DEPLOYMENTS.len() as u64) as usize,
                rng.next(),
            )
        })
        .collect();
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new((0..n).map(|i| Some(f(i))).collect::<StringArray>())
    };
    let ints = |f: &dyn Fn(usize) -> i64| -> ArrayRef { Arc::new((0..n).map(f).collect::<Int64Array>()) };
    let prompt = |i: usize| (picks[i].2 % 4000) as i64;
    let cached = |i: usize| prompt(i) / 4 * i64::from(picks[i].2 & 1 == 0);
    let completion = |i: usize| ((picks[i].2 >> 20) % 1500) as i64;
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column: ArrayRef = match field.name().as_str() {
            "event_id" => text(&|i| format!("{:032x}", u128::from(first + i as u64) * 0x9e37_79b9_7f4a_7c15)),
            "request_time" => Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    (0..n).map(|i| day_start + ((picks[i].2 >> 8) % 86_400_000_000) as i64),
                )
                .with_timezone("UTC"),
            ),
            "app_id" => text(&|i| format!("app-{:02}-{:08x}", picks[i].0, picks[i].0 * 2_654_435_761)),
            "app_id_source" => text(&|_| "claim".to_owned()),
            "deployment" => text(&|i| DEPLOYMENTS[picks[i].1].0.to_owned()),
            "model" => text(&|i| DEPLOYMENTS[picks[i].1].1.to_owned()),
            "region" => text(&|i| DEPLOYMENTS[picks[i].1].2.to_owned()),
            "api_version" => text(&|_| "2024-10-21".to_owned()),
            "operation" => text(&|_| "chat/completions".to_owned()),
            "usage_source" => text(&|i| {
                if picks[i].2.is_multiple_of(7) {
                    "estimated"
                } else {
                    "reported"
                }
                .to_owned()
            }),
            "finish_reason" => text(&|_| "stop".to_owned()),
            "source" => text(&|_| source.to_owned()),
            "streamed" => Arc::new(
                (0..n)
                    .map(|i| Some(picks[i].2.is_multiple_of(3)))
                    .collect::<BooleanArray>(),
            ),
            "partial" => Arc::new(BooleanArray::from(vec![false; n])),
            "status" => Arc::new(
                (0..n)
                    .map(|i| Some(if picks[i].2.is_multiple_of(50) { 429 } else { 200 }))
                    .collect::<UInt16Array>(),
            ),
            "prompt_tokens" => ints(&prompt),
            "cached_prompt_tokens" => ints(&cached),
            "completion_tokens" => ints(&completion),
            "reasoning_tokens" => ints(&|i| if picks[i].1 == 3 { completion(i) / 2 } else { 0 }),
            "total_tokens" => ints(&|i| prompt(i) + completion(i)),
            "latency_ms" => ints(&|i| 200 + completion(i) * 12),
            "source_offset" => ints(&|i| (first + i as u64 + 1) as i64),
            "choice_count" => Arc::new(Int32Array::from(vec![1; n])),
            _ if field.is_nullable() => new_null_array(field.data_type(), n),
            other => return Err(format!("the bench does not fill non-null column {other}").into()),
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn write_day(dir: &Path, name: &str, batches: &[RecordBatch]) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let file = std::fs::File::create(dir.join(name))?;
    let props = WriterProperties::builder().build();
    let mut writer = ArrowWriter::try_new(file, tokentally_core::usage_schema(), Some(props))?;
    for b in batches {
        writer.write(b)?;
    }
    writer.close()?;
    Ok(())
}

/// Writes `rows` usage rows over October 2026: 99 % in `main-*.parquet`, and 1 %
/// of those calls again in `replay-*.parquet`.
fn generate(data: &Path, rows: u64) -> Result<(), BoxError> {
    let usage = data.join("usage");
    let _ = std::fs::remove_dir_all(&usage);
    let replayed = rows / 100;
    let unique = rows - replayed;
    let per_day = unique.div_ceil(31);
    let mut next = 0u64;
    for day in 1..=31u32 {
        let count = per_day.min(unique - next);
        let dir = usage.join(format!("date=2026-10-{day:02}"));
        let mut rng = Rng(SEED ^ u64::from(day));
        let mut batches = Vec::new();
        let mut done = 0;
        while done < count {
            let n = (count - done).min(BATCH as u64) as usize;
            batches.push(batch(&mut rng, day, next + done, n, "gateway.jsonl")?);
            done += n as u64;
        }
        write_day(&dir, "main-0.parquet", &batches)?;
        // The replay re-creates the day's first calls (same seed), from another file.
        let again = (replayed / 31).min(count) as usize;
        let mut replay_rng = Rng(SEED ^ u64::from(day));
        let replay = batch(&mut replay_rng, day, next, again, "replay.jsonl")?;
        write_day(&dir, "replay-0.parquet", &[replay])?;
        next += count;
    }
    Ok(())
}

fn dataset_rows(data: &Path) -> Result<u64, BoxError> {
    let mut rows = 0;
    let mut pending = vec![data.join("usage")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let reader = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path)?)?;
                rows += parquet::file::reader::FileReader::metadata(&reader)
                    .file_metadata()
                    .num_rows() as u64;
            }
        }
    }
    Ok(rows)
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() -> Result<(), BoxError> {
    let args = args()?;
    if args.generate_only || !args.data.join("usage").is_dir() {
        let t = Instant::now();
        generate(&args.data, args.rows)?;
        println!(
            "generated {} rows in {:.1}s at {}",
            args.rows,
            t.elapsed().as_secs_f64(),
            args.data.display()
        );
        if args.generate_only {
            return Ok(());
        }
    }
    let rows = dataset_rows(&args.data)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runs = args.partitions.map_or_else(|| vec![1, cores], |p| vec![p]);
    for partitions in runs {
        let out = tempfile::tempdir()?;
        let options = ReportOptions {
            data_dir: args.data.clone(),
            out_dir: out.path().to_owned(),
            month: "2026-10".parse::<Month>()?,
            prices: root.join("prices.csv"),
            deployments: Some(root.join("deployments.csv")),
            cost_centers: Some(root.join("cost-centers.csv")),
            invoice: None,
        };
        let config = SessionConfig::new().with_target_partitions(partitions);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(partitions)
            .enable_all()
            .build()?;
        let t = Instant::now();
        let report = runtime.block_on(write_chargeback_with(
            &options,
            SessionContext::new_with_config(config),
        ))?;
        let secs = t.elapsed().as_secs_f64();
        let rate = rows as f64 / secs;
        println!(
            "target_partitions={partitions}: {rows} rows in {secs:.2}s = {:.2} M rows/s ({:.2} M rows/s per core); \
             {} calls after dedup, {} lines, {} detail rows",
            rate / 1e6,
            rate / 1e6 / partitions.min(cores) as f64,
            report.totals.calls,
            report.lines.len(),
            report.charges.len()
        );
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS (VmHWM): {mib} MiB");
    }
    Ok(())
}

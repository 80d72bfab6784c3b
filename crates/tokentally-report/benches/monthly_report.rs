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
//! The dataset is `tokentally_testdata::synthetic`'s month (1 % of the calls
//! written twice, so deduplication does real work), kept under the target
//! directory and reused.

// A benchmark script reports on stdout; that is its output.
#![allow(clippy::print_stdout)]

/// The `tokentally` binary's allocator, so the report is timed as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use datafusion::prelude::{SessionConfig, SessionContext};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokentally_report::{Month, ReportOptions, write_chargeback_with};
use tokentally_testdata::synthetic;

type BoxError = Box<dyn std::error::Error>;

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
        synthetic::generate(&args.data, args.rows);
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
    let rows = synthetic::dataset_rows(&args.data);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runs = args.partitions.map_or_else(|| vec![1, cores], |p| vec![p]);
    for partitions in runs {
        let out = tempfile::tempdir()?;
        let options = ReportOptions {
            data_dir: args.data.clone(),
            usage_store: None,
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

//! Parser throughput on generated sample traffic (tokentally-sample: real AOAI
//! wire format, multi-turn sessions that resend their history).
//!
//! - `sse/rebuild`: decoding and absorbing streams without tokenizing, MB/s of SSE,
//!   through `rebuild_stream_str` (what `parse_record` calls for a record's `sse`).
//! - `streamed call`: whole streamed records through `parse_record` (envelope,
//!   rebuild, prompt and completion counting), per MB of SSE and per call. The
//!   global count cache is cleared before every pass, so each pass is one cold
//!   run over the month, as an ingest is.
//! - `parse_record (sample mix)`: every record, MB/s of JSON Lines.
//! - `prompt estimate`: chat prompts with and without the count cache; the hit
//!   rate is printed. Every pass starts cold (no piece counts remembered).
//! - `parse (thread CPU)/…`: the first three again, timed by the CPU time of the
//!   benchmarking thread instead of the wall clock (the machine is shared; the
//!   targets are per core).
//!
//! Figures and how they were taken: benches/README.md at the repository root.

mod common;

use common::ThreadCpu;
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;
use std::sync::LazyLock;
use std::time::Duration;
use tokentally_core::{Encoding, SourcePosition, lookup_model};
use tokentally_parse::count_cache::CountCache;
use tokentally_parse::output::rebuild_stream_str;
use tokentally_parse::tokens::estimate_chat_prompt_with;

static CORPUS: LazyLock<Vec<u8>> = LazyLock::new(|| corpus(3000));

fn corpus(calls: usize) -> Vec<u8> {
    let config = tokentally_sample::SampleConfig {
        calls,
        ..tokentally_sample::SampleConfig::default()
    };
    let mut out = Vec::new();
    tokentally_sample::generate(&config, &mut out).expect("generate corpus");
    out
}

fn position() -> SourcePosition {
    SourcePosition {
        source: "bench".into(),
        partition: None,
        offset: 0,
    }
}

/// The corpus as records, streams and lines.
struct Inputs<'a> {
    lines: Vec<&'a [u8]>,
    records: Vec<Value>,
    streamed_lines: Vec<&'a [u8]>,
}

impl<'a> Inputs<'a> {
    fn new(data: &'a [u8]) -> Self {
        let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let records: Vec<Value> = lines
            .iter()
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        let streamed_lines = lines
            .iter()
            .zip(&records)
            .filter(|(_, r)| r["response"]["sse"].is_string())
            .map(|(l, _)| *l)
            .collect();
        Self {
            lines,
            records,
            streamed_lines,
        }
    }

    fn streams(&self) -> Vec<&str> {
        self.records
            .iter()
            .filter_map(|r| r["response"]["sse"].as_str())
            .collect()
    }
}

fn bench(c: &mut Criterion) {
    let inputs = Inputs::new(&CORPUS);
    targets(c, "parse", &inputs);
    let mut group = c.benchmark_group("parse");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(inputs.streamed_lines.len() as u64));
    group.bench_function("streamed call (per call)", |b| {
        b.iter(|| {
            CountCache::global().clear();
            for line in &inputs.streamed_lines {
                let _ = black_box(tokentally_parse::parse_record(line, position()));
            }
        });
    });
    group.finish();
    prompt_cache(c, &inputs.records);
}

/// The figures issue 4 sets targets for, in CPU time of the benchmarking thread.
fn bench_cpu(c: &mut Criterion<ThreadCpu>) {
    targets(c, "parse (thread CPU)", &Inputs::new(&CORPUS));
}

/// Rebuild, streamed call and sample mix, measured with `M`.
fn targets<M: Measurement>(c: &mut Criterion<M>, name: &str, inputs: &Inputs<'_>) {
    let streams = inputs.streams();
    let sse_bytes: usize = streams.iter().map(|s| s.len()).sum();
    let mut group = c.benchmark_group(name);
    group.sample_size(10).measurement_time(Duration::from_secs(5));

    group.throughput(Throughput::Bytes(sse_bytes as u64));
    group.bench_function("sse/rebuild (no tokenizing)", |b| {
        b.iter(|| {
            for s in &streams {
                black_box(rebuild_stream_str(s));
            }
        });
    });
    group.bench_function("streamed call (per SSE byte)", |b| {
        b.iter(|| {
            CountCache::global().clear();
            for line in &inputs.streamed_lines {
                let _ = black_box(tokentally_parse::parse_record(line, position()));
            }
        });
    });
    group.throughput(Throughput::Bytes(CORPUS.len() as u64));
    group.bench_function("parse_record (sample mix)", |b| {
        b.iter(|| {
            CountCache::global().clear();
            for line in &inputs.lines {
                let _ = black_box(tokentally_parse::parse_record(line, position()));
            }
        });
    });
    group.finish();
}

/// Chat prompts in arrival order, counted with a fresh cache per pass (as one
/// ingest run would) and with none.
#[allow(clippy::print_stdout)] // the hit rate is this bench's output, like criterion's own lines
fn prompt_cache(c: &mut Criterion, records: &[Value]) {
    let prompts: Vec<(Encoding, &Value)> = records
        .iter()
        .filter(|r| r["request"]["messages"].is_array())
        .map(|r| {
            let model = r["request"]["model"].as_str().or(r["deployment"].as_str());
            let encoding = model
                .and_then(lookup_model)
                .map_or(Encoding::O200kBase, |m| m.encoding);
            (encoding, &r["request"])
        })
        .collect();
    let bytes: usize = prompts.iter().map(|(_, r)| r["messages"].to_string().len()).sum();
    let cache = CountCache::default();
    let total: i64 = prompts
        .iter()
        .map(|(e, r)| estimate_chat_prompt_with(*e, r, Some(&cache)))
        .sum();
    let stats = cache.stats();
    println!(
        "count cache over {} chat prompts ({:.1} MB of messages, {total} tokens): {} hits, {} misses, hit rate {:.1}%",
        prompts.len(),
        bytes as f64 / 1e6,
        stats.hits,
        stats.misses,
        100.0 * stats.hit_rate()
    );

    let mut group = c.benchmark_group("prompt estimate");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Bytes(bytes as u64));
    // Clearing the global cache also empties the per-thread memo tables (piece
    // counts), so every pass of both starts cold, as one ingest run would.
    group.bench_function("no cache", |b| {
        b.iter(|| {
            CountCache::global().clear();
            let n: i64 = prompts
                .iter()
                .map(|(e, r)| estimate_chat_prompt_with(*e, r, None))
                .sum();
            black_box(n)
        });
    });
    group.bench_function("cold cache per pass", |b| {
        b.iter(|| {
            CountCache::global().clear();
            let cache = CountCache::default();
            let n: i64 = prompts
                .iter()
                .map(|(e, r)| estimate_chat_prompt_with(*e, r, Some(&cache)))
                .sum();
            black_box(n)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu::new());
    targets = bench_cpu
}
criterion_main!(benches, cpu);

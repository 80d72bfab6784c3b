//! Throughput of parsing gateway records (reconstruction + counting) and of SSE
//! decoding alone, on generated sample traffic. Reports MB/s of raw input.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tokentally_core::SourcePosition;
use tokentally_parse::sse::SseDecoder;

fn corpus(calls: usize) -> Vec<u8> {
    let config = tokentally_sample::SampleConfig {
        calls,
        ..tokentally_sample::SampleConfig::default()
    };
    let mut out = Vec::new();
    tokentally_sample::generate(&config, &mut out).expect("generate corpus");
    out
}

fn bench(c: &mut Criterion) {
    let data = corpus(2000);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let streams: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter_map(|v| v["response"]["sse"].as_str().map(str::to_owned))
        .collect();
    let position = SourcePosition {
        source: "bench".into(),
        partition: None,
        offset: 0,
    };

    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("parse_record (sample mix)", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(tokentally_parse::parse_record(line, position.clone()));
            }
        });
    });
    let sse_bytes: usize = streams.iter().map(String::len).sum();
    group.throughput(Throughput::Bytes(sse_bytes as u64));
    group.bench_function("sse decode only", |b| {
        b.iter(|| {
            let mut events = 0usize;
            for s in &streams {
                let mut d = SseDecoder::new();
                d.feed(s.as_bytes(), &mut |_| events += 1);
                d.finish(&mut |_| events += 1);
            }
            black_box(events)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

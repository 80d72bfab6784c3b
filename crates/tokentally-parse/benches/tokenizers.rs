//! tiktoken-rs against bpe-openai (the counting tokenizer), in MB/s of text:
//! source code, prose from the sample's conversations, and text without spaces
//! (one pre-tokenizer piece), where cost growth with piece length shows.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use tokentally_testdata::text::no_spaces;

/// Real source code: this crate's own files, repeated to about `size` bytes.
fn code(size: usize) -> String {
    let files = [
        include_str!("../src/output.rs"),
        include_str!("../src/sse.rs"),
        include_str!("../src/tokens.rs"),
        include_str!("../src/identity.rs"),
        include_str!("../src/call.rs"),
    ];
    files.concat().repeat(size / files.concat().len() + 1)[..size].to_owned()
}

/// The message texts of the sample's conversations (several languages of support,
/// assistant and extraction prose), concatenated to about `size` bytes.
fn prose(size: usize) -> String {
    let config = tokentally_sample::SampleConfig {
        calls: 600,
        ..tokentally_sample::SampleConfig::default()
    };
    let mut lines = Vec::new();
    tokentally_sample::generate(&config, &mut lines).expect("generate");
    let mut text = String::new();
    for line in lines.split(|&b| b == b'\n') {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        for message in record["request"]["messages"].as_array().into_iter().flatten() {
            if let Some(content) = message["content"].as_str() {
                text.push_str(content);
                text.push('\n');
            }
        }
        if text.len() >= size {
            break;
        }
    }
    text.truncate(text.floor_char_boundary(size));
    text
}

fn bench(c: &mut Criterion) {
    let bpe = [
        ("o200k", bpe_openai::o200k_base()),
        ("cl100k", bpe_openai::cl100k_base()),
    ];
    let tik = [
        ("o200k", tiktoken_rs::o200k_base_singleton()),
        ("cl100k", tiktoken_rs::cl100k_base_singleton()),
    ];
    for (kind, text) in [("code", code(1 << 20)), ("prose", prose(1 << 20))] {
        let mut group = c.benchmark_group(format!("tokenizer/{kind}"));
        group.sample_size(10).measurement_time(Duration::from_secs(4));
        group.throughput(Throughput::Bytes(text.len() as u64));
        for ((name, b), (_, t)) in bpe.iter().zip(&tik) {
            group.bench_function(format!("bpe-openai {name}"), |bench| {
                bench.iter(|| black_box(b.count(text.as_str())));
            });
            group.bench_function(format!("tiktoken-rs {name}"), |bench| {
                bench.iter(|| black_box(t.encode_ordinary(&text).len()));
            });
        }
        group.finish();
    }
    // Growth with the length of one piece: linear for bpe-openai.
    let mut group = c.benchmark_group("tokenizer/no-spaces o200k");
    group.sample_size(10).measurement_time(Duration::from_secs(4));
    for size in [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20] {
        let text = no_spaces(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("bpe-openai", size), &text, |bench, text| {
            bench.iter(|| black_box(bpe[0].1.count(text.as_str())));
        });
        group.bench_with_input(BenchmarkId::new("tiktoken-rs", size), &text, |bench, text| {
            bench.iter(|| black_box(tik[0].1.encode_ordinary(text).len()));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

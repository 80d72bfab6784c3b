//! A synthetic month of usage rows, as many as a benchmark asks for: written
//! straight into [`tokentally_core::usage_schema`] Parquet with arrow (no
//! parser in the loop, so millions of rows take seconds), Hive-partitioned by
//! day like the ingest writes it, with 1 % of the calls written twice (a
//! replayed input) so deduplication does real work. The same `rows` always give
//! the same files.

use arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt16Array, new_null_array,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use std::path::Path;
use std::sync::Arc;

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

/// One batch of `n` calls on `day` (1-based October 2026), starting at call `first`.
fn batch(rng: &mut Rng, day: u32, first: u64, n: usize, source: &str) -> RecordBatch {
    let schema = tokentally_core::usage_schema();
    let day_start = chrono::NaiveDate::from_ymd_opt(2026, 10, day)
        .expect("a day of October")
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
            other => panic!("the synthetic month does not fill non-null column {other}"),
        };
        columns.push(column);
    }
    RecordBatch::try_new(schema, columns).expect("a batch of the usage schema")
}

fn write_day(dir: &Path, name: &str, batches: &[RecordBatch]) {
    std::fs::create_dir_all(dir).expect("create the day folder");
    let file = std::fs::File::create(dir.join(name)).expect("create the day file");
    let props = WriterProperties::builder().build();
    let mut writer =
        ArrowWriter::try_new(file, tokentally_core::usage_schema(), Some(props)).expect("writer");
    for b in batches {
        writer.write(b).expect("write");
    }
    writer.close().expect("close");
}

/// Writes `rows` usage rows over October 2026: 99 % in `main-*.parquet`, and 1 %
/// of those calls again in `replay-*.parquet`.
pub fn generate(data: &Path, rows: u64) {
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
            batches.push(batch(&mut rng, day, next + done, n, "gateway.jsonl"));
            done += n as u64;
        }
        write_day(&dir, "main-0.parquet", &batches);
        // The replay re-creates the day's first calls (same seed), from another file.
        let again = (replayed / 31).min(count) as usize;
        let mut replay_rng = Rng(SEED ^ u64::from(day));
        let replay = batch(&mut replay_rng, day, next, again, "replay.jsonl");
        write_day(&dir, "replay-0.parquet", &[replay]);
        next += count;
    }
}

/// The rows in the dataset under `data` (every file's row count).
pub fn dataset_rows(data: &Path) -> u64 {
    let mut rows = 0;
    let mut pending = vec![data.join("usage")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the dataset") {
            let path = entry.expect("read the dataset").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let file = std::fs::File::open(&path).expect("open a day file");
                let reader = parquet::file::reader::SerializedFileReader::new(file).expect("a Parquet file");
                rows += parquet::file::reader::FileReader::metadata(&reader)
                    .file_metadata()
                    .num_rows() as u64;
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_holds_the_rows_asked_for_and_is_the_same_each_time() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        generate(a.path(), 3_100);
        generate(b.path(), 3_100);
        // 99 % once, and the 1 % replayed on top.
        assert_eq!(dataset_rows(a.path()), 3_100);
        let day = "usage/date=2026-10-31/main-0.parquet";
        let read = |dir: &Path| std::fs::read(dir.join(day)).expect("day file");
        assert!(read(a.path()) == read(b.path()), "same rows, same bytes");
    }
}

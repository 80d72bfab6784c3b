//! Reading the scan's record batches column by column for `scan.rs`: strings
//! become small integer ids (DataFusion hands them back as views, and a view that
//! repeats within a batch is the same string, so most rows cost a table lookup of
//! 16 bytes rather than hashing text), numbers are read in place.

use crate::scan::{Call, IdHasher, Rank};
use crate::{Error, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StringViewArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type};
use std::collections::HashMap;

/// One (app, app_id_source, deployment, model) seen in a day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: Option<String>,
    pub model: Option<String>,
}

/// Strings to ids for one day: per column, and whole keys.
#[derive(Default)]
pub(crate) struct Interner {
    /// Per string column (app, app source, deployment, model, source, usage
    /// source): text → id; id 0 is null.
    columns: [HashMap<String, u32, IdHasher>; 6],
    names: [Vec<Option<String>>; 6],
    /// Key ids by the four column ids packed into one number (one cheap hash
    /// per row instead of a hash of a slice).
    key_ids: HashMap<u128, u32, IdHasher>,
    keys: Vec<Key>,
    /// The identity rank of each key (its `app_id_source`), so rows need not
    /// compare that string again.
    key_identity: Vec<u8>,
    /// The usage rank of each usage-source id.
    usage_rank: Vec<u8>,
    /// Source names by id (for ranking copies), id 0 unused.
    sources: Vec<String>,
}

impl Interner {
    fn text_id(&mut self, column: usize, text: Option<&str>) -> u32 {
        let Some(text) = text else { return 0 };
        if let Some(&id) = self.columns[column].get(text) {
            return id;
        }
        let names = &mut self.names[column];
        if names.is_empty() {
            names.push(None);
        }
        let id = u32::try_from(names.len()).unwrap_or(u32::MAX);
        names.push(Some(text.to_owned()));
        self.columns[column].insert(text.to_owned(), id);
        id
    }

    fn key_id(&mut self, parts: [u32; 4]) -> u32 {
        let packed = parts.iter().fold(0u128, |acc, &p| (acc << 32) | u128::from(p));
        if let Some(&id) = self.key_ids.get(&packed) {
            return id;
        }
        let name = |col: usize| self.names[col].get(parts[col] as usize).cloned().flatten();
        let key = Key {
            app_id: name(0).unwrap_or_default(),
            app_id_source: name(1).unwrap_or_default(),
            deployment: name(2),
            model: name(3),
        };
        let id = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.key_identity.push(match key.app_id_source.as_str() {
            "claim" => 0,
            "subscription" => 1,
            "api_key" => 2,
            _ => 3,
        });
        self.keys.push(key);
        self.key_ids.insert(packed, id);
        id
    }

    /// The identity rank (0 claim, 1 subscription, 2 API-key fingerprint, 3 none)
    /// of key `key`.
    fn identity(&self, key: u32) -> u8 {
        self.key_identity.get(key as usize).copied().unwrap_or(3)
    }

    /// The usage rank (0 reported, 1 estimated, 2 none) of usage-source id `id`.
    fn usage(&mut self, id: u32) -> u8 {
        let names = &self.names[5];
        while self.usage_rank.len() < names.len() {
            let rank = match names.get(self.usage_rank.len()).and_then(Option::as_deref) {
                Some("reported") => 0,
                Some("estimated") => 1,
                _ => 2,
            };
            self.usage_rank.push(rank);
        }
        self.usage_rank.get(id as usize).copied().unwrap_or(2)
    }

    pub(crate) fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Source names, indexed by the `source` of a [`Rank`].
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }
}

/// A string column as DataFusion returns it: views (the default) or plain.
enum Text<'a> {
    View(&'a StringViewArray),
    Plain(&'a StringArray),
    Owned(StringArray),
}

impl Text<'_> {
    fn value(&self, row: usize) -> Option<&str> {
        match self {
            Self::View(a) => (!a.is_null(row)).then(|| a.value(row)),
            Self::Plain(a) => (!a.is_null(row)).then(|| a.value(row)),
            Self::Owned(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }

    /// Ids of every row's string in `interner` column `column`. Repeated views
    /// (same bytes, or same place in the same buffer) skip the text lookup.
    fn ids(&self, interner: &mut Interner, column: usize) -> Vec<u32> {
        let n = match self {
            Self::View(a) => a.len(),
            Self::Plain(a) => a.len(),
            Self::Owned(a) => a.len(),
        };
        let mut out = Vec::with_capacity(n);
        if let Self::View(a) = self {
            let mut seen: HashMap<u128, u32, IdHasher> = HashMap::with_capacity_and_hasher(64, IdHasher);
            let views = a.views();
            for row in 0..n {
                if a.is_null(row) {
                    out.push(0);
                    continue;
                }
                let view = views[row];
                let id = match seen.get(&view) {
                    Some(&id) => id,
                    None => {
                        let id = interner.text_id(column, Some(a.value(row)));
                        seen.insert(view, id);
                        id
                    }
                };
                out.push(id);
            }
            return out;
        }
        for row in 0..n {
            out.push(interner.text_id(column, self.value(row)));
        }
        out
    }
}

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<Text<'a>> {
    let col = column(batch, name)?;
    Ok(match col.data_type() {
        DataType::Utf8View => Text::View(col.as_string_view()),
        DataType::Utf8 => Text::Plain(col.as_string::<i32>()),
        _ => Text::Owned(
            arrow::compute::cast(col, &DataType::Utf8)?
                .as_string::<i32>()
                .clone(),
        ),
    })
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("usage scan returned no column {name}")))
}

/// The columns of one scanned batch.
pub(crate) struct Columns<'a> {
    batch: &'a RecordBatch,
    event_id: Text<'a>,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(batch: &'a RecordBatch) -> Result<Self> {
        Ok(Self {
            batch,
            event_id: text(batch, "event_id")?,
        })
    }

    pub(crate) fn event_id(&self, row: usize) -> &str {
        self.event_id.value(row).unwrap_or_default()
    }

    /// Every row as a [`Call`], its strings interned.
    pub(crate) fn calls(&self, interner: &mut Interner) -> Result<Vec<Call>> {
        let b = self.batch;
        let mut parts = Vec::with_capacity(4);
        for (i, name) in ["app_id", "app_id_source", "deployment", "model"]
            .into_iter()
            .enumerate()
        {
            parts.push(text(b, name)?.ids(interner, i));
        }
        let source_ids = text(b, "source")?.ids(interner, 4);
        let usage_ids = text(b, "usage_source")?.ids(interner, 5);
        let times = column(b, "request_time")?.as_primitive_opt::<TimestampMicrosecondType>();
        let status = column(b, "status")?.as_primitive_opt::<UInt16Type>();
        let partition = column(b, "source_partition")?.as_primitive_opt::<Int32Type>();
        let offset = column(b, "source_offset")?.as_primitive_opt::<Int64Type>();
        let (Some(times), Some(status), Some(partition), Some(offset)) = (times, status, partition, offset)
        else {
            return Err(Error::Internal(
                "usage scan returned unexpected column types".into(),
            ));
        };
        let tokens = [
            "prompt_tokens",
            "cached_prompt_tokens",
            "completion_tokens",
            "reasoning_tokens",
            "total_tokens",
        ]
        .map(|name| column(b, name).map(|c| c.as_primitive_opt::<Int64Type>()));
        let mut token_cols = Vec::with_capacity(5);
        for t in tokens {
            token_cols.push(t?.ok_or_else(|| Error::Internal("token column is not int64".into()))?);
        }
        // The source interner's ids index `sources` for ranking.
        interner.sources = interner.names[4]
            .iter()
            .map(|n| n.clone().unwrap_or_default())
            .collect();
        let mut calls = Vec::with_capacity(b.num_rows());
        for row in 0..b.num_rows() {
            let key = interner.key_id([parts[0][row], parts[1][row], parts[2][row], parts[3][row]]);
            let usage_rank = interner.usage(usage_ids[row]);
            let st = status.value(row);
            let token = |i: usize| {
                let c = token_cols[i];
                if c.is_null(row) { 0 } else { c.value(row) }
            };
            calls.push(Call {
                rank: Rank {
                    usage: usage_rank,
                    identity: interner.identity(key),
                    source: source_ids[row],
                    partition: if partition.is_null(row) {
                        i64::MAX
                    } else {
                        i64::from(partition.value(row))
                    },
                    offset: offset.value(row),
                },
                key,
                day: i32::try_from(times.value(row).div_euclid(86_400_000_000)).unwrap_or(i32::MAX),
                failed: st >= 400 || st == 0,
                estimated: usage_rank == 1,
                tokens: [token(0), token(1), token(2), token(3), token(4)],
            });
        }
        Ok(calls)
    }
}

//! Reading the scan's record batches column by column for `scan.rs`: strings
//! become small integer ids (the repeated ones arrive as dictionaries from
//! `scan_files.rs`, so a row costs an index into the dictionary's ids rather than
//! hashing text), numbers are read in place.

use crate::scan::{Call, IdHasher, Rank};
use crate::{Error, Result};
use arrow::array::{Array, ArrayData, ArrayRef, AsArray, DictionaryArray, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type};
use std::collections::HashMap;
use tokentally_core::TokenCounts;

/// One (app, app_id_source, deployment, model) seen in a day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: Option<String>,
    pub model: Option<String>,
}

/// The string columns the scan interns: few distinct values, repeated on every
/// row, so `scan_files.rs` reads them as dictionaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextColumn {
    App,
    AppSource,
    Deployment,
    Model,
    Source,
    UsageSource,
}

impl TextColumn {
    pub(crate) const ALL: [Self; 6] = [
        Self::App,
        Self::AppSource,
        Self::Deployment,
        Self::Model,
        Self::Source,
        Self::UsageSource,
    ];

    /// The usage dataset's column.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::App => "app_id",
            Self::AppSource => "app_id_source",
            Self::Deployment => "deployment",
            Self::Model => "model",
            Self::Source => "source",
            Self::UsageSource => "usage_source",
        }
    }

    /// Whether the usage dataset's column `name` is one of these.
    pub(crate) fn is_text_column(name: &str) -> bool {
        Self::ALL.iter().any(|c| c.name() == name)
    }
}

/// One value per [`TextColumn`].
struct PerColumn<T>([T; 6]);

impl<T: Default> Default for PerColumn<T> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| T::default()))
    }
}

impl<T> std::ops::Index<TextColumn> for PerColumn<T> {
    type Output = T;
    fn index(&self, column: TextColumn) -> &T {
        &self.0[column as usize]
    }
}

impl<T> std::ops::IndexMut<TextColumn> for PerColumn<T> {
    fn index_mut(&mut self, column: TextColumn) -> &mut T {
        &mut self.0[column as usize]
    }
}

/// The ids of one row's [`Key`] columns.
#[derive(Debug, Clone, Copy)]
struct KeyIds {
    app: u32,
    app_source: u32,
    deployment: u32,
    model: u32,
}

impl KeyIds {
    /// The four ids in one number (one cheap hash per row instead of a hash of
    /// a struct).
    fn packed(self) -> u128 {
        [self.app, self.app_source, self.deployment, self.model]
            .iter()
            .fold(0u128, |acc, &p| (acc << 32) | u128::from(p))
    }
}

/// Strings to ids for one day: per column, and whole keys.
#[derive(Default)]
pub(crate) struct Interner {
    /// Per string column: text → id; id 0 is null.
    columns: PerColumn<HashMap<String, u32, IdHasher>>,
    names: PerColumn<Vec<Option<String>>>,
    /// Key ids by [`KeyIds::packed`].
    key_ids: HashMap<u128, u32, IdHasher>,
    keys: Vec<Key>,
    /// The identity rank of each key (its `app_id_source`), so rows need not
    /// compare that string again.
    key_identity: Vec<u8>,
    /// The usage rank of each usage-source id.
    usage_rank: Vec<u8>,
    /// Source names by id (for ranking copies), id 0 unused.
    sources: Vec<String>,
    /// Per string column, the last dictionary seen and its values' ids
    /// ([`UNMAPPED`] until a row uses them).
    dictionaries: PerColumn<Option<(ArrayData, Vec<u32>)>>,
}

impl Interner {
    fn text_id(&mut self, column: TextColumn, text: Option<&str>) -> u32 {
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

    fn key_id(&mut self, ids: KeyIds) -> u32 {
        let packed = ids.packed();
        if let Some(&id) = self.key_ids.get(&packed) {
            return id;
        }
        let name = |column: TextColumn, id: u32| self.names[column].get(id as usize).cloned().flatten();
        let key = Key {
            app_id: name(TextColumn::App, ids.app).unwrap_or_default(),
            app_id_source: name(TextColumn::AppSource, ids.app_source).unwrap_or_default(),
            deployment: name(TextColumn::Deployment, ids.deployment),
            model: name(TextColumn::Model, ids.model),
        };
        let id = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.key_identity
            .push(crate::dedup::identity_rank(&key.app_id_source));
        self.keys.push(key);
        self.key_ids.insert(packed, id);
        id
    }

    /// The identity rank ([`crate::dedup::identity_rank`]) of key `key`.
    fn identity(&self, key: u32) -> u8 {
        self.key_identity
            .get(key as usize)
            .copied()
            .unwrap_or(crate::dedup::UNKNOWN_IDENTITY_RANK)
    }

    /// The usage rank ([`crate::dedup::usage_rank`]) of usage-source id `id`.
    fn usage(&mut self, id: u32) -> u8 {
        let names = &self.names[TextColumn::UsageSource];
        while self.usage_rank.len() < names.len() {
            let rank = crate::dedup::usage_rank(names.get(self.usage_rank.len()).and_then(Option::as_deref));
            self.usage_rank.push(rank);
        }
        self.usage_rank
            .get(id as usize)
            .copied()
            .unwrap_or(crate::dedup::UNKNOWN_USAGE_RANK)
    }

    pub(crate) fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Source names, indexed by the `source` of a [`Rank`].
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }
}

/// A string column as `scan_files.rs` hands it out: a dictionary (the repeated
/// strings) or plain (the event id).
enum Text<'a> {
    Dict(&'a DictionaryArray<Int32Type>),
    Plain(&'a StringArray),
}

impl Text<'_> {
    fn value(&self, row: usize) -> Option<&str> {
        match self {
            Self::Dict(a) => {
                let values = a.values().as_string_opt::<i32>()?;
                let key = a.key(row)?;
                (!values.is_null(key)).then(|| values.value(key))
            }
            Self::Plain(a) => (!a.is_null(row)).then(|| a.value(row)),
        }
    }

    /// Ids of every row's string in `interner`'s `column`. A dictionary's
    /// values are looked up once each, and once per day while the Parquet reader
    /// hands out the same dictionary batch after batch.
    fn ids(&self, interner: &mut Interner, column: TextColumn) -> Vec<u32> {
        let (Self::Dict(a), Some(values)) = (self, self.dictionary_values()) else {
            let n = match self {
                Self::Plain(a) => a.len(),
                Self::Dict(a) => a.len(),
            };
            return (0..n)
                .map(|row| interner.text_id(column, self.value(row)))
                .collect();
        };
        let data = values.to_data();
        // Holding the dictionary keeps its buffers alive, so an equal pointer
        // later is the same dictionary, never a reused allocation.
        let mut map = match interner.dictionaries[column].take() {
            Some((seen, map)) if seen.ptr_eq(&data) => map,
            _ => vec![UNMAPPED; values.len()],
        };
        let keys = a.keys();
        let mut out = Vec::with_capacity(a.len());
        for row in 0..a.len() {
            if keys.is_null(row) {
                out.push(0);
                continue;
            }
            let key = keys.value(row) as usize;
            let id = match map.get_mut(key) {
                Some(id) if *id != UNMAPPED => *id,
                Some(slot) => {
                    let text = (!values.is_null(key)).then(|| values.value(key));
                    *slot = interner.text_id(column, text);
                    *slot
                }
                None => 0,
            };
            out.push(id);
        }
        interner.dictionaries[column] = Some((data, map));
        out
    }

    fn dictionary_values(&self) -> Option<&StringArray> {
        match self {
            Self::Dict(a) => a.values().as_string_opt::<i32>(),
            Self::Plain(_) => None,
        }
    }
}

/// A dictionary value not looked up yet.
const UNMAPPED: u32 = u32::MAX;

fn text<'a>(batch: &'a RecordBatch, name: &str) -> Result<Text<'a>> {
    let col = column(batch, name)?;
    if let Some(dict) = col.as_dictionary_opt::<Int32Type>() {
        return Ok(Text::Dict(dict));
    }
    col.as_string_opt::<i32>()
        .map(Text::Plain)
        .ok_or_else(|| Error::Internal(format!("usage scan column {name} is not text")))
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
        let mut ids = |c: TextColumn| text(b, c.name()).map(|t| t.ids(interner, c));
        let app_ids = ids(TextColumn::App)?;
        let app_source_ids = ids(TextColumn::AppSource)?;
        let deployment_ids = ids(TextColumn::Deployment)?;
        let model_ids = ids(TextColumn::Model)?;
        let source_ids = ids(TextColumn::Source)?;
        let usage_ids = ids(TextColumn::UsageSource)?;
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
        let mut token_cols = Vec::with_capacity(TokenCounts::COLUMNS.len());
        for name in TokenCounts::COLUMNS {
            let col = column(b, name)?.as_primitive_opt::<Int64Type>();
            token_cols.push(col.ok_or_else(|| Error::Internal(format!("{name} is not int64")))?);
        }
        // The source interner's ids index `sources` for ranking.
        interner.sources = interner.names[TextColumn::Source]
            .iter()
            .map(|n| n.clone().unwrap_or_default())
            .collect();
        let mut calls = Vec::with_capacity(b.num_rows());
        for row in 0..b.num_rows() {
            let key = interner.key_id(KeyIds {
                app: app_ids[row],
                app_source: app_source_ids[row],
                deployment: deployment_ids[row],
                model: model_ids[row],
            });
            let usage_rank = interner.usage(usage_ids[row]);
            let st = status.value(row);
            // Null only in the columns an older file lacks: no such tokens.
            let mut values = [0i64; TokenCounts::COLUMNS.len()];
            for (v, c) in values.iter_mut().zip(&token_cols) {
                if !c.is_null(row) {
                    *v = c.value(row);
                }
            }
            let rank = Rank {
                usage: usage_rank,
                identity: interner.identity(key),
                source: source_ids[row],
                partition: if partition.is_null(row) {
                    i64::MAX
                } else {
                    i64::from(partition.value(row))
                },
                offset: offset.value(row),
            };
            calls.push(Call {
                rank,
                key,
                app: key,
                app_rank: rank,
                day: i32::try_from(times.value(row).div_euclid(86_400_000_000)).unwrap_or(i32::MAX),
                edge: crate::scan_edges::near_midnight(times.value(row)),
                failed: st >= 400 || st == 0,
                estimated: usage_rank
                    == crate::dedup::usage_source_rank(tokentally_core::UsageSource::Estimated),
                tokens: TokenCounts::from_values(values),
            });
        }
        Ok(calls)
    }
}

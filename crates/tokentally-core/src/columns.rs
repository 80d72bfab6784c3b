//! Usage rows appended straight into Arrow columns, one record at a time.
//!
//! A writer that held its records until it wrote them kept a dozen small heap
//! strings per row alive for a whole flush: dropping them, and gathering them
//! back from all over the heap into columns, cost about as much as writing the
//! Parquet (benches/README.md, "Kafka ingest"). Appending each record as it
//! arrives lets the caller drop it at once, while its strings are still in cache.

use crate::schema::usage_schema;
use crate::{Result, UsageRecord};
use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder, UInt16Builder,
};
use std::sync::Arc;

/// The columns of [`usage_schema`], in its order, being built.
#[derive(Debug)]
pub struct UsageColumns {
    event_id: StringBuilder,
    request_id: StringBuilder,
    request_time: TimestampMicrosecondBuilder,
    app_id: StringBuilder,
    app_id_source: StringBuilder,
    tenant_id: StringBuilder,
    object_id: StringBuilder,
    subscription: StringBuilder,
    product: StringBuilder,
    deployment: StringBuilder,
    model: StringBuilder,
    model_family: StringBuilder,
    api_version: StringBuilder,
    operation: StringBuilder,
    streamed: BooleanBuilder,
    status: UInt16Builder,
    /// In [`crate::TokenCounts::COLUMNS`] order.
    tokens: [Int64Builder; 13],
    estimated_prompt_tokens: Int64Builder,
    estimated_completion_tokens: Int64Builder,
    usage_source: StringBuilder,
    encoding: StringBuilder,
    finish_reason: StringBuilder,
    choice_count: Int32Builder,
    partial: BooleanBuilder,
    region: StringBuilder,
    backend: StringBuilder,
    latency_ms: Int64Builder,
    notes: StringBuilder,
    source: StringBuilder,
    source_partition: Int32Builder,
    source_offset: Int64Builder,
}

impl Default for UsageColumns {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl UsageColumns {
    /// Room for `rows` rows before any column grows. A writer with many open
    /// day buffers starts them small: the builders' own default (1024 rows per
    /// column) times 43 columns is a lot of memory for a day with three calls.
    pub fn with_capacity(rows: usize) -> Self {
        let text = || StringBuilder::with_capacity(rows, rows * 16);
        Self {
            event_id: text(),
            request_id: text(),
            request_time: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            app_id: text(),
            app_id_source: text(),
            tenant_id: text(),
            object_id: text(),
            subscription: text(),
            product: text(),
            deployment: text(),
            model: text(),
            model_family: text(),
            api_version: text(),
            operation: text(),
            streamed: BooleanBuilder::with_capacity(rows),
            status: UInt16Builder::with_capacity(rows),
            tokens: std::array::from_fn(|_| Int64Builder::with_capacity(rows)),
            estimated_prompt_tokens: Int64Builder::with_capacity(rows),
            estimated_completion_tokens: Int64Builder::with_capacity(rows),
            usage_source: text(),
            encoding: text(),
            finish_reason: text(),
            choice_count: Int32Builder::with_capacity(rows),
            partial: BooleanBuilder::with_capacity(rows),
            region: text(),
            backend: text(),
            latency_ms: Int64Builder::with_capacity(rows),
            notes: text(),
            source: text(),
            source_partition: Int32Builder::with_capacity(rows),
            source_offset: Int64Builder::with_capacity(rows),
        }
    }

    pub fn push(&mut self, r: &UsageRecord) {
        self.event_id.append_value(&r.event_id);
        self.request_id.append_option(r.request_id.as_deref());
        self.request_time.append_value(r.request_time.timestamp_micros());
        self.app_id.append_value(&r.app_id);
        self.app_id_source.append_value(r.app_id_source.as_str());
        self.tenant_id.append_option(r.tenant_id.as_deref());
        self.object_id.append_option(r.object_id.as_deref());
        self.subscription.append_option(r.subscription.as_deref());
        self.product.append_option(r.product.as_deref());
        self.deployment.append_option(r.deployment.as_deref());
        self.model.append_option(r.model.as_deref());
        self.model_family.append_option(r.model_family.as_deref());
        self.api_version.append_option(r.api_version.as_deref());
        self.operation.append_value(r.operation.as_str());
        self.streamed.append_value(r.streamed);
        self.status.append_value(r.status);
        for (column, value) in self.tokens.iter_mut().zip(r.token_counts().values()) {
            column.append_value(value);
        }
        self.estimated_prompt_tokens
            .append_option(r.estimated_prompt_tokens);
        self.estimated_completion_tokens
            .append_option(r.estimated_completion_tokens);
        self.usage_source.append_value(r.usage_source.as_str());
        self.encoding.append_option(r.encoding.as_deref());
        self.finish_reason.append_option(r.finish_reason.as_deref());
        self.choice_count.append_value(r.choice_count);
        self.partial.append_value(r.partial);
        self.region.append_option(r.region.as_deref());
        self.backend.append_option(r.backend.as_deref());
        self.latency_ms.append_option(r.latency_ms);
        self.notes.append_option(r.notes.as_deref());
        self.source.append_value(&r.source.source);
        self.source_partition.append_option(r.source.partition);
        self.source_offset.append_value(r.source.offset);
    }

    /// The rows appended so far as one batch in [`usage_schema`]; the builder is
    /// empty again afterwards.
    ///
    /// # Errors
    /// Only on a broken invariant: the columns above disagreeing with the schema.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.request_id.finish()),
            Arc::new(self.request_time.finish()),
            Arc::new(self.app_id.finish()),
            Arc::new(self.app_id_source.finish()),
            Arc::new(self.tenant_id.finish()),
            Arc::new(self.object_id.finish()),
            Arc::new(self.subscription.finish()),
            Arc::new(self.product.finish()),
            Arc::new(self.deployment.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.model_family.finish()),
            Arc::new(self.api_version.finish()),
            Arc::new(self.operation.finish()),
            Arc::new(self.streamed.finish()),
            Arc::new(self.status.finish()),
        ];
        for column in &mut self.tokens {
            columns.push(Arc::new(column.finish()));
        }
        columns.extend::<[ArrayRef; 14]>([
            Arc::new(self.estimated_prompt_tokens.finish()),
            Arc::new(self.estimated_completion_tokens.finish()),
            Arc::new(self.usage_source.finish()),
            Arc::new(self.encoding.finish()),
            Arc::new(self.finish_reason.finish()),
            Arc::new(self.choice_count.finish()),
            Arc::new(self.partial.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.backend.finish()),
            Arc::new(self.latency_ms.finish()),
            Arc::new(self.notes.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.source_partition.finish()),
            Arc::new(self.source_offset.finish()),
        ]);
        Ok(RecordBatch::try_new(usage_schema(), columns)?)
    }
}

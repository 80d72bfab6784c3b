//! Ad-hoc SQL over the usage dataset and the tables that price it, for questions
//! the chargeback does not answer (which app streams most, what a deployment
//! costs per day, …).
//!
//! Tables: `usage` (the dataset), `prices`, `deployments`, `cost_centers` (each
//! when its file is given, parsed and validated as for a report) and `chargeback`
//! (the FOCUS detail rows of every month `report` has written).

use crate::cost_centers::CostCenters;
use crate::deployments::Deployments;
use crate::prices::PriceTable;
use crate::{Result, dataset, sql_tables};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Name of the price table in SQL.
pub const PRICES_TABLE: &str = "prices";
pub const DEPLOYMENTS_TABLE: &str = "deployments";
pub const COST_CENTERS_TABLE: &str = "cost_centers";
/// The written detail rows, all months.
pub const CHARGEBACK_VIEW: &str = "chargeback";

/// Where the tables of a SQL session come from.
#[derive(Debug, Clone, Default)]
pub struct SqlTables {
    /// Holds `usage/` and the written `chargeback-detail-*.parquet`.
    pub data_dir: PathBuf,
    pub prices: Option<PathBuf>,
    pub deployments: Option<PathBuf>,
    pub cost_centers: Option<PathBuf>,
}

/// A query's result: the schema (also when no row came back, so an empty result
/// still writes a typed Parquet file or a CSV header) and the rows.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryOutput {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A DataFusion session with every table registered once, for one query or an
/// interactive run of many.
pub struct SqlSession {
    ctx: SessionContext,
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession")
            .field("session_id", &self.ctx.session_id())
            .finish()
    }
}

fn register(ctx: &SessionContext, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<()> {
    let table = MemTable::try_new(schema, vec![batches])?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

fn register_batch(ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
    register(ctx, name, batch.schema(), vec![batch])
}

impl SqlSession {
    /// Registers the tables; a given table file must exist and be valid.
    ///
    /// # Errors
    /// When the dataset is missing, a table file is invalid, or a written detail
    /// file cannot be read.
    pub async fn open(tables: &SqlTables) -> Result<Self> {
        let ctx = SessionContext::new();
        dataset::register_usage(&ctx, &tables.data_dir).await?;
        if let Some(path) = &tables.prices {
            register_batch(
                &ctx,
                PRICES_TABLE,
                sql_tables::prices_batch(&PriceTable::load(path)?)?,
            )?;
        }
        if let Some(path) = &tables.deployments {
            let batch = sql_tables::deployments_batch(&Deployments::load(path)?)?;
            register_batch(&ctx, DEPLOYMENTS_TABLE, batch)?;
        }
        if let Some(path) = &tables.cost_centers {
            let batch = sql_tables::cost_centers_batch(&CostCenters::load(path)?)?;
            register_batch(&ctx, COST_CENTERS_TABLE, batch)?;
        }
        let (schema, batches) = sql_tables::chargeback_batches(&tables.data_dir)?;
        register(&ctx, CHARGEBACK_VIEW, schema, batches)?;
        Ok(Self { ctx })
    }

    /// Runs one SQL statement.
    ///
    /// # Errors
    /// When the statement does not parse, plan or run.
    pub async fn query(&self, sql: &str) -> Result<QueryOutput> {
        let df = self.ctx.sql(sql).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok(QueryOutput { schema, batches })
    }
}

/// Runs one statement over `usage` (and `prices` when a price file is given): the
/// short form for tests and scripts.
///
/// # Errors
/// As [`SqlSession::open`] and [`SqlSession::query`].
pub async fn run_sql(data_dir: &Path, prices: Option<&Path>, query: &str) -> Result<Vec<RecordBatch>> {
    let tables = SqlTables {
        data_dir: data_dir.to_owned(),
        prices: prices.map(Path::to_owned),
        ..SqlTables::default()
    };
    Ok(SqlSession::open(&tables).await?.query(query).await?.batches)
}

//! Ad-hoc SQL over the usage dataset and the tables that price it, for questions
//! the chargeback does not answer (which app streams most, what a deployment
//! costs per day, …).
//!
//! Tables: `usage` (the dataset, every stored copy of a call), `calls` (one row
//! per call: the copy the report counts), `prices`, `deployments`, `cost_centers` (each
//! when its file is given, parsed and validated as for a report) and `chargeback`
//! (the FOCUS detail rows of every month `report` has written).

use crate::cost_centers::CostCenters;
use crate::dataset::USAGE_TABLE;
use crate::deployments::Deployments;
use crate::prices::PriceTable;
use crate::{Error, Result, dataset, dedup, sql_tables};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Name of the price table in SQL.
pub const PRICES_TABLE: &str = "prices";
pub const DEPLOYMENTS_TABLE: &str = "deployments";
pub const COST_CENTERS_TABLE: &str = "cost_centers";
/// The written detail rows, all months.
pub const CHARGEBACK_VIEW: &str = "chargeback";
/// The usage rows deduplicated by `event_id`, keeping the copy the report counts
/// (`dedup.rs`): the table for totals.
pub const CALLS_VIEW: &str = "calls";

/// Where the tables of a SQL session come from.
#[derive(Debug, Clone, Default)]
pub struct SqlTables {
    /// Holds `usage/` and the written `chargeback-detail-*.parquet`.
    pub data_dir: PathBuf,
    /// When set, `usage` is read from `<usage_store>/usage/` through DataFusion's
    /// object-store registry instead of from `data_dir`.
    pub usage_store: Option<tokentally_store::Remote>,
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

/// DataFusion partitions for a dataset in object storage: files read at once.
const STORE_PARTITIONS: usize = 16;

impl SqlSession {
    /// Registers the tables; a given table file must exist and be valid.
    ///
    /// # Errors
    /// When the dataset is missing, a table file is invalid, or a written detail
    /// file cannot be read.
    pub async fn open(tables: &SqlTables) -> Result<Self> {
        let ctx = match &tables.usage_store {
            // Each partition reads its files one after the other; from object
            // storage a file is a few round trips, so more partitions overlap
            // them (the CPU work per file is small).
            Some(_) => {
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(STORE_PARTITIONS))
            }
            None => SessionContext::new(),
        };
        match &tables.usage_store {
            Some(remote) => dataset::register_usage_remote(&ctx, remote).await?,
            None => dataset::register_usage(&ctx, &tables.data_dir).await?,
        }
        ctx.sql(&format!(
            "CREATE VIEW {CALLS_VIEW} AS {}",
            dedup::calls_view_sql(USAGE_TABLE)
        ))
        .await?;
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

    /// Splits SQL text into statements with DataFusion's parser (a `;` inside a
    /// string or comment is text, not an end).
    ///
    /// # Errors
    /// When the text does not parse; the error names the place.
    pub fn statements(&self, sql: &str) -> Result<Vec<SqlStatement>> {
        let parsed =
            DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(Error::InvalidQuery)?;
        Ok(parsed
            .into_iter()
            .map(|statement| SqlStatement {
                text: statement.to_string(),
                statement,
            })
            .collect())
    }

    /// Runs one parsed statement. A query naming a table that does not exist
    /// fails with the tables that do.
    ///
    /// # Errors
    /// When the statement does not plan or run.
    pub async fn run(&self, statement: &SqlStatement) -> Result<QueryOutput> {
        if let DfStatement::Statement(inner) = &statement.statement
            && matches!(**inner, ast::Statement::Query(_))
        {
            let state = self.ctx.state();
            let tables = state.resolve_table_references(&statement.statement);
            for table in tables.map_err(Error::InvalidQuery)? {
                // Table functions (`generate_series(…)`) are named like tables.
                let function = state.table_functions().contains_key(table.table());
                if !function && !self.ctx.table_exist(table.clone())? {
                    return Err(Error::UnknownTable {
                        name: table.to_string(),
                        tables: self.table_names().join(", "),
                    });
                }
            }
        }
        let plan = self
            .ctx
            .state()
            .statement_to_plan(statement.statement.clone())
            .await
            .map_err(Error::InvalidQuery)?;
        let df = self.ctx.execute_logical_plan(plan).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok(QueryOutput { schema, batches })
    }

    /// Runs every statement of `sql` in order and returns the last result.
    ///
    /// # Errors
    /// When the text has no statement, or one does not parse, plan or run.
    pub async fn query(&self, sql: &str) -> Result<QueryOutput> {
        let mut last = None;
        for statement in self.statements(sql)? {
            last = Some(self.run(&statement).await?);
        }
        last.ok_or(Error::NoStatement)
    }

    /// The registered tables and views, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let state = self.ctx.state();
        let defaults = &state.config_options().catalog;
        let mut names = self
            .ctx
            .catalog(&defaults.default_catalog)
            .and_then(|c| c.schema(&defaults.default_schema))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The columns of `table` (every table when `None`) as a result: `table_name`,
    /// `column_name`, `data_type`, `nullable`, for the prompt's `\d`.
    ///
    /// # Errors
    /// When the table does not exist (the error lists those that do).
    pub async fn describe(&self, table: Option<&str>) -> Result<QueryOutput> {
        let names = match table {
            Some(name) if !self.ctx.table_exist(name)? => {
                return Err(Error::UnknownTable {
                    name: name.to_owned(),
                    tables: self.table_names().join(", "),
                });
            }
            Some(name) => vec![name.to_owned()],
            None => self.table_names(),
        };
        let mut rows: [Vec<String>; 4] = Default::default();
        for name in names {
            let schema = self.ctx.table_provider(name.as_str()).await?.schema();
            for field in schema.fields() {
                rows[0].push(name.clone());
                rows[1].push(field.name().clone());
                rows[2].push(field.data_type().to_string());
                rows[3].push(if field.is_nullable() { "YES" } else { "NO" }.to_owned());
            }
        }
        let headers = ["table_name", "column_name", "data_type", "nullable"];
        let schema = Arc::new(Schema::new(
            headers.map(|h| Field::new(h, DataType::Utf8, false)).to_vec(),
        ));
        let columns: Vec<ArrayRef> = rows
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(QueryOutput {
            schema,
            batches: vec![batch],
        })
    }
}

/// One statement of a script, parsed, with its text for messages.
#[derive(Debug, Clone)]
pub struct SqlStatement {
    /// The statement as the parser reads it back (one line, comments dropped).
    pub text: String,
    statement: DfStatement,
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

//! End-to-end tests: the real `tokentally` binary over real files, checked by
//! independent readers (DuckDB, pyarrow) where the output is data.
//!
//! The Kafka tests need the tansu broker that `scripts/test` starts.
//!
//! One test binary (ripgrep's layout): `support` has the helpers, one module per
//! area, and `regression` for bugs that once escaped.

mod architecture;
mod billing;
mod broker;
mod browser;
mod cli_config;
mod cli_errors;
mod cli_output;
mod cli_sql;
mod ingest_limits;
mod kafka;
mod kafka_faults;
mod lake;
mod llm_log;
mod pipeline;
mod proxy;
mod regression;
mod schedule;
mod sql;
mod support;

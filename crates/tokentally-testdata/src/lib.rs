//! Test data, one generator for each kind, for the workspace's tests and
//! benches (a dev-dependency only; nothing in the product depends on it):
//!
//! - [`usage`]: usage rows as the ingest writes them ([`tokentally_core::UsageRecord`]),
//!   and the Hive-partitioned Parquet day files that hold them;
//! - [`synthetic`]: a month of millions of usage rows, written straight as Arrow
//!   (the `monthly_report` bench);
//! - [`gateway`]: gateway records (`docs/formats.md`) for end-to-end tests;
//! - [`text`]: text for tokenizer tests and benches.
//!
//! A realistic month of gateway traffic is the product's own `tokentally sample`
//! (`tokentally-sample`), not test data.
//!
//! Helpers panic on failure: a test that cannot build its data has failed.

pub mod gateway;
pub mod synthetic;
pub mod text;
pub mod usage;

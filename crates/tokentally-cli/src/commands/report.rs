use super::{parse_month, print, runtime};
use crate::config::ReportConfig;
use crate::discover::Pipeline;
use crate::exit::{EXIT_EMPTY, EXIT_UNPRICED, UsageContext as _};
use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;
use tokentally_core::TokenCounts;
use tokentally_report::{
    ChargebackReport, CostCenters, Deployments, Month, PriceTable, ReportOptions, write_chargeback,
};

/// `tokentally report`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct ReportFlags {
    pub strict: bool,
    pub allow_empty: bool,
    pub json: bool,
}

pub fn report(month: Option<&str>, pipeline: &Pipeline, flags: ReportFlags) -> Result<ExitCode> {
    let config = &pipeline.config;
    let month = parse_month(Some(month.unwrap_or(&config.report.month)))?;
    check_tables(&config.report)?;
    let report = write_report(month, &config.output.dir, &config.report)?;
    if flags.json {
        print(&format!("{:#}\n", report_json(&report)))?;
    } else {
        print(&render(&report))?;
    }
    Ok(outcome(&report, flags.strict, flags.allow_empty).unwrap_or(ExitCode::SUCCESS))
}

/// Loads every table the report will read, so a bad row fails as a usage error
/// before any input is read or offset committed (the report loads them again).
pub fn check_tables(tables: &ReportConfig) -> Result<()> {
    PriceTable::load(&tables.prices)
        .context("[report] prices")
        .usage()?;
    if let Some(path) = &tables.deployments {
        Deployments::load(path).context("[report] deployments").usage()?;
    }
    if let Some(path) = &tables.cost_centers {
        CostCenters::load(path).context("[report] cost_centers").usage()?;
    }
    if let Some(path) = &tables.invoice {
        tokentally_report::check_invoice(path)
            .context("[report] invoice")
            .usage()?;
    }
    Ok(())
}

/// The report's exit status when it is not success: `EXIT_UNPRICED` when
/// `strict` and some usage has no price, so a scheduler notices instead of
/// finance finding a gap; `EXIT_EMPTY` when the month has no calls.
pub fn outcome(report: &ChargebackReport, strict: bool, allow_empty: bool) -> Option<ExitCode> {
    if strict && report.totals.unpriced_lines > 0 {
        tracing::error!(
            unpriced_tokens = report.totals.unpriced_tokens,
            unpriced = %report.unpriced_path.display(),
            "--strict: some usage has no price"
        );
        return Some(ExitCode::from(EXIT_UNPRICED));
    }
    if !allow_empty && report.totals.calls == 0 {
        tracing::error!(
            month = %report.month,
            "no calls in this month: is it the month you meant, and was its usage ingested? \
             (--allow-empty exits 0)"
        );
        return Some(ExitCode::from(EXIT_EMPTY));
    }
    None
}

pub fn write_report(month: Month, out: &Path, tables: &ReportConfig) -> Result<ChargebackReport> {
    let options = ReportOptions {
        data_dir: out.to_owned(),
        usage_store: None,
        out_dir: out.to_owned(),
        month,
        prices: tables.prices.clone(),
        deployments: tables.deployments.clone(),
        cost_centers: tables.cost_centers.clone(),
        invoice: tables.invoice.clone(),
    };
    if let Some(remote) = super::lake::remote_root(out)? {
        return super::lake::write_report(month, &remote, options);
    }
    runtime()?
        .block_on(write_chargeback(&options))
        .with_context(|| format!("writing the chargeback for {month}"))
}

pub fn render(report: &ChargebackReport) -> String {
    format!(
        "{}\nchargeback written to:\n  {}\n  {}\n  {}\n  {}\n  {}\nstatement: {}\n",
        report.summary_table(),
        report.csv_path.display(),
        report.parquet_path.display(),
        report.detail_csv_path.display(),
        report.detail_parquet_path.display(),
        report.unpriced_path.display(),
        report.statement_path.display(),
    )
}

/// The report as JSON: month, totals, per-app sums and the files written.
/// Money is a decimal string per currency, never a float.
pub fn report_json(report: &ChargebackReport) -> Value {
    let costs = |c: &tokentally_report::Costs| -> Value {
        c.iter()
            .map(|(currency, cost)| (currency.clone(), Value::String(cost.to_string())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let t = &report.totals;
    let apps: Vec<Value> = report
        .apps
        .iter()
        .map(|a| {
            json!({
                "cost_center": a.cost_center,
                "app_name": a.app_name,
                "app_id": a.app_id,
                "calls": a.calls,
                "total_tokens": a.total_tokens,
                "cost": costs(&a.cost),
                "unpriced_tokens": a.unpriced_tokens,
            })
        })
        .collect();
    let path = |p: &Path| p.display().to_string();
    let mut totals = serde_json::Map::new();
    totals.insert("lines".into(), json!(t.lines));
    totals.insert("calls".into(), json!(t.calls));
    totals.insert("failed_calls".into(), json!(t.failed_calls));
    // Every token column, named as in the usage dataset.
    for (column, count) in TokenCounts::COLUMNS.iter().zip(t.tokens.values()) {
        totals.insert((*column).into(), json!(count));
    }
    totals.insert("estimated_calls".into(), json!(t.estimated_calls));
    totals.insert("cost".into(), costs(&t.cost));
    totals.insert("unpriced_lines".into(), json!(t.unpriced_lines));
    totals.insert("unpriced_tokens".into(), json!(t.unpriced_tokens));
    totals.insert("invoice_cost".into(), costs(&t.invoice_cost));
    let invoice = report.tieout.as_ref().map(|t| {
        let resources: Vec<Value> = t
            .resources
            .iter()
            .map(|r| {
                json!({
                    "resource_id": r.resource_id,
                    "resource_name": r.resource_name,
                    "currency": r.currency,
                    "invoiced": r.invoiced.map(|i| i.to_string()),
                    "list_cost": costs(&r.list_cost),
                    "unallocated": r.unallocated,
                })
            })
            .collect();
        json!({
            "file": path(&t.invoice),
            "resources": resources,
            "without_resource": costs(&t.without_resource),
        })
    });
    json!({
        "month": report.month.to_string(),
        "invoice": invoice,
        "totals": totals,
        "apps": apps,
        "files": {
            "chargeback_csv": path(&report.csv_path),
            "chargeback_parquet": path(&report.parquet_path),
            "detail_csv": path(&report.detail_csv_path),
            "detail_parquet": path(&report.detail_parquet_path),
            "unpriced_csv": path(&report.unpriced_path),
            "statement_html": path(&report.statement_path),
        },
    })
}

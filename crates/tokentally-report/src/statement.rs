//! The month's statement for people: `statement-YYYY-MM.html`, one
//! self-contained page (styles and SVG charts inline, no script, nothing fetched;
//! its Content-Security-Policy forbids loading anything) that opens from a mail
//! attachment and prints to PDF.
//!
//! Every figure is taken from what the chargeback files hold (lines, apps,
//! totals, charges), never recomputed from usage, and formatted for reading
//! (`numbers.rs`); the exact values are in the CSV beside it. Text from the
//! data (app ids, names) is escaped by the template engine, and the page holds no
//! timestamp, so the same input gives the same bytes.

mod charts;
mod daily;
pub(crate) mod drift;
mod numbers;
mod sections;
mod tieout;

use crate::chargeback::ChargebackLine;
use crate::charges::Charge;
use crate::cost_centers::CostCenters;
use crate::dataset::DayUsage;
use crate::deployments::Deployments;
use crate::invoice::Tieout;
use crate::summary::{AppSummary, Totals};
use crate::{Error, Month, Result};
use minijinja::{Environment, Value, context};
use serde::Serialize;
use std::path::{Path, PathBuf};

use sections::{CostCenterSection, EstimateRow, ModelRow, ProvisionedRow, UnpricedRow};
use tieout::InvoiceSection;

/// The page template; `.html`, so the engine escapes every value by default.
const TEMPLATE: &str = include_str!("../templates/statement.html");
const TEMPLATE_NAME: &str = "statement.html";

/// How many apps the daily chart shows by name; the rest are one band.
const TOP_APPS: usize = 6;

pub(crate) fn html_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("statement-{month}.html"))
}

/// The month before, for the change in the total.
#[derive(Debug, Clone)]
pub(crate) struct PreviousMonth {
    pub month: Month,
    pub totals: Totals,
}

/// What a statement is made of: the report's own results.
#[derive(Debug)]
pub(crate) struct Inputs<'a> {
    pub month: Month,
    pub days: &'a [DayUsage],
    pub lines: &'a [ChargebackLine],
    pub charges: &'a [Charge],
    pub totals: &'a Totals,
    pub apps: &'a [AppSummary],
    pub owners: &'a CostCenters,
    pub deployments: &'a Deployments,
    pub previous: Option<&'a PreviousMonth>,
    pub tieout: Option<&'a Tieout>,
    /// Per model, estimated tokens and the estimates' drift (`drift.rs`).
    pub estimates: &'a std::collections::BTreeMap<String, drift::ModelEstimates>,
}

/// The month's total in one currency, and its change against the month before.
#[derive(Debug, Serialize)]
pub(crate) struct TotalRow {
    pub currency: String,
    pub cost: String,
    /// The exact amount, as in the chargeback CSV (for readers that check).
    pub exact: String,
    pub previous: Option<String>,
    pub change: Option<String>,
    pub change_percent: Option<String>,
}

/// Everything the page shows, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct Statement {
    pub month: String,
    pub previous_month: Option<String>,
    pub totals: Vec<TotalRow>,
    pub calls: String,
    pub failed_calls: String,
    pub tokens: String,
    pub estimated_calls: String,
    pub unpriced_tokens: String,
    /// The currency the charts are drawn in; `charts_note` says when others exist.
    pub chart_currency: String,
    pub charts_note: Option<String>,
    pub cost_centers: Vec<CostCenterSection>,
    pub models: Vec<ModelRow>,
    pub provisioned: Vec<ProvisionedRow>,
    pub estimates: Vec<EstimateRow>,
    pub unpriced: Vec<UnpricedRow>,
    /// The tie-out to the invoice, when one was given.
    pub invoice: Option<InvoiceSection>,
    #[serde(skip)]
    charts: Charts,
}

/// The SVG charts, kept out of the escaped data: they go into the page as markup.
#[derive(Debug, Default)]
struct Charts {
    cost_centers: String,
    apps: String,
    daily: String,
}

impl Statement {
    /// # Errors
    /// When a sum overflows or a chart cannot be drawn.
    pub(crate) fn build(inputs: &Inputs<'_>) -> Result<Self> {
        let totals = inputs.totals;
        let chart_currency = totals.cost.keys().next().cloned().unwrap_or_default();
        let charts_note = (totals.cost.len() > 1).then(|| {
            format!("The charts show amounts in {chart_currency} only; the tables show every currency.")
        });
        let previous = inputs.previous;
        let total_rows = totals
            .cost
            .iter()
            .map(|(currency, cost)| {
                let before = previous.and_then(|p| p.totals.cost.get(currency).copied());
                let change = before.and_then(|b| cost.checked_sub(b));
                TotalRow {
                    currency: currency.clone(),
                    cost: numbers::money(*cost, currency),
                    exact: cost.to_string(),
                    previous: before.map(|b| numbers::money(b, currency)),
                    change: change.map(|c| {
                        let sign = if c.is_sign_positive() && !c.is_zero() {
                            "+"
                        } else {
                            ""
                        };
                        format!("{sign}{}", numbers::money(c, currency))
                    }),
                    change_percent: change
                        .zip(before)
                        .and_then(|(c, b)| numbers::percent(c, b))
                        .map(|p| if p.starts_with('-') { p } else { format!("+{p}") }),
                }
            })
            .collect();
        let cost_centers = sections::cost_centers(inputs.apps, inputs.lines)?;
        let charts = Charts {
            cost_centers: charts::bars(
                &sections::cost_center_bars(&cost_centers, &chart_currency),
                &chart_currency,
            )?,
            apps: charts::bars(&sections::app_bars(inputs.apps, &chart_currency), &chart_currency)?,
            daily: charts::stacked_days(
                &sections::daily_bands(
                    &daily::app_costs(
                        inputs.month,
                        inputs.days,
                        inputs.lines,
                        inputs.deployments,
                        &chart_currency,
                    )?,
                    inputs.owners,
                    TOP_APPS,
                )?,
                &chart_currency,
            )?,
        };
        Ok(Self {
            month: inputs.month.to_string(),
            previous_month: previous.map(|p| p.month.to_string()),
            totals: total_rows,
            calls: numbers::count(totals.calls),
            failed_calls: numbers::count(totals.failed_calls),
            tokens: numbers::count(totals.tokens.total),
            estimated_calls: numbers::count(totals.estimated_calls),
            unpriced_tokens: numbers::count(totals.unpriced_tokens),
            chart_currency,
            charts_note,
            cost_centers,
            models: sections::models(inputs.lines)?,
            provisioned: sections::provisioned(inputs.month, inputs.deployments, inputs.charges)?,
            estimates: sections::estimates(inputs.lines, inputs.estimates)?,
            unpriced: sections::unpriced(inputs.charges, inputs.owners),
            invoice: inputs.tieout.map(|t| tieout::invoice(t, totals)),
            charts,
        })
    }

    /// The page.
    ///
    /// # Errors
    /// When the template fails to render: a bug in it, never the data.
    pub(crate) fn render(&self) -> Result<String> {
        let template_error = |e: minijinja::Error| Error::Internal(format!("statement template: {e}"));
        let mut env = Environment::new();
        env.add_template(TEMPLATE_NAME, TEMPLATE)
            .map_err(template_error)?;
        let page = env.get_template(TEMPLATE_NAME).map_err(template_error)?;
        page.render(context! {
            s => Value::from_serialize(self),
            cost_center_chart => Value::from_safe_string(self.charts.cost_centers.clone()),
            app_chart => Value::from_safe_string(self.charts.apps.clone()),
            daily_chart => Value::from_safe_string(self.charts.daily.clone()),
        })
        .map_err(template_error)
    }
}

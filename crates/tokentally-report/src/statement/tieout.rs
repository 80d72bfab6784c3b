//! The statement's tie-out table: per Azure resource, what was invoiced, what
//! tokentally's own prices explain (coverage), and what needs a reader's eye.

use super::numbers;
use crate::invoice::Tieout;
use crate::summary::Totals;
use rust_decimal::Decimal;
use serde::Serialize;

/// Coverage below this share of a resource's invoice is called out: traffic
/// that did not pass the gateway, or prices above what was invoiced.
const LOW_COVERAGE_PERCENT: i64 = 90;

#[derive(Debug, Serialize)]
pub(crate) struct ResourceRow {
    pub resource: String,
    pub resource_id: String,
    pub invoiced: String,
    pub list_cost: String,
    pub coverage: String,
    pub note: String,
    /// `true` when the row needs a reader's attention.
    pub flagged: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct InvoiceSection {
    pub file: String,
    pub allocated: String,
    pub resources: Vec<ResourceRow>,
    pub without_resource: Option<String>,
}

/// Per resource: invoiced, list-price cost, how much of the invoice the prices
/// explain, and what that means.
pub(crate) fn invoice(t: &Tieout, totals: &Totals) -> InvoiceSection {
    let resources = t
        .resources
        .iter()
        .map(|r| {
            let coverage = r.coverage().map(|c| c * Decimal::ONE_HUNDRED);
            let low = coverage.is_some_and(|c| c < Decimal::from(LOW_COVERAGE_PERCENT));
            let (note, flagged) = match r.invoiced {
                None => (
                    "Not in the invoice: usage on this resource has no invoiced cost (another subscription or billing account, or an export that misses it).".to_owned(),
                    true,
                ),
                Some(_) if r.unallocated => (
                    "Invoiced with no priced usage through the gateway: billed to (unallocated).".to_owned(),
                    true,
                ),
                Some(_) if low => (
                    "Low coverage: traffic that bypassed the gateway (or was not logged) is likely; the invoice is still shared over the usage tokentally saw.".to_owned(),
                    true,
                ),
                Some(_) => (String::new(), false),
            };
            ResourceRow {
                resource: r.resource_name.clone(),
                resource_id: r.resource_id.clone(),
                invoiced: r
                    .invoiced
                    .map_or_else(|| "-".to_owned(), |i| numbers::money(i, &r.currency)),
                list_cost: numbers::costs(&r.list_cost),
                coverage: coverage
                    .and_then(|c| numbers::percent(c, Decimal::ONE_HUNDRED))
                    .unwrap_or_else(|| "-".to_owned()),
                note,
                flagged,
            }
        })
        .collect();
    InvoiceSection {
        file: t.invoice.file_name().map_or_else(
            || t.invoice.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        allocated: numbers::costs(&totals.invoice_cost),
        resources,
        without_resource: (!t.without_resource.is_empty()).then(|| numbers::costs(&t.without_resource)),
    }
}

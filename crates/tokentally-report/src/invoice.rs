//! Tying the chargeback to what Azure invoiced: the month's cost of each Azure
//! OpenAI resource in a Cost Management FOCUS export (`invoice/read.rs`) is
//! shared by the charges on that resource's deployments in proportion to their
//! list-price cost (docs/formats.md "Invoice tie-out").
//!
//! Exactness as for provisioned capacity: a resource's invoiced cost is rounded
//! once to micro-units and split by largest remainder, so the `invoice_cost` of
//! the detail rows, the chargeback lines and the totals add up to the export's
//! total for those resources exactly. An invoiced resource with no priced usage
//! behind it is billed to [`UNALLOCATED_APP`]; priced usage on a resource the
//! export does not list is reported, never silently left out.

mod read;

use crate::chargeback::{COST_SCALE, UNKNOWN_MODEL, round_cost};
use crate::charges::{Charge, Pricing, sort_charges};
use crate::deployments::Deployments;
use crate::month::DaysUsed;
use crate::ptu::allocate;
use crate::summary::Costs;
use crate::{Error, Month, Result};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use read::{InvoiceRow, last_segment, read};

/// The app that carries an invoiced resource's cost in a month no priced usage
/// ran on it.
pub const UNALLOCATED_APP: &str = "(unallocated)";

/// One Azure OpenAI resource of the deployment table, as the export bills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTieout {
    /// As the deployment table names it.
    pub resource_id: String,
    /// The export's `ResourceName`, else the last segment of the id.
    pub resource_name: String,
    /// The export's `BillingCurrency`; empty when the export does not list the resource.
    pub currency: String,
    /// The month's `BilledCost`, summed and rounded to micro-units; `None` when
    /// the export does not list the resource.
    pub invoiced: Option<Decimal>,
    /// Export rows behind `invoiced`.
    pub rows: usize,
    /// tokentally's own (list-price) cost of the resource's deployments, per currency.
    pub list_cost: Costs,
    /// `true` when nothing priced ran on the resource and its invoice went to
    /// [`UNALLOCATED_APP`].
    pub unallocated: bool,
}

impl ResourceTieout {
    /// How much of the invoice tokentally's pricing explains: list-price cost
    /// over invoiced cost, when both are in one currency and something was invoiced.
    pub fn coverage(&self) -> Option<Decimal> {
        let invoiced = self.invoiced.filter(|i| !i.is_zero())?;
        let list = self.list_cost.get(&self.currency)?;
        list.checked_div(invoiced)
    }
}

/// The month's tie-out, for the summary, the statement and the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tieout {
    pub invoice: PathBuf,
    /// Every resource the deployment table names with usage or invoiced cost
    /// this month, by id.
    pub resources: Vec<ResourceTieout>,
    /// Priced cost on deployments the deployment table gives no resource, so
    /// no invoice line can be tied to it.
    pub without_resource: Costs,
}

impl Tieout {
    /// Resources with priced usage the export does not bill.
    pub fn not_invoiced(&self) -> impl Iterator<Item = &ResourceTieout> {
        self.resources.iter().filter(|r| r.invoiced.is_none())
    }
}

fn overflow(what: &'static str) -> Error {
    Error::Overflow {
        line: "the invoice tie-out".to_owned(),
        what,
    }
}

/// The resource's id as the deployment table spells it, keyed case-insensitively
/// (Azure resource ids are).
fn resources(deployments: &Deployments) -> BTreeMap<String, String> {
    deployments
        .rows()
        .iter()
        .filter_map(|d| d.resource.as_ref())
        .map(|r| (r.to_ascii_lowercase(), r.clone()))
        .collect()
}

struct Invoiced {
    currency: String,
    first_at: String,
    total: Decimal,
    rows: usize,
    name: String,
}

/// Sums the month's export rows per resource of the deployment table; rows of
/// other resources (the rest of the Azure bill) are left out.
fn invoiced(
    path: &Path,
    month: Month,
    rows: &[InvoiceRow],
    known: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Invoiced>> {
    let mut out: BTreeMap<String, Invoiced> = BTreeMap::new();
    for r in rows {
        if r.day < month.first_day() || r.day >= month.end_day() {
            continue;
        }
        let key = r.resource_id.to_ascii_lowercase();
        if !known.contains_key(&key) {
            continue;
        }
        let entry = out.entry(key).or_insert_with(|| Invoiced {
            currency: r.currency.clone(),
            first_at: r.at.clone(),
            total: Decimal::ZERO,
            rows: 0,
            name: r.resource_name.clone(),
        });
        if entry.currency != r.currency {
            return Err(Error::Invoice {
                path: path.to_owned(),
                at: r.at.clone(),
                message: format!(
                    "resource {} is billed in {} here and in {} at {}: one resource must have one currency",
                    r.resource_id, r.currency, entry.currency, entry.first_at
                ),
            });
        }
        entry.total = entry
            .total
            .checked_add(r.billed_cost)
            .ok_or_else(|| overflow("invoiced costs"))?;
        entry.rows += 1;
    }
    Ok(out)
}

/// A priced charge's weight: its cost in micro-units.
fn weight(c: &Charge) -> Result<i64> {
    let mut cost = c.cost.unwrap_or_default();
    cost.rescale(COST_SCALE);
    i64::try_from(cost.mantissa()).map_err(|_| overflow("list-price costs"))
}

/// Shares `total` over `weights`; a negative total (a month of refunds) is
/// shared as its magnitude, then negated.
fn shares(total: Decimal, weights: &[i64]) -> Option<Vec<Decimal>> {
    if total.is_sign_negative() {
        return allocate(-total, weights).map(|s| s.into_iter().map(|x| -x).collect());
    }
    allocate(total, weights)
}

/// Sets `invoice_cost` on every charge of an invoiced resource, adds an
/// [`UNALLOCATED_APP`] charge for each invoiced resource nothing priced ran
/// on, and says what could not be tied.
///
/// # Errors
/// When one resource's charges are priced in several currencies (their
/// proportions would mean nothing), or a sum overflows.
pub(crate) fn tie_out(
    path: &Path,
    month: Month,
    rows: &[InvoiceRow],
    deployments: &Deployments,
    charges: &mut Vec<Charge>,
) -> Result<Tieout> {
    let known = resources(deployments);
    let mut invoiced = invoiced(path, month, rows, &known)?;
    let ListCosts {
        mut list,
        without_resource,
    } = list_costs(charges)?;
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<String> = list.keys().chain(invoiced.keys()).cloned().collect();
    for key in keys {
        let list_cost = list.remove(&key).unwrap_or_default();
        let resource_id = known.get(&key).cloned().unwrap_or_else(|| key.clone());
        let Some(bill) = invoiced.remove(&key) else {
            tracing::warn!(resource = %resource_id, invoice = %path.display(), "usage on a resource the invoice does not list");
            out.push(ResourceTieout {
                resource_name: last_segment(&resource_id).to_owned(),
                resource_id,
                currency: String::new(),
                invoiced: None,
                rows: 0,
                list_cost,
                unallocated: false,
            });
            continue;
        };
        if list_cost.len() > 1 {
            return Err(Error::InvoiceCurrencies {
                resource: resource_id,
                currencies: list_cost.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let total = round_cost(bill.total);
        let unallocated = share_invoice(month, &resource_id, &bill, total, charges)?;
        out.push(ResourceTieout {
            resource_id,
            resource_name: bill.name,
            currency: bill.currency,
            invoiced: Some(total),
            rows: bill.rows,
            list_cost,
            unallocated,
        });
    }
    if !without_resource.is_empty() {
        tracing::warn!(invoice = %path.display(), "usage on deployments without a resource in the deployment table: not tied to the invoice");
    }
    sort_charges(charges);
    Ok(Tieout {
        invoice: path.to_owned(),
        resources: out,
        without_resource,
    })
}

/// The month's list-price costs per currency: per invoiced resource (by its id
/// in lower case), and of charges on deployments without a resource.
struct ListCosts {
    list: BTreeMap<String, Costs>,
    without_resource: Costs,
}

fn list_costs(charges: &[Charge]) -> Result<ListCosts> {
    let mut list: BTreeMap<String, Costs> = BTreeMap::new();
    let mut without_resource = Costs::new();
    for c in charges {
        let (Some(cost), Some(currency)) = (c.cost, &c.currency) else {
            continue;
        };
        let costs = match &c.resource {
            Some(r) => list.entry(r.to_ascii_lowercase()).or_default(),
            None => &mut without_resource,
        };
        let sum = costs.entry(currency.clone()).or_default();
        *sum = sum
            .checked_add(cost)
            .ok_or_else(|| overflow("list-price costs"))?;
    }
    Ok(ListCosts {
        list,
        without_resource,
    })
}

/// Shares `total`, the resource's invoiced cost, over its priced charges by
/// list-price cost; with none to share it over, adds an [`UNALLOCATED_APP`]
/// charge instead and says so (`true`).
fn share_invoice(
    month: Month,
    resource_id: &str,
    bill: &Invoiced,
    total: Decimal,
    charges: &mut Vec<Charge>,
) -> Result<bool> {
    let ours: Vec<usize> = (0..charges.len())
        .filter(|&i| {
            let c = &charges[i];
            c.cost.is_some()
                && c.resource
                    .as_ref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(resource_id))
        })
        .collect();
    let weights = ours
        .iter()
        .map(|&i| weight(&charges[i]))
        .collect::<Result<Vec<_>>>()?;
    match shares(total, &weights) {
        Some(split) => {
            for (i, share) in ours.into_iter().zip(split) {
                charges[i].invoice_cost = Some(share);
                charges[i].invoice_currency = Some(bill.currency.clone());
            }
            Ok(false)
        }
        None if weights.iter().any(|&w| w > 0) => Err(overflow("invoice shares")),
        None => {
            charges.push(unallocated_charge(month, resource_id, bill, total));
            Ok(true)
        }
    }
}

fn unallocated_charge(month: Month, resource_id: &str, bill: &Invoiced, total: Decimal) -> Charge {
    Charge {
        app_id: UNALLOCATED_APP.to_owned(),
        app_id_source: "none".to_owned(),
        deployment: bill.name.clone(),
        deployment_type: None,
        region: None,
        model: UNKNOWN_MODEL.to_owned(),
        class: None,
        tokens: 0,
        period: month.period(),
        used: DaysUsed::day(month.first_day()),
        pricing: Pricing::Unallocated {
            resource: resource_id.to_owned(),
        },
        cost: Some(Decimal::new(0, COST_SCALE)),
        currency: Some(bill.currency.clone()),
        resource: Some(resource_id.to_owned()),
        invoice_cost: Some(total),
        invoice_currency: Some(bill.currency.clone()),
    }
}

#[cfg(test)]
mod tests;

//! Totals and the per-app table printed after a report run.
//!
//! Totals are sums over the written lines, never recomputed from usage, so the
//! printed figures are exactly what the files add up to.

use crate::chargeback::ChargebackLine;
use crate::cost_centers::CostCenters;
use crate::invoice::Tieout;
use crate::prices_check::MissingPrice;
use crate::{Error, Result};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tokentally_core::TokenCounts;

/// Cost per currency; currencies are never added together.
pub type Costs = BTreeMap<String, Decimal>;

/// Sums over all lines of a chargeback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub lines: usize,
    pub calls: i64,
    pub failed_calls: i64,
    pub tokens: TokenCounts,
    pub estimated_calls: i64,
    /// Priced lines only.
    pub cost: Costs,
    /// Lines with tokens no price applied to.
    pub unpriced_lines: usize,
    /// Those tokens: counted here, in no cost (see the unpriced file).
    pub unpriced_tokens: i64,
    /// The lines' shares of the invoice, per invoice currency.
    pub invoice_cost: Costs,
}

/// One app's share of the month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSummary {
    /// From the cost-center map; `unassigned` for apps it does not list.
    pub cost_center: String,
    /// From the cost-center map; empty for apps it does not list.
    pub app_name: String,
    pub app_id: String,
    pub calls: i64,
    pub total_tokens: i64,
    pub cost: Costs,
    pub unpriced_lines: usize,
    pub unpriced_tokens: i64,
}

/// `sum + add`, or the overflow error naming `line` and `what`.
fn checked(sum: i64, add: i64, line: &ChargebackLine, what: &'static str) -> Result<i64> {
    sum.checked_add(add).ok_or_else(|| Error::Overflow {
        line: format!("the totals, adding chargeback line {}", line.label()),
        what,
    })
}

fn add_cost(costs: &mut Costs, line: &ChargebackLine) -> Result<()> {
    if let (Some(cost), Some(currency)) = (line.cost, &line.currency) {
        let sum = costs.entry(currency.clone()).or_default();
        *sum = sum.checked_add(cost).ok_or_else(|| Error::Overflow {
            line: format!("the totals, adding chargeback line {}", line.label()),
            what: "costs",
        })?;
    }
    Ok(())
}

impl Totals {
    /// # Errors
    /// A sum that overflows, naming the line that made it overflow.
    pub fn from_lines(lines: &[ChargebackLine]) -> Result<Self> {
        let mut t = Self {
            lines: lines.len(),
            ..Self::default()
        };
        for l in lines {
            t.calls = checked(t.calls, l.calls, l, "calls")?;
            t.failed_calls = checked(t.failed_calls, l.failed_calls, l, "calls")?;
            t.estimated_calls = checked(t.estimated_calls, l.estimated_calls, l, "calls")?;
            t.tokens = t.tokens.checked_add(&l.tokens).ok_or_else(|| Error::Overflow {
                line: format!("the totals, adding chargeback line {}", l.label()),
                what: "token counts",
            })?;
            t.unpriced_lines += usize::from(!l.priced);
            t.unpriced_tokens = checked(t.unpriced_tokens, l.unpriced_tokens, l, "unpriced tokens")?;
            add_cost(&mut t.cost, l)?;
            if let (Some(share), Some(currency)) = (l.invoice_cost, &l.invoice_currency) {
                let sum = t.invoice_cost.entry(currency.clone()).or_default();
                *sum = sum.checked_add(share).ok_or_else(|| Error::Overflow {
                    line: format!("the totals, adding chargeback line {}", l.label()),
                    what: "invoice shares",
                })?;
            }
        }
        Ok(t)
    }
}

/// Per-app sums, grouped by cost center then app id, so each cost center's apps
/// sit together for the finance sign-off.
///
/// # Errors
/// A sum that overflows, naming the line that made it overflow.
pub fn app_summaries(lines: &[ChargebackLine], owners: &CostCenters) -> Result<Vec<AppSummary>> {
    let mut apps: BTreeMap<(&str, &str), AppSummary> = BTreeMap::new();
    for l in lines {
        let cost_center = owners.cost_center(&l.app_id);
        let app = apps
            .entry((cost_center, &l.app_id))
            .or_insert_with(|| AppSummary {
                cost_center: cost_center.to_owned(),
                app_name: owners
                    .get(&l.app_id)
                    .map(|c| c.app_name.clone())
                    .unwrap_or_default(),
                app_id: l.app_id.clone(),
                ..AppSummary::default()
            });
        app.calls = checked(app.calls, l.calls, l, "calls")?;
        app.total_tokens = checked(app.total_tokens, l.tokens.total, l, "total tokens")?;
        app.unpriced_lines += usize::from(!l.priced);
        app.unpriced_tokens = checked(app.unpriced_tokens, l.unpriced_tokens, l, "unpriced tokens")?;
        add_cost(&mut app.cost, l)?;
    }
    Ok(apps.into_values().collect())
}

fn format_costs(costs: &Costs) -> String {
    if costs.is_empty() {
        return "-".to_owned();
    }
    costs
        .iter()
        .map(|(currency, cost)| format!("{cost} {currency}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// How a column's cells line up: text left, numbers right, so digits line up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// The terminal table's columns, in order.
const HEADER: [(&str, Align); 7] = [
    ("cost_center", Align::Left),
    ("app_name", Align::Left),
    ("app_id", Align::Left),
    ("calls", Align::Right),
    ("total_tokens", Align::Right),
    ("cost", Align::Left),
    ("unpriced_tokens", Align::Right),
];

/// One line of the terminal table: an app, or the total.
struct Row<'a> {
    cost_center: &'a str,
    app_name: &'a str,
    app_id: &'a str,
    calls: i64,
    total_tokens: i64,
    cost: &'a Costs,
    unpriced_tokens: i64,
}

impl Row<'_> {
    /// The cells, in [`HEADER`] order.
    fn cells(&self) -> [String; HEADER.len()] {
        [
            self.cost_center.to_owned(),
            self.app_name.to_owned(),
            self.app_id.to_owned(),
            self.calls.to_string(),
            self.total_tokens.to_string(),
            format_costs(self.cost),
            self.unpriced_tokens.to_string(),
        ]
    }
}

/// The most characters of a cell the terminal table shows: an app id or name is
/// whatever the caller's token or the cost-center table says, and one of
/// thousands of characters would make the table unreadable (the files hold it whole).
const CELL_CHARS: usize = 64;

/// `cell`, cut to [`CELL_CHARS`] with `…` when longer.
fn shortened(cell: &str) -> String {
    if cell.chars().count() <= CELL_CHARS {
        return cell.to_owned();
    }
    let mut cut: String = cell.chars().take(CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The header, then `rows` between rules, the last one (the total) after a
/// rule of its own; each column as wide as its widest cell.
fn aligned_table(rows: &[Row<'_>]) -> String {
    let mut table: Vec<[String; HEADER.len()]> = vec![HEADER.map(|(name, _)| name.to_owned())];
    table.extend(rows.iter().map(|r| r.cells().map(|c| shortened(&c))));
    let mut widths = [0; HEADER.len()];
    for r in &table {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule: String = widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    let mut out = String::new();
    for (i, r) in table.iter().enumerate() {
        if i == 1 || i == table.len() - 1 {
            let _ = writeln!(out, "{rule}");
        }
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .zip(HEADER)
            .map(|((cell, w), (_, align))| {
                let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
                match align {
                    Align::Left => format!("{cell}{pad}"),
                    Align::Right => format!("{pad}{cell}"),
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// Renders apps and a total row as an aligned text table for the terminal, then
/// the unpriced tokens and the catalog models without price rows, if any.
pub fn render(
    apps: &[AppSummary],
    totals: &Totals,
    missing: &[MissingPrice],
    tieout: Option<&Tieout>,
) -> String {
    let mut rows: Vec<Row<'_>> = apps
        .iter()
        .map(|a| Row {
            cost_center: &a.cost_center,
            app_name: &a.app_name,
            app_id: &a.app_id,
            calls: a.calls,
            total_tokens: a.total_tokens,
            cost: &a.cost,
            unpriced_tokens: a.unpriced_tokens,
        })
        .collect();
    rows.push(Row {
        cost_center: "TOTAL",
        app_name: "",
        app_id: "",
        calls: totals.calls,
        total_tokens: totals.tokens.total,
        cost: &totals.cost,
        unpriced_tokens: totals.unpriced_tokens,
    });
    let mut out = aligned_table(&rows);
    if totals.unpriced_lines > 0 {
        let _ = writeln!(
            out,
            "{} token(s) on {} line(s) unpriced: they have no cost in the totals and are listed in the \
             unpriced file; add prices or deployments and re-run.",
            totals.unpriced_tokens, totals.unpriced_lines
        );
    }
    if let Some(t) = tieout {
        render_tieout(&mut out, t, totals);
    }
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "catalog models without a price row (add them to the price table; `tokentally prices check` lists them too):"
        );
        for m in missing {
            let _ = writeln!(out, "  {m}");
        }
    }
    out
}

/// Per invoiced resource: what Azure billed, what tokentally's prices explain,
/// and what could not be tied.
fn render_tieout(out: &mut String, t: &Tieout, totals: &Totals) {
    let _ = writeln!(
        out,
        "invoice {}: {} allocated to the lines (invoice_cost)",
        t.invoice.display(),
        format_costs(&totals.invoice_cost)
    );
    for r in &t.resources {
        let list = format_costs(&r.list_cost);
        match r.invoiced {
            None => {
                let _ = writeln!(
                    out,
                    "  {}: not in the invoice; {list} of usage on it has no invoice_cost",
                    r.resource_name
                );
            }
            Some(invoiced) => {
                let coverage = r
                    .coverage()
                    .map(|c| format!(", prices explain {}%", (c * Decimal::ONE_HUNDRED).round_dp(1)))
                    .unwrap_or_default();
                let unallocated = if r.unallocated {
                    " (no priced usage: billed to (unallocated))"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {}: invoiced {invoiced} {}, list price {list}{coverage}{unallocated}",
                    r.resource_name, r.currency
                );
            }
        }
    }
    if !t.without_resource.is_empty() {
        let _ = writeln!(
            out,
            "  {} of usage on deployments with no resource in the deployment table is not tied to the invoice",
            format_costs(&t.without_resource)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_of_any_length_is_shown_cut_never_a_panic() {
        // A formatting width past u16::MAX panics; an app id is what the caller's
        // token says, so it can be that long.
        let long = "a".repeat(70_000);
        let app = AppSummary {
            cost_center: "unassigned".into(),
            app_name: String::new(),
            app_id: long.clone(),
            calls: 1,
            total_tokens: 10,
            cost: Costs::default(),
            unpriced_lines: 0,
            unpriced_tokens: 0,
        };
        let totals = Totals {
            calls: 1,
            ..Totals::default()
        };
        let text = render(&[app], &totals, &[], None);
        let row = text.lines().find(|l| l.contains("aaa")).expect("the app's row");
        let shown = format!("{}…", "a".repeat(CELL_CHARS - 1));
        assert!(row.contains(&shown) && !row.contains(&long), "{row}");
        assert_eq!(shortened("short"), "short");
    }
}

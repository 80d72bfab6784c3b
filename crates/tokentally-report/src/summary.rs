//! Totals and the per-app table printed after a report run.
//!
//! Totals are sums over the written lines, never recomputed from usage, so the
//! printed figures are exactly what the files add up to.

use crate::chargeback::ChargebackLine;
use crate::cost_centers::CostCenters;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Cost per currency; currencies are never added together.
pub type Costs = BTreeMap<String, Decimal>;

/// Sums over all lines of a chargeback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub lines: usize,
    pub calls: i64,
    pub failed_calls: i64,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub total_tokens: i64,
    pub estimated_calls: i64,
    /// Priced lines only.
    pub cost: Costs,
    /// Lines with tokens no price applied to.
    pub unpriced_lines: usize,
    /// Those tokens: counted here, in no cost (see the unpriced file).
    pub unpriced_tokens: i64,
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

fn add_cost(costs: &mut Costs, line: &ChargebackLine) {
    if let (Some(cost), Some(currency)) = (line.cost, &line.currency) {
        *costs.entry(currency.clone()).or_default() += cost;
    }
}

impl Totals {
    pub fn from_lines(lines: &[ChargebackLine]) -> Self {
        let mut t = Self {
            lines: lines.len(),
            ..Self::default()
        };
        for l in lines {
            t.calls += l.calls;
            t.failed_calls += l.failed_calls;
            t.prompt_tokens += l.prompt_tokens;
            t.cached_prompt_tokens += l.cached_prompt_tokens;
            t.completion_tokens += l.completion_tokens;
            t.reasoning_tokens += l.reasoning_tokens;
            t.total_tokens += l.total_tokens;
            t.estimated_calls += l.estimated_calls;
            t.unpriced_lines += usize::from(!l.priced);
            t.unpriced_tokens += l.unpriced_tokens;
            add_cost(&mut t.cost, l);
        }
        t
    }
}

/// Per-app sums, grouped by cost center then app id, so each cost center's apps
/// sit together for the finance sign-off.
pub fn app_summaries(lines: &[ChargebackLine], owners: &CostCenters) -> Vec<AppSummary> {
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
        app.calls += l.calls;
        app.total_tokens += l.total_tokens;
        app.unpriced_lines += usize::from(!l.priced);
        app.unpriced_tokens += l.unpriced_tokens;
        add_cost(&mut app.cost, l);
    }
    apps.into_values().collect()
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

/// Renders apps and a total row as an aligned text table for the terminal.
pub fn render(apps: &[AppSummary], totals: &Totals) -> String {
    const COLUMNS: usize = 7;
    let header = [
        "cost_center",
        "app_name",
        "app_id",
        "calls",
        "total_tokens",
        "cost",
        "unpriced_tokens",
    ];
    let row = |names: [&str; 3], calls: i64, tokens: i64, cost: &Costs, unpriced: i64| {
        [
            names[0].to_owned(),
            names[1].to_owned(),
            names[2].to_owned(),
            calls.to_string(),
            tokens.to_string(),
            format_costs(cost),
            unpriced.to_string(),
        ]
    };
    let mut rows: Vec<[String; COLUMNS]> = vec![header.map(str::to_owned)];
    rows.extend(apps.iter().map(|a| {
        row(
            [&a.cost_center, &a.app_name, &a.app_id],
            a.calls,
            a.total_tokens,
            &a.cost,
            a.unpriced_tokens,
        )
    }));
    rows.push(row(
        ["TOTAL", "", ""],
        totals.calls,
        totals.total_tokens,
        &totals.cost,
        totals.unpriced_tokens,
    ));
    let mut widths = [0; COLUMNS];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let rule: String = widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    for (i, r) in rows.iter().enumerate() {
        if i == 1 || i == rows.len() - 1 {
            let _ = writeln!(out, "{rule}");
        }
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(col, (cell, w))| match col {
                // Text columns left, numbers right, so digits line up.
                0 | 1 | 2 | 5 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    if totals.unpriced_lines > 0 {
        let _ = writeln!(
            out,
            "{} token(s) on {} line(s) unpriced: they have no cost in the totals and are listed in the \
             unpriced file; add prices or deployments and re-run.",
            totals.unpriced_tokens, totals.unpriced_lines
        );
    }
    out
}

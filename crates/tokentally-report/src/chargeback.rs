//! Pricing the month's usage into chargeback lines (one per app × deployment ×
//! model), the format documented in docs/formats.md "Chargeback".
//!
//! Money is `rust_decimal` end to end: a per-token price times a token count is
//! exact, and each cost is rounded once, so lines add up to the invoice total.

use crate::dataset::DayUsage;
use crate::prices::{Price, PriceTable, TokenClass};
use crate::{Error, Month, Result};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};

/// Decimal places of every cost in the outputs.
pub const COST_SCALE: u32 = 6;

/// Shown for calls that named no deployment / no model.
pub const NO_DEPLOYMENT: &str = "(none)";
pub const UNKNOWN_MODEL: &str = "(unknown)";

/// One row of the chargeback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargebackLine {
    pub month: Month,
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: String,
    pub model: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub total_tokens: i64,
    pub estimated_calls: i64,
    /// `None` exactly when the line is unpriced; then all four costs are `None`.
    pub input_cost: Option<Decimal>,
    pub cached_input_cost: Option<Decimal>,
    pub output_cost: Option<Decimal>,
    /// The sum of the three rounded parts.
    pub cost: Option<Decimal>,
    /// `None` when unpriced, or when nothing was billed and no price row names it.
    pub currency: Option<String>,
    /// `false` when some token class with tokens has no price in effect.
    pub priced: bool,
}

impl ChargebackLine {
    /// `app/deployment/model`, to name the line in errors and logs.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.app_id, self.deployment, self.model)
    }
}

/// Running sums for one line while its days are priced.
struct Acc<'a> {
    line: ChargebackLine,
    exact: [Decimal; 3],
    /// Prices applied to tokens; these decide the line's currency.
    billed: Vec<&'a Price>,
    /// Prices in effect for classes without tokens: only a fallback currency.
    unbilled: Vec<&'a Price>,
    missing: BTreeSet<(TokenClass, String)>,
}

/// Groups per-day usage into lines and prices them.
///
/// # Errors
/// When the prices applied to one line disagree on currency, or a sum overflows.
pub(crate) fn build_lines(
    month: Month,
    days: &[DayUsage],
    prices: &PriceTable,
) -> Result<Vec<ChargebackLine>> {
    let mut lines: BTreeMap<(String, String, String, String), Acc<'_>> = BTreeMap::new();
    for d in days {
        let deployment = d.deployment.clone().unwrap_or_else(|| NO_DEPLOYMENT.to_owned());
        let model = d.model.clone().unwrap_or_else(|| UNKNOWN_MODEL.to_owned());
        let key = (
            d.app_id.clone(),
            deployment.clone(),
            model.clone(),
            d.app_id_source.clone(),
        );
        let acc = lines.entry(key).or_insert_with(|| Acc {
            line: ChargebackLine {
                month,
                app_id: d.app_id.clone(),
                app_id_source: d.app_id_source.clone(),
                deployment,
                model,
                calls: 0,
                failed_calls: 0,
                prompt_tokens: 0,
                cached_prompt_tokens: 0,
                completion_tokens: 0,
                reasoning_tokens: 0,
                total_tokens: 0,
                estimated_calls: 0,
                input_cost: None,
                cached_input_cost: None,
                output_cost: None,
                cost: None,
                currency: None,
                priced: false,
            },
            exact: [Decimal::ZERO; 3],
            billed: Vec::new(),
            unbilled: Vec::new(),
            missing: BTreeSet::new(),
        });
        add_day(acc, d, prices)?;
    }
    lines.into_values().map(finish).collect()
}

fn add_day<'a>(acc: &mut Acc<'a>, d: &DayUsage, prices: &'a PriceTable) -> Result<()> {
    let label = acc.line.label();
    let overflow = |what| Error::Overflow {
        line: label.clone(),
        what,
    };
    let l = &mut acc.line;
    for (sum, add) in [
        (&mut l.calls, d.calls),
        (&mut l.failed_calls, d.failed_calls),
        (&mut l.prompt_tokens, d.prompt_tokens),
        (&mut l.cached_prompt_tokens, d.cached_prompt_tokens),
        (&mut l.completion_tokens, d.completion_tokens),
        (&mut l.reasoning_tokens, d.reasoning_tokens),
        (&mut l.total_tokens, d.total_tokens),
        (&mut l.estimated_calls, d.estimated_calls),
    ] {
        *sum = sum.checked_add(add).ok_or_else(|| overflow("a count"))?;
    }
    let uncached = d
        .prompt_tokens
        .checked_sub(d.cached_prompt_tokens)
        .ok_or_else(|| overflow("input tokens"))?;
    let tokens = [uncached, d.cached_prompt_tokens, d.completion_tokens];
    for ((class, tokens), exact) in TokenClass::ALL.into_iter().zip(tokens).zip(&mut acc.exact) {
        let price = prices.lookup(d.model.as_deref(), d.deployment.as_deref(), class, d.day);
        match (tokens, price) {
            (0, Some(p)) => acc.unbilled.push(p),
            (0, None) => {}
            (_, None) => {
                acc.missing.insert((class, d.day.to_string()));
            }
            (_, Some(p)) => {
                let cost = exact_cost(tokens, p.price).ok_or_else(|| overflow("a cost"))?;
                *exact = exact.checked_add(cost).ok_or_else(|| overflow("a cost"))?;
                acc.billed.push(p);
            }
        }
    }
    Ok(())
}

/// `tokens × price / 1M`, exactly: the division only moves the decimal point.
pub(crate) fn exact_cost(tokens: i64, price_per_million: Decimal) -> Option<Decimal> {
    let mut cost = Decimal::from(tokens).checked_mul(price_per_million)?;
    cost.set_scale(cost.scale() + 6).ok()?;
    Some(cost)
}

/// Rounds once, half to even (banker's rounding: no drift up over many lines), and
/// pins the scale so every cost prints with exactly six decimals.
pub(crate) fn round_cost(exact: Decimal) -> Decimal {
    let mut rounded = exact.round_dp_with_strategy(COST_SCALE, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(COST_SCALE);
    rounded
}

fn finish(acc: Acc<'_>) -> Result<ChargebackLine> {
    let mut line = acc.line;
    if !acc.missing.is_empty() {
        let missing: Vec<String> = acc
            .missing
            .iter()
            .map(|(c, day)| format!("{c} on {day}"))
            .collect();
        tracing::warn!(line = %line.label(), missing = %missing.join(", "), "no price: line left unpriced");
        return Ok(line);
    }
    let currencies = |prices: &[&Price]| prices.iter().map(|p| p.currency.clone()).collect::<BTreeSet<_>>();
    let billed = currencies(&acc.billed);
    if billed.len() > 1 {
        let rows: BTreeSet<String> = acc
            .billed
            .iter()
            .map(|p| format!("line {} {} {} {}", p.line, p.model, p.class, p.currency))
            .collect();
        return Err(Error::CurrencyConflict {
            line: line.label(),
            rows: rows.into_iter().collect::<Vec<_>>().join("; "),
        });
    }
    let unbilled = currencies(&acc.unbilled);
    line.currency = billed.into_iter().next().or_else(|| {
        (unbilled.len() == 1)
            .then(|| unbilled.into_iter().next())
            .flatten()
    });
    let [input, cached, output] = acc.exact.map(round_cost);
    line.input_cost = Some(input);
    line.cached_input_cost = Some(cached);
    line.output_cost = Some(output);
    line.cost = Some(input + cached + output);
    line.priced = true;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn dec(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn prices(rows: &str) -> PriceTable {
        let text =
            format!("model,token_class,unit,price,currency,effective_from,effective_to,source\n{rows}");
        PriceTable::parse(Path::new("prices.csv"), &text).expect("valid prices")
    }

    fn usage(model: Option<&str>, day: &str, prompt: i64, cached: i64, completion: i64) -> DayUsage {
        DayUsage {
            app_id: "app".into(),
            app_id_source: "claim".into(),
            deployment: Some("dep".into()),
            model: model.map(Into::into),
            day: day.parse().expect("day"),
            calls: 1,
            failed_calls: 0,
            prompt_tokens: prompt,
            cached_prompt_tokens: cached,
            completion_tokens: completion,
            reasoning_tokens: 0,
            total_tokens: prompt + completion,
            estimated_calls: 0,
        }
    }

    fn month() -> Month {
        "2026-10".parse().expect("month")
    }

    #[test]
    fn exact_cost_and_half_even_rounding() {
        let cases = [
            (1, "2.50", "0.000002"),  // 0.0000025 → even below
            (3, "2.50", "0.000008"),  // 0.0000075 → even above
            (5, "2.50", "0.000012"),  // 0.0000125 → even below
            (1, "0.075", "0.000000"), // 0.000000075
            (7, "0.15", "0.000001"),  // 0.00000105
            (1_000_000, "10", "10.000000"),
            (123_456_789, "1.10", "135.802468"), // 135.8024679 exactly
            (0, "2.50", "0.000000"),
        ];
        for (tokens, price, want) in cases {
            let exact = exact_cost(tokens, dec(price)).expect("fits");
            assert_eq!(round_cost(exact).to_string(), want, "{tokens} × {price}");
        }
        assert_eq!(exact_cost(1, dec("2.50")).expect("fits"), dec("0.0000025"));
        assert_eq!(
            exact_cost(1, dec("0.0000000001")).expect("fits"),
            dec("0.0000000000000001")
        );
    }

    #[test]
    fn rounds_once_per_line_not_per_day() {
        let table = prices("gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n");
        let days = [
            usage(Some("gpt-4o"), "2026-10-01", 1, 0, 0),
            usage(Some("gpt-4o"), "2026-10-02", 1, 0, 0),
        ];
        let lines = build_lines(month(), &days, &table).expect("lines");
        let [line] = lines.as_slice() else {
            panic!("one line: {lines:?}")
        };
        // Per-day rounding would give 0.000002 + 0.000002.
        assert_eq!(line.input_cost, Some(dec("0.000005")));
        assert_eq!(line.calls, 2);
    }

    #[test]
    fn classes_are_priced_separately_and_cost_is_the_sum_of_rounded_parts() {
        let table = prices(concat!(
            "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n",
            "gpt-4o,cached_input,1M tokens,1.25,USD,2026-01-01,,x\n",
            "gpt-4o,output,1M tokens,10,USD,2026-01-01,,x\n",
        ));
        // input 7 × 2.5 = 0.0000175 → 0.000018; cached 3 × 1.25 = 0.00000375 → 0.000004;
        // output 1 × 10 = 0.00001.
        let lines = build_lines(
            month(),
            &[usage(Some("gpt-4o-2024-08-06"), "2026-10-05", 10, 3, 1)],
            &table,
        )
        .expect("lines");
        let line = &lines[0];
        assert_eq!(line.input_cost, Some(dec("0.000018")));
        assert_eq!(line.cached_input_cost, Some(dec("0.000004")));
        assert_eq!(line.output_cost, Some(dec("0.000010")));
        assert_eq!(line.cost.map(|c| c.to_string()), Some("0.000032".to_owned()));
        assert_eq!(line.currency.as_deref(), Some("USD"));
        assert!(line.priced);
    }

    #[test]
    fn missing_price_for_billed_tokens_leaves_the_line_unpriced() {
        let table = prices("gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n");
        let lines = build_lines(
            month(),
            &[
                usage(Some("gpt-4o"), "2026-10-01", 10, 0, 5),  // no output price
                usage(Some("llama-3"), "2026-10-01", 10, 0, 0), // no price at all
                usage(Some("gpt-4o"), "2025-10-01", 10, 0, 0),  // before effective_from
            ],
            &table,
        )
        .expect("lines");
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(!line.priced, "{line:?}");
            assert_eq!(
                (line.input_cost, line.cost, line.currency.as_deref()),
                (None, None, None)
            );
        }
    }

    #[test]
    fn classes_without_tokens_need_no_price() {
        let table = prices("text-embedding-3-small,input,1M tokens,0.02,USD,2026-01-01,,x\n");
        let mut failed = usage(None, "2026-10-01", 0, 0, 0);
        failed.deployment = None;
        let lines = build_lines(
            month(),
            &[
                usage(Some("text-embedding-3-small"), "2026-10-01", 50, 0, 0),
                failed,
            ],
            &table,
        )
        .expect("lines");
        assert_eq!(
            (lines[0].deployment.as_str(), lines[0].model.as_str()),
            ("(none)", "(unknown)")
        );
        assert!(lines[0].priced);
        assert_eq!(lines[0].cost, Some(dec("0.000000")));
        assert_eq!(lines[0].currency, None);
        assert_eq!(lines[1].cost, Some(dec("0.000001")));
        assert_eq!(lines[1].currency.as_deref(), Some("USD"));
    }

    #[test]
    fn mixed_currencies_on_one_line_are_an_error() {
        let table = prices(concat!(
            "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,x\n",
            "gpt-4o,output,1M tokens,9,EUR,2026-01-01,,x\n",
        ));
        let err = build_lines(month(), &[usage(Some("gpt-4o"), "2026-10-01", 1, 0, 1)], &table)
            .expect_err("currency conflict")
            .to_string();
        assert!(
            err.contains("app/dep/gpt-4o") && err.contains("line 2") && err.contains("line 3"),
            "{err}"
        );
    }
}

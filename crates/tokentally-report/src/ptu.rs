//! Provisioned (PTU) deployments: a fixed monthly cost, shared by the apps that
//! used the capacity in proportion to their tokens.
//!
//! Weighting: every token counts once, input (cached or not) and output alike, so
//! an app's share is its `prompt_tokens + completion_tokens` on the deployment.
//! That is what a PTU deployment's utilisation mostly follows, it is what apps
//! can see in their own usage, and it needs no per-model factor to be maintained.
//!
//! Exactness: the month's cost (prorated by days when the reservation starts or
//! ends within the month) is rounded once to micro-units; the shares are then
//! split by largest remainder, so they add up to that cost exactly, never a
//! micro-unit more or less.

use crate::chargeback::{COST_SCALE, round_cost};
use crate::deployments::Deployment;
use crate::{Error, Month, Result};
use rust_decimal::Decimal;

/// The app that carries a provisioned deployment's cost in a month nobody used it.
pub const IDLE_CAPACITY_APP: &str = "(idle capacity)";

/// The cost `row` owes for `month`: its monthly cost times the share of the
/// month's days it was in effect, rounded half-even to micro-units.
///
/// # Errors
/// When the amount overflows (a monthly cost beyond any real reservation).
pub(crate) fn month_cost(row: &Deployment, month: Month) -> Result<Decimal> {
    let overflow = || Error::Overflow {
        line: format!("deployment {} (line {})", row.name, row.line),
        what: "the monthly cost",
    };
    let amount = row.monthly_cost.as_ref().map_or(Decimal::ZERO, |c| c.amount);
    let month_days = month.days();
    let days = row.days_in(month);
    if days == month_days {
        return Ok(round_cost(amount));
    }
    let prorated = amount
        .checked_mul(Decimal::from(days))
        .and_then(|x| x.checked_div(Decimal::from(month_days)))
        .ok_or_else(overflow)?;
    Ok(round_cost(prorated))
}

/// Splits `total` (micro-units) over `weights` in proportion: each share is
/// floored to a micro-unit, and the micro-units left over go one each to the
/// largest remainders (ties to the earlier weight, so the split is deterministic).
/// `None` when the weights sum to zero (nothing to share by) or the product
/// overflows.
pub(crate) fn allocate(total: Decimal, weights: &[i64]) -> Option<Vec<Decimal>> {
    let mut total = round_cost(total);
    total.rescale(COST_SCALE);
    let micros = total.mantissa();
    let sum: i128 = weights.iter().map(|&w| i128::from(w.max(0))).sum();
    if sum == 0 {
        return None;
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let product = micros.checked_mul(i128::from(w.max(0)))?;
        shares.push(product / sum);
        remainders.push((product % sum, i));
    }
    let left = micros - shares.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(usize::try_from(left).ok()?) {
        shares[i] += 1;
    }
    Some(
        shares
            .into_iter()
            .map(|m| Decimal::from_i128_with_scale(m, COST_SCALE))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn dec(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn shares(total: &str, weights: &[i64]) -> Vec<String> {
        allocate(dec(total), weights)
            .expect("weights")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn shares_add_up_exactly_by_largest_remainder() {
        // 1/3 each: 0.333333 + 1 micro-unit to the first (equal remainders).
        assert_eq!(shares("1", &[1, 1, 1]), ["0.333334", "0.333333", "0.333333"]);
        // 100 × 2/7 = 28.5714285…, × 5/7 = 71.4285714…: remainders .5714 vs .4285.
        assert_eq!(shares("100", &[2, 5]), ["28.571429", "71.428571"]);
        assert_eq!(shares("3900.00", &[0, 10]), ["0.000000", "3900.000000"]);
        assert_eq!(allocate(dec("5"), &[0, 0]), None);
        assert_eq!(allocate(dec("5"), &[]), None);
    }

    #[test]
    fn shares_always_sum_to_the_total() {
        let mut state: u64 = 7;
        for _ in 0..500 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let n = 1 + (state >> 60) as usize;
            let weights: Vec<i64> = (0..n)
                .map(|i| (state.rotate_right(i as u32 * 5) % 1_000_003) as i64)
                .collect();
            let total = Decimal::new((state % 10_000_000_000) as i64, 4);
            let Some(parts) = allocate(total, &weights) else {
                assert!(weights.iter().all(|&w| w == 0));
                continue;
            };
            assert_eq!(parts.iter().sum::<Decimal>(), round_cost(total), "{weights:?}");
            assert!(
                parts
                    .iter()
                    .all(|p| p.scale() == COST_SCALE && !p.is_sign_negative())
            );
        }
    }

    #[test]
    fn month_cost_is_prorated_by_days_in_effect() {
        let text = "deployment,deployment_type,region,monthly_cost,currency,effective_from,effective_to,source\n\
                    a,provisioned,,3900.00,USD,2026-10-15,,x\n\
                    b,provisioned,,3100,USD,2026-01-01,,x\n";
        let table = crate::Deployments::parse(Path::new("d.csv"), text).expect("valid");
        let oct: Month = "2026-10".parse().expect("month");
        let cost = |i: usize| month_cost(&table.rows()[i], oct).expect("cost").to_string();
        // 3900 × 17/31 = 2138.7096774…
        assert_eq!(cost(0), "2138.709677");
        assert_eq!(cost(1), "3100.000000");
    }
}

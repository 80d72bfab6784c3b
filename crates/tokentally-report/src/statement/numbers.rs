//! Numbers as people read them: thousands separators, money to the cent with its
//! currency, percentages to a tenth. The files beside the statement keep the
//! exact values; these strings are for reading only.

use crate::summary::Costs;
use rust_decimal::{Decimal, RoundingStrategy};

/// `1234567` → `1,234,567`.
pub(crate) fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group(&digits))
}

/// Commas every three digits from the right of a run of ASCII digits.
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An amount rounded half-even to the cent, grouped: `1,234.57`.
pub(crate) fn amount(value: Decimal) -> String {
    let mut cents = value.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    cents.rescale(2);
    let text = cents.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if cents.is_sign_negative() && !cents.is_zero() {
        "-"
    } else {
        ""
    };
    format!("{sign}{}.{fraction}", group(whole))
}

/// `1,234.57 USD`.
pub(crate) fn money(value: Decimal, currency: &str) -> String {
    format!("{} {currency}", amount(value))
}

/// Every currency of `costs`, `; `-separated; `-` for none.
pub(crate) fn costs(costs: &Costs) -> String {
    if costs.is_empty() {
        return "-".to_owned();
    }
    costs
        .iter()
        .map(|(currency, value)| money(*value, currency))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `part / whole` as a percentage to a tenth (`12.5 %`); `None` when `whole` is zero.
pub(crate) fn percent(part: Decimal, whole: Decimal) -> Option<String> {
    if whole.is_zero() {
        return None;
    }
    let mut pct = part
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(whole)?
        .round_dp_with_strategy(1, RoundingStrategy::MidpointNearestEven);
    pct.rescale(1);
    let text = pct.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "0"));
    let sign = if pct.is_sign_negative() && !pct.is_zero() {
        "-"
    } else {
        ""
    };
    Some(format!("{sign}{}.{fraction} %", group(whole)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        let cases = [(0, "0"), (999, "999"), (1000, "1,000"), (1_234_567, "1,234,567")];
        for (n, want) in cases {
            assert_eq!(count(n), want);
        }
        assert_eq!(count(-1_000_000), "-1,000,000");
        assert_eq!(count(i64::MIN), "-9,223,372,036,854,775,808");
    }

    #[test]
    fn money_is_rounded_half_even_to_the_cent() {
        assert_eq!(money(dec("1234.565000"), "USD"), "1,234.56 USD");
        assert_eq!(money(dec("1234.575000"), "USD"), "1,234.58 USD");
        assert_eq!(money(dec("0.004999"), "EUR"), "0.00 EUR");
        assert_eq!(money(dec("-0.001"), "EUR"), "0.00 EUR");
        assert_eq!(money(dec("-1500"), "EUR"), "-1,500.00 EUR");
        assert_eq!(money(dec("999999.995"), "USD"), "1,000,000.00 USD");
    }

    #[test]
    fn percentages_need_a_whole() {
        assert_eq!(percent(dec("1"), dec("8")).as_deref(), Some("12.5 %"));
        assert_eq!(percent(dec("-3"), dec("4")).as_deref(), Some("-75.0 %"));
        assert_eq!(percent(dec("1"), Decimal::ZERO), None);
        assert_eq!(
            percent(dec("81917.944"), dec("1")).as_deref(),
            Some("8,191,794.4 %")
        );
    }
}

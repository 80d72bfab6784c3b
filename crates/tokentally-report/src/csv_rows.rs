//! Reading the small CSV tables finance maintains (prices, deployments, cost
//! centers): every error names the file's line, so a typo in a 200-line table is
//! found at once. The field checks they share live here too, so a date or a
//! currency is read the same way in every table.

use crate::Error;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

/// Deserializes every non-blank row of `text` into `T`, with its 1-based line.
/// `err` builds the table's own error from a line number and a message.
pub(crate) fn read_rows<T: DeserializeOwned>(
    text: &str,
    err: &impl Fn(u64, String) -> Error,
) -> Result<Vec<(u64, T)>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(e.position().map_or(0, csv::Position::line), e.to_string()))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let row = record
            .deserialize(Some(&headers))
            .map_err(|e| err(line, e.to_string()))?;
        rows.push((line, row));
    }
    Ok(rows)
}

/// A `YYYY-MM-DD` date; `name` is the column, for the message.
pub(crate) fn date(name: &str, s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{name} {s:?} is not a YYYY-MM-DD date: {e}"))
}

/// An optional exclusive end date that must come after `from`.
pub(crate) fn end_date(s: &str, from: NaiveDate) -> Result<Option<NaiveDate>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let to = date("effective_to", s)?;
    if to <= from {
        return Err(format!(
            "effective_to {s} is not after effective_from {from} (effective_to is exclusive)"
        ));
    }
    Ok(Some(to))
}

/// An ISO 4217 code such as `USD`.
pub(crate) fn currency(s: &str) -> Result<String, String> {
    if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("currency {s:?} is not an ISO 4217 code like USD"));
    }
    Ok(s.to_owned())
}

/// A non-negative decimal with at most `max_scale` places, read exactly (never
/// through f64); `name` is the column.
pub(crate) fn amount(name: &str, s: &str, max_scale: u32) -> Result<Decimal, String> {
    let value =
        Decimal::from_str_exact(s).map_err(|e| format!("{name} {s:?} is not a decimal number: {e}"))?;
    if value.is_sign_negative() {
        return Err(format!("{name} {s:?} is negative"));
    }
    if value.scale() > max_scale {
        return Err(format!("{name} {s:?} has more than {max_scale} decimal places"));
    }
    Ok(value)
}

/// Half-open day ranges `[from, to)` (`None` = open end) that share a day.
pub(crate) fn ranges_overlap(a: (NaiveDate, Option<NaiveDate>), b: (NaiveDate, Option<NaiveDate>)) -> bool {
    let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    first.1.is_none_or(|to| to > second.0)
}

/// `from..to` as printed in errors (`open` for no end).
pub(crate) fn range_text(from: NaiveDate, to: Option<NaiveDate>) -> String {
    let to = to.map_or_else(|| "open".to_owned(), |d| d.to_string());
    if from == NaiveDate::MIN {
        return format!("start..{to}");
    }
    format!("{from}..{to}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn amounts_are_exact_and_bounded() {
        assert_eq!(amount("price", "0.075", 10), Ok(Decimal::new(75, 3)));
        assert!(amount("price", "-1", 10).is_err_and(|e| e.contains("negative")));
        assert!(amount("price", "1.123", 2).is_err_and(|e| e.contains("2 decimal places")));
        assert!(amount("price", "1e3", 2).is_err_and(|e| e.contains("not a decimal")));
    }

    #[test]
    fn half_open_ranges() {
        let jan = (day("2026-01-01"), Some(day("2026-02-01")));
        let feb = (day("2026-02-01"), None);
        assert!(!ranges_overlap(jan, feb));
        assert!(ranges_overlap(feb, (day("2027-01-01"), None)));
        assert!(ranges_overlap((day("2026-01-31"), None), jan));
        assert_eq!(end_date("", day("2026-01-01")), Ok(None));
        assert!(end_date("2026-01-01", day("2026-01-01")).is_err_and(|e| e.contains("not after")));
    }
}

//! The price table (`pipelines/prices.csv`): what one million tokens of each class
//! cost, per model, over a range of days.
//!
//! Prices are hand-maintained (list prices are replaced by negotiated ones), so the
//! parser is strict and names the file and line of every problem: a typo must stop
//! the report, not turn into a zero on somebody's invoice.

use crate::{Error, Result};
use arrow::array::{ArrayRef, Date32Array, Decimal128Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The only unit accepted; stated in every row so nobody mistakes it for per-1K.
pub const PRICE_UNIT: &str = "1M tokens";

/// Decimal places a price may have: enough for any real per-1M price, and what the
/// `prices` SQL table (Decimal128(38, 10)) can hold exactly.
const MAX_PRICE_SCALE: u32 = 10;

/// How tokens are billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenClass {
    /// Prompt tokens not served from the cache.
    Input,
    CachedInput,
    /// Completion tokens, reasoning included.
    Output,
}

impl TokenClass {
    pub const ALL: [Self; 3] = [Self::Input, Self::CachedInput, Self::Output];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::CachedInput => "cached_input",
            Self::Output => "output",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for TokenClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated row of the price table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// As written in the file.
    pub model: String,
    pub class: TokenClass,
    /// Per [`PRICE_UNIT`].
    pub price: Decimal,
    pub currency: String,
    pub effective_from: NaiveDate,
    /// Exclusive; `None` while the price is current.
    pub effective_to: Option<NaiveDate>,
    pub source: String,
    /// 1-based line in the price file, to point at the row in errors.
    pub line: u64,
}

impl Price {
    fn in_effect(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day < to)
    }

    fn range(&self) -> String {
        let to = self
            .effective_to
            .map_or_else(|| "open".to_owned(), |d| d.to_string());
        format!("{}..{to}", self.effective_from)
    }
}

/// The parsed price table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    path: PathBuf,
    prices: Vec<Price>,
}

#[derive(Deserialize)]
struct RawPrice {
    model: String,
    token_class: String,
    unit: String,
    price: String,
    currency: String,
    effective_from: String,
    #[serde(default)]
    effective_to: String,
    #[serde(default)]
    source: String,
}

impl PriceTable {
    /// # Errors
    /// When the file cannot be read or a row is invalid; the error names file and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::file(path))?;
        Self::parse(path, &text)
    }

    /// Parses CSV text; `path` only names the source in errors.
    ///
    /// # Errors
    /// On the first invalid row (bad decimal, class, unit, currency or date) or
    /// overlapping effective ranges of one model and class.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: u64, message: String| Error::Prices {
            path: path.to_owned(),
            line,
            message,
        };
        let mut prices = Vec::new();
        for (line, raw) in crate::csv_rows::read_rows::<RawPrice>(text, &err)? {
            prices.push(validate(raw, line).map_err(|m| err(line, m))?);
        }
        check_overlaps(&prices).map_err(|(line, m)| err(line, m))?;
        Ok(Self {
            path: path.to_owned(),
            prices,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    /// The price of `class` in effect on `day` for a call to `model` on `deployment`.
    ///
    /// The most specific name wins: the model exactly as the response named it
    /// (`gpt-4o-2024-08-06`), then its catalog family (`gpt-4o`; AOAI's
    /// `gpt-35-turbo` is family `gpt-3.5-turbo`), then the deployment name, for
    /// deployments priced by contract rather than by model. The fallback is per class
    /// and day, so a dated override for one version leaves the family price in force
    /// elsewhere. Names compare ASCII case-insensitively.
    pub fn lookup(
        &self,
        model: Option<&str>,
        deployment: Option<&str>,
        class: TokenClass,
        day: NaiveDate,
    ) -> Option<&Price> {
        let family = model.and_then(tokentally_core::lookup_model).map(|m| m.family);
        [model, family, deployment]
            .into_iter()
            .flatten()
            .find_map(|name| {
                let name = name.trim();
                self.prices
                    .iter()
                    .find(|p| p.class == class && p.model.eq_ignore_ascii_case(name) && p.in_effect(day))
            })
    }

    /// The table as Arrow, for SQL joins against `usage`.
    ///
    /// # Errors
    /// Only on a broken invariant (columns disagreeing with the schema).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let p = &self.prices;
        let text = |f: fn(&Price) -> &str| -> ArrayRef {
            Arc::new(p.iter().map(|x| Some(f(x))).collect::<StringArray>())
        };
        let scaled = |d: &Decimal| {
            let mut d = *d;
            d.rescale(MAX_PRICE_SCALE);
            d.mantissa()
        };
        let prices = Decimal128Array::from_iter_values(p.iter().map(|x| scaled(&x.price)))
            .with_precision_and_scale(38, MAX_PRICE_SCALE as i8)?;
        let day = |d: NaiveDate| (d - NaiveDate::default()).num_days() as i32;
        let from = p
            .iter()
            .map(|x| Some(day(x.effective_from)))
            .collect::<Date32Array>();
        let to = p.iter().map(|x| x.effective_to.map(day)).collect::<Date32Array>();
        let schema = Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("token_class", DataType::Utf8, false),
            Field::new("unit", DataType::Utf8, false),
            Field::new("price", DataType::Decimal128(38, MAX_PRICE_SCALE as i8), false),
            Field::new("currency", DataType::Utf8, false),
            Field::new("effective_from", DataType::Date32, false),
            Field::new("effective_to", DataType::Date32, true),
            Field::new("source", DataType::Utf8, false),
        ]);
        let columns = vec![
            text(|x| &x.model),
            text(|x| x.class.as_str()),
            text(|_| PRICE_UNIT),
            Arc::new(prices),
            text(|x| &x.currency),
            Arc::new(from),
            Arc::new(to),
            text(|x| &x.source),
        ];
        Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
    }
}

fn validate(raw: RawPrice, line: u64) -> Result<Price, String> {
    if raw.model.is_empty() {
        return Err("model is empty".into());
    }
    let class = TokenClass::parse(&raw.token_class).ok_or_else(|| {
        format!(
            "unknown token_class {:?} (expected input, cached_input or output)",
            raw.token_class
        )
    })?;
    if raw.unit != PRICE_UNIT {
        return Err(format!(
            "unit {:?} is not supported (expected {PRICE_UNIT:?})",
            raw.unit
        ));
    }
    let price = Decimal::from_str_exact(&raw.price)
        .map_err(|e| format!("price {:?} is not a decimal number: {e}", raw.price))?;
    if price.is_sign_negative() {
        return Err(format!("price {:?} is negative", raw.price));
    }
    if price.scale() > MAX_PRICE_SCALE {
        return Err(format!(
            "price {:?} has more than {MAX_PRICE_SCALE} decimal places",
            raw.price
        ));
    }
    if raw.currency.len() != 3 || !raw.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "currency {:?} is not an ISO 4217 code like USD",
            raw.currency
        ));
    }
    let date = |name: &str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|e| format!("{name} {s:?} is not a YYYY-MM-DD date: {e}"))
    };
    let effective_from = date("effective_from", &raw.effective_from)?;
    let effective_to = match raw.effective_to.as_str() {
        "" => None,
        s => Some(date("effective_to", s)?),
    };
    if effective_to.is_some_and(|to| to <= effective_from) {
        return Err(format!(
            "effective_to {} is not after effective_from {effective_from} (effective_to is exclusive)",
            raw.effective_to
        ));
    }
    Ok(Price {
        model: raw.model,
        class,
        price,
        currency: raw.currency,
        effective_from,
        effective_to,
        source: raw.source,
        line,
    })
}

/// Two rows for one model and class on the same day would make the price depend on
/// row order; reject them and name both lines.
fn check_overlaps(prices: &[Price]) -> Result<(), (u64, String)> {
    let mut groups: BTreeMap<(String, TokenClass), Vec<&Price>> = BTreeMap::new();
    for p in prices {
        groups
            .entry((p.model.to_ascii_lowercase(), p.class))
            .or_default()
            .push(p);
    }
    for ((model, class), mut rows) in groups {
        rows.sort_by_key(|p| (p.effective_from, p.line));
        for pair in rows.windows(2) {
            let [a, b] = pair else { continue };
            if a.effective_to.is_none_or(|to| to > b.effective_from) {
                let (first, second) = if a.line < b.line { (a, b) } else { (b, a) };
                return Err((
                    second.line,
                    format!(
                        "{model} {class} effective {} overlaps line {} ({})",
                        second.range(),
                        first.line,
                        first.range()
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "model,token_class,unit,price,currency,effective_from,effective_to,source\n";

    fn parse(rows: &str) -> Result<PriceTable> {
        PriceTable::parse(Path::new("prices.csv"), &format!("{HEADER}{rows}"))
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn parse_err(rows: &str) -> String {
        parse(rows).expect_err("should fail").to_string()
    }

    #[test]
    fn shipped_price_table_parses_and_covers_the_catalog() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/prices.csv");
        let table = PriceTable::load(&path).expect("shipped prices parse");
        let d = day("2026-10-15");
        for (model, deployment) in [
            ("gpt-4o-2024-11-20", "chat"),
            ("gpt-4o-mini-2024-07-18", "mini"),
            ("gpt-4.1-2025-04-14", "x"),
            ("o3-mini-2025-01-31", "x"),
            ("gpt-35-turbo", "x"),
        ] {
            for class in [TokenClass::Input, TokenClass::Output] {
                let p = table.lookup(Some(model), Some(deployment), class, d);
                assert!(p.is_some_and(|p| p.currency == "USD"), "{model} {class}");
            }
        }
        let emb = table.lookup(Some("text-embedding-3-small"), None, TokenClass::Input, d);
        assert!(emb.is_some());
        assert!(
            table
                .lookup(Some("gpt-4o"), None, TokenClass::Input, day("2025-12-31"))
                .is_none()
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let ok = "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,list\n";
        let cases = [
            (
                "gpt-4o,input,1M tokens,2,50,USD,2026-01-01,,x\n",
                "prices.csv:3:",
                "found record with 9 fields",
            ),
            (
                "gpt-4o,input,1M tokens,2.5.0,USD,2026-01-01,,x\n",
                "prices.csv:3:",
                "not a decimal",
            ),
            (
                "gpt-4o,input,1M tokens,-1,USD,2026-01-01,,x\n",
                "prices.csv:3:",
                "negative",
            ),
            (
                "gpt-4o,prompt,1M tokens,1,USD,2026-01-01,,x\n",
                "prices.csv:3:",
                "unknown token_class \"prompt\"",
            ),
            (
                "gpt-4o,output,1K tokens,1,USD,2026-01-01,,x\n",
                "prices.csv:3:",
                "unit \"1K tokens\"",
            ),
            (
                "gpt-4o,output,1M tokens,1,usd,2026-01-01,,x\n",
                "prices.csv:3:",
                "currency",
            ),
            (
                "gpt-4o,output,1M tokens,1,USD,2026-02-30,,x\n",
                "prices.csv:3:",
                "effective_from \"2026-02-30\"",
            ),
            (
                "gpt-4o,output,1M tokens,1,USD,2026-02-01,2026-01-01,x\n",
                "prices.csv:3:",
                "not after",
            ),
            (
                "gpt-4o,output,1M tokens,0.00000000001,USD,2026-01-01,,x\n",
                "prices.csv:3:",
                "decimal places",
            ),
        ];
        for (row, location, what) in cases {
            let msg = parse_err(&format!("{ok}{row}"));
            assert!(msg.starts_with(location) && msg.contains(what), "{row}: {msg}");
        }
    }

    #[test]
    fn overlapping_ranges_are_rejected() {
        let msg = parse_err(concat!(
            "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,2026-07-01,a\n",
            "gpt-4o,output,1M tokens,10,USD,2026-01-01,,a\n",
            "GPT-4o,input,1M tokens,2.00,USD,2026-06-01,,b\n",
        ));
        assert!(
            msg.starts_with("prices.csv:4: gpt-4o input effective 2026-06-01..open overlaps line 2"),
            "{msg}"
        );
        let open = parse_err(concat!(
            "gpt-4o,input,1M tokens,2.00,USD,2026-06-01,,b\n",
            "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,a\n",
        ));
        assert!(
            open.starts_with("prices.csv:3: gpt-4o input effective 2026-01-01..open overlaps line 2"),
            "{open}"
        );
        // Back-to-back ranges (effective_to exclusive) are fine.
        parse(concat!(
            "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,2026-07-01,a\n",
            "gpt-4o,input,1M tokens,2.00,USD,2026-07-01,,b\n",
        ))
        .expect("adjacent ranges");
    }

    #[test]
    fn lookup_prefers_exact_then_family_then_deployment_by_day() {
        let table = parse(concat!(
            "gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,family\n",
            "gpt-4o-2024-08-06,input,1M tokens,2.00,USD,2026-10-10,2026-10-20,exact\n",
            "gpt-3.5-turbo,input,1M tokens,0.50,USD,2026-01-01,,family35\n",
            "contract-llm,input,1M tokens,1.00,EUR,2026-01-01,,deployment\n",
        ))
        .expect("valid");
        let src = |model: Option<&str>, dep: Option<&str>, d: &str| {
            table
                .lookup(model, dep, TokenClass::Input, day(d))
                .map(|p| p.source.as_str())
        };
        assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-09"), Some("family"));
        assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-10"), Some("exact"));
        assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-19"), Some("exact"));
        assert_eq!(src(Some("gpt-4o-2024-08-06"), None, "2026-10-20"), Some("family"));
        assert_eq!(
            src(Some("gpt-35-turbo-0125"), None, "2026-10-01"),
            Some("family35")
        );
        assert_eq!(
            src(Some("llama-3"), Some("contract-llm"), "2026-10-01"),
            Some("deployment")
        );
        assert_eq!(src(None, Some("contract-llm"), "2026-10-01"), Some("deployment"));
        assert_eq!(src(Some("llama-3"), Some("other"), "2026-10-01"), None);
        assert_eq!(src(Some("gpt-4o"), None, "2025-12-31"), None);
        assert!(
            table
                .lookup(Some("gpt-4o"), None, TokenClass::Output, day("2026-10-01"))
                .is_none()
        );
    }

    #[test]
    fn arrow_batch_keeps_prices_exact() {
        let table = parse("gpt-4o,cached_input,1M tokens,1.25,USD,2026-01-01,2027-01-01,x\n").expect("valid");
        let batch = table.to_batch().expect("batch");
        let formatted = arrow::util::pretty::pretty_format_batches(&[batch])
            .expect("format")
            .to_string();
        assert!(
            formatted.contains("1.2500000000") && formatted.contains("2027-01-01"),
            "{formatted}"
        );
    }
}

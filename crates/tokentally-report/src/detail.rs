//! The FOCUS-aligned detail file: one row per charge (app × deployment × model ×
//! token class × price in effect), named after the FinOps Open Cost and Usage
//! Specification where a column fits and `x_`-prefixed where it is ours, so FinOps
//! tools can load it beside the cloud bill. Columns: docs/formats.md
//! "Chargeback detail". The chargeback file is this file rolled up.

use crate::chargeback::COST_SCALE;
use crate::charges::{Charge, Pricing};
use crate::cost_centers::CostCenters;
use crate::files::{COST_PRECISION, Cell, CsvText, cost_text, decimal_array, decimal_text};
use crate::prices::{MAX_PRICE_SCALE, TokenClass};
use crate::{Month, Result};
use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Column names, in file order.
pub const DETAIL_COLUMNS: [&str; 26] = [
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "PricingCategory",
    "ResourceName",
    "RegionId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "ListUnitPrice",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "x_AppId",
    "x_AppIdSource",
    "x_CostCenter",
    "x_Model",
    "x_DeploymentType",
    "x_TokenClass",
    "x_PriceRow",
    "x_InvoiceCost",
    "x_InvoiceCurrency",
];

/// Tokens per pricing unit: prices are per 1 M tokens.
const TOKENS_PER_UNIT: u32 = 6;
/// Precision of unit prices: up to 10 decimal places, as the price table.
const PRICE_PRECISION: u8 = 38;

pub fn csv_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("chargeback-detail-{month}.csv"))
}

pub fn parquet_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("chargeback-detail-{month}.parquet"))
}

/// One detail row, as text and typed values.
struct Row<'a> {
    charge: &'a Charge,
    billing: (NaiveDate, NaiveDate),
    cost_center: &'a str,
    price_row: String,
}

impl Row<'_> {
    fn unit_price(&self) -> Option<Decimal> {
        match &self.charge.pricing {
            Pricing::PerToken { unit_price, .. } => Some(*unit_price),
            _ => None,
        }
    }

    fn pricing_category(&self) -> Option<&'static str> {
        match &self.charge.pricing {
            Pricing::PerToken { .. } => Some("Standard"),
            Pricing::Provisioned { .. } => Some("Committed"),
            Pricing::Unpriced { .. } | Pricing::Unallocated { .. } => None,
        }
    }

    fn description(&self) -> String {
        let c = self.charge;
        let kind = c.deployment_type.map_or("unlisted", |t| t.as_str());
        if let Pricing::Unallocated { resource } = &c.pricing {
            return format!("Invoiced cost of resource {resource} with no priced usage");
        }
        match c.class {
            None => format!("Idle provisioned capacity of deployment {}", c.deployment),
            Some(class) => format!(
                "{} {} tokens on {kind} deployment {}",
                c.model,
                class.as_str(),
                c.deployment
            ),
        }
    }

    /// Tokens in millions: exact, since it only moves the decimal point.
    fn pricing_quantity(&self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.charge.tokens), TOKENS_PER_UNIT)
    }
}

fn timestamp(day: NaiveDate) -> String {
    format!("{day}T00:00:00Z")
}

fn micros(day: NaiveDate) -> i64 {
    day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_micros()
}

/// Where a charge's rate came from, as `file:line`, for the auditor.
fn price_row(c: &Charge, prices: &Path, deployments: Option<&Path>) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    match &c.pricing {
        Pricing::PerToken { price_line, .. } => format!("{}:{price_line}", name(prices)),
        Pricing::Provisioned { deployment_line } => {
            format!("{}:{deployment_line}", deployments.map(name).unwrap_or_default())
        }
        Pricing::Unpriced { .. } | Pricing::Unallocated { .. } => String::new(),
    }
}

/// The detail rows of `charges` (their order: app, deployment, model, class).
pub(crate) struct Detail<'a> {
    rows: Vec<Row<'a>>,
}

impl<'a> Detail<'a> {
    pub(crate) fn new(
        month: Month,
        charges: &'a [Charge],
        owners: &'a CostCenters,
        prices: &Path,
        deployments: Option<&Path>,
    ) -> Self {
        let rows = charges
            .iter()
            .map(|charge| Row {
                charge,
                billing: (month.first_day(), month.end_day()),
                cost_center: owners.cost_center(&charge.app_id),
                price_row: price_row(charge, prices, deployments),
            })
            .collect();
        Self { rows }
    }

    fn text_row(r: &Row<'_>) -> Vec<Cell> {
        let c = r.charge;
        let text = |s: &str| Cell::Text(s.to_owned());
        let value = |v: String| Cell::Value(v);
        vec![
            value(timestamp(r.billing.0)),
            value(timestamp(r.billing.1)),
            value(timestamp(c.period.start)),
            value(timestamp(c.period.end)),
            text("Usage"),
            text(&r.description()),
            text(r.pricing_category().unwrap_or_default()),
            text(&c.deployment),
            text(c.region.as_deref().unwrap_or_default()),
            value(c.tokens.to_string()),
            text("Tokens"),
            value(decimal_text(Some(r.pricing_quantity()), COST_SCALE)),
            text("1M Tokens"),
            value(decimal_text(r.unit_price(), MAX_PRICE_SCALE)),
            value(cost_text(c.cost)),
            value(cost_text(c.cost)),
            text(c.currency.as_deref().unwrap_or_default()),
            text(&c.app_id),
            text(&c.app_id_source),
            text(r.cost_center),
            text(&c.model),
            text(c.deployment_type.map(|t| t.as_str()).unwrap_or_default()),
            text(c.class.map(TokenClass::as_str).unwrap_or_default()),
            text(&r.price_row),
            value(cost_text(c.invoice_cost)),
            text(c.invoice_currency.as_deref().unwrap_or_default()),
        ]
    }

    /// CSV text, header first; timestamps ISO 8601 UTC, money with six decimals,
    /// unit prices with ten; text cells escaped against formula injection.
    pub(crate) fn to_csv(&self) -> Vec<u8> {
        let mut csv = CsvText::with_header(&DETAIL_COLUMNS);
        for r in &self.rows {
            csv.row(Self::text_row(r));
        }
        csv.into_bytes()
    }

    pub(crate) fn schema() -> SchemaRef {
        let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let fields = DETAIL_COLUMNS.map(|name| match name {
            "BillingPeriodStart" | "BillingPeriodEnd" | "ChargePeriodStart" | "ChargePeriodEnd" => {
                Field::new(name, time.clone(), false)
            }
            "ConsumedQuantity" => Field::new(name, DataType::Int64, false),
            "PricingQuantity" => Field::new(
                name,
                DataType::Decimal128(COST_PRECISION, COST_SCALE as i8),
                false,
            ),
            "ListUnitPrice" => Field::new(
                name,
                DataType::Decimal128(PRICE_PRECISION, MAX_PRICE_SCALE as i8),
                true,
            ),
            "BilledCost" | "EffectiveCost" | "x_InvoiceCost" => {
                Field::new(name, DataType::Decimal128(COST_PRECISION, COST_SCALE as i8), true)
            }
            "PricingCategory" | "RegionId" | "BillingCurrency" | "x_DeploymentType" | "x_TokenClass"
            | "x_PriceRow" | "x_InvoiceCurrency" => Field::new(name, DataType::Utf8, true),
            _ => Field::new(name, DataType::Utf8, false),
        });
        Arc::new(Schema::new(fields.to_vec()))
    }

    /// The rows as one Arrow batch of [`Detail::schema`].
    ///
    /// # Errors
    /// When an amount does not fit its decimal type.
    pub(crate) fn to_batch(&self) -> Result<RecordBatch> {
        let rows = &self.rows;
        let times = |f: fn(&Row<'_>) -> NaiveDate| -> ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| micros(f(r))))
                    .with_timezone("UTC"),
            )
        };
        let text = |f: &dyn Fn(&Row<'_>) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let money = |f: fn(&Row<'_>) -> Option<Decimal>, precision: u8, scale: u32| -> Result<ArrayRef> {
            Ok(Arc::new(decimal_array(rows.iter().map(f), precision, scale)?))
        };
        let nonempty = |s: String| Some(s).filter(|s| !s.is_empty());
        let columns: Vec<ArrayRef> = vec![
            times(|r| r.billing.0),
            times(|r| r.billing.1),
            times(|r| r.charge.period.start),
            times(|r| r.charge.period.end),
            text(&|_| Some("Usage".to_owned())),
            text(&|r| Some(r.description())),
            text(&|r| r.pricing_category().map(str::to_owned)),
            text(&|r| Some(r.charge.deployment.clone())),
            text(&|r| r.charge.region.clone()),
            Arc::new(rows.iter().map(|r| r.charge.tokens).collect::<Int64Array>()),
            text(&|_| Some("Tokens".to_owned())),
            money(|r| Some(r.pricing_quantity()), COST_PRECISION, COST_SCALE)?,
            text(&|_| Some("1M Tokens".to_owned())),
            money(|r| r.unit_price(), PRICE_PRECISION, MAX_PRICE_SCALE)?,
            money(|r| r.charge.cost, COST_PRECISION, COST_SCALE)?,
            money(|r| r.charge.cost, COST_PRECISION, COST_SCALE)?,
            text(&|r| r.charge.currency.clone()),
            text(&|r| Some(r.charge.app_id.clone())),
            text(&|r| Some(r.charge.app_id_source.clone())),
            text(&|r| Some(r.cost_center.to_owned())),
            text(&|r| Some(r.charge.model.clone())),
            text(&|r| r.charge.deployment_type.map(|t| t.as_str().to_owned())),
            text(&|r| r.charge.class.map(TokenClass::as_str).map(str::to_owned)),
            text(&|r| nonempty(r.price_row.clone())),
            money(|r| r.charge.invoice_cost, COST_PRECISION, COST_SCALE)?,
            text(&|r| r.charge.invoice_currency.clone()),
        ];
        Ok(RecordBatch::try_new(Self::schema(), columns)?)
    }

    pub(crate) fn write(&self, csv: &Path, parquet: &Path) -> Result<()> {
        crate::files::write_bytes(csv, &self.to_csv())?;
        crate::files::write_parquet(parquet, Self::schema(), &[self.to_batch()?])
    }
}

use super::*;
use crate::deployments::DeploymentType;
use crate::month::Period;
use crate::prices::TokenClass;
use chrono::NaiveDate;

const A: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai-a";
const B: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/aoai-b";

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn month() -> Month {
    "2026-10".parse().expect("month")
}

fn deployments() -> Deployments {
    let text = format!(
        "deployment,deployment_type,region,resource\n\
         one,global,swedencentral,{A}\n\
         two,global,swedencentral,{A}\n\
         three,global,eastus2,{B}\n\
         loose,global,eastus2,\n"
    );
    Deployments::parse(Path::new("d.csv"), &text).expect("deployments")
}

fn charge(app: &str, deployment: &str, resource: Option<&str>, cost: &str, currency: &str) -> Charge {
    Charge {
        app_id: app.into(),
        app_id_source: "claim".into(),
        deployment: deployment.into(),
        deployment_type: Some(DeploymentType::Global),
        region: None,
        model: "gpt-4o".into(),
        class: Some(TokenClass::Input),
        tokens: 1000,
        period: Period {
            start: day("2026-10-01"),
            end: day("2026-11-01"),
        },
        used: DaysUsed::day(day("2026-10-02")),
        pricing: Pricing::PerToken {
            unit_price: Decimal::ONE,
            price_line: 2,
        },
        cost: Some(dec(cost)),
        currency: Some(currency.into()),
        resource: resource.map(Into::into),
        invoice_cost: None,
        invoice_currency: None,
    }
}

fn row(at: u64, resource: &str, cost: &str, currency: &str, date: &str) -> InvoiceRow {
    InvoiceRow {
        at: at.to_string(),
        resource_id: resource.into(),
        resource_name: last_segment(resource).into(),
        billed_cost: dec(cost),
        currency: currency.into(),
        day: day(date),
    }
}

fn tie(rows: &[InvoiceRow], charges: &mut Vec<Charge>) -> Result<Tieout> {
    tie_out(Path::new("focus.csv"), month(), rows, &deployments(), charges)
}

#[test]
fn shares_add_up_to_the_invoice_to_the_micro_unit() {
    let mut charges = vec![
        charge("app1", "one", Some(A), "1.000000", "USD"),
        charge("app2", "two", Some(A), "2.000000", "USD"),
    ];
    // Row 3 is September's, row 4 another service's: neither is this month's AOAI cost.
    let rows = [
        row(2, A, "6", "USD", "2026-10-01"),
        row(3, A, "99", "USD", "2026-09-30"),
        row(4, "/subscriptions/s/storage", "5", "USD", "2026-10-03"),
        row(5, &A.to_uppercase(), "4.0000004", "USD", "2026-10-31"),
    ];
    let t = tie(&rows, &mut charges).expect("tie-out");
    let invoiced: Vec<String> = charges
        .iter()
        .map(|c| c.invoice_cost.expect("allocated").to_string())
        .collect();
    // 10.0000004 → 10.000000: 1/3 and 2/3, the spare micro-unit to the larger remainder.
    assert_eq!(invoiced, ["3.333333", "6.666667"]);
    assert!(
        charges
            .iter()
            .all(|c| c.invoice_currency.as_deref() == Some("USD"))
    );
    assert_eq!(t.resources.len(), 1);
    let r = &t.resources[0];
    assert_eq!(
        (r.invoiced, r.rows, r.unallocated),
        (Some(dec("10.000000")), 2, false)
    );
    assert_eq!(r.resource_name, "aoai-a");
    assert_eq!(r.coverage(), Some(dec("0.3")));
}

#[test]
fn an_invoice_in_another_currency_is_shared_by_the_list_price_proportions() {
    let mut charges = vec![
        charge("app1", "one", Some(A), "1.5", "USD"),
        charge("app2", "one", Some(A), "0.5", "USD"),
    ];
    let t = tie(&[row(2, A, "100.01", "EUR", "2026-10-05")], &mut charges).expect("tie-out");
    let shares: Vec<Decimal> = charges.iter().filter_map(|c| c.invoice_cost).collect();
    assert_eq!(shares, [dec("75.007500"), dec("25.002500")]);
    assert_eq!(charges[0].invoice_currency.as_deref(), Some("EUR"));
    // Different currencies: no coverage figure.
    assert_eq!(t.resources[0].coverage(), None);
}

#[test]
fn one_resource_in_two_currencies_is_an_error_naming_the_row() {
    let mut charges = vec![charge("app1", "one", Some(A), "1", "USD")];
    let rows = [
        row(2, A, "1", "USD", "2026-10-01"),
        row(7, A, "1", "EUR", "2026-10-02"),
    ];
    let err = tie(&rows, &mut charges).expect_err("two currencies").to_string();
    assert!(err.starts_with("focus.csv:7: resource"), "{err}");
    assert!(err.contains("EUR") && err.contains("USD at 2"), "{err}");

    let mut mixed = vec![
        charge("app1", "one", Some(A), "1", "USD"),
        charge("app2", "two", Some(A), "1", "EUR"),
    ];
    let err = tie(&[row(2, A, "1", "USD", "2026-10-01")], &mut mixed)
        .expect_err("mixed list prices")
        .to_string();
    assert!(err.contains("aoai-a") && err.contains("EUR, USD"), "{err}");
}

#[test]
fn invoiced_cost_without_usage_is_an_unallocated_line() {
    let mut charges = vec![charge("app1", "one", Some(A), "1", "USD")];
    let rows = [
        row(2, A, "1", "USD", "2026-10-01"),
        row(3, B, "12.5", "USD", "2026-10-09"),
    ];
    let t = tie(&rows, &mut charges).expect("tie-out");
    let unallocated: Vec<&Charge> = charges.iter().filter(|c| c.app_id == UNALLOCATED_APP).collect();
    assert_eq!(unallocated.len(), 1);
    let u = unallocated[0];
    assert_eq!(u.invoice_cost, Some(dec("12.500000")));
    assert_eq!(u.cost, Some(dec("0.000000")));
    assert_eq!(u.deployment, "aoai-b");
    assert!(t.resources.iter().any(|r| r.resource_id == B && r.unallocated));
}

#[test]
fn usage_the_invoice_does_not_list_is_reported_not_dropped() {
    let mut charges = vec![
        charge("app1", "one", Some(A), "1", "USD"),
        charge("app2", "three", Some(B), "2", "USD"),
        charge("app3", "loose", None, "4", "USD"),
    ];
    let t = tie(&[row(2, A, "3", "USD", "2026-10-01")], &mut charges).expect("tie-out");
    let missing: Vec<&str> = t.not_invoiced().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(missing, [B]);
    assert_eq!(t.without_resource.get("USD"), Some(&dec("4")));
    let by_app = |app: &str| {
        charges
            .iter()
            .find(|c| c.app_id == app)
            .and_then(|c| c.invoice_cost)
    };
    assert_eq!(by_app("app1"), Some(dec("3.000000")));
    assert_eq!((by_app("app2"), by_app("app3")), (None, None));
}

#[test]
fn refunds_are_shared_too() {
    let mut charges = vec![
        charge("app1", "one", Some(A), "1", "USD"),
        charge("app2", "two", Some(A), "1", "USD"),
    ];
    tie(&[row(2, A, "-0.000003", "USD", "2026-10-01")], &mut charges).expect("tie-out");
    let sum: Decimal = charges.iter().filter_map(|c| c.invoice_cost).sum();
    assert_eq!(sum, dec("-0.000003"));
}

#[test]
fn bad_export_rows_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("focus.csv");
    let header = "\u{feff}BilledCost,BillingCurrency,ChargePeriodStart,ResourceId,ResourceName\n";
    let cases = [
        (
            "1.5,USD,2026-10-01,/x/a,a\nten,USD,2026-10-01,/x/a,a\n",
            "focus.csv:3: BilledCost \"ten\"",
        ),
        (
            "1,usd,2026-10-01,/x/a,a\n",
            "focus.csv:2: BillingCurrency: currency \"usd\"",
        ),
        (
            "1,USD,yesterday,/x/a,a\n",
            "focus.csv:2: ChargePeriodStart \"yesterday\"",
        ),
        ("1,USD,2026-10-01,,a\n", "focus.csv:2: ResourceId is empty"),
    ];
    for (body, want) in cases {
        std::fs::write(&path, format!("{header}{body}")).expect("write");
        let err = read(&path).expect_err(want).to_string();
        assert!(err.contains(want), "{err} (want {want})");
    }
    std::fs::write(&path, "Cost,Currency\n1,USD\n").expect("write");
    let err = read(&path).expect_err("not FOCUS").to_string();
    assert!(err.contains("focus.csv:1: no BilledCost column"), "{err}");
    std::fs::write(&path, format!("{header}2.5E-3,USD,10/31/2026,/x/a,\n")).expect("write");
    let rows = read(&path).expect("valid");
    assert_eq!(rows[0].billed_cost, dec("0.0025"));
    assert_eq!(rows[0].day, day("2026-10-31"));
    assert_eq!(rows[0].resource_name, "a");
}

#[test]
fn parquet_exports_are_read_as_written() {
    use arrow::array::{Decimal128Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("focus.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("BilledCost", DataType::Decimal128(18, 10), true),
        Field::new("BillingCurrency", DataType::Utf8, true),
        Field::new(
            "ChargePeriodStart",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("ResourceId", DataType::Utf8, true),
    ]));
    let oct_2 = 1_790_899_200_000_000; // 2026-10-02T00:00:00Z
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(
                Decimal128Array::from(vec![Some(12_345_678_900), None])
                    .with_precision_and_scale(18, 10)
                    .expect("decimal"),
            ),
            Arc::new(StringArray::from(vec!["USD", "USD"])),
            Arc::new(TimestampMicrosecondArray::from(vec![oct_2, oct_2]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec![A, A])),
        ],
    )
    .expect("batch");
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    let err = read(&path).expect_err("null cost").to_string();
    assert!(err.contains("focus.parquet:row 2: BilledCost is empty"), "{err}");

    // The first row alone: its values as Cost Management wrote them.
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(&batch.slice(0, 1)).expect("write");
    writer.close().expect("close");
    let rows = read(&path).expect("one valid row");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].billed_cost,
        "1.23456789".parse::<Decimal>().expect("decimal")
    );
    assert_eq!(rows[0].currency, "USD");
    assert_eq!(rows[0].resource_id, A);
    assert_eq!(rows[0].day, day("2026-10-02"));
}

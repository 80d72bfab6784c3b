//! The FOCUS detail file: types, and sums that equal the chargeback's.

use super::*;

fn read_parquet(path: &Path) -> Vec<arrow::array::RecordBatch> {
    let file = std::fs::File::open(path).expect("parquet");
    ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("reader")
        .build()
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("batches")
}

#[test]
fn detail_parquet_is_typed_and_adds_up_to_the_chargeback() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let mut calls = many_calls();
    for (i, c) in calls.iter_mut().enumerate() {
        if i % 3 == 0 {
            c.deployment = Some("mini".into());
        }
    }
    write_usage(&data, "one", &calls);
    let report = report(root.path(), "2026-10");
    let batches = read_parquet(&report.detail_parquet_path);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, DETAIL_COLUMNS);
    let ty = |name: &str| schema.field_with_name(name).expect("field").data_type().clone();
    assert_eq!(ty("BilledCost"), DataType::Decimal128(18, 6));
    assert_eq!(ty("EffectiveCost"), DataType::Decimal128(18, 6));
    assert_eq!(ty("ListUnitPrice"), DataType::Decimal128(38, 10));
    assert_eq!(ty("ConsumedQuantity"), DataType::Int64);
    assert!(matches!(ty("ChargePeriodStart"), DataType::Timestamp(_, Some(tz)) if &*tz == "UTC"));

    // Per app, detail BilledCost and ConsumedQuantity equal the chargeback's cost
    // and its input + cached + output tokens.
    let mut detail: BTreeMap<String, (i128, i64)> = BTreeMap::new();
    for batch in &batches {
        let apps = batch.column_by_name("x_AppId").expect("app").as_string::<i32>();
        let cost = batch
            .column_by_name("BilledCost")
            .expect("cost")
            .as_primitive::<Decimal128Type>();
        let qty = batch
            .column_by_name("ConsumedQuantity")
            .expect("qty")
            .as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            let e = detail.entry(apps.value(i).to_owned()).or_default();
            e.0 += if cost.is_valid(i) { cost.value(i) } else { 0 };
            e.1 += qty.value(i);
        }
    }
    let mut lines: BTreeMap<String, (i128, i64)> = BTreeMap::new();
    for l in &report.lines {
        let e = lines.entry(l.app_id.clone()).or_default();
        e.0 += l.cost.map_or(0, |c| c.mantissa());
        e.1 += l.tokens.prompt + l.tokens.completion;
    }
    assert_eq!(detail, lines);
    assert!(detail.contains_key("a") && report.charges.iter().any(|c| c.deployment == "mini"));
    let ptu: rust_decimal::Decimal = report
        .charges
        .iter()
        .filter(|c| c.deployment == "mini")
        .filter_map(|c| c.cost)
        .sum();
    assert_eq!(ptu.to_string(), "10.000000");
}

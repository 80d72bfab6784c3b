//! Files finance opens: text cells that a spreadsheet would run as a formula are
//! escaped in every CSV, and kept exact in Parquet.

use super::*;

#[tokio::test]
async fn formula_text_is_escaped_in_every_csv_and_exact_in_parquet() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let mut evil = call("x1", "2026-10-03T10:00:00Z", "@SUM(1+1)", Some("-2+3"), 10, 1);
    evil.deployment = Some("=HYPERLINK(\"http://x\",\"y\")".into());
    write_usage(&data, "a", &[evil]);
    let opts = options(root.path(), "2026-10");
    let report = write_chargeback(&opts).await.expect("report");
    let read = |p: &Path| std::fs::read_to_string(p).expect("csv");
    let chargeback = read(&report.csv_path);
    assert!(
        chargeback.contains("\"'@SUM(1+1)\",,claim,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",,\"'-2+3\","),
        "{chargeback}"
    );
    let detail = read(&report.detail_csv_path);
    assert!(
        detail.contains(",\"'@SUM(1+1)\",claim,unassigned,\"'-2+3\","),
        "{detail}"
    );
    // The description starts with the model, so it is escaped too.
    assert!(
        detail.contains(",\"'-2+3 input tokens on unlisted deployment"),
        "{detail}"
    );
    let unpriced = read(&report.unpriced_path);
    assert!(
        unpriced.contains("2026-10,\"'@SUM(1+1)\",unassigned,\"'=HYPERLINK"),
        "{unpriced}"
    );
    // No line of any CSV has a cell starting a formula.
    for text in [&chargeback, &detail, &unpriced] {
        for line in text.lines() {
            for cell in line.split(',') {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{line}");
            }
        }
    }
    // Parquet keeps the exact value.
    let file = std::fs::File::open(&report.parquet_path).expect("parquet");
    let batch = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("reader")
        .build()
        .expect("reader")
        .next()
        .expect("a batch")
        .expect("batch");
    let apps = batch.column_by_name("app_id").expect("app_id").as_string::<i32>();
    assert!(apps.iter().any(|a| a == Some("@SUM(1+1)")), "{apps:?}");
    // `sql --format csv` escapes strings but leaves numbers (even negative) alone.
    let tables = SqlTables {
        data_dir: data,
        ..SqlTables::default()
    };
    let session = SqlSession::open(&tables).await.expect("session");
    let out = session
        .query("SELECT app_id, deployment, -prompt_tokens AS minus FROM usage")
        .await
        .expect("query");
    assert_eq!(
        batches_to_csv(&out).expect("csv"),
        "app_id,deployment,minus\n\"'@SUM(1+1)\",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-10\n"
    );
}

//! The SQL session's tables and the `chargeback` view over written reports.

use super::*;

#[tokio::test]
async fn sql_registers_the_tables_and_the_chargeback_view() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let opts = options(root.path(), "2026-10");
    let tables = SqlTables {
        data_dir: root.path().join("data"),
        usage_store: None,
        prices: Some(opts.prices.clone()),
        deployments: opts.deployments.clone(),
        cost_centers: opts.cost_centers.clone(),
    };
    let session = SqlSession::open(&tables).await.expect("session");
    let empty = session
        .query("SELECT count(*) AS n FROM chargeback")
        .await
        .expect("view exists before any report");
    assert_eq!(format_table(&empty).expect("format").matches("| 0 ").count(), 1);

    let mut written = opts.clone();
    written.out_dir = root.path().join("data");
    write_chargeback(&written).await.expect("report");
    let session = SqlSession::open(&tables).await.expect("session");
    let out = session
        .query(
            "SELECT c.cost_center, d.deployment_type, CAST(sum(v.\"BilledCost\") AS VARCHAR) AS cost \
             FROM chargeback v \
             JOIN deployments d ON d.deployment = v.\"ResourceName\" \
             LEFT JOIN cost_centers c ON c.app_id = v.\"x_AppId\" \
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .await
        .expect("join");
    let csv = batches_to_csv(&out).expect("csv");
    assert_eq!(
        csv,
        "cost_center,deployment_type,cost\nCC-100,global,0.007268\nCC-100,provisioned,0.713114\n,global,0.232600\n,provisioned,9.286886\n"
    );
    let err = session
        .query("SELECT nope FROM usage")
        .await
        .expect_err("bad column");
    assert!(err.to_string().contains("nope"), "{err}");
}

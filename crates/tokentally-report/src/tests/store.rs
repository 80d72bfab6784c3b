//! A dataset in object storage is read in place (`usage_dir.rs`) and billed
//! exactly as the same files on disk: the same files (markers and hidden files
//! skipped, `key=value` folders read), the same copies kept, the same bytes out.

use super::*;
use tokentally_store::Remote;

#[tokio::test]
async fn a_dataset_in_a_store_is_billed_as_the_same_files_on_disk() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let mut replayed = call("e2", "2026-10-03T08:00:00Z", "billing", Some("gpt-4o"), 900, 90);
    replayed.source.source = "replay.jsonl".into();
    write_usage(
        &data,
        "part-a",
        &[
            call(
                "e1",
                "2026-10-02T10:00:00Z",
                "payroll-bot",
                Some("gpt-4o"),
                1000,
                100,
            ),
            call("e2", "2026-10-03T08:00:00Z", "billing", Some("gpt-4o"), 900, 90),
            // The month before: the statement's change against it.
            call("e0", "2026-09-30T23:59:59Z", "payroll-bot", Some("gpt-4o"), 10, 1),
        ],
    );
    write_usage(&data, "part-b", &[replayed]);
    // Not data: a marker and a hidden file would each add a call if read.
    let stray = [call("e9", "2026-10-02T11:00:00Z", "stray", Some("gpt-4o"), 5, 5)];
    write_usage(&data, "_marker", &stray);
    write_usage(&data, ".hidden", &stray);
    // Data in a `key=value` folder below the day.
    let nested = data.join("usage/date=2026-10-04/region=eastus2");
    let in_folder = [call(
        "e3",
        "2026-10-04T12:00:00Z",
        "billing",
        Some("gpt-4o"),
        300,
        30,
    )];
    write_usage(&root.path().join("nested"), "part-c", &in_folder);
    std::fs::create_dir_all(&nested).expect("mkdir");
    std::fs::rename(
        root.path().join("nested/usage/date=2026-10-04/part-c.parquet"),
        nested.join("part-c.parquet"),
    )
    .expect("move into the folder");

    let lake = Remote::in_memory("az://lake/out").expect("store");
    lake.join("usage")
        .upload_dir(&data.join("usage"))
        .await
        .expect("upload the dataset");

    let on_disk = write_chargeback(&options(root.path(), "2026-10"))
        .await
        .expect("from disk");
    let in_store_out = root.path().join("from-store");
    let in_store = write_chargeback(&ReportOptions {
        data_dir: in_store_out.clone(),
        usage_store: Some(lake),
        out_dir: in_store_out.clone(),
        ..options(root.path(), "2026-10")
    })
    .await
    .expect("from the store");

    assert_eq!(
        on_disk.totals.calls, 3,
        "e1, e2 once, e3; no marker, no hidden file"
    );
    assert_eq!(in_store.totals, on_disk.totals);
    for (a, b) in [
        (&on_disk.csv_path, &in_store.csv_path),
        (&on_disk.detail_csv_path, &in_store.detail_csv_path),
        (&on_disk.statement_path, &in_store.statement_path),
    ] {
        let read = |p: &PathBuf| std::fs::read(p).expect("written");
        assert!(read(a) == read(b), "{} and {} differ", a.display(), b.display());
    }
}

#[tokio::test]
async fn a_store_folder_without_data_is_named_as_no_usage_dataset() {
    let root = tempfile::tempdir().expect("tempdir");
    let lake = Remote::in_memory("az://lake/empty").expect("store");
    let error = write_chargeback(&ReportOptions {
        usage_store: Some(lake),
        ..options(root.path(), "2026-10")
    })
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        error.contains("no usage dataset at az://lake/empty/usage"),
        "{error}"
    );
}

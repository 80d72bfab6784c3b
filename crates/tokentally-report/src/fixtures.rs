//! The report's test fixtures: its tables (prices, deployments), the options of
//! an October report, and `sql` answers as text. Usage rows and their day files
//! come from `tokentally-testdata`.

use std::path::Path;

pub(crate) const PRICES: &str = "\
model,token_class,unit,price,currency,effective_from,effective_to,source
gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,test
gpt-4o,cached_input,1M tokens,1.25,USD,2026-01-01,,test
gpt-4o,output,1M tokens,10.00,USD,2026-01-01,,test
gpt-4o-mini,input,1M tokens,0.15,USD,2026-01-01,,test
gpt-4o-mini,cached_input,1M tokens,0.075,USD,2026-01-01,,test
gpt-4o-mini,output,1M tokens,0.60,USD,2026-01-01,,test
gpt-4o-audio-preview,input,1M tokens,2.50,USD,2026-01-01,,test
gpt-4o-audio-preview,output,1M tokens,10.00,USD,2026-01-01,,test
gpt-4o-audio-preview,audio_input,1M tokens,40.00,USD,2026-01-01,,test
gpt-4o-audio-preview,audio_output,1M tokens,80.00,USD,2026-01-01,,test
gpt-image-1,input,1M tokens,5.00,USD,2026-01-01,,test
gpt-image-1,image_input,1M tokens,10.00,USD,2026-01-01,,test
gpt-image-1,image_output,1M tokens,40.00,USD,2026-01-01,,test
";

pub(crate) fn write_prices(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("prices.csv");
    std::fs::write(&path, PRICES).expect("write prices");
    path
}

/// `gpt-4o` pay-as-you-go; `mini` a provisioned deployment of 10 USD a month,
/// shared by whoever calls it; an audio and an image-generation deployment.
pub(crate) const DEPLOYMENTS: &str = "\
deployment,deployment_type,region,monthly_cost,currency,effective_from,effective_to,source
gpt-4o,global,swedencentral,,,,,test
mini,provisioned,eastus2,10.00,USD,2026-10-01,,test
gpt-4o-audio,global,swedencentral,,,,,test
gpt-image-1,global,swedencentral,,,,,test
";

pub(crate) fn write_deployments(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("deployments.csv");
    std::fs::write(&path, DEPLOYMENTS).expect("write deployments");
    path
}

/// The report's options for October 2026 over `dir` (dataset and outputs), with
/// [`write_prices`]' table and no other input.
pub(crate) fn october(dir: &Path) -> crate::ReportOptions {
    crate::ReportOptions {
        data_dir: dir.to_owned(),
        usage_store: None,
        out_dir: dir.to_owned(),
        month: "2026-10".parse::<crate::Month>().expect("month"),
        prices: write_prices(dir),
        deployments: None,
        cost_centers: None,
        invoice: None,
    }
}

/// `sql`'s answer over the dataset in `data_dir`, each row's cells as text.
pub(crate) async fn query_rows(data_dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let tables = crate::SqlTables {
        data_dir: data_dir.to_owned(),
        ..crate::SqlTables::default()
    };
    let session = crate::SqlSession::open(&tables).await.expect("session");
    let out = session.query(sql).await.expect("query");
    let mut rows = Vec::new();
    for batch in &out.batches {
        for row in 0..batch.num_rows() {
            let cell =
                |c: usize| arrow::util::display::array_value_to_string(batch.column(c), row).expect("text");
            rows.push((0..batch.num_columns()).map(cell).collect());
        }
    }
    rows
}

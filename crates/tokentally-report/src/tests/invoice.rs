//! The invoice tie-out through the whole report: shares on lines, detail rows,
//! totals and the statement, adding up to the export exactly.

use super::*;
use rust_decimal::Decimal;

const DEPLOYMENTS: &str = "\
deployment,deployment_type,region,monthly_cost,currency,effective_from,effective_to,source,resource
gpt-4o,global,swedencentral,,,,,test,/s/rg/accounts/a
mini,provisioned,eastus2,10.00,USD,2026-10-01,,test,/s/rg/accounts/b
gpt-4o-audio,global,swedencentral,,,,,test,/s/rg/accounts/a
gpt-image-1,global,swedencentral,,,,,test,
eval,global,westeurope,,,,,test,/s/rg/accounts/c
";

/// `a` at a discount, `b` (the PTU) in another case, `c` with no usage, and a
/// September row that is not this month's.
const INVOICE: &str = "\
BilledCost,BillingCurrency,ChargePeriodStart,ResourceId,ResourceName,x_SkuMeterName
0.05,USD,2026-10-05T00:00:00Z,/s/rg/accounts/a,a,gpt-4o Inp glbl Tokens
9.5,USD,2026-10-06T00:00:00Z,/S/RG/ACCOUNTS/B,b,Provisioned Managed Unit
2,USD,2026-10-07T00:00:00Z,/s/rg/accounts/c,c,gpt-4o Inp glbl Tokens
100,USD,2026-09-07T00:00:00Z,/s/rg/accounts/a,a,gpt-4o Inp glbl Tokens
";

fn invoiced_report(root: &Path) -> ChargebackReport {
    small_fixture(&root.join("data"));
    let mut opts = options(root, "2026-10");
    let deployments = root.join("deployments-with-resources.csv");
    std::fs::write(&deployments, DEPLOYMENTS).expect("deployments");
    opts.deployments = Some(deployments);
    let invoice = root.join("focus.csv");
    std::fs::write(&invoice, INVOICE).expect("invoice");
    opts.invoice = Some(invoice);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(write_chargeback(&opts))
        .expect("report")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

#[test]
fn invoice_shares_reach_every_file_and_add_up_to_the_export() {
    let root = tempfile::tempdir().expect("tempdir");
    let report = invoiced_report(root.path());
    let line_sum: Decimal = report.lines.iter().filter_map(|l| l.invoice_cost).sum();
    assert_eq!(line_sum, dec("11.550000"));
    assert_eq!(report.totals.invoice_cost.get("USD"), Some(&dec("11.550000")));
    let detail_sum: Decimal = report.charges.iter().filter_map(|c| c.invoice_cost).sum();
    assert_eq!(detail_sum, line_sum);
    let share = |app: &str, deployment: &str| -> Decimal {
        report
            .lines
            .iter()
            .filter(|l| l.app_id == app && l.deployment == deployment)
            .filter_map(|l| l.invoice_cost)
            .sum()
    };
    // b's 9.50 over the PTU's 9.286886 + 0.713114 list cost.
    assert_eq!(
        share("hr-search", "mini") + share("payroll-bot", "mini"),
        dec("9.5")
    );
    assert_eq!(share(UNALLOCATED_APP, "c"), dec("2"));
    let t = report.tieout.as_ref().expect("tie-out");
    assert_eq!(t.without_resource.get("USD"), Some(&dec("0.166850")));
    let unallocated: Vec<&str> = t
        .resources
        .iter()
        .filter(|r| r.unallocated)
        .map(|r| r.resource_name.as_str())
        .collect();
    assert_eq!(unallocated, ["c"]);
    let csv = std::fs::read_to_string(&report.csv_path).expect("csv");
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with(",invoice_cost,invoice_currency"))
    );
    let detail = std::fs::read_to_string(&report.detail_csv_path).expect("detail");
    assert!(
        detail.contains("Invoiced cost of resource /s/rg/accounts/c with no priced usage"),
        "{detail}"
    );
    let html = std::fs::read_to_string(&report.statement_path).expect("statement");
    assert!(
        html.contains("Tied to the invoice") && html.contains("billed to (unallocated)"),
        "{html}"
    );
    assert!(
        report.summary_table().contains("invoice "),
        "{}",
        report.summary_table()
    );
}

#[test]
fn an_invoiced_report_is_byte_identical_on_a_re_run() {
    let root = tempfile::tempdir().expect("tempdir");
    let files = |r: &ChargebackReport| {
        [
            &r.csv_path,
            &r.parquet_path,
            &r.detail_csv_path,
            &r.detail_parquet_path,
            &r.statement_path,
        ]
        .map(|p| std::fs::read(p).expect("output"))
    };
    let first = files(&invoiced_report(root.path()));
    std::fs::remove_dir_all(root.path().join("data")).expect("clean");
    let second = files(&invoiced_report(root.path()));
    assert!(first == second, "a re-run changed an output");
}

/// Usage on a resource the export does not list is said in both places people
/// read: the terminal summary and the statement.
#[test]
fn usage_on_a_resource_the_invoice_does_not_list_is_flagged_in_the_summary_and_statement() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let mut opts = options(root.path(), "2026-10");
    let deployments = root.path().join("deployments-with-resources.csv");
    // gpt-4o's resource is not in the export below.
    std::fs::write(
        &deployments,
        DEPLOYMENTS.replace(
            "gpt-4o,global,swedencentral,,,,,test,/s/rg/accounts/a",
            "gpt-4o,global,swedencentral,,,,,test,/s/rg/accounts/elsewhere",
        ),
    )
    .expect("deployments");
    opts.deployments = Some(deployments);
    let invoice = root.path().join("focus.csv");
    std::fs::write(&invoice, INVOICE).expect("invoice");
    opts.invoice = Some(invoice);
    let report = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(write_chargeback(&opts))
        .expect("report");
    let summary = summary::render(
        &report.apps,
        &report.totals,
        &report.missing_prices,
        report.tieout.as_ref(),
    );
    assert!(summary.contains("  elsewhere: not in the invoice; "), "{summary}");
    let html = std::fs::read_to_string(&report.statement_path).expect("statement");
    assert!(html.contains("Not in the invoice"), "the statement says so");
}

//! The HTML statement: a snapshot of the small month, byte-identical re-runs,
//! hostile text shown as text, and figures that match the chargeback.

use super::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("statement")
}

#[test]
fn statement_snapshot_of_the_small_month() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let report = report(root.path(), "2026-10");
    assert_eq!(
        report.statement_path,
        root.path().join("out/statement-2026-10.html")
    );
    let html = read(&report.statement_path);
    insta::assert_snapshot!("statement_2026_10_html", html);
    // The total is the chargeback's, exactly, and each cost center has its section.
    assert!(html.contains("data-total=\"10.239868\""), "{html}");
    assert!(html.contains("10.24 USD"), "{html}");
    for anchor in ["cc-CC-100", "cc-unassigned"] {
        assert!(html.contains(&format!("id=\"{anchor}\"")), "{anchor}");
        assert!(html.contains(&format!("href=\"#{anchor}\"")), "{anchor}");
    }
    // September has one call (e7): the change is against its cost.
    assert!(html.contains("against 2026-09"), "{html}");
}

#[test]
fn statement_is_self_contained() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let html = read(&report(root.path(), "2026-10").statement_path);
    for external in [
        "http:", "https:", "//", "<script", "<link", "<img", "@import", "url(",
    ] {
        let found = html.match_indices(external).any(|(i, _)| {
            // `//` only as a scheme-relative URL, not inside text.
            external != "//" || html[..i].ends_with('"') || html[..i].ends_with('=')
        });
        assert!(!found, "the statement holds {external:?}");
    }
    assert!(html.contains("<svg"), "charts are inline SVG");
}

#[test]
fn statement_is_byte_identical_on_a_re_run() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let calls = many_calls();
    write_usage(&data, "one", &calls[..250]);
    write_usage(&data, "two", &calls[150..]);
    let first = std::fs::read(report(root.path(), "2026-10").statement_path).expect("first");
    let second = std::fs::read(report(root.path(), "2026-10").statement_path).expect("second");
    assert!(first == second, "a re-run changed the statement");
}

#[tokio::test]
async fn hostile_app_ids_are_shown_as_text() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let script = call(
        "h1",
        "2026-10-03T10:00:00Z",
        "<script>alert(1)</script>",
        Some("gpt-4o"),
        10,
        1,
    );
    let formula = call("h2", "2026-10-04T10:00:00Z", "@SUM(1+1)", Some("gpt-4o"), 10, 1);
    let mut quote = call("h3", "2026-10-05T10:00:00Z", "\"><b>x</b>", Some("gpt-4o"), 10, 1);
    quote.deployment = Some("<img src=x onerror=alert(1)>".into());
    write_usage(&data, "a", &[script, formula, quote]);
    let report = write_chargeback(&options(root.path(), "2026-10"))
        .await
        .expect("report");
    let html = read(&report.statement_path);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>x"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(html.contains("@SUM(1+1)"), "{html}");
}

/// A month nobody used the reservation in: its whole cost shows as idle.
#[test]
fn an_unused_reservation_shows_its_cost_as_idle_capacity() {
    let root = tempfile::tempdir().expect("tempdir");
    small_fixture(&root.path().join("data"));
    let html = read(&report(root.path(), "2026-12").statement_path);
    let row = html
        .lines()
        .find(|l| l.starts_with("<tr><td><code>mini</code>"))
        .expect("the reservation's row");
    assert!(
        row.ends_with("<td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">0.00 USD</td><td class=\"n\">10.00 USD</td></tr>"),
        "{row}"
    );
}

/// Calls that carry both AOAI's counts and tokentally's estimate give each
/// model's drift, signed, as a percentage of the reported count.
#[test]
fn estimate_drift_is_shown_per_model() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut compared = call(
        "d1",
        "2026-10-03T10:00:00Z",
        "payroll-bot",
        Some("gpt-4o"),
        1000,
        400,
    );
    compared.estimated_prompt_tokens = Some(1010);
    compared.estimated_completion_tokens = Some(380);
    write_usage(&root.path().join("data"), "drift", &[compared]);
    let html = read(&report(root.path(), "2026-10").statement_path);
    let row = html
        .lines()
        .find(|l| l.contains("<td><code>gpt-4o</code></td>") && l.contains("%"))
        .unwrap_or_default();
    assert!(row.contains("+1.0 %") && row.contains("-5.0 %"), "{row}\n{html}");
}

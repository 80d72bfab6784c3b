//! The statement as a person sees it: the README's first command, then the page
//! opened offline in Debian's chromium through playwright-core
//! (`tests/browser/statement.mjs`), which compares its totals with the
//! chargeback CSV, finds every cost center's section, refuses and records any
//! request, and saves a screenshot and the page printed to PDF under the test's output
//! (`target/tmp/browser/`).

use crate::support::{repo_like, repo_root, tokentally};
use std::path::Path;
use std::process::Command;

#[test]
fn the_statement_opens_offline_in_a_browser_and_matches_the_chargeback() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    tokentally(dir.path(), &["run"], 0);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let shot = shots.join("statement-2026-10.png");
    let _ = std::fs::remove_file(&shot);
    let script = repo_root().join("tests/browser/statement.mjs");
    let output = Command::new("node")
        .arg(&script)
        .arg(dir.path().join("out"))
        .arg("2026-10")
        .arg(&shot)
        .output()
        .unwrap_or_else(|e| panic!("running node: {e} (scripts/test installs chromium and playwright-core)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "browser check failed:\n{text}");
    assert!(text.contains("statement (browser): ok"), "{text}");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {} is {size} bytes", shot.display());
}

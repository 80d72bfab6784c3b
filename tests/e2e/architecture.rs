//! ARCHITECTURE.md stays the map of the tree: every crate has its section,
//! every source file a section names exists, and the crates depend on each
//! other only as its dependency rule says.

use super::support::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The dependency rule of ARCHITECTURE.md: the workspace crates each crate may
/// name under `[dependencies]` (dev-dependencies may reach further).
const ALLOWED: [(&str, &[&str]); 10] = [
    ("tokentally-core", &[]),
    ("tokentally-store", &[]),
    ("tokentally-kafka", &[]),
    ("tokentally-testdata", &["tokentally-core"]),
    ("tokentally-parse", &["tokentally-core"]),
    (
        "tokentally-ingest",
        &[
            "tokentally-core",
            "tokentally-parse",
            "tokentally-store",
            "tokentally-kafka",
        ],
    ),
    ("tokentally-proxy", &["tokentally-core", "tokentally-kafka"]),
    ("tokentally-report", &["tokentally-core", "tokentally-store"]),
    ("tokentally-sample", &["tokentally-core", "tokentally-parse"]),
    (
        "tokentally-cli",
        &[
            "tokentally-core",
            "tokentally-parse",
            "tokentally-ingest",
            "tokentally-kafka",
            "tokentally-report",
            "tokentally-proxy",
            "tokentally-sample",
            "tokentally-store",
        ],
    ),
];

fn crates(root: &Path) -> BTreeSet<String> {
    fs::read_dir(root.join("crates"))
        .expect("crates/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| root.join("crates").join(name).join("Cargo.toml").is_file())
        .collect()
}

/// Each `### \`crates/NAME\`` section's text, by crate.
fn sections(map: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in map.split("\n### ").skip(1) {
        let (heading, body) = part.split_once('\n').unwrap_or((part, ""));
        if let Some(name) = heading.strip_prefix("`crates/").and_then(|h| h.strip_suffix('`')) {
            let body = body.split("\n## ").next().unwrap_or(body);
            out.insert(name.to_owned(), body.to_owned());
        }
    }
    out
}

/// Every file below `dir`, as paths relative to it.
fn files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().expect("type").is_dir() {
            files(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

#[test]
fn every_crate_has_its_section_and_every_named_file_exists() {
    let root = repo_root();
    let map = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let sections = sections(&map);
    let crates = crates(&root);
    let mapped: BTreeSet<String> = sections.keys().cloned().collect();
    assert_eq!(
        mapped, crates,
        "ARCHITECTURE.md's crate sections and crates/ differ"
    );

    let mut missing = Vec::new();
    for (name, text) in &sections {
        let mut known = Vec::new();
        files(&root.join("crates").join(name), "", &mut known);
        // `foo.rs`, `dir/foo.rs`: a file of this crate, named from anywhere below
        // it; `tokentally-x/src/foo.rs`: a file of another crate.
        for quoted in text.split('`').skip(1).step_by(2) {
            let is_file = quoted.ends_with(".rs") && !quoted.contains(' ');
            let found = if quoted.starts_with("tokentally-") {
                root.join("crates").join(quoted).is_file()
            } else {
                known
                    .iter()
                    .any(|k| k == quoted || k.ends_with(&format!("/{quoted}")))
            };
            if is_file && !found {
                missing.push(format!("{name}: {quoted}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names files that do not exist: {missing:?}"
    );
}

#[test]
fn crates_depend_on_each_other_only_as_the_rule_says() {
    let root = repo_root();
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(name, deps)| (*name, deps.iter().copied().collect()))
        .collect();
    let crates = crates(&root);
    let ruled: BTreeSet<String> = allowed.keys().map(|k| (*k).to_owned()).collect();
    assert_eq!(ruled, crates, "a crate the dependency rule does not name");
    for name in &crates {
        let text = fs::read_to_string(root.join("crates").join(name).join("Cargo.toml")).expect("Cargo.toml");
        let manifest: toml::Table = text.parse().expect("Cargo.toml parses");
        let deps: BTreeSet<&str> = manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|t| {
                t.keys()
                    .map(String::as_str)
                    .filter(|d| d.starts_with("tokentally-"))
                    .collect()
            })
            .unwrap_or_default();
        let extra: Vec<&&str> = deps.difference(&allowed[name.as_str()]).collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, which the rule does not allow"
        );
    }
}

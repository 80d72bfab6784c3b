use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (tests/ lives there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Runs `tokentally` with `args` in `cwd`; panics with its output if the exit
/// status is not `expected`.
pub fn tokentally(cwd: &Path, args: &[&str], expected: i32) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_tokentally"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run tokentally");
    assert_eq!(
        output.status.code(),
        Some(expected),
        "tokentally {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the independent Python checker; the test fails if Python, pyarrow or
/// DuckDB is missing (scripts/test installs them) — it never skips.
pub fn check_outputs(out: &Path, month: &str) {
    let script = repo_root().join("tests/python/check_outputs.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .arg(script)
        .arg(out)
        .arg(month)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (scripts/test installs the Python checkers)"));
    assert!(
        output.status.success(),
        "independent check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Generates `calls` sample calls for October 2026 into `dir/name`.
pub fn sample(dir: &Path, name: &str, calls: usize, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let calls = calls.to_string();
    let seed = seed.to_string();
    let path_arg = path.to_str().expect("utf-8 path");
    tokentally(
        dir,
        &["sample", "--out", path_arg, "--calls", &calls, "--seed", &seed],
        0,
    );
    path
}

/// Writes a pipeline config reading `inputs` into `dir/out`, with the repo's prices.
pub fn config(dir: &Path, inputs: &[&Path]) -> PathBuf {
    let files: Vec<String> = inputs
        .iter()
        .map(|p| format!("{:?}", p.to_str().expect("utf-8")))
        .collect();
    let prices = repo_root().join("pipelines/prices.csv");
    let text = format!(
        "[input]\nfiles = [{}]\n\n[output]\ndir = \"out\"\n\n[report]\nmonth = \"2026-10\"\nprices = {:?}\n",
        files.join(", "),
        prices.to_str().expect("utf-8")
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (tests/ lives there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `tokentally ARGS` in `cwd`, with no `RUST_LOG` or `TOKENTALLY_CONFIG` from the
/// test's own environment.
pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokentally"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("TOKENTALLY_CONFIG");
    command
}

/// `output` of `tokentally ARGS`; panics with it if the exit status is not `expected`.
pub fn expect_status(output: Output, args: &[&str], expected: i32) -> Output {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "tokentally {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `tokentally` with `args` in `cwd`; panics with its output if the exit
/// status is not `expected`.
pub fn tokentally(cwd: &Path, args: &[&str], expected: i32) -> Output {
    let output = command(cwd, args).output().expect("run tokentally");
    expect_status(output, args, expected)
}

/// Like [`tokentally`], with `input` on stdin (not a terminal, so `sql` reads it).
pub fn tokentally_with_stdin(cwd: &Path, args: &[&str], input: &str, expected: i32) -> Output {
    use std::io::Write as _;
    let mut child = command(cwd, args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tokentally");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let output = child.wait_with_output().expect("wait for tokentally");
    expect_status(output, args, expected)
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch copy of the repository's pipeline tables (prices, deployments, cost
/// centers) under `dir/pipelines/`, with `dir/sample-data` linked to the committed
/// sample, so commands run in `dir` as at the repository root.
pub fn repo_like(dir: &Path) {
    let root = repo_root();
    std::fs::create_dir(dir.join("pipelines")).expect("mkdir");
    for file in ["prices.csv", "deployments.csv", "cost-centers.csv"] {
        std::fs::copy(
            root.join("pipelines").join(file),
            dir.join("pipelines").join(file),
        )
        .expect("copy pipeline table");
    }
    std::os::unix::fs::symlink(root.join("sample-data"), dir.join("sample-data")).expect("link");
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

/// Runs the independent invoice checker (`tests/python/check_invoice.py`) on
/// `out`'s detail and chargeback for `month` against the export and the
/// deployment table.
pub fn check_invoice(out: &Path, month: &str, invoice: &Path, deployments: &Path) {
    let script = repo_root().join("tests/python/check_invoice.py");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .arg(script)
        .arg(out)
        .arg(month)
        .arg(invoice)
        .arg(deployments)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (scripts/test installs the Python checkers)"));
    assert!(
        output.status.success(),
        "independent invoice check failed:\n{}{}",
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

/// A `[report]` section for October 2026 with the repo's price, deployment and
/// cost-center tables.
pub fn report_section() -> String {
    format!(
        "[report]\nmonth = \"2026-10\"\nprices = {:?}\ndeployments = {:?}\ncost_centers = {:?}\n",
        table("prices.csv"),
        table("deployments.csv"),
        table("cost-centers.csv"),
    )
}

/// A table shipped in `pipelines/`, as an absolute path string.
pub fn table(name: &str) -> String {
    let path = repo_root().join("pipelines").join(name);
    path.to_str().expect("utf-8").to_owned()
}

/// `report` for October 2026 into `out` with the repo's price, deployment and
/// cost-center tables (the flags [`report_section`] sets in a config), then `extra`.
pub fn report_args(out: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["report", "--month", "2026-10", "--out", out]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    for (flag, name) in [
        ("--prices", "prices.csv"),
        ("--deployments", "deployments.csv"),
        ("--cost-centers", "cost-centers.csv"),
    ] {
        args.push(flag.to_owned());
        args.push(table(name));
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// Owned arguments as the `&str`s the runners take.
pub fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Writes a pipeline config reading `inputs` into `dir/out`, with the repo's
/// prices, deployments and cost centers.
pub fn config(dir: &Path, inputs: &[&Path]) -> PathBuf {
    let files: Vec<String> = inputs
        .iter()
        .map(|p| format!("{:?}", p.to_str().expect("utf-8")))
        .collect();
    let text = format!(
        "[input]\nfiles = [{}]\n\n[output]\ndir = \"out\"\n\n{}",
        files.join(", "),
        report_section()
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `tokentally ARGS` on a terminal (`script` from util-linux gives it one, stdin
/// being that terminal), its screen collected as it comes.
pub struct OnTerminal {
    child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    shown: std::sync::Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl OnTerminal {
    pub fn start(cwd: &Path, args: &str, env: &[(&str, &str)]) -> Self {
        use std::io::Read as _;
        use std::process::Stdio;
        let command = format!("{} {args}", env!("CARGO_BIN_EXE_tokentally"));
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(cwd)
            .env_remove("TOKENTALLY_CONFIG")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux)");
        let shown = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut out = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let reader = {
            let shown = std::sync::Arc::clone(&shown);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = out.read(&mut buf) {
                    shown
                        .lock()
                        .expect("lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        Self {
            child,
            stdin,
            shown,
            reader,
        }
    }

    /// The screen so far.
    pub fn shown(&self) -> String {
        self.shown.lock().expect("lock").clone()
    }

    /// Waits (bounded by the test runner's timeout) until `ready` holds of the screen.
    pub fn wait_for(&self, ready: impl Fn(&str) -> bool) {
        while !ready(&self.shown.lock().expect("lock")) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Closes stdin, waits for the exit; whether it succeeded and the whole screen.
    pub fn finish(self) -> (bool, String) {
        let Self {
            mut child,
            stdin,
            shown,
            reader,
        } = self;
        drop(stdin);
        let status = child.wait().expect("wait");
        reader.join().expect("reader");
        let text = shown.lock().expect("lock").clone();
        (status.success(), text)
    }
}

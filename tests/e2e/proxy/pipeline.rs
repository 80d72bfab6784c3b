//! The whole path with the real binaries: `tokentally proxy` records calls made
//! the way APIM routes them (x-tokentally-context, signed), SIGTERM stops it
//! cleanly, and `tokentally run` ingests the topic and charges each app what it used.

use super::{
    CONTEXT_SECRET, TRUST, apim_headers, bearer, chat_body, chat_path, client, config_text, now, topic,
    upstream,
};
use crate::broker;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

/// What APIM's route-streaming policy sends: request id and time, the caller as
/// APIM knows it, and which AOAI endpoint the call was meant for; signed.
fn context(
    request_id: &str,
    time: &str,
    upstream: &str,
    caller: serde_json::Value,
) -> [(&'static str, String); 2] {
    let context = json!({"request_id": request_id, "request_time": time, "caller": caller,
                         "region": "swedencentral", "upstream": upstream});
    apim_headers(&context, &chat_path("gpt-4o"), now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_records_go_through_ingest_and_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    upstream.open_gate();
    let topic = topic("proxy-pipeline").await;
    std::fs::write(dir.path().join("salt.txt"), "e2e-salt").expect("salt");
    std::fs::write(dir.path().join("context-secret.txt"), CONTEXT_SECRET).expect("secret");
    let config = dir.path().join("proxy.toml");
    std::fs::write(
        &config,
        config_text(dir.path(), &upstream.url(), &broker::address(), &topic, TRUST),
    )
    .expect("config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_tokentally"))
        .args(["proxy", "--config", config.to_str().expect("utf-8")])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tokentally proxy");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("tokentally proxy listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let http = client(false);
    let url = |deployment: &str| {
        format!("http://{addr}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21")
    };
    // APIM names the app from the token it validated (validate-jwt's claims).
    let calls = [
        // Streamed without usage: estimated from the SSE the proxy recorded.
        ("r-1", "2026-10-20T10:00:00Z", Some("proxy-app-a"), None, true),
        // Not streamed: AOAI's reported usage (21 + 7).
        ("r-2", "2026-10-21T10:00:00Z", Some("proxy-app-b"), None, false),
        // A key-based caller without a subscription: charged to its fingerprint.
        ("r-3", "2026-10-22T10:00:00Z", None, Some("key-of-team-c"), false),
    ];
    for (id, time, app, key, stream) in &calls {
        let mut request = http.post(url("gpt-4o")).json(&chat_body(*stream));
        let caller = match app {
            Some(app) => json!({"ip": "10.0.0.9", "claims": {"appid": app}}),
            None => json!({"ip": "10.0.0.9"}),
        };
        for (name, value) in context(id, time, &upstream.url(), caller) {
            request = request.header(name, value);
        }
        if let Some(app) = app {
            request = request.header("authorization", bearer(app));
        }
        if let Some(key) = key {
            request = request.header("api-key", *key);
        }
        let response = request.send().await.expect("call");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    // An upstream outside the allow-list is refused, whatever the header says.
    let mut refused = http.post(url("gpt-4o"));
    for (name, value) in context(
        "r-4",
        "2026-10-23T10:00:00Z",
        "https://elsewhere.example",
        json!({}),
    ) {
        refused = refused.header(name, value);
    }
    let refused = refused
        .header("authorization", bearer("proxy-app-a"))
        .json(&chat_body(false))
        .send()
        .await
        .expect("call");
    assert_eq!(refused.status(), 502);
    let body = refused.text().await.expect("body");
    assert!(
        !body.contains("elsewhere.example"),
        "the 502 names no upstream: {body}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = child.wait().expect("proxy exits");
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stats line");
    let stats: serde_json::Value = serde_json::from_str(rest.trim()).expect("stats JSON");
    assert_eq!(stats["records_sent"], json!(3), "{stats}");
    assert_eq!(stats["records_lost"], json!(0), "{stats}");

    let pipeline = broker::kafka_config(
        dir.path(),
        "pipeline.toml",
        &topic,
        &broker::unique("proxy-group"),
        "",
    );
    crate::support::tokentally(
        dir.path(),
        &["run", "--config", pipeline.to_str().expect("utf-8")],
        0,
    );
    let csv = std::fs::read_to_string(dir.path().join("out/chargeback-2026-10.csv")).expect("chargeback");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let mut by_app: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let n = |name: &str| cells[col(name)].parse::<u64>().unwrap_or(0);
        let entry = by_app.entry(cells[col("app_id")].to_owned()).or_default();
        entry.0 += n("calls");
        entry.1 += n("prompt_tokens");
        entry.2 += n("completion_tokens");
        entry.3 += n("estimated_calls");
    }
    let fingerprint = tokentally_proxy::fingerprint("e2e-salt", b"key-of-team-c");
    let a = by_app["proxy-app-a"];
    assert!(a.0 == 1 && a.1 > 0 && a.2 > 0 && a.3 == 1, "{by_app:?}");
    assert_eq!(by_app["proxy-app-b"], (1, 21, 7, 0), "{by_app:?}");
    assert_eq!(
        by_app[&format!("api-key:{fingerprint}")],
        (1, 21, 7, 0),
        "{by_app:?}"
    );
    assert_eq!(by_app.values().map(|v| v.0).sum::<u64>(), 3, "{by_app:?}");
}

//! A spool that never jams and never leaks: an entry the broker refuses for good
//! is set aside and the ones behind it still go; records of refused calls never
//! take its room; and only the proxy's user can read what waits there.

use super::{credential, path, post};
use crate::broker;
use crate::proxy::{Caller, Fixture, config_text, eventually, read_records, start_proxy, topic};
use serde_json::json;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

/// A spooled entry the broker can never take (its key is far too long) goes to
/// `dead-letter/` and is counted; the record behind it is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_entry_does_not_jam_the_spool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).expect("spool");
    let poison_key = "k".repeat(200_000);
    std::fs::write(
        spool.join("00000000000000000001-0000000000.rec"),
        format!("{poison_key}\n{{}}"),
    )
    .expect("poison");
    let record = json!({"schema": 1, "request_id": "behind-the-poison", "request_time": "2026-10-20T10:00:00Z",
                        "operation": "/openai/deployments/gpt-4o/chat/completions", "request": null,
                        "response": {"status": 200, "body": null, "complete": true}, "backend": "http://a"});
    std::fs::write(
        spool.join("00000000000000000002-0000000000.rec"),
        format!("behind-the-poison\n{record}"),
    )
    .expect("good entry");
    let topic = topic("adv-poison").await;
    let text = config_text(dir.path(), "http://127.0.0.1:9", &broker::address(), &topic, "");
    let proxy = start_proxy(dir.path(), &text).await;

    eventually("the entry behind the poison delivered", || {
        proxy.stats().records_resent == 1
    })
    .await;
    let records = read_records(&topic, 1);
    assert_eq!(records[0].1["request_id"], json!("behind-the-poison"));
    let stats = proxy.stats();
    assert_eq!((stats.records_dead_lettered, stats.records_lost), (1, 1));
    assert_eq!(entries(&spool.join(tokentally_proxy::DEAD_LETTER)).len(), 1);
    assert!(entries(&spool).is_empty(), "nothing left to resend");
    assert!(
        stats.spool_bytes > 200_000,
        "the dead letter still counts against max_bytes"
    );
    proxy.shutdown();
    proxy.wait().await.expect("stop");
}

/// While the broker is away, a call's record is spooled (owner-only files), and
/// the record of a call upstream refused is not: floods of refused calls cannot
/// fill the spool ahead of records of real usage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_calls_never_take_the_spools_room() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let brokers = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let fx = Fixture::with("adv-refused-spool", &brokers, "").await;
    let refused = "/openai/deployments/refused/chat/completions";
    for _ in 0..3 {
        let response = post(
            fx.proxy.addr(),
            refused,
            &[credential(Caller::Key("wrong-key"))],
            false,
        )
        .await;
        assert_eq!(response.status(), 401);
    }
    let served = post(
        fx.proxy.addr(),
        &path(),
        &[credential(Caller::Key("right-key"))],
        false,
    )
    .await;
    assert_eq!(served.status(), 200);
    eventually("all four records settled", || {
        let stats = fx.proxy.stats();
        stats.records_spooled + stats.refused_records_dropped == 4
    })
    .await;
    let stats = fx.proxy.stats();
    assert_eq!(
        (
            stats.records_spooled,
            stats.refused_records_dropped,
            stats.records_lost
        ),
        (1, 3, 0)
    );
    let spool = fx.dir.path().join("spool");
    let files = entries(&spool);
    assert_eq!(files.len(), 1);
    for path in files.iter().chain([&spool]) {
        let mode = std::fs::metadata(path).expect("stat").permissions().mode() & 0o777;
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{}", path.display());
    }
    fx.stop().await;
}

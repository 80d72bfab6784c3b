//! The broker away: calls go on unharmed, records wait in the spool, and reach the
//! broker once it is back, without a restart.

use super::{bearer, chat_body, client, config_text, eventually, read_records, start_proxy, topic, upstream};
use crate::broker;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay in front of the real broker that refuses connections until
/// `open` is set: the broker as the proxy sees it goes down and comes back.
/// (It only carries the bootstrap connection; tansu then advertises itself.)
async fn relay(open: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !open.load(Ordering::SeqCst) {
                drop(inbound);
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(broker::address()).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_wait_in_the_spool_while_the_broker_is_away_then_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    upstream.open_gate();
    let topic = topic("proxy-outage").await;
    let open = Arc::new(AtomicBool::new(false));
    let brokers = relay(Arc::clone(&open)).await;
    let proxy = start_proxy(
        dir.path(),
        &config_text(dir.path(), &upstream.url(), &brokers, &topic, ""),
    )
    .await;

    let http = client(false);
    for _ in 0..3 {
        let response = http
            .post(format!(
                "http://{}/openai/deployments/gpt-4o/chat/completions",
                proxy.addr()
            ))
            .header("authorization", bearer("app-outage"))
            .json(&chat_body(true))
            .send()
            .await
            .expect("calls succeed while the broker is away");
        assert_eq!(response.status(), 200);
        assert!(response.text().await.expect("body").ends_with("data: [DONE]\n\n"));
    }
    eventually("three records spooled", || proxy.stats().records_spooled == 3).await;
    assert!(proxy.stats().spool_bytes > 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("spool"))
            .expect("spool")
            .count(),
        3
    );

    open.store(true, Ordering::SeqCst);
    eventually("the spool delivered", || proxy.stats().records_resent == 3).await;
    let stats = proxy.stats();
    assert_eq!((stats.spool_bytes, stats.records_lost), (0, 0));
    let records = read_records(&topic, 3);
    let ids: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|(_, r)| r["request_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3);
    for (_, record) in &records {
        assert_eq!(record["caller"]["claims"]["appid"], "app-outage");
    }
    proxy.shutdown();
    proxy.wait().await.expect("stop");
}

/// A full spool loses records, and says so: counted, and the run's exit code
/// (the binary's) reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_counts_what_it_loses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let upstream = upstream::start().await;
    upstream.open_gate();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let brokers = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let mut text = config_text(dir.path(), &upstream.url(), &brokers, "nowhere", "");
    text.push_str("max_bytes = 1\n");
    let proxy = start_proxy(dir.path(), &text).await;
    let response = client(false)
        .post(format!(
            "http://{}/openai/deployments/gpt-4o/chat/completions",
            proxy.addr()
        ))
        .header("authorization", bearer("app-lost"))
        .json(&chat_body(false))
        .send()
        .await
        .expect("the call still succeeds");
    assert_eq!(response.status(), 200);
    eventually("the loss counted", || proxy.stats().records_lost == 1).await;
    proxy.shutdown();
    let stats = proxy.wait().await.expect("stop");
    assert_eq!(
        (stats.records_sent, stats.records_spooled, stats.records_lost),
        (0, 0, 1)
    );
}

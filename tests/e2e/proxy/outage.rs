//! The broker away: calls go on unharmed, records wait in the spool, and reach the
//! broker once it is back, without a restart.

use super::{Caller, Fixture, call, eventually, ingest_topic, read_records};
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
    let open = Arc::new(AtomicBool::new(false));
    let fx = Fixture::with("proxy-outage", &relay(Arc::clone(&open)).await, "").await;
    fx.upstream.open_gate();
    for _ in 0..3 {
        let response = call(fx.proxy.addr(), "gpt-4o", Caller::App("app-outage"), true).await;
        assert_eq!(response.status(), 200, "calls succeed while the broker is away");
        assert!(response.text().await.expect("body").ends_with("data: [DONE]\n\n"));
    }
    eventually("three records spooled", || fx.proxy.stats().records_spooled == 3).await;
    assert!(fx.proxy.stats().spool_bytes > 0);
    let spooled = std::fs::read_dir(fx.dir.path().join("spool"))
        .expect("spool")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rec"))
        .count();
    assert_eq!(spooled, 3);

    open.store(true, Ordering::SeqCst);
    eventually("the spool delivered", || fx.proxy.stats().records_resent == 3).await;
    let stats = fx.proxy.stats();
    assert_eq!((stats.spool_bytes, stats.records_lost), (0, 0));
    let records = read_records(&fx.topic, 3);
    let ids: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|(_, r)| r["request_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3);
    for (_, record) in &records {
        assert_eq!(record["caller"]["claims"]["appid"], "app-outage");
    }
    fx.stop().await;
}

/// A full spool loses records, and says so: counted (and the binary exits 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_counts_what_it_loses() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let brokers = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let fx = Fixture::with("proxy-lost", &brokers, "max_bytes = 1\n").await;
    let response = call(fx.proxy.addr(), "gpt-4o", Caller::App("app-lost"), false).await;
    assert_eq!(response.status(), 200, "the call still succeeds");
    eventually("the loss counted", || fx.proxy.stats().records_lost == 1).await;
    let stats = fx.stop().await;
    assert_eq!(
        (stats.records_sent, stats.records_spooled, stats.records_lost),
        (0, 0, 1)
    );
}

/// A record split into parts is spooled whole (one entry, not a file per part) and
/// resent as all its parts together, so ingest joins them into one row however
/// long the broker was away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_record_is_spooled_whole_and_joined_after_the_outage() {
    let open = Arc::new(AtomicBool::new(false));
    let fx = Fixture::with("proxy-split-outage", &relay(Arc::clone(&open)).await, "").await;
    let response = call(fx.proxy.addr(), "incompressible", Caller::App("app-split"), false).await;
    assert_eq!(
        response.status(),
        200,
        "the call succeeds while the broker is away"
    );
    response.bytes().await.expect("body");
    eventually("the record spooled", || fx.proxy.stats().records_spooled == 1).await;
    let spooled: Vec<_> = std::fs::read_dir(fx.dir.path().join("spool"))
        .expect("spool")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rec"))
        .collect();
    assert_eq!(
        spooled.len(),
        1,
        "one spool entry for the whole record: {spooled:?}"
    );

    open.store(true, Ordering::SeqCst);
    eventually("the spool delivered", || fx.proxy.stats().records_resent == 1).await;
    let stats = fx.proxy.stats();
    assert_eq!(
        (stats.spool_bytes, stats.records_lost, stats.records_split),
        (0, 0, 1)
    );
    let Fixture {
        dir, topic, proxy, ..
    } = fx;
    proxy.shutdown();
    proxy.wait().await.expect("the proxy stops cleanly");

    let summary = ingest_topic(dir.path(), &topic);
    assert!(
        summary["records"].as_u64().unwrap_or(0) > 1,
        "parts are events: {summary}"
    );
    assert_eq!(
        (summary["rows_written"].as_u64(), summary["quarantined"].as_u64()),
        (Some(1), Some(0)),
        "one whole row: {summary}"
    );
}

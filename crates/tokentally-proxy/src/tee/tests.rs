//! The tee's pacing, against a stand-in for hyper's body channel (it holds one
//! chunk; the next is there only after the sending task has run again).

use super::*;
use crate::record::CallInfo;
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

fn capture(dir: &std::path::Path) -> Capture {
    let path = dir.join("proxy.toml");
    let spool = dir.join("spool");
    std::fs::write(
        &path,
        format!(
            "[proxy]\nlisten = \"127.0.0.1:0\"\nupstreams = [{{ url = \"http://127.0.0.1:9\" }}]\n\n\
             [kafka]\nbrokers = \"127.0.0.1:9\"\ntopic = \"t\"\n\n[spool]\ndir = {spool:?}\n"
        ),
    )
    .expect("config written");
    let config = crate::ProxyConfig::from_file(&path).expect("config");
    let delivery = Delivery::new(&config, tokio::runtime::Handle::current()).expect("delivery");
    Capture {
        info: CallInfo {
            request_id: "r".into(),
            request_time: "2026-11-23T10:00:00.000Z".into(),
            caller: serde_json::Map::new(),
            deployment: None,
            api_version: None,
            operation: "/".into(),
            request: None,
            region: None,
            backend: "http://127.0.0.1:9".into(),
            started: Instant::now(),
            caller_from_credentials: true,
        },
        status: 200,
        sse: true,
        body: Vec::new(),
        limit: 1 << 20,
        truncated: false,
        expected_len: None,
        received: 0,
        delivery,
        reserved: Reserved {
            slot: Arc::new(tokio::sync::Semaphore::new(1))
                .try_acquire_owned()
                .expect("a free slot"),
            body: crate::budget::Budget::new(0).share(),
            capture: crate::budget::Budget::new(1 << 20).share(),
        },
    }
}

fn event(i: usize) -> Bytes {
    Bytes::from(format!("data: {{\"n\":{i}}}\n\n"))
}

/// Upstream's body as hyper hands it over: a channel that holds one chunk, fed by
/// a task of its own. Sends `burst` events at once, waits for `hold`, sends one more.
fn upstream(burst: usize, hold: Arc<Notify>) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        for i in 0..burst {
            tx.send(event(i)).await.expect("tee alive");
        }
        hold.notified().await;
        tx.send(event(burst)).await.expect("tee alive");
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) }).boxed()
}

/// The next item, polled as hyper's connection polls a body: once more at once
/// when it is pending (hyper loops while the connection can take more).
async fn next_as_hyper_polls<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| match stream.poll_next_unpin(cx) {
        Poll::Pending => stream.poll_next_unpin(cx),
        ready => ready,
    })
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn a_burst_is_one_write_and_nothing_waits_for_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hold = Arc::new(Notify::new());
    let mut tee = Tee::new(upstream(20, Arc::clone(&hold)), capture(dir.path()));
    let burst: Vec<u8> = (0..20).flat_map(|i| event(i).to_vec()).collect();

    // Everything sent so far comes out, joined, while upstream still holds the rest.
    let mut got = Vec::new();
    let mut writes = 0;
    while got.len() < burst.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(5), next_as_hyper_polls(&mut tee))
            .await
            .expect("what upstream sent is passed on without waiting for more")
            .expect("not the end")
            .expect("no error");
        got.extend_from_slice(&chunk);
        writes += 1;
    }
    assert_eq!(got, burst);
    assert!(writes < 4, "20 events that arrived together took {writes} writes");

    hold.notify_one();
    let last = tee.next().await.expect("the held-back event").expect("no error");
    assert_eq!(last, event(20));
    assert!(tee.next().await.is_none(), "then the end");
    let capture_taken = tee.capture.is_none();
    assert!(capture_taken, "the end was recorded");
}

#[tokio::test(flavor = "current_thread")]
async fn an_error_comes_after_the_data_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chunks: Vec<Result<Bytes, String>> = vec![Ok(event(0)), Ok(event(1)), Err("reset".into())];
    let mut tee = Tee::new(futures_util::stream::iter(chunks), capture(dir.path()));
    let data = tee.next().await.expect("data").expect("no error yet");
    assert_eq!(data, [event(0), event(1)].concat());
    let error = tee.next().await.expect("the break").expect_err("an error");
    assert!(error.to_string().contains("reset"));
    assert!(tee.next().await.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn a_spent_capture_budget_cuts_the_record_not_the_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut capture = capture(dir.path());
    capture.reserved.capture = crate::budget::Budget::new(4 << 10).share();
    capture.push(&[b'a'; 3000]);
    assert!(!capture.truncated);
    capture.push(&[b'b'; 3000]);
    assert!(capture.truncated, "past the budget the record is cut short");
    assert_eq!(capture.body.len(), 3000);
    assert_eq!(capture.received, 6000, "everything still counted as passed on");
    let stats = capture.delivery.snapshot();
    assert_eq!(stats.captures_cut_short, 1);
}

/// A finished call's slot stays taken while its record waits for the broker (here
/// unreachable), and is free once the record is settled (spooled at close).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_holds_its_slot_until_it_is_settled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let slots = Arc::new(tokio::sync::Semaphore::new(1));
    let mut capture = capture(dir.path());
    capture.reserved.slot = Arc::clone(&slots).try_acquire_owned().expect("a free slot");
    let delivery = Arc::clone(&capture.delivery);
    capture.finish(Ending::Complete);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(slots.available_permits(), 0, "the record is not settled yet");
    delivery.close(Duration::from_millis(100)).await;
    assert_eq!(slots.available_permits(), 1, "settled, the slot is free");
    assert_eq!(delivery.snapshot().records_spooled, 1);
}

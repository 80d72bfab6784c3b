//! Out of file descriptors: every `accept` fails at once while connections wait in
//! the backlog. The proxy must pause between tries (not spin a core on them) and
//! serve again once descriptors are free. nextest runs each test in a process of
//! its own, so lowering this process's limit touches no other test.

use super::{credential, path, post};
use crate::broker;
use crate::proxy::{Caller, Fixture, eventually};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_pauses_accepting_and_recovers() {
    let rest = "\n[limits]\nmax_connections = 100000\nheader_read_timeout_secs = 120\n";
    let fx = Fixture::configured("adv-descriptors", &broker::address(), "", rest).await;
    fx.upstream.open_gate();
    let addr = fx.proxy.addr();
    let before = getrlimit(Resource::Nofile);
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count) as u64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(open + 40),
            maximum: before.maximum,
        },
    )
    .expect("lower RLIMIT_NOFILE");
    // Connections that send nothing, until this process has no descriptor left:
    // the proxy's accepts then fail while the last ones wait in the backlog.
    let mut held = Vec::new();
    while let Ok(stream) = std::net::TcpStream::connect(addr) {
        held.push(stream);
        assert!(held.len() < 1000, "the descriptor limit did not bite");
    }
    eventually("accept failures counted", || fx.proxy.stats().accept_errors > 0).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let errors = fx.proxy.stats().accept_errors;
    // Pauses of 10 ms doubling to 1 s allow about a dozen tries in this time;
    // retrying at once would fail hundreds of thousands of times.
    assert!(
        errors < 100,
        "{errors} failed accepts: the proxy does not pause between them"
    );

    drop(held);
    setrlimit(Resource::Nofile, before).expect("restore RLIMIT_NOFILE");
    let response = post(addr, &path(), &[credential(Caller::App("app-after"))], false).await;
    assert_eq!(response.status(), 200, "the proxy serves again");
    fx.stop().await;
}

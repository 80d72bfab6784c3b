//! What the parse benches share.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use rustix::time::{ClockId, clock_gettime};
use std::time::Duration;

/// Criterion measurement of the CPU time of the benchmarking thread.
///
/// The bench machine is shared: under load, wall-clock time counts the time the
/// thread waited for a core. The targets are per core, so the figures that are
/// compared with them count only the time the thread ran. Reported in the same
/// units as wall-clock time.
pub struct ThreadCpu(WallTime);

impl std::fmt::Debug for ThreadCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadCpu")
    }
}

impl ThreadCpu {
    pub fn new() -> Self {
        Self(WallTime)
    }
}

fn now() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    let secs = u64::try_from(t.tv_sec).unwrap_or_default();
    let nanos = u32::try_from(t.tv_nsec).unwrap_or_default();
    Duration::new(secs, nanos)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        now()
    }
    fn end(&self, start: Duration) -> Duration {
        now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

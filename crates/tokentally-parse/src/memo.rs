//! When the per-thread memo tables (piece counts in `piece_cache.rs`, token
//! claims in `claims_memo.rs`) were last told to forget.
//!
//! Each thread owns its tables, so no thread can empty another's; instead a
//! process-wide generation is bumped and every table empties itself before its
//! next use under a newer one. `CountCache::clear` forgets this way, so a
//! cleared cache means a cold start for every memoized count and claim.

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Makes every thread's memo tables forget what they hold.
pub(crate) fn forget_all() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The current generation: a table that remembers an older one is stale.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

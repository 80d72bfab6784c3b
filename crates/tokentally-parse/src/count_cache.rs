//! A bounded, process-wide cache of token counts of prompt message texts.
//!
//! Prompts repeat across calls (system prompts, chat history resent on every turn),
//! so counting each distinct text once makes estimation cost follow unique text,
//! not total text. It is process-wide rather than passed in so that `parse_record`
//! keeps its pure signature: the cache is memoization only (same input, same
//! count), it never changes a result, and it does no I/O, so the parser stays
//! sans-IO. Bounded: when full it is cleared, so memory stays under
//! [`CAPACITY`] entries whatever the input. Other instances exist for measuring
//! (benches compare a cold cache with none).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use tokentally_core::Encoding;

/// Entries kept before the cache is cleared (~16 bytes each: a few MB at most).
const CAPACITY: usize = 1 << 18;
/// Texts shorter than this are tokenized directly: hashing costs about as much.
const MIN_LEN: usize = 64;

static GLOBAL: LazyLock<CountCache> = LazyLock::new(CountCache::default);

/// Lookups since the cache was made or cleared. Texts under the length threshold
/// bypass the cache and are in neither count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

impl CacheStats {
    /// Share of lookups answered from the cache (0 when there were none).
    pub fn hit_rate(self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// Token counts by content hash, bounded to [`CAPACITY`] entries.
#[derive(Debug, Default)]
pub struct CountCache {
    map: Mutex<HashMap<u64, i64>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CountCache {
    /// The instance `parse_record` uses.
    pub fn global() -> &'static Self {
        &GLOBAL
    }

    /// The count of `text`, from the cache or from `count` (then remembered). The
    /// key is xxh3-64 of the text seeded by the encoding; a 64-bit collision among
    /// at most [`CAPACITY`] entries is vanishingly unlikely (~2⁻²⁸).
    pub fn count(&self, encoding: Encoding, text: &str, count: impl FnOnce() -> i64) -> i64 {
        if text.len() < MIN_LEN {
            return count();
        }
        let seed = match encoding {
            Encoding::O200kBase => 0x0200,
            Encoding::Cl100kBase => 0x0100,
        };
        let key = xxhash_rust::xxh3::xxh3_64_with_seed(text.as_bytes(), seed);
        // A poisoned lock only means another thread panicked mid-insert; the map is
        // still a valid map of correct counts.
        let lookup = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        if let Some(n) = lookup {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return n;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let n = count();
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, n);
        n
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Forgets every count and zeroes the statistics; also empties the memo
    /// tables of every thread (piece counts, token claims: `memo.rs`), so that
    /// parsing after a clear starts cold.
    pub fn clear(&self) {
        crate::memo::forget_all();
        self.map.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.hits.store(0, Ordering::Relaxed);
        self.misses.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_text_is_counted_once() {
        let cache = CountCache::default();
        let text = "You are a helpful assistant for the payroll team. ".repeat(4);
        let mut calls = 0;
        let first = cache.count(Encoding::O200kBase, &text, || {
            calls += 1;
            42
        });
        let second = cache.count(Encoding::O200kBase, &text, || {
            calls += 1;
            0
        });
        assert_eq!((first, second, calls), (42, 42, 1));
        // Another encoding is another entry; short texts bypass the cache.
        assert_eq!(cache.count(Encoding::Cl100kBase, &text, || 7), 7);
        assert_eq!(cache.count(Encoding::O200kBase, "short", || 3), 3);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 2));
        assert!((stats.hit_rate() - 1.0 / 3.0).abs() < 1e-9);
        cache.clear();
        assert_eq!(cache.stats(), CacheStats::default());
        assert_eq!(cache.count(Encoding::O200kBase, &text, || 5), 5);
    }
}

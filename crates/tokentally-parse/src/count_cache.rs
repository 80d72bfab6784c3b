//! A bounded, process-wide cache of token counts of prompt message texts.
//!
//! Prompts repeat across calls (system prompts, chat history resent on every turn),
//! so counting each distinct text once makes estimation cost follow unique text,
//! not total text. It is process-wide rather than passed in so that `parse_record`
//! keeps its pure signature: the cache is memoization only (same input, same
//! count), it never changes a result, and it does no I/O, so the parser stays
//! sans-IO. Bounded: when full it is cleared, so memory stays under
//! [`CAPACITY`] entries whatever the input.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use tokentally_core::Encoding;

/// Entries kept before the cache is cleared (~16 bytes each: a few MB at most).
const CAPACITY: usize = 1 << 18;
/// Texts shorter than this are tokenized directly: hashing costs about as much.
const MIN_LEN: usize = 64;

static CACHE: LazyLock<Mutex<HashMap<u64, i64>>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

/// Hits and misses since the process started (for benchmarks and the run log).
pub fn stats() -> (u64, u64) {
    (HITS.load(Ordering::Relaxed), MISSES.load(Ordering::Relaxed))
}

/// The count of `text`, from the cache or from `count` (then remembered). The key
/// is xxh3-64 of the text seeded by the encoding; a 64-bit collision among at most
/// [`CAPACITY`] entries is vanishingly unlikely (~2⁻²⁸).
pub fn cached_count(encoding: Encoding, text: &str, count: impl FnOnce() -> i64) -> i64 {
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
    let lookup = CACHE
        .lock()
        .map_or_else(|e| e.into_inner().get(&key).copied(), |m| m.get(&key).copied());
    if let Some(n) = lookup {
        HITS.fetch_add(1, Ordering::Relaxed);
        return n;
    }
    MISSES.fetch_add(1, Ordering::Relaxed);
    let n = count();
    let mut map = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(key, n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_text_is_counted_once() {
        let text = "You are a helpful assistant for the payroll team. ".repeat(4);
        let mut calls = 0;
        let first = cached_count(Encoding::O200kBase, &text, || {
            calls += 1;
            42
        });
        let second = cached_count(Encoding::O200kBase, &text, || {
            calls += 1;
            0
        });
        assert_eq!((first, second, calls), (42, 42, 1));
        // Another encoding is another entry.
        assert_eq!(cached_count(Encoding::Cl100kBase, &text, || 7), 7);
    }
}

//! Token counts of recent short pre-tokenizer pieces, per thread, in a table
//! small enough to stay in the core's L2 cache.
//!
//! Why: text repeats its words, and each piece cost either a probe of the
//! vocabulary table (8 MB for o200k_base: a cache miss for all but the most
//! common pieces) or a run of the BPE encoder (allocations and a merge loop).
//! A direct-mapped table of recent pieces answers most pieces from memory that
//! is already cached.
//!
//! Exactness: the key is the piece's bytes themselves (packed as in
//! `bpe_count.rs`, with the encoding), never a hash, so a hit is the count of
//! that very piece; a collision of slots only evicts. Memory is fixed
//! ([`SLOTS`] entries per thread). `CountCache::clear` empties every thread's
//! table (`memo.rs`), so a cleared count cache means a cold start for the
//! piece counts too.

use crate::memo;
use std::cell::RefCell;

/// Entries per thread: 16-byte key and 4-byte count each, 160 KiB in all.
const SLOTS: usize = 1 << 13;

/// One thread's table. A key is a packed piece (never 0), 0 is empty.
#[derive(Debug)]
pub(crate) struct PieceCache {
    keys: Vec<u128>,
    counts: Vec<u32>,
    generation: u64,
}

thread_local! {
    static CACHE: RefCell<PieceCache> = RefCell::new(PieceCache {
        keys: vec![0; SLOTS],
        counts: vec![0; SLOTS],
        generation: memo::generation(),
    });
}

/// Runs `f` with this thread's table, emptied first if it was told to forget
/// since its last use.
pub(crate) fn with<R>(f: impl FnOnce(&mut PieceCache) -> R) -> R {
    CACHE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut cache) => {
            let generation = memo::generation();
            if cache.generation != generation {
                cache.keys.fill(0);
                cache.generation = generation;
            }
            f(&mut cache)
        }
        // Only reentrance (`f` counting again) finds it borrowed: count
        // without remembering.
        Err(_) => f(&mut PieceCache {
            keys: Vec::new(),
            counts: Vec::new(),
            generation: 0,
        }),
    })
}

impl PieceCache {
    /// The count remembered for `key`, else `count()` (then remembered).
    #[inline]
    pub(crate) fn get_or(&mut self, key: u128, count: impl FnOnce() -> usize) -> usize {
        if self.keys.is_empty() {
            return count();
        }
        let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(23);
        let i = (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & (self.keys.len() - 1);
        if self.keys[i] == key {
            return self.counts[i] as usize;
        }
        let n = count();
        if let Ok(stored) = u32::try_from(n) {
            self.keys[i] = key;
            self.counts[i] = stored;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_forgotten() {
        let mut cache = PieceCache {
            keys: vec![0; 8],
            counts: vec![0; 8],
            generation: 0,
        };
        assert_eq!(cache.get_or(7, || 3), 3);
        assert_eq!(cache.get_or(7, || 5), 3);
        assert_eq!(cache.get_or(8, || 4), 4);
        // Other tests may forget too: after one, nothing is remembered.
        with(|cache| cache.get_or(9, || 1));
        memo::forget_all();
        assert_eq!(with(|cache| cache.get_or(9, || 2)), 2);
    }
}

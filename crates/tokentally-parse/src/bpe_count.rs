//! Token counts with `bpe-openai`, answering pre-tokenizer pieces that are one
//! whole token by a table lookup instead of running the BPE encoder.
//!
//! Most pieces of prose and code (` the`, `ing`, ` {`) are a token of their own.
//! `bpe-openai` sets up a backtracking encoder for every piece (two allocations
//! and an Aho-Corasick search), the largest single cost of counting without
//! this lookup (the `parse` bench; figures in benches/README.md).
//! tiktoken itself answers a piece found in its vocabulary without merging, so
//! the lookup is the reference behaviour; `every_token_counts_as_one` checks
//! that the BPE encoder agrees for every token of both encodings.

use crate::piece_cache;
use crate::pretokenize::{self, Pattern};
use bpe_openai::Tokenizer;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;
use tokentally_core::Encoding;

/// A tokenizer and its vocabulary, laid out for lookups that miss the cache
/// as little as possible.
struct Counter {
    tokenizer: &'static Tokenizer,
    /// The tokenizer's pre-tokenizer pattern, for the hand-written split.
    pattern: Pattern,
    /// Tokens of up to [`INLINE`] bytes, stored as their packed bytes (see
    /// [`pack`]) in an open-addressing table: one probe reads one 16-byte slot,
    /// with no pointer to follow and no bytes to compare elsewhere. 0 is empty.
    short: Vec<u128>,
    /// Longer tokens: xxh3-64 of the bytes → id, checked against the piece's
    /// bytes, so a hash collision only costs the fast path, never exactness.
    long: HashMap<u64, u32, BuildHasherDefault<KeyIsHash>>,
}

/// Longest token kept in [`Counter::short`]: 15 bytes and a length byte fill a `u128`.
const INLINE: usize = 15;

/// A piece of 1..=[`INLINE`] bytes as one number: the bytes, then the length in
/// the top byte. Distinct pieces give distinct numbers, and none gives 0.
fn pack(piece: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    bytes[..piece.len()].copy_from_slice(piece);
    bytes[15] = piece.len() as u8;
    u128::from_le_bytes(bytes)
}

/// Set in a [`pack`]ed key of the piece cache for cl100k_base: the length
/// byte's top bit, which a length of at most [`INLINE`] never sets.
const ENCODING_BIT: u128 = 0x80 << 120;

fn slot(key: u128, mask: usize) -> usize {
    let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
}

static O200K: LazyLock<Counter> = LazyLock::new(|| Counter::new(bpe_openai::o200k_base(), Pattern::O200k));
static CL100K: LazyLock<Counter> = LazyLock::new(|| Counter::new(bpe_openai::cl100k_base(), Pattern::Cl100k));

fn counter(encoding: Encoding) -> &'static Counter {
    match encoding {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    }
}

impl Counter {
    fn new(tokenizer: &'static Tokenizer, pattern: Pattern) -> Self {
        let bpe = &tokenizer.bpe;
        let ids = 0..u32::try_from(bpe.num_tokens()).unwrap_or(u32::MAX);
        // Under 3/4 full (rounded up to a power of two: ~40 % for both
        // encodings, 8 MB for o200k_base), so probes stay short also for the
        // pieces that are no token.
        let mut short = vec![0u128; (ids.len() * 4 / 3).next_power_of_two()];
        let mask = short.len() - 1;
        let mut long = HashMap::with_hasher(BuildHasherDefault::default());
        for id in ids {
            let bytes = bpe.token_bytes(id);
            if bytes.is_empty() || bytes.len() > INLINE {
                long.entry(xxhash_rust::xxh3::xxh3_64(bytes)).or_insert(id);
                continue;
            }
            let key = pack(bytes);
            let mut i = slot(key, mask);
            while short[i] != 0 && short[i] != key {
                i = (i + 1) & mask;
            }
            short[i] = key;
        }
        Self {
            tokenizer,
            pattern,
            short,
            long,
        }
    }

    /// The piece is one token of the vocabulary.
    fn is_token(&self, piece: &[u8]) -> bool {
        if piece.is_empty() || piece.len() > INLINE {
            return self
                .long
                .get(&xxhash_rust::xxh3::xxh3_64(piece))
                .is_some_and(|&id| self.tokenizer.bpe.token_bytes(id) == piece);
        }
        let key = pack(piece);
        let mask = self.short.len() - 1;
        let mut i = slot(key, mask);
        loop {
            match self.short[i] {
                0 => return false,
                k if k == key => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// What `Tokenizer::count` returns: pre-tokenize (the same pieces as its
    /// regex, `pretokenize.rs`), count every piece.
    fn count(&self, text: &str) -> usize {
        let text = self.tokenizer.normalize(text);
        let encoding = match self.pattern {
            Pattern::O200k => 0,
            Pattern::Cl100k => ENCODING_BIT,
        };
        piece_cache::with(|cache| {
            pretokenize::split(self.pattern, self.tokenizer, text.as_str())
                .map(|piece| {
                    let piece = piece.as_bytes();
                    if piece.is_empty() || piece.len() > INLINE {
                        return self.count_piece(piece);
                    }
                    cache.get_or(pack(piece) | encoding, || self.count_piece(piece))
                })
                .sum()
        })
    }

    /// The tokens of one piece: 1 for a token of the vocabulary, else what the
    /// BPE encoder makes of it.
    fn count_piece(&self, piece: &[u8]) -> usize {
        if self.is_token(piece) {
            1
        } else {
            self.tokenizer.bpe.count(piece)
        }
    }
}

/// The number of tokens of `text` in `encoding`, special-token strings read as text.
pub(crate) fn count(encoding: Encoding, text: &str) -> usize {
    counter(encoding).count(text)
}

/// The keys are xxh3 hashes already: hashing them again would only cost time.
#[derive(Debug, Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_counts_as_one() {
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let counter = counter(encoding);
            let bpe = &counter.tokenizer.bpe;
            let mut missed = 0;
            for id in 0..u32::try_from(bpe.num_tokens()).unwrap_or(u32::MAX) {
                let bytes = bpe.token_bytes(id);
                assert_eq!(bpe.count(bytes), 1, "{encoding}: token {id} is one token");
                missed += usize::from(!counter.is_token(bytes));
            }
            // Colliding hashes may leave a few to the encoder; not more.
            assert!(missed <= 2, "{encoding}: {missed} tokens not found");
        }
    }

    #[test]
    fn counts_equal_bpe_openai() {
        let texts = [
            "",
            "hello world",
            "  leading spaces, trailing\n\n  ",
            "naïve café 😀 — déjà vu; 12345678 ‘quotes’",
            "fn main() { println!(\"{}\", 1 + 2); }\r\n",
            "<|endoftext|> antidisestablishmentarianism",
        ];
        // Twice: the second time the pieces come from the piece cache.
        for _ in 0..2 {
            for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
                for text in texts {
                    assert_eq!(
                        count(encoding, text),
                        counter(encoding).tokenizer.count(text),
                        "{text:?}"
                    );
                }
            }
        }
    }
}

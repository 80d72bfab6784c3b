//! Token counts with `bpe-openai`, answering pre-tokenizer pieces that are one
//! whole token by a table lookup instead of running the BPE encoder.
//!
//! Most pieces of prose and code (` the`, `ing`, ` {`) are a token of their own.
//! `bpe-openai` sets up a backtracking encoder for every piece (two allocations
//! and an Aho-Corasick search), which was the largest single cost of counting.
//! tiktoken itself answers a piece found in its vocabulary without merging, so
//! the lookup is the reference behaviour; `every_token_counts_as_one` checks
//! that the BPE encoder agrees for every token of both encodings.

use bpe_openai::Tokenizer;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;
use tokentally_core::Encoding;

/// A tokenizer and its vocabulary by content hash.
struct Counter {
    tokenizer: &'static Tokenizer,
    /// xxh3-64 of a token's bytes → its id. The id is checked against the piece's
    /// bytes, so a hash collision only costs the fast path, never exactness.
    tokens: HashMap<u64, u32, BuildHasherDefault<KeyIsHash>>,
}

static O200K: LazyLock<Counter> = LazyLock::new(|| Counter::new(bpe_openai::o200k_base()));
static CL100K: LazyLock<Counter> = LazyLock::new(|| Counter::new(bpe_openai::cl100k_base()));

fn counter(encoding: Encoding) -> &'static Counter {
    match encoding {
        Encoding::O200kBase => &O200K,
        Encoding::Cl100kBase => &CL100K,
    }
}

impl Counter {
    fn new(tokenizer: &'static Tokenizer) -> Self {
        let bpe = &tokenizer.bpe;
        let ids = 0..u32::try_from(bpe.num_tokens()).unwrap_or(u32::MAX);
        let mut tokens = HashMap::with_capacity_and_hasher(ids.len(), BuildHasherDefault::default());
        for id in ids {
            tokens
                .entry(xxhash_rust::xxh3::xxh3_64(bpe.token_bytes(id)))
                .or_insert(id);
        }
        Self { tokenizer, tokens }
    }

    /// The piece is one token of the vocabulary.
    fn is_token(&self, piece: &[u8]) -> bool {
        self.tokens
            .get(&xxhash_rust::xxh3::xxh3_64(piece))
            .is_some_and(|&id| self.tokenizer.bpe.token_bytes(id) == piece)
    }

    /// What `Tokenizer::count` returns: pre-tokenize, count every piece.
    fn count(&self, text: &str) -> usize {
        let text = self.tokenizer.normalize(text);
        self.tokenizer
            .split(text.as_str())
            .map(|piece| {
                let piece = piece.as_bytes();
                if self.is_token(piece) {
                    1
                } else {
                    self.tokenizer.bpe.count(piece)
                }
            })
            .sum()
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
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            for text in texts {
                assert_eq!(count(encoding, text), counter(encoding).tokenizer.count(text), "{text:?}");
            }
        }
    }
}

//! Text for tokenizer tests and benches.

/// `size` lowercase letters without a space, the same each time: the whole
/// text is one pre-tokenizer piece, the worst case of a per-piece merge.
pub fn no_spaces(size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    // xorshift64: deterministic and dependency-free.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % 26) as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_only_and_the_same_each_time() {
        let text = no_spaces(4096);
        assert_eq!(text.len(), 4096);
        assert!(text.bytes().all(|b| b.is_ascii_lowercase()));
        assert_eq!(text, no_spaces(4096));
        assert!(text.bytes().collect::<std::collections::BTreeSet<_>>().len() > 20);
    }
}

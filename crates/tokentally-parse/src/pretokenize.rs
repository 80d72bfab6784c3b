//! The tiktoken pre-tokenizer (the regex that cuts text into the pieces BPE
//! encodes one by one), hand-written for ASCII text, with `bpe-openai`'s regex
//! deciding every piece that touches a non-ASCII character.
//!
//! Why: with one-token pieces answered by table lookups (`bpe_count.rs`),
//! running the regex is the largest part of counting. Prompts and completions
//! are mostly ASCII, where the regex's character classes reduce to a few byte
//! classes and its backtracking to a handful of runs, so a byte scan finds the
//! same pieces faster (the `parse` bench; figures in benches/README.md).
//!
//! Exactness: the scan emulates each alternative of the regex in its order, on
//! the classes of the bytes it looks at. Whenever it would have to classify a
//! non-ASCII character (a letter? a digit? a space?) it gives up on that piece,
//! and the regex finds it, anchored at the same place: that is exactly what the
//! regex's own split iterator does for each piece, so the pieces are the same.
//! The tests compare both splits exhaustively on short strings and on random
//! and realistic text.

use bpe_openai::Tokenizer;

/// Which of tiktoken's two patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `o200k_base`: letter runs split by case, contractions as suffixes, `/`
    /// after punctuation.
    O200k,
    /// `cl100k_base`: letter runs of any case, contractions as pieces of their own.
    Cl100k,
}

/// The pieces of `text`, in order, as `tokenizer.split(text)` gives them.
pub(crate) fn split<'a>(pattern: Pattern, tokenizer: &'a Tokenizer, text: &'a str) -> Pieces<'a> {
    Pieces {
        pattern,
        tokenizer,
        text,
        pos: 0,
    }
}

/// Iterator of [`split`].
pub(crate) struct Pieces<'a> {
    pattern: Pattern,
    tokenizer: &'a Tokenizer,
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.pos..).filter(|r| !r.is_empty())?;
        let len = match ascii_piece(self.pattern, rest.as_bytes()) {
            Some(len) => len,
            // The regex's split iterator searches anchored in the rest of the
            // text, as here: its next piece from this position.
            None => self.tokenizer.split(rest).next()?.len(),
        };
        // `len` ends at an ASCII byte or where the regex ended: a char boundary.
        // Never empty (every alternative takes a character); if it were, ending
        // the split beats looping forever.
        let piece = rest.get(..len).filter(|piece| !piece.is_empty())?;
        self.pos += len;
        Some(piece)
    }
}

/// Byte classes of ASCII as the patterns see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `a-z`: `\p{Ll}`.
    Lower,
    /// `A-Z`: `\p{Lu}`.
    Upper,
    /// `0-9`: `\p{N}`.
    Digit,
    /// `\r`, `\n`: white space the patterns single out.
    Newline,
    /// ` `: white space, and what the optional leading space of punctuation is.
    Space,
    /// `\t`, vertical tab, form feed: other white space (Unicode `White_Space`).
    Blank,
    /// Everything else below 128: `[^\s\p{L}\p{N}]`.
    Other,
    /// A byte of a non-ASCII character: its class needs the regex.
    NonAscii,
    /// Past the end of the text.
    End,
}

const fn class_of(b: u8) -> Class {
    match b {
        b'a'..=b'z' => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Digit,
        b'\r' | b'\n' => Class::Newline,
        b' ' => Class::Space,
        b'\t' | 0x0b | 0x0c => Class::Blank,
        0x80.. => Class::NonAscii,
        _ => Class::Other,
    }
}

static CLASSES: [Class; 256] = {
    let mut table = [Class::Other; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = class_of(b as u8);
        b += 1;
    }
    table
};

/// The class of `bytes[i]`, [`Class::End`] past the end.
fn class(bytes: &[u8], i: usize) -> Class {
    bytes.get(i).map_or(Class::End, |&b| CLASSES[usize::from(b)])
}

fn is_letter(c: Class) -> bool {
    matches!(c, Class::Lower | Class::Upper)
}

fn is_space(c: Class) -> bool {
    matches!(c, Class::Newline | Class::Space | Class::Blank)
}

/// `[^\r\n\p{L}\p{N}]`: the optional character before a letter run.
fn is_prefix(c: Class) -> bool {
    matches!(c, Class::Space | Class::Blank | Class::Other)
}

/// The length of the first piece of `bytes` (not empty), or `None` when it
/// depends on a non-ASCII character. Each step is one of the patterns'
/// alternatives, tried in the patterns' order; the first that matches gives
/// the piece. A step answers `None` when a non-ASCII character decides, and
/// `Some(None)` when its alternative does not match.
fn ascii_piece(pattern: Pattern, bytes: &[u8]) -> Option<usize> {
    let first = class(bytes, 0);
    if first == Class::NonAscii {
        return None;
    }
    // cl100k: `(?i:'s|'t|'re|'ve|'m|'ll|'d)` on its own.
    if pattern == Pattern::Cl100k
        && bytes.first() == Some(&b'\'')
        && let Some(len) = contraction(bytes, 0)?
    {
        return Some(len);
    }
    if let Some(len) = letters(pattern, bytes, first)? {
        return Some(len);
    }
    if first == Class::Digit {
        return digits(bytes);
    }
    if let Some(len) = symbols(pattern, bytes, first)? {
        return Some(len);
    }
    spaces(bytes)
}

/// o200k: `[^\r\n\p{L}\p{N}]?[\p{Lu}…]*[\p{Ll}…]+(?i:'s|…)?` and
/// `[^\r\n\p{L}\p{N}]?[\p{Lu}…]+[\p{Ll}…]*(?i:'s|…)?`; cl100k:
/// `[^\r\n\p{L}\p{N}]?\p{L}+`. In ASCII both o200k forms match the longest
/// run of upper case letters followed by lower case ones, and no other letter
/// run; if the run is empty, giving back the prefix does not help.
#[inline]
fn letters(pattern: Pattern, bytes: &[u8], first: Class) -> Option<Option<usize>> {
    let start = usize::from(is_prefix(first));
    if start == 0 && !is_letter(first) {
        return Some(None);
    }
    let mut end = start;
    match pattern {
        Pattern::O200k => {
            while class(bytes, end) == Class::Upper {
                end += 1;
            }
            while class(bytes, end) == Class::Lower {
                end += 1;
            }
        }
        Pattern::Cl100k => {
            while is_letter(class(bytes, end)) {
                end += 1;
            }
        }
    }
    if class(bytes, end) == Class::NonAscii {
        return None; // a letter or a mark would extend the run
    }
    if end == start {
        return Some(None);
    }
    if pattern == Pattern::O200k && bytes.get(end) == Some(&b'\'') {
        end += contraction(bytes, end)?.unwrap_or(0);
    }
    Some(Some(end))
}

/// `\p{N}{1,3}`, `bytes` starting with a digit.
#[inline]
fn digits(bytes: &[u8]) -> Option<usize> {
    let mut end = 1;
    while end < 3 && class(bytes, end) == Class::Digit {
        end += 1;
    }
    if end < 3 && class(bytes, end) == Class::NonAscii {
        return None; // a digit of another script would extend it
    }
    Some(end)
}

/// ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (o200k), ` ?[^\s\p{L}\p{N}]+[\r\n]*` (cl100k).
#[inline]
fn symbols(pattern: Pattern, bytes: &[u8], first: Class) -> Option<Option<usize>> {
    let start = usize::from(first == Class::Space);
    let mut end = start;
    while class(bytes, end) == Class::Other {
        end += 1;
    }
    if class(bytes, end) == Class::NonAscii {
        return None; // a symbol would extend the run
    }
    if end == start {
        return Some(None);
    }
    while match bytes.get(end) {
        Some(b'\r' | b'\n') => true,
        Some(b'/') => pattern == Pattern::O200k,
        _ => false,
    } {
        end += 1;
    }
    Some(Some(end))
}

/// What is left: `bytes` starts with white space (neither a letter, a digit
/// nor other).
#[inline]
fn spaces(bytes: &[u8]) -> Option<usize> {
    let mut end = 0;
    let mut after_newline = None;
    while is_space(class(bytes, end)) {
        end += 1;
        if class(bytes, end - 1) == Class::Newline {
            after_newline = Some(end);
        }
    }
    match class(bytes, end) {
        Class::NonAscii => None, // white space of its own would extend the run
        // `\s*[\r\n]+`: `\s*` gives back up to the run's last line break.
        _ if after_newline.is_some() => after_newline,
        // `\s+$`
        Class::End => Some(end),
        // `\s+(?!\S)` (bpe-openai: `\s+\s`, the last character dropped), then `\s+`.
        _ => Some(end.saturating_sub(1).max(1)),
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `bytes[at]`, an apostrophe: its length,
/// `Some(None)` for none, `None` when a non-ASCII character decides (`'ſ` is
/// `'s` to a case-insensitive Unicode regex).
fn contraction(bytes: &[u8], at: usize) -> Option<Option<usize>> {
    let next = |i: usize| match bytes.get(at + i) {
        Some(b) if b.is_ascii() => Some(Some(b.to_ascii_lowercase())),
        Some(_) => None,
        None => Some(None),
    };
    Some(match next(1)? {
        Some(b's' | b't' | b'm' | b'd') => Some(2),
        Some(first @ (b'r' | b'v' | b'l')) => match (first, next(2)?) {
            (b'r' | b'v', Some(b'e')) | (b'l', Some(b'l')) => Some(3),
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests;

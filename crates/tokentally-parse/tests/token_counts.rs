//! tokentally's token counts against two independent tiktoken implementations.
//!
//! Billing estimates are only as good as the tokenizer, and the counting crate
//! (`bpe-openai`) re-implements tiktoken's pre-tokenizer regex with a different
//! engine and a look-ahead emulation: exactly where a subtle divergence would hide.
//! So counts are checked against OpenAI's Python tiktoken (reference counts made by
//! `tests/python/token_counts.py`, committed as a fixture) and, on random text,
//! against tiktoken-rs.

use proptest::prelude::*;
use serde::Deserialize;
use tokentally_core::Encoding;
use tokentally_parse::count_tokens;

const ENCODINGS: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

fn tiktoken_rs(encoding: Encoding) -> &'static tiktoken_rs::CoreBPE {
    match encoding {
        Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
        Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
    }
}

fn tiktoken_rs_count(encoding: Encoding, text: &str) -> i64 {
    i64::try_from(tiktoken_rs(encoding).encode_ordinary(text).len()).expect("fits")
}

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    text: String,
    o200k_base: i64,
    cl100k_base: i64,
}

#[test]
fn counts_equal_python_tiktoken_on_the_fixture_corpus() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/token_counts.json")).expect("fixture is JSON");
    assert!(fixture.cases.len() > 80, "the corpus lost its texts");
    let mut wrong = Vec::new();
    for case in &fixture.cases {
        for (encoding, expected) in [
            (Encoding::O200kBase, case.o200k_base),
            (Encoding::Cl100kBase, case.cl100k_base),
        ] {
            let ours = count_tokens(encoding, &case.text);
            let rs = tiktoken_rs_count(encoding, &case.text);
            if ours != expected || rs != expected {
                wrong.push(format!(
                    "{} ({encoding}): tiktoken {expected}, tokentally {ours}, tiktoken-rs {rs}",
                    case.name
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn token_ids_equal_tiktoken_rs_on_the_hard_cases() {
    // Equal counts could hide compensating differences; the fixture's texts must
    // also split into the very same tokens.
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/token_counts.json")).expect("fixture is JSON");
    for case in &fixture.cases {
        for encoding in ENCODINGS {
            let ours = match encoding {
                Encoding::O200kBase => bpe_openai::o200k_base(),
                Encoding::Cl100kBase => bpe_openai::cl100k_base(),
            }
            .encode(case.text.as_str());
            assert_eq!(
                ours,
                tiktoken_rs(encoding).encode_ordinary(&case.text),
                "{} ({encoding})",
                case.name
            );
        }
    }
}

/// Characters every pre-tokenizer rule treats differently: letters of each case
/// class, marks, digits of several scripts, every kind of space, ZWJ and variation
/// selectors, apostrophes of contractions, punctuation, emoji.
fn tricky_char() -> impl Strategy<Value = char> {
    let chars: Vec<char> = concat!(
        "abcXYZ'sdtmlrve019 \t\n\r.,;:!?-_/\\\"(){}<>|#@$%&*+=~`",
        "éÀßøñçŁǅʰⅫ²٣人工智能東京ひらがなカタカナ한국어привЕТмирمرحبا",
        "नमस्तेक्ष\u{301}\u{200d}\u{a0}\u{3000}\u{2028}\u{fe0f}\u{1f600}\u{1f44d}\u{1f3fc}\u{1f1f8}\u{1f1ea}❤\u{1f525}"
    )
    .chars()
    .collect();
    prop_oneof![4 => proptest::sample::select(chars), 1 => any::<char>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn counts_equal_tiktoken_rs_on_random_text(
        text in proptest::collection::vec(tricky_char(), 0..160).prop_map(String::from_iter),
    ) {
        for encoding in ENCODINGS {
            prop_assert_eq!(count_tokens(encoding, &text), tiktoken_rs_count(encoding, &text), "{}", encoding);
        }
    }

    #[test]
    fn counts_equal_tiktoken_rs_on_long_runs(
        unit in "( |\t|\n|\r\n|0|7|a|Z|é|人|😀|\u{a0}|!|ab1 ){1,3}",
        repeats in 1usize..600,
        tail in "(x| |\n|9|)",
    ) {
        let text = format!("{}{tail}", unit.repeat(repeats));
        for encoding in ENCODINGS {
            prop_assert_eq!(count_tokens(encoding, &text), tiktoken_rs_count(encoding, &text), "{}", encoding);
        }
    }
}

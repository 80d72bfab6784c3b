use super::*;
use proptest::prelude::*;

/// 700 audio prompt tokens, 500 audio completion tokens and 40 rejected
/// prediction tokens: the call of issue 16.
fn audio_call() -> TokenCounts {
    TokenCounts {
        prompt: 1000,
        cached_prompt: 128,
        audio_prompt: 700,
        cached_audio_prompt: 64,
        completion: 800,
        audio_completion: 500,
        accepted_prediction: 12,
        rejected_prediction: 40,
        total: 1800,
        ..TokenCounts::default()
    }
}

#[test]
fn classes_split_an_audio_call_exactly() {
    let c = audio_call().classes().expect("consistent");
    // input 1000 − 128 − (700 − 64) = 236; cached text 128 − 64 = 64.
    let got: Vec<(TokenClass, i64)> = c.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        got,
        [
            (TokenClass::Input, 236),
            (TokenClass::CachedInput, 64),
            (TokenClass::Output, 300),
            (TokenClass::AudioInput, 636),
            (TokenClass::CachedAudioInput, 64),
            (TokenClass::AudioOutput, 500),
        ]
    );
    assert_eq!(c.iter().map(|(_, n)| n).sum::<i64>(), 1800);
}

#[test]
fn image_generation_splits_into_image_classes() {
    let image = TokenCounts {
        prompt: 50,
        image_prompt: 40,
        completion: 4160,
        image_completion: 4160,
        total: 4210,
        ..TokenCounts::default()
    };
    let c = image.classes().expect("consistent");
    assert_eq!(
        (c.get(TokenClass::Input), c.get(TokenClass::ImageInput)),
        (10, 40)
    );
    assert_eq!(
        (c.get(TokenClass::Output), c.get(TokenClass::ImageOutput)),
        (0, 4160)
    );
}

#[test]
fn inconsistent_counts_name_the_columns() {
    let mut t = audio_call();
    t.cached_audio_prompt = 800;
    assert_eq!(
        t.classes().map_err(|e| e.to_string()),
        Err("cached_audio_prompt_tokens (800) exceed audio_prompt_tokens (700)".to_owned())
    );
    let mut t = audio_call();
    t.audio_prompt = 990;
    let err = t.classes().map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(err.contains("exceed prompt_tokens (1000)"), "{err}");
    let mut t = audio_call();
    t.rejected_prediction = 801;
    assert!(t.classes().is_err());
    let mut t = audio_call();
    t.completion = -1;
    assert_eq!(
        t.classes(),
        Err(TokenError::Negative {
            column: "completion_tokens",
            value: -1
        })
    );
    let mut t = audio_call();
    t.prompt = 9_000_000_000_000_000_000;
    assert!(t.classes().is_ok());
    assert_eq!(
        t.check_call().map_err(|e| e.to_string()),
        Err(
            "prompt_tokens is 9000000000000000000, above the 100000000 tokens one call can report".to_owned()
        )
    );
}

#[test]
fn sums_are_checked() {
    let big = TokenCounts {
        prompt: 9_000_000_000_000_000_000,
        ..TokenCounts::default()
    };
    assert_eq!(big.checked_add(&big), None);
    assert_eq!(
        audio_call().checked_add(&audio_call()).map(|t| t.prompt),
        Some(2000)
    );
    assert_eq!(TokenCounts::from_values(audio_call().values()), audio_call());
    for class in TokenClass::ALL {
        assert_eq!(TokenClass::from_name(class.as_str()), Some(class));
    }
}

/// Counts built from class sizes, so they are consistent by construction.
fn consistent() -> impl Strategy<Value = TokenCounts> {
    (
        proptest::array::uniform9(0..=MAX_TOKENS_PER_CALL / 16),
        proptest::array::uniform3(0..=100i64),
    )
        .prop_map(|(c, share)| {
            let [
                input,
                cached,
                output,
                audio,
                cached_audio,
                audio_out,
                image,
                cached_image,
                image_out,
            ] = c;
            let completion = output + audio_out + image_out;
            let part = |pct: i64| completion * pct / 100;
            TokenCounts {
                prompt: input + cached + audio + cached_audio + image + cached_image,
                cached_prompt: cached + cached_audio + cached_image,
                audio_prompt: audio + cached_audio,
                cached_audio_prompt: cached_audio,
                image_prompt: image + cached_image,
                cached_image_prompt: cached_image,
                completion,
                reasoning: part(share[0]),
                audio_completion: audio_out,
                image_completion: image_out,
                accepted_prediction: part(share[1]),
                rejected_prediction: part(share[2]),
                total: 0,
            }
        })
}

proptest! {
    #[test]
    fn classes_partition_prompt_and_completion(t in consistent()) {
        let classes = t.classes().expect("consistent by construction");
        let input: i64 = [TokenClass::Input, TokenClass::CachedInput, TokenClass::AudioInput,
            TokenClass::CachedAudioInput, TokenClass::ImageInput, TokenClass::CachedImageInput]
            .into_iter().map(|c| classes.get(c)).sum();
        let output: i64 = [TokenClass::Output, TokenClass::AudioOutput, TokenClass::ImageOutput]
            .into_iter().map(|c| classes.get(c)).sum();
        prop_assert_eq!(input, t.prompt);
        prop_assert_eq!(output, t.completion);
        prop_assert!(classes.iter().all(|(_, n)| n >= 0));
        prop_assert_eq!(t.check_call().is_ok(), t.values().iter().all(|&v| v <= MAX_TOKENS_PER_CALL));
    }

    /// Any counts at all: either a partition with no negative class, or an error.
    #[test]
    fn any_counts_partition_or_fail(values in proptest::array::uniform13(-5i64..2000)) {
        let t = TokenCounts::from_values(values);
        match t.classes() {
            Ok(classes) => {
                prop_assert!(classes.iter().all(|(_, n)| n >= 0));
                prop_assert_eq!(classes.iter().map(|(_, n)| n).sum::<i64>(), t.prompt + t.completion);
            }
            Err(_) => prop_assert!(
                values.iter().any(|&v| v < 0)
                    || t.cached_prompt + t.audio_prompt - t.cached_audio_prompt + t.image_prompt
                        - t.cached_image_prompt > t.prompt
                    || t.cached_audio_prompt > t.audio_prompt
                    || t.cached_image_prompt > t.image_prompt
                    || t.cached_audio_prompt + t.cached_image_prompt > t.cached_prompt
                    || t.audio_completion + t.image_completion > t.completion
                    || t.reasoning.max(t.accepted_prediction).max(t.rejected_prediction) > t.completion
            ),
        }
    }
}

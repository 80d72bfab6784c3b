use super::*;
use serde_json::json;
use tokentally_core::TokenClass;

fn chat(usage: &Value) -> Result<TokenCounts, String> {
    read_usage(usage, Operation::ChatCompletions).map_err(|e| e.0)
}

#[test]
fn chat_usage_with_audio_and_predicted_outputs() {
    // The call of issue 16: 700 audio prompt tokens, 500 audio completion tokens,
    // 40 rejected prediction tokens.
    let t = chat(&json!({
        "prompt_tokens": 1200, "completion_tokens": 900, "total_tokens": 2100,
        "prompt_tokens_details": {"cached_tokens": 256, "audio_tokens": 700},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 500,
            "accepted_prediction_tokens": 120, "rejected_prediction_tokens": 40}
    }))
    .expect("valid");
    assert_eq!(
        (
            t.prompt,
            t.cached_prompt,
            t.audio_prompt,
            t.completion,
            t.audio_completion
        ),
        (1200, 256, 700, 900, 500)
    );
    assert_eq!(
        (t.accepted_prediction, t.rejected_prediction, t.total),
        (120, 40, 2100)
    );
    let classes = t.classes().expect("partition");
    assert_eq!(classes.get(TokenClass::AudioInput), 700);
    assert_eq!(classes.get(TokenClass::Input), 1200 - 256 - 700);
    // Rejected prediction tokens stay in the text output.
    assert_eq!(classes.get(TokenClass::Output), 400);
}

#[test]
fn responses_and_embeddings_usage() {
    let t = chat(&json!({"input_tokens": 10, "output_tokens": 4,
        "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 2}}))
    .expect("valid");
    assert_eq!((t.prompt, t.completion, t.reasoning, t.total), (10, 4, 2, 14));
    let e = read_usage(
        &json!({"prompt_tokens": 8, "total_tokens": 8}),
        Operation::Embeddings,
    )
    .expect("valid");
    assert_eq!((e.prompt, e.completion, e.total), (8, 0, 8));
}

#[test]
fn image_generation_bills_image_classes() {
    let usage = json!({"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 40}});
    let t = read_usage(&usage, Operation::Images).expect("valid");
    assert_eq!((t.image_prompt, t.image_completion), (40, 4160));
    // Reported image output tokens are taken as they are, text ones stay text.
    let split = json!({"input_tokens": 50, "output_tokens": 100,
        "output_tokens_details": {"text_tokens": 30}});
    assert_eq!(
        read_usage(&split, Operation::Images).map(|t| t.image_completion),
        Ok(70)
    );
    let explicit = json!({"input_tokens": 5, "output_tokens": 100,
        "output_tokens_details": {"image_tokens": 90, "text_tokens": 10}});
    assert_eq!(
        read_usage(&explicit, Operation::Images).map(|t| t.image_completion),
        Ok(90)
    );
    // Outside the images API, output tokens without a breakdown are text.
    assert_eq!(chat(&usage).map(|t| t.image_completion), Ok(0));
}

#[test]
fn realtime_usage_with_cached_audio() {
    let t = chat(
        &json!({"total_tokens": 1100, "input_tokens": 1000, "output_tokens": 100,
        "input_token_details": {"cached_tokens": 600, "text_tokens": 300, "audio_tokens": 700,
            "cached_tokens_details": {"text_tokens": 200, "audio_tokens": 400}},
        "output_token_details": {"text_tokens": 20, "audio_tokens": 80}}),
    )
    .expect("valid");
    assert_eq!(
        (
            t.cached_prompt,
            t.audio_prompt,
            t.cached_audio_prompt,
            t.audio_completion
        ),
        (600, 700, 400, 80)
    );
    let c = t.classes().expect("partition");
    assert_eq!(
        [
            c.get(TokenClass::Input),
            c.get(TokenClass::CachedInput),
            c.get(TokenClass::AudioInput),
            c.get(TokenClass::CachedAudioInput),
        ],
        [100, 200, 300, 400]
    );
}

#[test]
fn counts_that_cannot_be_true_are_errors_naming_the_member() {
    let cases = [
        (
            json!({"prompt_tokens": -3, "completion_tokens": 1}),
            "usage.prompt_tokens: -3 is negative",
        ),
        (
            json!({"prompt_tokens": 2, "completion_tokens": 1.5}),
            "usage.completion_tokens: 1.5 is not a whole number",
        ),
        (
            json!({"prompt_tokens": "12"}),
            "usage.prompt_tokens: \"12\" is not a number",
        ),
        (
            json!({"prompt_tokens": 9_000_000_000_000_000_000u64}),
            "usage.prompt_tokens: 9000000000000000000 is above the sanity bound",
        ),
        (
            json!({"prompt_tokens": 9e18}),
            "is above the sanity bound of 100000000 tokens per call",
        ),
        (json!({"prompt_tokens": u64::MAX}), "is above the sanity bound"),
        (
            json!({"prompt_tokens": 1, "total_tokens": 100_000_001}),
            "usage.total_tokens",
        ),
        (
            json!({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": -1}}),
            "usage.prompt_tokens_details.cached_tokens: -1 is negative",
        ),
        (
            json!({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 6}}),
            "usage: cached_prompt_tokens + uncached audio and image prompt tokens (6) exceed prompt_tokens (5)",
        ),
        (
            json!({"prompt_tokens": 5, "completion_tokens": 3, "completion_tokens_details": {"rejected_prediction_tokens": 4}}),
            "rejected_prediction_tokens (4) exceed completion_tokens (3)",
        ),
    ];
    for (usage, want) in cases {
        let got = chat(&usage).err().unwrap_or_default();
        assert!(got.contains(want), "{usage}: {got}");
    }
    // A negative float is refused even when whole, before it could pass as a count.
    let got = chat(&json!({"prompt_tokens": -3.0})).err().unwrap_or_default();
    assert!(
        got.starts_with("usage.prompt_tokens: -3") && got.ends_with("is negative"),
        "{got}"
    );
    // A whole number written as a float is a count, zero included; null is absent.
    assert_eq!(
        chat(&json!({"prompt_tokens": 12.0, "completion_tokens": null})).map(|t| (t.prompt, t.completion)),
        Ok((12, 0))
    );
    assert_eq!(
        chat(&json!({"prompt_tokens": 0.0, "completion_tokens": 2})).map(|t| (t.prompt, t.completion)),
        Ok((0, 2))
    );
}

#[test]
fn only_objects_with_main_counts_replace_a_usage() {
    assert!(has_counts(&json!({"prompt_tokens": 1})));
    assert!(has_counts(&json!({"total_tokens": -1})));
    assert!(!has_counts(&Value::Null));
    assert!(!has_counts(&json!({})));
    assert!(!has_counts(&json!({"prompt_tokens": null})));
    assert!(!has_counts(&json!([1])));
}

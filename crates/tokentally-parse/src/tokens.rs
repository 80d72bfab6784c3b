//! Token counting with the model's tiktoken encoding, and OpenAI's documented
//! accounting for chat prompts.
//!
//! Counting uses `bpe-openai`: the same encodings as OpenAI's tiktoken (checked
//! against Python tiktoken and tiktoken-rs by `tests/token_counts.rs`), faster on
//! this workload than tiktoken-rs (the `tokenizers` bench), and linear in the
//! length of a pre-tokenized piece, so a megabyte without spaces (a base64 image
//! pasted as text, minified data) costs what a megabyte of prose costs; BPE
//! merging as tiktoken-rs does it grows faster than the piece. Tables are
//! deserialized once per process and shared; pieces that are one token are
//! looked up rather than encoded (`bpe_count.rs`).

use crate::count_cache::CountCache;
use serde_json::Value;
use tokentally_core::Encoding;

/// Counts the tokens of plain text, treating special-token strings as text (as the
/// API does for user content).
pub fn count_tokens(encoding: Encoding, text: &str) -> i64 {
    if text.is_empty() {
        return 0;
    }
    len_i64(crate::bpe_count::count(encoding, text))
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Tokens every chat message costs beyond its content (OpenAI cookbook,
/// "How to count tokens with tiktoken", for gpt-3.5-turbo-0613 and later models).
const TOKENS_PER_MESSAGE: i64 = 3;
/// Extra token when a message carries a `name`.
const TOKENS_PER_NAME: i64 = 1;
/// Every reply is primed with `<|start|>assistant<|message|>`.
const REPLY_PRIMING: i64 = 3;

/// Estimates the prompt tokens of a chat completions request body.
///
/// Follows OpenAI's published recipe: each message costs [`TOKENS_PER_MESSAGE`] plus
/// the tokens of every string field (role, content, name …), a name one more, and
/// the reply is primed with [`REPLY_PRIMING`]. Multi-part content counts its text
/// parts; tool definitions count their JSON text.
pub fn estimate_chat_prompt(encoding: Encoding, request: &Value) -> i64 {
    estimate_chat_prompt_with(encoding, request, Some(CountCache::global()))
}

/// [`estimate_chat_prompt`] with a given message-text cache, or none: the same
/// result, for measuring what the cache saves.
pub fn estimate_chat_prompt_with(encoding: Encoding, request: &Value, cache: Option<&CountCache>) -> i64 {
    let mut total = 0;
    if let Some(messages) = request.get("messages").and_then(Value::as_array) {
        for message in messages {
            total += TOKENS_PER_MESSAGE;
            let Some(fields) = message.as_object() else {
                continue;
            };
            for (key, value) in fields {
                total += count_value(encoding, value, cache);
                if key == "name" {
                    total += TOKENS_PER_NAME;
                }
            }
        }
        total += REPLY_PRIMING;
    }
    for key in ["tools", "functions"] {
        if let Some(defs) = request.get(key).filter(|v| !v.is_null()) {
            total += count_tokens(encoding, &defs.to_string());
        }
    }
    total
}

/// Message texts repeat across calls (system prompts, resent history): counted
/// once per process through the bounded cache.
fn count_message_text(encoding: Encoding, text: &str, cache: Option<&CountCache>) -> i64 {
    match cache {
        Some(cache) => cache.count(encoding, text, || count_tokens(encoding, text)),
        None => count_tokens(encoding, text),
    }
}

/// Tokens of a message field: strings as text, content parts by their text, other
/// structures (tool calls) by their JSON text.
fn count_value(encoding: Encoding, value: &Value, cache: Option<&CountCache>) -> i64 {
    match value {
        Value::String(s) => count_message_text(encoding, s, cache),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part.get("text").and_then(Value::as_str) {
                Some(text) => count_message_text(encoding, text, cache),
                None if part.get("type").and_then(Value::as_str) == Some("image_url") => {
                    image_part_tokens(part)
                }
                // Audio is billed in audio tokens the request cannot tell: only a
                // reported usage counts them (its base64 is not text).
                None if part.get("type").and_then(Value::as_str) == Some("input_audio") => 0,
                None => count_tokens(encoding, &part.to_string()),
            })
            .sum(),
        Value::Null => 0,
        other => count_tokens(encoding, &other.to_string()),
    }
}

/// A low-detail image costs a flat 85 tokens (OpenAI vision pricing); a high-detail
/// one costs this base plus [`IMAGE_TILE`] per 512-px tile.
const IMAGE_BASE: i64 = 85;
/// Tokens per 512×512 tile of a high-detail image.
const IMAGE_TILE: i64 = 170;
/// The request names an image by URL only, so its size is usually unknown. We then
/// assume 1024×1024 (765 tokens at high detail): the common size of screenshots
/// and generated images, and the middle of the 2–6 tile range most inputs fall in.
/// A part that does state `width`/`height` (some gateways add them) is priced exactly.
const ASSUMED_IMAGE_SIDE: u64 = 1024;

/// Tokens of one image part, chat `image_url` (`{"image_url": {"url", "detail"}}`)
/// or Responses `input_image` (`{"image_url": "…", "detail"}`): `detail: low` is
/// flat; `high` and `auto` (which AOAI resolves to high for all but tiny images)
/// follow the tile formula.
fn image_part_tokens(part: &Value) -> i64 {
    let image = part.get("image_url").unwrap_or(part);
    let detail = image
        .get("detail")
        .or_else(|| part.get("detail"))
        .and_then(Value::as_str);
    if detail == Some("low") {
        return IMAGE_BASE;
    }
    let side = |key: &str| {
        image
            .get(key)
            .or_else(|| part.get(key))
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
    };
    match (side("width"), side("height")) {
        (Some(w), Some(h)) => high_detail_image_tokens(w, h),
        _ => high_detail_image_tokens(ASSUMED_IMAGE_SIDE, ASSUMED_IMAGE_SIDE),
    }
}

/// OpenAI's documented high-detail formula: scale to fit within 2048×2048, then so
/// that the shortest side is 768 px (never upscaling), then 170 tokens per 512-px
/// tile plus 85.
pub fn high_detail_image_tokens(width: u64, height: u64) -> i64 {
    // u128: a hostile `width` cannot overflow the scaling products.
    let (mut w, mut h) = (u128::from(width.max(1)), u128::from(height.max(1)));
    let longest = w.max(h);
    if longest > 2048 {
        w = (w * 2048).div_ceil(longest);
        h = (h * 2048).div_ceil(longest);
    }
    let shortest = w.min(h);
    if shortest > 768 {
        w = (w * 768).div_ceil(shortest);
        h = (h * 768).div_ceil(shortest);
    }
    let tiles = w.div_ceil(512).saturating_mul(h.div_ceil(512));
    IMAGE_BASE.saturating_add(IMAGE_TILE.saturating_mul(i64::try_from(tiles).unwrap_or(i64::MAX)))
}

/// Estimates the input tokens of a request that is not a chat (completions prompt,
/// embeddings input, responses input): the tokens of every string in it.
pub fn estimate_text_input(encoding: Encoding, input: &Value) -> i64 {
    match input {
        Value::String(s) => count_tokens(encoding, s),
        Value::Array(items) => items.iter().map(|v| estimate_text_input(encoding, v)).sum(),
        Value::Object(map) => map.values().map(|v| estimate_text_input(encoding, v)).sum(),
        _ => 0,
    }
}

/// Estimates a Responses API request's `instructions` or `input`: the tokens of
/// every string, except that `input_image` parts cost what the same image costs
/// as a chat `image_url` part. Counting such a part's strings instead would bill
/// a `data:` URL's base64 as text: hundreds of thousands of tokens for one image.
pub fn estimate_responses_input(encoding: Encoding, input: &Value) -> i64 {
    match input {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("input_image") => {
            image_part_tokens(input)
        }
        Value::Array(items) => items.iter().map(|v| estimate_responses_input(encoding, v)).sum(),
        Value::Object(map) => map.values().map(|v| estimate_responses_input(encoding, v)).sum(),
        other => estimate_text_input(encoding, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_match_tiktoken_reference() {
        assert_eq!(count_tokens(Encoding::Cl100kBase, "hello world"), 2);
        assert_eq!(count_tokens(Encoding::O200kBase, "hello world"), 2);
        assert_eq!(count_tokens(Encoding::Cl100kBase, ""), 0);
        // A special-token string in user text is text, not the one special token.
        assert!(count_tokens(Encoding::Cl100kBase, "<|endoftext|>") > 1);
    }

    /// One 1 MB pre-tokenizer piece is counted, and as the sum of its halves'
    /// counts give or take the merges across the cut. How its time grows with
    /// the piece is the `tokenizer/no-spaces o200k` bench's question (linear; a
    /// timed assertion here would measure the machine), not this test's.
    #[test]
    fn a_megabyte_without_spaces_is_counted_like_its_halves() {
        let text = tokentally_testdata::text::no_spaces(1 << 20);
        let (left, right) = text.split_at(text.len() / 2);
        let whole = count_tokens(Encoding::O200kBase, &text);
        let halves = count_tokens(Encoding::O200kBase, left) + count_tokens(Encoding::O200kBase, right);
        // A token spans at least one byte, and random letters merge into a few each.
        let bytes = i64::try_from(text.len()).expect("1 MB");
        assert!((bytes / 8..bytes).contains(&whole), "{whole} tokens");
        assert!(whole.abs_diff(halves) <= 2, "whole {whole}, halves {halves}");
    }

    #[test]
    fn chat_prompt_follows_cookbook_example() {
        // The cookbook's example conversation is 129 prompt tokens for gpt-4o-mini
        // and gpt-4 alike; here a short one checked against the API's usage.
        let request = json!({"messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"}
        ]});
        // system: 3 + 1 (system) + 6 ; user: 3 + 1 (user) + 2 ; priming 3 => 19
        assert_eq!(estimate_chat_prompt(Encoding::O200kBase, &request), 19);
    }

    #[test]
    fn image_tiles_follow_openai_examples() {
        // OpenAI's worked examples: 1024² → 768² → 4 tiles = 765;
        // 2048×4096 → 1024×2048 → 768×1536 → 6 tiles = 1105; 4096×8192 likewise.
        assert_eq!(high_detail_image_tokens(1024, 1024), 765);
        assert_eq!(high_detail_image_tokens(2048, 4096), 1105);
        assert_eq!(high_detail_image_tokens(4096, 8192), 1105);
        // Small images are never upscaled: one tile.
        assert_eq!(high_detail_image_tokens(300, 200), 255);
        assert_eq!(
            high_detail_image_tokens(u64::MAX, 0),
            high_detail_image_tokens(u64::MAX, 1)
        );
    }

    #[test]
    fn image_parts_use_detail_and_size() {
        let part = |image: Value| json!({"type": "image_url", "image_url": image});
        let low = part(json!({"url": "https://x/a.png", "detail": "low"}));
        let high = part(json!({"url": "https://x/a.png", "detail": "high"}));
        let auto = part(json!({"url": "data:image/png;base64,AAAA"}));
        let sized = part(json!({"url": "https://x/a.png", "width": 2048, "height": 4096}));
        assert_eq!(image_part_tokens(&low), 85);
        assert_eq!(image_part_tokens(&high), 765);
        assert_eq!(image_part_tokens(&auto), 765);
        assert_eq!(image_part_tokens(&sized), 1105);
        let request = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "Hello!"}, low
        ]}]});
        // 3 + user 1 + Hello! 2 + image 85 + priming 3
        assert_eq!(estimate_chat_prompt(Encoding::O200kBase, &request), 94);
    }

    #[test]
    fn responses_input_images_cost_what_chat_images_cost() {
        let data_url = format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(2000));
        let input = json!([{"role": "user", "content": [
            {"type": "input_text", "text": "What is in this image?"},
            {"type": "input_image", "image_url": data_url, "detail": "low"},
            {"type": "input_image", "image_url": "https://x/a.png", "detail": "high"},
            {"type": "input_image", "image_url": "https://x/b.png", "width": 2048, "height": 4096}
        ]}]);
        let text_only = json!([{"role": "user", "content": [
            {"type": "input_text", "text": "What is in this image?"}
        ]}]);
        let chat_image = |image: Value| image_part_tokens(&json!({"type": "image_url", "image_url": image}));
        let images = chat_image(json!({"url": "x", "detail": "low"}))
            + chat_image(json!({"url": "x", "detail": "high"}))
            + chat_image(json!({"url": "x", "width": 2048, "height": 4096}));
        assert_eq!(images, 85 + 765 + 1105);
        let e = Encoding::O200kBase;
        assert_eq!(
            estimate_responses_input(e, &input),
            estimate_responses_input(e, &text_only) + images
        );
        // Plain strings and text parts still count as text.
        assert_eq!(estimate_responses_input(e, &json!("hello world")), 2);
    }

    #[test]
    fn names_and_parts_are_counted() {
        let request = json!({"messages": [
            {"role": "user", "name": "bob", "content": [{"type": "text", "text": "Hello!"}]}
        ]});
        // 3 + user 1 + bob 1 + name 1 + Hello! 2 + priming 3
        assert_eq!(estimate_chat_prompt(Encoding::O200kBase, &request), 11);
    }
}

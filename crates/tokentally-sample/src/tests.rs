//! Whole-sample checks: determinism, the record contract, and the feature mix.

use super::*;
use crate::deployments::DEPLOYMENTS;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::sync::OnceLock;
use tokentally_core::lookup_model;
use tokentally_parse::{count_tokens, estimate_chat_prompt, estimate_text_input};

fn sample(config: &SampleConfig) -> (Vec<u8>, SampleStats) {
    let mut out = Vec::new();
    let stats = generate(config, &mut out).expect("generate");
    (out, stats)
}

/// The default sample, generated once for all tests.
fn default_sample() -> &'static (Vec<Value>, SampleStats, usize) {
    static SAMPLE: OnceLock<(Vec<Value>, SampleStats, usize)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let (bytes, stats) = sample(&SampleConfig::default());
        let text = std::str::from_utf8(&bytes).expect("utf-8");
        assert!(text.ends_with('\n'));
        let records = text.lines().map(|l| serde_json::from_str(l).expect("line is JSON")).collect();
        (records, stats, bytes.len())
    })
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let config = SampleConfig { calls: 400, ..SampleConfig::default() };
    let (a, stats_a) = sample(&config);
    let (b, stats_b) = sample(&config);
    assert_eq!(a, b);
    assert_eq!(stats_a, stats_b);
    let (c, _) = sample(&SampleConfig { seed: 7, ..config });
    assert_ne!(a, c);
}

#[test]
fn bad_month_is_an_error() {
    let config = SampleConfig { month: 13, ..SampleConfig::default() };
    assert!(generate(&config, &mut Vec::new()).is_err());
}

#[test]
fn records_follow_the_contract() {
    let (records, stats, bytes) = default_sample();
    assert_eq!(records.len(), SampleConfig::default().calls);
    assert_eq!(stats.calls, records.len());
    assert_eq!(stats.bytes, *bytes as u64);
    let mut ids = std::collections::HashSet::new();
    let mut previous = String::new();
    for r in records {
        assert_eq!(r["schema"], 1);
        let id = r["request_id"].as_str().expect("request_id");
        assert_eq!(id.len(), 36);
        assert!(ids.insert(id.to_owned()), "duplicate {id}");
        let time = r["request_time"].as_str().expect("request_time").to_owned();
        assert!(time.starts_with("2026-10-") && time.ends_with('Z'), "{time}");
        assert!(time >= previous, "not sorted: {previous} > {time}");
        previous = time;
        assert!(r["response"]["status"].is_u64());
        assert!(r["latency_ms"].as_i64().expect("latency") > 0);
    }
}

/// Reported usage must be what tokentally would estimate from the same text.
#[test]
fn reported_usage_matches_tokentally_counting() {
    let (records, _, _) = default_sample();
    let mut checked = 0;
    for r in records {
        let response = &r["response"];
        let model = DEPLOYMENTS.iter().find(|d| r["deployment"] == d.name).expect("deployment").model;
        let encoding = lookup_model(model).expect("model").encoding;
        let (usage, contents, arguments) = if let Some(sse) = response["sse"].as_str() {
            if response["complete"] == false {
                continue;
            }
            let (usage, contents, arguments) = stream_parts(sse);
            let Some(usage) = usage else { continue };
            (usage, contents, arguments)
        } else {
            let body = match &response["body"] {
                Value::String(s) => serde_json::from_str(s).expect("string body is JSON"),
                other => other.clone(),
            };
            let Some(usage) = body.get("usage").cloned() else { continue };
            let mut contents = Vec::new();
            let mut arguments = Vec::new();
            for c in body["choices"].as_array().into_iter().flatten() {
                contents.extend(c["message"]["content"].as_str().map(str::to_owned));
                for t in c["message"]["tool_calls"].as_array().into_iter().flatten() {
                    arguments.push(t["function"]["arguments"].as_str().expect("args").to_owned());
                }
            }
            (usage, contents, arguments)
        };
        let prompt = usage["prompt_tokens"].as_i64().expect("prompt");
        if r["request"].get("input").is_some() {
            assert_eq!(prompt, estimate_text_input(encoding, &r["request"]["input"]));
            continue;
        }
        assert_eq!(prompt, estimate_chat_prompt(encoding, &r["request"]), "{r}");
        let reasoning = usage["completion_tokens_details"]["reasoning_tokens"].as_i64().unwrap_or(0);
        let visible: i64 = contents.iter().chain(&arguments).map(|t| count_tokens(encoding, t)).sum();
        assert_eq!(usage["completion_tokens"].as_i64(), Some(visible + reasoning));
        assert_eq!(usage["total_tokens"].as_i64(), Some(prompt + visible + reasoning));
        let cached = usage["prompt_tokens_details"]["cached_tokens"].as_i64().unwrap_or(0);
        assert!(cached == 0 || (cached >= 1024 && cached % 128 == 0 && cached <= prompt), "{cached}");
        checked += 1;
    }
    assert!(checked > 1000, "{checked}");
}

/// Usage, contents and tool arguments of a stream.
fn stream_parts(sse: &str) -> (Option<Value>, Vec<String>, Vec<String>) {
    let mut usage = None;
    let mut contents: Vec<String> = Vec::new();
    let mut arguments: BTreeMap<(u64, u64), String> = BTreeMap::new();
    for event in sse.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event.strip_prefix("data: ").expect("data event");
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).expect("chunk");
        if chunk.get("usage").is_some() {
            usage = Some(chunk["usage"].clone());
        }
        for c in chunk["choices"].as_array().into_iter().flatten() {
            let i = c["index"].as_u64().expect("index");
            let i_usize = usize::try_from(i).expect("small");
            if contents.len() <= i_usize {
                contents.resize(i_usize + 1, String::new());
            }
            if let Some(s) = c["delta"]["content"].as_str() {
                contents[i_usize].push_str(s);
            }
            for t in c["delta"]["tool_calls"].as_array().into_iter().flatten() {
                let key = (i, t["index"].as_u64().expect("tool index"));
                let fragment = t["function"]["arguments"].as_str().unwrap_or("");
                arguments.entry(key).or_default().push_str(fragment);
            }
        }
    }
    (usage, contents, arguments.into_values().collect())
}

fn jwt_claims(record: &Value) -> Option<Value> {
    let auth = record["caller"]["authorization"].as_str()?;
    let payload = auth.strip_prefix("Bearer ")?.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[test]
fn the_mix_has_every_feature() {
    let (records, stats, _) = default_sample();
    let count = |pred: &dyn Fn(&Value) -> bool| records.iter().filter(|r| pred(r)).count();
    let sse = |r: &Value| r["response"]["sse"].as_str().map(str::to_owned);

    let streams = count(&|r| sse(r).is_some());
    let with_usage = count(&|r| sse(r).is_some_and(|s| s.contains("\"usage\":")));
    let truncated = count(&|r| r["response"]["complete"] == false);
    assert!(with_usage > 100 && streams - with_usage > 100, "{streams} {with_usage}");
    assert!(truncated >= 5, "{truncated}");
    for r in records.iter().filter(|r| r["response"]["complete"] == false) {
        let s = sse(r).expect("sse");
        assert!(!s.contains("[DONE]") && !s.ends_with("\n\n"));
    }
    assert!(count(&|r| sse(r).is_some_and(|s| s.contains("\"finish_reason\":\"tool_calls\""))) > 10);
    assert!(count(&|r| sse(r).is_none() && r["response"]["body"].to_string().contains("tool_calls")) > 10);
    assert!(count(&|r| sse(r).is_some_and(|s| s.contains("\"index\":1,\"logprobs\""))) > 10);
    assert!(count(&|r| r["request"]["n"].as_u64().is_some_and(|n| n > 1) && sse(r).is_none()) > 10);
    assert!(count(&|r| r["response"].to_string().contains("\\\"length\\\"") || sse(r).is_some_and(|s| s.contains("\"finish_reason\":\"length\""))) > 10);
    assert!(count(&|r| r["response"]["status"] == 429) > 30);
    assert!(count(&|r| r["response"]["status"] == 400 && r["response"]["body"].to_string().contains("content_filter")) > 5);
    assert!(count(&|r| r["response"]["body"].is_string()) > 100);
    assert!(stats.features.reasoning > 50 && stats.features.cached_prompts > 100, "{:?}", stats.features);

    // Callers: v1 and v2 tokens, APIM claims, keys only, nobody.
    assert!(count(&|r| jwt_claims(r).is_some_and(|c| c["ver"] == "1.0" && c["appid"].is_string())) > 100);
    assert!(count(&|r| jwt_claims(r).is_some_and(|c| c["ver"] == "2.0" && c["azp"].is_string())) > 100);
    assert!(count(&|r| r["caller"]["authorization"].as_str().is_some_and(|a| !a.ends_with('.'))) > 50);
    assert!(count(&|r| r["caller"]["claims"]["appid"].is_string()) > 100);
    assert!(count(&|r| r["caller"]["claims"]["azp"].is_string()) > 50);
    let keys_only = |r: &Value| {
        r["caller"].get("authorization").is_none()
            && r["caller"].get("claims").is_none()
            && r["caller"]["subscription_name"].is_string()
    };
    assert!(count(&keys_only) > 100);
    assert!(count(&|r| keys_only(r) && r["caller"].get("subscription_id").is_none()) > 50);
    assert!(count(&|r| r.get("caller").is_none()) > 10);
    assert!(count(&|r| r["caller"].as_object().is_some_and(|c| c.len() == 1 && c.contains_key("ip"))) > 10);
    let unattributed = &stats.apps["unattributed"];
    assert!(unattributed.calls > 50 && unattributed.app_id_source == "none");
    assert_eq!(stats.apps.values().filter(|a| a.app_id_source == "subscription").count(), 3);

    for d in DEPLOYMENTS {
        assert!(stats.deployments.get(d.name).is_some_and(|n| *n > 50), "{}: {:?}", d.name, stats.deployments);
    }
    assert!(count(&|r| r.get("operation").is_none()) > 50);
    assert!(count(&|r| r["operation"].as_str().is_some_and(|o| o.starts_with("/openai/"))) > 500);
    assert!(count(&|r| r["request"]["messages"].as_array().is_some_and(|m| m.len() > 4)) > 100);
}

#[test]
fn stats_add_up() {
    let (_, stats, _) = default_sample();
    assert_eq!(stats.apps.values().map(|a| a.calls).sum::<usize>(), stats.calls);
    assert_eq!(stats.deployments.values().sum::<usize>(), stats.calls);
    for app in stats.apps.values() {
        assert!(app.cached_prompt_tokens <= app.prompt_tokens);
        assert!(app.reasoning_tokens <= app.completion_tokens);
    }
}

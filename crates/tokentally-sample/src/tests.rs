//! Whole-sample checks: determinism, the record contract, and the feature mix.

use super::*;
use crate::deployments::{DEPLOYMENTS, Kind};
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

/// The default sample: what the generator wrote, and its records parsed.
struct DefaultSample {
    bytes: Vec<u8>,
    records: Vec<Value>,
    stats: SampleStats,
}

/// The default sample, generated once for all tests.
fn default_sample() -> &'static DefaultSample {
    static SAMPLE: OnceLock<DefaultSample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let (bytes, stats) = sample(&SampleConfig::default());
        let text = std::str::from_utf8(&bytes).expect("utf-8");
        assert!(text.ends_with('\n'));
        let records = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("line is JSON"))
            .collect();
        DefaultSample {
            bytes,
            records,
            stats,
        }
    })
}

/// `sample-data/README.md` says the shipped month is this generator's default
/// output; a change to the generator that moves a byte must ship a new file.
#[test]
fn the_shipped_sample_month_is_the_default_output() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sample-data/gateway-2026-10.jsonl.gz"
    );
    let file = std::fs::File::open(path).expect("the shipped sample month");
    let mut shipped = Vec::new();
    io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut shipped).expect("gunzip");
    let generated = &default_sample().bytes;
    assert_eq!(shipped.len(), generated.len(), "a different length");
    assert!(shipped == *generated, "same length, other bytes");
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let config = SampleConfig {
        calls: 400,
        ..SampleConfig::default()
    };
    let (a, stats_a) = sample(&config);
    let (b, stats_b) = sample(&config);
    assert_eq!(a, b);
    assert_eq!(stats_a, stats_b);
    let (c, _) = sample(&SampleConfig { seed: 7, ..config });
    assert_ne!(a, c);
}

#[test]
fn bad_month_is_an_error() {
    let config = SampleConfig {
        month: 13,
        ..SampleConfig::default()
    };
    assert!(generate(&config, &mut Vec::new()).is_err());
}

#[test]
fn records_follow_the_contract() {
    let DefaultSample {
        bytes,
        records,
        stats,
    } = default_sample();
    assert_eq!(records.len(), SampleConfig::default().calls);
    assert_eq!(stats.calls, records.len());
    assert_eq!(stats.bytes, bytes.len() as u64);
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
    let records = &default_sample().records;
    let mut checked = 0;
    for r in records {
        let response = &r["response"];
        let model = DEPLOYMENTS
            .iter()
            .find(|d| r["deployment"] == d.name)
            .expect("deployment")
            .model;
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
            let Some(usage) = body.get("usage").cloned() else {
                continue;
            };
            let mut contents = Vec::new();
            let mut arguments = Vec::new();
            for c in body["choices"].as_array().into_iter().flatten() {
                contents.extend(c["message"]["content"].as_str().map(str::to_owned));
                for t in c["message"]["tool_calls"].as_array().into_iter().flatten() {
                    arguments.push(t["function"]["name"].as_str().expect("name").to_owned());
                    arguments.push(t["function"]["arguments"].as_str().expect("args").to_owned());
                }
            }
            (usage, contents, arguments)
        };
        if r["operation"]
            .as_str()
            .is_some_and(|o| o.ends_with("images/generations"))
        {
            let text = usage["input_tokens_details"]["text_tokens"].as_i64();
            assert_eq!(text, Some(estimate_text_input(encoding, &r["request"]["prompt"])));
            assert_eq!(usage["input_tokens"].as_i64(), text);
            continue;
        }
        let prompt = usage["prompt_tokens"].as_i64().expect("prompt");
        if r["request"].get("input").is_some() {
            assert_eq!(prompt, estimate_text_input(encoding, &r["request"]["input"]));
            continue;
        }
        // Audio tokens come on top of the text the request shows.
        let audio_in = usage["prompt_tokens_details"]["audio_tokens"]
            .as_i64()
            .unwrap_or(0);
        assert_eq!(
            prompt - audio_in,
            estimate_chat_prompt(encoding, &r["request"]),
            "{r}"
        );
        let detail = |name: &str| usage["completion_tokens_details"][name].as_i64().unwrap_or(0);
        // Reasoning, rejected prediction and audio tokens are billed besides the text.
        let reasoning =
            detail("reasoning_tokens") + detail("rejected_prediction_tokens") + detail("audio_tokens");
        let visible: i64 = contents
            .iter()
            .chain(&arguments)
            .map(|t| count_tokens(encoding, t))
            .sum();
        assert_eq!(usage["completion_tokens"].as_i64(), Some(visible + reasoning));
        assert_eq!(usage["total_tokens"].as_i64(), Some(prompt + visible + reasoning));
        let cached = usage["prompt_tokens_details"]["cached_tokens"]
            .as_i64()
            .unwrap_or(0);
        assert!(
            cached == 0 || (cached >= 1024 && cached % 128 == 0 && cached <= prompt),
            "{cached}"
        );
        checked += 1;
    }
    assert!(checked > 1000, "{checked}");
}

/// Usage, contents, and tool names and arguments of a stream.
fn stream_parts(sse: &str) -> (Option<Value>, Vec<String>, Vec<String>) {
    let mut usage = None;
    let mut contents: Vec<String> = Vec::new();
    let mut arguments: BTreeMap<(u64, u64), String> = BTreeMap::new();
    let mut names = Vec::new();
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
                if let Some(name) = t["function"]["name"].as_str() {
                    names.push(name.to_owned());
                }
                let fragment = t["function"]["arguments"].as_str().unwrap_or("");
                arguments.entry(key).or_default().push_str(fragment);
            }
        }
    }
    names.extend(arguments.into_values());
    (usage, contents, names)
}

fn jwt_claims(record: &Value) -> Option<Value> {
    let auth = record["caller"]["authorization"].as_str()?;
    let payload = auth.strip_prefix("Bearer ")?.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The response as text: the SSE of a stream, else the body's JSON (string bodies parsed).
fn response_text(r: &Value) -> String {
    match (&r["response"]["sse"], &r["response"]["body"]) {
        (Value::String(sse), _) => sse.clone(),
        (_, Value::String(body)) => serde_json::from_str::<Value>(body)
            .expect("string body is JSON")
            .to_string(),
        (_, body) => body.to_string(),
    }
}

#[test]
fn the_mix_has_every_feature() {
    let DefaultSample { records, stats, .. } = default_sample();
    let count = |pred: &dyn Fn(&Value) -> bool| records.iter().filter(|r| pred(r)).count();
    let streamed = |r: &Value| r["response"]["sse"].is_string();
    let says = |r: &Value, what: &str| response_text(r).contains(what);

    // Streams: with and without usage, cut off, tool calls, n > 1, both filter modes.
    let streams = count(&streamed);
    let with_usage = count(&|r| streamed(r) && says(r, "\"usage\":"));
    assert!(
        with_usage > 100 && streams - with_usage > 100,
        "{streams} {with_usage}"
    );
    let truncated: Vec<&Value> = records
        .iter()
        .filter(|r| r["response"]["complete"] == false)
        .collect();
    assert!(truncated.len() >= 5, "{}", truncated.len());
    for r in truncated {
        let sse = response_text(r);
        assert!(!sse.contains("[DONE]") && !sse.ends_with("\n\n"));
    }
    assert!(count(&|r| streamed(r) && says(r, "\"finish_reason\":\"tool_calls\"")) > 10);
    assert!(count(&|r| !streamed(r) && says(r, "\"finish_reason\":\"tool_calls\"")) > 10);
    assert!(count(&|r| streamed(r) && says(r, "\"index\":1,\"logprobs\"")) > 5);
    assert!(count(&|r| streamed(r) && says(r, "content_filter_offsets")) > 100);
    assert!(count(&|r| !streamed(r) && r["request"]["n"].as_u64().is_some_and(|n| n > 1)) > 10);
    assert!(count(&|r| says(r, "\"finish_reason\":\"length\"")) > 10);
    assert!(count(&|r| says(r, "\"reasoning_tokens\":") && !says(r, "\"reasoning_tokens\":0")) > 30);
    assert!(count(&|r| says(r, "\"cached_tokens\":") && !says(r, "\"cached_tokens\":0")) > 100);

    // Failures.
    assert!(count(&|r| r["response"]["status"] == 429 && says(r, "exceeded")) > 30);
    assert!(count(&|r| r["response"]["status"] == 400 && says(r, "ResponsibleAIPolicyViolation")) > 5);
    assert!(count(&|r| r["response"]["body"].is_string()) > 100);
    assert!(
        stats.features.reasoning > 30 && stats.features.cached_prompts > 100,
        "{:?}",
        stats.features
    );

    // Callers: v1 and v2 tokens, APIM claims, keys only, nobody.
    assert!(count(&|r| jwt_claims(r).is_some_and(|c| c["ver"] == "1.0" && c["appid"].is_string())) > 100);
    assert!(count(&|r| jwt_claims(r).is_some_and(|c| c["ver"] == "2.0" && c["azp"].is_string())) > 100);
    assert!(
        count(&|r| r["caller"]["authorization"]
            .as_str()
            .is_some_and(|a| !a.ends_with('.')))
            > 50
    );
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
    assert!(
        count(&|r| r["caller"]
            .as_object()
            .is_some_and(|c| c.len() == 1 && c.contains_key("ip")))
            > 10
    );
    let unattributed = &stats.apps["unattributed"];
    assert!(unattributed.calls > 50 && unattributed.app_id_source == "none");
    assert_eq!(
        stats
            .apps
            .values()
            .filter(|a| a.app_id_source == "subscription")
            .count(),
        3
    );

    // Deployments, operations, conversations.
    // The multimodal deployments serve a few calls only (`record/multimodal.rs`).
    for d in DEPLOYMENTS
        .iter()
        .filter(|d| !matches!(d.kind, Kind::Audio | Kind::Images))
    {
        assert!(
            stats.deployments.get(d.name).is_some_and(|n| *n > 50),
            "{}: {:?}",
            d.name,
            stats.deployments
        );
    }
    assert!(count(&|r| r.get("operation").is_none()) > 50);
    assert!(count(&|r| r["operation"].as_str().is_some_and(|o| o.starts_with("/openai/"))) > 300);
    assert!(count(&|r| r["request"]["messages"].as_array().is_some_and(|m| m.len() > 4)) > 100);
    assert!(count(&|r| r["request"]["messages"].to_string().contains("image_url")) > 3);
    let f = &stats.features;
    assert!(
        f.audio >= 3 && f.predicted_outputs >= 3 && f.image_generations >= 3,
        "{f:?}"
    );
    assert_eq!(
        count(&|r| says(r, "\"rejected_prediction_tokens\":") && !says(r, "\"rejected_prediction_tokens\":0")),
        f.predicted_outputs
    );
    assert_eq!(
        count(&|r| r["request"].to_string().contains("\"input_audio\"")),
        f.audio
    );
}

#[test]
fn stats_add_up() {
    let stats = &default_sample().stats;
    assert_eq!(stats.apps.values().map(|a| a.calls).sum::<usize>(), stats.calls);
    assert_eq!(stats.deployments.values().sum::<usize>(), stats.calls);
    for app in stats.apps.values() {
        assert!(app.cached_prompt_tokens <= app.prompt_tokens);
        assert!(app.reasoning_tokens <= app.completion_tokens);
    }
}

/// tokentally's own parser derives exactly the per-app totals the generator intended.
#[test]
fn the_parser_agrees_with_the_stats() {
    let (bytes, stats) = sample(&SampleConfig {
        calls: 1500,
        seed: 3,
        ..SampleConfig::default()
    });
    let mut parsed: BTreeMap<String, AppStats> = BTreeMap::new();
    for (i, line) in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let position = tokentally_core::SourcePosition {
            source: "sample".into(),
            partition: None,
            offset: i64::try_from(i).expect("small") + 1,
        };
        let row = tokentally_parse::parse_record(line, position).expect("parses");
        let app = parsed.entry(row.app_id.clone()).or_default();
        app.app_id_source = stats.apps.get(&row.app_id).map_or("?", |a| a.app_id_source);
        assert_eq!(row.app_id_source.as_str(), app.app_id_source, "{}", row.app_id);
        app.name = stats.apps.get(&row.app_id).map_or("?", |a| a.name);
        app.calls += 1;
        app.failed_calls += usize::from(row.status >= 400);
        app.prompt_tokens += row.prompt_tokens;
        app.cached_prompt_tokens += row.cached_prompt_tokens;
        app.completion_tokens += row.completion_tokens;
        app.reasoning_tokens += row.reasoning_tokens;
    }
    let expected: BTreeMap<String, AppStats> = stats.apps.into_iter().filter(|(_, a)| a.calls > 0).collect();
    assert_eq!(parsed, expected);
}

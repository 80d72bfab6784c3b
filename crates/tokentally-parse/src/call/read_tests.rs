//! The typed reading of a record (`GatewayRecord::from_text`) against the
//! `Value` reading it stands in for: same rows, same errors.

use super::*;
use proptest::prelude::*;

fn src() -> SourcePosition {
    SourcePosition {
        source: "t.jsonl".into(),
        partition: None,
        offset: 1,
    }
}

fn both(text: &str) -> (Result<UsageRecord, ParseError>, Result<UsageRecord, ParseError>) {
    (parse_record(text.as_bytes(), src()), parse_value(text, src()))
}

fn sample_lines() -> Vec<String> {
    let config = tokentally_sample::SampleConfig {
        calls: 150,
        ..tokentally_sample::SampleConfig::default()
    };
    let mut out = Vec::new();
    tokentally_sample::generate(&config, &mut out).expect("generate");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(str::to_owned)
        .collect()
}

const BASE: &str = r#"{"schema":1,"request_id":"r","request_time":"2026-10-05T10:00:00Z","caller":{"subscription_id":"s"UNKNOWN_CALLER},"request":{"messages":[{"role":"user","content":"Hi"}]},"response":{"status":200,"body":{"choices":[{"message":{"content":"Hello"}}]}UNKNOWN_RESPONSE}UNKNOWN_RECORD}"#;

/// `BASE` with `member` added at one of its three objects.
fn with_member(at: usize, member: &str) -> String {
    let holes = ["UNKNOWN_CALLER", "UNKNOWN_RESPONSE", "UNKNOWN_RECORD"];
    let mut text = BASE.to_owned();
    for (i, hole) in holes.iter().enumerate() {
        text = text.replace(hole, if i == at { member } else { "" });
    }
    text
}

#[test]
fn sample_records_are_read_typed_and_give_the_same_rows() {
    for line in sample_lines() {
        assert!(
            GatewayRecord::from_text(&line).is_some(),
            "typed reading declined {line}"
        );
        let (typed, value) = both(&line);
        assert_eq!(typed, value);
    }
}

#[test]
fn unknown_and_odd_members_give_the_same_result() {
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let members = [
        r#","ip":"10.1.2.3""#.to_owned(),
        format!(r#","deep":{deep}"#),
        r#","big":1e400"#.to_owned(),
        r#","lone":"\ud800""#.to_owned(),
        r#","twice":1,"twice":2"#.to_owned(),
        r#","schema":1"#.to_owned(),
        r#","status":201"#.to_owned(),
        r#","request_id":"other""#.to_owned(),
        r#","product":null"#.to_owned(),
        r#","complete":"yes""#.to_owned(),
        r#","latency_ms":1.5"#.to_owned(),
        r#","x":"#.to_owned(),
        r#","sse":5"#.to_owned(),
        r#","sse":null"#.to_owned(),
        r#","sse":"data: {\"choices\":[{\"text\":\"\u00e9\ud83d\ude00\"}]}\n\ndata: [DONE]\n\n""#.to_owned(),
        r#","sse":"data: {\"choices\":[{\"text\":\"\ud83d\"}]}\n\n""#.to_owned(),
        r#","sse":"data: {\"choices\":[{\"text\":\"\\ud83d\"}]}\n\n""#.to_owned(),
    ];
    // A documented but unread member keeps the typed reading.
    assert!(GatewayRecord::from_text(&with_member(0, &members[0])).is_some());
    for member in &members {
        for at in 0..3 {
            let text = with_member(at, member);
            let (typed, value) = both(&text);
            assert_eq!(typed, value, "{text}");
        }
    }
    for text in [
        BASE.replace(r#""schema":1"#, r#""schema":1.0"#),
        BASE.replace(r#""schema":1"#, r#""schema":"1""#),
        BASE.replace(r#""schema":1"#, r#""schema":2"#),
        BASE.replace(r#""schema":1,"#, ""),
        BASE.replace(
            r#""caller":{"subscription_id":"s"UNKNOWN_CALLER}"#,
            r#""caller":null"#,
        ),
        format!("[{}]", with_member(0, "")),
        format!(" \n{}\t", with_member(0, "")),
        "null".to_owned(),
    ] {
        let (typed, value) = both(&text);
        assert_eq!(typed, value, "{text}");
    }
}

proptest! {
    #[test]
    fn any_added_member_gives_the_same_result(
        at in 0..3usize,
        key in "(ip|schema|request|caller|status|sse|body|x)",
        value in r#"(null|true|-?[0-9]{1,3}(\.[0-9])?(e[0-9]{1,3})?|"[a-z\\"]{0,4}"|\[[0-9,]{0,5}\]|\{"a":[0-9]\}|\{)"#,
    ) {
        let text = with_member(at, &format!(",{}:{value}", serde_json::json!(key)));
        let (typed, value) = both(&text);
        prop_assert_eq!(typed, value);
    }
}

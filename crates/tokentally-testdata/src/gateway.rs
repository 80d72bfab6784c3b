//! Gateway records (`docs/formats.md`, schema 1) for end-to-end tests: a chat
//! call an APIM subscription made, with the parts a test changes named.

use serde_json::{Value, json};

/// One non-streamed call as the gateway logs it.
#[derive(Debug, Clone)]
pub struct Call {
    pub request_id: String,
    pub request_time: String,
    /// The APIM subscription that made it (`caller.subscription_id`).
    pub subscription: String,
    pub deployment: String,
    pub operation: String,
    pub request: Value,
    pub status: u16,
    pub body: Value,
}

impl Call {
    /// Call `id` of subscription `app` to `gpt-4o` at 2026-10-07 09:30 UTC: a
    /// one-message chat answered with `Hi` and a reported usage of 9 prompt and
    /// 1 completion tokens ([`chat_answer`]).
    pub fn chat(id: &str, app: &str) -> Self {
        Self {
            request_id: id.to_owned(),
            request_time: "2026-10-07T09:30:00Z".to_owned(),
            subscription: app.to_owned(),
            deployment: "gpt-4o".to_owned(),
            operation: "chat/completions".to_owned(),
            request: json!({"messages": [{"role": "user", "content": "Hello"}]}),
            status: 200,
            body: chat_answer(
                "gpt-4o-2024-08-06",
                &json!({"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}),
            ),
        }
    }

    /// The record, as one JSON value.
    pub fn to_json(&self) -> Value {
        json!({"schema": 1, "request_id": self.request_id, "request_time": self.request_time,
            "caller": {"subscription_id": self.subscription}, "deployment": self.deployment,
            "operation": self.operation, "request": self.request,
            "response": {"status": self.status, "body": self.body}})
    }
}

/// A chat completion's answer from `model`: one choice saying `Hi`, and `usage`
/// as AOAI reports it.
pub fn chat_answer(model: &str, usage: &Value) -> Value {
    json!({"model": model, "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "Hi"}}], "usage": usage})
}

/// `records` as JSON Lines.
pub fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_has_the_gateway_record_shape() {
        let mut call = Call::chat("c-1", "sub-a");
        call.status = 429;
        let record = call.to_json();
        assert_eq!(record["schema"], 1);
        assert_eq!(record["caller"]["subscription_id"], "sub-a");
        assert_eq!(record["response"]["status"], 429);
        assert_eq!(record["response"]["body"]["usage"]["total_tokens"], 10);
        assert_eq!(jsonl(&[record.clone(), record]).lines().count(), 2);
    }
}

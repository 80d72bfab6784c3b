//! Values of secret-looking librdkafka options kept out of `Debug` output and logs
//! (the ingest `[kafka]` and the proxy's `[kafka]` sections alike).

use std::collections::BTreeMap;

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "key", "token", "jaas"]
        .iter()
        .any(|s| key.contains(s))
}

/// `options` with the values of secret-looking keys replaced, for `Debug` output.
pub fn redacted(options: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    options
        .iter()
        .map(|(k, v)| (k.as_str(), if is_secret(k) { "<redacted>" } else { v.as_str() }))
        .collect()
}

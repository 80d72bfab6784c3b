use super::*;

fn setting<'a>(connection: &'a Connection, key: &str) -> Option<&'a str> {
    connection.config.get(key)
}

#[test]
fn event_hubs_endpoint_comes_from_the_connection_string() {
    let cs =
        "Endpoint=sb://acme-logs.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc=";
    assert_eq!(
        event_hubs_host(cs).expect("host"),
        "acme-logs.servicebus.windows.net"
    );
    let err = event_hubs_host("SharedAccessKey=abc").expect_err("no endpoint");
    assert!(!err.to_string().contains("abc"), "the secret leaked: {err}");
}

#[test]
fn namespaces_are_names_or_hosts() {
    assert_eq!(
        namespace_host("Contoso-Logs").expect("name"),
        "contoso-logs.servicebus.windows.net"
    );
    assert_eq!(
        namespace_host("sb://contoso.servicebus.windows.net/").expect("host"),
        "contoso.servicebus.windows.net"
    );
    for bad in ["", "contoso/logs", "contoso logs", "https://x"] {
        assert!(namespace_host(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn exactly_one_way_to_authenticate() {
    let none = EventHubsConfig::default();
    assert!(none.validate().is_err());
    let both = EventHubsConfig {
        connection_string_env: Some("X".into()),
        namespace: Some("contoso".into()),
        ..EventHubsConfig::default()
    };
    assert!(both.validate().is_err());
    let key_with_credential = EventHubsConfig {
        connection_string_env: Some("X".into()),
        credential: CredentialKind::ManagedIdentity,
        ..EventHubsConfig::default()
    };
    let err = key_with_credential
        .validate()
        .expect_err("credential without namespace");
    assert!(err.to_string().contains("only with namespace"), "{err}");
    let entra = EventHubsConfig {
        namespace: Some("contoso".into()),
        credential: CredentialKind::ManagedIdentity,
        ..EventHubsConfig::default()
    };
    entra.validate().expect("entra");
}

#[test]
fn entra_id_connects_with_oauthbearer_and_the_recommended_settings() {
    let entra = EventHubsConfig {
        namespace: Some("contoso".into()),
        // Managed identity needs no variable, so the test does not touch the environment.
        credential: CredentialKind::ManagedIdentity,
        ..EventHubsConfig::default()
    };
    let consumer = connection_config(None, Some(&entra), ClientRole::Consumer).expect("consumer");
    assert_eq!(
        setting(&consumer, "bootstrap.servers"),
        Some("contoso.servicebus.windows.net:9093")
    );
    assert_eq!(setting(&consumer, "sasl.mechanisms"), Some("OAUTHBEARER"));
    assert_eq!(setting(&consumer, "security.protocol"), Some("SASL_SSL"));
    assert_eq!(setting(&consumer, "sasl.password"), None);
    let oauth = consumer.oauth.as_ref().expect("a token source");
    assert_eq!(oauth.scope(), "https://contoso.servicebus.windows.net/.default");
    assert_eq!(setting(&consumer, "socket.keepalive.enable"), Some("true"));
    assert_eq!(setting(&consumer, "metadata.max.age.ms"), Some("180000"));
    assert_eq!(setting(&consumer, "session.timeout.ms"), Some("30000"));
    assert_eq!(setting(&consumer, "request.timeout.ms"), None, "producer only");

    let producer = connection_config(None, Some(&entra), ClientRole::Producer).expect("producer");
    assert_eq!(setting(&producer, "request.timeout.ms"), Some("60000"));
    assert_eq!(setting(&producer, "session.timeout.ms"), None, "consumer only");
}

#[test]
fn a_plain_broker_gets_no_event_hubs_settings() {
    let plain = connection_config(Some("127.0.0.1:9092"), None, ClientRole::Consumer).expect("plain");
    assert_eq!(setting(&plain, "bootstrap.servers"), Some("127.0.0.1:9092"));
    assert!(plain.oauth.is_none());
    for recommended in RECOMMENDED {
        assert_eq!(setting(&plain, recommended.key), None, "{}", recommended.key);
    }
}

#[test]
fn recommended_values_stay_inside_the_limits_microsoft_gives() {
    let value = |key: &str| -> u64 {
        RECOMMENDED
            .iter()
            .find(|s| s.key == key)
            .and_then(|s| s.value.parse().ok())
            .unwrap_or_else(|| panic!("{key} missing"))
    };
    assert!(value("metadata.max.age.ms") < 240_000);
    assert!(value("connections.max.idle.ms") < 240_000);
    assert!(value("request.timeout.ms") > 20_000);
    assert!(value("session.timeout.ms") >= 30_000);
    assert_eq!(value("session.timeout.ms"), CONSUMER_SESSION_TIMEOUT_MS);
}

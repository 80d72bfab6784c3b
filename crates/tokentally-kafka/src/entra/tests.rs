//! Token requests against a local fake Entra ID / managed identity endpoint.

use super::*;
use crate::OAuthContext;
use rdkafka::ClientContext as _;
use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;

/// One request as the fake endpoint saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: HashMap<String, String>,
    body: String,
}

/// Serves `replies` (status, body) one request each, in order, and reports what it saw.
fn fake_endpoint(replies: Vec<(u16, String)>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, reply) in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut headers = HashMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let length = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0usize);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = tx.send(Seen {
                request_line: request_line.trim().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (address, rx)
}

/// A service principal (tenant `t`, client `app`) whose tokens come from `authority`.
fn client_secret(authority: &str, secret: &str) -> Credential {
    Credential::from_env_with(
        CredentialKind::ClientSecret,
        None,
        &env(&[
            ("AZURE_AUTHORITY_HOST", authority),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", secret),
        ]),
    )
    .expect("credential")
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

const HOST: &str = "contoso.servicebus.windows.net";

#[test]
fn client_secret_posts_the_client_credentials_grant_for_the_namespace_scope() {
    let (authority, seen) = fake_endpoint(vec![(
        200,
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"tok-1"}"#.into(),
    )]);
    let credential = Credential::from_env_with(
        CredentialKind::Auto,
        None,
        &env(&[
            ("AZURE_AUTHORITY_HOST", &authority),
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "app-1"),
            ("AZURE_CLIENT_SECRET", "s3cret"),
        ]),
    )
    .expect("credential");
    assert!(
        !format!("{credential:?}").contains("s3cret"),
        "Debug shows the secret"
    );
    let before = now_secs() * 1000;
    let token = EntraToken::new(credential, HOST).fetch().expect("token");
    assert_eq!(token.token, "tok-1");
    assert_eq!(token.principal, "app-1");
    assert!((before + 3_590_000..=before + 3_700_000).contains(&token.expires_at_ms));
    let request = seen.recv().expect("a request");
    assert_eq!(request.request_line, "POST /tenant-1/oauth2/v2.0/token HTTP/1.1");
    for part in [
        "grant_type=client_credentials",
        "client_id=app-1",
        "client_secret=s3cret",
        "scope=https%3A%2F%2Fcontoso.servicebus.windows.net%2F.default",
    ] {
        assert!(
            request.body.contains(part),
            "{part} missing from {}",
            request.body
        );
    }
}

#[test]
fn workload_identity_sends_the_federated_token_read_at_each_fetch() {
    let (authority, seen) = fake_endpoint(vec![
        (200, r#"{"expires_in":3600,"access_token":"tok-a"}"#.into()),
        (200, r#"{"expires_in":3600,"access_token":"tok-b"}"#.into()),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "federated-1\n").expect("write");
    let file_text = file.display().to_string();
    let credential = Credential::from_env_with(
        CredentialKind::Auto,
        None,
        &env(&[
            ("AZURE_AUTHORITY_HOST", &format!("{authority}/")),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "wi-app"),
            ("AZURE_FEDERATED_TOKEN_FILE", &file_text),
        ]),
    )
    .expect("credential");
    assert!(matches!(credential, Credential::WorkloadIdentity { .. }));
    let source = EntraToken::new(credential, HOST);
    assert_eq!(source.fetch().expect("first").token, "tok-a");
    std::fs::write(&file, "federated-2").expect("rotate");
    // The refresh path librdkafka takes: the context asks the source again.
    let context = OAuthContext::new(Some(std::sync::Arc::new(source)));
    let refreshed = context.generate_oauth_token(None).expect("refresh");
    assert_eq!(
        (refreshed.token.as_str(), refreshed.principal_name.as_str()),
        ("tok-b", "wi-app")
    );
    let first = seen.recv().expect("first request");
    let second = seen.recv().expect("second request");
    assert_eq!(first.request_line, "POST /t/oauth2/v2.0/token HTTP/1.1");
    assert!(
        first.body.contains("client_assertion=federated-1"),
        "{}",
        first.body
    );
    assert!(
        second.body.contains("client_assertion=federated-2"),
        "rotated file not re-read"
    );
    assert!(first.body.contains("jwt-bearer"));
}

#[test]
fn managed_identity_uses_the_app_service_endpoint_with_its_header() {
    let (endpoint, seen) = fake_endpoint(vec![(
        200,
        r#"{"access_token":"mi-tok","expires_on":"1893456000","resource":"x","token_type":"Bearer"}"#.into(),
    )]);
    let credential = Credential::from_env_with(
        CredentialKind::ManagedIdentity,
        Some("uami-1"),
        &env(&[
            ("IDENTITY_ENDPOINT", &format!("{endpoint}/msi/token")),
            ("IDENTITY_HEADER", "hdr-1"),
        ]),
    )
    .expect("credential");
    let token = EntraToken::new(credential, HOST).fetch().expect("token");
    assert_eq!(token.expires_at_ms, 1_893_456_000_000);
    assert_eq!(token.principal, "uami-1");
    let request = seen.recv().expect("request");
    assert!(request.request_line.starts_with("GET /msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fcontoso.servicebus.windows.net&client_id=uami-1 "), "{}", request.request_line);
    assert_eq!(
        request.headers.get("x-identity-header").map(String::as_str),
        Some("hdr-1")
    );
}

#[test]
fn without_an_app_service_endpoint_managed_identity_is_imds() {
    let credential = Credential::from_env_with(CredentialKind::Auto, None, &env(&[])).expect("credential");
    match credential {
        Credential::ManagedIdentity {
            endpoint,
            identity_header,
            client_id,
        } => {
            assert_eq!(endpoint, IMDS_ENDPOINT);
            assert_eq!((identity_header, client_id), (None, None));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refused_credential_names_the_endpoint_and_entra_error_never_the_secret() {
    let (authority, _seen) = fake_endpoint(vec![(
        401,
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"}"#.into(),
    )]);
    let credential = client_secret(&authority, "wrong-secret");
    let context = OAuthContext::new(Some(std::sync::Arc::new(EntraToken::new(credential, HOST))));
    let Err(err) = context.generate_oauth_token(None) else {
        panic!("a refused credential gave a token");
    };
    let err = err.to_string();
    assert!(err.contains(&format!("{authority}/t/oauth2/v2.0/token")), "{err}");
    assert!(err.contains("invalid_client: AADSTS7000215"), "{err}");
    assert!(!err.contains("Trace ID"), "only the first line: {err}");
    assert!(!err.contains("wrong-secret"), "the secret leaked: {err}");
}

#[test]
fn answers_without_a_usable_token_are_errors() {
    let (authority, _seen) = fake_endpoint(vec![
        (200, r#"{"access_token":"t"}"#.into()),
        (200, r#"{"access_token":" ","expires_in":10}"#.into()),
        (200, "not json".into()),
    ]);
    let credential = client_secret(&authority, "x");
    let source = EntraToken::new(credential, HOST);
    for expected in [
        "no expires_on or expires_in",
        "empty access_token",
        "not a token response",
    ] {
        let err = source.fetch().expect_err(expected).to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn missing_variables_are_named() {
    let err = Credential::from_env_with(
        CredentialKind::WorkloadIdentity,
        None,
        &env(&[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c")]),
    )
    .expect_err("no token file")
    .to_string();
    assert!(
        err.contains("AZURE_FEDERATED_TOKEN_FILE") && err.contains("workload_identity"),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_is_an_error_not_a_hang() {
    // A port nobody listens on: bind, note the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let credential = Credential::from_env_with(
        CredentialKind::ManagedIdentity,
        None,
        &env(&[
            ("IDENTITY_ENDPOINT", &format!("http://127.0.0.1:{port}/token")),
            ("IDENTITY_HEADER", "h"),
        ]),
    )
    .expect("credential");
    let err = EntraToken::new(credential, HOST)
        .fetch()
        .expect_err("unreachable")
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}/token")), "{err}");
}

#[test]
fn without_a_token_source_the_context_says_what_is_missing() {
    let Err(err) = OAuthContext::new(None).generate_oauth_token(None) else {
        panic!("a token without a source");
    };
    let err = err.to_string();
    assert!(err.contains("namespace"), "{err}");
}

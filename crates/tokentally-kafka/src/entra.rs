//! Entra ID tokens for Event Hubs' OAUTHBEARER, with the identities an Azure
//! workload has: a service principal's secret, workload identity (a federated
//! token file, as AKS mounts it) or a managed identity (App Service / Container
//! Apps endpoint, else the VM's IMDS). The same environment variables as the Azure
//! SDKs' `DefaultAzureCredential` are read, so one pod spec serves every tool.
//!
//! Written against the token endpoints rather than with `azure_identity`: that
//! crate's 1.x pulls a second reqwest and aws-lc-sys (a CMake build) into a binary
//! that already has reqwest with rustls; the three flows are plain HTTPS requests.
//!
//! librdkafka asks for a token when it connects and again at 80 % of the token's
//! lifetime (the client context's `generate_oauth_token`), always from a thread of
//! its own, so fetching is blocking and needs no runtime.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which identity to take a token with (`[kafka.event_hubs] credential`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// `client_secret` when `AZURE_CLIENT_SECRET` is set, else `workload_identity`
    /// when `AZURE_FEDERATED_TOKEN_FILE` is set, else `managed_identity`.
    #[default]
    Auto,
    ClientSecret,
    WorkloadIdentity,
    ManagedIdentity,
}

const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const TIMEOUT: Duration = Duration::from_secs(30);

/// An identity, resolved from the environment at start so a missing variable fails
/// the run before anything connects.
#[derive(Clone)]
pub enum Credential {
    /// A service principal: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
    ClientSecret {
        authority: String,
        tenant: String,
        client_id: String,
        secret: String,
    },
    /// AKS workload identity: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and
    /// `AZURE_FEDERATED_TOKEN_FILE` (re-read at every fetch: the kubelet rotates it).
    WorkloadIdentity {
        authority: String,
        tenant: String,
        client_id: String,
        token_file: PathBuf,
    },
    /// A managed identity: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service,
    /// Container Apps, Functions), else IMDS (VMs, VM scale sets, AKS nodes).
    ManagedIdentity {
        endpoint: String,
        /// `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`; `None` for IMDS.
        identity_header: Option<String>,
        client_id: Option<String>,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret {
                tenant, client_id, ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant", tenant)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::WorkloadIdentity {
                tenant,
                client_id,
                token_file,
                ..
            } => f
                .debug_struct("WorkloadIdentity")
                .field("tenant", tenant)
                .field("client_id", client_id)
                .field("token_file", token_file)
                .finish_non_exhaustive(),
            Self::ManagedIdentity {
                endpoint, client_id, ..
            } => f
                .debug_struct("ManagedIdentity")
                .field("endpoint", endpoint)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Why no token could be had. Names the endpoint and Entra's error code, never a
/// secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("Entra ID credential {kind}: environment variable {var} is not set")]
    MissingVariable { kind: &'static str, var: &'static str },
    #[error("Entra ID token from {endpoint}: {reason}")]
    Fetch { endpoint: String, reason: String },
}

impl Credential {
    /// Resolves `kind` from the process environment.
    ///
    /// # Errors
    /// A variable the credential needs is not set.
    pub fn from_environment(
        kind: CredentialKind,
        managed_identity_client_id: Option<&str>,
    ) -> Result<Self, TokenError> {
        Self::from_env_with(kind, managed_identity_client_id, &|var| {
            std::env::var(var).ok().filter(|v| !v.trim().is_empty())
        })
    }

    /// As [`Credential::from_environment`], with `env` standing for the environment.
    pub fn from_env_with(
        kind: CredentialKind,
        managed_identity_client_id: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, TokenError> {
        let kind = match kind {
            CredentialKind::Auto if env("AZURE_CLIENT_SECRET").is_some() => CredentialKind::ClientSecret,
            CredentialKind::Auto if env("AZURE_FEDERATED_TOKEN_FILE").is_some() => {
                CredentialKind::WorkloadIdentity
            }
            CredentialKind::Auto => CredentialKind::ManagedIdentity,
            other => other,
        };
        let need = |name: &'static str, var: &'static str| {
            env(var).ok_or(TokenError::MissingVariable { kind: name, var })
        };
        let authority = || {
            env("AZURE_AUTHORITY_HOST")
                .unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned())
                .trim_end_matches('/')
                .to_owned()
        };
        Ok(match kind {
            CredentialKind::ClientSecret => Self::ClientSecret {
                authority: authority(),
                tenant: need("client_secret", "AZURE_TENANT_ID")?,
                client_id: need("client_secret", "AZURE_CLIENT_ID")?,
                secret: need("client_secret", "AZURE_CLIENT_SECRET")?,
            },
            CredentialKind::WorkloadIdentity => Self::WorkloadIdentity {
                authority: authority(),
                tenant: need("workload_identity", "AZURE_TENANT_ID")?,
                client_id: need("workload_identity", "AZURE_CLIENT_ID")?,
                token_file: need("workload_identity", "AZURE_FEDERATED_TOKEN_FILE")?.into(),
            },
            CredentialKind::ManagedIdentity | CredentialKind::Auto => {
                let client_id = managed_identity_client_id.map(str::to_owned);
                match (env("IDENTITY_ENDPOINT"), env("IDENTITY_HEADER")) {
                    (Some(endpoint), Some(header)) => Self::ManagedIdentity {
                        endpoint,
                        identity_header: Some(header),
                        client_id,
                    },
                    _ => Self::ManagedIdentity {
                        endpoint: IMDS_ENDPOINT.to_owned(),
                        identity_header: None,
                        client_id,
                    },
                }
            }
        })
    }

    /// The client id a token is issued to, as the Kafka principal's name.
    fn principal(&self) -> String {
        match self {
            Self::ClientSecret { client_id, .. } | Self::WorkloadIdentity { client_id, .. } => {
                client_id.clone()
            }
            Self::ManagedIdentity { client_id, .. } => {
                client_id.clone().unwrap_or_else(|| "managed-identity".to_owned())
            }
        }
    }
}

/// A token and when it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    pub principal: String,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at_ms", &self.expires_at_ms)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// Tokens for one Event Hubs namespace with one credential.
#[derive(Debug, Clone)]
pub struct EntraToken {
    credential: Credential,
    /// `https://<namespace host>`: managed identity endpoints take a resource.
    resource: String,
}

impl EntraToken {
    pub fn new(credential: Credential, namespace_host: &str) -> Self {
        Self {
            credential,
            resource: format!("https://{namespace_host}"),
        }
    }

    /// The scope tokens are requested for.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.resource)
    }

    /// Requests a fresh token (librdkafka decides when).
    ///
    /// # Errors
    /// The endpoint is unreachable, refuses the credential, or answers without a
    /// token; the error names the endpoint and Entra's error code.
    pub fn fetch(&self) -> Result<AccessToken, TokenError> {
        let (endpoint, request) = self.request()?;
        let fail = |reason: String| TokenError::Fetch {
            endpoint: endpoint.clone(),
            reason,
        };
        let response = request.send().map_err(|e| fail(without_url(&e)))?;
        let status = response.status();
        let body = response.bytes().map_err(|e| fail(without_url(&e)))?;
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}: {}", error_summary(&body))));
        }
        let reply: TokenReply = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("the answer is not a token response: {e}")))?;
        let expires_at_ms = reply
            .expires_at_ms(now_secs())
            .ok_or_else(|| fail("the answer has no expires_on or expires_in".into()))?;
        if reply.access_token.trim().is_empty() {
            return Err(fail("the answer has an empty access_token".into()));
        }
        Ok(AccessToken {
            token: reply.access_token,
            expires_at_ms,
            principal: self.credential.principal(),
        })
    }

    fn request(&self) -> Result<(String, reqwest::blocking::RequestBuilder), TokenError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TokenError::Fetch {
                endpoint: "(HTTP client)".into(),
                reason: e.to_string(),
            })?;
        let scope = self.scope();
        Ok(match &self.credential {
            Credential::ClientSecret {
                authority,
                tenant,
                client_id,
                secret,
            } => {
                let endpoint = format!("{authority}/{tenant}/oauth2/v2.0/token");
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("scope", scope.as_str()),
                ];
                let request = client.post(&endpoint).form(&form);
                (endpoint, request)
            }
            Credential::WorkloadIdentity {
                authority,
                tenant,
                client_id,
                token_file,
            } => {
                let endpoint = format!("{authority}/{tenant}/oauth2/v2.0/token");
                let assertion = std::fs::read_to_string(token_file).map_err(|e| TokenError::Fetch {
                    endpoint: endpoint.clone(),
                    reason: format!("reading the federated token file {}: {e}", token_file.display()),
                })?;
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.trim()),
                    ("scope", scope.as_str()),
                ];
                let request = client.post(&endpoint).form(&form);
                (endpoint, request)
            }
            Credential::ManagedIdentity {
                endpoint,
                identity_header,
                client_id,
            } => {
                let mut query = vec![("resource", self.resource.as_str())];
                if let Some(id) = client_id {
                    query.push(("client_id", id.as_str()));
                }
                let request = match identity_header {
                    Some(header) => client
                        .get(endpoint)
                        .query(&[("api-version", "2019-08-01")])
                        .header("X-IDENTITY-HEADER", header),
                    None => client
                        .get(endpoint)
                        .query(&[("api-version", "2018-02-01")])
                        .header("Metadata", "true"),
                };
                (endpoint.clone(), request.query(&query))
            }
        })
    }
}

/// Entra's token endpoint answers `expires_in` (seconds, a number); managed
/// identity endpoints `expires_on` (epoch seconds) and/or `expires_in`, as strings.
#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_on: Option<NumberOrString>,
    #[serde(default)]
    expires_in: Option<NumberOrString>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(i64),
    Text(String),
}

impl NumberOrString {
    fn value(&self) -> Option<i64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(s) => s.trim().parse().ok(),
        }
    }
}

impl TokenReply {
    fn expires_at_ms(&self, now_secs: i64) -> Option<i64> {
        let on = self.expires_on.as_ref().and_then(NumberOrString::value);
        let within = self.expires_in.as_ref().and_then(NumberOrString::value);
        let secs = on.or_else(|| within.map(|s| now_secs.saturating_add(s)))?;
        secs.checked_mul(1000)
    }
}

/// `error` and the first line of `error_description` of an OAuth error answer
/// (`invalid_client: AADSTS7000215: Invalid client secret provided.`), else the
/// start of the body.
fn error_summary(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => match e.error_description.as_deref().and_then(|d| d.lines().next()) {
            Some(first) => format!("{}: {first}", e.error),
            None => e.error,
        },
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// A transport error without the URL reqwest appends (it may carry a client id;
/// the endpoint is named separately).
fn without_url(e: &reqwest::Error) -> String {
    let mut reason = e.to_string();
    if let Some(url) = e.url() {
        reason = reason.replace(&format!(" ({url})"), "");
    }
    reason
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;

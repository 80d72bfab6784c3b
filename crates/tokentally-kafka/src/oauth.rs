//! Serving librdkafka's OAUTHBEARER token refreshes from an Entra ID token source.
//! Both the ingest consumer's context and the capture proxy's producer context
//! answer `generate_oauth_token` here.

use crate::entra::EntraToken;
use rdkafka::ClientContext;
use rdkafka::client::OAuthToken;
use std::sync::Arc;

/// A token for librdkafka, or why there is none (logged by librdkafka, which
/// retries after a back-off; the client reports the connection failure).
pub fn oauth_token(source: Option<&EntraToken>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
    let Some(source) = source else {
        return Err(
            "OAUTHBEARER is set in [kafka.options] but [kafka.event_hubs] names no namespace to take an Entra ID token for"
                .into(),
        );
    };
    match source.fetch() {
        Ok(token) => {
            tracing::info!(
                principal = %token.principal,
                expires_at_ms = token.expires_at_ms,
                "Entra ID token for Event Hubs"
            );
            Ok(OAuthToken {
                token: token.token,
                principal_name: token.principal,
                lifetime_ms: token.expires_at_ms,
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "no Entra ID token for Event Hubs");
            Err(Box::new(e))
        }
    }
}

/// The client context of a producer: librdkafka's defaults plus Entra ID tokens.
#[derive(Debug, Clone, Default)]
pub struct OAuthContext {
    oauth: Option<Arc<EntraToken>>,
}

impl OAuthContext {
    pub fn new(oauth: Option<Arc<EntraToken>>) -> Self {
        Self { oauth }
    }
}

impl ClientContext for OAuthContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        oauth_token(self.oauth.as_deref())
    }
}

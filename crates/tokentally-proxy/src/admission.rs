//! Whether a call may go through, decided from its head before any of its body is
//! read: a context the proxy believes (or none at all), credentials that name one
//! payer and that no hop may strip, and a free slot among `max_calls`. Every
//! refusal is answered with a clear error, counted, and logged without header
//! values.

use crate::caller::{self, CredentialRefusal, Credentials};
use crate::config::ContextHeader;
use crate::context::{self, GatewayContext};
use crate::forward::{ProxyBody, Shared};
use crate::reply::error_response;
use crate::stats::Stats;
use http::request::Parts;
use http::{Response, StatusCode, header};
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A call let through, and who pays for it.
#[derive(Debug)]
pub struct Admitted {
    /// APIM's context, signature checked; `None` when the proxy ignores contexts.
    pub context: Option<GatewayContext>,
    /// The record's `caller`.
    pub caller: Map<String, Value>,
    /// The call's slot among `max_calls`, held until its record is handed over.
    pub slot: OwnedSemaphorePermit,
}

/// Why a call was turned away before it was forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Context(context::Refusal),
    Credentials(CredentialRefusal),
    /// `max_calls` calls are in flight.
    Busy,
}

pub fn admit(shared: &Shared, parts: &Parts) -> Result<Admitted, Refusal> {
    let context = match (&shared.config.proxy.context_header, &shared.verifier) {
        (ContextHeader::Trust, Some(verifier)) => {
            let now = chrono::Utc::now().timestamp();
            let checked = verifier.check(parts.method.as_str(), parts.uri.path(), &parts.headers, now);
            Some(checked.map_err(Refusal::Context)?)
        }
        // Whatever the caller sent is ignored: it is stripped before forwarding, and
        // the request id and time are the proxy's own.
        _ => None,
    };
    let credentials = Credentials::read(&parts.headers, context.is_some()).map_err(Refusal::Credentials)?;
    let slot = Arc::clone(&shared.calls)
        .try_acquire_owned()
        .map_err(|_| Refusal::Busy)?;
    let caller = caller::caller(&credentials, context.as_ref(), shared.api_key_salt.as_deref());
    Ok(Admitted {
        context,
        caller,
        slot,
    })
}

impl Refusal {
    /// Counts the refusal and answers it.
    pub fn respond(self, shared: &Shared) -> Response<ProxyBody> {
        let stats = &shared.delivery.stats;
        match self {
            Self::Context(refusal) => {
                Stats::add(&stats.contexts_refused);
                let skew = shared
                    .verifier
                    .as_ref()
                    .map_or(0, context::Verifier::max_skew_secs);
                let message = refusal.message(skew);
                tracing::warn!(code = refusal.code(), %message, "call refused: its context is not APIM's");
                error_response(StatusCode::BAD_REQUEST, refusal.code(), &message)
            }
            Self::Credentials(refusal) => {
                Stats::add(&stats.credentials_refused);
                tracing::warn!(
                    code = refusal.code(),
                    reason = refusal.message(),
                    "call refused: credentials the proxy cannot bill by"
                );
                error_response(StatusCode::BAD_REQUEST, refusal.code(), refusal.message())
            }
            Self::Busy => busy(shared, "max_calls calls are in flight"),
        }
    }
}

/// 503 `proxy_busy`: a limit on what the proxy holds at once is reached.
pub fn busy(shared: &Shared, why: &str) -> Response<ProxyBody> {
    Stats::add(&shared.delivery.stats.calls_refused_busy);
    tracing::warn!(why, "call refused: the proxy is at a limit");
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "proxy_busy",
        &format!("the tokentally proxy is at its limit ({why}); retry shortly"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    response
}

/// The semaphore of `max_calls` slots.
pub fn call_slots(max_calls: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(max_calls.min(Semaphore::MAX_PERMITS)))
}

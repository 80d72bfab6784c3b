//! Reading a request body, which the proxy holds to record it: at most
//! `max_request_bytes` of it, within `request_body_timeout_secs`, and only while
//! all bodies held at once stay within `max_buffered_request_bytes` (a budget in
//! KiB, taken as the body arrives, or up front when its length is declared).

use crate::limits::Limits;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a body was not taken.
#[derive(Debug)]
pub enum BodyRefusal {
    /// Over `max_request_bytes`.
    TooLarge,
    /// The budget of all bodies held at once is spent.
    Busy,
    /// Not all there within `request_body_timeout_secs`.
    TimedOut,
    /// The connection broke, or the framing was wrong.
    Unreadable(String),
}

/// A body read whole, and its share of the budget (given back when dropped).
#[derive(Debug)]
pub struct HeldBody {
    pub bytes: Bytes,
    pub share: Option<OwnedSemaphorePermit>,
}

/// The budget of `max_buffered_request_bytes`, in KiB.
pub fn budget(limits: &Limits) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(
        limits
            .max_buffered_request_bytes
            .div_ceil(1024)
            .min(Semaphore::MAX_PERMITS),
    ))
}

/// What a body holds of the budget so far.
struct Share {
    budget: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    kib: usize,
}

impl Share {
    /// Grows the share to cover `bytes`, or refuses.
    fn cover(&mut self, bytes: usize) -> Result<(), BodyRefusal> {
        let need = bytes.div_ceil(1024);
        if need <= self.kib {
            return Ok(());
        }
        let more = u32::try_from(need - self.kib).map_err(|_| BodyRefusal::Busy)?;
        let permit = Arc::clone(&self.budget)
            .try_acquire_many_owned(more)
            .map_err(|_| BodyRefusal::Busy)?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        self.kib = need;
        Ok(())
    }
}

/// Reads `body` whole; `declared` is its `Content-Length`, if any.
pub async fn read(
    mut body: Incoming,
    declared: Option<u64>,
    limits: &Limits,
    budget: &Arc<Semaphore>,
) -> Result<HeldBody, BodyRefusal> {
    let max = limits.max_request_bytes;
    let mut share = Share {
        budget: Arc::clone(budget),
        permit: None,
        kib: 0,
    };
    let declared = declared.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(n) = declared {
        if n > max {
            return Err(BodyRefusal::TooLarge);
        }
        share.cover(n)?;
    }
    let mut bytes = BytesMut::with_capacity(declared.unwrap_or(0));
    let reading = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyRefusal::Unreadable(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                let len = bytes.len() + data.len();
                if len > max {
                    return Err(BodyRefusal::TooLarge);
                }
                share.cover(len)?;
                bytes.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    tokio::time::timeout(limits.request_body_timeout(), reading)
        .await
        .map_err(|_| BodyRefusal::TimedOut)??;
    Ok(HeldBody {
        bytes: bytes.freeze(),
        share: share.permit,
    })
}

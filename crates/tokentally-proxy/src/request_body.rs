//! Reading a request body, which the proxy holds to record it: at most
//! `max_request_bytes` of it, within `request_body_timeout_secs`, and only while
//! all bodies held at once stay within `max_buffered_request_bytes` (taken up
//! front when the length is declared, else as the body arrives: then twice its
//! size, since its pieces are joined into one when it is complete).

use crate::budget::{Budget, Share};
use crate::limits::Limits;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

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
    pub share: Share,
}

/// Reads `body` whole; `declared` is its `Content-Length`, if any.
pub async fn read(
    mut body: Incoming,
    declared: Option<u64>,
    limits: &Limits,
    budget: &Budget,
) -> Result<HeldBody, BodyRefusal> {
    let max = limits.max_request_bytes;
    let mut share = budget.share();
    let declared = declared.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(n) = declared {
        if n > max {
            return Err(BodyRefusal::TooLarge);
        }
        share.cover(n).map_err(|_| BodyRefusal::Busy)?;
    }
    // A declared length is read into one buffer of that size; otherwise the
    // pieces are kept and joined at the end.
    let mut whole = BytesMut::with_capacity(declared.unwrap_or(0));
    let mut pieces: Vec<Bytes> = Vec::new();
    let mut len = 0;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyRefusal::Unreadable(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                len += data.len();
                if len > max {
                    return Err(BodyRefusal::TooLarge);
                }
                if declared.is_some() {
                    whole.extend_from_slice(&data);
                } else {
                    share.cover(2 * len).map_err(|_| BodyRefusal::Busy)?;
                    pieces.push(data);
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(limits.request_body_timeout(), reading)
        .await
        .map_err(|_| BodyRefusal::TimedOut)??;
    let bytes = match pieces.len() {
        0 => whole.freeze(),
        1 => pieces.swap_remove(0),
        _ => {
            let mut joined = BytesMut::with_capacity(len);
            for piece in pieces {
                joined.extend_from_slice(&piece);
            }
            joined.freeze()
        }
    };
    Ok(HeldBody { bytes, share })
}

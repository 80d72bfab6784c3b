//! One connection from accept to close: the TLS handshake and the first bytes
//! (HTTP/2's preface, or not) within `header_read_timeout_secs`, then hyper's
//! HTTP/1.1 or HTTP/2 server with the limits on heads, streams and buffers. A
//! caller that sends nothing, or its head a byte at a time, is cut off at the
//! timeout instead of holding its connection for ever; so is an HTTP/2
//! connection with no stream open for as long (GOAWAY), and a caller that leaves
//! a response unread for `response_write_timeout_secs` (`write_timeout.rs`).

use crate::limits::Limits;
use crate::stats::Stats;
use crate::streams::{self, StreamExecutor};
use crate::write_timeout::Watched;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1::Connection;
use hyper::service::HttpService;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What HTTP/2 callers send first (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Each HTTP/2 stream's buffer of response data not yet sent: one coalesced write
/// of the tee (64 KiB) fits.
pub const H2_SEND_BUFFER: usize = 64 << 10;

/// HTTP/2 flow-control windows for what callers send: request data not yet read
/// is at most this much per connection (bodies are read as they come).
pub const H2_WINDOW: u32 = 256 << 10;

/// Why a connection ended early (only logged, at debug).
#[derive(Debug)]
pub enum Ended {
    TimedOut,
    NotReading,
    Failed(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TimedOut => write!(f, "no request within header_read_timeout_secs"),
            Self::NotReading => write!(
                f,
                "the caller left a response unread for response_write_timeout_secs"
            ),
            Self::Failed(reason) => write!(f, "{reason}"),
        }
    }
}

/// Serves one accepted connection until it closes; `closing` starts a graceful
/// close (the call in flight finishes, HTTP/2 gets GOAWAY).
pub async fn serve<S, B>(
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    service: S,
    limits: &Limits,
    closing: CancellationToken,
    stats: &Stats,
) -> Result<(), Ended>
where
    S: HttpService<Incoming, ResBody = B> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let deadline = limits.header_read_timeout();
    let timed = |ended: Ended| {
        if matches!(ended, Ended::TimedOut) {
            Stats::add(&stats.connections_timed_out);
        }
        ended
    };
    match tls {
        None => serve_io(stream, service, limits, closing).await.map_err(timed),
        Some(acceptor) => {
            let handshake = tokio::select! {
                handshake = tokio::time::timeout(deadline, acceptor.accept(stream)) => handshake,
                () = closing.cancelled() => return Ok(()),
            };
            let stream = handshake
                .map_err(|_| timed(Ended::TimedOut))?
                .map_err(|e| Ended::Failed(format!("TLS handshake: {e}")))?;
            serve_io(stream, service, limits, closing).await.map_err(timed)
        }
    }
}

async fn serve_io<I, S, B>(
    mut io: I,
    service: S,
    limits: &Limits,
    closing: CancellationToken,
) -> Result<(), Ended>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: HttpService<Incoming, ResBody = B> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let deadline = limits.header_read_timeout();
    // A connection that has not begun a request by the shutdown is simply closed.
    let sniffed = tokio::select! {
        sniffed = tokio::time::timeout(deadline, sniff(&mut io)) => sniffed,
        () = closing.cancelled() => return Ok(()),
    };
    let Some((http2, prefix)) = sniffed
        .map_err(|_| Ended::TimedOut)?
        .map_err(|e| Ended::Failed(e.to_string()))?
    else {
        return Ok(());
    };
    let io = TokioIo::new(Prefixed { prefix, inner: io });
    let failed = |e: hyper::Error| {
        if e.is_timeout() {
            Ended::TimedOut
        } else {
            Ended::Failed(e.to_string())
        }
    };
    if http2 {
        let (executor, mut running) = StreamExecutor::new(limits.response_write_timeout());
        let mut builder = hyper::server::conn::http2::Builder::new(executor);
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_send_buf_size(H2_SEND_BUFFER)
            .initial_stream_window_size(H2_WINDOW)
            .initial_connection_window_size(H2_WINDOW)
            // A peer that stops answering pings is gone.
            .keep_alive_interval(Some(deadline))
            .keep_alive_timeout(deadline);
        let connection = builder.serve_connection(io, service);
        let idle = Some((&mut running, deadline));
        let (served, idled) = drive(connection, |c| c.graceful_shutdown(), &closing, idle).await;
        served.map_err(failed)?;
        if idled { Err(Ended::TimedOut) } else { Ok(()) }
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            // Also runs while a kept-alive connection waits for its next request.
            .header_read_timeout(deadline)
            .max_buf_size(limits.max_header_bytes);
        // One call at a time: its response body is polled by the connection.
        let connection = Watched::new(
            builder.serve_connection(io, service),
            limits.response_write_timeout(),
        );
        let close = |c: Pin<&mut Watched<_>>| c.get_mut().inner_mut().map(Connection::graceful_shutdown);
        match drive(connection, close, &closing, None).await.0 {
            Some(served) => served.map_err(failed),
            None => Err(Ended::NotReading),
        }
    }
}

/// Runs `connection` to its end, closing it with `close` (gracefully: what is in
/// flight finishes) once `closing` is cancelled or, given `idle`, once no stream
/// has been open for its duration. Also says whether it was closed for idling.
async fn drive<C: Future, R>(
    connection: C,
    close: impl FnOnce(Pin<&mut C>) -> R,
    closing: &CancellationToken,
    idle: Option<(&mut watch::Receiver<usize>, std::time::Duration)>,
) -> (C::Output, bool) {
    let mut connection = pin!(connection);
    let idled = tokio::select! {
        served = connection.as_mut() => return (served, false),
        () = closing.cancelled() => false,
        () = async {
            match idle {
                Some((running, limit)) => streams::idle_for(running, limit).await,
                None => std::future::pending().await,
            }
        } => true,
    };
    let _ = close(connection.as_mut());
    (connection.await, idled)
}

/// Reads until the bytes are HTTP/2's preface (true) or cannot be (false); what
/// was read is handed back to be read again. `None`: closed before a byte came.
async fn sniff<I: AsyncRead + Unpin>(io: &mut I) -> std::io::Result<Option<(bool, Bytes)>> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut filled = 0;
    loop {
        let n = io.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok((filled > 0).then(|| (false, Bytes::copy_from_slice(&buf[..filled]))));
        }
        filled += n;
        let read = &buf[..filled];
        if !H2_PREFACE.starts_with(read) {
            return Ok(Some((false, Bytes::copy_from_slice(read))));
        }
        if filled == H2_PREFACE.len() {
            return Ok(Some((true, Bytes::copy_from_slice(read))));
        }
    }
}

/// A connection whose first bytes were already read: they are read again first.
struct Prefixed<I> {
    prefix: Bytes,
    inner: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_preface_decides_and_every_byte_is_read_again() {
        let cases: [(&[u8], Option<bool>); 4] = [
            (b"POST / HTTP/1.1\r\n\r\n", Some(false)),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nrest", Some(true)),
            (b"PRI * HTTP/1.1", Some(false)),
            (b"", None),
        ];
        for (input, expected) in cases {
            let mut reader = input;
            let sniffed = sniff(&mut reader).await.expect("reads");
            assert_eq!(sniffed.as_ref().map(|(h2, _)| *h2), expected, "{input:?}");
            if let Some((_, prefix)) = sniffed {
                let mut again = Prefixed {
                    prefix,
                    inner: reader,
                };
                let mut all = Vec::new();
                again.read_to_end(&mut all).await.expect("reads");
                assert_eq!(all, input);
            }
        }
    }
}

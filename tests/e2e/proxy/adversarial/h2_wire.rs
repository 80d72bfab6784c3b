//! A raw HTTP/2 client for the attacks a real client will not make: it opens more
//! streams than the proxy advertises, and can grant no flow-control window (so
//! it never takes a byte of a response). Frames are written by hand (RFC 9113
//! §4.1); header blocks use HPACK literals without indexing or Huffman
//! (RFC 7541 §6.2.2), which every decoder must accept. Responses are read frame
//! by frame, their header blocks not decoded: the tests look at frame types.

use crate::proxy::PATIENCE;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// RST_STREAM error codes (RFC 9113 §7).
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;

#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM.
    pub fn error_code(&self) -> Option<u32> {
        let code: [u8; 4] = self.payload.get(..4)?.try_into().ok()?;
        (self.kind == RST_STREAM).then(|| u32::from_be_bytes(code))
    }
}

pub struct H2 {
    stream: TcpStream,
}

impl H2 {
    /// Connects and sends the preface and SETTINGS granting `window` bytes per
    /// stream (0: no response data may be sent), and 16 MiB more to the connection.
    pub async fn connect(addr: SocketAddr, window: u32) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(PREFACE).await.expect("preface");
        let mut h2 = Self { stream };
        let mut settings = SETTINGS_INITIAL_WINDOW_SIZE.to_be_bytes().to_vec();
        settings.extend_from_slice(&window.to_be_bytes());
        h2.send(SETTINGS, 0, 0, &settings).await;
        h2.send(WINDOW_UPDATE, 0, 0, &(1u32 << 24).to_be_bytes()).await;
        h2
    }

    pub async fn send(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("small frame").to_be_bytes();
        let mut frame = vec![len[1], len[2], len[3], kind, flags];
        frame.extend_from_slice(&stream.to_be_bytes());
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await.expect("write frame");
    }

    /// Opens stream `id`: a POST to `path` with an `api-key`, and `body` (none:
    /// the stream ends with its headers).
    pub async fn post(&mut self, id: u32, path: &str, body: Option<&[u8]>) {
        let fields = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "proxy"),
            ("api-key", "h2-key"),
            ("content-type", "application/json"),
        ];
        let mut block = Vec::new();
        for (name, value) in fields {
            block.push(0);
            literal(&mut block, name.as_bytes());
            literal(&mut block, value.as_bytes());
        }
        let end = if body.is_some() { 0 } else { END_STREAM };
        self.send(HEADERS, END_HEADERS | end, id, &block).await;
        if let Some(body) = body {
            self.send(DATA, END_STREAM, id, body).await;
        }
    }

    /// The next frame, acknowledging SETTINGS and answering PINGs on the way, as
    /// a live peer does. `None`: the proxy closed the connection.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.read_frame())
                .await
                .expect("a frame, or the close, within the patience")?;
            match (frame.kind, frame.flags & ACK) {
                (SETTINGS, 0) => self.send(SETTINGS, ACK, 0, &[]).await,
                (PING, 0) => self.send(PING, ACK, 0, &frame.payload).await,
                _ => return Some(frame),
            }
        }
    }

    /// Frames until `stop` holds for one (returned with it) or the connection
    /// closes (`None`).
    pub async fn until(&mut self, mut stop: impl FnMut(&Frame) -> bool) -> Option<Frame> {
        while let Some(frame) = self.next().await {
            if stop(&frame) {
                return Some(frame);
            }
        }
        None
    }

    async fn read_frame(&mut self) -> Option<Frame> {
        let mut head = [0u8; 9];
        self.stream.read_exact(&mut head).await.ok()?;
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await.ok()?;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        Some(Frame {
            kind: head[3],
            flags: head[4],
            stream,
            payload,
        })
    }
}

/// An HPACK string literal, not Huffman-coded: its length (7-bit prefix) and bytes.
fn literal(block: &mut Vec<u8>, bytes: &[u8]) {
    let mut len = bytes.len();
    if len < 127 {
        block.push(u8::try_from(len).expect("under 127"));
    } else {
        block.push(127);
        len -= 127;
        while len >= 128 {
            block.push(u8::try_from(len % 128).expect("7 bits") | 0x80);
            len /= 128;
        }
        block.push(u8::try_from(len).expect("7 bits"));
    }
    block.extend_from_slice(bytes);
}

//! Multiplexed tunnels: many flows as HTTP/2 streams over one long-lived mTLS connection.
//!
//! A TLS 1.3 handshake with two ECDSA signatures costs far more CPU than the flow it opens
//! when flows are short, and an idle TLS connection keeps its record buffers. So, by default,
//! a consumer agent keeps one mutually authenticated tunnel per (endpoint, gateway) and carries
//! each flow as an HTTP/2 `CONNECT` stream on it, as Istio's HBONE and Envoy's TCP tunnelling
//! do. The `h2` crate (hyper's) does the framing and the per-stream and per-connection flow
//! control: a slow reader stops its own stream at the window, not the tunnel.
//!
//! Inside a stream the bytes are exactly those of a per-flow tunnel: the preamble, the
//! gateway's one-frame verdict, then the payload, so [`underpass_proto::tunnel`]'s machines and
//! every admission check run per stream, on the gateway's live state at the stream's open.
//! What a tunnel's certificate proved (the endpoint, its serial) holds for all its streams;
//! everything else (acceptance, revocation, listener, targets) is decided per stream, and a
//! stream is registered as a flow of its own, so an apply that no longer allows it cuts it
//! (`RST_STREAM`) without touching its neighbours. The gateway also closes the whole tunnel
//! once its certificate is revoked (a tunnel of an endpoint not admitted stays open: each of
//! its streams is refused, and closing it would only have the consumer reopen it).
//!
//! The ALPN protocol says which framing a tunnel uses: gateways accept both
//! [`MUX_ALPN`] and the per-flow `underpass-tunnel/1`; a consumer offers the one its
//! [`crate::DataplaneConfig::multiplex`] setting picks.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use h2::client::{ResponseFuture, SendRequest};
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::{Method, Request, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use underpass_pki::{RevocationSet, Serial};

use crate::copy::{Chunked, Socket, LEAD};
use crate::net::Tasks;
use crate::pool::Tunnel;

/// The ALPN protocol of a multiplexed tunnel.
pub(crate) const MUX_ALPN: &[u8] = b"underpass-mux/1";

/// Receive window of one stream: the most a gateway or consumer buffers for a flow whose reader
/// is slow (RELIABILITY item 67), about what the kernel would buffer for a TCP connection of
/// its own. Measured with `bench/run` W1 on loopback: 256 KiB held one stream to 3.3 Gbit/s,
/// 1 MiB gave 4.8, 4 MiB no more.
const STREAM_WINDOW: u32 = 1024 * 1024;
/// Receive window of a whole tunnel: the largest HTTP/2 allows, so that the stream windows
/// alone bound what is buffered, and slow flows that fill theirs never stall their
/// neighbours (a tunnel-wide window smaller than the sum of the streams' would).
const CONNECTION_WINDOW: u32 = (1 << 31) - 1;
/// Bytes a stream may queue for sending beyond what the tunnel has written.
const SEND_BUFFER: usize = 256 * 1024;
/// The largest HTTP/2 frame either side of a tunnel accepts: any copy buffer's worth of bytes
/// goes as one DATA frame (and so as one write of full TLS records), not as 16 KiB frames, the
/// protocol's default.
const MAX_FRAME: u32 = crate::MAX_BUFFER_SIZE as u32;

/// An HTTP/2 frame header's bytes (RFC 9113, section 4.1).
const FRAME_HEADER: usize = 9;

/// Streams one tunnel carries at once; a consumer waits for a free one beyond this.
const MAX_STREAMS: u32 = 32 * 1024;

/// The HTTP/2 server settings of a gateway's side of a multiplexed tunnel.
pub(crate) fn server_builder() -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(SEND_BUFFER)
        .max_frame_size(MAX_FRAME)
        .max_concurrent_streams(MAX_STREAMS);
    b
}

/// Pings every `every` and returns when an answer takes longer than `every` (never, without
/// a ping handle).
async fn keep_alive(ping: Option<h2::PingPong>, every: Duration) {
    let Some(mut ping) = ping else {
        return std::future::pending().await;
    };
    let every = every.max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        match tokio::time::timeout(every, ping.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            // The connection failed: its own future reports that.
            Ok(Err(_)) => return std::future::pending().await,
            Err(_) => return,
        }
    }
}

/// The HTTP/2 client settings of a consumer's side of a multiplexed tunnel.
fn client_builder() -> h2::client::Builder {
    let mut b = h2::client::Builder::new();
    b.initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_send_buffer_size(SEND_BUFFER)
        .max_frame_size(MAX_FRAME);
    b
}

/// Sends the `CONNECT` of a flow to `eni` (the authority, for logs on the wire) on a ready
/// connection.
fn connect(send: &mut SendRequest<Bytes>, eni: SocketAddr) -> Result<MuxStream, h2::Error> {
    let mut req = Request::new(());
    *req.method_mut() = Method::CONNECT;
    // A socket address is always a valid authority.
    if let Ok(uri) = eni.to_string().parse() {
        *req.uri_mut() = uri;
    }
    let (response, stream) = send.send_request(req, false)?;
    Ok(MuxStream {
        send: Sender::Open(stream),
        recv: Receiver::Response(response),
        pending: Bytes::new(),
        eof: false,
    })
}

/// A consumer's open multiplexed tunnel to one gateway.
pub(crate) struct MuxClient {
    send: SendRequest<Bytes>,
    serial: Serial,
    closed: Arc<AtomicBool>,
}

impl MuxClient {
    /// Starts HTTP/2 on a tunnel past its handshake and identity check; the connection is
    /// driven by a task that ends when the tunnel closes, after `on_close`.
    /// The tunnel is pinged every `keepalive`, and closed when an answer takes longer.
    pub(crate) async fn start(
        tls: Tunnel,
        serial: Serial,
        keepalive: Duration,
        tasks: &Tasks,
        on_close: impl FnOnce() + Send + 'static,
    ) -> Result<Self, h2::Error> {
        let (send, mut conn) = client_builder().handshake::<_, Bytes>(tls).await?;
        let ping = conn.ping_pong();
        let closed = Arc::new(AtomicBool::new(false));
        let flag = closed.clone();
        tasks.spawn(async move {
            tokio::select! {
                ended = conn => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, "multiplexed tunnel ended");
                    }
                }
                () = keep_alive(ping, keepalive) => {
                    // Dropping the connection closes the socket: its streams fail at once.
                    tracing::info!("the gateway stopped answering pings: tunnel closed");
                }
            }
            flag.store(true, Ordering::Release);
            on_close();
        });
        Ok(Self {
            send,
            serial,
            closed,
        })
    }

    /// The gateway certificate's serial.
    pub(crate) fn serial(&self) -> Serial {
        self.serial
    }

    /// Whether new flows may use this tunnel.
    pub(crate) fn usable(&self, revocations: &RevocationSet) -> bool {
        !self.closed.load(Ordering::Acquire) && !revocations.is_revoked(self.serial)
    }

    /// Opens a stream for a flow to `eni`, once the tunnel takes one more.
    pub(crate) async fn open(&self, eni: SocketAddr) -> Result<MuxStream, h2::Error> {
        let mut send = self.send.clone().ready().await?;
        connect(&mut send, eni)
    }
}

enum Sender {
    /// Gateway side: the response headers go out with the first bytes.
    Respond(SendResponse<Bytes>),
    Open(SendStream<Bytes>),
}

enum Receiver {
    /// Consumer side: the gateway's response headers come before its first bytes.
    Response(ResponseFuture),
    Body(RecvStream),
}

/// One flow's stream of a multiplexed tunnel, as a byte stream.
pub(crate) struct MuxStream {
    send: Sender,
    recv: Receiver,
    /// Received bytes not yet read (at most one DATA frame).
    pending: Bytes,
    eof: bool,
}

impl MuxStream {
    /// The gateway's side of a stream the consumer opened.
    pub(crate) fn accepted(body: RecvStream, respond: SendResponse<Bytes>) -> Self {
        Self {
            send: Sender::Respond(respond),
            recv: Receiver::Body(body),
            pending: Bytes::new(),
            eof: false,
        }
    }

    fn sender(&mut self) -> io::Result<&mut SendStream<Bytes>> {
        if let Sender::Respond(respond) = &mut self.send {
            let stream = respond
                .send_response(Response::new(()), false)
                .map_err(io_error)?;
            self.send = Sender::Open(stream);
        }
        match &mut self.send {
            Sender::Open(stream) => Ok(stream),
            Sender::Respond(_) => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }
}

/// Refuses a stream that is not a flow (a method other than `CONNECT`).
pub(crate) fn refuse(mut respond: SendResponse<Bytes>) {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    let _ = respond.send_response(response, true);
}

/// Whether a request opens a flow.
pub(crate) fn is_flow<T>(req: &Request<T>) -> bool {
    req.method() == Method::CONNECT
}

fn io_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        return e
            .into_io()
            .unwrap_or_else(|| io::Error::other("tunnel I/O error"));
    }
    // A reset stream, or a tunnel closed under it, is to the flow what an RST is to a socket.
    let kind = if e.is_reset() || e.is_go_away() {
        io::ErrorKind::ConnectionReset
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, e)
}

impl MuxStream {
    /// Waits until a received frame's bytes are pending, or EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending.is_empty() && !self.eof {
            let body = match &mut self.recv {
                Receiver::Body(body) => body,
                Receiver::Response(response) => {
                    let response = ready!(Pin::new(response).poll(cx)).map_err(io_error)?;
                    if response.status() != StatusCode::OK {
                        return Poll::Ready(Err(io::Error::other(format!(
                            "the gateway answered {}",
                            response.status()
                        ))));
                    }
                    self.recv = Receiver::Body(response.into_body());
                    continue;
                }
            };
            match ready!(body.poll_data(cx)) {
                None => self.eof = true,
                Some(Ok(data)) => {
                    // The window reopens as bytes leave h2's buffer: at most one frame waits
                    // here (or in the copy it is handed to), and nothing more is read until
                    // it is written on.
                    let _ = body.flow_control().release_capacity(data.len());
                    self.pending = data;
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for MuxStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_fill(cx))?;
        let n = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl Chunked for MuxStream {
    /// A received DATA frame's bytes, as h2 holds them.
    fn poll_read_chunk(&mut self, cx: &mut Context<'_>) -> Option<Poll<io::Result<Bytes>>> {
        Some(
            self.poll_fill(cx)
                .map_ok(|()| std::mem::take(&mut self.pending)),
        )
    }
}

/// A copy of `data` for h2's send queue, [`LEAD`] bytes into its allocation.
fn staggered_copy(data: &[u8]) -> Bytes {
    let mut chunk = BytesMut::with_capacity(LEAD + data.len());
    chunk.resize(LEAD, 0);
    chunk.extend_from_slice(data);
    chunk.advance(LEAD);
    chunk.freeze()
}

impl AsyncWrite for MuxStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let stream = self.get_mut().sender()?;
        stream.reserve_capacity(buf.len());
        match ready!(stream.poll_capacity(cx)) {
            Some(Ok(n)) => {
                let n = n.min(buf.len());
                stream
                    .send_data(staggered_copy(&buf[..n]), false)
                    .map_err(io_error)?;
                Poll::Ready(Ok(n))
            }
            Some(Err(e)) => Poll::Ready(Err(io_error(e))),
            // The stream can no longer send: the peer reset it or the tunnel closed.
            None => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The tunnel's connection task writes what streams queued as soon as it can.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = self.get_mut().sender()?;
        Poll::Ready(stream.send_data(Bytes::new(), true).map_err(io_error))
    }
}

impl Socket for MuxStream {
    fn segments(&self) -> Option<(u64, u64)> {
        // The stream shares its TCP connection with others: no segment counts of its own.
        None
    }

    fn shared(&self) -> bool {
        true
    }

    fn frame_header(&self) -> usize {
        FRAME_HEADER
    }

    fn abort(&mut self) {
        match &mut self.send {
            Sender::Respond(respond) => respond.send_reset(Reason::CANCEL),
            Sender::Open(stream) => stream.send_reset(Reason::CANCEL),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A client and a server over an in-memory pipe (the TLS layer is not under test here).
    async fn pair() -> (
        SendRequest<Bytes>,
        h2::server::Connection<tokio::io::DuplexStream, Bytes>,
    ) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (client, server) = tokio::join!(
            client_builder().handshake::<_, Bytes>(a),
            server_builder().handshake::<_, Bytes>(b)
        );
        let (send, conn) = client.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        (send, server.unwrap())
    }

    /// Drives the server's side of the connection, accepting any further streams, until it
    /// ends.
    async fn serve_streams(server: &mut h2::server::Connection<tokio::io::DuplexStream, Bytes>) {
        while let Some(next) = server.accept().await {
            next.unwrap();
        }
    }

    fn client_stream(send: &mut SendRequest<Bytes>) -> MuxStream {
        connect(send, "127.0.0.5:80".parse().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn streams_carry_bytes_both_ways_with_half_close_and_flow_control() {
        let (mut send, mut server) = pair().await;
        let mut a = client_stream(&mut send);
        let mut b = client_stream(&mut send);
        // More than a stream window: the writer must wait for the reader to reopen it.
        let big: Vec<u8> = (0..3 * STREAM_WINDOW).map(|i| (i % 251) as u8).collect();
        let payload = big.clone();
        let writer = tokio::spawn(async move {
            a.write_all(&payload).await.unwrap();
            a.shutdown().await.unwrap();
            let mut back = Vec::new();
            a.read_to_end(&mut back).await.unwrap();
            back
        });
        b.write_all(b"second").await.unwrap();
        b.shutdown().await.unwrap();
        let (req, respond) = server.accept().await.unwrap().unwrap();
        assert!(is_flow(&req));
        let mut first = MuxStream::accepted(req.into_body(), respond);
        let (req, respond) = server.accept().await.unwrap().unwrap();
        let mut second = MuxStream::accepted(req.into_body(), respond);
        let drive = serve_streams(&mut server);
        let streams = async {
            let mut got = Vec::new();
            first.read_to_end(&mut got).await.unwrap();
            assert_eq!(got.len(), big.len());
            assert!(got == big, "bytes arrive in order and intact");
            let mut short = Vec::new();
            second.read_to_end(&mut short).await.unwrap();
            assert_eq!(short, b"second");
            first.write_all(b"reply").await.unwrap();
            first.shutdown().await.unwrap();
            // The server's connection must go on being driven until the reply is read.
            assert_eq!(writer.await.unwrap(), b"reply");
        };
        tokio::select! {
            () = drive => panic!("the connection ended early"),
            () = streams => {}
        }
    }

    #[tokio::test]
    async fn received_frames_are_handed_over_whole_under_flow_control() {
        let (mut send, mut server) = pair().await;
        let mut a = client_stream(&mut send);
        // More than a stream window: the writer waits for the reader to reopen it.
        let big: Vec<u8> = (0..3 * STREAM_WINDOW).map(|i| (i % 251) as u8).collect();
        let payload = big.clone();
        let writer = tokio::spawn(async move {
            a.write_all(&payload).await.unwrap();
            a.shutdown().await.unwrap();
            a
        });
        let (req, respond) = server.accept().await.unwrap().unwrap();
        let mut b = MuxStream::accepted(req.into_body(), respond);
        let drive = serve_streams(&mut server);
        let read = async {
            let mut got = Vec::new();
            let mut frames = 0;
            loop {
                let frame = std::future::poll_fn(|cx| b.poll_read_chunk(cx).unwrap())
                    .await
                    .unwrap();
                if frame.is_empty() {
                    break;
                }
                assert!(frame.len() <= MAX_FRAME as usize);
                frames += 1;
                got.extend_from_slice(&frame);
            }
            assert!(got == big, "bytes arrive in order and intact");
            assert!(frames >= 3 * STREAM_WINDOW as usize / MAX_FRAME as usize);
            writer.await.unwrap();
        };
        tokio::select! {
            () = drive => panic!("the connection ended early"),
            () = read => {}
        }
    }

    #[tokio::test]
    async fn a_reset_stream_is_a_connection_reset_and_spares_its_neighbour() {
        let (mut send, mut server) = pair().await;
        let mut a = client_stream(&mut send);
        let mut b = client_stream(&mut send);
        a.write_all(b"x").await.unwrap();
        b.write_all(b"y").await.unwrap();
        let (req, respond) = server.accept().await.unwrap().unwrap();
        let mut first = MuxStream::accepted(req.into_body(), respond);
        let (req, respond) = server.accept().await.unwrap().unwrap();
        let mut second = MuxStream::accepted(req.into_body(), respond);
        crate::copy::reset(a);
        let drive = serve_streams(&mut server);
        let streams = async {
            // As with a TCP reset, bytes not yet read may be dropped.
            let mut buf = [0u8; 8];
            let err = loop {
                match first.read(&mut buf).await {
                    Ok(n) => assert!(n <= 1, "only the byte sent"),
                    Err(e) => break e,
                }
            };
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
            second.write_all(b"still here").await.unwrap();
            let mut got = [0u8; 10];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"still here");
        };
        tokio::select! {
            () = drive => panic!("the connection ended early"),
            () = streams => {}
        }
    }
}

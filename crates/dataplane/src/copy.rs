//! Copying a flow both ways: bounded buffers, half-close, idle timeout, cuts, and resets.
//!
//! Each direction has at most one buffer: nothing more is read from a side until what was read
//! has been written to the other, so a slow reader pushes back on the writer instead of growing
//! memory (RELIABILITY item 67). The buffer starts at [`crate::DataplaneConfig::buffer_size`]
//! (16 KiB) and doubles, up to [`crate::DataplaneConfig::max_buffer_size`] (64 KiB), each time a
//! read fills it; a read that fills a quarter or less halves it again. Bulk transfers thus move
//! in 64 KiB reads, writes and tunnel frames, and a request-response flow keeps small buffers.
//! A direction holds its buffer only while bytes move: when a read finds nothing to read, the
//! buffer goes back to a small per-thread pool, so an idle flow holds none (issue 6's W4: idle
//! connections cost their sockets and TLS state, not 4 × 16 KiB of copy buffers through the
//! chain).
//! Where the reading side keeps its received bytes in chunks of its own (a tunnel stream's DATA
//! frames), the copy writes those chunks from where they lie instead of copying them through a
//! buffer ([`Chunked`]): one copy less per frame on the receiving agent. The other way (a read
//! for a tunnel stream straight into a chunk the stream sends as it is) is not done: a chunk
//! must be allocated before the read knows its size, so a trickle of small reads queued on a
//! stalled stream would each hold a whole buffer's allocation, where the stream's send buffer
//! bounds only their bytes; and in `bench/ab` it saved nothing measurable.
//! An EOF on one side shuts down the other's write half and the other direction goes on.
//! An error on either side, a cut or the idle timeout resets both sockets (`SO_LINGER` 0), so
//! the other peer learns at once (item 64) instead of waiting for its own timeout.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::flow::{tcp_flags, FlowReason, FlowTicket};
use crate::readahead::ReadAhead;

/// Received bytes a side hands over in chunks of its own, without a copy through a copy
/// buffer. The default says the side has none: its bytes are read into a buffer.
pub(crate) trait Chunked {
    /// The next chunk this side received, whole (empty at EOF), where it keeps received bytes
    /// in chunks of its own; `None` where it does not.
    fn poll_read_chunk(&mut self, _cx: &mut Context<'_>) -> Option<Poll<io::Result<Bytes>>> {
        None
    }
}

/// One side of a flow: a TCP socket, a TLS tunnel over one, or a stream of a multiplexed
/// tunnel; it can be reset.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Chunked + Unpin + Send {
    /// The kernel's segment counters (in, out) of the TCP connection underneath, when there is
    /// one of this side's own and they can be read.
    fn segments(&self) -> Option<(u64, u64)>;
    /// Makes the coming drop a reset instead of a clean close.
    fn abort(&mut self);
    /// Whether this side is one stream of a connection shared with other flows.
    fn shared(&self) -> bool {
        false
    }
    /// Bytes that each write to this side carries in front of its payload on the wire (a
    /// tunnel stream's HTTP/2 frame header). Reads for it leave that much room in their buffer,
    /// so that a full buffer's frame fills whole TLS records: a 64 KiB payload made a frame of
    /// four full records and a fifth of 9 bytes, sealed, sent and opened on its own.
    fn frame_header(&self) -> usize {
        0
    }
}

fn tcp_segments(tcp: &TcpStream) -> Option<(u64, u64)> {
    crate::tcpinfo::segments(tcp.local_addr().ok()?, tcp.peer_addr().ok()?)
}

impl Chunked for TcpStream {}
impl Chunked for tokio_rustls::client::TlsStream<ReadAhead> {}
impl Chunked for tokio_rustls::server::TlsStream<ReadAhead> {}

impl Socket for TcpStream {
    fn segments(&self) -> Option<(u64, u64)> {
        tcp_segments(self)
    }
    fn abort(&mut self) {
        // If SO_LINGER cannot be set, a FIN still closes the connection.
        let _ = self.set_zero_linger();
    }
}

impl Socket for tokio_rustls::client::TlsStream<ReadAhead> {
    fn segments(&self) -> Option<(u64, u64)> {
        tcp_segments(self.get_ref().0.tcp())
    }
    fn abort(&mut self) {
        self.get_mut().0.tcp_mut().abort();
    }
}

impl Socket for tokio_rustls::server::TlsStream<ReadAhead> {
    fn segments(&self) -> Option<(u64, u64)> {
        tcp_segments(self.get_ref().0.tcp())
    }
    fn abort(&mut self) {
        self.get_mut().0.tcp_mut().abort();
    }
}

/// Drops `s` with a reset instead of a clean close: the peer learns at once.
pub(crate) fn reset(mut s: impl Socket) {
    s.abort();
    drop(s);
}

/// Byte counters and the time of the last activity, shared with the idle timer and the flow's
/// [`FlowTicket`] (for live-flow snapshots); and how the client side ended (its FIN or RST, for
/// the flow's TCP flags).
pub(crate) struct Meter {
    base: Instant,
    base_std: std::time::Instant,
    read: AtomicU64,
    written: AtomicU64,
    last_ms: AtomicU64,
    client_fin: AtomicBool,
    client_rst: AtomicBool,
    /// The client connection's segment counters as last read (see [`Meter::note_segments`]).
    segments: std::sync::Mutex<Option<(u64, u64)>>,
}

impl Meter {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            base_std: std::time::Instant::now(),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            last_ms: AtomicU64::new(0),
            client_fin: AtomicBool::new(false),
            client_rst: AtomicBool::new(false),
            segments: std::sync::Mutex::new(None),
        }
    }

    /// Reads the client connection's segment counters now, if the kernel still has them. The
    /// kernel's socket-diag lookup finds a connection only until it is closed both ways, so
    /// they are read when the client's FIN arrives and before ours goes out, and again at the
    /// end: the last successful read counts (it may miss the final FIN and ACK).
    fn note_segments(&self, s: &impl Socket) {
        if let Some(segs) = s.segments() {
            *self
                .segments
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(segs);
        }
    }

    fn last_segments(&self) -> Option<(u64, u64)> {
        *self
            .segments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// (bytes from the client, bytes to the client, last activity on the monotonic clock).
    pub(crate) fn sample(&self) -> (u64, u64, std::time::Instant) {
        let last = self.base_std + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        (
            self.read.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
            last,
        )
    }

    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A stream that counts what passes and notes when something did.
struct Metered<'a, S> {
    inner: &'a mut S,
    meter: Arc<Meter>,
}

impl<S: Socket> AsyncRead for Metered<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let polled = Pin::new(&mut *self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.count_read(n);
        }
        match &polled {
            Poll::Ready(Ok(())) if n == 0 && room => {
                self.meter.client_fin.store(true, Ordering::Relaxed);
                self.meter.note_segments(&*self.inner);
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                self.meter.client_rst.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        polled
    }
}

impl<S: Socket> Metered<'_, S> {
    fn count_read(&self, n: usize) {
        self.meter.read.fetch_add(n as u64, Ordering::Relaxed);
        self.meter.touch();
    }
}

impl<S: Socket> Chunked for Metered<'_, S> {
    fn poll_read_chunk(&mut self, cx: &mut Context<'_>) -> Option<Poll<io::Result<Bytes>>> {
        let polled = self.inner.poll_read_chunk(cx)?;
        match &polled {
            Poll::Ready(Ok(chunk)) if chunk.is_empty() => {
                self.meter.client_fin.store(true, Ordering::Relaxed);
                self.meter.note_segments(&*self.inner);
            }
            Poll::Ready(Ok(chunk)) => self.count_read(chunk.len()),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                self.meter.client_rst.store(true, Ordering::Relaxed);
            }
            _ => {}
        }
        Some(polled)
    }
}

impl<S: Socket> AsyncWrite for Metered<'_, S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut *self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            if n > 0 {
                self.meter.written.fetch_add(n as u64, Ordering::Relaxed);
                self.meter.touch();
            }
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.meter.note_segments(&*self.inner);
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

/// How a piped flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PipeEnd {
    /// Bytes read from the client side and written towards the service side.
    pub(crate) client_to_service: u64,
    /// Bytes written to the client side.
    pub(crate) service_to_client: u64,
    /// Why it ended.
    pub(crate) reason: FlowReason,
    /// TCP flags of the close as the client side sent them (FIN, RST; [`tcp_flags`]).
    pub(crate) client_flags: u16,
    /// TCP flags of the close as this side sent them to the client.
    pub(crate) reply_flags: u16,
    /// The kernel's segment counters of the client's connection (in, out), when known.
    pub(crate) client_segments: Option<(u64, u64)>,
}

/// Copies `client` ⇄ `service` until both directions are done, one side fails, the flow is
/// idle for `idle`, or the ticket is cut. Consumes (and closes or resets) both. `moved` is what
/// the flow carried before the copy (bytes from the client, bytes to it): counted from the
/// start, so that live-flow samples see them when they moved.
pub(crate) async fn pipe<A: Socket, B: Socket>(
    mut client: A,
    mut service: B,
    buffers: (usize, usize),
    idle: Duration,
    moved: (u64, u64),
    ticket: &mut FlowTicket,
) -> PipeEnd {
    let meter = Arc::new(Meter::new());
    meter.read.store(moved.0, Ordering::Relaxed);
    meter.written.store(moved.1, Ordering::Relaxed);
    ticket.attach_meter(meter.clone());
    let (client_header, service_header) = (client.frame_header(), service.frame_header());
    let outcome = {
        let mut metered = Metered {
            inner: &mut client,
            meter: meter.clone(),
        };
        let copy = Bidirectional {
            a: &mut metered,
            b: &mut service,
            a_to_b: Half::new(buffers).with_room(service_header),
            b_to_a: Half::new(buffers).with_room(client_header),
        };
        tokio::select! {
            done = copy => match done {
                Ok(_) => Ok(()),
                Err(e) => {
                    tracing::debug!(error = %e, "flow ended by an I/O error");
                    Err(FlowReason::Reset)
                }
            },
            () = idle_timer(&meter, idle) => Err(FlowReason::IdleTimeout),
            reason = ticket.cut() => Err(reason),
        }
    };
    // Read while the connection still exists (before the reset or the close below).
    meter.note_segments(&client);
    let client_segments = meter.last_segments();
    let mut client_flags = 0;
    if meter.client_fin.load(Ordering::Relaxed) {
        client_flags |= tcp_flags::FIN;
    }
    if meter.client_rst.load(Ordering::Relaxed) {
        client_flags |= tcp_flags::RST;
    }
    let (reason, reply_flags) = match outcome {
        // Both directions reached EOF: the client's write half was shut down (a FIN).
        Ok(()) => (FlowReason::Closed, tcp_flags::FIN),
        Err(reason) => {
            reset(client);
            reset(service);
            (reason, tcp_flags::RST)
        }
    };
    PipeEnd {
        client_to_service: meter.read.load(Ordering::Relaxed),
        service_to_client: meter.written.load(Ordering::Relaxed),
        reason,
        client_flags,
        reply_flags,
        client_segments,
    }
}

/// Where the bytes of a copy buffer, or of a chunk queued on a tunnel's stream, start in their
/// allocation.
///
/// Those bytes are copied on by `memcpy`: by rustls into its record buffers, 5 bytes (the TLS
/// record header) past their start, or 5 + 9 for a tunnel's streams (and an HTTP/2 frame
/// header). Allocations of these sizes begin on a 4 KiB boundary, and glibc's `rep movsb` copy
/// on AMD Zen runs at 2-20 GB/s instead of 40-100 when the destination is 1 to about 64 bytes
/// ahead of its source modulo 4 KiB (4K aliasing; `bench/memcpy-aliasing.c`). In W1 that one
/// copy was a quarter of the consumer agent's CPU (`perf`). Starting the bytes 64 in keeps
/// every such destination behind its source.
pub(crate) const LEAD: usize = 64;

/// Buffers of idle directions, kept per thread for the next read (a few: a burst of flows
/// becoming active again takes fresh ones). Tunnels' read-ahead buffers come from here too.
pub(crate) mod pool {
    use std::cell::RefCell;

    use super::LEAD;

    /// Bytes of idle buffers one thread keeps (64 of the first size, 16 of the largest).
    const KEEP_BYTES: usize = 1024 * 1024;

    /// A copy buffer: `len()` usable bytes, [`LEAD`] bytes into its allocation.
    pub(crate) struct Buffer {
        mem: Box<[u8]>,
    }

    impl Buffer {
        pub(crate) fn len(&self) -> usize {
            self.mem.len() - LEAD
        }

        pub(crate) fn bytes(&self) -> &[u8] {
            &self.mem[LEAD..]
        }

        pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
            &mut self.mem[LEAD..]
        }
    }

    struct Free {
        buffers: Vec<Buffer>,
        bytes: usize,
    }

    thread_local! {
        static FREE: RefCell<Free> = const {
            RefCell::new(Free { buffers: Vec::new(), bytes: 0 })
        };
    }

    /// A buffer of `size` bytes.
    pub(crate) fn take(size: usize) -> Buffer {
        FREE.with(|f| {
            let mut f = f.borrow_mut();
            let at = f.buffers.iter().rposition(|b| b.len() == size)?;
            let buf = f.buffers.swap_remove(at);
            f.bytes -= buf.len();
            Some(buf)
        })
        .unwrap_or_else(|| Buffer {
            mem: vec![0; LEAD + size].into_boxed_slice(),
        })
    }

    /// Gives `buf` back.
    pub(crate) fn give(buf: Buffer) {
        FREE.with(|f| {
            let mut f = f.borrow_mut();
            if f.bytes + buf.len() <= KEEP_BYTES {
                f.bytes += buf.len();
                f.buffers.push(buf);
            }
        });
    }

    /// Bytes this thread keeps (tests).
    #[cfg(test)]
    pub(super) fn kept() -> usize {
        FREE.with(|f| f.borrow().bytes)
    }
}

/// One direction of a flow: a buffer only while read bytes wait to be written.
struct Half {
    /// The size of the buffer a direction starts with.
    first: usize,
    /// The size it may grow to.
    max: usize,
    /// The size of the next buffer taken.
    size: usize,
    /// Bytes of each buffer left unread: the writer's frame header (see [`Socket::frame_header`]).
    room: usize,
    buf: Option<pool::Buffer>,
    pos: usize,
    len: usize,
    /// A chunk the reader received, written from where it lies (see [`Chunked`]).
    chunk: Bytes,
    eof: bool,
    done: bool,
}

impl Half {
    /// A direction whose buffer starts at `first` bytes and doubles up to `max` while reads fill
    /// it.
    fn new((first, max): (usize, usize)) -> Self {
        let first = first.max(1);
        Self {
            first,
            max: max.max(first),
            size: first,
            room: 0,
            buf: None,
            pos: 0,
            len: 0,
            chunk: Bytes::new(),
            eof: false,
            done: false,
        }
    }

    /// The same, leaving `room` bytes of each buffer unread (`w`'s frame header).
    fn with_room(mut self, room: usize) -> Self {
        self.room = room;
        self
    }

    /// Copies `r` to `w` until `r`'s EOF has been passed on as `w`'s shutdown.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
        w: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Chunked + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            std::task::ready!(self.poll_write_held(cx, w))?;
            if self.eof {
                std::task::ready!(Pin::new(&mut *w).poll_flush(cx))?;
                std::task::ready!(Pin::new(&mut *w).poll_shutdown(cx))?;
                return Poll::Ready(Ok(()));
            }
            // The reader's own chunk is written from where it lies.
            if let Some(polled) = r.poll_read_chunk(cx) {
                match polled {
                    Poll::Pending => return self.idle(cx, w),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(chunk)) if chunk.is_empty() => self.eof = true,
                    Poll::Ready(Ok(chunk)) => self.chunk = chunk,
                }
                continue;
            }
            let room = if self.size > 2 * self.room {
                self.room
            } else {
                0
            };
            let usable = self.size - room;
            let mut buf = match self.buf.take() {
                Some(buf) if buf.len() == self.size => buf,
                Some(resized) => {
                    pool::give(resized);
                    pool::take(self.size)
                }
                None => pool::take(self.size),
            };
            let mut rb = ReadBuf::new(&mut buf.bytes_mut()[..usable]);
            match Pin::new(&mut *r).poll_read(cx, &mut rb) {
                Poll::Pending => {
                    pool::give(buf);
                    return self.idle(cx, w);
                }
                Poll::Ready(Err(e)) => {
                    pool::give(buf);
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        self.eof = true;
                        pool::give(buf);
                    } else {
                        self.resize_after(n, usable);
                        (self.pos, self.len) = (0, n);
                        self.buf = Some(buf);
                    }
                }
            }
        }
    }

    /// Writes what this direction holds (a buffer's unwritten bytes, a chunk) to `w`.
    fn poll_write_held<W>(&mut self, cx: &mut Context<'_>, w: &mut W) -> Poll<io::Result<()>>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        if let Some(buf) = &self.buf {
            while self.pos < self.len {
                let n = std::task::ready!(
                    Pin::new(&mut *w).poll_write(cx, &buf.bytes()[self.pos..self.len])
                )?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.pos += n;
            }
        }
        while !self.chunk.is_empty() {
            let n = std::task::ready!(Pin::new(&mut *w).poll_write(cx, &self.chunk))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.chunk.advance(n);
        }
        // An empty slice still holds its allocation (the received frame's).
        self.chunk = Bytes::new();
        Poll::Ready(Ok(()))
    }

    /// Nothing to read: the direction lets go of its buffer, and what was written goes out.
    fn idle<W>(&mut self, cx: &mut Context<'_>, w: &mut W) -> Poll<io::Result<()>>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        if let Some(buf) = self.buf.take() {
            pool::give(buf);
        }
        std::task::ready!(Pin::new(&mut *w).poll_flush(cx))?;
        Poll::Pending
    }

    /// After a read of `n` bytes into `usable`: a full read says more is waiting, so the next
    /// read takes more at a time (fewer syscalls, larger TLS writes and tunnel frames); a short
    /// one says the burst is over.
    fn resize_after(&mut self, n: usize, usable: usize) {
        if n == usable {
            self.size = (self.size * 2).min(self.max);
        } else if n <= usable / 4 {
            self.size = (self.size / 2).max(self.first);
        }
    }
}

/// `a` ⇄ `b` until both directions are done (as `tokio::io::copy_bidirectional`, with
/// [`Half`]'s buffers held only while bytes move).
struct Bidirectional<'a, A: ?Sized, B: ?Sized> {
    a: &'a mut A,
    b: &'a mut B,
    a_to_b: Half,
    b_to_a: Half,
}

impl<A, B> std::future::Future for Bidirectional<'_, A, B>
where
    A: AsyncRead + AsyncWrite + Chunked + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Chunked + Unpin + ?Sized,
{
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if !this.a_to_b.done {
            if let Poll::Ready(r) = this.a_to_b.poll_copy(cx, &mut *this.a, &mut *this.b) {
                r?;
                this.a_to_b.done = true;
            }
        }
        if !this.b_to_a.done {
            if let Poll::Ready(r) = this.b_to_a.poll_copy(cx, &mut *this.b, &mut *this.a) {
                r?;
                this.b_to_a.done = true;
            }
        }
        if this.a_to_b.done && this.b_to_a.done {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Half {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            pool::give(buf);
        }
    }
}

/// Resolves once nothing moved for `idle`.
async fn idle_timer(meter: &Meter, idle: Duration) {
    let idle = idle.max(Duration::from_millis(1));
    loop {
        let due = meter.last() + idle;
        if Instant::now() >= due {
            return;
        }
        tokio::time::sleep_until(due).await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::flow::{FlowKey, FlowTable};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (a, b) = tokio::join!(TcpStream::connect(addr), l.accept());
        (a.unwrap(), b.unwrap().0)
    }

    fn ticket(table: &FlowTable) -> FlowTicket {
        table.register(FlowKey::Endpoint {
            listener: "127.0.0.1:1".parse().unwrap(),
            endpoint: underpass_domain::EndpointId::from_bits(1),
            gateway_serial: None,
        })
    }

    /// Reads at most `chunk` bytes at a time from `data`.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.chunk.min(self.data.len()).min(buf.remaining());
            buf.put_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Poll::Ready(Ok(()))
        }
    }

    impl Chunked for &[u8] {}
    impl Chunked for Trickle<'_> {}
    impl Chunked for tokio::io::DuplexStream {}

    /// Runs `half` from `r` into a vector until `r`'s EOF.
    fn copy_all<R: AsyncRead + Chunked + Unpin>(half: &mut Half, mut r: R) -> Vec<u8> {
        let mut out = Vec::new();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match half.poll_copy(&mut cx, &mut r, &mut out) {
            Poll::Ready(Ok(())) => out,
            other => panic!("an in-memory copy did not finish: {other:?}"),
        }
    }

    #[test]
    fn a_bulk_direction_grows_its_buffer_and_a_trickle_shrinks_it_again() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut half = Half::new((16 * 1024, 64 * 1024));
        // Every read of a slice fills the buffer: 16 → 32 → 64 KiB, and no further.
        assert_eq!(copy_all(&mut half, &data[..]), data);
        assert_eq!(half.size, 64 * 1024);

        // Reads of 100 bytes fill a quarter or less: back to the first size, and no lower.
        half.eof = false;
        let out = copy_all(
            &mut half,
            Trickle {
                data: &data[..5_000],
                chunk: 100,
            },
        );
        assert_eq!(out, &data[..5_000]);
        assert_eq!(half.size, 16 * 1024);

        // A first size equal to the largest never grows.
        let mut fixed = Half::new((4096, 1024));
        assert_eq!(copy_all(&mut fixed, &data[..]), data);
        assert_eq!(fixed.size, 4096);
    }

    /// A writer that keeps what it is given and the size of each write.
    #[derive(Default)]
    struct Writes {
        out: Vec<u8>,
        sizes: Vec<usize>,
        /// Where each write's bytes lay.
        addrs: Vec<usize>,
    }

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            this.out.extend_from_slice(buf);
            this.sizes.push(buf.len());
            this.addrs.push(buf.as_ptr() as usize);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn reads_for_a_framed_writer_leave_room_for_its_frame_header() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut half = Half::new((16 * 1024, 64 * 1024)).with_room(9);
        let mut w = Writes::default();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut r = &data[..];
        assert!(matches!(
            half.poll_copy(&mut cx, &mut r, &mut w),
            Poll::Ready(Ok(()))
        ));
        assert!(w.out == data, "every byte, in order");
        // 16 KiB - 9, then 32 KiB - 9, then 64 KiB - 9: each payload and its 9-byte header
        // fill whole 16 KiB TLS records.
        assert_eq!(&w.sizes[..3], &[16_375, 32_759, 65_527]);
        assert!(w.sizes.iter().all(|&n| n <= 65_527));
        assert_eq!(half.size, 64 * 1024, "full reads still grow the buffer");
    }

    /// Hands out its chunks one by one, as a tunnel stream does its frames, then EOF. A plain
    /// read of it would be a copy through a buffer: it fails the test.
    struct Frames(std::collections::VecDeque<Bytes>);

    impl AsyncRead for Frames {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            _buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            panic!("a reader with chunks of its own was read through a buffer")
        }
    }

    impl Chunked for Frames {
        fn poll_read_chunk(&mut self, _cx: &mut Context<'_>) -> Option<Poll<io::Result<Bytes>>> {
            Some(Poll::Ready(Ok(self.0.pop_front().unwrap_or_default())))
        }
    }

    #[test]
    fn received_chunks_are_written_whole_from_where_they_lie() {
        let data = Bytes::from(
            (0..200_000u32)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>(),
        );
        let cuts = [0, 70_000, 70_001, 135_537, 200_000];
        let chunks: Vec<Bytes> = cuts.windows(2).map(|c| data.slice(c[0]..c[1])).collect();
        // A buffer far smaller than the chunks: a copy through it would write 1 KiB at a time.
        let mut half = Half::new((1024, 1024));
        let mut w = Writes::default();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut r = Frames(chunks.iter().cloned().collect());
        assert!(matches!(
            half.poll_copy(&mut cx, &mut r, &mut w),
            Poll::Ready(Ok(()))
        ));
        assert!(w.out == data, "every byte, in order");
        assert_eq!(w.sizes, [70_000, 1, 65_536, 64_463], "one write per chunk");
        let lay: Vec<usize> = chunks.iter().map(|c| c.as_ptr() as usize).collect();
        assert_eq!(
            w.addrs, lay,
            "written from the chunks themselves, not from copies"
        );
        assert!(
            half.chunk.is_empty() && half.buf.is_none(),
            "nothing held at the end"
        );
    }

    #[test]
    fn idle_buffers_kept_per_thread_are_bounded_and_found_by_size() {
        std::thread::spawn(|| {
            let taken: Vec<_> = (0..40).map(|_| pool::take(64 * 1024)).collect();
            for buf in taken {
                assert_eq!(buf.len(), 64 * 1024);
                assert_eq!(buf.bytes().len(), 64 * 1024);
                pool::give(buf);
            }
            // 16 of them fit in the megabyte kept; the rest were freed.
            assert_eq!(pool::kept(), 1024 * 1024);
            let small = pool::take(16 * 1024);
            assert_eq!(small.len(), 16 * 1024);
            assert_eq!(
                pool::kept(),
                1024 * 1024,
                "a small buffer came from a large one"
            );
            let large = pool::take(64 * 1024);
            assert_eq!(pool::kept(), 1024 * 1024 - 64 * 1024);
            pool::give(small);
            assert_eq!(pool::kept(), 1024 * 1024 - 48 * 1024);
            // Keeping this one too would pass the bound.
            pool::give(large);
            assert_eq!(pool::kept(), 1024 * 1024 - 48 * 1024);
        })
        .join()
        .unwrap();
    }

    #[tokio::test]
    async fn half_close_propagates_and_bytes_are_counted() {
        let (mut client, client_side) = pair().await;
        let (service_side, mut service) = pair().await;
        let table = FlowTable::default();
        let mut t = ticket(&table);
        let flow = tokio::spawn(async move {
            pipe(
                client_side,
                service_side,
                (1024, 1024),
                Duration::from_secs(30),
                (0, 0),
                &mut t,
            )
            .await
        });
        client.write_all(b"hello").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        service.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        // The other direction still works after the client's half-close.
        service.write_all(b"world!").await.unwrap();
        service.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"world!");
        let end = flow.await.unwrap();
        let (segs_in, segs_out) = end.client_segments.expect("TCP_INFO through sock_diag");
        // SYN, ACK, data and FIN at least; SYN-ACK and the data at least.
        assert!(segs_in >= 4 && segs_out >= 2, "{segs_in} {segs_out}");
        assert_eq!(
            end,
            PipeEnd {
                client_to_service: 5,
                service_to_client: 6,
                reason: FlowReason::Closed,
                client_flags: tcp_flags::FIN,
                reply_flags: tcp_flags::FIN,
                client_segments: end.client_segments,
            }
        );
    }

    #[tokio::test]
    async fn a_cut_resets_both_sides() {
        let (mut client, client_side) = pair().await;
        let (service_side, mut service) = pair().await;
        let table = FlowTable::default();
        let mut t = ticket(&table);
        let flow = tokio::spawn(async move {
            pipe(
                client_side,
                service_side,
                (1024, 1024),
                Duration::from_secs(30),
                (0, 0),
                &mut t,
            )
            .await
        });
        assert_eq!(table.cut_where(|_| Some(FlowReason::Revoked)), 1);
        let end = flow.await.unwrap();
        assert_eq!(end.reason, FlowReason::Revoked);
        assert_eq!((end.client_flags, end.reply_flags), (0, tcp_flags::RST));
        let mut buf = [0u8; 8];
        let c = client.read(&mut buf).await;
        let s = service.read(&mut buf).await;
        assert!(c.is_err() && s.is_err(), "expected resets: {c:?} {s:?}");
    }

    /// Polls `half` once (a copy from `r` to `w`); whether it finished.
    async fn poll_once<R, W>(half: &mut Half, r: &mut R, w: &mut W) -> bool
    where
        R: AsyncRead + Chunked + Unpin,
        W: AsyncWrite + Unpin,
    {
        std::future::poll_fn(|cx| Poll::Ready(half.poll_copy(cx, r, w).is_ready())).await
    }

    #[tokio::test]
    async fn an_idle_direction_holds_no_buffer_and_a_blocked_one_keeps_its_bytes() {
        let (mut from, mut writer) = tokio::io::duplex(4096);
        let (mut to, mut reader) = tokio::io::duplex(16);
        let mut half = Half::new((1024, 1024));
        writer.write_all(b"hi").await.unwrap();
        assert!(!poll_once(&mut half, &mut from, &mut to).await);
        assert!(
            half.buf.is_none(),
            "nothing left to read: the buffer went back"
        );
        let mut got = [0u8; 2];
        reader.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
        // 100 bytes into a pipe that takes 16: the rest waits in the held buffer, and nothing
        // more is read meanwhile.
        writer.write_all(&[7u8; 100]).await.unwrap();
        assert!(!poll_once(&mut half, &mut from, &mut to).await);
        assert!(half.buf.is_some(), "unwritten bytes keep their buffer");
        let mut out = Vec::new();
        while out.len() < 100 {
            let mut chunk = [0u8; 16];
            let n = reader.read(&mut chunk).await.unwrap();
            out.extend_from_slice(&chunk[..n]);
            poll_once(&mut half, &mut from, &mut to).await;
        }
        assert_eq!(out, vec![7u8; 100]);
        assert!(half.buf.is_none(), "idle again");
        // EOF is passed on as a shutdown, and the direction is done.
        drop(writer);
        assert!(poll_once(&mut half, &mut from, &mut to).await);
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_flows_are_closed() {
        let (_client, client_side) = pair().await;
        let (service_side, _service) = pair().await;
        let table = FlowTable::default();
        let mut t = ticket(&table);
        let end = pipe(
            client_side,
            service_side,
            (1024, 1024),
            Duration::from_secs(350),
            (0, 0),
            &mut t,
        )
        .await;
        assert_eq!(end.reason, FlowReason::IdleTimeout);
    }
}

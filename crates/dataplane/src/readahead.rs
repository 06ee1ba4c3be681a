//! A tunnel's TCP connection under its TLS session, read ahead of what rustls asks for.
//!
//! rustls reads its records through the stream underneath in small steps: into a buffer it
//! sizes at 4 KiB past what it holds, at most one record (about 16 KiB) at a time. A bulk
//! flow's 64 KiB HTTP/2 frame arrives as four full records, so the receiving agent made four
//! or more `recvfrom` calls, each with its own wake-up of the socket's lock and accounting, for
//! every frame. Here each read is one `readv` into two places: what rustls asked for, straight
//! into its buffer, and whatever else the socket holds, up to a copy buffer's worth, into a
//! buffer of our own that the next reads are served from. On a trickle the socket holds less
//! than rustls asked for, and nothing changes. The buffer is held only while bytes wait in it
//! (an idle tunnel holds none), and comes from the same per-thread pool as the copy buffers.

use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::copy::pool::{self, Buffer};

/// A TCP stream whose reads take what the socket holds beyond what was asked for.
pub(crate) struct ReadAhead {
    tcp: TcpStream,
    /// How much one read may take beyond what was asked for.
    ahead: usize,
    /// Bytes read ahead: `buf[pos..len]` are yet to be read.
    buf: Option<Buffer>,
    pos: usize,
    len: usize,
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead")
            .field("tcp", &self.tcp)
            .field("unread", &(self.len - self.pos))
            .finish_non_exhaustive()
    }
}

impl ReadAhead {
    /// `tcp`, each read taking up to `ahead` bytes more than asked for.
    pub(crate) fn new(tcp: TcpStream, ahead: usize) -> Self {
        Self {
            tcp,
            ahead,
            buf: None,
            pos: 0,
            len: 0,
        }
    }

    /// The connection.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The connection, to set its options.
    pub(crate) fn tcp_mut(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// Whether bytes read ahead wait to be read.
    pub(crate) fn has_unread(&self) -> bool {
        self.pos < self.len
    }

    /// Gives the read-ahead buffer back once it is drained.
    fn release(&mut self) {
        if let Some(buf) = self.buf.take() {
            pool::give(buf);
        }
        self.pos = 0;
        self.len = 0;
    }
}

impl AsyncRead for ReadAhead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Some(buf) = &this.buf {
            let n = (this.len - this.pos).min(out.remaining());
            out.put_slice(&buf.bytes()[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.len {
                this.release();
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.tcp.poll_read_ready(cx))?;
            let mut buf = pool::take(this.ahead);
            let asked = out.remaining();
            let read = this.tcp.try_read_vectored(&mut [
                IoSliceMut::new(out.initialize_unfilled()),
                IoSliceMut::new(buf.bytes_mut()),
            ]);
            match read {
                Ok(n) => {
                    out.advance(n.min(asked));
                    if n > asked {
                        this.buf = Some(buf);
                        this.pos = 0;
                        this.len = n - asked;
                    } else {
                        pool::give(buf);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) => {
                    pool::give(buf);
                    // Readiness was stale; `try_read_vectored` cleared it.
                    if e.kind() != io::ErrorKind::WouldBlock {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.release();
    }
}

impl AsyncWrite for ReadAhead {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    async fn pair(ahead: usize) -> (ReadAhead, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (a, b) = tokio::join!(TcpStream::connect(addr), l.accept());
        (ReadAhead::new(b.unwrap().0, ahead), a.unwrap())
    }

    /// Reads until `want` bytes arrived in reads of at most `step`, recording each read's size.
    async fn read_in_steps(r: &mut ReadAhead, want: usize, step: usize) -> (Vec<u8>, Vec<usize>) {
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        let mut chunk = vec![0u8; step];
        while got.len() < want {
            let n = r.read(&mut chunk).await.unwrap();
            assert!(n > 0, "EOF after {} of {want} bytes", got.len());
            got.extend_from_slice(&chunk[..n]);
            sizes.push(n);
        }
        (got, sizes)
    }

    #[tokio::test]
    async fn what_the_socket_holds_beyond_a_read_is_served_to_the_next_reads_in_order() {
        let (mut r, mut w) = pair(64 * 1024).await;
        let sent: Vec<u8> = (0..48 * 1024u32).map(|i| (i % 251) as u8).collect();
        w.write_all(&sent).await.unwrap();
        // Wait (bounded) until all of it is in the receiver's socket, so one read can take it.
        let mut peeked = vec![0u8; sent.len()];
        for _ in 0..1000 {
            if r.tcp().peek(&mut peeked).await.unwrap() == sent.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let mut first = vec![0u8; 4096];
        let n = r.read(&mut first).await.unwrap();
        assert_eq!(n, 4096, "the first read fills what was asked for");
        assert_eq!(&first[..], &sent[..4096]);
        assert!(
            r.has_unread(),
            "the rest of what the socket held was read ahead"
        );
        let (rest, _) = read_in_steps(&mut r, sent.len() - 4096, 4096).await;
        assert_eq!(rest, &sent[4096..], "bytes in order, none lost or doubled");
        assert!(!r.has_unread());
        assert!(r.buf.is_none(), "a drained read-ahead buffer is given back");
    }

    #[tokio::test]
    async fn a_trickle_takes_no_buffer_and_eof_passes_through() {
        let (mut r, mut w) = pair(64 * 1024).await;
        for i in 0..5u8 {
            w.write_all(&[i; 10]).await.unwrap();
            let mut b = [0u8; 4096];
            let n = r.read(&mut b).await.unwrap();
            assert_eq!(&b[..n], &[i; 10][..n]);
            assert!(r.buf.is_none(), "no buffer held for a read that fit");
        }
        w.shutdown().await.unwrap();
        let mut b = [0u8; 64];
        assert_eq!(r.read(&mut b).await.unwrap(), 0, "EOF");
    }

    #[tokio::test]
    async fn a_bulk_transfer_arrives_whole_through_small_reads() {
        let (mut r, mut w) = pair(64 * 1024).await;
        let sent: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
        let writer = {
            let sent = sent.clone();
            tokio::spawn(async move {
                w.write_all(&sent).await.unwrap();
                w.shutdown().await.unwrap();
            })
        };
        let (got, sizes) = read_in_steps(&mut r, sent.len(), 17 * 1024).await;
        writer.await.unwrap();
        assert!(got == sent, "4 MiB arrived in order");
        assert!(sizes.iter().all(|&n| n <= 17 * 1024));
        let mut b = [0u8; 16];
        assert_eq!(r.read(&mut b).await.unwrap(), 0);
    }
}

//! A deadline on the first bytes of a connection. hyper-util's auto builder reads them to tell
//! the HTTP/2 preface (RFC 9113 §3.4) from an HTTP/1.1 request line, with no timeout of its own,
//! and hyper's `header_read_timeout` starts only after that: without this, a client that
//! connects and stays silent (or sends "PRI" and stops) would hold its connection forever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The client connection preface of HTTP/2.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An I/O stream whose reads fail with `TimedOut` if the protocol cannot be told from what
/// arrived within the deadline; once it can (the bytes leave the preface, or the whole preface
/// arrived), the deadline is gone and the stream is a plain pass-through.
pub struct PrefaceDeadline<S> {
    inner: S,
    deadline: Option<Pin<Box<Sleep>>>,
    /// How many bytes of the preface arrived so far.
    matched: usize,
}

impl<S> PrefaceDeadline<S> {
    pub fn new(inner: S, within: Duration) -> Self {
        Self {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
            matched: 0,
        }
    }

    /// Follows the bytes just read; disarms the deadline once the protocol is known.
    fn saw(&mut self, bytes: &[u8]) {
        let rest = &PREFACE[self.matched..];
        let n = bytes.len().min(rest.len());
        if bytes.is_empty() || bytes[..n] != rest[..n] || n == rest.len() {
            self.deadline = None;
        } else {
            self.matched += n;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PrefaceDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.deadline.is_some() {
                    this.saw(&buf.filled()[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the header read timeout",
                    )));
                }
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PrefaceDeadline<S> {
    forward_io!(
        poll_write,
        poll_write_vectored,
        is_write_vectored,
        poll_flush,
        poll_shutdown,
    );
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    #[tokio::test]
    async fn a_silent_client_times_out() {
        let (_client, server) = duplex(64);
        let mut guarded = PrefaceDeadline::new(server, Duration::from_millis(50));
        let err = guarded.read(&mut [0; 24]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_client_stuck_inside_the_preface_times_out() {
        let (mut client, server) = duplex(64);
        let mut guarded = PrefaceDeadline::new(server, Duration::from_millis(50));
        client.write_all(b"PRI * ").await.unwrap();
        let mut buf = [0; 24];
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 6);
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn an_http1_request_line_disarms_the_deadline() {
        let (mut client, server) = duplex(64);
        let mut guarded = PrefaceDeadline::new(server, Duration::from_millis(50));
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut buf = [0; 64];
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"Host: x\r\n").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 9);
    }

    #[tokio::test]
    async fn the_whole_preface_disarms_the_deadline() {
        let (mut client, server) = duplex(64);
        let mut guarded = PrefaceDeadline::new(server, Duration::from_millis(50));
        client.write_all(PREFACE).await.unwrap();
        let mut buf = [0; 24];
        guarded.read_exact(&mut buf).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(guarded.read(&mut buf).await.unwrap(), 1);
    }
}

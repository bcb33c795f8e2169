//! SCIM bodies for the answers hyper writes on its own. When an HTTP/1.1 request head cannot
//! be parsed (a malformed request line or header: 400, a head over the read buffer: 431, a URI
//! over hyper's bound: 414), hyper answers without calling the app, with an empty body, and
//! closes the connection. No layer sees those answers, so this I/O wrapper recognises their
//! head as hyper writes it and writes a SCIM error in its place.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::scim::error::ScimError;

/// An I/O stream that passes everything through, except an automatic error answer of hyper's
/// HTTP/1.1 server, which it replaces by the same status with a SCIM error body.
pub struct ScimParseErrors<S> {
    inner: S,
    /// The server's limit on a request head, named in the 431 detail.
    max_header_bytes: usize,
    /// A replacement under way: its bytes, how many are written, and the length of the
    /// buffer it replaces (what the writer is told once all of it is out).
    pending: Option<Replacement>,
}

struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<S> ScimParseErrors<S> {
    pub fn new(inner: S, max_header_bytes: usize) -> Self {
        Self {
            inner,
            max_header_bytes,
            pending: None,
        }
    }
}

/// The answer to write instead of `buf`, if `buf` is one of hyper's automatic error answers:
/// a whole head and nothing else, with status 400, 414 or 431, `content-length: 0` and
/// `connection: close` (an answer of the app always has a body by then: see
/// `server::scim_errors`).
fn replacement(buf: &[u8], max_header_bytes: usize) -> Option<Vec<u8>> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let code = std::str::from_utf8(rest.get(..3)?).ok()?;
    let status = StatusCode::from_bytes(code.as_bytes()).ok()?;
    let detail = match status {
        StatusCode::BAD_REQUEST => {
            "the request is not valid HTTP/1.1: its request line or a header is malformed"
                .to_owned()
        }
        StatusCode::URI_TOO_LONG => "the request URL is too long".to_owned(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => format!(
            "the request line and headers are larger than the {max_header_bytes} bytes this \
             gateway accepts (server.max_header_bytes)"
        ),
        _ => return None,
    };
    let head = std::str::from_utf8(buf).ok()?;
    let head = head.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let fields: Vec<&str> = lines.collect();
    let is = |name: &str, value: &str| {
        fields.iter().any(|f| {
            f.split_once(':').is_some_and(|(n, v)| {
                n.trim().eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
            })
        })
    };
    if !is("content-length", "0") || !is("connection", "close") {
        return None;
    }
    let body = ScimError::new(status.as_u16(), None, detail)
        .to_json()
        .to_string();
    let mut answer = format!(
        "{status_line}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
        crate::server::rescue::SCIM_JSON,
        body.len()
    );
    for field in fields {
        let name = field.split_once(':').map_or(field, |(n, _)| n).trim();
        if !name.eq_ignore_ascii_case("content-length") {
            answer.push_str(field);
            answer.push_str("\r\n");
        }
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

impl<S: AsyncRead + Unpin> AsyncRead for ScimParseErrors<S> {
    forward_io!(poll_read);
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ScimParseErrors<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            match replacement(buf, this.max_header_bytes) {
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
                Some(bytes) => {
                    tracing::info!("request head refused by hyper; answering with a SCIM error");
                    this.pending = Some(Replacement {
                        bytes,
                        written: 0,
                        replaces: buf.len(),
                    });
                }
            }
        }
        while let Some(r) = this.pending.as_mut() {
            if r.written == r.bytes.len() {
                let replaced = r.replaces;
                this.pending = None;
                return Poll::Ready(Ok(replaced));
            }
            match Pin::new(&mut this.inner).poll_write(cx, &r.bytes[r.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => r.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper writes its automatic answer as one head; a replacement under way finishes
        // through the plain write path, which reports the first buffer as written.
        let first = bufs.iter().find(|b| !b.is_empty());
        if let Some(first) = first
            && (this.pending.is_some() || replacement(first, this.max_header_bytes).is_some())
        {
            return Pin::new(this).poll_write(cx, first);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    forward_io!(is_write_vectored, poll_flush, poll_shutdown);
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sat, 05 Dec 2026 08:26:33 GMT\r\n\r\n";

    #[tokio::test]
    async fn hypers_bare_431_becomes_a_scim_error() {
        let (mut client, server) = duplex(16);
        let mut wrapped = ScimParseErrors::new(server, 8192);
        let writer = tokio::spawn(async move {
            wrapped.write_all(HYPER_431).await.unwrap();
            wrapped.shutdown().await.unwrap();
        });
        let mut got = String::new();
        client.read_to_string(&mut got).await.unwrap();
        writer.await.unwrap();
        let (head, body) = got.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(
            head.contains("content-type: application/scim+json"),
            "{head}"
        );
        assert!(head.contains("connection: close"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], "431");
        assert!(json["detail"].as_str().unwrap().contains("8192"), "{json}");
    }

    #[test]
    fn answers_of_the_app_pass_through() {
        let with_body =
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\nconnection: close\r\n\r\n";
        assert!(replacement(with_body, 8192).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        assert!(replacement(ok, 8192).is_none());
        let kept_alive =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement(kept_alive, 8192).is_none());
        let h2_frame = [0u8, 0, 6, 4, 0, 0, 0, 0, 0];
        assert!(replacement(&h2_frame, 8192).is_none());
    }
}

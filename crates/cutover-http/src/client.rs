//! One HTTP/1.1 request and its response: our own connect ([`crate::connect`]: resolve, connect
//! to the address asked for, the TLS handshake through our verifier), then hyper frames the
//! request and the response ([`crate::wire`]). Every step stops at one deadline, so a server that
//! hangs or trickles costs at most the check's timeout; the body is counted and capped.
//!
//! Every request says `Connection: close` and no `Accept-Encoding`, so the server sends the body
//! as it is (no compression to undo) and a connection is never reused. A request body, when there
//! is one, goes with its `Content-Type` and `Content-Length`.
//!
//! The exchange is async inside, on a current-thread tokio runtime that a [`Client`] owns; the
//! API is synchronous. A thread that makes many exchanges keeps one [`Client`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cutover_config::human;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use tokio::io::{AsyncRead, AsyncWrite};
use url::{Position, Url};

use crate::Failure;
use crate::connect::{self, Conn, Dial};
use crate::trust::Trust;
use crate::wire::{self, Broke, Failed, Limits, Read, Seen};

/// What an exchange gives.
pub use crate::response::{Fail, Response};

/// What every exchange of one check shares.
#[derive(Debug)]
pub struct Context<'a> {
    pub trust: &'a Trust,
    pub provider: &'a Arc<CryptoProvider>,
    /// The end of the check: DNS, connect, handshake and every read and write stop here.
    pub deadline: Instant,
    /// The check's whole timeout, for messages.
    pub timeout: Duration,
    /// How many bytes of the body to keep from its start (0 when nothing looks at it).
    pub keep: usize,
    /// How many bytes of the body to keep from its end ([`Body::end`](crate::Body::end);
    /// 0 when nothing looks at how it ends).
    pub keep_tail: usize,
    /// A body longer than this is a failure (and reading stops).
    pub max_body: u64,
}

/// One request.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    /// Sent as given after `Host`, `User-Agent: cutover/VERSION` and `Accept: */*` (each left out
    /// when given here), names title-cased.
    pub headers: &'a [(String, String)],
    /// Sent with `Content-Length` and its `Content-Type` (unless `headers` has one). Without a
    /// body, `POST`, `PUT` and `PATCH` send `Content-Length: 0` and other methods neither.
    pub body: Option<Payload<'a>>,
    /// Connect to this address instead of resolving the URL's host.
    pub connect_to: Option<IpAddr>,
    /// Do not read the body of a redirect (3xx with a `Location`): it is about to be followed.
    pub skip_redirect_body: bool,
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    pub content_type: &'a str,
    pub data: &'a [u8],
}

/// Makes exchanges, one at a time, on a current-thread tokio runtime of its own.
#[derive(Debug)]
pub struct Client {
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// A client with its runtime; an error (the system is out of file descriptors) is a failure
    /// to give every exchange it was meant for.
    pub fn new() -> Result<Client, Fail> {
        tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map(|runtime| Client { runtime })
            .map_err(|e| Fail::new(Failure::Protocol, format!("cannot start the HTTP client: {e}")))
    }

    /// Sends `request` and reads its response, all before `ctx.deadline`.
    pub fn exchange(&self, request: &Request<'_>, ctx: &Context<'_>) -> Result<Response, Fail> {
        self.runtime.block_on(exchange_async(request, ctx))
    }
}

/// [`Client::exchange`] on a client of its own, for a single exchange.
pub fn exchange(request: &Request<'_>, ctx: &Context<'_>) -> Result<Response, Fail> {
    Client::new()?.exchange(request, ctx)
}

async fn exchange_async(request: &Request<'_>, ctx: &Context<'_>) -> Result<Response, Fail> {
    let outgoing = outgoing(request).map_err(|reason| Fail::permanent(Failure::Protocol, reason))?;
    let dial = Dial { trust: ctx.trust, provider: ctx.provider, deadline: ctx.deadline, timeout: ctx.timeout };
    let stream = connect::open(request.url, request.connect_to, &dial).await?;
    exchange_over(stream, outgoing, request, ctx).await
}

/// The exchange over a connection that is open.
async fn exchange_over<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    outgoing: hyper::Request<Full<Bytes>>,
    request: &Request<'_>,
    ctx: &Context<'_>,
) -> Result<Response, Fail> {
    let seen = Arc::new(Seen::default());
    let io = TokioIo::new(Conn::new(stream, seen.clone()));
    let limits = Limits {
        deadline: ctx.deadline,
        keep: ctx.keep,
        keep_tail: ctx.keep_tail,
        max_body: ctx.max_body,
        read: if request.skip_redirect_body { Read::NotRedirects } else { Read::All },
    };
    wire::exchange(io, &seen, outgoing, &limits).await.map_err(|failed| worded(failed, &seen, ctx.timeout))
}

/// The request with cutover's headers, in the order they go out.
fn outgoing(request: &Request<'_>) -> Result<hyper::Request<Full<Bytes>>, String> {
    let url = request.url;
    let has = |name: &str| request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (host, None) => host.unwrap_or_default().to_string(),
        (None, Some(_)) => String::new(),
    };
    let length = request.body.map(|body| body.data.len().to_string());
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if !has("Host") {
        headers.push(("Host", &host));
    }
    if !has("User-Agent") {
        headers.push(("User-Agent", concat!("cutover/", env!("CARGO_PKG_VERSION"))));
    }
    if !has("Accept") {
        headers.push(("Accept", "*/*"));
    }
    headers.extend(request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    match (request.body, &length) {
        (Some(body), Some(length)) => {
            if !has("Content-Type") {
                headers.push(("Content-Type", body.content_type));
            }
            headers.push(("Content-Length", length));
        }
        _ if matches!(request.method, "POST" | "PUT" | "PATCH") => headers.push(("Content-Length", "0")),
        _ => {}
    }
    headers.push(("Connection", "close"));
    let target = &url[Position::BeforePath..Position::AfterQuery];
    wire::request(request.method, target, &headers, request.body.map_or(&[][..], |body| body.data))
}

/// A failed exchange in the client's words.
fn worded(failed: Failed, seen: &Seen, timeout: Duration) -> Fail {
    match failed {
        Failed::Head(broke) => {
            let closed = if seen.any() {
                "the server closed the connection in the middle of the response head"
            } else {
                "the server closed the connection without a response"
            };
            broke_fail(broke, "waiting for the response", closed, timeout)
        }
        Failed::Body(response, broke) => {
            let total = response.body.total;
            let closed = match wire::declared_length(&response.head) {
                Some(n) => format!("the server closed the connection after {total} of {n} body bytes"),
                None if wire::chunked(&response.head) => {
                    "the server closed the connection in the middle of a chunked body".to_string()
                }
                None => "the server closed the connection in the middle of the body".to_string(),
            };
            let doing = format!("reading the body, after {}", human::bytes(total));
            Fail { partial: Some(response), ..broke_fail(broke, &doing, &closed, timeout) }
        }
        Failed::TooLarge(response, fail) => Fail { partial: Some(response), ..fail },
    }
}

/// What broke while `doing`; `closed` says a connection that closed too early.
fn broke_fail(broke: Broke, doing: &str, closed: &str, timeout: Duration) -> Fail {
    match broke {
        Broke::TimedOut => Fail::new(
            Failure::Timeout,
            format!("timed out {doing} (the check's timeout is {})", human::duration(timeout)),
        ),
        Broke::Closed => Fail::new(Failure::Protocol, closed),
        Broke::Framing(reason) => Fail::new(Failure::Protocol, reason),
        Broke::Io { tls: Some(tls), .. } => Fail::new(Failure::Tls, format!("TLS error {doing}: {tls}")),
        Broke::Io { reason, .. } => Fail::new(Failure::Protocol, format!("{doing}: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::pin::Pin;
    use std::sync::{Mutex, OnceLock};
    use std::task::{Context as TaskContext, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// Hands out `data` in pieces of the given sizes (cycling), as a socket might, and keeps what
    /// is written to it.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        turn: usize,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl AsyncRead for Pieces {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let size = self.sizes[self.turn % self.sizes.len()].max(1);
            self.turn += 1;
            let n = size.min(buf.remaining()).min(self.data.len() - self.at);
            buf.put_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Pieces {
        fn poll_write(self: Pin<&mut Self>, _: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.written.lock().unwrap().extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn trust() -> &'static Trust {
        static TRUST: OnceLock<Trust> = OnceLock::new();
        TRUST.get_or_init(|| Trust::load(None).unwrap())
    }

    /// `request` answered with `wire`, delivered in pieces of `sizes`: the response, and the
    /// bytes of the request as they went out.
    fn over(request: &Request<'_>, wire: &[u8], sizes: Vec<usize>) -> (Result<Response, Fail>, String) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let timeout = Duration::from_secs(1);
        let ctx = Context {
            trust: trust(),
            provider: &provider,
            deadline: Instant::now() + timeout,
            timeout,
            keep: usize::MAX,
            keep_tail: 0,
            max_body: u64::MAX,
        };
        let written = Arc::new(Mutex::new(Vec::new()));
        let stream = Pieces { data: wire.to_vec(), at: 0, sizes, turn: 0, written: written.clone() };
        let client = Client::new().unwrap();
        let outgoing = outgoing(request).unwrap();
        let response = client.runtime.block_on(exchange_over(stream, outgoing, request, &ctx));
        let written = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        (response, written)
    }

    fn get(method: &str) -> (Url, Vec<(String, String)>, &str) {
        (Url::parse("http://a.test/").unwrap(), Vec::new(), method)
    }

    /// Reads one response from `wire`, delivered in pieces of `sizes`.
    fn read_response(wire: &[u8], sizes: Vec<usize>, method: &str) -> Result<(u16, Vec<u8>), String> {
        let (url, headers, method) = get(method);
        let request =
            Request { method, url: &url, headers: &headers, body: None, connect_to: None, skip_redirect_body: false };
        let response = over(&request, wire, sizes).0.map_err(|f| f.reason)?;
        assert_eq!(response.reason, if response.status == 200 { "OK" } else { "Not Found" });
        Ok((response.status, response.body.kept))
    }

    proptest::proptest! {
        #[test]
        fn responses_read_the_same_however_they_are_split(
            parts in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..300), 0..8),
            sizes in proptest::collection::vec(1usize..50, 1..6),
            interim in proptest::bool::ANY,
        ) {
            let body: Vec<u8> = parts.concat();
            let mut chunked = Vec::new();
            if interim {
                chunked.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
            }
            chunked.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for part in &parts {
                chunked.extend_from_slice(format!("{:X};ext=1\r\n", part.len()).as_bytes());
                chunked.extend_from_slice(part);
                chunked.extend_from_slice(b"\r\n");
            }
            chunked.extend_from_slice(b"0\r\nTrailer: x\r\n\r\n");
            proptest::prop_assert_eq!(read_response(&chunked, sizes.clone(), "GET"), Ok((200, body.clone())));

            let mut sized = format!("HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            sized.extend_from_slice(&body);
            sized.extend_from_slice(b"trailing garbage is not read");
            proptest::prop_assert_eq!(read_response(&sized, sizes.clone(), "GET"), Ok((404, body.clone())));

            let mut until_close = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
            until_close.extend_from_slice(&body);
            proptest::prop_assert_eq!(read_response(&until_close, sizes, "GET"), Ok((200, body)));
        }
    }

    #[test]
    fn broken_responses_say_why() {
        let read = |wire: &str| read_response(wire.as_bytes(), vec![7], "GET").unwrap_err();
        assert_eq!(read(""), "the server closed the connection without a response");
        assert_eq!(read("HTTP/1.1 200 OK\r\n"), "the server closed the connection in the middle of the response head");
        assert!(read("SSH-2.0-OpenSSH_9.2\r\n").starts_with("not an HTTP response"));
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            "the server closed the connection after 3 of 10 body bytes"
        );
        assert!(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").starts_with("bad chunk size line"));
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n"),
            "a chunk is longer than its size line says"
        );
        // hyper does not say how long the cut chunk was meant to be.
        assert_eq!(
            read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"),
            "the server closed the connection in the middle of a chunked body"
        );
        assert_eq!(
            read_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", vec![3], "HEAD"),
            Ok((200, Vec::new()))
        );
    }

    #[test]
    fn framing_follows_rfc_9112() {
        // The body read after a head with `headers`, from `rest` (which has more than any body).
        let f = |method, status: u16, headers: &[(&str, &str)]| {
            let mut wire = format!("HTTP/1.1 {status} Status\r\n");
            for (name, value) in headers {
                wire.push_str(&format!("{name}: {value}\r\n"));
            }
            wire.push_str("\r\n5\r\nhello\r\n0\r\n\r\n");
            let (url, none, method) = get(method);
            let request =
                Request { method, url: &url, headers: &none, body: None, connect_to: None, skip_redirect_body: false };
            over(&request, wire.as_bytes(), vec![64])
                .0
                .map(|r| String::from_utf8(r.body.kept).unwrap())
                .map_err(|e| e.reason)
        };
        let whole = "5\r\nhello\r\n0\r\n\r\n".to_string();
        assert_eq!(f("GET", 200, &[("Content-Length", "12")]), Ok(whole[..12].to_string()));
        assert_eq!(f("HEAD", 200, &[("Content-Length", "12")]), Ok(String::new()));
        assert_eq!(f("GET", 204, &[]), Ok(String::new()));
        assert_eq!(f("GET", 304, &[("Content-Length", "12")]), Ok(String::new()));
        assert_eq!(
            f("GET", 200, &[("Transfer-Encoding", "gzip, Chunked"), ("Content-Length", "3")]),
            Ok("hello".into())
        );
        assert_eq!(f("GET", 200, &[("Transfer-Encoding", "gzip")]), Ok(whole.clone()));
        assert_eq!(f("GET", 200, &[]), Ok(whole.clone()));
        assert_eq!(f("GET", 200, &[("Content-Length", "3"), ("content-length", "3")]), Ok(whole[..3].to_string()));
        assert!(
            f("GET", 200, &[("Content-Length", "3"), ("Content-Length", "4")]).unwrap_err().contains("conflicting")
        );
        assert!(f("GET", 200, &[("Content-Length", "-1")]).unwrap_err().contains("bad Content-Length"));
    }

    fn request(url: &str, method: &str, headers: &[(String, String)], body: Option<Payload<'_>>) -> String {
        let url = Url::parse(url).unwrap();
        let request = Request { method, url: &url, headers, body, connect_to: None, skip_redirect_body: false };
        let (response, written) = over(&request, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", vec![64]);
        assert_eq!(response.map(|r| r.status).map_err(|f| f.reason), Ok(200));
        written
    }

    #[test]
    fn a_body_goes_with_its_type_and_length() {
        let json = Some(Payload { content_type: "application/json", data: "{\"é\":1}".as_bytes() });
        let post = request("https://hooks.example.test:8443/services/a/b?x=1", "POST", &[], json);
        assert!(post.starts_with("POST /services/a/b?x=1 HTTP/1.1\r\nHost: hooks.example.test:8443\r\n"), "{post}");
        assert!(
            post.ends_with("Content-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{\"é\":1}"),
            "{post}"
        );
        let own = [("content-type".to_string(), "application/x-ndjson".to_string())];
        let put = request("http://a.test/x", "PUT", &own, json);
        // Header names go out title-cased (hyper cannot keep the case they were given in).
        assert!(put.contains("Content-Type: application/x-ndjson\r\nContent-Length: 8\r\n"), "{put}");
        assert!(!put.contains("application/json"), "{put}");
        // Without a body, as before: POST says it has none, GET and HEAD say nothing.
        let post = request("https://hooks.example.test", "POST", &[], None);
        assert!(post.starts_with("POST / HTTP/1.1\r\nHost: hooks.example.test\r\n"), "{post}");
        assert!(post.ends_with("Accept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), "{post}");
        for method in ["GET", "HEAD"] {
            let plain = request("http://a.test:8080/", method, &[], None);
            assert_eq!(
                plain,
                format!(
                    "{method} / HTTP/1.1\r\nHost: a.test:8080\r\nUser-Agent: cutover/{}\r\nAccept: */*\r\n\
                     Connection: close\r\n\r\n",
                    env!("CARGO_PKG_VERSION")
                )
            );
        }
    }
}

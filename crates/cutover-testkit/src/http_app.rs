//! Small real HTTP/1.1 servers for what [`crate::nginx`] cannot do simply: answer after a delay,
//! answer any status with any headers (a 500, a redirect with a relative `Location`), send a
//! chunked body, stream a body that never ends, echo the request, remember every request; and a
//! [`Silent`] server that accepts connections and never answers. hyper's server side frames the
//! requests and the answers (so the client's framing, hyper's too, is tested against a server
//! that is not cutover's own code). They run on a thread of the test process with a tokio
//! runtime of their own, on real sockets (loopback, IPv4 or IPv6), and stop on drop.
//!
//! ```no_run
//! use std::time::Duration;
//! use cutover_testkit::http_app::{App, Reply};
//! let ip = cutover_testkit::loopback_addr().into();
//! let app = App::new()
//!     .route("/slow", Reply::text(200, "late\n").delay(Duration::from_secs(1)))
//!     .route("/old", Reply::redirect(302, "new"))
//!     .route("/broken", Reply::text(500, "oops\n"))
//!     .route("/huge", Reply::endless())
//!     .start_on(ip)
//!     .unwrap();
//! let url = app.url("/slow"); // http://IP:PORT/slow
//! # drop((app, url));
//! ```
//!
//! A path without a route answers `404`. Every connection gets one response and is closed
//! (`Connection: close`).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::ext::ReasonPhrase;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// What a route answers.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    delay: Duration,
}

#[derive(Debug, Clone)]
enum Body {
    /// With `Content-Length`.
    Fixed(Vec<u8>),
    /// `Transfer-Encoding: chunked`, one chunk per part.
    Chunked(Vec<Vec<u8>>),
    /// Chunked 64 KiB chunks of `x` until the client goes away or the server stops.
    Endless,
    /// The request's method, target and headers as text (`Content-Length`).
    Echo,
}

impl Reply {
    /// `status` with `body` (`Content-Type: text/plain`, `Content-Length`).
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: Body::Fixed(body.as_bytes().to_vec()),
            delay: Duration::ZERO,
        }
    }

    /// `status` (301, 302, 303, 307, 308) to `location`, sent as written (relative or absolute).
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::text(status, "").header("Location", location)
    }

    /// `status` with a chunked body, one chunk per part.
    pub fn chunked(status: u16, parts: &[&str]) -> Reply {
        Reply { body: Body::Chunked(parts.iter().map(|p| p.as_bytes().to_vec()).collect()), ..Reply::text(status, "") }
    }

    /// `200` with a chunked body that never ends (64 KiB chunks of `x`, as fast as the client
    /// reads): an answer of gigabytes.
    pub fn endless() -> Reply {
        Reply { body: Body::Endless, ..Reply::text(200, "") }
    }

    /// `200` whose body is the request: `METHOD TARGET`, then one `name: value` line per header
    /// (names lowercased).
    pub fn echo() -> Reply {
        Reply { body: Body::Echo, ..Reply::text(200, "") }
    }

    /// Wait this long after reading the request before answering.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Add a response header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A request as the server read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Names lowercased, values trimmed, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The address the request came in on (which test host was asked).
    pub local_addr: SocketAddr,
}

impl Request {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Routes to start an [`App`] with.
#[derive(Debug, Clone, Default)]
pub struct App {
    routes: HashMap<String, Reply>,
}

/// A running [`App`]; stopped on drop.
#[derive(Debug)]
pub struct RunningApp {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    routes: HashMap<String, Reply>,
    requests: Mutex<Vec<Request>>,
}

impl App {
    pub fn new() -> App {
        App::default()
    }

    /// Answer `reply` to requests for `path` (the target without its query).
    pub fn route(mut self, path: &str, reply: Reply) -> App {
        self.routes.insert(path.to_string(), reply);
        self
    }

    /// Listens on a free port of `ip`.
    pub fn start_on(self, ip: IpAddr) -> io::Result<RunningApp> {
        self.start(&[SocketAddr::new(ip, 0)])
    }

    /// Listens on every address (port 0: a free one) with the same routes, so several test
    /// hosts (loopback addresses) can serve the same app on the same port.
    pub fn start(self, addrs: &[SocketAddr]) -> io::Result<RunningApp> {
        let shared = Arc::new(Shared { routes: self.routes, requests: Mutex::new(Vec::new()) });
        let mut listeners = Vec::new();
        for addr in addrs {
            let listener = TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            listeners.push(listener);
        }
        let bound = listeners.iter().map(TcpListener::local_addr).collect::<io::Result<Vec<_>>>()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = shared.clone();
        let server = std::thread::Builder::new().name("http-app".into()).spawn(move || {
            runtime.block_on(async move {
                for listener in listeners {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => drop(tokio::spawn(accept_loop(listener, serving.clone()))),
                        Err(e) => eprintln!("http_app: cannot listen: {e}"),
                    }
                }
                let _ = stopped.await;
            });
            // Dropping the runtime here drops every connection still open (delays, endless bodies).
        })?;
        Ok(RunningApp { addrs: bound, shared, stop: Some(stop), server: Some(server) })
    }
}

impl RunningApp {
    /// The first address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// `http://ADDR{path}` for the first address (IPv6 in brackets).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Every request read so far, in the order they were read.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((conn, _)) = listener.accept().await else { continue };
        let Ok(local_addr) = conn.local_addr() else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, shared.clone(), local_addr));
            let _ = http1::Builder::new()
                .title_case_headers(true)
                .keep_alive(false)
                .auto_date_header(false)
                .serve_connection(TokioIo::new(conn), service)
                .await;
        });
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    shared: Arc<Shared>,
    local_addr: SocketAddr,
) -> Result<Response<Out>, Infallible> {
    let (parts, body) = request.into_parts();
    let target = parts.uri.path_and_query().map_or_else(|| parts.uri.to_string(), |p| p.as_str().to_string());
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).trim().to_string()))
        .collect();
    let request = Request { method: parts.method.to_string(), target, headers, local_addr };
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
    // Read the request's body (discarded), so closing does not reset the connection under it.
    let _ = body.collect().await;
    let reply = shared.routes.get(parts.uri.path()).cloned().unwrap_or_else(|| Reply::text(404, "not found\n"));
    tokio::time::sleep(reply.delay).await;
    let body = match &reply.body {
        Body::Fixed(body) => Out::Full(Some(Bytes::from(body.clone()))),
        Body::Echo => {
            let mut text = format!("{} {}\n", request.method, request.target);
            for (name, value) in &request.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            Out::Full(Some(Bytes::from(text)))
        }
        Body::Chunked(parts) => {
            Out::Parts(parts.iter().filter(|p| !p.is_empty()).map(|p| Bytes::from(p.clone())).collect())
        }
        Body::Endless => Out::Endless(Bytes::from(vec![b'x'; 64 * 1024])),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(phrase) = ReasonPhrase::try_from(reason(reply.status).as_bytes()) {
        response.extensions_mut().insert(phrase);
    }
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    Ok(response)
}

/// An answer's body as hyper sends it: whole (with `Content-Length`), in parts (chunked), or
/// chunks that never end.
enum Out {
    Full(Option<Bytes>),
    Parts(VecDeque<Bytes>),
    Endless(Bytes),
}

impl hyper::body::Body for Out {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = match self.get_mut() {
            Out::Full(body) => body.take(),
            Out::Parts(parts) => parts.pop_front(),
            Out::Endless(chunk) => Some(chunk.clone()),
        };
        Poll::Ready(next.map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Out::Full(body) => body.is_none(),
            Out::Parts(parts) => parts.is_empty(),
            Out::Endless(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Out::Full(Some(body)) => SizeHint::with_exact(body.len() as u64),
            Out::Full(None) => SizeHint::with_exact(0),
            Out::Parts(_) | Out::Endless(_) => SizeHint::default(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Accepts TCP connections and never reads or answers: a server that hangs (plain HTTP or
/// before the TLS handshake). Connections are held open until the server is dropped.
#[derive(Debug)]
pub struct Silent {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepter: Option<JoinHandle<()>>,
}

impl Silent {
    /// Listens on a free port of `ip`.
    pub fn start(ip: IpAddr) -> io::Result<Silent> {
        let listener = TcpListener::bind((ip, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let accepter = std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                held.extend(conn.ok());
            }
        });
        Ok(Silent { addr, stop, accepter: Some(accepter) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accepter.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn routes_redirects_chunks_echo_and_404() {
        let app = App::new()
            .route("/ok", Reply::text(200, "fine\n"))
            .route("/old", Reply::redirect(302, "new"))
            .route("/parts", Reply::chunked(200, &["ab", "cd"]))
            .route("/echo", Reply::echo())
            .start_on(crate::loopback_addr().into())
            .unwrap();
        let ok = get(app.addr(), "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.ends_with("\r\n\r\nfine\n"), "{ok}");
        assert!(get(app.addr(), "GET /old HTTP/1.1\r\n\r\n").contains("\r\nLocation: new\r\n"));
        assert!(get(app.addr(), "GET /parts HTTP/1.1\r\n\r\n").ends_with("\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"));
        let echo = get(app.addr(), "POST /echo?x=1 HTTP/1.1\r\nX-Token: s3\r\nContent-Length: 2\r\n\r\nhi");
        assert!(echo.ends_with("POST /echo?x=1\nx-token: s3\ncontent-length: 2\n"), "{echo}");
        assert!(get(app.addr(), "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert_eq!(app.requests().len(), 5);
        assert_eq!(app.requests()[3].header("X-TOKEN"), Some("s3"));
    }

    #[test]
    fn silent_accepts_and_never_answers() {
        let silent = Silent::start(crate::loopback_addr().into()).unwrap();
        let mut s = TcpStream::connect(silent.addr()).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let err = s.read(&mut [0u8; 16]).unwrap_err();
        assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut), "{err}");
    }
}

//! Small real HTTP/1.1 servers for what [`crate::nginx`] cannot do simply: answer after a delay,
//! answer any status with any headers (a 500, a redirect with a relative `Location`), send a
//! chunked body, stream a body that never ends, echo the request, remember every request; and a
//! [`Silent`] server that accepts connections and never answers. They run as threads of the test
//! process on real sockets (loopback, IPv4 or IPv6), and stop on drop.
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

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// `Transfer-Encoding: chunked`, one chunk per part, each part written on its own.
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
    accepters: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    routes: HashMap<String, Reply>,
    stop: AtomicBool,
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
        let shared =
            Arc::new(Shared { routes: self.routes, stop: AtomicBool::new(false), requests: Mutex::new(Vec::new()) });
        let mut app = RunningApp { addrs: Vec::new(), shared: shared.clone(), accepters: Vec::new() };
        for addr in addrs {
            let listener = TcpListener::bind(addr)?;
            app.addrs.push(listener.local_addr()?);
            let shared = shared.clone();
            app.accepters.push(std::thread::spawn(move || accept_loop(&listener, &shared)));
        }
        Ok(app)
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
        self.shared.stop.store(true, Ordering::SeqCst);
        for addr in &self.addrs {
            // Wake the accept loop so it sees the flag.
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
        for handle in self.accepters.drain(..) {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _ = serve(conn, &shared);
        });
    }
}

fn serve(mut conn: TcpStream, shared: &Shared) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(1)))?;
    let Some(request) = read_request(&mut conn)? else { return Ok(()) };
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(request.clone());
    let path = request.target.split('?').next().unwrap_or_default();
    let reply = shared.routes.get(path).cloned().unwrap_or_else(|| Reply::text(404, "not found\n"));
    let until = Instant::now() + reply.delay;
    while Instant::now() < until {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_millis(20)));
    }
    let mut head = format!("HTTP/1.1 {} {}\r\nConnection: close\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let head_only = request.method == "HEAD";
    let fixed = |body: &[u8]| {
        let mut out = head.clone().into_bytes();
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        if !head_only {
            out.extend_from_slice(body);
        }
        out
    };
    match &reply.body {
        Body::Fixed(body) => conn.write_all(&fixed(body))?,
        Body::Echo => {
            let mut text = format!("{} {}\n", request.method, request.target);
            for (name, value) in &request.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            conn.write_all(&fixed(text.as_bytes()))?;
        }
        Body::Chunked(parts) => {
            conn.write_all(format!("{head}Transfer-Encoding: chunked\r\n\r\n").as_bytes())?;
            if !head_only {
                for part in parts.iter().filter(|p| !p.is_empty()) {
                    conn.write_all(format!("{:x}\r\n", part.len()).as_bytes())?;
                    conn.write_all(part)?;
                    conn.write_all(b"\r\n")?;
                    conn.flush()?;
                }
                conn.write_all(b"0\r\n\r\n")?;
            }
        }
        Body::Endless => {
            conn.write_all(format!("{head}Transfer-Encoding: chunked\r\n\r\n").as_bytes())?;
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend(std::iter::repeat_n(b'x', 64 * 1024));
            chunk.extend_from_slice(b"\r\n");
            while !head_only && !shared.stop.load(Ordering::SeqCst) {
                match conn.write_all(&chunk) {
                    Ok(()) => {}
                    // A client that stops reading: keep trying until it closes or we stop.
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Write);
    // Let the client read everything before the socket goes (a close with unread input resets).
    let mut sink = [0u8; 1024];
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}

/// Reads the request head (and a `Content-Length` body, discarded); `None` if the client sent
/// nothing.
fn read_request(conn: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::other("request head over 64 KiB"));
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Request { method, target, headers, local_addr: conn.local_addr()? };
    let length: usize = request.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut left = length.saturating_sub(buf.len() - end - 4);
    while left > 0 {
        let n = conn.read(&mut chunk[..left.min(4096)])?;
        if n == 0 {
            break;
        }
        left -= n;
    }
    Ok(Some(request))
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

//! A real HTTP receiver for webhook notifications: Python's `http.server` (so requests are parsed by
//! a server that is not the code under test), on a loopback address of its own, recording every
//! request (method, path, headers, body) as one JSON file in a temp dir. It can answer an error for
//! the first N requests (retries), never answer (time-outs), and speak HTTPS with a given
//! certificate.
//!
//! The server binds port 0 and says which port it got, so tests never race for a port. Dropping the
//! [`Receiver`] kills it by pid. Call [`crate::require`] with [`available`] first.
//!
//! ```no_run
//! use cutover_testkit::webhook::Receiver;
//! let receiver = Receiver::start().unwrap();
//! // ... POST to receiver.url("/hook") ...
//! let requests = receiver.wait_for(1, std::time::Duration::from_secs(5));
//! assert_eq!(requests[0].method, "POST");
//! ```

use std::io::{self, BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("webhook.py");

/// The Python that runs the test servers: Debian's (`/usr/bin/python3`, where `apt-get` installs
/// modules such as aiosmtpd), else `python3` on `PATH`.
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").is_file() { "/usr/bin/python3" } else { "python3" }
}

/// Whether a receiver can run here (a Python 3).
pub fn available() -> bool {
    crate::on_path(python())
}

/// How the receiver answers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Answer the first `fail_first` requests with `fail_status` (500 unless set), with a body
    /// that echoes the request path, as many frameworks' error pages do.
    pub fail_first: u32,
    pub fail_status: Option<u16>,
    /// Record each request, then never answer.
    pub hang: bool,
    /// Speak HTTPS with this chain (leaf first) and key.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// `HTTP/1.1`.
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The body (as UTF-8, invalid bytes replaced).
    pub body: String,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics if it is not: a test helper).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.body))
    }
}

/// A running receiver; killed on drop.
#[derive(Debug)]
pub struct Receiver {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    tls: bool,
}

impl Receiver {
    /// A receiver answering `200 ok` to everything.
    pub fn start() -> io::Result<Receiver> {
        Receiver::start_with(Options::default())
    }

    /// A receiver on a fresh loopback address; returns once it accepts connections.
    pub fn start_with(options: Options) -> io::Result<Receiver> {
        Receiver::start_on(crate::loopback_addr().into(), options)
    }

    /// A receiver on `ip` (port chosen by the system).
    pub fn start_on(ip: IpAddr, options: Options) -> io::Result<Receiver> {
        let dir = tempfile::Builder::new().prefix("cutover-webhook-").tempdir()?;
        let script = dir.path().join("webhook.py");
        std::fs::write(&script, SCRIPT)?;
        let requests = dir.path().join("requests");
        std::fs::create_dir(&requests)?;
        let mut cmd = Command::new(python());
        cmd.arg(&script).arg(ip.to_string()).arg(&requests);
        cmd.arg("--fail").arg(options.fail_first.to_string());
        cmd.arg("--fail-status").arg(options.fail_status.unwrap_or(500).to_string());
        if options.hang {
            cmd.arg("--hang");
        }
        if let Some((chain, key)) = &options.tls {
            cmd.arg("--tls").arg(chain).arg(key);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("stderr"))?))
            .spawn()?;
        let mut receiver = Receiver { child, dir, addr: SocketAddr::new(ip, 0), tls: options.tls.is_some() };
        let port = read_port(&mut receiver.child, Duration::from_secs(10));
        match port {
            Some(port) => receiver.addr.set_port(port),
            None => {
                let stderr = std::fs::read_to_string(receiver.dir.path().join("stderr")).unwrap_or_default();
                return Err(io::Error::other(format!("the webhook receiver did not start: {}", stderr.trim())));
            }
        }
        Ok(receiver)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` (or `https://`) followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Every request recorded so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Request> {
        read_records(&self.dir.path().join("requests"), parse)
    }

    /// The requests once there are at least `n` (or whatever arrived within `timeout`).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        wait_until(n, timeout, || self.requests())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `listening PORT` from the child's stdout, within `timeout`.
pub(crate) fn read_port(child: &mut Child, timeout: Duration) -> Option<u16> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(timeout).ok()?;
    line.trim().strip_prefix("listening ")?.parse().ok()
}

/// The records a server script wrote to `dir` (one `.json` file each, named in arrival order).
pub(crate) fn read_records<T>(dir: &Path, parse: fn(&str) -> Option<T>) -> Vec<T> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|e| e == "json"));
    names.sort();
    names.iter().filter_map(|p| parse(&std::fs::read_to_string(p).ok()?)).collect()
}

/// `read()` once it gives at least `n` records, or whatever it gives when `timeout` is over.
pub(crate) fn wait_until<T>(n: usize, timeout: Duration, read: impl Fn() -> Vec<T>) -> Vec<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read();
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A record's `headers`: a JSON array of `[name, value]` pairs.
pub(crate) fn header_pairs(v: &serde_json::Value) -> Option<Vec<(String, String)>> {
    Some(
        v.get("headers")?
            .as_array()?
            .iter()
            .filter_map(|pair| Some((pair.get(0)?.as_str()?.to_string(), pair.get(1)?.as_str()?.to_string())))
            .collect(),
    )
}

fn parse(text: &str) -> Option<Request> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let s = |key: &str| v.get(key).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let headers = header_pairs(&v)?;
    Some(Request { method: s("method"), path: s("path"), version: s("version"), headers, body: s("body") })
}

//! A real SMTP sink for mail notifications: aiosmtpd (Debian's `python3-aiosmtpd`) on a loopback
//! address of its own, writing every message it accepts, parsed by Python's `email` package (From,
//! To, Subject, the plain-text body, all headers, the raw message, the envelope), as one JSON file
//! in a temp dir. It can offer and require STARTTLS, speak TLS from the first byte (SMTPS),
//! require AUTH, and answer `451` to the first N messages.
//!
//! The sink binds port 0 and says which port it got. Dropping the [`Sink`] kills it by pid. Call
//! [`crate::require`] with [`available`] first.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::webhook::{header_pairs, python, read_port, read_records, wait_until};

const SCRIPT: &str = include_str!("smtp.py");

/// Whether a sink can run here: a Python 3 that imports `aiosmtpd` (`apt-get install
/// python3-aiosmtpd`).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// What the sink asks of a client.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Offer STARTTLS with this chain and key, and refuse mail until it is used.
    pub starttls: Option<(PathBuf, PathBuf)>,
    /// TLS from the first byte (SMTPS, port 465 style) with this chain and key.
    pub smtps: Option<(PathBuf, PathBuf)>,
    /// Require AUTH with this user and password.
    pub auth: Option<(String, String)>,
    /// Answer `451` (try again later) to the first N messages.
    pub fail_first: u32,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `MAIL FROM`.
    pub envelope_from: String,
    /// `RCPT TO`, each.
    pub envelope_to: Vec<String>,
    /// The headers, decoded (RFC 2047 words turned back into text).
    pub from: String,
    pub to: String,
    pub subject: String,
    pub headers: Vec<(String, String)>,
    /// The text/plain body, decoded (quoted-printable or base64 undone).
    pub body: String,
    /// The message as sent.
    pub raw: String,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
}

impl Mail {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A running sink; killed on drop.
#[derive(Debug)]
pub struct Sink {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Sink {
    /// A plain sink that accepts everything.
    pub fn start() -> io::Result<Sink> {
        Sink::start_with(Options::default())
    }

    /// A sink on a fresh loopback address; returns once it accepts connections.
    pub fn start_with(options: Options) -> io::Result<Sink> {
        Sink::start_on(crate::loopback_addr().into(), options)
    }

    /// A sink on `ip` (port chosen by the system).
    pub fn start_on(ip: IpAddr, options: Options) -> io::Result<Sink> {
        let dir = tempfile::Builder::new().prefix("cutover-smtp-").tempdir()?;
        let script = dir.path().join("smtp.py");
        std::fs::write(&script, SCRIPT)?;
        let mails = dir.path().join("mail");
        std::fs::create_dir(&mails)?;
        let mut cmd = Command::new(python());
        cmd.arg(&script).arg(ip.to_string()).arg(&mails);
        if let Some((chain, key)) = &options.starttls {
            cmd.arg("--starttls").arg(chain).arg(key);
        }
        if let Some((chain, key)) = &options.smtps {
            cmd.arg("--smtps").arg(chain).arg(key);
        }
        if let Some((user, password)) = &options.auth {
            cmd.arg("--auth").arg(user).arg(password);
        }
        cmd.arg("--fail").arg(options.fail_first.to_string());
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("stderr"))?))
            .spawn()?;
        let mut sink = Sink { child, dir, addr: SocketAddr::new(ip, 0) };
        match read_port(&mut sink.child, Duration::from_secs(10)) {
            Some(port) => sink.addr.set_port(port),
            None => return Err(io::Error::other(format!("the SMTP sink did not start: {}", sink.stderr().trim()))),
        }
        Ok(sink)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the sink wrote on stderr so far (aiosmtpd's errors).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Mail> {
        read_records(&self.dir.path().join("mail"), parse)
    }

    /// The messages once there are at least `n` (or whatever arrived within `timeout`).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        wait_until(n, timeout, || self.messages())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(text: &str) -> Option<Mail> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let s = |key: &str| v.get(key).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    let headers = header_pairs(&v)?;
    let envelope_to = v.get("rcpt_tos")?.as_array()?.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
    Some(Mail {
        envelope_from: s("mail_from"),
        envelope_to,
        from: s("from"),
        to: s("to"),
        subject: s("subject"),
        headers,
        body: s("body"),
        raw: s("raw"),
        auth_user: v.get("auth_user").and_then(|x| x.as_str()).map(str::to_string),
        tls: v.get("tls").and_then(|x| x.as_bool()).unwrap_or(false),
    })
}

//! `mailto:` channels: one plain-text mail per event through the `[smtp]` relay, with lettre's
//! SMTP client (rustls with ring; the relay's certificate judged against the system roots and
//! `[tls] extra_ca`). The password is used for AUTH and nowhere else: not in `Debug`, not in any
//! message.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};

use super::error::Failure;
use super::event::Event;
use super::payload;
use cutover_http::Trust;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on this machine or the private network; no password is sent unless the
    /// relay is on loopback).
    None,
    /// Plain, then `STARTTLS`, which is required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// `[smtp]`: the relay mail goes through.
#[derive(Clone, PartialEq, Eq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    /// `deploy@example.com` or `cutover <deploy@example.com>`.
    pub from: String,
    pub username: Option<String>,
    /// A secret: never printed (`Debug` says `[redacted]`), taken out of every error.
    pub password: Option<String>,
    pub tls: SmtpTls,
    /// Each step of the conversation with the relay: connect, each reply.
    pub timeout: Duration,
}

impl Smtp {
    /// `host`, port 587 with STARTTLS, no AUTH, 10 s.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> Smtp {
        Smtp {
            host: host.into(),
            port: 587,
            from: from.into(),
            username: None,
            password: None,
            tls: SmtpTls::StartTls,
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends `event` to `to` through `smtp`, one attempt.
pub(crate) fn send(smtp: &Smtp, to: &str, event: &Event, trust: &Trust) -> Result<(), Failure> {
    let secrets: Vec<&str> = smtp.password.as_deref().into_iter().collect();
    attempt(smtp, to, event, trust).map_err(|f| f.scrub(&secrets))
}

fn attempt(smtp: &Smtp, to: &str, event: &Event, trust: &Trust) -> Result<(), Failure> {
    let message = message(smtp, to, event)?;
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .timeout(Some(smtp.timeout))
        .hello_name(ClientId::Domain(hello_name()));
    builder = match smtp.tls {
        SmtpTls::None => builder.tls(Tls::None),
        SmtpTls::StartTls => builder.tls(Tls::Required(tls_parameters(smtp, trust)?)),
        SmtpTls::Tls => builder.tls(Tls::Wrapper(tls_parameters(smtp, trust)?)),
    };
    if let Some(username) = &smtp.username {
        if smtp.tls == SmtpTls::None && !is_loopback(&smtp.host) {
            return Err(Failure::Setup(format!(
                "refusing to send the SMTP password to `{}` over a plain connection: set [smtp] tls to \
                 \"starttls\" or \"tls\"",
                smtp.host
            )));
        }
        builder = builder.credentials(Credentials::new(username.clone(), smtp.password.clone().unwrap_or_default()));
    }
    let transport = builder.build();
    transport.send(&message).map(|_| ()).map_err(|e| failure(&e, smtp))
}

fn message(smtp: &Smtp, to: &str, event: &Event) -> Result<Message, Failure> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| Failure::Setup(format!("[smtp] from `{}` is not an e-mail address: {e}", smtp.from)))?;
    let to: Mailbox = to.parse().map_err(|e| Failure::Setup(format!("`{to}` is not an e-mail address: {e}")))?;
    let message_id = format!("<{}@{}>", unique(), from.email.domain());
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(payload::mail_subject(event))
        .message_id(Some(message_id))
        // RFC 3834: an automatic message, so vacation responders stay quiet.
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()));
    let built = match &event.attachment {
        None => builder.header(ContentType::TEXT_PLAIN).body(payload::mail_body(event)),
        Some(a) => {
            let kind = ContentType::parse(&a.content_type)
                .map_err(|e| Failure::Setup(format!("`{}` is not a MIME type: {e}", a.content_type)))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(payload::mail_body(event)))
                    .singlepart(lettre::message::Attachment::new(a.name.clone()).body(a.bytes.clone(), kind)),
            )
        }
    };
    built.map_err(|e| Failure::Setup(format!("cannot build the mail: {e}")))
}

/// rustls (ring) for the relay: the system's roots (lettre's `rustls-native-certs`) plus the extra
/// CA of `trust`.
fn tls_parameters(smtp: &Smtp, trust: &Trust) -> Result<TlsParameters, Failure> {
    let mut params = TlsParameters::builder(smtp.host.clone());
    if let Some(path) = trust.extra_ca() {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::Setup(format!("cannot read the CA file {}: {e}", path.display())))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| Failure::Setup(format!("{}: not a CA certificate file: {e}", path.display())))?;
        params = params.add_root_certificate(cert);
    }
    params.build_rustls().map_err(|e| Failure::Setup(format!("TLS setup: {e}")))
}

fn failure(e: &lettre::transport::smtp::Error, smtp: &Smtp) -> Failure {
    let relay = format!("{}:{}", smtp.host, smtp.port);
    if e.is_timeout() || io_kind(e).is_some_and(|k| matches!(k, io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)) {
        return Failure::Timeout(smtp.timeout);
    }
    if let Some(code) = e.status() {
        let text = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
        let reason = format!("{relay} answered {code} {}", text.trim()).trim_end().to_string();
        return Failure::Refused { reason, retry: e.is_transient(), wait: None };
    }
    // A certificate that does not verify will not verify on the next attempt either.
    if let Some(tls) = rustls_error(e) {
        let retry = !matches!(tls, rustls::Error::InvalidCertificate(_));
        return Failure::Unreachable { reason: format!("{relay}: TLS: {tls}"), retry };
    }
    Failure::Unreachable { reason: format!("{relay}: {}", chain(e)), retry: !e.is_tls() }
}

/// The kind of the I/O error behind `e` (a read time-out shows as a network error).
fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        next = err.source();
    }
    None
}

/// The rustls error behind `e`, directly or inside an I/O error (lettre reports a failed
/// handshake as a network error).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()?.downcast_ref()) {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// An error in words, without the OS error numbers.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    while let Some(start) = text.find(" (os error ") {
        let end = text[start..].find(')').map_or(text.len(), |i| start + i + 1);
        text.replace_range(start..end, "");
    }
    text
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// This machine's name for `EHLO`, when it is a plausible domain; `localhost` otherwise.
fn hello_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    let plausible = !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if plausible { name.to_string() } else { "localhost".into() }
}

/// `cutover.SECONDS.NANOS.PID.N`: unique enough for a Message-ID.
fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    format!(
        "cutover.{}.{}.{}.{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let mut smtp = Smtp::new("mail.example.test", "cutover <deploy@example.test>");
        smtp.username = Some("deploy".into());
        smtp.password = Some("hunter2-very-secret".into());
        let shown = format!("{smtp:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn plain_auth_only_to_loopback() {
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("mail.example.test") && !is_loopback("10.0.0.1"));
    }
}

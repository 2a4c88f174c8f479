//! Our own connect, before hyper frames anything: the URL's host found by the system resolver (or
//! the address a [`Via`](crate::Via) names), a TCP connection, and for `https` a TLS handshake
//! through rustls (ring only) with the client's [`Verifier`] and the URL's host as SNI. Every step
//! stops at the exchange's deadline and says why it failed as a [`Fail`].

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use cutover_config::human;
use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use url::{Host, Url};

use crate::Failure;
use crate::response::Fail;
use crate::text::io_reason;
use crate::trust::Trust;
use crate::verifier::Verifier;
use crate::wire::{Seen, rustls_error};

/// What a connect needs: whom to trust, the crypto, and when to give up.
#[derive(Debug)]
pub(crate) struct Dial<'a> {
    pub trust: &'a Trust,
    pub provider: &'a Arc<CryptoProvider>,
    /// DNS, connect and handshake stop here.
    pub deadline: Instant,
    /// The exchange's whole timeout, for messages.
    pub timeout: Duration,
}

/// An open connection, plain or through its TLS handshake.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Resolves (unless told where to connect), connects and, for `https`, completes the handshake.
pub(crate) async fn open(url: &Url, connect_to: Option<IpAddr>, ctx: &Dial<'_>) -> Result<Stream, Fail> {
    let host = url.host().ok_or_else(|| Fail::permanent(Failure::Protocol, format!("{url} has no host")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs = match (connect_to, &host) {
        (Some(ip), _) => vec![SocketAddr::new(ip, port)],
        (None, Host::Ipv4(ip)) => vec![SocketAddr::new((*ip).into(), port)],
        (None, Host::Ipv6(ip)) => vec![SocketAddr::new((*ip).into(), port)],
        (None, Host::Domain(name)) => resolve(name, port, ctx).await?,
    };
    let sock = connect(&addrs, ctx).await?;
    let _ = sock.set_nodelay(true);
    if url.scheme() != "https" {
        return Ok(Stream::Plain(sock));
    }
    let name = match host {
        Host::Domain(name) => ServerName::try_from(name.to_string())
            .map_err(|e| Fail::permanent(Failure::Tls, format!("`{name}` cannot be sent as a TLS server name: {e}")))?,
        Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::from(ip).into()),
        Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::from(ip).into()),
    };
    handshake(sock, name, ctx).await.map(|s| Stream::Tls(Box::new(s)))
}

/// The system resolver (`getaddrinfo`, so `/etc/hosts` and the resolver config apply), in a
/// thread of its own so that a resolver that does not answer costs no more than the deadline.
/// That thread is left to finish on its own (getaddrinfo gives up after the resolver config's
/// timeouts and attempts); its answer then goes nowhere.
async fn resolve(name: &str, port: u16, ctx: &Dial<'_>) -> Result<Vec<SocketAddr>, Fail> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = name.to_string();
    let spawned = std::thread::Builder::new().name("cutover-dns".into()).spawn(move || {
        let _ = tx.send((owned.as_str(), port).to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
    });
    if let Err(e) = spawned {
        return Err(Fail::new(Failure::Dns, format!("cannot start a resolver thread: {e}")));
    }
    match timeout_at(ctx.deadline.into(), rx).await {
        Ok(Ok(Ok(addrs))) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(Ok(_))) => Err(Fail::new(Failure::Dns, format!("`{name}` resolves to no address"))),
        Ok(Ok(Err(e))) => {
            let text = e.to_string();
            let text = text.strip_prefix("failed to lookup address information: ").unwrap_or(&text);
            Err(Fail::new(Failure::Dns, format!("`{name}` does not resolve: {text}")))
        }
        Ok(Err(_)) | Err(_) => Err(Fail::new(
            Failure::Dns,
            format!("no answer from the resolver for `{name}` within {}", human::duration(ctx.timeout)),
        )),
    }
}

/// Tries each address in turn, each with an equal share of the time left.
async fn connect(addrs: &[SocketAddr], ctx: &Dial<'_>) -> Result<TcpStream, Fail> {
    let mut reasons = Vec::new();
    let mut answered = false;
    for (i, addr) in addrs.iter().enumerate() {
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let share = left / (addrs.len() - i) as u32;
        let error = match timeout(share, TcpStream::connect(addr)).await {
            Ok(Ok(sock)) => return Ok(sock),
            Ok(Err(e)) => e,
            Err(_) => io::ErrorKind::TimedOut.into(),
        };
        let (host_answered, reason) = connect_error(&error, share);
        answered |= host_answered;
        reasons.push(format!("{addr}: {reason}"));
    }
    if reasons.is_empty() {
        return Err(Fail::new(Failure::Dns, format!("resolving took the whole {}", human::duration(ctx.timeout))));
    }
    let kind = if answered { Failure::Connect } else { Failure::Unreachable };
    Err(Fail::new(kind, format!("cannot connect: {}", reasons.join("; "))))
}

/// Whether the far side answered a failed connection attempt (a refusal or reset: the network
/// works), and why it failed.
fn connect_error(e: &io::Error, waited: Duration) -> (bool, String) {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => (true, "connection refused".to_string()),
        ConnectionReset => (true, "connection reset".to_string()),
        TimedOut | WouldBlock => (false, format!("no answer within {}", human::duration(waited))),
        NetworkUnreachable => (false, "network unreachable".to_string()),
        HostUnreachable => (false, "no route to host".to_string()),
        _ => (false, io_reason(e)),
    }
}

async fn handshake(sock: TcpStream, name: ServerName<'static>, ctx: &Dial<'_>) -> Result<TlsStream<TcpStream>, Fail> {
    let verifier = Arc::new(Verifier::new(ctx.trust.clone(), ctx.provider.clone()));
    let setup = |e: rustls::Error| Fail::permanent(Failure::Tls, format!("TLS setup: {e}"));
    let mut config = ClientConfig::builder_with_provider(ctx.provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(setup)?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let e = match timeout_at(ctx.deadline.into(), TlsConnector::from(Arc::new(config)).connect(name, sock)).await {
        Ok(Ok(stream)) => return Ok(stream),
        Ok(Err(e)) => e,
        Err(_) => {
            return Err(Fail::new(
                Failure::Timeout,
                format!("the TLS handshake did not complete within {}", human::duration(ctx.timeout)),
            ));
        }
    };
    let rejection = verifier.rejection();
    let refused = rejection.is_some() || matches!(rustls_error(&e), Some(rustls::Error::InvalidCertificate(_)));
    let reason = match (rejection, e.kind()) {
        (Some(reason), _) => reason,
        (None, io::ErrorKind::UnexpectedEof) => "the server closed the connection during the TLS handshake".into(),
        (None, _) => match rustls_error(&e) {
            Some(rustls::Error::AlertReceived(alert)) => format!("the server refused the handshake ({alert:?})"),
            Some(rustls::Error::InvalidMessage(_)) => "the server does not speak TLS on this port".into(),
            Some(other) => format!("TLS handshake failed: {other}"),
            None => format!("TLS handshake failed: {}", io_reason(&e)),
        },
    };
    Err(Fail { permanent: refused, ..Fail::new(Failure::Tls, reason) })
}

/// A connection that records what arrives ([`Seen`], for the words of a failure) and reads
/// nothing before the request is on its way, so an answer sent before it (a banner) is read as
/// the response, not as stray bytes on an idle connection. A TLS server that closes without
/// `close_notify` ends the stream there, as a plain close would: whether that cut a response
/// short is for the framing to say.
#[derive(Debug)]
pub(crate) struct Conn<S> {
    inner: S,
    seen: Arc<Seen>,
    written: bool,
    reader: Option<Waker>,
}

impl<S> Conn<S> {
    pub fn new(inner: S, seen: Arc<Seen>) -> Conn<S> {
        Conn { inner, seen, written: false, reader: None }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Conn<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.written {
            self.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.seen.record(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.written = true;
            if let Some(reader) = self.reader.take() {
                reader.wake();
            }
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut TaskContext<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_or_reset_shows_the_network_works() {
        let wait = Duration::from_secs(2);
        let answered = |kind: io::ErrorKind| connect_error(&kind.into(), wait).0;
        assert!(answered(io::ErrorKind::ConnectionRefused));
        assert!(answered(io::ErrorKind::ConnectionReset));
        assert!(!answered(io::ErrorKind::TimedOut));
        assert!(!answered(io::ErrorKind::NetworkUnreachable));
        assert!(!answered(io::ErrorKind::HostUnreachable));
        assert!(!answered(io::ErrorKind::AddrNotAvailable));
        assert_eq!(connect_error(&io::ErrorKind::TimedOut.into(), wait).1, "no answer within 2 s");
    }
}

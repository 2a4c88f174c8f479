//! One TLS connection to a server with rustls, for what it shows rather than for trust: a
//! verifier that records the chain the server presents and accepts it (trust, name and expiry are
//! judged separately, so each gets its own verdict). Handshake signatures are still checked.
//! Every step is bounded: connect, each read and write, and the handshake as a whole.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use cutover_config::human;
use cutover_http::text::io_reason;

/// Why a connection gave no TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectError {
    /// TCP failed: refused, unreachable, or no connection within the timeout.
    Tcp(String),
    /// Connected, but no (complete) answer within the timeout.
    Timeout(String),
    /// The server answered with something that is not TLS.
    NotTls(String),
    /// The connection was not attempted (the name cannot be sent as SNI, ...).
    Setup(String),
    /// The server speaks TLS but the handshake failed (an alert, no common version or cipher, a
    /// closed connection): worth asking with a legacy ClientHello.
    Tls(String),
}

impl ConnectError {
    pub fn reason(&self) -> &str {
        match self {
            Self::Tcp(r) | Self::Timeout(r) | Self::NotTls(r) | Self::Setup(r) | Self::Tls(r) => r,
        }
    }
}

/// An established session and what it showed.
pub(crate) struct Session {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: &'static str,
    /// The certificates the server sent, leaf first, in its order.
    pub chain: Vec<CertificateDer<'static>>,
    pub stream: StreamOwned<ClientConnection, TcpStream>,
}

/// Connects to `addr` and completes a TLS 1.2/1.3 handshake with `sni`, within `timeout` for the
/// connect and `timeout` again for the handshake.
pub(crate) fn handshake(
    provider: &Arc<CryptoProvider>,
    addr: SocketAddr,
    sni: &str,
    timeout: Duration,
) -> Result<Session, ConnectError> {
    let verifier = Arc::new(Capture { chain: Mutex::new(Vec::new()), provider: provider.clone() });
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ConnectError::Setup(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(sni.trim_end_matches('.').to_string())
        .map_err(|e| ConnectError::Setup(format!("{sni:?} is not a valid server name: {e}")))?;
    let mut conn =
        ClientConnection::new(Arc::new(config), name).map_err(|e| ConnectError::Setup(format!("TLS setup: {e}")))?;

    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| ConnectError::Tcp(io_reason(&e)))?;
    let _ = sock.set_nodelay(true);
    let _ = sock.set_write_timeout(Some(timeout));
    let deadline = Instant::now() + timeout;
    let mut first = Vec::new();
    let mut got_any = false;
    loop {
        while conn.wants_write() {
            if let Err(e) = conn.write_tls(&mut sock) {
                return Err(ConnectError::Tls(format!("sending to the server: {}", io_reason(&e))));
            }
        }
        if !conn.is_handshaking() {
            break;
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
            return Err(ConnectError::Timeout(no_answer(got_any, timeout)));
        };
        let _ = sock.set_read_timeout(Some(left));
        let mut reader = Recording { inner: &mut sock, first: &mut first };
        match conn.read_tls(&mut reader) {
            Ok(0) => {
                return Err(if got_any {
                    ConnectError::Tls("the server closed the connection during the handshake".into())
                } else {
                    ConnectError::Tls("the server closed the connection without answering the TLS hello".into())
                });
            }
            Ok(_) => got_any = true,
            Err(e) if is_timeout(&e) => return Err(ConnectError::Timeout(no_answer(got_any, timeout))),
            Err(e) => return Err(ConnectError::Tls(io_reason(&e))),
        }
        if first.first().is_some_and(|b| !(0x14..=0x18).contains(b)) {
            return Err(ConnectError::NotTls(format!("not TLS: the server answered {:?}", printable(&first))));
        }
        if let Err(e) = conn.process_new_packets() {
            // Let the server know (an alert), then report.
            let _ = conn.write_tls(&mut sock);
            return Err(match e {
                rustls::Error::InvalidMessage(m) => ConnectError::NotTls(format!("not TLS (invalid message: {m:?})")),
                rustls::Error::AlertReceived(alert) => {
                    ConnectError::Tls(format!("the server refused the handshake (alert {alert:?})"))
                }
                e => ConnectError::Tls(e.to_string()),
            });
        }
    }
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    };
    let chain = std::mem::take(&mut *verifier.chain.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Session { version, chain, stream: StreamOwned::new(conn, sock) })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

fn no_answer(got_any: bool, timeout: Duration) -> String {
    if got_any {
        format!("timed out: the TLS handshake did not complete within {}", human::duration(timeout))
    } else {
        format!("timed out: no answer to the TLS hello within {}", human::duration(timeout))
    }
}

fn printable(buf: &[u8]) -> String {
    String::from_utf8_lossy(&buf[..buf.len().min(32)]).chars().map(|c| if c.is_control() { '.' } else { c }).collect()
}

/// Keeps the first bytes read, to tell a non-TLS answer from a TLS one.
struct Recording<'a> {
    inner: &'a mut TcpStream,
    first: &'a mut Vec<u8>,
}

impl Read for Recording<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let keep = 32usize.saturating_sub(self.first.len()).min(n);
        self.first.extend_from_slice(&buf[..keep]);
        Ok(n)
    }
}

/// Records the presented chain and accepts it; checks handshake signatures for real.
#[derive(Debug)]
struct Capture {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(|e| e.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

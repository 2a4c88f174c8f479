//! Certificate verification for the client, as a browser would judge it (trusted chain, valid
//! now, covers the name), with the reasons worded as `cutover ready` words them: trust through
//! `Trust::verify_server_chain` (system roots and `[tls] extra_ca`), expiry from the parsed leaf, the
//! name through rustls' own matcher (so IP addresses in the certificate count too).

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::cert::{CertInfo, utc_date};
use crate::trust::Trust;

/// Judges the server's chain; when it refuses one, [`Verifier::rejection`] says why in words.
#[derive(Debug)]
pub(crate) struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
    rejection: Mutex<Option<String>>,
}

impl Verifier {
    pub fn new(trust: Trust, provider: Arc<CryptoProvider>) -> Verifier {
        Verifier { trust, provider, rejection: Mutex::new(None) }
    }

    /// Why the certificate was refused, if it was.
    pub fn rejection(&self) -> Option<String> {
        self.rejection.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn reject(&self, reason: String, error: CertificateError) -> Result<ServerCertVerified, rustls::Error> {
        *self.rejection.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        Err(rustls::Error::InvalidCertificate(error))
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        let now = UNIX_EPOCH + Duration::from_secs(now.as_secs());
        if let Err(reason) = self.trust.verify_server_chain(&chain, now) {
            return self.reject(format!("certificate not trusted: {reason}"), CertificateError::UnknownIssuer);
        }
        let leaf = match CertInfo::from_der(end_entity) {
            Ok(leaf) => leaf,
            Err(e) => {
                return self.reject(format!("the certificate does not parse: {e}"), CertificateError::BadEncoding);
            }
        };
        if now > leaf.not_after {
            return self.reject(format!("certificate expired on {}", leaf.not_after_date()), CertificateError::Expired);
        }
        if now < leaf.not_before {
            return self.reject(
                format!("certificate not valid yet (from {})", utc_date(leaf.not_before)),
                CertificateError::NotValidYet,
            );
        }
        let parsed = ParsedCertificate::try_from(end_entity)?;
        if rustls::client::verify_server_name(&parsed, server_name).is_err() {
            let name = server_name.to_str();
            let names = if leaf.names.is_empty() { "no DNS names".to_string() } else { leaf.names.join(", ") };
            return self.reject(
                format!("the certificate does not cover {name} (it is for {names})"),
                CertificateError::NotValidForName,
            );
        }
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

//! The order's last step: a certificate request for a fresh key, the chain fetched, and checked
//! to cover every name and to be for that key.

use std::time::Duration;

use cutover_http::cert::{CertInfo, key_matches, parse_chain_pem};
use cutover_remote::Reporter;
use instant_acme::{Order, RetryPolicy};

use super::{Acme, NewPair};
use crate::error::TlsIssueError;
use crate::reuse::covers;

impl Acme<'_> {
    pub(super) fn finalize(
        &self,
        order: &mut Order,
        names: &[String],
        progress: &dyn Reporter,
    ) -> Result<NewPair, TlsIssueError> {
        progress.step(None, "validated; sending the certificate request");
        let plan_err = |e: rcgen::Error| TlsIssueError::Plan(format!("cannot make the certificate request: {e}"));
        let key = rcgen::KeyPair::generate().map_err(plan_err)?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(plan_err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(&key).map_err(plan_err)?;
        self.call("finalizing the order", order.finalize_csr(csr.der()))?;
        let remaining = self.remaining();
        let policy = RetryPolicy::new().initial_delay(Duration::from_millis(250)).backoff(1.5).timeout(remaining);
        let cert = self
            .raw("waiting for the certificate", remaining, order.poll_certificate(&policy))?
            .map_err(|e| self.error("waiting for the certificate", e))?;
        let key = key.serialize_pem();

        let chain = parse_chain_pem(cert.as_bytes()).map_err(|e| TlsIssueError::Certificate(e.to_string()))?;
        let info = CertInfo::from_der(&chain[0]).map_err(|e| TlsIssueError::Certificate(e.to_string()))?;
        let missing: Vec<&str> = names.iter().filter(|n| !covers(&info, n)).map(String::as_str).collect();
        if !missing.is_empty() {
            return Err(TlsIssueError::Certificate(format!("it does not cover {}", missing.join(", "))));
        }
        match key_matches(&chain, key.as_bytes()) {
            Ok(true) => {}
            Ok(false) => return Err(TlsIssueError::Certificate("it is not for the key that was sent".into())),
            Err(e) => return Err(TlsIssueError::Certificate(e.to_string())),
        }
        progress.step(None, &format!("issued: {} until {}", info.names.join(", "), info.not_after_date()));
        Ok(NewPair { cert, key, info })
    }
}

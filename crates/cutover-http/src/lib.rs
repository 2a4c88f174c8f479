//! The HTTP client and what it trusts: [`Trust`], certificates, their verifiers, one bounded exchange.
//!
//! - [`Trust`]: the roots a certificate is judged against (system, Cloudflare's Origin CA,
//!   `[tls] extra_ca`); [`chain`] words why a chain is not trusted; [`cert`] reads certificates
//!   and keys.
//! - [`client`]: one request and its response, straight to a host's address with the public name
//!   as SNI when asked ([`Via`]), under one deadline, with the body counted and capped; a request
//!   that gets no usable answer fails with a [`Failure`] kind and a reason. Our own connect
//!   (resolve, TCP, rustls with our verifier), hyper's `client::conn::http1` for the framing.
//! - [`head`]: `GET /` for a response head over a connection the caller opened (the
//!   readiness checks' redirect and HSTS).
//! - [`text`]: how I/O errors are said in those reasons.

pub mod cert;
pub mod chain;
pub mod client;
mod connect;
mod failure;
pub mod head;
mod response;
pub mod text;
mod trust;
mod verifier;
mod wire;

pub use cert::TlsError;
pub use failure::{Failure, Via};
pub use response::{Body, ResponseHead};
pub use trust::{CLOUDFLARE_ORIGIN_ROOTS_PEM, Trust};
pub use url::Url;

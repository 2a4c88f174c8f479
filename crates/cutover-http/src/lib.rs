//! The HTTP client and what it trusts: [`Trust`], certificates, their verifiers, one bounded exchange.
//!
//! - [`Trust`]: the roots a certificate is judged against (system, Cloudflare's Origin CA,
//!   `[tls] extra_ca`); [`chain`] words why a chain is not trusted; [`cert`] reads certificates
//!   and keys.
//! - [`client`]: one request and its response, straight to a host's address with the public name
//!   as SNI when asked ([`Via`]), under one deadline, with the body counted and capped; a request
//!   that gets no usable answer fails with a [`Failure`] kind and a reason.
//! - [`text`]: how durations, sizes and I/O errors are said in those reasons.

pub mod cert;
pub mod chain;
pub mod client;
mod failure;
pub mod head;
mod response;
pub mod text;
mod trust;
mod verifier;

pub use failure::{Failure, Via};
pub use response::Body;
pub use trust::{CLOUDFLARE_ORIGIN_ROOTS_PEM, TlsError, Trust};
pub use url::Url;

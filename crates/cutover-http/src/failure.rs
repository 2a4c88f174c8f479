//! How a request reaches a site ([`Via`]: through the public name, or straight to one host's
//! address) and why one failed ([`Failure`], from the network up, which the monitor uses to tell a
//! dead network from a dead site).

use std::fmt;
use std::net::IpAddr;

/// How a check reaches the site: through the public URL as anyone would, or straight to one
/// host's address with the URL's name as SNI and `Host` (`every_host = true`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// `public`, or the host's name in the config.
    pub label: String,
    /// `None`: resolve the URL's host with the system resolver. `Some`: connect to this address
    /// (at the URL's port) while the URL's host name is still the SNI and the `Host` header; a
    /// redirect to another host name is resolved normally.
    pub addr: Option<IpAddr>,
}

impl Via {
    /// The public URL, resolved normally; labelled `public`.
    pub fn public() -> Via {
        Via { label: "public".into(), addr: None }
    }

    /// Straight to `addr`, labelled with the host's name.
    pub fn host(label: impl Into<String>, addr: IpAddr) -> Via {
        Via { label: label.into(), addr: Some(addr) }
    }
}

/// Why a sample failed, from the network up. Only [`Failure::Dns`] and [`Failure::Unreachable`]
/// happen without any answer from the far side (see [`Failure::is_local_network`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The name did not resolve: no such name, or no answer from the resolver in time.
    Dns,
    /// No connection and no answer to the attempt: network or host unreachable, or the
    /// connection attempt timed out.
    Unreachable,
    /// The host's machine answered the connection attempt with a refusal or a reset.
    Connect,
    /// The TLS handshake failed: the certificate (untrusted, expired, for another name), an
    /// alert, not TLS at all.
    Tls,
    /// Connected, but the response (head or body) did not complete within the check's timeout.
    Timeout,
    /// An answer that is not a usable HTTP/1.x response (or the connection closed mid-way), a
    /// bad redirect `Location`, or a check that cannot be sent as written.
    Protocol,
    /// The body is larger than the check's `max_body`; reading stopped there.
    TooLarge,
    /// A status outside `expect_status`, or more redirects than allowed.
    Status,
    /// A body condition failed: `body_contains`, `body_not_contains`, `body_regex` or `complete`.
    Body,
    /// Slower than `max_latency`.
    Latency,
}

impl Failure {
    pub const ALL: [Failure; 10] = [
        Failure::Dns,
        Failure::Unreachable,
        Failure::Connect,
        Failure::Tls,
        Failure::Timeout,
        Failure::Protocol,
        Failure::TooLarge,
        Failure::Status,
        Failure::Body,
        Failure::Latency,
    ];

    /// A short lowercase name, stable for storage: `dns`, `unreachable`, `connect`, `tls`,
    /// `timeout`, `protocol`, `too-large`, `status`, `body`, `latency`.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::Dns => "dns",
            Failure::Unreachable => "unreachable",
            Failure::Connect => "connect",
            Failure::Tls => "tls",
            Failure::Timeout => "timeout",
            Failure::Protocol => "protocol",
            Failure::TooLarge => "too-large",
            Failure::Status => "status",
            Failure::Body => "body",
            Failure::Latency => "latency",
        }
    }

    /// The failure named by [`Failure::as_str`].
    pub fn parse(name: &str) -> Option<Failure> {
        Failure::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Whether the request never got an answer from anywhere beyond this machine: the name did
    /// not resolve, or no connection could be made and nothing refused it. One such sample says
    /// little (the site's DNS or its hosts may be gone); when every sample of a round fails this
    /// way, across the public URL and every host, the operator's own network is the likely
    /// cause and the monitor should pause its verdict rather than roll back. A refused
    /// connection is not local: the host's machine answered.
    pub fn is_local_network(self) -> bool {
        matches!(self, Failure::Dns | Failure::Unreachable)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_names_round_trip() {
        for f in Failure::ALL {
            assert_eq!(Failure::parse(f.as_str()), Some(f));
        }
        assert_eq!(Failure::parse("nope"), None);
        let local: Vec<_> = Failure::ALL.into_iter().filter(|f| f.is_local_network()).collect();
        assert_eq!(local, [Failure::Dns, Failure::Unreachable]);
    }
}

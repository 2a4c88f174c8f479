//! `[dns]`: which servers `cutover ready` asks, and for how long.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Deserializer};

use crate::HumanDuration;

/// `[dns]`: how `cutover ready` asks DNS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// Ask only these servers (`IP` or `IP:PORT`), for split-horizon DNS; by default the
    /// system's resolvers and every authoritative server of each name are asked.
    #[serde(default)]
    pub resolvers: Vec<Resolver>,
    #[serde(default = "default_dns_timeout")]
    pub timeout: HumanDuration,
}

impl Default for Dns {
    fn default() -> Self {
        Self { resolvers: Vec::new(), timeout: default_dns_timeout() }
    }
}

fn default_dns_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(3))
}

/// A DNS server address: `IP` (port 53), `IP:PORT` or `[IPv6]:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolver(pub SocketAddr);

impl<'de> Deserialize<'de> for Resolver {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<SocketAddr>()
            .or_else(|_| text.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
            .map(Self)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a DNS server address (IP or IP:PORT)")))
    }
}

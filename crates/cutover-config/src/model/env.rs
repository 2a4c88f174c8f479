//! `[env.NAME]`: an environment's hosts, deploy path, public URL and names, and where those names
//! must resolve.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

use crate::{DeployPath, HostSpec};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub url: Option<AppUrl>,
    /// More names the environment answers to (`www.…`): checked by `cutover ready` and put on
    /// the certificate by `cutover tls issue`.
    #[serde(default)]
    pub aliases: Vec<DnsName>,
    pub hosts: Spanned<Vec<HostSpec>>,
    pub path: DeployPath,
    /// The addresses the names must resolve to, when they are not the hosts' own addresses (a
    /// load balancer, a NAT). Default: what `ssh -G` resolves each host to.
    #[serde(default)]
    pub expect_ips: Vec<IpAddr>,
    /// A proxy in front of the hosts: the names resolve to its addresses instead.
    pub proxy: Option<Proxy>,
    /// The committed `.env` template (placeholders only), rendered into each host's `shared/`
    /// on deploy. Relative to the config file.
    pub env_template: Option<PathBuf>,
}

impl Environment {
    pub fn hosts(&self) -> &[HostSpec] {
        self.hosts.get_ref()
    }

    /// The public names: the host of `url`, then the aliases, without repeats.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.url.iter().map(|u| u.host().to_owned()).collect();
        for alias in &self.aliases {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(alias.as_str())) {
                names.push(alias.as_str().to_owned());
            }
        }
        names
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proxy {
    Cloudflare,
}

pub(crate) type Environments = BTreeMap<String, Spanned<Environment>>;

validated_string!(
    /// An `http://` or `https://` URL with a host.
    AppUrl,
    |s| {
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !s.contains(char::is_whitespace) => Ok(()),
            _ => Err(format!("`{s}` is not an http:// or https:// URL with a host")),
        }
    }
);

impl AppUrl {
    /// The host part: `https://user@Shop.Example:8443/x` → `shop.example`.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host_port.starts_with('[') {
            return host_port.split_once(']').map_or(host_port, |(h, _)| &h[1..]);
        }
        host_port.split_once(':').map_or(host_port, |(h, _)| h)
    }
}

validated_string!(
    /// A DNS name: labels of letters, digits and `-`, at most 253 characters, an optional
    /// leading `*.` for a wildcard.
    DnsName,
    |s| {
        let body = s.strip_prefix("*.").unwrap_or(s).trim_end_matches('.');
        let ok = !body.is_empty()
            && body.len() <= 253
            && body.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if ok { Ok(()) } else { Err(format!("`{s}` is not a DNS name")) }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_host_drops_scheme_user_port_and_path() {
        let host = |s: &str| AppUrl(s.to_owned()).host().to_owned();
        assert_eq!(host("https://shop.example"), "shop.example");
        assert_eq!(host("https://user@shop.example:8443/x?y"), "shop.example");
        assert_eq!(host("http://[2001:db8::1]:8080/"), "2001:db8::1");
    }
}

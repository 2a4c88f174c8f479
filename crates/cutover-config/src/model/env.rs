//! `[env.NAME]`: an environment's hosts, deploy path, public URL and names, and where those names
//! must resolve.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

use crate::{DatabaseSpec, DeployPath, HostSpec};

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
    /// Whether `deploy` and `promote` need the gates (a launch path, pre-flight, DNS/TLS ready)
    /// first. Default: true for the environment named `production`, false for any other.
    pub gated: Option<bool>,
    /// Where the environment's database is (`mysql://…`, `postgres://…`, `sqlite:///…`, or
    /// `"env"`: read from the rendered `.env`).
    pub database: Option<DatabaseSpec>,
    /// The host whose client tools dump, load and snapshot the database, and where `[hooks]
    /// migrate` runs. Default: the first host; `local` allowed.
    pub db_host: Option<HostSpec>,
}

impl Environment {
    pub fn hosts(&self) -> &[HostSpec] {
        self.hosts.get_ref()
    }

    /// The host that runs the database's client tools: `db_host`, else the first host.
    pub fn db_host(&self) -> &HostSpec {
        self.db_host.as_ref().unwrap_or(&self.hosts()[0])
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
        let host_port = self.host_port();
        if host_port.starts_with('[') {
            return host_port.split_once(']').map_or(host_port, |(h, _)| &h[1..]);
        }
        host_port.split_once(':').map_or(host_port, |(h, _)| h)
    }

    /// The port the URL names, if it names one: `https://shop.example:8443/` → `8443`.
    pub fn port(&self) -> Option<u16> {
        let host_port = self.host_port();
        let port = match host_port.strip_prefix('[') {
            Some(v6) => v6.split_once(']')?.1.strip_prefix(':')?,
            None => host_port.split_once(':')?.1,
        };
        port.parse().ok()
    }

    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.0.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }

    /// `user@host:port` without the user: `host:port`.
    fn host_port(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        authority.rsplit_once('@').map_or(authority, |(_, h)| h)
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
        let port = |s: &str| AppUrl(s.to_owned()).port();
        assert_eq!(port("https://user@shop.example:8443/x?y"), Some(8443));
        assert_eq!(port("https://shop.example/x:1"), None);
        assert_eq!(port("http://[2001:db8::1]:8080/"), Some(8080));
        assert_eq!(port("http://[2001:db8::1]/"), None);
        assert_eq!(port("https://10.0.0.5"), None);
        assert!(AppUrl("HTTPS://a.example".into()).is_https() && !AppUrl("http://a.example".into()).is_https());
    }
}

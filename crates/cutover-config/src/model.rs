//! The validated sections of `cutover.toml`. Every field's type checks its own value.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

use crate::{DeployPath, HostSpec, HumanDuration, Preset};

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                let check: fn(&str) -> Result<(), String> = $check;
                check(&text).map_err(serde::de::Error::custom)?;
                Ok(Self(text))
            }
        }
    };
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub name: AppName,
    #[serde(default)]
    pub preset: Preset,
    /// The directory that is released; relative paths resolve against the config file's directory.
    #[serde(default = "dot")]
    pub source: PathBuf,
    /// Run locally in `source` (with `sh -c`) before the manifest is made.
    pub build: Option<String>,
    /// Glob patterns of files never uploaded. A trailing `/` names a directory and all below it;
    /// a pattern without `/` matches a name at any depth.
    #[serde(default)]
    pub exclude: Vec<Exclude>,
    /// Paths that outlive releases, kept in `shared/` and linked into each release.
    #[serde(default = "no_shared")]
    pub shared: Spanned<Vec<SharedPath>>,
    #[serde(default)]
    pub keep_releases: KeepReleases,
    /// How a release gets the files unchanged since the host's current release: `link` (hard
    /// links: no copy, but a file written in place changes in every release sharing it) or `copy`
    /// (a copy on the host, a reflink where the filesystem has them).
    #[serde(default)]
    pub unchanged: Unchanged,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unchanged {
    #[default]
    Link,
    Copy,
}

fn no_shared() -> Spanned<Vec<SharedPath>> {
    Spanned::new(0..0, Vec::new())
}

impl App {
    pub fn shared(&self) -> &[SharedPath] {
        self.shared.get_ref()
    }
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub before_switch: Vec<String>,
    #[serde(default)]
    pub after_switch: Vec<String>,
    #[serde(default)]
    pub after_rollback: Vec<String>,
}

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

/// `[secrets]`: where secret values come from and which ones `cutover secrets rotate` makes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    #[serde(default)]
    pub provider: ProviderKind,
    /// The age vault (provider `vault`); relative to the config file.
    #[serde(default = "default_vault")]
    pub vault: PathBuf,
    /// More `age1…` recipients the vault is encrypted to (teammates), besides your identity.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Provider `command`: run with `sh -c`, `{env}` and `{name}` replaced; stdout is the value.
    pub command: Option<String>,
    #[serde(default = "default_secrets_timeout")]
    pub timeout: HumanDuration,
    /// How `cutover secrets rotate` makes a new value: `app-key` (Laravel), `password` (32
    /// characters), `password:N`, `hex:N` (N random bytes).
    #[serde(default)]
    pub generate: BTreeMap<String, Generator>,
}

impl Default for Secrets {
    fn default() -> Self {
        Self {
            provider: ProviderKind::default(),
            vault: default_vault(),
            recipients: Vec::new(),
            command: None,
            timeout: default_secrets_timeout(),
            generate: BTreeMap::new(),
        }
    }
}

fn default_vault() -> PathBuf {
    PathBuf::from(".cutover/vault.age")
}

fn default_secrets_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    #[default]
    Vault,
    Env,
    Command,
}

/// How a secret's new value is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// Laravel's `APP_KEY`: `base64:` and 32 random bytes.
    AppKey,
    /// Random letters and digits, this many.
    Password(usize),
    /// This many random bytes, hex-encoded.
    Hex(usize),
}

impl<'de> Deserialize<'de> for Generator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let count = |n: &str| n.parse::<usize>().ok().filter(|n| (16..=256).contains(n));
        let parsed = match text.split_once(':') {
            None if text == "app-key" => Some(Self::AppKey),
            None if text == "password" => Some(Self::Password(32)),
            Some(("password", n)) => count(n).map(Self::Password),
            Some(("hex", n)) => count(n).map(Self::Hex),
            _ => None,
        };
        parsed.ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a generator: use `app-key`, `password`, `password:N` or `hex:N` (N from 16 to 256)"
            ))
        })
    }
}

/// One `[[check]]`: an HTTP request the smoke test and the monitor make, and what it must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    /// `/path` (relative to the environment's `url`) or an absolute `http(s)://` URL.
    pub url: CheckUrl,
    #[serde(default = "default_method")]
    pub method: Method,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Codes and ranges, `"200-399"` (the default), `"200,204,301-308"`.
    #[serde(default = "default_expect_status")]
    pub expect_status: StatusRanges,
    pub body_contains: Option<String>,
    pub body_regex: Option<BodyRegex>,
    pub max_latency: Option<HumanDuration>,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Also check each host directly: connect to its address with the public name for SNI and
    /// `Host`, besides the public URL.
    #[serde(default)]
    pub every_host: bool,
    #[serde(default = "default_check_timeout")]
    pub timeout: HumanDuration,
}

fn default_method() -> Method {
    Method("GET".into())
}

fn default_expect_status() -> StatusRanges {
    StatusRanges("200-399".into())
}

fn default_check_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

fn yes() -> bool {
    true
}

validated_string!(
    /// A check's URL: `/path` or `http(s)://host/…`.
    CheckUrl,
    |s| {
        let ok = s.starts_with('/') || s.starts_with("https://") || s.starts_with("http://");
        if ok && !s.contains(char::is_whitespace) {
            Ok(())
        } else {
            Err(format!("check url `{s}` must start with `/` (relative to the environment's url) or be http(s)://"))
        }
    }
);

validated_string!(
    /// An HTTP method: upper-case letters.
    Method,
    |s| {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err(format!("`{s}` is not an HTTP method (GET, HEAD, POST, …)"))
        }
    }
);

validated_string!(
    /// HTTP status codes and ranges: `200-399`, `200,204,301-308`.
    StatusRanges,
    |s| {
        let part_ok = |p: &str| {
            let code = |c: &str| c.trim().parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            match p.split_once('-') {
                Some((a, b)) => matches!((code(a), code(b)), (Some(a), Some(b)) if a <= b),
                None => code(p).is_some(),
            }
        };
        if !s.is_empty() && s.split(',').all(part_ok) {
            Ok(())
        } else {
            Err(format!("`{s}` is not a list of status codes and ranges (e.g. \"200-399\" or \"200,301-308\")"))
        }
    }
);

validated_string!(
    /// A regular expression the body must match.
    BodyRegex,
    |s| regex::Regex::new(s).map(|_| ()).map_err(|e| format!("body_regex: {e}"))
);

/// `[smoke]`: when the smoke checks run by themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    /// Run the checks right after every deploy's switch; a failure rolls the deploy back.
    #[serde(default = "yes")]
    pub after_deploy: bool,
}

impl Default for Smoke {
    fn default() -> Self {
        Self { after_deploy: true }
    }
}

/// `[monitor]`: the watch after go-live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// k6 thresholds by metric: `http_req_failed = "rate<0.01"`, `http_req_duration = "p(95)<800"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, String>,
    /// Thresholds are judged over the samples of this last stretch of time…
    #[serde(default = "default_sliding")]
    pub sliding_window: HumanDuration,
    /// …once it holds at least this many samples: one slow answer among five is not a trend.
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
    /// How many failed rounds are tolerated (Argo Rollouts' `failureLimit`): one more is a breach.
    #[serde(default = "default_failure_limit")]
    pub failure_limit: u32,
    /// Rounds in a row that could not measure anything (every check failing to connect) before
    /// it alerts (Argo Rollouts' `consecutiveErrorLimit`); such rounds never roll back.
    #[serde(default = "default_consecutive_errors")]
    pub consecutive_errors: u32,
    #[serde(default)]
    pub on_fail: OnFail,
    /// `slack:URL`, `discord:URL`, `webhook:URL`, `mailto:ADDRESS`.
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Default for Monitor {
    fn default() -> Self {
        Self {
            window: default_window(),
            interval: default_interval(),
            thresholds: BTreeMap::new(),
            sliding_window: default_sliding(),
            min_samples: default_min_samples(),
            failure_limit: default_failure_limit(),
            consecutive_errors: default_consecutive_errors(),
            on_fail: OnFail::default(),
            notify: Vec::new(),
        }
    }
}

fn default_window() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(48 * 3600))
}

fn default_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}

fn default_sliding() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(600))
}

fn default_min_samples() -> u32 {
    30
}

fn default_failure_limit() -> u32 {
    3
}

fn default_consecutive_errors() -> u32 {
    4
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFail {
    #[default]
    Rollback,
    Alert,
}

/// `[smtp]`: how `mailto:` notifications are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub from: String,
    pub username: Option<String>,
    /// The name of the secret (from `[secrets]`) holding the password; never the password.
    pub password_secret: Option<String>,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default = "default_smtp_timeout")]
    pub timeout: HumanDuration,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

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

/// `[tls]`: what `cutover ready` accepts and where `cutover tls issue` puts certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file of CAs trusted besides the system's roots (a private CA, a test CA); also trusted
    /// for the ACME directory's HTTPS. Relative to the config file.
    pub extra_ca: Option<PathBuf>,
    /// The directory on each host the web server serves at `/`, for ACME HTTP-01 challenges.
    pub webroot: Option<DeployPath>,
    /// Where the certificate chain (PEM) and its key live on each host.
    pub cert: Option<DeployPath>,
    pub key: Option<DeployPath>,
    /// Run on each host after a certificate is installed, e.g. `sudo systemctl reload nginx`.
    pub reload: Option<String>,
    /// Run locally to publish (and remove) a DNS-01 TXT record; see `cutover tls issue --help`.
    pub dns_hook: Option<String>,
    /// The ACME account's contact address.
    pub email: Option<String>,
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    #[serde(default = "default_fail_days")]
    pub fail_days: u32,
    /// The ports the hosts serve HTTPS and HTTP on (as seen from here).
    #[serde(default = "default_https_port")]
    pub https_port: u16,
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    #[serde(default = "default_tls_timeout")]
    pub timeout: HumanDuration,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            extra_ca: None,
            webroot: None,
            cert: None,
            key: None,
            reload: None,
            dns_hook: None,
            email: None,
            warn_days: default_warn_days(),
            fail_days: default_fail_days(),
            https_port: default_https_port(),
            http_port: default_http_port(),
            timeout: default_tls_timeout(),
        }
    }
}

fn default_warn_days() -> u32 {
    30
}

fn default_fail_days() -> u32 {
    7
}

fn default_https_port() -> u16 {
    443
}

fn default_http_port() -> u16 {
    80
}

fn default_tls_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// Passed to every ssh invocation as `-F FILE`.
    pub config: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// How long each host's connection stays open after a command, so the next one (a
    /// rollback) needs no new SSH handshake. `"0s"` closes connections when cutover exits.
    #[serde(default = "default_persist")]
    pub persist: HumanDuration,
}

impl Default for Ssh {
    fn default() -> Self {
        Self { config: None, connect_timeout: default_connect_timeout(), persist: default_persist() }
    }
}

fn default_persist() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

pub(crate) type Environments = BTreeMap<String, Spanned<Environment>>;

validated_string!(
    /// An app name: letters, digits, `.`, `_`, `-`.
    AppName,
    |s| {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(format!("app name `{s}` may use only letters, digits, `.`, `_` and `-`"));
        }
        Ok(())
    }
);

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

validated_string!(
    /// A glob pattern of files to leave out of a release.
    Exclude,
    |s| {
        globset::Glob::new(s.trim_end_matches('/'))
            .map(|_| ())
            .map_err(|e| format!("invalid exclude pattern `{s}`: {e}"))
    }
);

/// A path inside a release that lives in `shared/` instead. `storage/` is a directory, `.env` a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPath {
    pub path: String,
    pub is_dir: bool,
}

impl<'de> Deserialize<'de> for SharedPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let path = text.trim_end_matches('/');
        let bad = path.is_empty()
            || text.starts_with('/')
            || path.split('/').any(|p| p.is_empty() || p == "." || p == "..")
            || path.chars().any(|c| c.is_control());
        if bad {
            return Err(serde::de::Error::custom(format!(
                "shared path `{text}` must be relative to the release, without `.` or `..`"
            )));
        }
        Ok(Self { path: path.to_owned(), is_dir: text.ends_with('/') })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepReleases(pub u32);

impl Default for KeepReleases {
    fn default() -> Self {
        Self(5)
    }
}

impl<'de> Deserialize<'de> for KeepReleases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if !(2..=1000).contains(&n) {
            return Err(serde::de::Error::custom(format!(
                "keep_releases is {n}; it must be between 2 and 1000 so a rollback target always remains"
            )));
        }
        Ok(Self(n as u32))
    }
}

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

//! Where a release goes: a host (`local`, or anything `ssh` accepts) and a deploy path on it.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A host of an environment, as written in `hosts = [...]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostSpec {
    /// This machine, without SSH.
    Local,
    /// A destination handed to `ssh` unchanged: an alias from ssh config, `user@host`, or
    /// `ssh://user@host:port`, so the user's ssh config applies exactly as in a terminal.
    Ssh(String),
}

impl HostSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "local" {
            return Ok(Self::Local);
        }
        if text.is_empty() {
            return Err("a host cannot be empty".into());
        }
        if text.starts_with('-') {
            return Err(format!("host `{text}` starts with `-`, which ssh would read as an option"));
        }
        if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("host `{text}` contains {c:?}"));
        }
        if let Some(rest) = text.strip_prefix("ssh://") {
            let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            if host_port.is_empty() || host_port.starts_with(':') {
                return Err(format!("host `{text}` has no host name"));
            }
            if host_port.contains('/') {
                return Err(format!("host `{text}` has a path; ssh destinations take none"));
            }
            if let Some((_, port)) = host_port.rsplit_once(':').filter(|_| !host_port.ends_with(']')) {
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("host `{text}` has an invalid port `{port}`"))?;
            }
        } else if text.contains("://") {
            return Err(format!("host `{text}`: only `ssh://` URLs are supported"));
        }
        Ok(Self::Ssh(text.to_owned()))
    }
}

impl fmt::Display for HostSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Ssh(dest) => f.write_str(dest),
        }
    }
}

impl<'de> Deserialize<'de> for HostSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The deploy path on a host: absolute, or `~/…` for the SSH user's home (shared hosting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployPath {
    Absolute(String),
    /// Relative to `$HOME`; holds the part after `~/`.
    Home(String),
}

impl DeployPath {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().any(|c| c.is_control()) {
            return Err(format!("path {text:?} contains a control character"));
        }
        let (absolute, rest) = if let Some(rest) = text.strip_prefix("~/") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix('/') {
            (true, rest)
        } else {
            return Err(format!("path `{text}` must be absolute or start with `~/`"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() {
            return Err(format!("path `{text}` is a whole home or root directory; name a folder in it"));
        }
        if rest.split('/').any(|part| part == ".." || part == "." || part.is_empty()) {
            return Err(format!("path `{text}` must not contain `.`, `..` or `//`"));
        }
        Ok(if absolute { Self::Absolute(format!("/{rest}")) } else { Self::Home(rest.to_owned()) })
    }
}

impl fmt::Display for DeployPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absolute(p) => f.write_str(p),
            Self::Home(p) => write!(f, "~/{p}"),
        }
    }
}

impl<'de> Deserialize<'de> for DeployPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_form_ssh_takes() {
        for text in ["web1", "deploy@web1", "ssh://deploy@10.0.0.2:2222", "ssh://web1", "ssh://u@[::1]"] {
            assert_eq!(HostSpec::parse(text).unwrap(), HostSpec::Ssh(text.into()), "{text}");
        }
        assert_eq!(HostSpec::parse("local").unwrap(), HostSpec::Local);
    }

    #[test]
    fn rejects_hosts_that_would_be_options_or_broken() {
        for (text, why) in [
            ("", "cannot be empty"),
            ("-oProxyCommand=x", "starts with `-`, which ssh would read as an option"),
            ("a b", "contains ' '"),
            ("ssh://u@h:99999", "invalid port `99999`"),
            ("ssh://u@h:0", "invalid port `0`"),
            ("ssh://@", "has no host name"),
            ("http://x", "only `ssh://` URLs are supported"),
            ("ssh://h/path", "has a path"),
        ] {
            let err = HostSpec::parse(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn deploy_paths_are_absolute_or_home_relative() {
        assert_eq!(DeployPath::parse("~/app").unwrap(), DeployPath::Home("app".into()));
        assert_eq!(DeployPath::parse("/srv/app/").unwrap(), DeployPath::Absolute("/srv/app".into()));
        assert_eq!(DeployPath::parse("~/sites/a").unwrap().to_string(), "~/sites/a");
        for (text, why) in [
            ("app", "must be absolute or start with `~/`"),
            ("/", "whole home or root directory"),
            ("~/", "whole home or root directory"),
            ("/srv/../etc", "must not contain `.`, `..` or `//`"),
            ("/srv//app", "must not contain `.`, `..` or `//`"),
            ("~user/app", "must be absolute or start with `~/`"),
            ("/srv/a\nb", "contains a control character"),
        ] {
            let err = DeployPath::parse(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }
}

//! The checks a stage runs and where: each `[[check]]` made absolute against the environment's
//! URL, through the public URL, and straight to each host for `every_host` checks.

use cutover_checks::smoke::{self, Check, Regex, Sample, StatusSet};
use cutover_config::{CheckSpec, Config};
use cutover_http::{Trust, Url, Via};

use crate::GateError;

/// The checks to run and where: the public URL, and each host for `every_host` checks.
#[derive(Debug)]
pub struct Plan {
    checks: Vec<Check>,
    hosts: Vec<Via>,
    trust: Trust,
}

impl Plan {
    /// Whether a check goes to each host directly, so the hosts' addresses are needed.
    pub fn wants_hosts(config: &Config) -> bool {
        config.checks.iter().any(|c| c.every_host)
    }

    /// The config's checks for environment `env`, judged against `trust`; `hosts` are where the
    /// `every_host` checks go (each host's label and address; empty when none needs them).
    pub fn new(config: &Config, env: &str, trust: Trust, hosts: Vec<Via>) -> Result<Self, GateError> {
        Self::of(&config.checks, config, env, trust, hosts)
    }

    /// `specs` (the config's `[[check]]`s, or pre-flight's own) for environment `env`.
    pub fn of(
        specs: &[CheckSpec],
        config: &Config,
        env: &str,
        trust: Trust,
        hosts: Vec<Via>,
    ) -> Result<Self, GateError> {
        let environment = config.env(env)?;
        let base = environment
            .url
            .as_ref()
            .map(|u| Url::parse(u.as_str()))
            .transpose()
            .map_err(|e| GateError::Url { env: env.to_owned(), reason: e.to_string() })?;
        let checks = specs.iter().map(|spec| check(spec, base.as_ref(), env)).collect::<Result<_, _>>()?;
        Ok(Self { checks, hosts, trust })
    }

    /// Every check on every target at once; results in the plan's order.
    pub fn run(&self) -> Vec<Sample> {
        smoke::run_all(&self.checks, &self.hosts, &self.trust)
    }

    /// The roots the checks judge certificates against.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// How many samples a run gives.
    pub fn len(&self) -> usize {
        self.checks.iter().map(|c| if c.every_host { 1 + self.hosts.len() } else { 1 }).sum()
    }

    /// Whether a run gives no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn check(spec: &CheckSpec, base: Option<&Url>, env: &str) -> Result<Check, GateError> {
    let bad = |reason: String| GateError::Check { check: spec.name.clone(), reason };
    let url = match base {
        Some(base) => smoke::check_url(base, spec.url.as_str()),
        None if spec.url.as_str().starts_with('/') => {
            return Err(bad(format!("the url is relative, and environment `{env}` has no `url`")));
        }
        None => Url::parse(spec.url.as_str()).map_err(|e| e.to_string()),
    }
    .map_err(bad)?;
    let mut check = Check::new(spec.name.clone(), url);
    check.method = spec.method.as_str().to_owned();
    check.headers = spec.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    check.expect_status = StatusSet::parse(spec.expect_status.as_str()).map_err(bad)?;
    check.body_contains = spec.body_contains.0.clone();
    check.body_not_contains = spec.body_not_contains.0.clone();
    check.body_regex =
        spec.body_regex.as_ref().map(|r| Regex::new(r.as_str())).transpose().map_err(|e| bad(e.to_string()))?;
    check.complete = spec.complete;
    check.max_latency = spec.max_latency.map(|d| d.0);
    check.follow_redirects = spec.follow_redirects;
    check.every_host = spec.every_host;
    check.timeout = spec.timeout.0;
    check.validate().map_err(bad)?;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cutover.toml");
        std::fs::write(&path, format!("version = 1\n[app]\nname = \"t\"\nsource = \".\"\n{text}")).unwrap();
        let config = Config::load(&path).unwrap();
        (dir, config)
    }

    fn trust() -> Trust {
        Trust::load(None).unwrap()
    }

    #[test]
    fn a_relative_check_goes_to_the_environments_url_and_every_host_check_to_each_host() {
        let (_dir, config) = config(
            "[env.production]\nurl = \"https://example.test\"\nhosts = [\"local\"]\npath = \"/srv/app\"\n\
             [[check]]\nname = \"home\"\nurl = \"/\"\n\
             [[check]]\nname = \"health\"\nurl = \"/up\"\nevery_host = true\n",
        );
        assert!(Plan::wants_hosts(&config));
        let hosts =
            vec![Via::host("web1", IpAddr::from([127, 0, 0, 1])), Via::host("web2", IpAddr::from([127, 0, 0, 2]))];
        let plan = Plan::new(&config, "production", trust(), hosts).unwrap();
        assert_eq!(plan.checks[1].url.as_str(), "https://example.test/up");
        // `home` once; `health` through the public URL and each of the two hosts.
        assert_eq!(plan.len(), 4);
    }

    #[test]
    fn a_relative_check_without_an_environment_url_is_a_check_error_naming_the_check() {
        let (_dir, config) = config(
            "[env.production]\nhosts = [\"local\"]\npath = \"/srv/app\"\n[[check]]\nname = \"home\"\nurl = \"/\"\n",
        );
        assert!(!Plan::wants_hosts(&config));
        let err = Plan::new(&config, "production", trust(), Vec::new()).unwrap_err();
        assert!(matches!(&err, GateError::Check { check, .. } if check == "home"), "{err:?}");
        assert_eq!(err.to_string(), "check `home`: the url is relative, and environment `production` has no `url`");
    }

    #[test]
    fn every_body_condition_goes_into_the_check() {
        let (_dir, config) = config(
            "[env.production]\nurl = \"https://example.test\"\nhosts = [\"local\"]\npath = \"/srv/app\"\n\
             [[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = [\"Shop\", \"</footer>\"]\n\
             body_not_contains = \"Fatal error\"\nbody_regex = \"v[0-9]+\"\ncomplete = true\n",
        );
        let plan = Plan::new(&config, "production", trust(), Vec::new()).unwrap();
        let check = &plan.checks[0];
        assert_eq!(check.body_contains, ["Shop", "</footer>"]);
        assert_eq!(check.body_not_contains, ["Fatal error"]);
        assert_eq!(check.body_regex.as_ref().map(|r| r.as_str()), Some("v[0-9]+"));
        assert!(check.complete);
    }

    #[test]
    fn an_unknown_environment_is_a_config_error() {
        let (_dir, config) = config(
            "[env.production]\nhosts = [\"local\"]\npath = \"/srv/app\"\n[[check]]\nname = \"home\"\nurl = \"/\"\n",
        );
        let err = Plan::new(&config, "staging", trust(), Vec::new()).unwrap_err();
        assert!(matches!(err, GateError::Config(_)), "{err:?}");
    }
}

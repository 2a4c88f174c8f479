//! Reading `cutover.toml` into a [`Config`], with every error pointing at `file:line:col`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_spanned::Spanned;

use crate::model::Environments;
use crate::{
    App, CheckSpec, ConfigError, Dns, Environment, Gates, Hooks, Monitor, Preflight, ProviderKind, Report, Secrets,
    Seed, Smoke, Smtp, Ssh, Tls,
};

pub const DEFAULT_FILE: &str = "cutover.toml";

/// A validated config. Relative paths in it are already resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// BLAKE3 of the file's bytes: gates recorded for one config do not count for another.
    pub hash: String,
    pub app: App,
    pub hooks: Hooks,
    pub ssh: Ssh,
    pub dns: Dns,
    pub tls: Tls,
    pub secrets: Secrets,
    /// `[[check]]`, in the order written.
    pub checks: Vec<CheckSpec>,
    pub smoke: Smoke,
    pub monitor: Monitor,
    pub smtp: Option<Smtp>,
    pub gates: Gates,
    pub preflight: Preflight,
    pub seed: Seed,
    pub report: Report,
    envs: Environments,
    /// The file's text, for errors found after parsing ([`Config::check_source`]).
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Spanned<i64>,
    app: App,
    #[serde(default)]
    hooks: Hooks,
    #[serde(default)]
    env: Environments,
    #[serde(default)]
    ssh: Ssh,
    #[serde(default)]
    dns: Dns,
    #[serde(default = "no_tls")]
    tls: Spanned<Tls>,
    #[serde(default = "no_secrets")]
    secrets: Spanned<Secrets>,
    #[serde(default, rename = "check")]
    checks: Vec<CheckSpec>,
    #[serde(default)]
    smoke: Smoke,
    #[serde(default = "no_monitor")]
    monitor: Spanned<Monitor>,
    smtp: Option<Smtp>,
    #[serde(default)]
    gates: Gates,
    #[serde(default)]
    preflight: Preflight,
    #[serde(default)]
    seed: Seed,
    #[serde(default = "no_report")]
    report: Spanned<Report>,
}

fn no_monitor() -> Spanned<Monitor> {
    Spanned::new(0..0, Monitor::default())
}

fn no_report() -> Spanned<Report> {
    Spanned::new(0..0, Report::default())
}

fn no_secrets() -> Spanned<Secrets> {
    Spanned::new(0..0, Secrets::default())
}

fn no_tls() -> Spanned<Tls> {
    Spanned::new(0..0, Tls::default())
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses `text` as if read from `path` (used for messages and to resolve relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| invalid(path, text, span, message);
        let file: File = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().replace("unknown field", "unknown key");
            invalid(e.span(), message)
        })?;
        if *file.version.get_ref() != 1 {
            return Err(invalid(
                Some(file.version.span()),
                format!("unsupported config version {} (this cutover reads version 1)", file.version.get_ref()),
            ));
        }
        let shared = file.app.shared.get_ref();
        for (i, a) in shared.iter().enumerate() {
            // A shared path inside another would be reached through the other's symlink, and
            // replacing it would delete what lives in `shared/`.
            if let Some(b) = shared[..i].iter().find(|b| {
                a.path == b.path
                    || a.path.starts_with(&format!("{}/", b.path))
                    || b.path.starts_with(&format!("{}/", a.path))
            }) {
                return Err(invalid(
                    Some(file.app.shared.span()),
                    format!("shared paths `{}` and `{}` overlap; list only the outer one", b.path, a.path),
                ));
            }
        }
        for (name, env) in &file.env {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(invalid(
                    Some(env.span()),
                    format!("environment name `{name}` may use only letters, digits, `-` and `_`"),
                ));
            }
            let hosts = &env.get_ref().hosts;
            if hosts.get_ref().is_empty() {
                return Err(invalid(Some(hosts.span()), format!("environment `{name}` has no hosts")));
            }
            for (i, host) in hosts.get_ref().iter().enumerate() {
                if hosts.get_ref()[..i].contains(host) {
                    return Err(invalid(
                        Some(hosts.span()),
                        format!("host `{host}` is listed twice in environment `{name}`"),
                    ));
                }
            }
        }
        let tls_span = file.tls.span();
        let mut tls = file.tls.into_inner();
        if tls.fail_days >= tls.warn_days {
            return Err(invalid(
                Some(tls_span),
                format!("[tls] fail_days ({}) must be below warn_days ({})", tls.fail_days, tls.warn_days),
            ));
        }
        let secrets_span = file.secrets.span();
        let mut secrets = file.secrets.into_inner();
        if secrets.provider == ProviderKind::Command && secrets.command.is_none() {
            return Err(invalid(
                Some(secrets_span),
                "[secrets] provider = \"command\" needs `command`, e.g. `op read op://{env}/{name}/password`".into(),
            ));
        }
        let monitor_span = file.monitor.span();
        let monitor = file.monitor.into_inner();
        for metric in monitor.thresholds.keys() {
            if !["http_req_failed", "http_req_duration"].contains(&metric.as_str()) {
                return Err(invalid(
                    Some(monitor_span.clone()),
                    format!("unknown threshold metric `{metric}`; use http_req_failed or http_req_duration"),
                ));
            }
        }
        if monitor.interval.0.is_zero() || monitor.interval.0 > monitor.window.0 {
            return Err(invalid(
                Some(monitor_span),
                "[monitor] interval must be above zero and within the window".into(),
            ));
        }
        let report_span = file.report.span();
        let mut report = file.report.into_inner();
        if report.notify && monitor.notify.is_empty() {
            return Err(invalid(
                Some(report_span),
                "[report] notify = true attaches the report to the monitor's notifications, but [monitor] notify \
                 names no channel"
                    .into(),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for check in &file.checks {
            if !names.insert(check.name.as_str()) {
                return Err(invalid(None, format!("two [[check]] sections are named `{}`", check.name)));
            }
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &Path| if p.is_absolute() { p.to_owned() } else { dir.join(p) };
        let mut app = file.app;
        app.source = resolve(app.source_written.get_ref());
        let mut ssh = file.ssh;
        ssh.config = ssh.config.as_deref().map(resolve);
        tls.extra_ca = tls.extra_ca.as_deref().map(resolve);
        if secrets.vault_is_default() {
            secrets.legacy_vault = Some(dir.join(".cutover/vault.age"));
        }
        secrets.vault = resolve(&secrets.vault);
        report.dir = resolve(&report.dir);
        let mut envs = file.env;
        for env in envs.values_mut() {
            let env = env.get_mut();
            env.env_template = env.env_template.as_deref().map(resolve);
        }
        Ok(Self {
            path: path.to_owned(),
            hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
            app,
            hooks: file.hooks,
            ssh,
            dns: file.dns,
            tls,
            secrets,
            checks: file.checks,
            smoke: file.smoke,
            monitor,
            smtp: file.smtp,
            gates: file.gates,
            preflight: file.preflight,
            seed: file.seed,
            report,
            envs,
            text: text.to_owned(),
        })
    }

    pub fn env(&self, name: &str) -> Result<&Environment, ConfigError> {
        self.envs.get(name).map(Spanned::get_ref).ok_or_else(|| ConfigError::UnknownEnv {
            name: name.to_owned(),
            path: self.path.clone(),
            defined: if self.envs.is_empty() {
                "none".to_owned()
            } else {
                self.envs.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            },
        })
    }

    /// Whether environment `name` is gated (`[env.X] gated`; default: only `production`).
    pub fn is_gated(&self, name: &str) -> Result<bool, ConfigError> {
        Ok(self.env(name)?.gated.unwrap_or(name == "production"))
    }

    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.envs.keys().map(String::as_str)
    }

    /// That `[app] source` is a directory. Not part of [`Config::load`]: a rollback or a status
    /// needs no source, so only `config check` and the commands that read it ask.
    pub fn check_source(&self) -> Result<(), ConfigError> {
        let written = &self.app.source_written;
        let problem = match std::fs::metadata(&self.app.source) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => "is not a directory".to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_owned(),
            Err(e) => format!("cannot be read: {e}"),
        };
        let span = (written.span() != (0..0)).then(|| written.span());
        Err(invalid(
            &self.path,
            &self.text,
            span,
            format!(
                "source `{}` {problem} (`{}`); it is the directory a deploy uploads",
                written.get_ref().display(),
                std::path::absolute(&self.app.source).unwrap_or_else(|_| self.app.source.clone()).display()
            ),
        ))
    }
}

fn invalid(path: &Path, text: &str, span: Option<Range<usize>>, message: String) -> ConfigError {
    let Some(span) = span else {
        return ConfigError::Invalid { location: path.display().to_string(), message, snippet: None };
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_no = text[..start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    let source_line = &text[line_start..line_end];
    let snippet = format!("{source_line}\n{}^", " ".repeat(col - 1));
    ConfigError::Invalid { location: format!("{}:{line_no}:{col}", path.display()), message, snippet: Some(snippet) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"version = 1
[app]
name = "shop"
shared = ["storage/", ".env"]

[env.production]
url = "https://shop.example"
hosts = ["deploy@web1", "ssh://deploy@10.0.0.2:2222", "local"]
path = "~/shop"

[ssh]
config = "ssh_config"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/app/cutover.toml"), text)
    }

    fn location_and_message(text: &str) -> (String, String) {
        match parse(text).unwrap_err() {
            ConfigError::Invalid { location, message, .. } => (location, message),
            other => panic!("expected an invalid-config error, got {other:?}"),
        }
    }

    #[test]
    fn good_config_resolves_paths_against_its_directory() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.app.source, Path::new("/etc/app/."));
        assert_eq!(config.ssh.config.as_deref(), Some(Path::new("/etc/app/ssh_config")));
        assert_eq!(config.env("production").unwrap().hosts().len(), 3);
        assert_eq!(config.app.shared()[0].path, "storage");
        assert!(config.app.shared()[0].is_dir);
        assert_eq!(config.app.keep_releases.0, 5);
    }

    #[test]
    fn unknown_key_names_the_key_and_its_line_and_column() {
        let text = GOOD.replace("hosts =", "hots =");
        let (location, message) = location_and_message(&text);
        assert_eq!(location, "/etc/app/cutover.toml:8:1");
        assert!(message.starts_with("unknown key `hots`"), "{message}");
    }

    #[test]
    fn bad_value_points_at_the_value() {
        let text = GOOD.replace("path = \"~/shop\"", "path = \"shop\"");
        let (location, message) = location_and_message(&text);
        assert_eq!(location, "/etc/app/cutover.toml:9:8");
        assert!(message.contains("must be absolute or start with `~/`"), "{message}");
    }

    #[test]
    fn wrong_version_and_duplicate_hosts_are_errors_with_spans() {
        let (location, message) = location_and_message(&GOOD.replace("version = 1", "version = 2"));
        assert_eq!(location, "/etc/app/cutover.toml:1:11");
        assert!(message.contains("unsupported config version 2"));
        let (location, message) = location_and_message(&GOOD.replace("\"local\"]", "\"deploy@web1\"]"));
        assert_eq!(location, "/etc/app/cutover.toml:8:9");
        assert!(message.contains("listed twice"));
    }

    #[test]
    fn overlapping_shared_paths_are_refused() {
        let text = GOOD.replace(r#"shared = ["storage/", ".env"]"#, r#"shared = ["storage/", "storage/app/public/"]"#);
        let (location, message) = location_and_message(&text);
        assert_eq!(location, "/etc/app/cutover.toml:4:10");
        assert_eq!(message, "shared paths `storage` and `storage/app/public` overlap; list only the outer one");
    }

    #[test]
    fn unknown_environment_lists_the_defined_ones() {
        let err = parse(GOOD).unwrap().env("staging").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment `staging` is not defined in `/etc/app/cutover.toml` (defined: `production`)"
        );
    }

    #[test]
    fn readiness_settings_parse_and_names_come_from_url_and_aliases() {
        let text = GOOD.replace(
            "path = \"~/shop\"\n",
            "path = \"~/shop\"\naliases = [\"www.shop.example\", \"SHOP.example\"]\nexpect_ips = [\"203.0.113.5\", \"2001:db8::5\"]\nproxy = \"cloudflare\"\n",
        ) + "[dns]\nresolvers = [\"127.0.0.1:5353\", \"10.0.0.53\", \"[::1]:53\"]\ntimeout = \"2s\"\n[tls]\nextra_ca = \"ca.pem\"\ncert = \"/etc/ssl/shop.pem\"\nwarn_days = 20\n";
        let config = parse(&text).unwrap();
        let env = config.env("production").unwrap();
        assert_eq!(env.names(), ["shop.example", "www.shop.example"]);
        assert_eq!(env.expect_ips.len(), 2);
        assert_eq!(env.proxy, Some(crate::Proxy::Cloudflare));
        let resolvers: Vec<String> = config.dns.resolvers.iter().map(|r| r.0.to_string()).collect();
        assert_eq!(resolvers, ["127.0.0.1:5353", "10.0.0.53:53", "[::1]:53"]);
        assert_eq!(config.tls.extra_ca.as_deref(), Some(Path::new("/etc/app/ca.pem")));
        assert_eq!((config.tls.warn_days, config.tls.fail_days, config.tls.https_port), (20, 7, 443));
    }

    #[test]
    fn bad_readiness_settings_are_errors_with_spans() {
        let (location, message) = location_and_message(&format!("{GOOD}[dns]\nresolvers = [\"ns1.example\"]\n"));
        assert_eq!(location, "/etc/app/cutover.toml:14:13");
        assert!(message.contains("`ns1.example` is not a DNS server address"), "{message}");
        let (location, message) = location_and_message(&format!("{GOOD}[tls]\nwarn_days = 5\n"));
        assert_eq!(location, "/etc/app/cutover.toml:13:1");
        assert_eq!(message, "[tls] fail_days (7) must be below warn_days (5)");
        let text = GOOD.replace("path = \"~/shop\"\n", "path = \"~/shop\"\naliases = [\"www shop\"]\n");
        assert!(location_and_message(&text).1.contains("`www shop` is not a DNS name"));
        let text = GOOD.replace("path = \"~/shop\"\n", "path = \"~/shop\"\nproxy = \"fastly\"\n");
        assert!(location_and_message(&text).1.contains("unknown variant `fastly`"));
    }

    #[test]
    fn secrets_settings_parse_resolve_and_are_checked() {
        let text = GOOD
            .replace("path = \"~/shop\"\n", "path = \"~/shop\"\nenv_template = \".env.production.template\"\n")
            + "[secrets]\nprovider = \"vault\"\ngenerate = { APP_KEY = \"app-key\", DB_PASSWORD = \"password:40\" }\n";
        let config = parse(&text).unwrap();
        let env = config.env("production").unwrap();
        assert_eq!(env.env_template.as_deref(), Some(Path::new("/etc/app/.env.production.template")));
        assert_eq!(config.secrets.vault, Path::new("/etc/app/cutover.vault.age"));
        assert_eq!(config.secrets.legacy_vault.as_deref(), Some(Path::new("/etc/app/.cutover/vault.age")));
        let written = parse(&format!("{text}vault = \"secrets/prod.age\"\n")).unwrap();
        assert_eq!(written.secrets.vault, Path::new("/etc/app/secrets/prod.age"));
        assert_eq!(written.secrets.legacy_vault, None, "a vault named in the config is never moved");
        assert_eq!(config.secrets.generate["DB_PASSWORD"], crate::Generator::Password(40));
        let (_, message) = location_and_message(&format!("{GOOD}[secrets]\nprovider = \"command\"\n"));
        assert!(message.contains("needs `command`"), "{message}");
        let (_, message) = location_and_message(&format!("{GOOD}[secrets]\ngenerate = {{ X = \"password:3\" }}\n"));
        assert!(message.contains("is not a generator"), "{message}");
    }

    #[test]
    fn report_settings_default_resolve_and_need_a_channel_to_notify() {
        let config = parse(GOOD).unwrap();
        assert!(!config.report.notify);
        assert_eq!(config.report.dir, Path::new("/etc/app/.cutover/reports"));
        let config = parse(&format!(
            "{GOOD}[monitor]\nnotify = [\"mailto:ops@shop.example\"]\n[report]\nnotify = true\ndir = \"reports\"\n\
             url = \"https://ops.shop.example/reports/\"\n"
        ))
        .unwrap();
        assert!(config.report.notify);
        assert_eq!(config.report.dir, Path::new("/etc/app/reports"));
        assert_eq!(
            config.report.url.unwrap().join("production.html"),
            "https://ops.shop.example/reports/production.html"
        );
        let (location, _) = location_and_message(&format!("{GOOD}[report]\nnotify = true\n"));
        let line = GOOD.lines().count() + 1;
        assert!(location.contains(&format!("cutover.toml:{line}:")), "the error points at [report]: {location}");
    }

    #[test]
    fn checks_smoke_and_monitor_parse_with_defaults_and_bad_values_are_refused() {
        let text = format!(
            "{GOOD}[[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = \"Shop\"\nevery_host = true\n\
             [[check]]\nname = \"api\"\nurl = \"https://api.shop.example/health\"\nexpect_status = \"200,204\"\n\
             max_latency = \"800ms\"\n[monitor]\nwindow = \"24h\"\nthresholds = {{ http_req_duration = \"p(95)<800\" }}\n\
             notify = [\"slack:https://hooks.slack.com/x\"]\n"
        );
        let config = parse(&text).unwrap();
        assert_eq!(config.checks.len(), 2);
        assert_eq!(config.checks[0].expect_status.as_str(), "200-399");
        assert_eq!(config.checks[0].method.as_str(), "GET");
        assert!(config.checks[0].follow_redirects && config.checks[0].every_host);
        assert_eq!(config.monitor.window.0.as_secs(), 24 * 3600);
        assert_eq!(config.monitor.interval.0.as_secs(), 60);
        assert_eq!(config.monitor.on_fail, crate::OnFail::Rollback);
        assert!(config.smoke.after_deploy);
        assert_eq!(config.checks[0].body_contains.0, ["Shop"], "one string, as before lists");
        assert!(config.checks[1].body_contains.0.is_empty() && !config.checks[1].complete);
        let conditions = parse(&format!(
            "{GOOD}[[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = [\"Shop\", \"</footer>\"]\n\
             body_not_contains = [\"Fatal error\", \"Whoops\"]\nbody_regex = 'id=\"loginform\"'\ncomplete = true\n\
             [[check]]\nname = \"up\"\nurl = \"/up\"\nbody_not_contains = \"Server Error\"\n"
        ))
        .unwrap();
        assert_eq!(conditions.checks[0].body_contains.0, ["Shop", "</footer>"]);
        assert_eq!(conditions.checks[0].body_not_contains.0, ["Fatal error", "Whoops"]);
        assert!(conditions.checks[0].complete);
        assert_eq!(conditions.checks[1].body_not_contains.0, ["Server Error"]);
        for (bad, at, says) in [
            ("body_contains = \"\"\n", "16:17", "an empty string is in every body"),
            ("body_not_contains = [\"Fatal error\", \"\"]\n", "16:21", "an empty string (item 2) is in every body"),
            ("body_not_contains = 5\n", "16:21", "expected a string or a list of strings"),
            ("body_not_contains = [5]\n", "16:22", "expected a string"),
            ("complete = \"yes\"\n", "16:12", "expected a boolean"),
            ("body_not_contain = [\"x\"]\n", "16:1", "unknown key `body_not_contain`"),
        ] {
            let (location, message) =
                location_and_message(&format!("{GOOD}[[check]]\nname = \"a\"\nurl = \"/\"\n{bad}"));
            assert!(location.ends_with(at) && message.contains(says), "{bad}: {location}: {message}");
        }
        for (bad, says) in [
            ("[[check]]\nname = \"a\"\nurl = \"shop\"\n", "must start with `/`"),
            ("[[check]]\nname = \"a\"\nurl = \"/\"\nexpect_status = \"200-99\"\n", "status codes"),
            ("[[check]]\nname = \"a\"\nurl = \"/\"\nbody_regex = \"(\"\n", "body_regex"),
            // Parses, but compiles past the matcher's size limit: refused here, not at the first deploy.
            ("[[check]]\nname = \"a\"\nurl = \"/\"\nbody_regex = \"(?:a{1000}){1000}\"\n", "body_regex"),
            ("[monitor]\nthresholds = { iterations = \"count>1\" }\n", "unknown threshold metric"),
            ("[monitor]\nwindow = \"1m\"\ninterval = \"2m\"\n", "within the window"),
            ("[report]\nnotify = true\n", "names no channel"),
            ("[report]\nurl = \"ops.example/reports\"\n", "not an http(s) URL"),
            ("[report]\nnotfy = true\n", "unknown key `notfy`"),
        ] {
            let (_, message) = location_and_message(&format!("{GOOD}{bad}"));
            assert!(message.contains(says), "{bad}: {message}");
        }
    }
}

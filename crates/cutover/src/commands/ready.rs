//! `cutover ready` (stage 2): DNS per server and TLS per host, one table, exit 1 when a check
//! fails. The verdict and its findings are recorded in the local state as the gate's evidence.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use cutover_checks::readiness::{self, DnsPlan, Expected, Servers};
use cutover_checks::tls::{self, Policy};
use cutover_checks::{Finding, Status};
use cutover_config::{Config, Proxy};
use serde::Serialize;

use crate::CliError;
use crate::context::Ctx;

/// The gate's name in the state database.
pub const STAGE: &str = "ready";

#[derive(Debug, Serialize)]
struct Report<'a> {
    env: &'a str,
    names: &'a [String],
    passed: bool,
    failures: usize,
    warnings: usize,
    findings: Vec<Row<'a>>,
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    check: &'a str,
    host: &'a str,
    result: &'static str,
    detail: &'a str,
}

#[derive(Debug, Args)]
pub struct ReadyArgs {
    /// Check this certificate file (PEM chain, leaf first) instead of the live hosts.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM), checked to match it.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &ReadyArgs) -> Result<String, CliError> {
    let (cert, key) = (args.cert.as_deref(), args.key.as_deref());
    let env_name = ctx.global.env.as_str();
    let env = config.env(env_name)?;
    let names = env.names();
    if names.is_empty() {
        return Err(CliError::Usage(format!(
            "environment `{env_name}` has no `url` (and no `aliases`): there is no name to check"
        )));
    }
    let trust = ctx.trust(config)?;
    let policy = Policy {
        trust,
        warn_days: config.tls.warn_days,
        fail_days: config.tls.fail_days,
        https_port: config.tls.https_port,
        http_port: config.tls.http_port,
        timeout: config.tls.timeout.0,
        proxied: env.proxy == Some(Proxy::Cloudflare),
    };

    // The URL's name on the URL's own port when it names one; the aliases on `[tls]`'s ports.
    let groups: Vec<(Vec<String>, Policy)> = match env.url.as_ref().and_then(|url| Some((url, url.port()?))) {
        Some((url, port)) => {
            let mut own = policy.clone();
            if url.is_https() {
                own.https_port = port;
            } else {
                own.http_port = port;
            }
            let (first, rest) = names.split_first().expect("the url's name comes first");
            let mut groups = vec![(vec![first.clone()], own)];
            if !rest.is_empty() {
                groups.push((rest.to_vec(), policy.clone()));
            }
            groups
        }
        None => vec![(names.clone(), policy.clone())],
    };

    ctx.out.say(&format!("==> checking {} on {} host(s): {}", env_name, env.hosts().len(), names.join(", ")));
    let mut findings = Vec::new();
    // Where each host is, as ssh reaches it.
    let mut hosts: Vec<(String, Vec<IpAddr>)> = Vec::new();
    let own_names = env.expect_ips.is_empty() && env.proxy.is_none();
    for host in ctx.host_addresses(config)? {
        // A host reached by one of the names being checked gets its address from that same DNS:
        // the comparison would prove nothing.
        if own_names
            && let Some(hostname) = &host.hostname
            && hostname.parse::<IpAddr>().is_err()
            && names.iter().any(|n| n.eq_ignore_ascii_case(hostname.trim_end_matches('.')))
        {
            findings.push(Finding::warn(
                "host address",
                host.label.clone(),
                format!(
                    "ssh reaches this host by `{hostname}`, one of the names checked: its address comes from the \
                     same DNS, so the DNS check cannot tell a wrong answer; set `expect_ips` for `{env_name}`"
                ),
            ));
        }
        match host.addrs {
            Ok(addrs) => hosts.push((host.label, addrs)),
            Err(e) => findings.push(Finding::fail("host address", host.label, e)),
        }
    }

    let expected = match env.proxy {
        Some(Proxy::Cloudflare) => Expected::Cloudflare,
        None if !env.expect_ips.is_empty() => Expected::Addresses(env.expect_ips.clone()),
        None => {
            let mut all: Vec<IpAddr> = hosts.iter().flat_map(|(_, a)| a.iter().copied()).collect();
            all.sort();
            all.dedup();
            Expected::Addresses(all)
        }
    };
    let servers = if config.dns.resolvers.is_empty() {
        Servers::system(Path::new("/etc/resolv.conf"))
    } else {
        Servers::Only(config.dns.resolvers.iter().map(|r| r.0).collect())
    };
    let plan = DnsPlan { names: names.clone(), expected, servers, timeout: config.dns.timeout.0 };

    // DNS and every host at once: the slowest server sets the time, not the sum. A file is
    // checked before it is installed, so before DNS points anywhere: DNS is not asked then.
    let lost = |what: &str| Finding::fail(what.to_owned(), "-", "the check crashed; see the message above");
    std::thread::scope(|scope| {
        let dns = cert.is_none().then(|| scope.spawn(|| readiness::check_dns(&plan)));
        let tls: Vec<_> = match cert {
            Some(cert) => vec![scope.spawn(|| tls::check_files(cert, key, &names, &policy))],
            None => hosts
                .iter()
                .flat_map(|(label, addrs)| {
                    let several = addrs.len() > 1;
                    addrs.iter().map(move |&addr| (label, addr, several))
                })
                .flat_map(|(label, addr, several)| groups.iter().map(move |group| (label, addr, several, group)))
                .map(|(label, addr, several, (names, policy))| {
                    scope.spawn(move || {
                        let shown = if several { format!("{label} ({addr})") } else { label.clone() };
                        tls::check_host(&shown, addr, names, policy)
                    })
                })
                .collect(),
        };
        if let Some(dns) = dns {
            findings.extend(dns.join().unwrap_or_else(|_| vec![lost("dns")]));
        }
        for handle in tls {
            findings.extend(handle.join().unwrap_or_else(|_| vec![lost("tls")]));
        }
    });

    let failures = findings.iter().filter(|f| f.status == Status::Fail).count();
    let warnings = findings.iter().filter(|f| f.status == Status::Warn).count();
    let report = Report {
        env: env_name,
        names: &names,
        passed: failures == 0,
        failures,
        warnings,
        findings: findings
            .iter()
            .map(|f| Row { check: &f.check, host: &f.host, result: f.status.as_str(), detail: &f.detail })
            .collect(),
    };
    if ctx.out.json {
        ctx.out.json(&report);
    } else {
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|f| vec![f.check.clone(), f.host.clone(), f.status.as_str().to_uppercase(), f.detail.clone()])
            .collect();
        ctx.out.table(&["CHECK", "HOST", "RESULT", "DETAIL"], &rows);
    }
    // The `ready` gate is about the live hosts: a file checked before it is installed does not
    // open it. The file's check is kept as its own record, which pre-flight's TLS item accepts.
    let evidence = serde_json::to_string(&report).expect("report serializes");
    let stage = if cert.is_none() { STAGE } else { cutover_gates::preflight::CERT_FILE_STAGE };
    ctx.state()?.record_gate(stage, env_name, &config.hash, None, failures == 0, &evidence)?;

    let summary = format!("{} checks: {failures} failed, {warnings} warning(s)", findings.len());
    if failures > 0 {
        return Err(CliError::Check(format!("not ready: {summary}")));
    }
    ctx.out.say(&format!("ready: {summary}"));
    Ok(format!("ready: {summary}"))
}

//! `cutover smoke` (stage 4): every `[[check]]` through the public URL, and on each host directly
//! where `every_host` is set, all at once. Also the plan the deploy's post-switch check and the
//! monitor run.

use std::time::Duration;

use clap::Args;
use cutover_checks::monitor::{Outcome, Round};
use cutover_checks::smoke::{self as http, Check, Sample, StatusSet};
use cutover_config::{CheckSpec, Config};
use cutover_http::Trust;
use cutover_http::{Url, Via};
use cutover_release::{RollbackRequest, Verdict, Verify, rollback};
use cutover_state::State;
use serde::Serialize;

use crate::CliError;
use crate::context::Ctx;
use crate::output::Output;

/// The checks to run and where: the public URL, and each host for `every_host` checks.
#[derive(Debug)]
pub struct Plan {
    checks: Vec<Check>,
    hosts: Vec<Via>,
    trust: Trust,
}

impl Plan {
    /// The config's checks for the selected environment, or `None` when it has none.
    pub fn new(ctx: &Ctx<'_>, config: &Config) -> Result<Option<Self>, CliError> {
        if config.checks.is_empty() {
            return Ok(None);
        }
        let env = config.env(&ctx.global.env)?;
        let trust = ctx.trust(config)?;
        let mut hosts = Vec::new();
        if config.checks.iter().any(|c| c.every_host) {
            for host in ctx.host_addresses(config)? {
                let addrs = host.addrs.map_err(|e| CliError::Check(format!("host `{}`: {e}", host.label)))?;
                hosts.push(Via::host(host.label, addrs[0]));
            }
        }
        let base = env
            .url
            .as_ref()
            .map(|u| Url::parse(u.as_str()))
            .transpose()
            .map_err(|e| CliError::Usage(format!("environment `{}`: url: {e}", ctx.global.env)))?;
        let mut checks = Vec::new();
        for spec in &config.checks {
            checks.push(check(spec, base.as_ref(), &ctx.global.env)?);
        }
        Ok(Some(Self { checks, hosts, trust }))
    }

    /// Every check on every target at once; results in the plan's order.
    pub fn run(&self) -> Vec<Sample> {
        http::run_all(&self.checks, &self.hosts, &self.trust)
    }

    /// The roots the checks judge certificates against.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// How many samples a run gives.
    pub fn len(&self) -> usize {
        self.checks.iter().map(|c| if c.every_host { 1 + self.hosts.len() } else { 1 }).sum()
    }
}

fn check(spec: &CheckSpec, base: Option<&Url>, env: &str) -> Result<Check, CliError> {
    let bad = |what: String| CliError::Usage(format!("check `{}`: {what}", spec.name));
    let url = match base {
        Some(base) => http::check_url(base, spec.url.as_str()),
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
    check.body_contains = spec.body_contains.clone();
    check.body_regex =
        spec.body_regex.as_ref().map(|r| http::Regex::new(r.as_str())).transpose().map_err(|e| bad(e.to_string()))?;
    check.max_latency = spec.max_latency.map(|d| d.0);
    check.follow_redirects = spec.follow_redirects;
    check.every_host = spec.every_host;
    check.timeout = spec.timeout.0;
    check.validate().map_err(bad)?;
    Ok(check)
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    check: &'a str,
    via: &'a str,
    ok: bool,
    status: Option<u16>,
    latency_ms: Option<u128>,
    reason: Option<&'a str>,
}

fn rows(samples: &[Sample]) -> Vec<Row<'_>> {
    samples
        .iter()
        .map(|s| Row {
            check: &s.check,
            via: &s.via,
            ok: s.ok,
            status: s.status,
            latency_ms: s.latency.map(|d| d.as_millis()),
            reason: s.reason.as_deref(),
        })
        .collect()
}

/// Prints the samples as a table (or JSON) and returns the failures' summary, if any.
pub fn report(out: &Output, samples: &[Sample]) -> Option<String> {
    print(out, samples);
    summary(samples)
}

fn print(out: &Output, samples: &[Sample]) {
    if out.json {
        out.json(&serde_json::json!({ "passed": samples.iter().all(|s| s.ok), "samples": rows(samples) }));
    } else {
        let table: Vec<Vec<String>> = samples
            .iter()
            .map(|s| {
                vec![
                    s.check.clone(),
                    s.via.clone(),
                    if s.ok { "PASS" } else { "FAIL" }.to_owned(),
                    s.status.map_or("-".into(), |c| c.to_string()),
                    s.latency.map_or("-".into(), |d| format!("{} ms", d.as_millis())),
                    s.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.table(&["CHECK", "VIA", "RESULT", "STATUS", "LATENCY", "REASON"], &table);
    }
}

fn summary(samples: &[Sample]) -> Option<String> {
    let failed: Vec<String> = samples
        .iter()
        .filter(|s| !s.ok)
        .map(|s| format!("{} via {}: {}", s.check, s.via, s.reason.as_deref().unwrap_or("failed")))
        .collect();
    (!failed.is_empty()).then(|| format!("{} of {} checks failed: {}", failed.len(), samples.len(), failed.join("; ")))
}

/// Whether every sample failed without reaching anything: this machine's network, not the site.
fn all_unreachable(samples: &[Sample]) -> bool {
    let outcomes: Vec<Outcome> = samples.iter().map(Outcome::from).collect();
    cutover_checks::monitor::judge_round(&outcomes) == Round::Inconclusive
}

/// The deploy's post-switch check.
#[derive(Debug)]
pub struct AfterDeploy<'a> {
    pub plan: &'a Plan,
    pub out: &'a Output,
}

impl Verify for AfterDeploy<'_> {
    fn verify(&self, release: &str) -> Verdict {
        self.out.say(&format!("==> smoke checks on {release} ({} checks)", self.plan.len()));
        // A release that just went live may need a moment (a reload, a cache warming): the
        // failing checks get two more tries a second apart before they count.
        let mut samples = self.plan.run();
        for _ in 0..2 {
            if samples.iter().all(|s| s.ok) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            samples = self.plan.run();
        }
        // With `--json` stdout is the deploy's report alone; the failures are in the error.
        if !self.out.json {
            print(self.out, &samples);
        }
        match summary(&samples) {
            None => Verdict::Pass,
            Some(failed) if all_unreachable(&samples) => Verdict::Unverified(failed),
            Some(failed) => Verdict::Fail(failed),
        }
    }
}

#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// On a failure, roll every host back to the previous good release (exit 5).
    #[arg(long)]
    pub rollback_on_fail: bool,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &SmokeArgs) -> Result<String, CliError> {
    let rollback_on_fail = args.rollback_on_fail;
    let plan = Plan::new(ctx, config)?
        .ok_or_else(|| CliError::Usage("no `[[check]]` in the config: nothing to smoke-test".into()))?;
    // The release these checks judge: a rollback must not take down one deployed meanwhile.
    let (fleet, checked) = if rollback_on_fail {
        let fleet = ctx.fleet(config)?;
        let current = cutover_release::status(&fleet)?.first().and_then(|h| h.current.clone());
        (Some(fleet), current)
    } else {
        (None, None)
    };
    ctx.out.say(&format!("==> {} checks on {}", plan.len(), ctx.global.env));
    let samples = plan.run();
    let failed = report(ctx.out, &samples);
    let evidence = serde_json::to_string(&rows(&samples)).expect("rows serialize");
    State::open(&ctx.config_dir())?.record_gate("smoke", &ctx.global.env, &config.hash, failed.is_none(), &evidence)?;
    let Some(failed) = failed else {
        ctx.out.say(&format!("smoke: all {} checks passed", samples.len()));
        return Ok(format!("smoke: all {} checks passed", samples.len()));
    };
    if !rollback_on_fail {
        return Err(CliError::Check(format!("smoke: {failed}")));
    }
    if all_unreachable(&samples) {
        return Err(CliError::Check(format!(
            "smoke: {failed}; nothing could be reached from this machine (is its network down?): not rolling back"
        )));
    }
    ctx.out.warn_line(&format!("smoke: {failed}; rolling back"));
    let fleet = fleet.expect("connected for --rollback-on-fail");
    let command = format!("cutover smoke --rollback-on-fail --env {}", ctx.global.env);
    let request = RollbackRequest { to: None, hooks: &config.hooks, command: &command, only_from: checked.as_deref() };
    let report = rollback(&fleet, &request, ctx.out)?;
    Err(CliError::RolledBack(format!(
        "smoke: {failed}; rolled back from {} to {}",
        report.from.as_deref().unwrap_or("nothing"),
        report.to
    )))
}

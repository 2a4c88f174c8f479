//! Stage 4, the smoke checks, run two ways: `cutover smoke` runs them once, records the verdict as
//! the `smoke` gate and, when asked, rolls a failure back; a deploy runs them right after its
//! switch ([`AfterDeploy`]), giving a release that just went live a moment before failing it.

use std::time::Duration;

use cutover_checks::monitor::{Outcome, Round};
use cutover_checks::smoke::Sample;
use cutover_config::Config;
use cutover_process::interrupt;
use cutover_release::{Mark, RollbackRequest, Verdict, Verify, rollback};
use cutover_remote::SshOptions;
use cutover_state::State;
use serde::Serialize;

use crate::{GateError, GateReporter, Plan, Run};

/// The gate's name in the state database.
pub const STAGE: &str = "smoke";
/// Runs after the first that a deploy's check gives the failing checks, [`RETRY_PAUSE`] apart.
pub const RETRIES: usize = 2;
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// A sample as `--json` and the gate's evidence show it.
#[derive(Debug, Serialize)]
pub struct Row<'a> {
    pub check: &'a str,
    pub via: &'a str,
    pub ok: bool,
    pub status: Option<u16>,
    pub latency_ms: Option<u128>,
    pub reason: Option<&'a str>,
}

pub fn rows(samples: &[Sample]) -> Vec<Row<'_>> {
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

/// The failures in one line, or `None` when every sample passed.
pub fn summary(samples: &[Sample]) -> Option<String> {
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

/// `cutover smoke`.
#[derive(Debug)]
pub struct SmokeRequest<'a> {
    pub config: &'a Config,
    pub env: &'a str,
    pub plan: &'a Plan,
    pub ssh: &'a SshOptions,
    /// The process's one connection to the local state (`.cutover/state.db`).
    pub state: &'a State,
    /// On a failure, roll every host back to the previous good release.
    pub rollback_on_fail: bool,
}

/// Every check once, the verdict recorded as the `smoke` gate; returns how many checks passed.
/// A failure is an error; with `rollback_on_fail` every host goes back first, unless nothing
/// could be reached (this machine's network) or another release went live meanwhile.
pub fn smoke(req: &SmokeRequest<'_>, reporter: &dyn GateReporter) -> Result<usize, GateError> {
    // The release these checks judge: a rollback must not take down one deployed meanwhile.
    // The release these checks judge, read once: a rollback must not take down one deployed
    // meanwhile, and the gate records its artifact. Checks need no SSH, so without
    // `rollback_on_fail` a host that cannot be reached leaves the gate without an artifact
    // rather than failing it.
    let fleet = if req.rollback_on_fail {
        Some(crate::connect(req.config, req.env, req.ssh, reporter)?)
    } else {
        crate::connect(req.config, req.env, req.ssh, reporter).ok()
    };
    let states = match &fleet {
        Some(f) if req.rollback_on_fail => Some(f.read_states()?),
        Some(f) => f.read_states().ok(),
        None => None,
    };
    let checked = states.as_ref().and_then(|s| s.first()).and_then(|s| s.current.clone());
    let artifact = states.as_deref().and_then(cutover_release::live_of).and_then(|l| l.manifest);
    reporter.step(None, &format!("{} checks on {}", req.plan.len(), req.env));
    let samples = req.plan.run();
    reporter.samples(Run::Smoke, &samples);
    let failed = summary(&samples);
    let evidence = serde_json::to_string(&rows(&samples)).expect("rows serialize");
    req.state.record_gate(STAGE, req.env, &req.config.hash, artifact.as_deref(), failed.is_none(), &evidence)?;
    let Some(summary) = failed else {
        return Ok(samples.len());
    };
    let Some(fleet) = fleet.filter(|_| req.rollback_on_fail) else {
        return Err(GateError::SmokeFailed { summary });
    };
    if all_unreachable(&samples) {
        return Err(GateError::SmokeUnreachable { summary });
    }
    reporter.warn(None, &format!("smoke: {summary}; rolling back"));
    let command = format!("cutover smoke --rollback-on-fail --env {}", req.env);
    let why = format!("smoke checks failed: {summary}");
    let request = RollbackRequest {
        to: None,
        hooks: &req.config.hooks,
        command: &command,
        only_from: checked.as_deref(),
        mark: Mark::Failed(&why),
        before_switch: None,
    };
    let report = rollback(&fleet, &request, reporter)?;
    Err(GateError::SmokeRolledBack {
        summary,
        from: report.from.unwrap_or_else(|| "nothing".to_owned()),
        to: report.to,
    })
}

/// The check a deploy runs once every host is live (its [`Verify`]). A release that just went
/// live may need a moment (a reload, a cache warming): the failing checks get [`RETRIES`] more
/// runs, [`RETRY_PAUSE`] apart, before they count.
pub struct AfterDeploy<'a> {
    plan: &'a Plan,
    reporter: &'a dyn GateReporter,
}

impl<'a> AfterDeploy<'a> {
    pub fn new(plan: &'a Plan, reporter: &'a dyn GateReporter) -> Self {
        Self { plan, reporter }
    }
}

impl std::fmt::Debug for AfterDeploy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterDeploy").field("plan", self.plan).finish_non_exhaustive()
    }
}

impl Verify for AfterDeploy<'_> {
    fn verify(&self, release: &str) -> Verdict {
        self.reporter.step(None, &format!("smoke checks on {release} ({} checks)", self.plan.len()));
        let mut samples = self.plan.run();
        for _ in 0..RETRIES {
            if samples.iter().all(|s| s.ok) {
                break;
            }
            // A signal before the retries are done leaves no verdict: not verified, not failed.
            if let Err(signal) = interrupt::sleep(RETRY_PAUSE) {
                self.reporter.samples(Run::AfterDeploy, &samples);
                return Verdict::Unverified(format!("interrupted by {signal} before the checks ended"));
            }
            samples = self.plan.run();
        }
        self.reporter.samples(Run::AfterDeploy, &samples);
        match summary(&samples) {
            None => Verdict::Pass,
            Some(failed) if all_unreachable(&samples) => Verdict::Unverified(failed),
            Some(failed) => Verdict::Fail(failed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use cutover_http::Failure;

    use super::*;

    fn sample(check: &str, via: &str, failure: Option<Failure>) -> Sample {
        Sample {
            check: check.into(),
            via: via.into(),
            url: "https://example.test/".into(),
            ok: failure.is_none(),
            status: failure.is_none().then_some(200),
            latency: None,
            elapsed: Duration::ZERO,
            failure,
            reason: failure.map(|f| format!("{} failed", f.as_str())),
            at: SystemTime::now(),
        }
    }

    #[test]
    fn the_summary_names_every_failure_and_is_none_when_all_passed() {
        let all_ok = [sample("home", "public", None), sample("home", "web1", None)];
        assert_eq!(summary(&all_ok), None);
        let one_bad = [sample("home", "public", None), sample("home", "web1", Some(Failure::Status))];
        assert_eq!(summary(&one_bad).unwrap(), "1 of 2 checks failed: home via web1: status failed");
    }

    #[test]
    fn only_failures_that_never_left_this_machine_are_unreachable() {
        let dead_network =
            [sample("a", "public", Some(Failure::Dns)), sample("b", "public", Some(Failure::Unreachable))];
        assert!(all_unreachable(&dead_network));
        let dead_site =
            [sample("a", "public", Some(Failure::Unreachable)), sample("b", "public", Some(Failure::Status))];
        assert!(!all_unreachable(&dead_site));
    }

    #[test]
    fn rows_carry_latency_in_milliseconds() {
        let mut s = sample("home", "public", None);
        s.latency = Some(Duration::from_micros(12_700));
        let json = serde_json::to_value(rows(std::slice::from_ref(&s))).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{ "check": "home", "via": "public", "ok": true, "status": 200, "latency_ms": 12, "reason": null }])
        );
    }
}

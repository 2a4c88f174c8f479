//! The monitor's rounds: every check each interval, the round and its samples stored, the
//! window so far judged; a breach rolls back once (or alerts once), and every turn of events is
//! notified from a thread of its own.

use std::thread::Scope;
use std::time::{Duration, Instant, UNIX_EPOCH};

use cutover_checks::monitor::{self, Decision, Limits, Outcome, Round, Tally, ThresholdResult};
use cutover_checks::smoke::Sample;
use cutover_checks::thresholds::{self, Observation};
use cutover_config::{Config, OnFail, human};
use cutover_notify::{Attachment, Channel, Event, EventKind, Notifier};
use cutover_process::interrupt;
use cutover_release::{Mark, RollbackRequest, rollback};
use cutover_remote::SshOptions;
use cutover_state::{MonitorRecord, SampleRow, State};

use super::{Passed, Thresholds, now_ms};
use crate::{GateError, GateReporter, Plan};

pub(super) struct Watch<'a> {
    pub config: &'a Config,
    pub env: &'a str,
    pub ssh: &'a SshOptions,
    pub plan: Plan,
    pub thresholds: Thresholds,
    pub channels: Vec<Channel>,
    pub notifier: Notifier,
    pub state: &'a State,
    pub reporter: &'a dyn GateReporter,
    pub report: Option<&'a super::MakeReport<'a>>,
}

/// How the rounds ended.
enum End {
    /// A breach with `on_fail = "rollback"`: why.
    Breach(String),
    /// SIGINT or SIGTERM, between rounds or once the round in flight was recorded.
    Interrupted(interrupt::Interrupted),
    /// The window is over; whether a breach was seen (alert mode).
    Window { breached: bool },
}

impl<'a> Watch<'a> {
    pub fn run<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        m: &MonitorRecord,
        release: &str,
        on_fail: OnFail,
    ) -> Result<Passed, GateError> {
        let end = self.rounds(scope, m, release, on_fail);
        self.reporter.rounds_done();
        match end? {
            End::Breach(why) => self.roll_back(scope, m.id, release, &why),
            End::Window { breached } => self.window_passed(scope, m.id, release, breached),
            End::Interrupted(signal) => {
                let stats = self.state.round_stats(m.id)?;
                let mut detail = format!(
                    "interrupted by {signal} after {} rounds ({} failed); not passed",
                    stats.rounds, stats.failed
                );
                // A breach seen in alert mode stays on record for the resumed window.
                if let Some(now) = self.state.latest_monitor(self.env)?.filter(|n| n.id == m.id)
                    && now.detail.starts_with("breached")
                {
                    detail = format!("{}; {detail}", now.detail);
                }
                self.state.finish_monitor(m.id, "interrupted", &detail, now_ms())?;
                let left = human::whole_seconds(m.ends_ms - now_ms());
                Err(GateError::Interrupted {
                    signal: signal.to_string(),
                    detail: format!(
                        "the window of {release} is recorded as interrupted, not passed ({left} of it left); \
                         `cutover monitor` resumes it"
                    ),
                })
            }
        }
    }

    fn rounds<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        m: &MonitorRecord,
        release: &str,
        on_fail: OnFail,
    ) -> Result<End, GateError> {
        let limits = Limits {
            failure_limit: self.config.monitor.failure_limit,
            consecutive_errors: self.config.monitor.consecutive_errors,
        };
        let sliding = self.config.monitor.sliding_window.0.as_millis() as i64;
        let interval = Duration::from_millis(m.interval_ms as u64);
        // A breach seen before a restart (alert mode) still counts: the window cannot pass.
        let mut alerted_breach = m.detail.starts_with("breached");
        let mut alerted_blind = false;
        loop {
            if let Some(signal) = interrupt::requested() {
                return Ok(End::Interrupted(signal));
            }
            let round_start = Instant::now();
            let at = now_ms();
            let samples = self.plan.run();
            let outcomes: Vec<Outcome> = samples.iter().map(Outcome::from).collect();
            let verdict = monitor::judge_round(&outcomes);
            let stats = self.state.round_stats(m.id)?;
            self.state.add_round(m.id, stats.last_round + 1, at, verdict.as_str(), &rows(&samples))?;
            let stats = self.state.round_stats(m.id)?;
            let window = self.state.samples_since(m.id, at - sliding)?;
            let observations: Vec<Observation> = window
                .iter()
                .map(|(ok, ms)| Observation {
                    failed: !ok,
                    duration: ms.map(|ms| Duration::from_secs_f64(ms / 1000.0)),
                })
                .collect();
            // Too few samples yet: thresholds wait (a single slow answer is not a rate).
            let judged = observations.len() >= self.config.monitor.min_samples as usize;
            let results: Vec<ThresholdResult> = self
                .thresholds
                .iter()
                .filter(|_| judged)
                .map(|(name, t)| {
                    let e = t.evaluate(&observations);
                    ThresholdResult { passed: e.passed, text: format!("{name}: {}", e.text) }
                })
                .collect();
            let passing = samples.iter().filter(|s| s.ok).count();
            let error_rate = if window.is_empty() {
                0.0
            } else {
                window.iter().filter(|(ok, _)| !ok).count() as f64 / window.len() as f64
            };
            let p95 = p95(window.iter().filter_map(|(_, ms)| *ms).collect());
            let left = m.ends_ms - at;
            self.reporter.status(&format!(
                "round {}: {passing}/{} checks passing, p95 {p95:.0} ms, error rate {:.1}%, {} failed round(s), {} left{}",
                stats.last_round,
                samples.len(),
                error_rate * 100.0,
                stats.failed,
                human::whole_seconds(left),
                if verdict == Round::Inconclusive { " (nothing reachable: network down?)" } else { "" }
            ));
            let tally =
                Tally { failed_rounds: stats.failed as u32, inconclusive_streak: stats.inconclusive_streak as u32 };
            match monitor::decide(tally, limits, &results) {
                Decision::Continue => {}
                Decision::Blind(why) => {
                    if !alerted_blind {
                        alerted_blind = true;
                        self.reporter.note(&format!("warning: {why}"));
                        self.notify(scope, EventKind::Alert, release, "monitor cannot measure", &why);
                    }
                }
                Decision::Breach(why) => match on_fail {
                    OnFail::Rollback => return Ok(End::Breach(why)),
                    OnFail::Alert => {
                        if !alerted_breach {
                            alerted_breach = true;
                            self.reporter.note(&format!("breach: {why} (alert only)"));
                            self.notify(scope, EventKind::Breach, release, "breach (alert only)", &why);
                            self.state.finish_monitor(m.id, "running", &format!("breached: {why}"), at)?;
                        }
                    }
                },
            }
            if !matches!(verdict, Round::Inconclusive) {
                alerted_blind = false;
            }
            if now_ms() >= m.ends_ms {
                return Ok(End::Window { breached: alerted_breach });
            }
            let next = interval.saturating_sub(round_start.elapsed());
            let next = next.min(Duration::from_millis((m.ends_ms - now_ms()).max(0) as u64));
            if let Err(signal) = interrupt::sleep(next) {
                return Ok(End::Interrupted(signal));
            }
        }
    }

    fn roll_back<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        id: i64,
        release: &str,
        why: &str,
    ) -> Result<Passed, GateError> {
        self.reporter.warn(None, &format!("breach: {why}; rolling back {release}"));
        self.notify(scope, EventKind::Breach, release, "breach: rolling back", why);
        let command = format!("cutover monitor --env {} (breach)", self.env);
        let fleet = crate::connect(self.config, self.env, self.ssh, self.reporter)?;
        let breach = format!("monitor breach: {why}");
        let request = RollbackRequest {
            to: None,
            hooks: &self.config.hooks,
            command: &command,
            only_from: Some(release),
            mark: Mark::Failed(&breach),
            before_switch: None,
        };
        match rollback(&fleet, &request, self.reporter) {
            Ok(report) => {
                let detail = format!("{why}; rolled back to {}", report.to);
                self.state.finish_monitor(id, "rolled_back", &detail, now_ms())?;
                self.notify(scope, EventKind::RolledBack, release, &format!("rolled back to {}", report.to), why);
                Err(GateError::MonitorRolledBack { why: why.to_owned(), to: report.to })
            }
            Err(e) => {
                self.state.finish_monitor(id, "breached", &format!("{why}; rollback failed: {e}"), now_ms())?;
                self.notify(scope, EventKind::RollbackFailed, release, "rollback failed", &e.to_string());
                Err(e.into())
            }
        }
    }

    fn window_passed<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        id: i64,
        release: &str,
        breached: bool,
    ) -> Result<Passed, GateError> {
        let stats = self.state.round_stats(id)?;
        let samples = self.state.samples_count(id)?;
        let detail = format!(
            "{} rounds, {samples} samples, {} failed round(s), {} inconclusive",
            stats.rounds, stats.failed, stats.inconclusive
        );
        if stats.inconclusive_streak > i64::from(self.config.monitor.consecutive_errors)
            || stats.inconclusive == stats.rounds
        {
            self.state.finish_monitor(id, "blind", &detail, now_ms())?;
            return Err(GateError::Blind { detail });
        }
        if breached {
            self.state.finish_monitor(id, "breached", &detail, now_ms())?;
            return Err(GateError::Breached { detail });
        }
        self.state.finish_monitor(id, "passed", &detail, now_ms())?;
        self.state.record_gate(
            "monitor",
            self.env,
            &self.config.hash,
            None,
            true,
            &format!("{{\"release\":\"{release}\"}}"),
        )?;
        // The report is made now, so it shows the window passed; a report that cannot be made
        // never holds the notification back.
        let attachment = match self.report.filter(|_| !self.channels.is_empty()) {
            Some(make) => match make(release) {
                Ok(a) => Some(a),
                Err(e) => {
                    self.reporter.warn(None, &format!("the launch report is not attached: {e}"));
                    None
                }
            },
            None => None,
        };
        self.send(scope, EventKind::WindowPassed, release, "monitor window passed: steady state", &detail, attachment);
        Ok(Passed { release: release.to_owned(), detail })
    }

    /// Sends an event to every channel from a thread of `scope`; failures are warnings.
    fn notify<'s>(&'s self, scope: &'s Scope<'s, '_>, kind: EventKind, release: &str, title: &str, detail: &str) {
        self.send(scope, kind, release, title, detail, None);
    }

    /// [`Watch::notify`], with a file attached.
    fn send<'s>(
        &'s self,
        scope: &'s Scope<'s, '_>,
        kind: EventKind,
        release: &str,
        title: &str,
        detail: &str,
        attachment: Option<Attachment>,
    ) {
        if self.channels.is_empty() {
            return;
        }
        let mut event = Event::new(kind, self.env, format!("{} {}: {title}", self.config.app.name.as_str(), self.env))
            .release(release)
            .detail(detail);
        if let Some(a) = attachment {
            event = event.attach(a);
        }
        let (notifier, channels, reporter) = (&self.notifier, &self.channels, self.reporter);
        scope.spawn(move || {
            for (channel, result) in notifier.send_all(channels, &event) {
                if let Err(e) = result {
                    reporter.warn(None, &format!("notification to {channel} failed: {e}"));
                }
            }
        });
    }
}

fn rows(samples: &[Sample]) -> Vec<SampleRow> {
    samples
        .iter()
        .map(|s| SampleRow {
            at_ms: s.at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
            check: s.check.clone(),
            via: s.via.clone(),
            ok: s.ok,
            status: s.status,
            latency_ms: s.latency.map(|d| d.as_secs_f64() * 1000.0),
            failure: s.failure.map(|f| f.as_str().to_owned()),
            reason: s.reason.clone(),
        })
        .collect()
}

/// The 95th percentile as the `p(95)` threshold computes it, 0 without samples.
fn p95(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    thresholds::percentile(&values, 95.0)
}

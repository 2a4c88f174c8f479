//! `cutover monitor` (stage 5): sample every check each interval for the window (24–48 h),
//! judge the failures and the k6 thresholds over a sliding window, and on a breach roll back
//! once (or only alert). Every round goes to the local state, so a restarted monitor resumes its
//! window; memory does not grow with the window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use cutover_checks::monitor::{self, Decision, Limits, Outcome, Round, Tally, ThresholdResult};
use cutover_checks::smoke::Sample;
use cutover_checks::thresholds::{self, Observation, Threshold};
use cutover_config::{Config, OnFail, SmtpTls};
use cutover_notify::{self as notify, Channel, Event, EventKind, Notifier};
use cutover_release::{ReleaseError, RollbackRequest, rollback, status};
use cutover_state::{SampleRow, State};

use super::smoke::Plan;
use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// How long to watch (default `[monitor] window`, 48h).
    #[arg(long, value_parser = duration)]
    pub window: Option<cutover_config::HumanDuration>,
    /// Time between rounds of checks (default `[monitor] interval`, 60s).
    #[arg(long, value_parser = duration)]
    pub interval: Option<cutover_config::HumanDuration>,
    /// On a breach: roll back once, or only alert (default `[monitor] on_fail`).
    #[arg(long, value_parser = on_fail)]
    pub on_fail: Option<cutover_config::OnFail>,
}

fn duration(text: &str) -> Result<cutover_config::HumanDuration, String> {
    cutover_config::HumanDuration::parse(text)
}

fn on_fail(text: &str) -> Result<cutover_config::OnFail, String> {
    match text {
        "rollback" => Ok(cutover_config::OnFail::Rollback),
        "alert" => Ok(cutover_config::OnFail::Alert),
        _ => Err(format!("`{text}`: use rollback or alert")),
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn human(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

struct Watch<'a> {
    ctx: &'a Ctx<'a>,
    config: &'a Config,
    plan: Plan,
    thresholds: Vec<(String, Threshold)>,
    channels: Vec<Channel>,
    notifier: Notifier,
    /// Notifications being sent: a slow receiver never delays a rollback; all are waited for
    /// before the command ends.
    sending: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
    state: State,
    env: &'a str,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &MonitorArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let window = args.window.map_or(config.monitor.window.0, |d| d.0);
    let interval = args.interval.map_or(config.monitor.interval.0, |d| d.0);
    let on_fail = args.on_fail.unwrap_or(config.monitor.on_fail);
    if interval.is_zero() || interval > window {
        return Err(CliError::Usage("the interval must be above zero and within the window".into()));
    }
    let plan = Plan::new(ctx, config)?
        .ok_or_else(|| CliError::Usage("no `[[check]]` in the config: nothing to monitor".into()))?;
    let mut thresholds_list = Vec::new();
    for (metric, expr) in &config.monitor.thresholds {
        let t = thresholds::parse(metric, expr)
            .map_err(|e| CliError::Usage(format!("[monitor] thresholds.{metric} = \"{expr}\": {e}")))?;
        thresholds_list.push((format!("{metric} {expr}"), t));
    }
    let mut channels = Vec::new();
    for text in &config.monitor.notify {
        channels.push(Channel::parse(text).map_err(|e| CliError::Usage(format!("[monitor] notify: {e}")))?);
    }
    let smtp = match &config.smtp {
        Some(s) => Some(notify::Smtp {
            host: s.host.clone(),
            port: s.port,
            from: s.from.clone(),
            username: s.username.clone(),
            password: match &s.password_secret {
                Some(name) => Some(super::secrets::provider(ctx, config)?.get(env, name)?.expose().to_owned()),
                None => None,
            },
            tls: match s.tls {
                SmtpTls::Starttls => notify::SmtpTls::StartTls,
                SmtpTls::Tls => notify::SmtpTls::Tls,
                SmtpTls::None => notify::SmtpTls::None,
            },
            timeout: s.timeout.0,
        }),
        None => None,
    };
    if channels.iter().any(|c| matches!(c, Channel::Mail(_))) && smtp.is_none() {
        return Err(CliError::Usage("a `mailto:` notification needs an `[smtp]` section".into()));
    }

    // The release being watched is what the hosts run now.
    let release = {
        let fleet = ctx.fleet(config)?;
        let hosts = status(&fleet)?;
        let currents: std::collections::BTreeSet<_> = hosts.iter().map(|h| h.current.clone()).collect();
        if currents.len() != 1 {
            return Err(ReleaseError::Partial {
                detail: "hosts are on different releases; see `cutover status`".into(),
            }
            .into());
        }
        currents.into_iter().next().flatten().ok_or_else(|| CliError::Check("nothing is deployed to watch".into()))?
    };

    let state = State::open(&ctx.config_dir())?;
    let started = now_ms();
    let me = cutover_remote::Identity::current();
    // One monitor per environment: a second one would sample twice and could roll back twice.
    if let Some(m) = state.latest_monitor(env)?.filter(|m| m.state == "running") {
        let recent = started - m.updated_ms < 3 * m.interval_ms + 10_000;
        let alive = if m.machine == me.machine {
            // SAFETY: kill(2) with signal 0 only checks that the process exists.
            m.pid > 0 && m.pid != i64::from(std::process::id()) && unsafe { libc::kill(m.pid as i32, 0) } == 0
        } else {
            true
        };
        if recent && alive {
            return Err(CliError::Blocked(format!(
                "a monitor is already watching {env} ({} on {}, pid {}, last round {} ago); stop it first",
                m.release,
                m.machine,
                m.pid,
                human(started - m.updated_ms)
            )));
        }
    }
    let monitor = match state.latest_monitor(env)? {
        Some(m) if m.state == "running" && m.release == release && m.ends_ms > started => {
            ctx.out.say(&format!(
                "==> resuming the monitor of {release} ({} left of its window)",
                human(m.ends_ms - started)
            ));
            m
        }
        _ => {
            let id = state.start_monitor(
                env,
                &release,
                &config.hash,
                started,
                started + window.as_millis() as i64,
                interval.as_millis() as i64,
            )?;
            ctx.out.say(&format!(
                "==> watching {release} on {env} for {}, every {}: {} checks",
                human(window.as_millis() as i64),
                human(interval.as_millis() as i64),
                plan.len()
            ));
            state.latest_monitor(env)?.filter(|m| m.id == id).expect("the monitor just recorded")
        }
    };
    state.claim_monitor(monitor.id, std::process::id(), &me.machine)?;
    let notifier = Notifier::new(plan.trust().clone()).smtp(smtp);
    let watch = Watch {
        ctx,
        config,
        plan,
        thresholds: thresholds_list,
        channels,
        notifier,
        sending: std::sync::Mutex::new(Vec::new()),
        state,
        env,
    };
    let result = watch.run(&monitor, &release, on_fail);
    if ctx.out.json
        && let Some(m) = watch.state.latest_monitor(env)?.filter(|m| m.id == monitor.id)
    {
        let stats = watch.state.round_stats(m.id)?;
        ctx.out.json(&serde_json::json!({ "monitor": m, "rounds": stats }));
    }
    for handle in watch.sending.into_inner().unwrap_or_default() {
        let _ = handle.join();
    }
    result
}

impl Watch<'_> {
    fn run(&self, m: &cutover_state::MonitorRecord, release: &str, on_fail: OnFail) -> Result<String, CliError> {
        let limits = Limits {
            failure_limit: self.config.monitor.failure_limit,
            consecutive_errors: self.config.monitor.consecutive_errors,
        };
        let sliding = self.config.monitor.sliding_window.0.as_millis() as i64;
        let interval = Duration::from_millis(m.interval_ms as u64);
        // A breach seen before a restart (alert mode) still counts: the window cannot pass.
        let mut alerted_breach = m.detail.starts_with("breached");
        let mut alerted_blind = false;
        let status_bar = self.ctx.out.status_line();
        loop {
            let round_start = std::time::Instant::now();
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
            let line = format!(
                "round {}: {passing}/{} checks passing, p95 {p95:.0} ms, error rate {:.1}%, {} failed round(s), {} left{}",
                stats.last_round,
                samples.len(),
                error_rate * 100.0,
                stats.failed,
                human(left),
                if verdict == Round::Inconclusive { " (nothing reachable: network down?)" } else { "" }
            );
            status_bar.update(&line);
            let tally =
                Tally { failed_rounds: stats.failed as u32, inconclusive_streak: stats.inconclusive_streak as u32 };
            match monitor::decide(tally, limits, &results) {
                Decision::Continue => {}
                Decision::Blind(why) => {
                    if !alerted_blind {
                        alerted_blind = true;
                        status_bar.println(&format!("warning: {why}"));
                        self.notify(EventKind::Alert, release, "monitor cannot measure", &why);
                    }
                }
                Decision::Breach(why) => match on_fail {
                    OnFail::Rollback => {
                        status_bar.finish();
                        return self.roll_back(m.id, release, &why);
                    }
                    OnFail::Alert => {
                        if !alerted_breach {
                            alerted_breach = true;
                            status_bar.println(&format!("breach: {why} (alert only)"));
                            self.notify(EventKind::Breach, release, "breach (alert only)", &why);
                            self.state.finish_monitor(m.id, "running", &format!("breached: {why}"), at)?;
                        }
                    }
                },
            }
            if !matches!(verdict, Round::Inconclusive) {
                alerted_blind = false;
            }
            if now_ms() >= m.ends_ms {
                status_bar.finish();
                return self.window_passed(m.id, release, alerted_breach);
            }
            let next = interval.saturating_sub(round_start.elapsed());
            std::thread::sleep(next.min(Duration::from_millis((m.ends_ms - now_ms()).max(0) as u64)));
        }
    }

    fn roll_back(&self, id: i64, release: &str, why: &str) -> Result<String, CliError> {
        self.ctx.out.warn_line(&format!("breach: {why}; rolling back {release}"));
        self.notify(EventKind::Breach, release, "breach: rolling back", why);
        let command = format!("cutover monitor --env {} (breach)", self.env);
        let fleet = self.ctx.fleet(self.config)?;
        match rollback(
            &fleet,
            &RollbackRequest { to: None, hooks: &self.config.hooks, command: &command, only_from: Some(release) },
            self.ctx.out,
        ) {
            Ok(report) => {
                let detail = format!("{why}; rolled back to {}", report.to);
                self.state.finish_monitor(id, "rolled_back", &detail, now_ms())?;
                self.notify(EventKind::RolledBack, release, &format!("rolled back to {}", report.to), why);
                Err(CliError::RolledBack(format!("monitor: {detail}")))
            }
            Err(e) => {
                self.state.finish_monitor(id, "breached", &format!("{why}; rollback failed: {e}"), now_ms())?;
                self.notify(EventKind::RollbackFailed, release, "rollback failed", &e.to_string());
                Err(e.into())
            }
        }
    }

    fn window_passed(&self, id: i64, release: &str, breached: bool) -> Result<String, CliError> {
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
            return Err(CliError::Check(format!(
                "monitor: the window ended without measurements at its end ({detail}): is this machine's network down?"
            )));
        }
        if breached {
            self.state.finish_monitor(id, "breached", &detail, now_ms())?;
            return Err(CliError::Check(format!("monitor: the window ended with a breach ({detail})")));
        }
        self.state.finish_monitor(id, "passed", &detail, now_ms())?;
        self.state.record_gate(
            "monitor",
            self.env,
            &self.config.hash,
            true,
            &format!("{{\"release\":\"{release}\"}}"),
        )?;
        self.notify(EventKind::WindowPassed, release, "monitor window passed: steady state", &detail);
        self.ctx.out.say(&format!("monitor: {release} passed its window ({detail}): steady state"));
        Ok(format!("monitor passed: {detail}"))
    }

    fn notify(&self, kind: EventKind, release: &str, title: &str, detail: &str) {
        if self.channels.is_empty() {
            return;
        }
        let event = Event::new(kind, self.env, format!("{} {}: {title}", self.config.app.name.as_str(), self.env))
            .release(release)
            .detail(detail);
        let (notifier, channels) = (self.notifier.clone(), self.channels.clone());
        let out = self.ctx.out.warnings();
        let handle = std::thread::spawn(move || {
            for (channel, result) in notifier.send_all(&channels, &event) {
                if let Err(e) = result {
                    out(&format!("notification to {channel} failed: {e}"));
                }
            }
        });
        self.sending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(handle);
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

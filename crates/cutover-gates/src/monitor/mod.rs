//! Stage 5, the monitor: sample every check each interval for the window (24–48 h), judge the
//! failures and the k6 thresholds over a sliding window, and on a breach roll back once (or only
//! alert). Every round goes to the local state, so a restarted monitor resumes its window
//! ([`claim`]); memory does not grow with the window.

mod claim;
mod watch;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cutover_checks::thresholds::{self, Threshold};
use cutover_config::{Config, OnFail, SmtpTls};
use cutover_notify::{Attachment, Channel, Notifier, Smtp};
use cutover_release::ReleaseError;
use cutover_remote::SshOptions;
use cutover_secrets::{Secret, SecretsError};
use cutover_state::State;

use crate::{GateError, GateReporter, Plan};

/// How long the monitor watches and how often it samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    window: Duration,
    interval: Duration,
}

impl Schedule {
    /// A window sampled every `interval`: above zero and within the window.
    pub fn new(window: Duration, interval: Duration) -> Result<Self, GateError> {
        if interval.is_zero() || interval > window {
            return Err(GateError::Interval);
        }
        Ok(Self { window, interval })
    }
}

/// `cutover monitor`.
pub struct MonitorRequest<'a> {
    pub config: &'a Config,
    pub env: &'a str,
    /// The checks of each round.
    pub plan: Plan,
    pub schedule: Schedule,
    pub on_fail: OnFail,
    pub ssh: &'a SshOptions,
    /// Where `.cutover/` is: the config file's directory.
    /// The process's one connection to the local state (`.cutover/state.db`).
    pub state: &'a State,
    /// A secret of the environment by name, for `[smtp] password_secret`; asked only when set.
    pub secret: &'a dyn Fn(&str) -> Result<Secret, SecretsError>,
    /// `[report] notify`: the launch report of the release whose window just passed, made once
    /// that window and its gate are recorded, sent with the "window passed" notification.
    pub report: Option<&'a MakeReport<'a>>,
}

impl std::fmt::Debug for MonitorRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorRequest")
            .field("env", &self.env)
            .field("plan", &self.plan)
            .field("schedule", &self.schedule)
            .field("on_fail", &self.on_fail)
            .finish_non_exhaustive()
    }
}

/// A window that ended clean: the `monitor` gate is recorded (steady state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub release: String,
    /// Rounds, samples, failed and inconclusive rounds.
    pub detail: String,
}

/// Watches the release the hosts run now for the window, or resumes the environment's monitor
/// of it; refused while another monitor of the environment samples. Ends when the window has
/// passed, or at a breach with `on_fail = "rollback"` (every host rolled back, an error); every
/// notification is sent before it returns.
pub fn monitor(req: MonitorRequest<'_>, reporter: &dyn GateReporter) -> Result<Passed, GateError> {
    let MonitorRequest { config, env, plan, schedule, on_fail, ssh, state, secret, report } = req;
    let mut thresholds = Vec::new();
    for (metric, expr) in &config.monitor.thresholds {
        let t = thresholds::parse(metric, expr).map_err(|reason| GateError::Threshold {
            metric: metric.clone(),
            expr: expr.clone(),
            reason,
        })?;
        thresholds.push((format!("{metric} {expr}"), t));
    }
    let mut channels = Vec::new();
    for text in &config.monitor.notify {
        channels.push(Channel::parse(text).map_err(|e| GateError::Channel { reason: e.to_string() })?);
    }
    let smtp = match &config.smtp {
        Some(s) => Some(Smtp {
            host: s.host.clone(),
            port: s.port,
            from: s.from.clone(),
            username: s.username.clone(),
            password: match &s.password_secret {
                Some(name) => Some(secret(name)?.expose().to_owned()),
                None => None,
            },
            tls: match s.tls {
                SmtpTls::Starttls => cutover_notify::SmtpTls::StartTls,
                SmtpTls::Tls => cutover_notify::SmtpTls::Tls,
                SmtpTls::None => cutover_notify::SmtpTls::None,
            },
            timeout: s.timeout.0,
        }),
        None => None,
    };
    if channels.iter().any(|c| matches!(c, Channel::Mail(_))) && smtp.is_none() {
        return Err(GateError::MailWithoutSmtp);
    }

    // The release being watched is what the hosts run now.
    let release = {
        let fleet = crate::connect(config, env, ssh, reporter)?;
        let hosts = cutover_release::status(&fleet)?;
        let currents: std::collections::BTreeSet<_> = hosts.iter().map(|h| h.current.clone()).collect();
        if currents.len() != 1 {
            return Err(ReleaseError::Partial {
                detail: "hosts are on different releases; see `cutover status`".into(),
            }
            .into());
        }
        currents.into_iter().next().flatten().ok_or(GateError::NothingDeployed)?
    };

    let record = claim::claim(state, env, &release, &config.hash, schedule, plan.len(), reporter)?;
    let notifier = Notifier::new(plan.trust().clone()).smtp(smtp);
    let watch = watch::Watch { config, env, ssh, plan, thresholds, channels, notifier, state, reporter, report };
    // Notifications go out from threads of this scope: a slow receiver never delays a rollback,
    // and all of them are sent before the command ends.
    std::thread::scope(|scope| {
        let result = watch.run(scope, &record, &release, on_fail);
        if let Some(m) = watch.state.latest_monitor(env)?.filter(|m| m.id == record.id) {
            reporter.monitor_ended(&m, &watch.state.round_stats(m.id)?);
        }
        result
    })
}

/// Makes the launch report of a release (`[report] notify`): the file to attach, or why not.
pub type MakeReport<'a> = dyn Fn(&str) -> Result<Attachment, String> + 'a;

/// The thresholds as parsed, each with its text as written (`http_req_duration p(95)<800`).
type Thresholds = Vec<(String, Threshold)>;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_must_be_above_zero_and_within_the_window() {
        let s = Duration::from_secs;
        assert!(matches!(Schedule::new(s(60), Duration::ZERO), Err(GateError::Interval)));
        assert!(matches!(Schedule::new(s(60), s(61)), Err(GateError::Interval)));
        assert_eq!(Schedule::new(s(60), s(60)).unwrap(), Schedule { window: s(60), interval: s(60) });
    }
}

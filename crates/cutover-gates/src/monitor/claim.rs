//! One monitor per environment: a second one would sample twice and could roll back twice. The
//! environment's running monitor is resumed when it watches the same release and its window has
//! not ended, so a monitor that was killed (or whose machine restarted) goes on where it was.

use cutover_config::human;
use cutover_remote::{Reporter, process_exists};
use cutover_state::{MonitorRecord, State};

use super::{Schedule, now_ms};
use crate::GateError;

/// The monitor this process runs from now on: the environment's, resumed, or a new one. Refused
/// while another process samples the environment (recently, and alive when on this machine).
pub(super) fn claim(
    state: &State,
    env: &str,
    release: &str,
    config_hash: &str,
    schedule: Schedule,
    checks: usize,
    reporter: &dyn Reporter,
) -> Result<MonitorRecord, GateError> {
    let started = now_ms();
    let me = cutover_remote::Identity::current();
    if let Some(m) = state.latest_monitor(env)?.filter(|m| m.state == "running") {
        let recent = started - m.updated_ms < 3 * m.interval_ms + 10_000;
        let alive = if m.machine == me.machine {
            m.pid > 0 && m.pid != i64::from(std::process::id()) && u32::try_from(m.pid).is_ok_and(process_exists)
        } else {
            true
        };
        if recent && alive {
            return Err(GateError::MonitorRunning {
                env: env.to_owned(),
                release: m.release,
                machine: m.machine,
                pid: m.pid,
                ago: human::whole_seconds(started - m.updated_ms),
            });
        }
    }
    let (window, interval) = (schedule.window.as_millis() as i64, schedule.interval.as_millis() as i64);
    let monitor = match state.latest_monitor(env)? {
        // A monitor stopped by a signal is resumed as one that was killed is.
        Some(m)
            if matches!(m.state.as_str(), "running" | "interrupted") && m.release == release && m.ends_ms > started =>
        {
            reporter.step(
                None,
                &format!(
                    "resuming the monitor of {release} ({} left of its window)",
                    human::whole_seconds(m.ends_ms - started)
                ),
            );
            m
        }
        _ => {
            let id = state.start_monitor(env, release, config_hash, started, started + window, interval)?;
            reporter.step(
                None,
                &format!(
                    "watching {release} on {env} for {}, every {}: {checks} checks",
                    human::duration(schedule.window),
                    human::duration(schedule.interval)
                ),
            );
            state.latest_monitor(env)?.filter(|m| m.id == id).expect("the monitor just recorded")
        }
    };
    if monitor.state == "interrupted" {
        // Running again; a breach seen in alert mode before stays on record.
        let detail = if monitor.detail.starts_with("breached") { monitor.detail.as_str() } else { "" };
        state.finish_monitor(monitor.id, "running", detail, started)?;
    }
    state.claim_monitor(monitor.id, std::process::id(), &me.machine)?;
    Ok(monitor)
}

//! The stages' logic, between the command line and the engines.
//!
//! What a stage runs, in which order, what it records and when it rolls back.
//!
//! - [`Plan`]: the `[[check]]`s of an environment and where they go (the public URL, and each
//!   host for `every_host`).
//! - [`smoke`] (stage 4): `cutover smoke`, recorded as the `smoke` gate, and [`AfterDeploy`], the
//!   check a deploy runs right after its switch, with its retries.
//! - [`monitor`] (stage 5): one monitor per environment, resumed after a restart, sampling every
//!   interval for the window; a breach rolls back once (or alerts) and notifies.
//!
//! - [`gate`]: where each gate of an environment stands (passed for this config within
//!   `[gates] max_age`, failed, expired, passed for another config, missing).
//! - [`attest`]: pre-flight item 7, items vouched for by a named person.
//! - [`preflight`] (stage 1): the seven items with their evidence, judged by the launch path.
//! - [`promote`]: what `cutover promote` may take from staging (its live artifact, smoked there).
//! - [`path`]: the launch path (fast, hardened, iterative), chosen once per environment; a
//!   change needs a reason.
//!
//! Everything here reports through [`GateReporter`] and returns [`GateError`]; it never prints
//! and never exits.

pub mod attest;
mod error;
pub mod gate;
pub mod monitor;
pub mod path;
mod plan;
pub mod preflight;
pub mod promote;
mod reporter;
pub mod smoke;

pub use error::GateError;
pub use gate::{GateStatus, Standing, check_deploy, gate_statuses};
pub use monitor::{MakeReport, MonitorRequest, Passed, Schedule, monitor};
pub use path::{LaunchPath, PathChange, PathState};
pub use plan::Plan;
pub use reporter::{GateReporter, Run};
pub use smoke::{AfterDeploy, Row, SmokeRequest, rows, smoke};

use cutover_config::Config;
use cutover_release::Fleet;
use cutover_remote::{Reporter, SshOptions};

/// Connects to every host of environment `env`.
fn connect(config: &Config, env: &str, ssh: &SshOptions, reporter: &dyn Reporter) -> Result<Fleet, GateError> {
    let environment = config.env(env)?;
    Ok(Fleet::connect(env, environment.hosts(), environment.path.clone(), ssh, reporter)?)
}

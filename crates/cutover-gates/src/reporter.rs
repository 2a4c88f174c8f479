//! How a stage tells the user what it does: the engine's [`Reporter`] (steps, warnings, the
//! rollback's progress) and what only the stages have (samples, the monitor's status line).

use cutover_checks::smoke::Sample;
use cutover_remote::Reporter;
use cutover_state::{MonitorRecord, RoundStats};

/// Which run of the checks [`GateReporter::samples`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// `cutover smoke`: the samples are the command's data.
    Smoke,
    /// A deploy's check after its switch: the deploy's report is the command's data.
    AfterDeploy,
}

/// Receives what a stage reports while it works; the binary prints it.
pub trait GateReporter: Reporter {
    /// One run of the checks, in the plan's order.
    fn samples(&self, run: Run, samples: &[Sample]);
    /// The monitor's state after a round (a line rewritten in place on a terminal).
    fn status(&self, line: &str);
    /// A line kept above the status: a warning, or a breach in alert mode.
    fn note(&self, line: &str);
    /// The monitor's rounds are over (before its rollback or its verdict).
    fn rounds_done(&self);
    /// The monitor's record and its round counts as it ends, whatever the outcome.
    fn monitor_ended(&self, record: &MonitorRecord, rounds: &RoundStats);
}

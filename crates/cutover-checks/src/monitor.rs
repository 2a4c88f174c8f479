//! The monitor's judgement, kept apart from its loop so it can be tested on its own: what a
//! round of samples means, and whether the window so far is a breach. Rounds where every check
//! failed to even reach the network say nothing about the site ("inconclusive"): they never
//! count as failures and never cause a rollback; too many in a row only raise an alert.

/// What one round (every check × every target, once) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Ok,
    Failed,
    /// Every sample failed at the connection level from this side: the operator's network, not
    /// the site, is the likely cause.
    Inconclusive,
}

impl Round {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// One sample, as the judgement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// The failure was at the connection level (DNS, connect, timeout before any answer).
    pub local_network: bool,
}

impl From<&crate::smoke::Sample> for Outcome {
    fn from(s: &crate::smoke::Sample) -> Self {
        Outcome { ok: s.ok, local_network: s.failure.is_some_and(|f| f.is_local_network()) }
    }
}

pub fn judge_round(samples: &[Outcome]) -> Round {
    if samples.is_empty() {
        return Round::Inconclusive;
    }
    if samples.iter().all(|s| !s.ok && s.local_network) {
        return Round::Inconclusive;
    }
    if samples.iter().any(|s| !s.ok) { Round::Failed } else { Round::Ok }
}

/// The limits, as in `[monitor]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failed rounds tolerated; one more is a breach (Argo Rollouts' `failureLimit`).
    pub failure_limit: u32,
    /// Inconclusive rounds in a row before an alert (Argo Rollouts' `consecutiveErrorLimit`).
    pub consecutive_errors: u32,
}

/// The window so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub failed_rounds: u32,
    pub inconclusive_streak: u32,
}

/// One threshold's result over the sliding window.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdResult {
    pub passed: bool,
    /// `http_req_duration p(95)=912ms, limit <800`.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Roll back (or alert): why.
    Breach(String),
    /// Nothing could be measured for too long: alert, never roll back.
    Blind(String),
}

pub fn decide(tally: Tally, limits: Limits, thresholds: &[ThresholdResult]) -> Decision {
    if tally.failed_rounds > limits.failure_limit {
        return Decision::Breach(format!(
            "{} failed rounds, more than the failure limit of {}",
            tally.failed_rounds, limits.failure_limit
        ));
    }
    let broken: Vec<&str> = thresholds.iter().filter(|t| !t.passed).map(|t| t.text.as_str()).collect();
    if !broken.is_empty() {
        return Decision::Breach(format!("threshold crossed: {}", broken.join("; ")));
    }
    if tally.inconclusive_streak > limits.consecutive_errors {
        return Decision::Blind(format!(
            "{} rounds in a row could not reach anything (all checks failed to connect from here): \
             is this machine's network down? Not rolling back on that",
            tally.inconclusive_streak
        ));
    }
    Decision::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome { ok: true, local_network: false };
    const BAD: Outcome = Outcome { ok: false, local_network: false };
    const NO_NET: Outcome = Outcome { ok: false, local_network: true };
    const LIMITS: Limits = Limits { failure_limit: 2, consecutive_errors: 3 };

    #[test]
    fn a_round_is_inconclusive_only_when_nothing_was_reached() {
        assert_eq!(judge_round(&[OK, OK]), Round::Ok);
        assert_eq!(judge_round(&[OK, BAD]), Round::Failed);
        assert_eq!(judge_round(&[OK, NO_NET]), Round::Failed, "one target unreachable, others fine: the site");
        assert_eq!(judge_round(&[NO_NET, NO_NET]), Round::Inconclusive);
        assert_eq!(judge_round(&[]), Round::Inconclusive);
    }

    #[test]
    fn failures_beyond_the_limit_and_crossed_thresholds_are_breaches_a_dead_network_is_not() {
        let tally = |failed_rounds, inconclusive_streak| Tally { failed_rounds, inconclusive_streak };
        assert_eq!(decide(tally(2, 0), LIMITS, &[]), Decision::Continue);
        assert!(matches!(decide(tally(3, 0), LIMITS, &[]), Decision::Breach(m) if m.contains("3 failed rounds")));
        let crossed = ThresholdResult { passed: false, text: "http_req_duration p(95)=900ms, limit <800".into() };
        assert!(matches!(decide(tally(0, 0), LIMITS, &[crossed]), Decision::Breach(m) if m.contains("p(95)=900ms")));
        assert_eq!(decide(tally(0, 3), LIMITS, &[]), Decision::Continue);
        assert!(matches!(decide(tally(0, 4), LIMITS, &[]), Decision::Blind(m) if m.contains("network down")));
    }
}

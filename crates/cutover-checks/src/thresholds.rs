//! The monitor's thresholds, in k6's syntax so they read as they would in a k6 script:
//! `http_req_failed = "rate<0.01"`, `http_req_duration = "p(95)<800"` (milliseconds).
//!
//! - `http_req_failed` is a rate: the share of samples that failed (any [`Failure`], so a
//!   body mismatch or a `max_latency` overrun counts, not only a bad status); aggregation `rate`.
//! - `http_req_duration` is a trend over the samples' latency ([`Sample::latency`], k6's
//!   definition) in milliseconds; samples without a response have none and are left out.
//!   Aggregations `avg`, `min`, `max`, `med`, `p(N)` (N from 0 to 100, decimals allowed), with
//!   k6's percentile: linear interpolation between the closest ranks.
//! - Operators `<`, `<=`, `>`, `>=`, `==` (also `===`), `!=`.
//!
//! A threshold with nothing to judge (no samples, or no responses for a duration) passes and
//! says so, as in k6: the failed rate is what catches a site that does not answer.
//!
//! [`Failure`]: cutover_http::Failure

use std::fmt;
use std::time::Duration;

use crate::smoke::Sample;

/// The metrics cutover records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    HttpReqFailed,
    HttpReqDuration,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::HttpReqFailed, Metric::HttpReqDuration];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::HttpReqFailed => "http_req_failed",
            Metric::HttpReqDuration => "http_req_duration",
        }
    }

    pub fn parse(name: &str) -> Result<Metric, String> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name).ok_or_else(|| {
            format!("unknown metric `{name}`: cutover records `http_req_failed` and `http_req_duration`")
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a threshold computes over the samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    /// Failed samples / all samples (`http_req_failed`).
    Rate,
    Avg,
    Min,
    Max,
    Med,
    /// `p(N)`, N in 0..=100.
    Percentile(f64),
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
            Op::Eq => observed == limit,
            Op::Ne => observed != limit,
        }
    }
}

/// One threshold expression on one metric: `p(95)<800` on `http_req_duration`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub aggregation: Aggregation,
    pub op: Op,
    /// A rate (0 to 1) or milliseconds.
    pub limit: f64,
    /// The expression as written.
    pub expr: String,
}

impl fmt::Display for Threshold {
    /// `http_req_duration p(95)<800`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.metric, self.expr)
    }
}

/// What a threshold needs of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub failed: bool,
    /// The latency, when a response arrived ([`Sample::latency`]).
    pub duration: Option<Duration>,
}

impl From<&Sample> for Observation {
    fn from(sample: &Sample) -> Observation {
        Observation { failed: !sample.ok, duration: sample.latency }
    }
}

/// A threshold judged over a window of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub passed: bool,
    /// The aggregate (a rate, or milliseconds); `None` when there was nothing to judge.
    pub observed: Option<f64>,
    /// `p(95)=812ms over 120 responses, limit <800`; `rate=0.03 (3 of 100 failed), limit <0.01`.
    pub text: String,
}

/// Parses one expression for `metric` (`http_req_failed`, `http_req_duration`).
pub fn parse(metric: &str, expr: &str) -> Result<Threshold, String> {
    let metric = Metric::parse(metric)?;
    let bad = |why: String| format!("{metric} threshold `{expr}`: {why}");
    let at = expr
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| bad("no comparison; write it like `rate<0.01` or `p(95)<800`".into()))?;
    let (left, rest) = expr.split_at(at);
    let (op, right) =
        [("<=", Op::Le), (">=", Op::Ge), ("===", Op::Eq), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)]
            .into_iter()
            .find_map(|(text, op)| rest.strip_prefix(text).map(|r| (op, r)))
            .ok_or_else(|| {
                bad(format!("`{}` is not a comparison (<, <=, >, >=, ==, !=)", rest.chars().next().unwrap_or(' ')))
            })?;
    let aggregation = aggregation(left.trim()).map_err(&bad)?;
    let right = right.trim();
    let limit = right.parse::<f64>().ok().filter(|l| l.is_finite()).ok_or_else(|| match metric {
        Metric::HttpReqDuration => {
            bad(format!("`{right}` is not a number (durations are in milliseconds: `p(95)<800`)"))
        }
        Metric::HttpReqFailed => bad(format!("`{right}` is not a number (a rate from 0 to 1: `rate<0.01`)")),
    })?;
    match (metric, aggregation) {
        (Metric::HttpReqFailed, Aggregation::Rate) => {}
        (Metric::HttpReqFailed, other) => {
            return Err(bad(format!("`{other}` does not apply: {metric} is a rate, use `rate`")));
        }
        (Metric::HttpReqDuration, Aggregation::Rate) => {
            return Err(bad(format!("`rate` does not apply: {metric} is a trend, use avg, min, max, med or p(N)")));
        }
        (Metric::HttpReqDuration, _) => {}
    }
    Ok(Threshold { metric, aggregation, op, limit, expr: expr.trim().to_string() })
}

/// Parses several expressions for one metric (k6 takes an array); all must parse.
pub fn parse_all<S: AsRef<str>>(metric: &str, exprs: &[S]) -> Result<Vec<Threshold>, String> {
    exprs.iter().map(|e| parse(metric, e.as_ref())).collect()
}

fn aggregation(text: &str) -> Result<Aggregation, String> {
    Ok(match text {
        "rate" => Aggregation::Rate,
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        "" => return Err("no aggregation before the comparison (`rate`, `avg`, `p(95)`, ...)".into()),
        _ => {
            let p = text
                .strip_prefix("p(")
                .and_then(|t| t.strip_suffix(')'))
                .ok_or_else(|| format!("unknown aggregation `{text}` (rate, avg, min, max, med, p(N))"))?;
            match p.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Aggregation::Percentile(p),
                _ => return Err(format!("`{text}`: the percentile must be a number from 0 to 100")),
            }
        }
    })
}

impl Threshold {
    /// Judges the threshold over `window`.
    pub fn evaluate(&self, window: &[Observation]) -> Evaluation {
        let limit = format!("limit {}{}", self.op.as_str(), number(self.limit));
        let (observed, what) = match self.metric {
            Metric::HttpReqFailed => {
                let failed = window.iter().filter(|o| o.failed).count();
                if window.is_empty() {
                    (None, "no samples".to_string())
                } else {
                    let rate = failed as f64 / window.len() as f64;
                    (Some(rate), format!("rate={} ({failed} of {} failed)", number(rate), window.len()))
                }
            }
            Metric::HttpReqDuration => {
                let mut ms: Vec<f64> =
                    window.iter().filter_map(|o| o.duration).map(|d| d.as_secs_f64() * 1000.0).collect();
                if ms.is_empty() {
                    (None, "no responses".to_string())
                } else {
                    ms.sort_by(f64::total_cmp);
                    let value = trend(&ms, self.aggregation);
                    (Some(value), format!("{}={}ms over {} responses", self.aggregation, number(value), ms.len()))
                }
            }
        };
        let passed = observed.is_none_or(|v| self.op.holds(v, self.limit));
        Evaluation { passed, observed, text: format!("{what}, {limit}") }
    }
}

/// An aggregate of sorted, non-empty values.
fn trend(sorted: &[f64], aggregation: Aggregation) -> f64 {
    match aggregation {
        Aggregation::Avg => sorted.iter().sum::<f64>() / sorted.len() as f64,
        Aggregation::Min => sorted[0],
        Aggregation::Max => sorted[sorted.len() - 1],
        Aggregation::Med => percentile(sorted, 50.0),
        Aggregation::Percentile(p) => percentile(sorted, p),
        Aggregation::Rate => f64::NAN,
    }
}

/// k6's `TrendSink.P`: the value at rank `p% × (n − 1)`, interpolated between its neighbours.
/// `sorted` must be sorted and not empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = p / 100.0 * (sorted.len() - 1) as f64;
    let (low, high) = (sorted[i.floor() as usize], sorted[i.ceil() as usize]);
    low + (high - low) * (i - i.floor())
}

/// Up to 4 decimals, trailing zeros dropped; whole milliseconds above 10.
fn number(v: f64) -> String {
    if v.abs() >= 10.0 {
        return format!("{}", v.round());
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

//! k6 threshold expressions: what parses, what does not and why, and their verdicts over a
//! window of samples.

use std::time::Duration;

use cutover_checks::thresholds::{self, Aggregation, Metric, Observation, Op};

fn ok(ms: u64) -> Observation {
    Observation { failed: false, duration: Some(Duration::from_millis(ms)) }
}

fn failed(ms: Option<u64>) -> Observation {
    Observation { failed: true, duration: ms.map(Duration::from_millis) }
}

#[test]
fn expressions_parse_as_k6_writes_them() {
    let t = thresholds::parse("http_req_duration", "p(95)<800").unwrap();
    assert_eq!(
        (t.metric, t.aggregation, t.op, t.limit),
        (Metric::HttpReqDuration, Aggregation::Percentile(95.0), Op::Lt, 800.0)
    );
    assert_eq!(t.to_string(), "http_req_duration p(95)<800");
    let t = thresholds::parse("http_req_failed", " rate <= 0.01 ").unwrap();
    assert_eq!((t.aggregation, t.op, t.limit, t.expr.as_str()), (Aggregation::Rate, Op::Le, 0.01, "rate <= 0.01"));
    for (expr, aggregation, op) in [
        ("avg<200", Aggregation::Avg, Op::Lt),
        ("min>=1", Aggregation::Min, Op::Ge),
        ("max > 3000", Aggregation::Max, Op::Gt),
        ("med==100", Aggregation::Med, Op::Eq),
        ("med===100", Aggregation::Med, Op::Eq),
        ("p(99.9)!=5", Aggregation::Percentile(99.9), Op::Ne),
        ("p(0)<1", Aggregation::Percentile(0.0), Op::Lt),
    ] {
        let t = thresholds::parse("http_req_duration", expr).unwrap();
        assert_eq!((t.aggregation, t.op), (aggregation, op), "{expr}");
    }
    let all = thresholds::parse_all("http_req_duration", &["p(95)<800", "p(99)<1500"]).unwrap();
    assert_eq!(all.len(), 2);
}

#[test]
fn bad_expressions_say_why() {
    for (metric, expr, says) in [
        ("http_req_failure", "rate<0.01", "unknown metric `http_req_failure`"),
        ("http_req_failed", "rate", "no comparison"),
        ("http_req_failed", "avg<0.01", "http_req_failed is a rate, use `rate`"),
        ("http_req_duration", "rate<0.01", "http_req_duration is a trend"),
        ("http_req_duration", "p(95)<800ms", "`800ms` is not a number (durations are in milliseconds"),
        ("http_req_duration", "p(101)<800", "from 0 to 100"),
        ("http_req_duration", "p95<800", "unknown aggregation `p95`"),
        ("http_req_duration", "<800", "no aggregation"),
        ("http_req_duration", "avg=<800", "`=` is not a comparison"),
        ("http_req_failed", "rate<", "`` is not a number (a rate from 0 to 1"),
        ("http_req_failed", "rate<NaN", "is not a number"),
    ] {
        let err = thresholds::parse(metric, expr).unwrap_err();
        assert!(err.contains(says), "{metric} {expr:?}: {err}");
    }
    assert!(thresholds::parse_all("http_req_duration", &["p(95)<800", "p(99)<"]).is_err());
}

#[test]
fn failed_rate() {
    let t = thresholds::parse("http_req_failed", "rate<0.05").unwrap();
    let mut window: Vec<Observation> = (0..97).map(|_| ok(10)).collect();
    window.extend([failed(None), failed(Some(5)), failed(None)]);
    let e = t.evaluate(&window);
    assert!(e.passed, "{e:?}");
    assert_eq!(e.observed, Some(0.03));
    assert_eq!(e.text, "rate=0.03 (3 of 100 failed), limit <0.05");
    let strict = thresholds::parse("http_req_failed", "rate<0.01").unwrap();
    assert!(!strict.evaluate(&window).passed);
    assert!(thresholds::parse("http_req_failed", "rate==0").unwrap().evaluate(&[ok(1), ok(2)]).passed);
}

#[test]
fn duration_aggregates_follow_k6() {
    // 1..=100 ms: k6's p(95) is the value at rank 0.95 × 99 = 94.05 → 95 + 0.05 = 95.05.
    let window: Vec<Observation> = (1..=100).map(ok).collect();
    let observed =
        |expr: &str| thresholds::parse("http_req_duration", expr).unwrap().evaluate(&window).observed.unwrap();
    assert!((observed("p(95)<1") - 95.05).abs() < 1e-9);
    assert!((observed("med<1") - 50.5).abs() < 1e-9);
    assert!((observed("avg<1") - 50.5).abs() < 1e-9);
    assert_eq!(observed("min<1"), 1.0);
    assert_eq!(observed("max<1"), 100.0);
    assert_eq!(observed("p(100)<1"), 100.0);
    assert_eq!(observed("p(0)<1"), 1.0);

    let p95 = thresholds::parse("http_req_duration", "p(95)<90").unwrap().evaluate(&window);
    assert!(!p95.passed);
    assert_eq!(p95.text, "p(95)=95ms over 100 responses, limit <90");
    assert!(thresholds::parse("http_req_duration", "p(95)<=95.05").unwrap().evaluate(&window).passed);
}

#[test]
fn samples_without_a_response_are_not_durations_and_an_empty_window_passes() {
    let t = thresholds::parse("http_req_duration", "max<100").unwrap();
    let e = t.evaluate(&[ok(40), failed(None), failed(None), ok(60)]);
    assert_eq!((e.passed, e.observed), (true, Some(60.0)));
    assert_eq!(e.text, "max=60ms over 2 responses, limit <100");
    let none = t.evaluate(&[failed(None)]);
    assert_eq!((none.passed, none.observed, none.text.as_str()), (true, None, "no responses, limit <100"));
    let rate = thresholds::parse("http_req_failed", "rate<0.01").unwrap().evaluate(&[]);
    assert_eq!((rate.passed, rate.observed, rate.text.as_str()), (true, None, "no samples, limit <0.01"));
    // A single value is every percentile.
    let one = thresholds::parse("http_req_duration", "p(95)<100").unwrap().evaluate(&[ok(250)]);
    assert_eq!((one.passed, one.observed), (false, Some(250.0)));
}

proptest::proptest! {
    #[test]
    fn written_expressions_parse_back(
        agg in 0usize..5,
        p in 0.0f64..=100.0,
        op in 0usize..6,
        limit in 0.0f64..100_000.0,
        spaces in proptest::bool::ANY,
    ) {
        let aggregation = ["avg", "min", "max", "med", "p"][agg];
        let aggregation = if aggregation == "p" { format!("p({p})") } else { aggregation.to_string() };
        let op = ["<", "<=", ">", ">=", "==", "!="][op];
        let gap = if spaces { " " } else { "" };
        let expr = format!("{aggregation}{gap}{op}{gap}{limit}");
        let t = thresholds::parse("http_req_duration", &expr).unwrap();
        proptest::prop_assert_eq!(t.op.as_str(), op);
        proptest::prop_assert_eq!(t.limit, limit);
        proptest::prop_assert_eq!(t.aggregation.to_string(), aggregation);
    }
}

//! The report as lines for the terminal, tab-separated like `cutover status`.

use cutover_config::human;

use crate::model::Report;

/// Every line of the terminal summary, in the page's order.
pub fn summary(r: &Report) -> Vec<String> {
    let mut lines = vec![format!(
        "report\t{} {}\tgenerated {}{}",
        r.app,
        r.env,
        r.generated_at,
        r.since.as_deref().map_or(String::new(), |s| format!(" (since {s})"))
    )];
    lines.push(match (&r.path.current, r.path.history.last()) {
        (Some(p), Some(c)) => format!("path\t{p}\tsince {} by {}@{}", c.at, c.user, c.machine),
        _ => "path\tnone".to_owned(),
    });
    for c in r.path.history.iter().filter(|c| c.reason.is_some()) {
        lines.push(format!("path change\t{}\t{} by {}: {}", c.path, c.at, c.user, c.reason.as_deref().unwrap_or("")));
    }
    for s in &r.stages {
        lines.push(format!("stage {}\t{}\t{}\t{}", s.stage, s.verdict, s.at.as_deref().unwrap_or("-"), s.detail));
    }
    for g in &r.gates {
        lines.push(format!(
            "gate {}\t{}\t{}\tby {}\tconfig {}{}\t{}",
            g.stage,
            if g.passed { "passed" } else { "failed" },
            g.at,
            g.by.as_deref().unwrap_or("?"),
            &g.config_hash[..12.min(g.config_hash.len())],
            if g.this_config { " (this config)" } else { "" },
            g.summary
        ));
    }
    for d in &r.deferred {
        lines.push(format!("deferred\t{} {}\t{}", d.number, d.name, d.detail));
    }
    for a in &r.attestations {
        lines.push(format!(
            "attested\t{}\tby {}\t{}{}",
            a.item,
            a.by,
            a.at,
            a.note.as_deref().map_or(String::new(), |n| format!("\t{n}"))
        ));
    }
    for h in &r.hosts {
        let count = |k: &str| h.events.iter().filter(|e| e.kind == k).count();
        lines.push(format!(
            "host {}\tcurrent {}\t{} deploy(s), {} rollback(s), {} failed",
            h.host,
            h.current.as_deref().unwrap_or("none"),
            count("deploy"),
            count("rollback"),
            count("failed")
        ));
        for e in &h.events {
            lines.push(format!(
                "event\t{}\t{}\t{}\t{}\tby {}{}",
                e.at,
                h.host,
                e.kind,
                e.release.as_deref().unwrap_or("-"),
                e.by,
                e.reason.as_deref().map_or(String::new(), |w| format!("\t{w}"))
            ));
        }
    }
    for u in &r.unreadable {
        lines.push(format!("host {}\tnot read\t{}", u.host, u.why));
    }
    for m in &r.monitors {
        let worst =
            m.rounds.iter().filter_map(|p| p.p95_ms).fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
        let rate = if m.samples == 0 { 0.0 } else { m.failed_samples as f64 / m.samples as f64 };
        lines.push(format!(
            "monitor #{}\t{} of {}\t{} round(s), {} sample(s), error rate {:.1}%, worst p95 {}\t{}",
            m.id,
            m.state,
            m.release,
            m.rounds.len(),
            m.samples,
            rate * 100.0,
            worst.map_or("-".to_owned(), |ms| human::duration(std::time::Duration::from_secs_f64(ms / 1000.0))),
            m.detail
        ));
        if let Some(b) = &m.breach {
            lines.push(format!("breach\t#{} round {}\t{}", m.id, b.round, b.why));
        }
    }
    match &r.secrets.audit {
        Some(a) => lines.push(format!(
            "secrets audit\t{}\t{} by {}\t{}",
            match a.exit_code {
                Some(0) => "passed",
                Some(_) => "failed",
                None => "unfinished",
            },
            a.at,
            a.by,
            a.summary.as_deref().unwrap_or("")
        )),
        None => lines.push("secrets audit\tnever run: `cutover secrets audit`".to_owned()),
    }
    if let Some(i) = &r.secrets.preflight {
        lines.push(format!("secrets pre-flight\t{}\t{}", i.result, i.detail));
    }
    for rot in &r.secrets.rotations {
        lines.push(format!("rotated\t{}\t{}\tby {}@{}", rot.name, rot.at, rot.user, rot.machine));
    }
    for s in &r.database.seeds {
        lines.push(format!(
            "seed\t{}\tby {}\texit {}\t{}",
            s.at,
            s.by,
            s.exit_code.map_or("-".to_owned(), |c| c.to_string()),
            s.summary.as_deref().unwrap_or(&s.command)
        ));
    }
    for s in &r.database.snapshots {
        lines.push(format!(
            "snapshot\t{}\t{}\t{}\t{}, {} table(s), {} row(s)",
            s.id,
            s.release.as_deref().unwrap_or("-"),
            s.time,
            human::bytes(s.size),
            s.tables,
            s.rows
        ));
    }
    if let Some(e) = &r.database.snapshots_error {
        lines.push(format!("snapshots\tnot listed: {e}"));
    }
    lines
}

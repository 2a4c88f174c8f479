//! The report as one HTML page: inline CSS (responsive, light and dark), the charts as inline
//! SVG, findings in `<details>`; no script and nothing fetched, so it reads the same from a
//! mail attachment, a file or a web server. Every text from the state or a journal is escaped.

use std::fmt::Write;

use cutover_config::human;

use crate::model::{GateRun, Report};
use crate::{ReportError, chart};

const STYLE: &str = r##"
:root { --bg: #f6f7f9; --card: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d8dde3;
  --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --info: #0969da; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --card: #161b22; --fg: #e6edf3; --muted: #9198a1; --line: #30363d;
    --pass: #3fb950; --fail: #f85149; --warn: #d29922; --info: #4493f8; }
  .chart svg rect[fill="#FFFFFF"] { fill: var(--card); }
  .chart svg text { fill: var(--fg); }
  .chart svg [stroke="#000000"] { stroke: var(--muted); }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 16px; }
header h1 { font-size: 1.6rem; margin: 8px 0 4px; }
header p { margin: 0; color: var(--muted); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; margin: 16px 0; }
h2 { font-size: 1.2rem; margin: 0 0 10px; }
h3 { font-size: 1.02rem; margin: 14px 0 6px; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.86rem; }
pre { white-space: pre-wrap; word-break: break-word; max-height: 420px; overflow: auto; background: var(--bg);
  padding: 8px; border-radius: 6px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 0.82rem; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.passed, .pass, .ok, .attested, .deploy { color: var(--pass); }
.failed, .fail, .rolled_back, .breached, .blind { color: var(--fail); }
.deferred, .missing, .running, .interrupted, .inconclusive, .forced, .rollback, .revert { color: var(--warn); }
.stages { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; padding: 0; margin: 0; }
.stages li { flex: 1 1 150px; border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.stages li b { display: block; text-transform: capitalize; }
.stages li small { color: var(--muted); display: block; overflow-wrap: anywhere; }
.chart svg { width: 100%; height: auto; display: block; }
.muted { color: var(--muted); }
details summary { cursor: pointer; color: var(--info); }
@media (max-width: 640px) { main { padding: 8px; } section { padding: 10px; } th, td { padding: 4px 5px; } }
"##;

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A recorded time as people read it: `2026-12-04 10:15:00 UTC` (to the second).
fn when(text: &str) -> String {
    match crate::collect::ms(text) {
        Some(ms) => crate::collect::rfc3339(ms).replacen('T', " ", 1).replace('Z', " UTC"),
        None => esc(text),
    }
}

fn badge(word: &str) -> String {
    let class: String = word.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    format!("<span class=\"badge {class}\">{}</span>", esc(word))
}

fn short(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

/// The whole page.
pub fn html(r: &Report) -> Result<String, ReportError> {
    let mut p = String::with_capacity(64 * 1024);
    let _ = writeln!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>{} {}: launch report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>",
        esc(&r.app),
        esc(&r.env)
    );
    let _ = writeln!(
        p,
        "<header><h1>{} · {} · launch report</h1><p>generated {}{} · config <code>{}</code></p></header>",
        esc(&r.app),
        esc(&r.env),
        when(&r.generated_at),
        r.since.as_deref().map_or(String::new(), |s| format!(" · since {}", esc(s))),
        esc(short(&r.config_hash))
    );
    launch(&mut p, r);
    gates(&mut p, r);
    preflight(&mut p, r);
    timeline(&mut p, r)?;
    monitor(&mut p, r)?;
    secrets(&mut p, r);
    database(&mut p, r);
    p.push_str("</main>\n</body>\n</html>\n");
    Ok(p)
}

fn launch(p: &mut String, r: &Report) {
    p.push_str("<section id=\"launch\"><h2>Launch path</h2>\n");
    match (&r.path.current, r.path.history.last()) {
        (Some(path), Some(c)) => {
            let _ = writeln!(
                p,
                "<p>Path <b>{}</b>, chosen {} by {}@{}.</p>",
                esc(path),
                when(&c.at),
                esc(&c.user),
                esc(&c.machine)
            );
        }
        _ => p.push_str(
            "<p class=\"muted\">No launch path chosen: <code>cutover path fast|hardened|iterative</code>.</p>\n",
        ),
    }
    p.push_str("<ol class=\"stages\">\n");
    for s in &r.stages {
        let _ = writeln!(
            p,
            "<li><b>{}</b>{}<small>{}</small><small>{}</small></li>",
            esc(&s.stage),
            badge(&s.verdict),
            s.at.as_deref().map(when).unwrap_or_default(),
            esc(&s.detail)
        );
    }
    p.push_str("</ol>\n");
    if r.path.history.len() > 1 {
        p.push_str("<h3>Path changes</h3><div class=\"table\"><table><tr><th>path</th><th>when</th><th>by</th><th>why</th></tr>\n");
        for c in &r.path.history {
            let _ = writeln!(
                p,
                "<tr><td>{}</td><td>{}</td><td>{}@{}</td><td>{}</td></tr>",
                esc(&c.path),
                when(&c.at),
                esc(&c.user),
                esc(&c.machine),
                esc(c.reason.as_deref().unwrap_or("first choice"))
            );
        }
        p.push_str("</table></div>\n");
    }
    p.push_str("</section>\n");
}

fn gates(p: &mut String, r: &Report) {
    p.push_str("<section id=\"gates\"><h2>Gates</h2>\n");
    if r.gates.is_empty() {
        p.push_str("<p class=\"muted\">No gate has run.</p></section>\n");
        return;
    }
    p.push_str(
        "<div class=\"table\"><table><tr><th>stage</th><th>verdict</th><th>when</th><th>by</th><th>config</th><th>findings</th></tr>\n",
    );
    for g in &r.gates {
        let _ = writeln!(
            p,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code>{}{}</td><td>{}</td></tr>",
            esc(&g.stage),
            badge(if g.passed { "passed" } else { "failed" }),
            when(&g.at),
            esc(g.by.as_deref().unwrap_or("?")),
            esc(short(&g.config_hash)),
            if g.this_config { " <span class=\"muted\">(this config)</span>" } else { "" },
            g.artifact.as_deref().map_or(String::new(), |a| format!(
                "<br><span class=\"muted\">artifact</span> <code>{}</code>",
                esc(short(a))
            )),
            findings(g)
        );
    }
    p.push_str("</table></div></section>\n");
}

fn findings(g: &GateRun) -> String {
    let pretty = serde_json::to_string_pretty(&g.findings).unwrap_or_default();
    format!(
        "<details><summary>{}</summary>{}<pre>{}</pre></details>",
        esc(&g.summary),
        g.command
            .as_deref()
            .map_or(String::new(), |c| format!("<p class=\"muted\">recorded by <code>{}</code></p>", esc(c))),
        esc(&pretty)
    )
}

fn preflight(p: &mut String, r: &Report) {
    p.push_str("<section id=\"preflight\"><h2>Deferred items and attestations</h2>\n");
    if r.deferred.is_empty() {
        p.push_str("<p class=\"muted\">Nothing deferred by the latest pre-flight.</p>\n");
    } else {
        p.push_str("<h3>Deferred (must pass before the next production deploy)</h3><div class=\"table\"><table><tr><th>item</th><th>detail</th></tr>\n");
        for d in &r.deferred {
            let _ = writeln!(p, "<tr><td>{} {}</td><td>{}</td></tr>", d.number, esc(&d.name), esc(&d.detail));
        }
        p.push_str("</table></div>\n");
    }
    if r.attestations.is_empty() {
        p.push_str("<p class=\"muted\">No attestation recorded.</p>\n");
    } else {
        p.push_str("<h3>Attestations</h3><div class=\"table\"><table><tr><th>item</th><th>vouched for by</th><th>when</th><th>note</th><th>recorded by</th></tr>\n");
        for a in &r.attestations {
            let _ = writeln!(
                p,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}@{}</td></tr>",
                esc(&a.item),
                esc(&a.by),
                when(&a.at),
                esc(a.note.as_deref().unwrap_or("")),
                esc(&a.user),
                esc(&a.machine)
            );
        }
        p.push_str("</table></div>\n");
    }
    p.push_str("</section>\n");
}

fn timeline(p: &mut String, r: &Report) -> Result<(), ReportError> {
    p.push_str("<section id=\"timeline\"><h2>Release timeline</h2>\n");
    for u in &r.unreadable {
        let _ = writeln!(p, "<p class=\"fail\">{}: not read ({})</p>", esc(&u.host), esc(&u.why));
    }
    if r.hosts.iter().all(|h| h.events.is_empty()) {
        p.push_str("<p class=\"muted\">No release on any host.</p></section>\n");
        return Ok(());
    }
    let svg = chart::timeline(&r.hosts).map_err(|reason| ReportError::Chart { chart: "timeline", reason })?;
    let _ = writeln!(p, "<div class=\"chart\" id=\"timeline-chart\">{svg}</div>");
    let mut events: Vec<(&str, &crate::model::ReleaseEvent)> =
        r.hosts.iter().flat_map(|h| h.events.iter().map(move |e| (h.host.as_str(), e))).collect();
    events.sort_by_key(|(_, e)| e.at_ms);
    p.push_str("<details open><summary>every event</summary><div class=\"table\"><table><tr><th>when</th><th>host</th><th>event</th><th>release</th><th>by</th><th>reason</th></tr>\n");
    for (host, e) in events {
        let _ = writeln!(
            p,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
            when(&e.at),
            esc(host),
            badge(&e.kind),
            esc(e.release.as_deref().unwrap_or("-")),
            e.from.as_deref().map_or(String::new(), |f| format!(" <span class=\"muted\">from {}</span>", esc(f))),
            esc(&e.by),
            esc(e.reason.as_deref().unwrap_or(""))
        );
    }
    p.push_str("</table></div></details>\n");
    for h in &r.hosts {
        let _ = writeln!(
            p,
            "<p>{}: current <code>{}</code></p>",
            esc(&h.host),
            esc(h.current.as_deref().unwrap_or("none"))
        );
    }
    p.push_str("</section>\n");
    Ok(())
}

fn monitor(p: &mut String, r: &Report) -> Result<(), ReportError> {
    p.push_str("<section id=\"monitor\"><h2>Monitor</h2>\n");
    if r.monitors.is_empty() {
        p.push_str("<p class=\"muted\">No monitor window: <code>cutover monitor</code>.</p></section>\n");
        return Ok(());
    }
    if !r.thresholds.is_empty() {
        let list: Vec<String> =
            r.thresholds.iter().map(|t| format!("<code>{} {}</code>", esc(&t.metric), esc(&t.expr))).collect();
        let _ = writeln!(p, "<p>Thresholds: {}</p>", list.join(", "));
    }
    for m in &r.monitors {
        let _ = writeln!(
            p,
            "<h3>Window #{} of <code>{}</code> {}</h3>\n<p>{} → {}, every {}: {} round(s), {} sample(s), {} failed. {}</p>",
            m.id,
            esc(&m.release),
            badge(&m.state),
            when(&m.started_at),
            when(&m.ends_at),
            human::duration(std::time::Duration::from_millis(m.interval_ms.max(0) as u64)),
            m.rounds.len(),
            m.samples,
            m.failed_samples,
            esc(&m.detail)
        );
        if let Some(b) = &m.breach {
            let _ = writeln!(p, "<p class=\"fail\"><b>Breach</b> at round {}: {}</p>", b.round, esc(&b.why));
        }
        if m.rounds.is_empty() {
            continue;
        }
        let latency =
            chart::latency(m, &r.thresholds).map_err(|reason| ReportError::Chart { chart: "latency", reason })?;
        let errors =
            chart::error_rate(m, &r.thresholds).map_err(|reason| ReportError::Chart { chart: "error rate", reason })?;
        let _ = writeln!(
            p,
            "<div class=\"chart latency\" id=\"latency-{}\">{latency}</div>\n<div class=\"chart errors\" id=\"errors-{}\">{errors}</div>",
            m.id, m.id
        );
        p.push_str("<details><summary>every round</summary><div class=\"table\"><table><tr><th>round</th><th>at</th><th>verdict</th><th>samples</th><th>failed</th><th>p50</th><th>p95</th><th>max</th></tr>\n");
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
        for round in &m.rounds {
            let _ = writeln!(
                p,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                round.round,
                when(&crate::collect::rfc3339(round.at_ms)),
                badge(&round.verdict),
                round.samples,
                round.failed,
                ms(round.p50_ms),
                ms(round.p95_ms),
                ms(round.max_ms)
            );
        }
        p.push_str("</table></div></details>\n");
    }
    p.push_str("</section>\n");
    Ok(())
}

fn secrets(p: &mut String, r: &Report) {
    p.push_str("<section id=\"secrets\"><h2>Secrets</h2>\n");
    match &r.secrets.audit {
        Some(a) => {
            let verdict = match a.exit_code {
                Some(0) => "passed",
                Some(_) => "failed",
                None => "running",
            };
            let _ = writeln!(
                p,
                "<p>Audit {} {} by {}: {}</p>",
                badge(verdict),
                when(&a.at),
                esc(&a.by),
                esc(a.summary.as_deref().unwrap_or(""))
            );
        }
        None => p.push_str("<p class=\"muted\">No <code>cutover secrets audit</code> recorded.</p>\n"),
    }
    if let Some(i) = &r.secrets.preflight {
        let _ = writeln!(p, "<p>Pre-flight item 5 {}: {}</p>", badge(&i.result), esc(&i.detail));
    }
    if r.secrets.rotations.is_empty() {
        p.push_str("<p class=\"muted\">No rotation recorded.</p>\n");
    } else {
        p.push_str("<h3>Rotations (names only)</h3><div class=\"table\"><table><tr><th>secret</th><th>when</th><th>by</th></tr>\n");
        for rot in &r.secrets.rotations {
            let _ = writeln!(
                p,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}@{}</td></tr>",
                esc(&rot.name),
                when(&rot.at),
                esc(&rot.user),
                esc(&rot.machine)
            );
        }
        p.push_str("</table></div>\n");
    }
    p.push_str("</section>\n");
}

fn database(p: &mut String, r: &Report) {
    p.push_str("<section id=\"database\"><h2>Database</h2>\n");
    if !r.database.configured {
        p.push_str("<p class=\"muted\">The environment names no database (<code>[env.X] database</code>).</p>\n");
    }
    if r.database.seeds.is_empty() {
        p.push_str("<p class=\"muted\">No seeding recorded.</p>\n");
    } else {
        p.push_str("<h3>Seeding</h3><div class=\"table\"><table><tr><th>when</th><th>by</th><th>command</th><th>exit</th><th>outcome</th></tr>\n");
        for s in &r.database.seeds {
            let _ = writeln!(
                p,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                when(&s.at),
                esc(&s.by),
                esc(&s.command),
                s.exit_code.map_or("-".to_owned(), |c| c.to_string()),
                esc(s.summary.as_deref().unwrap_or(""))
            );
        }
        p.push_str("</table></div>\n");
    }
    if let Some(e) = &r.database.snapshots_error {
        let _ = writeln!(p, "<p class=\"fail\">Snapshots could not be listed: {}</p>", esc(e));
    }
    if !r.database.snapshots.is_empty() {
        p.push_str("<h3>Snapshots</h3><div class=\"table\"><table><tr><th>id</th><th>release</th><th>taken</th><th>database</th><th>size</th><th>tables</th><th>rows</th></tr>\n");
        for s in &r.database.snapshots {
            let _ = writeln!(
                p,
                "<tr><td><code>{}</code></td><td>{}{}</td><td>{}</td><td>{} on {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.id),
                esc(s.release.as_deref().unwrap_or("-")),
                if s.manual { " (by hand)" } else { "" },
                when(&s.time),
                esc(&s.database),
                esc(&s.host),
                human::bytes(s.size),
                s.tables,
                s.rows
            );
        }
        p.push_str("</table></div>\n");
    }
    p.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(esc("<script>\"a\" & 'b'</script>"), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
        assert_eq!(esc("a\u{1b}[31mb"), "a\u{fffd}[31mb");
        assert_eq!(badge("rolled_back"), "<span class=\"badge rolled_back\">rolled_back</span>");
    }
}

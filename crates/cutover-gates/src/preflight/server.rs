//! Pre-flight item 3: each production host as a deploy will find it, probed in one round trip
//! per host without changing anything: the required programs and their versions, free disk
//! where the deploy path is (or will be), whether the deploy user can write there, its clock
//! against this machine's, and the web server's own config test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cutover_config::{Config, Requirement};
use cutover_release::Fleet;
use cutover_remote::{Stdin, Target, shell};
use serde::Serialize;

/// A host's clock may differ from this machine's by less than this.
pub const MAX_SKEW: Duration = Duration::from_secs(5);

/// Free space needed where releases go: at least this much, and three times the app.
pub const MIN_FREE: u64 = 256 * 1024 * 1024;

/// What one host showed.
#[derive(Debug, Clone, Serialize)]
pub struct HostProbe {
    pub host: String,
    /// Every problem found; empty when the host is ready.
    pub problems: Vec<String>,
    /// What was seen: each program's path and version, free bytes, skew, the web test.
    pub facts: Vec<String>,
}

/// Probes every host of `fleet` at once. `app_bytes`: the size of the app, for the disk check.
pub fn probe(fleet: &Fleet, config: &Config, app_bytes: u64) -> Vec<HostProbe> {
    let script = script(fleet, config);
    let need = MIN_FREE.max(app_bytes.saturating_mul(3));
    fleet.each(|_, target| probe_host(target, &script, &config.preflight.require, config, need))
}

fn script(fleet: &Fleet, config: &Config) -> String {
    let root = shell::path_expr(&fleet.root);
    let mut s = format!(
        "root={root}\nd=$root\nwhile [ ! -e \"$d\" ] && [ \"$d\" != / ]; do d=$(dirname \"$d\"); done\n\
         echo \"dir=$d\"\n\
         if [ -d \"$d\" ] && [ -w \"$d\" ]; then echo writable=1; else echo writable=0; fi\n\
         echo \"free_kb=$(df -Pk \"$d\" 2>/dev/null | awk 'NR==2 {{print $4}}')\"\n\
         echo \"clock=$(date -u +%s)\"\n\
         if command -v timeout >/dev/null 2>&1; then t='timeout 10'; else t=; fi\n"
    );
    for (i, r) in config.preflight.require.iter().enumerate() {
        let p = shell::quote(&r.program);
        // The version is asked only where one is required: `-v` is not always harmless.
        let version = if r.min_version.is_some() {
            format!(
                "v=$( {{ $t {p} --version || $t {p} -v; }} </dev/null 2>&1 | head -n 5 | tr '\\n\\r' '  '); \
                 echo \"version.{i}=$v\"; "
            )
        } else {
            String::new()
        };
        s += &format!(
            "if p=$(command -v {p} 2>/dev/null); then echo \"have.{i}=$p\"; {version}else echo \"have.{i}=\"; fi\n"
        );
    }
    if let Some(test) = &config.preflight.web_test {
        s += &format!(
            "out=$($t sh -c {} </dev/null 2>&1); rc=$?\necho \"web_rc=$rc\"\n\
             printf 'web_out=%s\\n' \"$(printf '%s' \"$out\" | tail -n 3 | tr '\\n\\r' '  ')\"\n",
            shell::quote(test)
        );
    }
    s
}

fn probe_host(target: &dyn Target, script: &str, require: &[Requirement], config: &Config, need: u64) -> HostProbe {
    let mut probe = HostProbe { host: target.name().to_owned(), problems: Vec::new(), facts: Vec::new() };
    let before = now_secs();
    let output = match target.run("probing the server", script, Stdin::Null) {
        Ok(output) => output,
        Err(e) => {
            probe.problems.push(format!("cannot probe: {e}"));
            return probe;
        }
    };
    let after = now_secs();
    let value = |key: &str| {
        output.stdout.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).map(str::trim)
    };
    let dir = value("dir").unwrap_or("?");
    if value("writable") != Some("1") {
        probe.problems.push(format!("the deploy path cannot be written by this user (`{dir}` is not writable)"));
    }
    match value("free_kb").and_then(|v| v.parse::<u64>().ok()) {
        Some(kb) => {
            let free = kb * 1024;
            probe.facts.push(format!("{} free in {dir}", cutover_config::human::bytes(free)));
            if free < need {
                probe.problems.push(format!(
                    "only {} free in {dir}; a release needs {}",
                    cutover_config::human::bytes(free),
                    cutover_config::human::bytes(need)
                ));
            }
        }
        None => probe.problems.push(format!("cannot tell the free disk space in {dir} (`df -Pk`)")),
    }
    match value("clock").and_then(|v| v.parse::<f64>().ok()) {
        Some(host) => {
            let skew = host - (before + after) / 2.0;
            // The host's clock has whole seconds: up to one second of it is rounding.
            let slack = (after - before) / 2.0 + 1.0;
            probe.facts.push(format!("clock {skew:+.0} s"));
            if skew.abs() > MAX_SKEW.as_secs_f64() + slack {
                probe.problems.push(format!(
                    "its clock is {:.0} s {} this machine's (more than {} s)",
                    skew.abs(),
                    if skew > 0.0 { "ahead of" } else { "behind" },
                    MAX_SKEW.as_secs()
                ));
            }
        }
        None => probe.problems.push("cannot read its clock (`date -u +%s`)".into()),
    }
    for (i, r) in require.iter().enumerate() {
        let path = value(&format!("have.{i}")).unwrap_or("");
        if path.is_empty() {
            probe.problems.push(format!("`{}` is not installed (not on the PATH)", r.program));
            continue;
        }
        let text = value(&format!("version.{i}")).unwrap_or("");
        let Some(min) = &r.min_version else {
            probe.facts.push(format!("{} at {path}", r.program));
            continue;
        };
        match version_in(text) {
            Some(found) if at_least(&found, min) => {
                probe.facts.push(format!("{} {} at {path}", r.program, dotted(&found)))
            }
            Some(found) => probe.problems.push(format!(
                "`{}` is {}, older than {} (`{}`)",
                r.program,
                dotted(&found),
                dotted(min),
                r.as_str()
            )),
            None => probe.problems.push(format!(
                "`{}` shows no version (`{} --version` said: {})",
                r.program,
                r.program,
                cutover_http::text::cut(text, 120)
            )),
        }
    }
    if let Some(test) = &config.preflight.web_test {
        let said = value("web_out").unwrap_or("");
        match value("web_rc") {
            Some("0") => probe.facts.push(format!("`{test}` passed")),
            Some(rc) => {
                probe.problems.push(format!("`{test}` failed (exit {rc}): {}", cutover_http::text::cut(said, 300)))
            }
            None => probe.problems.push(format!("`{test}` did not run")),
        }
    }
    probe
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// The version a `--version` text gives: the number after `Distrib` where there is one (the
/// MySQL and MariaDB clients print their own protocol's version first), else the first number
/// with a dot in it (`PHP 8.2.7 (cli)`, `Composer version 2.5.5`, `nginx/1.22.1`).
pub fn version_in(text: &str) -> Option<Vec<u64>> {
    let from = text.find("Distrib ").map_or(text, |i| &text[i + "Distrib ".len()..]);
    from.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .find(|t| t.contains('.') && t.split('.').all(|p| !p.is_empty()))
        .map(|t| t.split('.').filter_map(|p| p.parse().ok()).collect())
}

fn at_least(found: &[u64], min: &[u64]) -> bool {
    let n = found.len().max(min.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n).map(|i| at(found, i).cmp(&at(min, i))).find(|o| o.is_ne()).is_none_or(|o| o.is_gt())
}

fn dotted(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_programs_print_and_compared_by_number() {
        assert_eq!(version_in("PHP 8.2.7 (cli) (built: Jun  9 2023)"), Some(vec![8, 2, 7]));
        assert_eq!(version_in("Composer version 2.5.5 2023-03-21 11:50:05"), Some(vec![2, 5, 5]));
        assert_eq!(version_in("nginx: invalid option: \"-\" nginx version: nginx/1.22.1"), Some(vec![1, 22, 1]));
        assert_eq!(version_in("mysql  Ver 15.1 Distrib 10.11.6-MariaDB, for debian-linux-gnu"), Some(vec![10, 11, 6]));
        assert_eq!(version_in("no version here 7"), None);
        assert!(at_least(&[8, 2, 7], &[8, 1]));
        assert!(at_least(&[8, 1], &[8, 1, 0]));
        assert!(!at_least(&[8, 0, 30], &[8, 1]));
        assert!(at_least(&[10], &[9, 9]));
    }
}

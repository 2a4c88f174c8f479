//! `cutover secrets audit`: the production `.env` is a template of placeholders, no env file is
//! tracked by git, every placeholder resolves, production has the keys staging has, no
//! production secret equals staging's, and the rendered file of a gated environment runs in
//! production mode. Every finding is listed; none carries a value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::{Provider, Template};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// `template`, `git`, `unresolved`, `parity`, `rotation`, `production`.
    pub check: &'static str,
    /// The key, secret or file it is about.
    pub subject: String,
    pub detail: String,
}

/// What the audit looks at.
#[derive(Debug)]
pub struct Audit<'a> {
    pub env: &'a str,
    pub template: &'a Template,
    /// The staging environment's name and template, when there is one.
    pub staging: Option<(&'a str, Option<&'a Template>)>,
    pub provider: &'a Provider,
    /// Values for `${env:…}`.
    pub env_values: &'a BTreeMap<&'a str, String>,
    /// Where to ask git which files are tracked (the config's directory).
    pub repo: &'a Path,
    /// The rendered file must set `APP_ENV` and `APP_DEBUG` (Laravel); otherwise they are
    /// checked only when present.
    pub require_app_env: bool,
    /// The environment is gated (production): its rendered file must run in production mode.
    /// A staging environment is audited for everything else.
    pub production: bool,
}

/// Keys whose value is a secret when it is written literally in the template.
const SENSITIVE: [&str; 10] =
    ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "PRIVATE", "SALT", "CREDENTIAL", "API_KEY", "AUTH_KEY", "APP_KEY"];

pub fn run(audit: &Audit<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |check, subject: &str, detail: String| {
        out.push(Finding { check, subject: subject.to_owned(), detail });
    };
    let template_name = audit.template.path().display().to_string();

    // 1. Placeholders only.
    for e in audit.template.entries() {
        if !e.secrets.is_empty() {
            continue;
        }
        let value = e.raw.trim_matches(['"', '\'']);
        let key = e.key.to_ascii_uppercase();
        let literal = !value.is_empty() && !value.starts_with("${") && !matches!(value, "null" | "false" | "true");
        if literal && (SENSITIVE.iter().any(|s| key.contains(s)) || value.starts_with("base64:")) {
            add(
                "template",
                &e.key,
                format!("{template_name}:{}: a literal value; write `{}=${{secret:{}}}`", e.line, e.key, e.key),
            );
        }
    }

    // …and nothing in it that the secret scanner would call a secret, whatever its key's name.
    if let Ok(text) = std::fs::read(audit.template.path()) {
        let flagged: BTreeSet<String> = audit
            .template
            .entries()
            .iter()
            .filter(|e| e.secrets.is_empty() && SENSITIVE.iter().any(|s| e.key.to_ascii_uppercase().contains(s)))
            .map(|e| e.key.clone())
            .collect();
        let mut seen = flagged;
        for hit in cutover_scan::Scanner::get().scan_text(&template_name, &text) {
            let entry = audit.template.entries().iter().find(|e| e.line == hit.line);
            let subject = entry.map_or_else(|| format!("line {}", hit.line), |e| e.key.clone());
            if seen.insert(subject.clone()) {
                add(
                    "template",
                    &subject,
                    format!(
                        "{template_name}:{}: looks like a {} ({}): use a placeholder",
                        hit.line, hit.description, hit.redacted
                    ),
                );
            }
        }
    }

    // A rotated APP_KEY needs the old one passed on.
    let names = audit.template.secret_names();
    if names.iter().any(|n| n == "APP_KEY") && !names.iter().any(|n| n == crate::rotate::PREVIOUS_KEYS) {
        add(
            "template",
            crate::rotate::PREVIOUS_KEYS,
            format!(
                "{template_name}: no `{0}=\"${{secret:{0}?}}\"`: after an APP_KEY rotation, sessions and encrypted \
                 values would stop working",
                crate::rotate::PREVIOUS_KEYS
            ),
        );
    }

    // 2. No env file tracked by git.
    if let Some(tracked) = git_tracked(audit.repo) {
        for path in tracked {
            let name = path.rsplit('/').next().unwrap_or(&path);
            let is_env = name == ".env" || name.starts_with(".env.");
            let example = [".template", ".example", ".sample", ".dist"].iter().any(|s| name.ends_with(s))
                || name.ends_with(".age");
            if is_env && !example {
                add(
                    "git",
                    &path,
                    "an env file is tracked by git: remove it (`git rm --cached`) and rotate what it held".into(),
                );
            }
        }
    }

    // 3. Every placeholder resolves.
    let mut prod = BTreeMap::new();
    for name in audit.template.secret_names() {
        match audit.provider.get(audit.env, &name) {
            Ok(v) => {
                prod.insert(name, v);
            }
            Err(crate::SecretsError::Missing { .. }) if audit.template.is_optional(&name) => {}
            Err(e) => add("unresolved", &name, e.to_string()),
        }
    }

    if let Some((staging, staging_template)) = audit.staging {
        // 4. Same keys as staging.
        if let Some(st) = staging_template {
            let keys = |t: &Template| t.entries().iter().map(|e| e.key.clone()).collect::<BTreeSet<_>>();
            let (p, s) = (keys(audit.template), keys(st));
            for k in s.difference(&p) {
                add("parity", k, format!("set in {staging}'s template, missing from {}'s", audit.env));
            }
            for k in p.difference(&s) {
                add("parity", k, format!("set in {}'s template, missing from {staging}'s", audit.env));
            }
        }
        // 5. Rotated: no production value equals staging's.
        for (name, value) in &prod {
            if let Ok(theirs) = audit.provider.get(staging, name)
                && theirs == *value
            {
                add(
                    "rotation",
                    name,
                    format!(
                        "{} uses the same value as {staging}: rotate it (`cutover secrets rotate {name}`)",
                        audit.env
                    ),
                );
            }
        }
    }

    // 6. The rendered file runs in production mode.
    let resolved = |n: &str| {
        prod.get(n).cloned().ok_or_else(|| crate::SecretsError::Missing {
            env: audit.env.to_owned(),
            name: n.to_owned(),
            hint: String::new(),
        })
    };
    if !audit.production {
        return out;
    }
    if let Ok(rendered) = audit.template.render(audit.env_values, resolved) {
        let values = crate::dotenv::values(rendered.text.expose());
        let mut expect = |key: &str, want: &[&str], required: bool| match values.get(key) {
            Some(v) if want.iter().any(|w| v.eq_ignore_ascii_case(w)) => {}
            Some(v) => add("production", key, format!("is `{v}`; production needs `{}`", want[0])),
            None if required => add("production", key, format!("is not set; production needs `{key}={}`", want[0])),
            None => {}
        };
        expect("APP_ENV", &["production"], audit.require_app_env);
        expect("APP_DEBUG", &["false", "0"], audit.require_app_env);
        expect("WP_DEBUG", &["false", "0"], false);
        expect("WP_ENVIRONMENT_TYPE", &["production"], false);
    }
    out
}

/// The files git tracks under `repo`, or `None` when it is not in a repository.
fn git_tracked(repo: &Path) -> Option<Vec<String>> {
    let out = cutover_process::command("git").arg("-C").arg(repo).args(["ls-files", "-z"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).split('\0').filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

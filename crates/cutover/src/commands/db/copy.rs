//! `cutover db copy --from staging --to production`: one environment's database streamed into
//! another's through the rewriter (cutover_db::host::copy).

use clap::Args;
use cutover_config::Config;
use cutover_db::host::copy::{Copied, Copy, Side};
use cutover_db::host::{DumpScope, Existing};
use cutover_db::laravel::keys_from_dotenv;
use cutover_db::{Options, Reencrypt, Report, Rewriter, Rules};
use serde::Serialize;

use super::EnvDatabase;
use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The environment copied from (default `[seed] from`, "staging").
    #[arg(long, value_name = "ENV")]
    pub from: Option<String>,
    /// The environment copied into (default `--env`).
    #[arg(long, value_name = "ENV")]
    pub to: Option<String>,
    /// Replace OLD with NEW too (repeatable), on top of the two environments' URLs and `[seed]
    /// replace`.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], action = clap::ArgAction::Append)]
    pub replace: Vec<String>,
    /// Copy Laravel encrypted values as they are, instead of re-encrypting them from the source's
    /// APP_KEY to the target's.
    #[arg(long)]
    pub no_reencrypt: bool,
    /// Copy only these tables.
    #[arg(long, value_delimiter = ',', value_name = "TABLE,…")]
    pub only_tables: Vec<String>,
    /// Tables whose values are copied as they are (on top of `[seed] skip_tables`).
    #[arg(long, value_delimiter = ',', value_name = "TABLE,…")]
    pub skip_tables: Vec<String>,
    /// Columns whose values are copied as they are, as TABLE.COLUMN (on top of `[seed] skip_columns`).
    #[arg(long, value_delimiter = ',', value_name = "TABLE.COLUMN,…")]
    pub skip_columns: Vec<String>,
    /// Replace what the target holds (swapped out in the same step the copy is swapped in).
    #[arg(long)]
    pub overwrite: bool,
}

/// What `db copy` and a seeding copy do, settled.
#[derive(Debug, Clone, Default)]
pub struct CopySpec {
    pub replace: Vec<(String, String)>,
    pub reencrypt: bool,
    pub tables: Vec<String>,
    pub skip_tables: Vec<String>,
    pub skip_columns: Vec<(String, String)>,
    pub overwrite: bool,
    /// With `overwrite`, the target's tables are a seed's (nothing uses them yet, and a failed
    /// seed empties the database again): where the account may not create the staging database
    /// the swap needs, they are dropped and loaded in place.
    pub discard: bool,
}

/// Reports kept for `--json`; the count is always complete.
const MAX_REPORTS: usize = 1000;

#[derive(Debug, Serialize)]
pub struct CopySummary {
    pub from: String,
    pub to: String,
    pub from_database: String,
    pub to_database: String,
    pub tables: usize,
    pub rows: u64,
    #[serde(flatten)]
    pub copied: Copied,
    /// The replacements applied, OLD → NEW.
    pub replacements: Vec<(String, String)>,
    /// Why Laravel values were not re-encrypted, when they were not.
    pub not_reencrypted: Option<String>,
    pub reports: Vec<Report>,
}

impl CopySummary {
    /// What the dump's statements were made portable with, when anything was.
    fn portability(&self) -> Option<String> {
        let fixed = &self.copied.stats.portability;
        let text = fixed.describe();
        (text != "nothing to fix").then_some(text)
    }
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &CopyArgs) -> Result<String, CliError> {
    let from = args.from.clone().unwrap_or_else(|| config.seed.from.clone());
    let to = ctx.global.env.clone();
    if from == to {
        return Err(CliError::Usage(format!("`--from {from}` and `--to {to}` are the same environment")));
    }
    let mut replace = pairs(&args.replace);
    replace.extend(config.seed.replace.iter().map(|(a, b)| (a.clone(), b.clone())));
    let mut skip_columns: Vec<(String, String)> =
        config.seed.skip_columns.iter().map(|tc| (tc.table.clone(), tc.column.clone())).collect();
    for tc in &args.skip_columns {
        let tc =
            cutover_config::TableColumn::parse(tc).map_err(|e| CliError::Usage(format!("`--skip-columns`: {e}")))?;
        skip_columns.push((tc.table, tc.column));
    }
    let mut skip_tables = config.seed.skip_tables.clone();
    skip_tables.extend(args.skip_tables.iter().cloned());
    let spec = CopySpec {
        replace,
        reencrypt: config.seed.reencrypt && !args.no_reencrypt,
        tables: args.only_tables.clone(),
        skip_tables,
        skip_columns,
        overwrite: args.overwrite,
        discard: false,
    };
    if spec.overwrite && config.is_gated(&to)? && !ctx.global.yes {
        let question = format!("Replace everything in {to}'s database with a copy of {from}'s?");
        if ctx.out.ask(&question) == Some(false) {
            return Err(CliError::Check(format!("not confirmed: {to}'s database was not touched")));
        }
    }
    let summary = run(ctx, config, &from, &to, &spec)?;
    if ctx.out.json {
        ctx.out.json(&summary);
    }
    Ok(format!(
        "copied {} table(s), {} row(s) from {from} to {to}, {} values rewritten, {} re-encrypted",
        summary.tables,
        summary.rows,
        changed(&summary.copied),
        summary.copied.stats.reencrypted
    ))
}

/// Values rewritten, of any kind.
pub(super) fn changed(c: &Copied) -> u64 {
    let s = &c.stats;
    s.changed_plain + s.changed_serialized + s.changed_json + s.changed_url_encoded
}

/// Copies `from`'s database into `to`'s as `spec` says, saying what it does; the summary is
/// printed here unless `--json` (the caller prints it then).
pub fn run(ctx: &Ctx<'_>, config: &Config, from: &str, to: &str, spec: &CopySpec) -> Result<CopySummary, CliError> {
    let out = ctx.out;
    out.say(&format!("==> opening {from}'s and {to}'s databases"));
    let source = super::open(ctx, config, from)?;
    let target = super::open(ctx, config, to)?;
    let mut replacements = url_rules(config, from, to)?;
    for pair in &spec.replace {
        if !replacements.iter().any(|(old, _)| old == &pair.0) {
            replacements.push(pair.clone());
        }
    }
    let (reencrypt, not_reencrypted) = if spec.reencrypt {
        let (keys, why, warn) = keys(&source, &target)?;
        if warn && let Some(why) = &why {
            out.warn_line(&format!("Laravel encrypted values are copied as they are: {why}"));
        }
        (keys, why)
    } else {
        (None, Some("--no-reencrypt".to_owned()))
    };
    let rules = Rules::new(&replacements).map_err(CliError::Usage)?;
    let rewriter = Rewriter::new(rules, reencrypt);
    let options = Options {
        dialect: None,
        skip_tables: spec.skip_tables.clone(),
        only_tables: Vec::new(),
        skip_columns: spec.skip_columns.clone(),
        load_into: cutover_db::host::mysql_server(&target.db, &target.host())?,
    };
    let copy = Copy {
        from: Side { db: &source.db, host: source.host() },
        to: Side { db: &target.db, host: target.host() },
        scope: DumpScope { tables: spec.tables.clone() },
        existing: match (spec.overwrite, spec.discard) {
            (false, _) => Existing::Refuse,
            (true, false) => Existing::Replace,
            (true, true) => Existing::Discard,
        },
        rewriter: &rewriter,
        options: &options,
    };
    out.say(&format!(
        "==> copying {from}'s {} on `{}` into {to}'s {} on `{}`",
        source.db.describe(),
        source.target.name(),
        target.db.describe(),
        target.target.name()
    ));
    for (old, new) in &replacements {
        out.say(&format!("    replacing {old} → {new}"));
    }
    let bar = out.byte_progress("copying");
    let progress = |n: u64| {
        if let Some(bar) = &bar {
            bar.set_position(n);
        }
    };
    let mut reports = Vec::new();
    let mut on_report = |report: Report| {
        if !out.json {
            let place = if report.table.is_empty() {
                format!("line {}", report.line)
            } else {
                format!("table `{}` row {} column `{}`", report.table, report.row, report.column)
            };
            out.warn_line(&format!("left as it was: {place}: {}", report.reason));
        }
        if reports.len() < MAX_REPORTS {
            reports.push(report);
        }
    };
    let copied = cutover_db::host::copy::copy(&copy, &progress, &mut on_report);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let copied = copied?;
    let counts = cutover_db::host::stats(&target.db, &target.host(), false)?;
    let rows = counts.iter().map(|t| t.rows).sum();
    let summary = CopySummary {
        from: from.to_owned(),
        to: to.to_owned(),
        from_database: source.db.describe(),
        to_database: target.db.describe(),
        tables: counts.len(),
        rows,
        copied,
        replacements,
        not_reencrypted,
        reports,
    };
    if !out.json {
        let s = &summary.copied.stats;
        out.say(&format!(
            "copied {} table(s), {} row(s), {} in {:.1} s; {} values: {} rewritten ({} plain, {} serialized, {} JSON, {} \
             URL-encoded), {} re-encrypted, {} left as they were (reported above), {} skipped",
            summary.tables,
            summary.rows,
            cutover_config::human::bytes(s.bytes_in),
            summary.copied.seconds,
            s.values,
            changed(&summary.copied),
            s.changed_plain,
            s.changed_serialized,
            s.changed_json,
            s.changed_url_encoded,
            s.reencrypted,
            s.reported,
            s.skipped,
        ));
        if let Some(fixed) = summary.portability() {
            out.say(&format!("made the dump portable to the target server: {fixed}"));
        }
    }
    Ok(summary)
}

fn pairs(flat: &[String]) -> Vec<(String, String)> {
    flat.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())).collect()
}

/// Staging's URL and aliases → production's: `https://` and `http://` forms of each become
/// the target's URL (its scheme), `//host` (protocol-relative) and the bare host the target's host.
pub fn url_rules(config: &Config, from: &str, to: &str) -> Result<Vec<(String, String)>, CliError> {
    let (f, t) = (config.env(from)?, config.env(to)?);
    let (Some(fu), Some(tu)) = (&f.url, &t.url) else { return Ok(Vec::new()) };
    let rest = |u: &str| u.split_once("://").map_or(u, |(_, r)| r).trim_end_matches('/').to_owned();
    let scheme = if tu.is_https() { "https" } else { "http" };
    let mut names = vec![(rest(fu.as_str()), rest(tu.as_str()))];
    for (i, alias) in f.aliases.iter().enumerate() {
        let target = t.aliases.get(i).map_or_else(|| tu.host().to_owned(), |a| a.as_str().to_owned());
        names.push((alias.as_str().to_owned(), target));
    }
    let mut rules: Vec<(String, String)> = Vec::new();
    let mut add = |old: String, new: String| {
        if old != new && !rules.iter().any(|(o, _)| *o == old) {
            rules.push((old, new));
        }
    };
    for (old, new) in &names {
        add(format!("https://{old}"), format!("{scheme}://{new}"));
        add(format!("http://{old}"), format!("{scheme}://{new}"));
        add(format!("//{old}"), format!("//{new}"));
        // The bare host (a multisite's domain, an address at it); a URL with a path only as a whole.
        if !old.contains('/') {
            add(old.clone(), new.split('/').next().unwrap_or(new).to_owned());
        }
    }
    Ok(rules)
}

/// The keys to re-encrypt with: the source's APP_KEY (and APP_PREVIOUS_KEYS) and the target's,
/// from their rendered `.env`s; or why there are none, and whether that is worth a warning
/// (one side has a key: a Laravel app whose values would stay sealed with staging's).
type Keys = (Option<Reencrypt>, Option<String>, bool);

fn keys(source: &EnvDatabase, target: &EnvDatabase) -> Result<Keys, CliError> {
    let read = |side: &EnvDatabase| -> Result<Option<Vec<cutover_db::laravel::AppKey>>, CliError> {
        let Some(vars) = &side.dotenv else { return Ok(None) };
        if !vars.contains_key("APP_KEY") {
            return Ok(None);
        }
        keys_from_dotenv(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map(Some)
            .map_err(|e| CliError::Usage(format!("{}'s rendered .env: {e}", side.env)))
    };
    match (read(source)?, read(target)?) {
        (Some(old), Some(mut new)) => Ok((Some(Reencrypt { old, new: new.remove(0) }), None, false)),
        (None, None) => Ok((None, Some("neither rendered .env has an APP_KEY".into()), false)),
        (None, Some(_)) => Ok((None, Some(format!("{}'s rendered .env has no APP_KEY", source.env)), true)),
        (Some(_), None) => Ok((None, Some(format!("{}'s rendered .env has no APP_KEY", target.env)), true)),
    }
}

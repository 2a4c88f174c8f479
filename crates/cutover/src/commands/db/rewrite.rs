//! `cutover db rewrite`: the dump rewriter as a filter, stdin to stdout. Needs no cutover.toml.

use std::io::IsTerminal;
use std::time::Instant;

use clap::Args;
use cutover_db::laravel::{AppKey, keys_from_dotenv};
use cutover_db::{Dialect, DumpError, Options, Reencrypt, Report, Rewriter, Rules, Server, Stats, rewrite_dump};
use serde::Serialize;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct RewriteArgs {
    /// The dump's dialect; detected from its first lines when not given.
    #[arg(long, value_parser = ["mysql", "mariadb", "postgres", "sqlite"])]
    pub dialect: Option<String>,
    /// Replace OLD with NEW in every string value (repeatable; the longest OLD wins).
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], action = clap::ArgAction::Append)]
    pub replace: Vec<String>,
    /// Re-encrypt Laravel encrypted values from the old APP_KEY to the new one.
    #[arg(long)]
    pub reencrypt: bool,
    /// Dotenv file with the old APP_KEY (and APP_PREVIOUS_KEYS); or set CUTOVER_OLD_APP_KEY.
    #[arg(long, value_name = "FILE")]
    pub old_env: Option<std::path::PathBuf>,
    /// Dotenv file with the new APP_KEY; or set CUTOVER_NEW_APP_KEY.
    #[arg(long, value_name = "FILE")]
    pub new_env: Option<std::path::PathBuf>,
    /// Tables whose values are copied as they are.
    #[arg(long, value_delimiter = ',', value_name = "TABLE,…")]
    pub skip_tables: Vec<String>,
    /// Only these tables' values are rewritten.
    #[arg(long, value_delimiter = ',', value_name = "TABLE,…")]
    pub only_tables: Vec<String>,
    /// Columns whose values are copied as they are, as TABLE.COLUMN (for example `wp_posts.guid`).
    #[arg(long, value_delimiter = ',', value_name = "TABLE.COLUMN,…")]
    pub skip_columns: Vec<String>,
    /// Fix a MySQL/MariaDB dump's statements for the server it will be loaded into: DEFINER
    /// clauses, TABLESPACE clauses, GTID_PURGED and SQL_LOG_BIN statements and mariadb-dump's
    /// sandbox line removed; for mariadb, MySQL 8's utf8mb4_0900_* collations mapped. Values are
    /// never touched.
    #[arg(long, value_name = "SERVER", value_parser = ["mysql", "mariadb"])]
    pub load_into: Option<String>,
}

/// Reports kept for `--json`; the count is always complete.
const MAX_REPORTS: usize = 1000;

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    stats: &'a Stats,
    load_into: Option<&'static str>,
    seconds: f64,
    mib_per_second: f64,
    reports: &'a [Report],
}

pub fn exec(ctx: &Ctx<'_>, args: &RewriteArgs) -> Result<(), CliError> {
    if std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "pipe a dump into `cutover db rewrite`, for example `mysqldump db | cutover db rewrite …`".into(),
        ));
    }
    let rewriter = Rewriter::new(Rules::new(&pairs(&args.replace)).map_err(CliError::Usage)?, reencrypt(args)?);
    let options = Options {
        dialect: args.dialect.as_deref().and_then(Dialect::parse),
        skip_tables: args.skip_tables.clone(),
        only_tables: args.only_tables.clone(),
        skip_columns: args
            .skip_columns
            .iter()
            .map(|tc| match tc.split_once('.') {
                Some((t, c)) if !t.is_empty() && !c.is_empty() => Ok((t.to_owned(), c.to_owned())),
                _ => Err(CliError::Usage(format!("`--skip-columns {tc}`: write TABLE.COLUMN"))),
            })
            .collect::<Result<_, _>>()?,
        load_into: args.load_into.as_deref().and_then(Server::parse),
    };
    let mut reports = Vec::new();
    let out = ctx.out;
    let started = Instant::now();
    let progress = out.byte_progress("rewriting");
    // Straight to fd 1: Rust's stdout is line-buffered, which would search every chunk for its
    // last newline; the rewriter buffers on its own.
    let _stdout = std::io::stdout().lock();
    // A duplicate of fd 1 (closing it leaves stdout open).
    let raw = std::os::fd::AsFd::as_fd(&std::io::stdout())
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|source| CliError::Io { what: "cannot write to stdout".into(), source })?;
    let mut on_report = |report: Report| {
        if !out.json {
            let place = if report.table.is_empty() {
                format!("line {}", report.line)
            } else {
                format!("table `{}` row {} column `{}` (line {})", report.table, report.row, report.column, report.line)
            };
            out.warn_line(&format!("left as it was: {place}: {}", report.reason));
        }
        if reports.len() < MAX_REPORTS {
            reports.push(report);
        }
    };
    // Values nested in values are parsed recursively: a thread with room for the deepest nesting
    // the rewriter accepts, whatever the platform's default stack.
    let stats = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("rewrite".into())
            .stack_size(64 << 20)
            .spawn_scoped(s, || {
                let stdin = std::io::stdin().lock();
                let input: Box<dyn std::io::Read> = match &progress {
                    Some(bar) => Box::new(bar.wrap_read(stdin)),
                    None => Box::new(stdin),
                };
                rewrite_dump(input, &raw, &rewriter, &options, &mut on_report)
            })
            .map(|t| t.join().expect("the rewriter does not panic"))
    })
    .map_err(|source| CliError::Io { what: "failed to start the rewriter".into(), source })?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let stats = match stats {
        // stdout's reader went away (`| head`): it had what it wanted; the rest is not written.
        Err(DumpError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        stats => stats?,
    };
    let seconds = started.elapsed().as_secs_f64();
    let mib_per_second = stats.bytes_in as f64 / (1 << 20) as f64 / seconds.max(1e-9);
    if out.json {
        let summary = Summary {
            stats: &stats,
            load_into: options.load_into.map(Server::name),
            seconds,
            mib_per_second,
            reports: &reports,
        };
        out.say_always(&serde_json::to_string(&summary).expect("summary serializes"));
    } else {
        // Only MySQL-family dumps are fixed; said so when another was given.
        let portability = match options.load_into {
            Some(server) if stats.dialect == Some(Dialect::Mysql.name()) => {
                format!("; for {}: {}", server.name(), stats.portability.describe())
            }
            Some(server) => format!("; for {}: not a MySQL/MariaDB dump, statements copied as they are", server.name()),
            None => String::new(),
        };
        out.say(&format!(
            "rewrote {} dump: {} values; changed {} plain, {} serialized, {} JSON, {} URL-encoded, {} re-encrypted; \
             {} left as they were (reported), {} skipped{portability}; {} bytes in, {} bytes out, {seconds:.2} s, \
             {mib_per_second:.0} MiB/s",
            stats.dialect.unwrap_or("empty"),
            stats.values,
            stats.changed_plain,
            stats.changed_serialized,
            stats.changed_json,
            stats.changed_url_encoded,
            stats.reencrypted,
            stats.reported,
            stats.skipped,
            stats.bytes_in,
            stats.bytes_out,
        ));
    }
    Ok(())
}

fn pairs(flat: &[String]) -> Vec<(String, String)> {
    flat.chunks(2).filter(|c| c.len() == 2).map(|c| (c[0].clone(), c[1].clone())).collect()
}

/// The keys for `--reencrypt`, from the dotenv files or the environment. Messages never hold a key.
fn reencrypt(args: &RewriteArgs) -> Result<Option<Reencrypt>, CliError> {
    if !args.reencrypt {
        if args.old_env.is_some() || args.new_env.is_some() {
            return Err(CliError::Usage("`--old-env` and `--new-env` need `--reencrypt`".into()));
        }
        return Ok(None);
    }
    let load = |file: &Option<std::path::PathBuf>, var: &str, which: &str| -> Result<Vec<AppKey>, CliError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| CliError::Io { what: format!("failed to read `{}`", path.display()), source })?;
                let pairs = cutover_secrets::dotenv::read(&text);
                keys_from_dotenv(pairs.iter().map(|p| (p.key.as_str(), p.value.as_str())))
                    .map_err(|e| CliError::Usage(format!("`{}`: {e}", path.display())))
            }
            None => match std::env::var(var) {
                Ok(value) => AppKey::parse(&value).map(|k| vec![k]).map_err(|e| CliError::Usage(format!("{var}: {e}"))),
                Err(_) => {
                    Err(CliError::Usage(format!("`--reencrypt` needs the {which} key: `--{which}-env FILE` or {var}")))
                }
            },
        }
    };
    let old = load(&args.old_env, "CUTOVER_OLD_APP_KEY", "old")?;
    let new = load(&args.new_env, "CUTOVER_NEW_APP_KEY", "new")?.remove(0);
    Ok(Some(Reencrypt { old, new }))
}

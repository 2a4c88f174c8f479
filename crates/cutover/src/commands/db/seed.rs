//! `cutover deploy --seed fresh|copy-staging|hybrid`: an environment's first release fills its
//! empty database on the prepared release, before any host switches.
//!
//! [`check`] runs before anything is uploaded: the environment must have a database, never have
//! had a live release on any host (the journals say), and its database must hold no table (exit
//! 3 naming one otherwise), and the strategy must have what it needs (exit 2). [`run`] is the
//! step the deploy's before-switch work calls: it checks the database is still empty, then
//! `fresh` runs `[seed] installer` in the new release on the db host, `copy-staging` copies
//! `[seed] from`'s database ([`super::copy::run`]), and `hybrid` runs the installer and then
//! copies `[seed] import_tables` in place of the tables it made. With a copy, `[seed]
//! copy_shared` directories follow, tar streamed from the source environment's first host
//! through this process into every host's `shared/` (`--seed fresh` copies none: nothing comes
//! from staging then). A failed seed empties the database again (it was empty before), and so
//! does a migrate failing after it or a signal (`release::DbRelease`, which runs the seed first):
//! no host switches, so the next `deploy --seed` starts from the same place.
//!
//! Only `--seed` seeds: a deploy without it never touches the database, first release or not.

use std::io::{self, Read, Write};
use std::sync::{Mutex, PoisonError};

use cutover_config::{Config, SeedStrategy, SharedPath};
use cutover_process::interrupt;
use cutover_release::{Fleet, ReleaseError};
use cutover_remote::journal::Kind;
use cutover_remote::shell::{path_expr, quote};
use cutover_remote::{HostState, Stdin, Target};
use serde::Serialize;

use super::copy::{CopySpec, CopySummary};
use crate::CliError;
use crate::cli::Global;
use crate::context::Ctx;
use crate::output::Output;

/// `--seed`'s value.
pub fn parse_strategy(text: &str) -> Result<SeedStrategy, String> {
    SeedStrategy::parse(text).ok_or_else(|| format!("`{text}`: use fresh, copy-staging or hybrid"))
}

/// A seed that passed [`check`].
#[derive(Debug, Clone)]
pub struct Plan {
    pub env: String,
    pub strategy: SeedStrategy,
    /// Where a copy comes from (`[seed] from`).
    pub from: String,
    pub installer: Option<String>,
    pub import_tables: Vec<String>,
    pub copy_shared: Vec<SharedPath>,
}

impl Plan {
    fn copies(&self) -> bool {
        self.strategy != SeedStrategy::Fresh
    }
}

/// What a seed did, for the deploy's output and `--json` report.
#[derive(Debug, Serialize)]
pub struct SeedSummary {
    pub strategy: SeedStrategy,
    pub database: String,
    /// The host the installer ran on and the database's tools ran from.
    pub host: String,
    pub installer: Option<String>,
    pub copy: Option<CopySummary>,
    pub shared: Vec<SharedCopy>,
    /// The database once seeded.
    pub tables: usize,
    pub rows: u64,
}

#[derive(Debug, Serialize)]
pub struct SharedCopy {
    pub path: String,
    pub from_host: String,
    pub to_hosts: Vec<String>,
    /// The tar stream's size, per host.
    pub bytes: u64,
}

impl SeedSummary {
    /// One line: `fresh: installer `…` on `h1`; 4 table(s), 12 row(s) in mysql …`.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(installer) = &self.installer {
            parts.push(format!("installer `{installer}` ran on `{}`", self.host));
        }
        if let Some(copy) = &self.copy {
            let what = if self.strategy == SeedStrategy::Hybrid { "import tables" } else { "database" };
            parts.push(format!(
                "{what} copied from {} ({} of dump, {} values rewritten, {} re-encrypted)",
                copy.from,
                cutover_config::human::bytes(copy.copied.stats.bytes_in),
                super::copy::changed(&copy.copied),
                copy.copied.stats.reencrypted
            ));
        }
        for s in &self.shared {
            parts.push(format!(
                "shared/{} copied from `{}` to {} host(s) ({})",
                s.path,
                s.from_host,
                s.to_hosts.len(),
                cutover_config::human::bytes(s.bytes)
            ));
        }
        format!(
            "seeded ({}): {}; {} now holds {} table(s), {} row(s)",
            self.strategy.as_str(),
            parts.join("; "),
            self.database,
            self.tables,
            self.rows
        )
    }
}

/// Everything `--seed` needs, checked before anything is uploaded: the environment's database
/// configured, the strategy's settings, no release ever live on `states`' hosts, and an empty
/// database (`db`, when the deploy opened it already; else opened here).
pub fn check(
    ctx: &Ctx<'_>,
    config: &Config,
    strategy: SeedStrategy,
    states: &[HostState],
    db: Option<&super::EnvDatabase>,
) -> Result<Plan, CliError> {
    let env = ctx.global.env.clone();
    let seed = &config.seed;
    let flag = format!("--seed {}", strategy.as_str());
    if config.env(&env)?.database.is_none() {
        return Err(CliError::Usage(format!(
            "`{flag}`: environment `{env}` names no database; add `database = \"…\"` to [env.{env}]"
        )));
    }
    if strategy == SeedStrategy::Fresh && !seed.copy_shared.is_empty() {
        ctx.out.warn_line(&format!(
            "`[seed] copy_shared` comes from {} along with a copy of its database; `{flag}` copies neither",
            seed.from
        ));
    }
    let installer = seed.installer.clone().filter(|i| !i.trim().is_empty());
    if strategy != SeedStrategy::CopyStaging && installer.is_none() {
        return Err(CliError::Usage(format!(
            "`{flag}` runs `[seed] installer` in the new release, and none is set: add e.g. `installer = \"php \
             artisan migrate --seed --force\"` to [seed], or seed with `--seed copy-staging`"
        )));
    }
    if strategy == SeedStrategy::Hybrid && seed.import_tables.is_empty() {
        return Err(CliError::Usage(format!(
            "`{flag}` copies `[seed] import_tables` from {} after the installer, and none are listed",
            seed.from
        )));
    }
    let plan = Plan {
        env: env.clone(),
        strategy,
        from: seed.from.clone(),
        installer: if strategy == SeedStrategy::CopyStaging { None } else { installer },
        import_tables: if strategy == SeedStrategy::Hybrid { seed.import_tables.clone() } else { Vec::new() },
        copy_shared: if strategy == SeedStrategy::Fresh { Vec::new() } else { seed.copy_shared.clone() },
    };
    if plan.copies() {
        if plan.from == env {
            return Err(CliError::Usage(format!("`{flag}` copies from `[seed] from`, which is `{env}` itself")));
        }
        let from = config.env(&plan.from)?;
        if from.database.is_none() {
            return Err(CliError::Usage(format!(
                "`{flag}` copies {}'s database, and environment `{}` names none",
                plan.from, plan.from
            )));
        }
    }
    first_release(&env, &flag, states)?;
    if strategy == SeedStrategy::Hybrid {
        import_tables_exist(ctx, config, &plan, &flag)?;
    }
    ctx.out.say(&format!("==> checking that {env}'s database is empty ({flag})"));
    match db {
        Some(db) => refuse_tables(db, &flag)?,
        None => refuse_tables(&super::open(ctx, config, &env)?, &flag)?,
    }
    Ok(plan)
}

/// Exit 3 when any host ever had a live release: only the first release seeds.
fn first_release(env: &str, flag: &str, states: &[HostState]) -> Result<(), CliError> {
    for state in states {
        let live = state
            .current
            .clone()
            .or_else(|| state.journal.iter().find(|e| e.event == Kind::Switched).and_then(|e| e.release.clone()));
        if let Some(release) = live {
            return Err(CliError::Blocked(format!(
                "environment `{env}`: `{flag}` is for the first release only, and {release} was live on `{}`: \
                 later deploys never seed (`cutover db copy` copies a database by hand); nothing was uploaded",
                state.host
            )));
        }
    }
    Ok(())
}

/// Every `[seed] import_tables` name is a table of the source's database (a dump tool asked
/// for a missing table may fail after the installer ran, or, sqlite3's, say nothing).
fn import_tables_exist(ctx: &Ctx<'_>, config: &Config, plan: &Plan, flag: &str) -> Result<(), CliError> {
    let source = super::open(ctx, config, &plan.from)?;
    let there = cutover_db::host::tables(&source.db, &source.host())?;
    // PostgreSQL's are schema-qualified: `wp_options` is `public.wp_options`.
    let missing: Vec<&str> = plan
        .import_tables
        .iter()
        .map(String::as_str)
        .filter(|t| !there.iter().any(|x| x == t || x.strip_prefix("public.") == Some(*t)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "`{flag}`: `[seed] import_tables` names {}, which {}'s {} on `{}` does not have",
        missing.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
        plan.from,
        source.db.describe(),
        source.target.name()
    )))
}

/// Exit 3 naming a table when the database has one.
fn refuse_tables(target: &super::EnvDatabase, flag: &str) -> Result<(), CliError> {
    let tables = cutover_db::host::tables(&target.db, &target.host())?;
    match tables.first() {
        None => Ok(()),
        Some(first) => Err(CliError::Blocked(format!(
            "environment `{}`: `{flag}` seeds an empty database only, and {} on `{}` has table `{first}`{}; nothing \
             was seeded",
            target.env,
            target.db.describe(),
            target.target.name(),
            if tables.len() > 1 { format!(" and {} more", tables.len() - 1) } else { String::new() }
        ))),
    }
}

/// The seed as the first step of the deploy's before-switch work (`release::DbRelease`): runs
/// [`run`] once and keeps its outcome (the engine hears only a message; the deploy reads back
/// the exit code and the summary).
pub struct Seeder<'a> {
    pub global: &'a Global,
    pub out: &'a Output,
    pub config: &'a Config,
    pub plan: Plan,
    outcome: Mutex<Option<Result<SeedSummary, CliError>>>,
}

impl std::fmt::Debug for Seeder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeder").field("plan", &self.plan).finish_non_exhaustive()
    }
}

impl<'a> Seeder<'a> {
    pub fn new(global: &'a Global, out: &'a Output, config: &'a Config, plan: Plan) -> Self {
        Self { global, out, config, plan, outcome: Mutex::new(None) }
    }

    /// Runs the seed on the prepared release (`db`: the environment's database, opened; `None`
    /// opens it); `Err` is the message the engine fails the release with.
    pub fn seed(
        &self,
        fleet: &Fleet,
        release: &str,
        previous: Option<&str>,
        db: Option<&super::EnvDatabase>,
    ) -> Result<(), String> {
        // A context of its own: the deploy's is not shared across threads, and the seed
        // needs no state database.
        let ctx = Ctx::new(self.global, self.out);
        let result = run(&ctx, self.config, &self.plan, fleet, (release, previous), db);
        let message = result.as_ref().err().map(ToString::to_string);
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        message.map_or(Ok(()), Err)
    }

    /// After a seed that worked, a later step before the switch failed (`failed`): the
    /// database is emptied again, as it was before this deploy; the message says so.
    pub fn undo(&self, db: Option<&super::EnvDatabase>, failed: String) -> String {
        let Some(db) = db else { return failed };
        match cutover_db::host::clear(&db.db, &db.host()) {
            Ok(()) => format!("{failed}; the seeded database was emptied again, as it was before this deploy"),
            Err(e) => format!("{failed}; emptying the seeded database again failed: {e}"),
        }
    }

    /// What the seed did, once the deploy is through.
    pub fn summary(&self) -> Option<SeedSummary> {
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner).take().and_then(Result::ok)
    }

    /// The deploy's error, with the seed's exit code when the seed was refused (exit 3: the
    /// database was not empty any more).
    pub fn deploy_error(&self, e: ReleaseError) -> CliError {
        let refused = matches!(
            &*self.outcome.lock().unwrap_or_else(PoisonError::into_inner),
            Some(Err(seed)) if seed.exit_code() == crate::error::EXIT_BLOCKED
        );
        if refused && matches!(e, ReleaseError::BeforeSwitch { .. }) {
            CliError::Blocked(e.to_string())
        } else {
            e.into()
        }
    }
}

/// Seeds `plan.env`'s database on release `release`, prepared on every host of `fleet` and not
/// live yet. A failure after the database was touched empties it again.
pub fn run(
    ctx: &Ctx<'_>,
    config: &Config,
    plan: &Plan,
    fleet: &Fleet,
    (release, previous): (&str, Option<&str>),
    db: Option<&super::EnvDatabase>,
) -> Result<SeedSummary, CliError> {
    let out = ctx.out;
    let flag = format!("--seed {}", plan.strategy.as_str());
    out.say(&format!("==> seeding {}'s database ({flag})", plan.env));
    let opened;
    let target = match db {
        Some(db) => db,
        None => {
            opened = super::open(ctx, config, &plan.env)?;
            &opened
        }
    };
    // Checked again under the deploy's lock: something may have written to it since.
    refuse_tables(target, &flag)?;
    let host = target.target.name().to_owned();
    let seeded = fill(ctx, config, plan, fleet, release, previous, target);
    let (copy, shared) = match seeded {
        Ok(done) => done,
        Err((step, detail)) => {
            let undo = match cutover_db::host::clear(&target.db, &target.host()) {
                Ok(()) => "the database was emptied again".to_owned(),
                Err(clear) => format!("emptying the database again failed too: {clear}"),
            };
            return Err(CliError::Check(format!(
                "environment `{}`: seeding ({flag}) failed on `{host}` at {step}: {detail}; {undo}",
                plan.env,
            )));
        }
    };
    let counts = cutover_db::host::stats(&target.db, &target.host(), false)?;
    Ok(SeedSummary {
        strategy: plan.strategy,
        database: target.db.describe(),
        host,
        installer: plan.installer.clone(),
        copy,
        shared,
        tables: counts.len(),
        rows: counts.iter().map(|t| t.rows).sum(),
    })
}

type Filled = (Option<CopySummary>, Vec<SharedCopy>);

/// The strategy's steps; an error says which step failed, and how.
fn fill(
    ctx: &Ctx<'_>,
    config: &Config,
    plan: &Plan,
    fleet: &Fleet,
    release: &str,
    previous: Option<&str>,
    target: &super::EnvDatabase,
) -> Result<Filled, (String, String)> {
    if let Some(installer) = &plan.installer {
        // The installer runs in the release, so on one of the environment's hosts: the db
        // host when it is one of them, else the first.
        let t = fleet.targets.iter().find(|t| t.name() == target.target.name()).unwrap_or(&fleet.targets[0]).as_ref();
        let step = format!("the installer `{installer}`");
        let timeout = config.hooks.timeout.0;
        cutover_release::run_in_release(
            fleet,
            t,
            "seed",
            (std::slice::from_ref(installer), timeout),
            release,
            previous,
            ctx.out,
        )
        .map_err(|e| (step, e.to_string()))?;
    }
    // A signal lets the step in flight finish and starts no other (the deploy then empties
    // the database again: no host will switch).
    if interrupt::requested().is_some() {
        return Ok((None, Vec::new()));
    }
    let copy = if plan.copies() {
        let spec = CopySpec {
            replace: config.seed.replace.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
            reencrypt: config.seed.reencrypt,
            tables: plan.import_tables.clone(),
            skip_tables: config.seed.skip_tables.clone(),
            skip_columns: config.seed.skip_columns.iter().map(|tc| (tc.table.clone(), tc.column.clone())).collect(),
            // Hybrid: the installer made these tables; the copy replaces just them.
            overwrite: plan.strategy == SeedStrategy::Hybrid,
            // They are the installer's, made moments ago on a database that was empty.
            discard: true,
        };
        let step = format!("copying {}'s database", plan.from);
        Some(super::copy::run(ctx, config, &plan.from, &plan.env, &spec).map_err(|e| (step, e.to_string()))?)
    } else {
        None
    };
    let mut shared = Vec::new();
    for path in plan.copy_shared.iter().take_while(|_| interrupt::requested().is_none()) {
        let step = format!("copying shared/{} from {}", path.path, plan.from);
        shared.push(copy_shared(ctx, config, &plan.from, fleet, path).map_err(|e| (step, e.to_string()))?);
    }
    Ok((copy, shared))
}

/// `shared/PATH` of `from`'s first host into `shared/` of every host of `fleet`: a tar stream
/// read off the one host and written into each of the others, through this process, nothing on
/// local disk.
fn copy_shared(
    ctx: &Ctx<'_>,
    config: &Config,
    from: &str,
    fleet: &Fleet,
    path: &SharedPath,
) -> Result<SharedCopy, CliError> {
    let source_env = config.env(from)?;
    let source_host = &source_env.hosts()[0];
    ctx.out.say(&format!(
        "==> copying shared/{} from {from}'s `{source_host}` to {} host(s)",
        path.path,
        fleet.targets.len()
    ));
    let source = cutover_remote::connect(source_host, &ctx.ssh_options(config))
        .map_err(|e| CliError::Check(format!("environment `{from}`: connecting to `{source_host}`: {e}")))?;
    let item = quote(&path.path);
    let pack = format!(
        "set -e\n[ -e {root}/shared/{item} ] || {{ echo cutover: shared/{item} does not exist on this host >&2; exit 1; }}\n\
         cd {root}\ntar -C shared -cf - {item}\n",
        root = path_expr(&source_env.path),
    );
    let unpack =
        format!("set -e\ncd {}\nmkdir -p shared\ntar -C shared --no-same-owner -xf -\n", path_expr(&fleet.root));
    let mut bytes = 0;
    let mut to_hosts = Vec::new();
    for t in &fleet.targets {
        let sides = [(source.as_ref(), from, pack.as_str()), (t.as_ref(), fleet.env_name.as_str(), unpack.as_str())];
        bytes = stream(sides, &format!("shared/{}", path.path)).map_err(CliError::Check)?;
        to_hosts.push(t.name().to_owned());
    }
    Ok(SharedCopy { path: path.path.clone(), from_host: source_host.to_string(), to_hosts, bytes })
}

/// One end of a [`stream`]: the host, its environment, the script.
type End<'a> = (&'a dyn Target, &'a str, &'a str);

/// Runs the first end's script with its stdout piped into the second's stdin; the bytes passed,
/// or the failure naming the environment and host where it happened.
fn stream([(from, from_env, pack), (to, to_env, unpack)]: [End<'_>; 2], what: &str) -> Result<u64, String> {
    let (mut reader, writer) = io::pipe().map_err(|e| format!("opening a pipe for {what}: {e}"))?;
    let read_step = format!("reading {what}");
    let write_step = format!("writing {what}");
    std::thread::scope(|s| {
        let packer = s.spawn(move || {
            let mut writer = writer;
            from.run_piped(&read_step, pack, Stdin::Null, &mut writer).map(drop)
            // Dropping the writer ends the unpacking side's input.
        });
        let mut passed = 0u64;
        let mut feed = |w: &mut dyn Write| -> io::Result<()> {
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                w.write_all(&buf[..n])?;
                passed += n as u64;
            }
        };
        let unpacked = to.run(&write_step, unpack, Stdin::Writer(&mut feed)).map(drop);
        drop(reader);
        let packed = packer.join().expect("the tar reader does not panic");
        // The reading side's failure is the story when there is one.
        packed.map_err(|e| format!("environment `{from_env}`: {e}"))?;
        unpacked.map_err(|e| format!("environment `{to_env}`: {e}"))?;
        Ok(passed)
    })
}

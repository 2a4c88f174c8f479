//! The database's part of moving releases, run by the engine under the deploy lock once the
//! hosts are ready and before any switches ([`cutover_release::BeforeSwitch`]): a deploy's
//! `[hooks] migrate`, protected by a snapshot and undone by it when it fails ([`DbRelease`]),
//! and `rollback --with-db`'s restore ([`DbRollback`]).

use std::time::Duration;

use cutover_config::Config;
use cutover_db::host::snapshot;
use cutover_process::interrupt;
use cutover_release::{BeforeSwitch, Fleet, run_in_release};

use super::EnvDatabase;
use crate::CliError;
use crate::context::Ctx;
use crate::output::Output;

/// A deploy's database work on the prepared release.
#[derive(Debug)]
pub struct DbRelease<'a> {
    pub env: String,
    /// The environment's database, opened; `None` without `[env.X] database`.
    pub db: Option<EnvDatabase>,
    /// `[hooks] migrate`.
    pub migrate: &'a [String],
    /// `[hooks] timeout`, for each migrate command.
    pub timeout: Duration,
    /// The db host as written: migrate runs there when it is one of the environment's hosts,
    /// else on the first host.
    pub db_host: String,
    pub out: &'a Output,
    /// `deploy --seed`: run first, on the empty database.
    pub seed: Option<super::seed::Seeder<'a>>,
}

impl<'a> DbRelease<'a> {
    /// For a deploy of the selected environment: `None` when it has neither a `database` nor
    /// `[hooks] migrate`. The database is opened now, before anything changes on a host.
    pub fn for_deploy(ctx: &Ctx<'a>, config: &'a Config) -> Result<Option<Self>, CliError> {
        let env = ctx.global.env.as_str();
        let environment = config.env(env)?;
        if environment.database.is_none() && config.hooks.migrate.is_empty() {
            return Ok(None);
        }
        let db = match environment.database {
            Some(_) => Some(super::open(ctx, config, env)?),
            None => None,
        };
        Ok(Some(Self {
            env: env.to_owned(),
            db,
            migrate: &config.hooks.migrate,
            timeout: config.hooks.timeout.0,
            db_host: environment.db_host().to_string(),
            out: ctx.out,
            seed: None,
        }))
    }

    /// `[hooks] migrate`, once, in the new release: the database snapshotted first (the
    /// snapshot's id is the release's), and restored from it if a command fails.
    fn migrate(&self, fleet: &Fleet, release: &str, previous: Option<&str>) -> Result<(), String> {
        if self.migrate.is_empty() {
            return Ok(());
        }
        let env = &self.env;
        let target = fleet.targets.iter().find(|t| t.name() == self.db_host).unwrap_or(&fleet.targets[0]).as_ref();
        let host = target.name();
        match &self.db {
            Some(db) => {
                self.out.say(&format!(
                    "==> snapshotting {env}'s {} on `{}` before migrate (snapshot {release})",
                    db.db.describe(),
                    db.target.name()
                ));
                let info = snapshot::snapshot(&db.db, &db.host(), release, Some(release), false)
                    .map_err(|e| format!("{e}; migrate did not run, the database is as it was"))?;
                super::snapshot::warn_unsettled(self.out, &info);
            }
            None => self.out.warn_line(&format!(
                "MIGRATE UNPROTECTED ({env}): [env.{env}] names no `database`, so no snapshot is taken before \
                 `[hooks] migrate`: if it fails, the database stays as it leaves it"
            )),
        }
        // Stopped before migrate: the engine says so, and switches nothing.
        if interrupt::requested().is_some() {
            return Ok(());
        }
        let commands = (self.migrate, self.timeout);
        let Err(e) = run_in_release(fleet, target, "migrate", commands, release, previous, self.out) else {
            // Stopped while migrate ran: it finished, and no host will switch to the code it
            // was for, so the database goes back too; the engine then says it was interrupted.
            if let (Some(signal), Some(db)) = (interrupt::requested(), &self.db) {
                self.out.warn_line(&format!(
                    "{signal} during migrate: no host switches, so {env}'s database goes back to snapshot {release}"
                ));
                return super::restore::run(self.out, db, release).map(drop).map_err(|r| {
                    format!("interrupted by {signal} after migrate; restoring snapshot {release} failed: {r}")
                });
            }
            return Ok(());
        };
        let failed = format!("environment `{env}`: migrate on `{host}`: {e}");
        let Some(db) = &self.db else {
            return Err(format!("{failed}; no snapshot protected it: the database is as migrate left it"));
        };
        self.out.warn_line(&format!("migrate failed on `{host}`; restoring {env}'s database from snapshot {release}"));
        match super::restore::run(self.out, db, release) {
            Ok(_) => Err(format!("{failed}; the database was restored from snapshot {release}, as it was before")),
            Err(r) => Err(format!(
                "{failed}; restoring snapshot {release} failed too, so the database may be as migrate left it: {r}"
            )),
        }
    }

    /// After a deploy: snapshots taken for releases that are no longer on any host (retention
    /// removed them) are removed too; those taken by hand stay. A failure is a warning: the
    /// deploy is done.
    pub fn prune(&self, fleet: &Fleet) {
        let Some(db) = &self.db else { return };
        let kept: Vec<String> = match fleet.read_states() {
            Ok(states) => states.into_iter().flat_map(|s| s.on_disk).collect(),
            Err(e) => {
                self.out.warn_line(&format!("the snapshots of removed releases were not removed: {e}"));
                return;
            }
        };
        match snapshot::prune(&db.host(), &kept) {
            Ok(gone) if !gone.is_empty() => self.out.say(&format!(
                "  removed the database snapshot(s) of release(s) retention removed: {}",
                gone.join(", ")
            )),
            Ok(_) => {}
            Err(e) => self.out.warn_line(&format!("the snapshots of removed releases were not removed: {e}")),
        }
    }
}

impl BeforeSwitch for DbRelease<'_> {
    fn before_switch(&self, fleet: &Fleet, release: &str, previous: Option<&str>) -> Result<(), String> {
        // Seeding (`deploy --seed`) first, so migrate's snapshot protects the seeded database.
        if let Some(seed) = &self.seed {
            seed.seed(fleet, release, previous, self.db.as_ref())?;
            // The database was empty before this deploy: a failed migrate leaves it so, and so
            // does a signal (no host will switch; the engine then says it was interrupted).
            self.migrate(fleet, release, previous).map_err(|e| seed.undo(self.db.as_ref(), e))?;
            if let Some(signal) = interrupt::requested() {
                self.out.warn_line(
                    &seed.undo(self.db.as_ref(), format!("{signal} while seeding: no host switches to {release}")),
                );
            }
            return Ok(());
        }
        // Migrations, protected by a snapshot.
        self.migrate(fleet, release, previous)
    }
}

/// `rollback --with-db`: the database restored from the snapshot taken before the release the
/// rollback leaves, under the rollback's lock, before any host switches back.
#[derive(Debug)]
pub struct DbRollback<'a> {
    pub db: &'a EnvDatabase,
    /// The release left, whose snapshot is restored.
    pub from: &'a str,
    pub out: &'a Output,
}

impl BeforeSwitch for DbRollback<'_> {
    fn before_switch(&self, _fleet: &Fleet, _to: &str, from: Option<&str>) -> Result<(), String> {
        if from != Some(self.from) {
            return Err(format!(
                "the hosts moved from {} to {} meanwhile; the database was not touched",
                self.from,
                from.unwrap_or("nothing")
            ));
        }
        super::restore::run(self.out, self.db, self.from).map(drop).map_err(|e| e.to_string())
    }
}

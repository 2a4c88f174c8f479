//! `cutover db …`: database dumps, copies between environments, snapshots.

pub mod copy;
pub mod release;
pub mod restore;
pub mod rewrite;
pub mod seed;
pub mod snapshot;
pub mod snapshots;

use std::collections::BTreeMap;

use clap::Subcommand;
use cutover_config::Config;
use cutover_db::host::{Database, DbHost};
use cutover_remote::Target;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Rewrite a dump from stdin to stdout: URLs (serialization-safe) and Laravel encrypted values.
    Rewrite(rewrite::RewriteArgs),
    /// Copy one environment's database into another's, rewritten on the way (staging's URLs to
    /// production's, Laravel values re-encrypted with production's key); the target must be
    /// empty unless `--overwrite`, and is never left half loaded.
    Copy(copy::CopyArgs),
    /// Snapshot the environment's database on its db host (compressed, with each table's rows
    /// and checksum); kept until removed by hand.
    Snapshot(snapshot::SnapshotArgs),
    /// List the snapshots kept on the environment's db host (those taken before each release's
    /// migrate go with the release).
    Snapshots(snapshots::SnapshotsArgs),
    /// Put the environment's database back to a snapshot, after saying what that undoes; the
    /// database is as it was until the whole snapshot is in.
    Restore(restore::RestoreArgs),
}

/// An environment's database, resolved, and the host that runs its tools, connected.
#[derive(Debug)]
pub struct EnvDatabase {
    pub env: String,
    pub db: Database,
    pub target: Box<dyn Target>,
    /// The deploy path on the db host, as a shell expression.
    pub root: String,
    /// The environment's rendered `.env`, when it has a template.
    pub dotenv: Option<BTreeMap<String, String>>,
}

impl EnvDatabase {
    pub fn host(&self) -> DbHost<'_> {
        DbHost { env: &self.env, target: self.target.as_ref(), root: &self.root }
    }
}

/// Opens environment `env`'s database: `[env.X] database` resolved (its password from the
/// secrets provider, or the whole of it from the rendered `.env`), and its db host connected.
pub fn open(ctx: &Ctx<'_>, config: &Config, env: &str) -> Result<EnvDatabase, CliError> {
    let environment = config.env(env)?;
    let Some(spec) = &environment.database else {
        return Err(CliError::Usage(format!(
            "environment `{env}` names no database: add `database = \"mysql://USER:${{secret:DB_PASSWORD}}@HOST:3306/NAME\"` \
             (or postgres://…, sqlite:///path, or \"env\" to read it from the rendered .env) to [env.{env}] in cutover.toml"
        )));
    };
    // The provider (the vault needs the user's key) is opened only when a secret is needed.
    let needs_secrets = environment.env_template.is_some()
        || matches!(spec, cutover_config::DatabaseSpec::Url(u) if u.password_secret.is_some());
    let provider = if needs_secrets { Some(super::secrets::provider(ctx, config)?) } else { None };
    let dotenv = match &provider {
        Some(provider) => {
            super::secrets::render(config, env, provider)?.map(|r| cutover_secrets::dotenv::values(r.text.expose()))
        }
        None => None,
    };
    let secret = |name: &str| match &provider {
        Some(provider) => provider.get(env, name).map_err(|e| e.to_string()),
        None => Err(format!("secret `{name}` cannot be read")),
    };
    let db = Database::resolve(spec, env, secret, dotenv.as_ref())?;
    let target = cutover_remote::connect(environment.db_host(), &ctx.ssh_options(config)).map_err(|e| {
        cutover_db::host::DbError::Remote {
            env: env.to_owned(),
            step: "connecting to the db host".into(),
            source: Box::new(e),
        }
    })?;
    Ok(EnvDatabase {
        env: env.to_owned(),
        db,
        target,
        root: cutover_remote::shell::path_expr(&environment.path),
        dotenv,
    })
}

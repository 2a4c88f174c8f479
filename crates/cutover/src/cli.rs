//! The command line, as clap sees it: the global options and one variant per command, each
//! wrapping the `Args` of its file in `commands/`. DESIGN.md's command surface is the contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    attest, config, db, demo, deploy, init, launch, log, monitor, path, preflight, promote, ready, releases, report,
    rollback, secrets, smoke, status, tls, unlock, verify,
};

#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about = "Take a staging-verified web app to production, with a rollback one command away"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The config file.
    #[arg(short, long, global = true, default_value = "cutover.toml", env = "CUTOVER_CONFIG")]
    pub config: PathBuf,
    /// The environment to act on.
    #[arg(long, global = true, default_value = "production", env = "CUTOVER_ENV")]
    pub env: String,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Answer yes to every confirmation (a change to a gated environment asks on a terminal).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented cutover.toml.
    Init(init::InitArgs),
    /// Deploy, check, roll back and check again on this machine: no config, no server.
    Demo(demo::DemoArgs),
    /// Validate the config file.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Upload a release to every host and switch them all to it.
    Deploy(deploy::DeployArgs),
    /// Put every host back on the previous good release.
    Rollback(rollback::RollbackArgs),
    /// Each host's current release, rollback target and lock.
    Status(status::StatusArgs),
    /// Every release and its state on each host.
    Releases(releases::ReleasesArgs),
    /// The launch report: gates and their evidence, each host's releases, the monitor's
    /// charts, secrets and database; a summary, `--json`, or one HTML page with `--html FILE`.
    Report(report::ReportArgs),
    /// The local audit log of commands run with this config.
    Log(log::LogArgs),
    /// Break the deploy lock on every host; the reason is journaled.
    Unlock(unlock::UnlockArgs),
    /// Pre-flight item 7: record that a named person vouches for an item (rollback-plan,
    /// contacts, stakeholders, or one of `[preflight] attest`); `--list` shows every item.
    Attest(attest::AttestArgs),
    /// Stage 1: the seven pre-flight items with their evidence, judged by the launch path.
    /// Exits 1 when a required item fails.
    Preflight(preflight::PreflightArgs),
    /// Deploy exactly the artifact live on staging (same manifest hash, no build), once it
    /// passed smoke there.
    Promote(promote::PromoteArgs),
    /// The cutover's stages 1-4 in order (path, pre-flight, ready, deploy, smoke), stopping at
    /// the first that fails; stages passed before for this config and artifact are skipped.
    Launch(launch::LaunchArgs),
    /// The hardened path's final verification after go-live: servers, secrets, ready and
    /// smoke against the environment, recorded as the `verify` gate. Exits 1 when one fails.
    Verify(verify::VerifyArgs),
    /// Show or pick the environment's launch path (fast, hardened, iterative); changing it
    /// needs `--reason`.
    Path(path::PathArgs),
    /// Stage 2: the names resolve to the hosts (or their proxy) and every host serves a valid
    /// certificate for them, with HTTP redirected to HTTPS. Exits 1 when a check fails.
    Ready(ready::ReadyArgs),
    /// Stage 4: every `[[check]]` through the public URL (and each host directly where
    /// `every_host` is set). Exits 1 when a check fails.
    Smoke(smoke::SmokeArgs),
    /// Stage 5: watch the live release for the window; on a breach roll back once (or alert).
    Monitor(monitor::MonitorArgs),
    /// TLS certificates on the hosts.
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Secrets: the provider's values, the rendered `.env`, rotation, audit and a secret scan.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Database dumps.
    #[command(subcommand)]
    Db(db::DbCommand),
}

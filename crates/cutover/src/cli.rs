//! The command line, as clap sees it. DESIGN.md's command surface is the contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented cutover.toml.
    Init {
        #[arg(long, value_enum, default_value_t = PresetArg::Generic)]
        preset: PresetArg,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Deploy, check, roll back and check again on this machine: no config, no server.
    Demo {
        /// Keep the demo's directory instead of deleting it.
        #[arg(long)]
        keep: bool,
    },
    /// Validate the config file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Upload a release to every host and switch them all to it.
    Deploy,
    /// Put every host back on the previous good release.
    Rollback {
        /// The release to go to instead of the previous good one.
        #[arg(long, value_name = "RELEASE")]
        to: Option<String>,
    },
    /// Each host's current release, rollback target and lock.
    Status,
    /// Every release and its state on each host.
    Releases,
    /// The local audit log of commands run with this config.
    Log {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Break the deploy lock on every host; the reason is journaled.
    Unlock {
        #[arg(long)]
        reason: String,
    },
    /// Stage 2: the names resolve to the hosts (or their proxy) and every host serves a valid
    /// certificate for them, with HTTP redirected to HTTPS. Exits 1 when a check fails.
    Ready {
        /// Check this certificate file (PEM chain, leaf first) instead of the live hosts.
        #[arg(long, value_name = "FILE")]
        cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM), checked to match it.
        #[arg(long, value_name = "FILE", requires = "cert")]
        key: Option<std::path::PathBuf>,
    },
    /// Stage 4: every `[[check]]` through the public URL (and each host directly where
    /// `every_host` is set). Exits 1 when a check fails.
    Smoke {
        /// On a failure, roll every host back to the previous good release (exit 5).
        #[arg(long)]
        rollback_on_fail: bool,
    },
    /// Stage 5: watch the live release for the window; on a breach roll back once (or alert).
    Monitor(MonitorArgs),
    /// TLS certificates on the hosts.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// Secrets: the provider's values, the rendered `.env`, rotation, audit and a secret scan.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Database dumps.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// How long to watch (default `[monitor] window`, 48h).
    #[arg(long, value_parser = duration)]
    pub window: Option<cutover_config::HumanDuration>,
    /// Time between rounds of checks (default `[monitor] interval`, 60s).
    #[arg(long, value_parser = duration)]
    pub interval: Option<cutover_config::HumanDuration>,
    /// On a breach: roll back once, or only alert (default `[monitor] on_fail`).
    #[arg(long, value_parser = on_fail)]
    pub on_fail: Option<cutover_config::OnFail>,
}

fn duration(text: &str) -> Result<cutover_config::HumanDuration, String> {
    cutover_config::HumanDuration::parse(text)
}

fn on_fail(text: &str) -> Result<cutover_config::OnFail, String> {
    match text {
        "rollback" => Ok(cutover_config::OnFail::Rollback),
        "alert" => Ok(cutover_config::OnFail::Alert),
        _ => Err(format!("`{text}`: use rollback or alert")),
    }
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret of the environment (vault provider); the value is read from stdin.
    Set { name: String },
    /// Show a secret of the environment, redacted unless `--reveal`.
    Get {
        name: String,
        /// Print the value itself (to stdout).
        #[arg(long)]
        reveal: bool,
    },
    /// Render the environment's `.env` template with every secret redacted.
    Render,
    /// New values for generated secrets (all of them, or the names given); the old `APP_KEY`
    /// moves to `APP_PREVIOUS_KEYS`.
    Rotate { names: Vec<String> },
    /// The template holds only placeholders, no env file is tracked, every secret resolves,
    /// production differs from staging and runs in production mode. Exits 1 with every finding.
    Audit,
    /// Scan a repository's working tree and its whole git history for committed secrets; needs
    /// no cutover.toml. Exits 1 when anything is found.
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The repository or directory to scan (default: the current directory).
    #[arg(value_name = "PATH")]
    pub path: Option<std::path::PathBuf>,
    /// Only the files as they are now, not the git history.
    #[arg(long, conflicts_with = "no_work_tree")]
    pub no_history: bool,
    /// Only the git history, not the files as they are now.
    #[arg(long)]
    pub no_work_tree: bool,
    /// Files and blobs larger than this many bytes are skipped (default 4 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_size: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Get a certificate for the environment's names by ACME (Let's Encrypt by default) and
    /// install it on every host; a trusted one with more than 30 days left is reused.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// How to prove control of the names: a file under `[tls] webroot` on every host
    /// (http-01), or a TXT record published by `[tls] dns_hook` (dns-01).
    #[arg(long, value_enum, default_value_t = ChallengeArg::Http01)]
    pub challenge: ChallengeArg,
    /// The ACME directory URL (default: Let's Encrypt).
    #[arg(long, value_name = "URL", conflicts_with = "staging")]
    pub directory: Option<String>,
    /// Use Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
    #[arg(long)]
    pub staging: bool,
    /// Issue a new certificate even when the hosts have a valid one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChallengeArg {
    #[value(name = "http-01")]
    Http01,
    #[value(name = "dns-01")]
    Dns01,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Rewrite a dump from stdin to stdout: URLs (serialization-safe) and Laravel encrypted values.
    Rewrite(RewriteArgs),
}

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
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the config; errors point at file:line:col.
    Check,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetArg {
    Generic,
    Laravel,
    Wordpress,
}

impl Command {
    /// Whether the command acts on hosts of an environment.
    pub fn uses_env(&self) -> bool {
        matches!(
            self,
            Self::Deploy
                | Self::Rollback { .. }
                | Self::Status
                | Self::Releases
                | Self::Unlock { .. }
                | Self::Ready { .. }
                | Self::Tls { .. }
                | Self::Smoke { .. }
                | Self::Monitor(_)
        ) || matches!(self, Self::Secrets { command } if !matches!(command, SecretsCommand::Scan(_)))
    }

    /// Whether the command is written to the audit log next to the config: every command that
    /// works with a config (`log` only reads it; `demo` and `db rewrite` need none).
    pub fn audited(&self) -> bool {
        self.uses_env() || matches!(self, Self::Config { .. })
    }
}

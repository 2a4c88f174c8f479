//! One file per command: each resolves its settings and calls one library function. This file
//! dispatches, and records every environment command in the local audit log.

mod config_check;
mod db_rewrite;
mod demo;
mod deploy;
mod init;
mod log;
mod monitor;
mod ready;
mod releases;
mod rollback;
mod secrets;
mod secrets_scan;
mod smoke;
mod status;
mod tls_issue;
mod unlock;

use cutover_remote::Identity;
use cutover_state::State;

use crate::CliError;
use crate::cli::{Cli, Command, ConfigCommand, DbCommand, SecretsCommand, TlsCommand};
use crate::context::Ctx;
use crate::output::Output;

pub fn run(cli: Cli, out: &Output) -> i32 {
    let ctx = Ctx { global: &cli.global, out };
    let result = if cli.command.audited() { audited(&ctx, &cli.command) } else { plain(&ctx, &cli.command) };
    match result {
        Ok(()) => 0,
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}

fn plain(ctx: &Ctx<'_>, command: &Command) -> Result<(), CliError> {
    match command {
        Command::Init { preset, force } => init::exec(ctx, *preset, *force),
        Command::Demo { keep } => demo::exec(ctx, *keep),
        Command::Log { limit } => log::exec(ctx, *limit),
        Command::Db { command: DbCommand::Rewrite(args) } => db_rewrite::exec(ctx, args),
        Command::Secrets { command: SecretsCommand::Scan(args) } => secrets_scan::exec(ctx, args),
        _ => unreachable!("commands with a config go through `audited`"),
    }
}

/// Runs an environment command with an audit entry around it: written before it starts, so a
/// command killed half-way still shows, and finished with its exit code and outcome.
fn audited(ctx: &Ctx<'_>, command: &Command) -> Result<(), CliError> {
    let config = ctx.config()?;
    let env = command.uses_env().then_some(ctx.global.env.as_str());
    if let Some(env) = env {
        config.env(env)?;
    }
    let state = State::open(&ctx.config_dir())?;
    let who = Identity::current();
    let line = std::env::args().collect::<Vec<_>>().join(" ");
    let id = state.begin(&who.user, &who.machine, &line, env)?;
    let result = match command {
        Command::Deploy => deploy::exec(ctx, &config),
        Command::Rollback { to } => rollback::exec(ctx, &config, to.as_deref()),
        Command::Status => status::exec(ctx, &config),
        Command::Releases => releases::exec(ctx, &config),
        Command::Unlock { reason } => unlock::exec(ctx, &config, reason),
        Command::Config { command: ConfigCommand::Check } => config_check::exec(ctx, &config),
        Command::Ready { cert, key } => ready::exec(ctx, &config, cert.as_deref(), key.as_deref()),
        Command::Tls { command: TlsCommand::Issue(args) } => tls_issue::exec(ctx, &config, args),
        Command::Secrets { command } => secrets::exec(ctx, &config, command),
        Command::Smoke { rollback_on_fail } => smoke::exec(ctx, &config, *rollback_on_fail),
        Command::Monitor(args) => monitor::exec(ctx, &config, args),
        _ => unreachable!("only commands with a config are audited"),
    };
    let (code, summary) = match &result {
        Ok(summary) => (0, summary.clone()),
        Err(e) => (e.exit_code(), e.to_string()),
    };
    if let Err(e) = state.finish(id, code, &summary) {
        ctx.out.error(&e.into());
    }
    result.map(drop)
}

//! One file per command, holding its clap `Args` and its `exec`: each resolves its settings and
//! calls one library function. This file dispatches, in one match, and records every command
//! that works with a config in the local audit log.

pub mod attest;
pub mod config;
pub mod db;
pub mod demo;
pub mod deploy;
pub mod init;
pub mod launch;
pub mod log;
pub mod monitor;
pub mod path;
pub mod preflight;
pub mod promote;
pub mod ready;
pub mod releases;
pub mod report;
pub mod rollback;
pub mod secrets;
pub mod smoke;
pub mod status;
pub mod tls;
pub mod unlock;
pub mod verify;

use cutover_config::Config;
use cutover_remote::Identity;

use crate::CliError;
use crate::cli::{Cli, Command};
use crate::context::Ctx;
use crate::output::Output;

pub fn run(cli: Cli, out: &Output) -> i32 {
    let ctx = Ctx::new(&cli.global, out);
    match out.finish(dispatch(&ctx, &cli.command)) {
        Ok(()) => 0,
        Err(e) => {
            out.error(&e);
            e.exit_code()
        }
    }
}

/// What an audited command works on.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// The config file alone.
    Config,
    /// The hosts of the selected environment.
    Env,
    /// The hosts of the selected environment, even when the local state cannot be opened or
    /// written: a rollback works from the hosts' journals alone, and the missing audit entry is
    /// a warning.
    Rescue,
}

/// Every command, and whether it is audited: the commands that work with a config (`log` only
/// reads it; `demo`, `init`, `db rewrite` and `secrets scan` need none) go through [`audited`].
fn dispatch(ctx: &Ctx<'_>, command: &Command) -> Result<(), CliError> {
    use Scope::Env;
    match command {
        Command::Init(args) => init::exec(ctx, args),
        Command::Demo(args) => demo::exec(ctx, args),
        Command::Log(args) => log::exec(ctx, args),
        Command::Db(db::DbCommand::Rewrite(args)) => db::rewrite::exec(ctx, args),
        Command::Db(db::DbCommand::Copy(args)) => {
            // `--to` is the environment the command changes: the one its audit entry names.
            let global = crate::cli::Global {
                env: args.to.clone().unwrap_or_else(|| ctx.global.env.clone()),
                ..ctx.global.clone()
            };
            let ctx = Ctx::new(&global, ctx.out);
            audited(&ctx, Env, |c| db::copy::exec(&ctx, c, args))
        }
        Command::Db(db::DbCommand::Snapshot(args)) => audited(ctx, Env, |c| db::snapshot::exec(ctx, c, args)),
        Command::Db(db::DbCommand::Snapshots(args)) => audited(ctx, Env, |c| db::snapshots::exec(ctx, c, args)),
        Command::Db(db::DbCommand::Restore(args)) => audited(ctx, Env, |c| db::restore::exec(ctx, c, args)),
        Command::Secrets(secrets::SecretsCommand::Scan(args)) => secrets::scan::exec(ctx, args),
        Command::Config(config::ConfigCommand::Check(args)) => {
            audited(ctx, Scope::Config, |c| config::check::exec(ctx, c, args))
        }
        Command::Deploy(args) => audited(ctx, Env, |c| interruptible(ctx, || deploy::exec(ctx, c, args))),
        Command::Rollback(args) => audited(ctx, Scope::Rescue, |c| interruptible(ctx, || rollback::exec(ctx, c, args))),
        Command::Status(args) => audited(ctx, Env, |c| status::exec(ctx, c, args)),
        Command::Releases(args) => audited(ctx, Env, |c| releases::exec(ctx, c, args)),
        Command::Report(args) => audited(ctx, Env, |c| report::exec(ctx, c, args)),
        Command::Unlock(args) => audited(ctx, Env, |c| unlock::exec(ctx, c, args)),
        Command::Path(args) => audited(ctx, Env, |c| path::exec(ctx, c, args)),
        Command::Attest(args) => audited(ctx, Env, |c| attest::exec(ctx, c, args)),
        Command::Preflight(args) => audited(ctx, Env, |c| preflight::exec(ctx, c, args)),
        Command::Verify(args) => audited(ctx, Env, |c| verify::exec(ctx, c, args)),
        Command::Launch(args) => audited(ctx, Env, |c| interruptible(ctx, || launch::exec(ctx, c, args))),
        Command::Promote(args) => audited(ctx, Env, |c| interruptible(ctx, || promote::exec(ctx, c, args))),
        Command::Ready(args) => audited(ctx, Env, |c| ready::exec(ctx, c, args)),
        Command::Smoke(args) => audited(ctx, Env, |c| smoke::exec(ctx, c, args)),
        Command::Monitor(args) => audited(ctx, Env, |c| interruptible(ctx, || monitor::exec(ctx, c, args))),
        Command::Tls(tls::TlsCommand::Issue(args)) => audited(ctx, Env, |c| tls::issue::exec(ctx, c, args)),
        Command::Secrets(secrets::SecretsCommand::Set(args)) => audited(ctx, Env, |c| secrets::set::exec(ctx, c, args)),
        Command::Secrets(secrets::SecretsCommand::Get(args)) => audited(ctx, Env, |c| secrets::get::exec(ctx, c, args)),
        Command::Secrets(secrets::SecretsCommand::Render(args)) => {
            audited(ctx, Env, |c| secrets::render::exec(ctx, c, args))
        }
        Command::Secrets(secrets::SecretsCommand::Rotate(args)) => {
            audited(ctx, Env, |c| secrets::rotate::exec(ctx, c, args))
        }
        Command::Secrets(secrets::SecretsCommand::Audit(args)) => {
            audited(ctx, Env, |c| secrets::audit::exec(ctx, c, args))
        }
    }
}

/// Runs a command that changes or watches hosts with SIGINT and SIGTERM asking it to stop
/// instead of killing cutover (`cutover_process::interrupt`): the engines finish or undo the
/// step in flight and end with exit 130. The user is told the moment a signal comes.
fn interruptible(ctx: &Ctx<'_>, exec: impl FnOnce() -> Result<String, CliError>) -> Result<String, CliError> {
    use cutover_process::interrupt;
    interrupt::install()
        .map_err(|source| CliError::Io { what: "failed to handle SIGINT and SIGTERM".into(), source })?;
    let out = ctx.out;
    // The announcer wakes the moment the command ends (its channel closes), so it never adds
    // its tick to a rollback's time.
    let (finished, ended) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            loop {
                match ended.recv_timeout(std::time::Duration::from_millis(50)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if let Some(signal) = interrupt::requested() {
                    out.warn_line(&format!(
                        "{signal}: stopping once the step in flight is finished or undone (a second one stops at once)"
                    ));
                    return;
                }
            }
        });
        let result = exec();
        drop(finished);
        result
    })
}

/// Runs a command that works with the config, with an audit entry around it: written before it
/// starts, so a command killed half-way still shows, and finished with its exit code and its
/// outcome (the summary `exec` returns, or the error).
fn audited(
    ctx: &Ctx<'_>,
    scope: Scope,
    exec: impl FnOnce(&Config) -> Result<String, CliError>,
) -> Result<(), CliError> {
    let config = ctx.config()?;
    let env = match scope {
        Scope::Env | Scope::Rescue => Some(ctx.global.env.as_str()),
        Scope::Config => None,
    };
    if let Some(env) = env {
        config.env(env)?;
    }
    let who = Identity::current();
    let line = std::env::args().collect::<Vec<_>>().join(" ");
    let entry = ctx.state().and_then(|state| Ok((state, state.begin(&who.user, &who.machine, &line, env)?)));
    let entry = match entry {
        Ok(entry) => Some(entry),
        Err(e) if matches!(scope, Scope::Rescue) => {
            let why = crate::output::error_text(&e);
            ctx.out.warn_line(&format!("the audit entry could not be written, going on without it: {why}"));
            None
        }
        Err(e) => return Err(e),
    };
    let result = ctx.out.finish(exec(&config));
    let (code, summary) = match &result {
        Ok(summary) => (0, summary.clone()),
        Err(e) => (e.exit_code(), e.to_string()),
    };
    if let Some((state, id)) = entry
        && let Err(e) = state.finish(id, code, &summary)
    {
        ctx.out.error(&e.into());
    }
    result.map(drop)
}

//! `cutover secrets set NAME`: store a secret of the environment, read from stdin (not echoed
//! on a terminal).

use std::io::Read;

use clap::Args;
use cutover_config::Config;
use cutover_secrets::Secret;
use rustix::termios::{LocalModes, OptionalActions, Termios, tcgetattr, tcsetattr};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct SetArgs {
    pub name: String,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &SetArgs) -> Result<String, CliError> {
    let (env, name) = (ctx.global.env.as_str(), args.name.as_str());
    cutover_secrets::provider::check_name(name)?;
    let mut provider = super::provider_to_write(ctx, config)?;
    let _quiet = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        ctx.out.say(&format!("value for `{name}` ({env}), then Enter and Ctrl-D (not shown):"));
        NoEcho::on_stdin()
    } else {
        None
    };
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| CliError::Io { what: "cannot read the value from stdin".into(), source })?;
    let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if value.is_empty() {
        return Err(CliError::Usage(format!("no value for `{name}` on stdin")));
    }
    provider.set(env, name, Secret::new(value))?;
    ctx.out.say(&format!("set `{name}` ({env})"));
    Ok(format!("set `{name}` ({env})"))
}

/// The terminal's echo switched off while a secret is typed; restored on drop.
struct NoEcho(Termios);

impl NoEcho {
    fn on_stdin() -> Option<Self> {
        let saved = tcgetattr(std::io::stdin()).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        tcsetattr(std::io::stdin(), OptionalActions::Now, &quiet).ok().map(|()| Self(saved))
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.0);
    }
}

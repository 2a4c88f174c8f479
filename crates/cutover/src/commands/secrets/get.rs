//! `cutover secrets get NAME [--reveal]`: one secret of the environment, redacted unless asked.

use clap::Args;
use cutover_config::Config;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct GetArgs {
    pub name: String,
    /// Print the value itself (to stdout).
    #[arg(long)]
    pub reveal: bool,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &GetArgs) -> Result<String, CliError> {
    let (env, name, reveal) = (ctx.global.env.as_str(), &args.name, args.reveal);
    let value = super::provider(ctx, config)?.get(env, name)?;
    if reveal {
        ctx.out.data_raw(value.expose());
    } else {
        ctx.out.data(&format!("{name}={}", value.redacted()));
    }
    Ok(format!("read `{name}` ({env}){}", if reveal { ", revealed" } else { "" }))
}

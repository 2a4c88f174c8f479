//! `cutover secrets render`: the environment's `.env` as a deploy writes it, every secret redacted.

use clap::Args;
use cutover_config::Config;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct RenderArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &RenderArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let provider = super::provider(ctx, config)?;
    let rendered = super::render(config, env, &provider)?.ok_or_else(|| super::no_template(env))?;
    ctx.out.data(rendered.redacted.trim_end_matches('\n'));
    Ok(format!("rendered {env}'s env ({} secrets, redacted)", rendered.secrets.len()))
}

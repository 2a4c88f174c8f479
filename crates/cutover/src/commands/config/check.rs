//! `cutover config check`: load and validate, and see that `source` is there; errors carry
//! file:line:col (exit 2).

use clap::Args;
use serde_json::json;

use cutover_config::Config;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct CheckArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &CheckArgs) -> Result<String, CliError> {
    config.check_source()?;
    let envs: Vec<&str> = config.env_names().collect();
    if ctx.out.json {
        ctx.out.json(&json!({ "ok": true, "path": config.path, "hash": config.hash, "environments": envs }));
    } else {
        ctx.out.say(&format!("ok: `{}` is valid (environments: {})", config.path.display(), envs.join(", ")));
    }
    Ok(format!("config valid, hash {}", &config.hash[..12]))
}

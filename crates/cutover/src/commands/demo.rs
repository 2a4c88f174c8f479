//! `cutover demo`: the release cycle on this machine, without config or server.

use clap::Args;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's directory instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}

pub fn exec(ctx: &Ctx<'_>, args: &DemoArgs) -> Result<(), CliError> {
    crate::demo::run(ctx.out, args.keep)
}

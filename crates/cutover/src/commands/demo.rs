//! `cutover demo`: the release cycle on this machine, without config or server.

use crate::CliError;
use crate::context::Ctx;

pub fn exec(ctx: &Ctx<'_>, keep: bool) -> Result<(), CliError> {
    crate::demo::run(ctx.out, keep)
}

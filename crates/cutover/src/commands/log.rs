//! `cutover log`: the local audit log of commands run with this config.

use clap::Args;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct LogArgs {
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

pub fn exec(ctx: &Ctx<'_>, args: &LogArgs) -> Result<(), CliError> {
    let entries = ctx.state()?.log(args.limit)?;
    if ctx.out.json {
        ctx.out.json(&entries);
    } else {
        for e in &entries {
            let code = e.exit_code.map_or("running or killed".to_owned(), |c| format!("exit {c}"));
            ctx.out.data(&format!(
                "{}\t{}@{}\t{}\t{code}\t{}",
                e.started_at,
                e.user,
                e.machine,
                e.command,
                e.summary.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(())
}

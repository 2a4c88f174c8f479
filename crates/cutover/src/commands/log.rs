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
                field(&e.user),
                field(&e.machine),
                field(&e.command),
                field(e.summary.as_deref().unwrap_or(""))
            ));
        }
    }
    Ok(())
}

/// A field of a log line: newlines, tabs and backslashes escaped (`\n`, `\t`, `\\`), so an
/// entry whose reason holds them stays one line of tab-separated fields. `--json` keeps the text
/// as it was; other control characters are escaped by [`Output::data`](crate::output::Output::data).
fn field(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\\', '\n', '\r', '\t']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.into()
}

//! `cutover attest ITEM --by NAME [--note TEXT]` and `cutover attest --list`: pre-flight item 7,
//! what a person vouches for (rollback-plan, contacts, stakeholders, and `[preflight] attest`).

use clap::Args;
use cutover_config::Config;
use cutover_gates::attest;
use cutover_remote::Identity;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["item", "list"]))]
pub struct AttestArgs {
    /// The item: rollback-plan, contacts, stakeholders, or one of `[preflight] attest`.
    pub item: Option<String>,
    /// Who vouches for it.
    #[arg(long, requires = "item")]
    pub by: Option<String>,
    /// What it rests on (a link to the runbook, the on-call numbers, …).
    #[arg(long, requires = "item")]
    pub note: Option<String>,
    /// Every item and its latest attestation.
    #[arg(long, conflicts_with_all = ["item", "by", "note"])]
    pub list: bool,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &AttestArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let state = ctx.state()?;
    let Some(item) = &args.item else {
        let all = attest::attestations(state, config, env)?;
        if ctx.out.json {
            ctx.out.json(&all);
        } else {
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|s| match &s.attestation {
                    Some(a) => vec![s.item.clone(), a.by.clone(), a.at.clone(), a.note.clone().unwrap_or_default()],
                    None => vec![s.item.clone(), "-".into(), "not attested".into(), String::new()],
                })
                .collect();
            ctx.out.table(&["ITEM", "BY", "WHEN", "NOTE"], &rows);
        }
        let done = all.iter().filter(|s| s.attestation.is_some()).count();
        return Ok(format!("{done} of {} item(s) attested", all.len()));
    };
    let Some(by) = &args.by else {
        return Err(CliError::Usage("`cutover attest ITEM` needs `--by NAME`: who vouches for it".into()));
    };
    let recorded = attest::attest(state, config, env, item, by, args.note.as_deref(), &Identity::current())?;
    if ctx.out.json {
        ctx.out.json(&recorded);
    } else {
        ctx.out.say_always(&format!("{env}: {item} attested by {} at {}", recorded.by, recorded.at));
    }
    Ok(format!("attested {item} by {}", recorded.by))
}

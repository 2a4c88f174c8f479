//! `cutover secrets audit`: the template, the tracked files and the provider's values against the
//! audit's rules; exit 1 with every finding.

use clap::Args;
use cutover_config::{Config, Preset};
use cutover_secrets::{Template, audit};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct AuditArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &AuditArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let findings = findings(ctx, config, env)?.ok_or_else(|| super::no_template(env))?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({ "env": env, "passed": findings.is_empty(), "findings": findings }));
    } else if !findings.is_empty() {
        let rows: Vec<Vec<String>> =
            findings.iter().map(|f| vec![f.check.to_owned(), f.subject.clone(), f.detail.clone()]).collect();
        ctx.out.table(&["CHECK", "SUBJECT", "DETAIL"], &rows);
    }
    if findings.is_empty() {
        ctx.out.say(&format!("secrets audit ({env}): no findings"));
        return Ok(format!("secrets audit ({env}): no findings"));
    }
    Err(CliError::Check(format!("secrets audit ({env}): {} finding(s)", findings.len())))
}

/// The audit of `env`'s template, tracked files and values; `None` when it has no template.
pub fn findings(ctx: &Ctx<'_>, config: &Config, env: &str) -> Result<Option<Vec<audit::Finding>>, CliError> {
    let environment = config.env(env)?;
    let Some(path) = environment.env_template.as_ref() else { return Ok(None) };
    let template = Template::load(path)?;
    let provider = super::provider(ctx, config)?;
    let staging_name = config.env_names().find(|n| *n == "staging" && *n != env).map(str::to_owned);
    let staging_template = match &staging_name {
        Some(s) => config.env(s)?.env_template.as_deref().map(Template::load).transpose()?,
        None => None,
    };
    let values = super::env_values(config, env)?;
    Ok(Some(audit::run(&audit::Audit {
        env,
        template: &template,
        staging: staging_name.as_deref().map(|s| (s, staging_template.as_ref())),
        provider: &provider,
        env_values: &values,
        repo: &ctx.config_dir(),
        require_app_env: config.app.preset == Preset::Laravel,
        production: config.is_gated(env)?,
    })))
}

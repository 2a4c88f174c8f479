//! `cutover secrets rotate [NAME…]`: new values for generated secrets; the old `APP_KEY` moves to
//! `APP_PREVIOUS_KEYS`. Every name is checked before anything changes.

use clap::Args;
use cutover_config::{Config, Generator, Preset};
use cutover_remote::Identity;
use cutover_secrets::Template;
use cutover_secrets::rotate::{self, Kind, PREVIOUS_KEYS};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct RotateArgs {
    pub names: Vec<String>,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &RotateArgs) -> Result<String, CliError> {
    let (env, names) = (ctx.global.env.as_str(), &args.names);
    let mut provider = super::provider_to_write(ctx, config)?;
    let wanted: Vec<String> = if names.is_empty() {
        let mut all: Vec<String> = config.secrets.generate.keys().cloned().collect();
        if config.app.preset == Preset::Laravel && !all.iter().any(|n| n == "APP_KEY") {
            all.insert(0, "APP_KEY".into());
        }
        all
    } else {
        names.to_vec()
    };
    let mut seen = std::collections::BTreeSet::new();
    let wanted: Vec<String> = wanted.into_iter().filter(|n| seen.insert(n.clone())).collect();
    if wanted.is_empty() {
        return Err(CliError::Usage(
            "nothing to rotate: list generated secrets in `[secrets] generate` (e.g. DB_PASSWORD = \"password\")"
                .into(),
        ));
    }
    // Every name is checked before anything changes.
    let mut plan = Vec::new();
    for name in &wanted {
        cutover_secrets::provider::check_name(name)?;
        let kind = generator(config, name).ok_or_else(|| {
            CliError::Usage(format!(
                "`{name}` cannot be generated; add it to `[secrets] generate`, or set it with `cutover secrets set {name}`"
            ))
        })?;
        plan.push((name.clone(), kind));
    }
    // A rotated-out APP_KEY must reach the app as APP_PREVIOUS_KEYS, or sessions and values
    // encrypted with it stop working after the next deploy.
    if wanted.iter().any(|n| n == "APP_KEY")
        && let Some(path) = &config.env(env)?.env_template
    {
        let template = Template::load(path)?;
        let names = template.secret_names();
        if names.iter().any(|n| n == "APP_KEY") && !names.iter().any(|n| n == PREVIOUS_KEYS) {
            return Err(CliError::Usage(format!(
                "`{}` does not pass on the old key: add `{PREVIOUS_KEYS}=\"${{secret:{PREVIOUS_KEYS}?}}\"` to it \
                 before rotating APP_KEY, or sessions and encrypted values stop working after the next deploy",
                path.display()
            )));
        }
    }
    let state = ctx.state()?;
    let who = Identity::current();
    for (name, kind) in plan {
        let new = rotate::generate(kind)?;
        if name == "APP_KEY"
            && let Ok(old) = provider.get(env, &name)
        {
            let existing = provider.get(env, PREVIOUS_KEYS).ok();
            provider.set(env, PREVIOUS_KEYS, rotate::previous_keys(&old, existing.as_ref()))?;
            ctx.out.say(&format!("moved the old `APP_KEY` ({env}) to `{PREVIOUS_KEYS}`"));
        }
        provider.set(env, &name, new)?;
        state.record_rotation(env, &name, &who.user, &who.machine)?;
        ctx.out.say(&format!("rotated `{name}` ({env})"));
        if rotate::checked_elsewhere(&name, kind) {
            ctx.out.warn_line(&format!(
                "`{name}` has a new value: change it where it is checked too (the database user, the \
                 mail account, …) before the next deploy writes it to the hosts"
            ));
        }
    }
    Ok(format!("rotated {} ({env})", wanted.join(", ")))
}

/// How `name` is generated: the config's `[secrets] generate`, and Laravel's `APP_KEY`.
fn generator(config: &Config, name: &str) -> Option<Kind> {
    match config.secrets.generate.get(name) {
        Some(Generator::AppKey) => Some(Kind::AppKey),
        Some(Generator::Password(n)) => Some(Kind::Password(*n)),
        Some(Generator::Hex(n)) => Some(Kind::Hex(*n)),
        None if name == "APP_KEY" && config.app.preset == Preset::Laravel => Some(Kind::AppKey),
        None => None,
    }
}

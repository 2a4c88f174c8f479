//! `cutover secrets …`: the environment's secrets through the configured provider. Values go to
//! stdout only with `get --reveal`; everything else shows them redacted. `scan` needs no config.

pub mod audit;
pub mod get;
pub mod render;
pub mod rotate;
pub mod scan;
pub mod set;

use std::collections::BTreeMap;

use clap::Subcommand;
use cutover_config::{Config, ProviderKind};
use cutover_secrets::{Provider, SecretsError, Template, Vault, vault};

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret of the environment (vault provider); the value is read from stdin.
    Set(set::SetArgs),
    /// Show a secret of the environment, redacted unless `--reveal`.
    Get(get::GetArgs),
    /// Render the environment's `.env` template with every secret redacted.
    Render(render::RenderArgs),
    /// New values for generated secrets (all of them, or the names given); the old `APP_KEY`
    /// moves to `APP_PREVIOUS_KEYS`.
    Rotate(rotate::RotateArgs),
    /// The template holds only placeholders, no env file is tracked, every secret resolves,
    /// production differs from staging and runs in production mode. Exits 1 with every finding.
    Audit(audit::AuditArgs),
    /// Scan a repository's working tree and its whole git history for committed secrets; needs
    /// no cutover.toml. Exits 1 when anything is found.
    Scan(scan::ScanArgs),
}

/// The configured provider. The vault needs the user's age identity.
pub fn provider(ctx: &Ctx<'_>, config: &Config) -> Result<Provider, SecretsError> {
    let s = &config.secrets;
    if s.provider == ProviderKind::Vault
        && let Some(legacy) = &s.legacy_vault
        && Vault::adopt_legacy(legacy, &s.vault)?
    {
        ctx.out.say_always(&format!(
            "moved the vault from `{}` to `{}`: `.cutover/` now holds only local state, so removing it never \
             loses a secret; commit the vault (it is encrypted)",
            legacy.display(),
            s.vault.display()
        ));
    }
    Ok(match s.provider {
        ProviderKind::Vault => Provider::Vault(Vault::open(&s.vault, &vault::default_identity_path(), &s.recipients)?),
        ProviderKind::Env => Provider::Env,
        ProviderKind::Command => Provider::Command {
            command: s.command.clone().unwrap_or_default(),
            timeout: s.timeout.0,
            workdir: ctx.config_dir(),
        },
    })
}

/// The provider, for a command that stores values (`set`, `rotate`): the vault's age identity is
/// created first if there is none yet, so the first secret can be set or generated.
pub fn provider_to_write(ctx: &Ctx<'_>, config: &Config) -> Result<Provider, SecretsError> {
    if config.secrets.provider == ProviderKind::Vault {
        let identity = vault::default_identity_path();
        if let Some(public) = Vault::create_identity(&identity)? {
            ctx.out.say(&format!(
                "created an age identity at {} (public key {public}); back it up: without it the vault cannot be opened",
                identity.display()
            ));
        }
    }
    provider(ctx, config)
}

/// The environment's `.env` rendered from its template, or `None` when it has none.
pub fn render(config: &Config, env: &str, provider: &Provider) -> Result<Option<cutover_secrets::Rendered>, CliError> {
    let environment = config.env(env)?;
    let Some(path) = &environment.env_template else { return Ok(None) };
    let template = Template::load(path)?;
    let values = env_values(config, env)?;
    Ok(Some(template.render(&values, |name| provider.get(env, name))?))
}

pub fn env_values<'a>(config: &Config, env: &str) -> Result<BTreeMap<&'a str, String>, CliError> {
    let environment = config.env(env)?;
    let url = environment.url.as_ref();
    Ok(BTreeMap::from([
        ("url", url.map(|u| u.as_str().to_owned()).unwrap_or_default()),
        ("host", url.map(|u| u.host().to_owned()).unwrap_or_default()),
        ("name", env.to_owned()),
        ("app", config.app.name.as_str().to_owned()),
    ]))
}

pub fn no_template(env: &str) -> CliError {
    CliError::Usage(format!("environment `{env}` has no `env_template` (e.g. \".env.{env}.template\")"))
}

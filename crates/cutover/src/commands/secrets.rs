//! `cutover secrets set|get|render|rotate|audit`: the environment's secrets through the
//! configured provider. Values go to stdout only with `get --reveal`; everything else shows them
//! redacted.

use std::collections::BTreeMap;
use std::io::Read;

use cutover_config::{Config, Generator, Preset, ProviderKind};
use cutover_remote::Identity;
use cutover_secrets::rotate::{self, Kind, PREVIOUS_KEYS};
use cutover_secrets::{Provider, Secret, Template, Vault, audit, vault};
use cutover_state::State;

use crate::CliError;
use crate::cli::SecretsCommand;
use crate::context::Ctx;

pub fn exec(ctx: &Ctx<'_>, config: &Config, command: &SecretsCommand) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    match command {
        SecretsCommand::Set { name } => set(ctx, config, env, name),
        SecretsCommand::Get { name, reveal } => {
            let value = provider(ctx, config)?.get(env, name)?;
            if *reveal {
                ctx.out.data(value.expose());
            } else {
                ctx.out.data(&format!("{name}={}", value.redacted()));
            }
            Ok(format!("read `{name}` ({env}){}", if *reveal { ", revealed" } else { "" }))
        }
        SecretsCommand::Render => {
            let provider = provider(ctx, config)?;
            let rendered = render(config, env, &provider)?.ok_or_else(|| no_template(env))?;
            ctx.out.data(rendered.redacted.trim_end_matches('\n'));
            Ok(format!("rendered {env}'s env ({} secrets, redacted)", rendered.secrets.len()))
        }
        SecretsCommand::Rotate { names } => rotate_secrets(ctx, config, env, names),
        SecretsCommand::Audit => audit_secrets(ctx, config, env),
        SecretsCommand::Scan(_) => unreachable!("scan needs no config and is dispatched before"),
    }
}

/// The configured provider. The vault needs the user's age identity.
pub fn provider(ctx: &Ctx<'_>, config: &Config) -> Result<Provider, CliError> {
    let s = &config.secrets;
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

/// The environment's `.env` rendered from its template, or `None` when it has none.
pub fn render(config: &Config, env: &str, provider: &Provider) -> Result<Option<cutover_secrets::Rendered>, CliError> {
    let environment = config.env(env)?;
    let Some(path) = &environment.env_template else { return Ok(None) };
    let template = Template::load(path)?;
    let values = env_values(config, env)?;
    Ok(Some(template.render(&values, |name| provider.get(env, name))?))
}

fn env_values<'a>(config: &Config, env: &str) -> Result<BTreeMap<&'a str, String>, CliError> {
    let environment = config.env(env)?;
    let url = environment.url.as_ref();
    Ok(BTreeMap::from([
        ("url", url.map(|u| u.as_str().to_owned()).unwrap_or_default()),
        ("host", url.map(|u| u.host().to_owned()).unwrap_or_default()),
        ("name", env.to_owned()),
        ("app", config.app.name.as_str().to_owned()),
    ]))
}

fn no_template(env: &str) -> CliError {
    CliError::Usage(format!("environment `{env}` has no `env_template` (e.g. \".env.{env}.template\")"))
}

fn set(ctx: &Ctx<'_>, config: &Config, env: &str, name: &str) -> Result<String, CliError> {
    cutover_secrets::provider::check_name(name)?;
    if config.secrets.provider == ProviderKind::Vault {
        let identity = vault::default_identity_path();
        if let Some(public) = Vault::create_identity(&identity)? {
            ctx.out.say(&format!(
                "created an age identity at {} (public key {public}); back it up: without it the vault cannot be opened",
                identity.display()
            ));
        }
    }
    let mut provider = provider(ctx, config)?;
    let _quiet = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        ctx.out.say(&format!("value for `{name}` ({env}), then Enter and Ctrl-D (not shown):"));
        NoEcho::on_stdin()
    } else {
        None
    };
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|source| CliError::Io { what: "cannot read the value from stdin".into(), source })?;
    let value = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if value.is_empty() {
        return Err(CliError::Usage(format!("no value for `{name}` on stdin")));
    }
    provider.set(env, name, Secret::new(value))?;
    ctx.out.say(&format!("set `{name}` ({env})"));
    Ok(format!("set `{name}` ({env})"))
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

fn rotate_secrets(ctx: &Ctx<'_>, config: &Config, env: &str, names: &[String]) -> Result<String, CliError> {
    let mut provider = provider(ctx, config)?;
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
    let state = State::open(&ctx.config_dir())?;
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
        if !matches!(kind, Kind::AppKey) {
            ctx.out.warn_line(&format!(
                "`{name}` has a new value: change it where it is checked too (the database user, the \
                 mail account, …) before the next deploy writes it to the hosts"
            ));
        }
    }
    Ok(format!("rotated {} ({env})", wanted.join(", ")))
}

fn audit_secrets(ctx: &Ctx<'_>, config: &Config, env: &str) -> Result<String, CliError> {
    let environment = config.env(env)?;
    let path = environment.env_template.as_ref().ok_or_else(|| no_template(env))?;
    let template = Template::load(path)?;
    let provider = provider(ctx, config)?;
    let staging_name = config.env_names().find(|n| *n == "staging" && *n != env).map(str::to_owned);
    let staging_template = match &staging_name {
        Some(s) => config.env(s)?.env_template.as_deref().map(Template::load).transpose()?,
        None => None,
    };
    let values = env_values(config, env)?;
    let findings = audit::run(&audit::Audit {
        env,
        template: &template,
        staging: staging_name.as_deref().map(|s| (s, staging_template.as_ref())),
        provider: &provider,
        env_values: &values,
        repo: &ctx.config_dir(),
        require_app_env: config.app.preset == Preset::Laravel,
    });
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

/// The terminal's echo switched off while a secret is typed; restored on drop.
struct NoEcho(libc::termios);

impl NoEcho {
    fn on_stdin() -> Option<Self> {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with a termios we own; a zeroed termios is a valid
        // value for tcgetattr to fill.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return None;
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            (libc::tcsetattr(0, libc::TCSANOW, &t) == 0).then_some(Self(saved))
        }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `on_stdin`.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

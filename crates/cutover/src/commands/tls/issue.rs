//! `cutover tls issue`: a certificate for the environment's names from an ACME CA (Let's Encrypt
//! by default), installed on every host; a valid one already on the hosts is reused.

use clap::{Args, ValueEnum};
use cutover_config::Config;
use cutover_tls::{Challenge, LETS_ENCRYPT, LETS_ENCRYPT_STAGING, Plan};
use serde::Serialize;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// How to prove control of the names: a file under `[tls] webroot` on every host
    /// (http-01), or a TXT record published by `[tls] dns_hook` (dns-01).
    #[arg(long, value_enum, default_value_t = ChallengeArg::Http01)]
    pub challenge: ChallengeArg,
    /// The ACME directory URL (default: Let's Encrypt).
    #[arg(long, value_name = "URL", conflicts_with = "staging")]
    pub directory: Option<String>,
    /// Use Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
    #[arg(long)]
    pub staging: bool,
    /// Issue a new certificate even when the hosts have a valid one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChallengeArg {
    #[value(name = "http-01")]
    Http01,
    #[value(name = "dns-01")]
    Dns01,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    reused: bool,
    reused_from: Option<&'a str>,
    names: &'a [String],
    issuer: &'a str,
    not_after: &'a str,
    days_left: i64,
    installed_on: &'a [String],
    unchanged_on: &'a [String],
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &IssueArgs) -> Result<String, CliError> {
    let env_name = ctx.global.env.as_str();
    let env = config.env(env_name)?;
    let names = env.names();
    if names.is_empty() {
        return Err(CliError::Usage(format!(
            "environment `{env_name}` has no `url` (and no `aliases`): there is no name to put on a certificate"
        )));
    }
    let tls = &config.tls;
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Err(CliError::Usage(
            "set `[tls] cert` and `[tls] key`: where the certificate and its key go on the hosts".into(),
        ));
    };
    let challenge = match args.challenge {
        ChallengeArg::Http01 => Challenge::Http01 {
            webroot: tls
                .webroot
                .as_ref()
                .ok_or_else(|| {
                    CliError::Usage(
                        "http-01 needs `[tls] webroot`: the directory each host's web server serves at `/`".into(),
                    )
                })?
                .to_string(),
        },
        ChallengeArg::Dns01 => Challenge::Dns01 {
            hook: tls.dns_hook.clone().ok_or_else(|| {
                CliError::Usage("dns-01 needs `[tls] dns_hook`: a command that publishes the TXT record".into())
            })?,
            workdir: Some(ctx.config_dir()),
        },
    };
    let directory = match (&args.directory, args.staging) {
        (Some(url), _) => url.clone(),
        (None, true) => LETS_ENCRYPT_STAGING.to_owned(),
        (None, false) => LETS_ENCRYPT.to_owned(),
    };
    let mut plan =
        Plan::new(names, challenge, cert.to_string(), key.to_string(), ctx.config_dir().join(cutover_state::DIR));
    plan.directory = directory;
    plan.reload = tls.reload.clone();
    plan.directory_ca = tls.extra_ca.clone();
    plan.contact = tls.email.clone();
    plan.force = args.force;

    let fleet = ctx.fleet(config)?;
    let targets: Vec<&dyn cutover_tls::Target> = fleet.targets.iter().map(|t| t.as_ref()).collect();
    let issued = cutover_tls::issue(&plan, &targets, ctx.out)?;
    let report = Report {
        reused: issued.reused,
        reused_from: issued.reused_from.as_deref(),
        names: &issued.names,
        issuer: &issued.issuer,
        not_after: &issued.not_after_date,
        days_left: issued.days_left,
        installed_on: &issued.installed_on,
        unchanged_on: &issued.unchanged_on,
    };
    if ctx.out.json {
        ctx.out.json(&report);
    }
    let how = match &issued.reused_from {
        Some(host) if issued.reused => format!("reused the certificate on `{host}`"),
        _ => format!("issued by {}", issued.issuer),
    };
    let summary = format!(
        "certificate for {} ({how}, {} days left, until {}): installed on {} host(s), unchanged on {}",
        issued.names.join(", "),
        issued.days_left,
        issued.not_after_date,
        issued.installed_on.len(),
        issued.unchanged_on.len()
    );
    ctx.out.say(&summary);
    Ok(summary)
}

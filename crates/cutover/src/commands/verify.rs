//! `cutover verify`: the hardened path's final verification after go-live — every production
//! host probed as pre-flight probes it, the secrets audit and scan, DNS/TLS ready and smoke
//! against production — each with its verdict, recorded as the `verify` gate with the live
//! artifact. Exits 1 when any fails.

use clap::Args;
use cutover_config::Config;
use cutover_gates::preflight::{self, Verdict};

use super::{ready, smoke};
use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct VerifyArgs {}

pub fn exec(ctx: &Ctx<'_>, config: &Config, _args: &VerifyArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let ssh = ctx.ssh_options(config);
    ctx.out.mute_data(ctx.out.json);
    let (server, server_detail, server_evidence) = preflight::server_setup(config, env, &ssh, ctx.out);
    let (secrets, secrets_detail, secrets_evidence) = preflight::secrets(&super::preflight::secrets(ctx, config, env));
    let verdict = |r: Result<String, CliError>| match r {
        Ok(summary) => (Verdict::Pass, summary),
        Err(e) => (Verdict::Fail, crate::output::error_text(&e)),
    };
    let (ready, ready_detail) = verdict(ready::exec(ctx, config, &ready::ReadyArgs { cert: None, key: None }));
    let (smoke, smoke_detail) = verdict(smoke::exec(ctx, config, &smoke::SmokeArgs { rollback_on_fail: false }));
    ctx.out.mute_data(false);
    let checks = [
        ("server setup", server, server_detail, server_evidence),
        ("secrets", secrets, secrets_detail, secrets_evidence),
        ("DNS/TLS ready", ready, ready_detail, serde_json::Value::Null),
        ("smoke", smoke, smoke_detail, serde_json::Value::Null),
    ];
    let passed = checks.iter().all(|c| c.1 == Verdict::Pass);
    let rows: Vec<serde_json::Value> = checks
        .iter()
        .map(|(name, result, detail, evidence)| serde_json::json!({ "check": name, "result": result, "detail": detail, "evidence": evidence }))
        .collect();
    let artifact = cutover_release::live(&ctx.fleet(config)?)?.and_then(|l| l.manifest);
    let report = serde_json::json!({ "env": env, "passed": passed, "artifact": artifact, "checks": rows });
    ctx.state()?.record_gate("verify", env, &config.hash, artifact.as_deref(), passed, &report.to_string())?;
    if ctx.out.json {
        ctx.out.json(&report);
    } else {
        let table: Vec<Vec<String>> = checks
            .iter()
            .map(|(name, result, detail, _)| {
                vec![(*name).to_owned(), result.as_str().to_owned(), detail.replace('\n', " ")]
            })
            .collect();
        ctx.out.table(&["CHECK", "RESULT", "DETAIL"], &table);
    }
    let failed: Vec<&str> = checks.iter().filter(|c| c.1 != Verdict::Pass).map(|c| c.0).collect();
    if failed.is_empty() {
        let summary = format!("verify: {env} passed every check");
        ctx.out.say(&summary);
        Ok(summary)
    } else {
        Err(CliError::Check(format!("verify ({env}): {} failed", failed.join(", "))))
    }
}

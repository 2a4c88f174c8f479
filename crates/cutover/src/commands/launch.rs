//! `cutover launch`: the cutover's stages 1 to 4 in order — the launch path, pre-flight, DNS/TLS
//! ready, the deploy, smoke — each stage's verdict printed with the time it took, stopping at
//! the first that fails with its exit code and changing nothing after it. Run again, a stage
//! that already passed for this config (and, for deploy and smoke, this artifact) is skipped.
//! On success it says how to start stage 5.

use clap::Args;
use cutover_config::Config;
use cutover_gates::Standing;
use serde::Serialize;

use super::{deploy, preflight, ready, smoke};
use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The first release seeds the empty database before its switch, as `deploy --seed` does
    /// (`fresh`, `copy-staging` or `hybrid`; alone, `[seed] strategy`). Once a release is live
    /// the deploy stage no longer seeds, so the same command can be run again.
    #[arg(long, value_name = "STRATEGY", num_args = 0..=1, value_parser = super::db::seed::parse_strategy)]
    pub seed: Option<Option<cutover_config::SeedStrategy>>,
}

#[derive(Debug, Serialize)]
struct Stage {
    stage: &'static str,
    /// `passed`, `skipped` (passed before, for this config and artifact) or `failed`.
    verdict: &'static str,
    detail: String,
    /// From the end of the stage before (or the command's start) to this stage's verdict, so
    /// the stages' times add up to the command's, but for opening the state and the output.
    duration_ms: u64,
}

pub fn exec(ctx: &Ctx<'_>, config: &Config, args: &LaunchArgs) -> Result<String, CliError> {
    let env = ctx.global.env.as_str();
    let mut stages = Vec::new();
    // Each stage prints as its own command does; with --json, one document at the end instead.
    ctx.out.mute_data(ctx.out.json);
    let result = run(ctx, config, args, &mut stages);
    ctx.out.mute_data(false);
    // Written as `--window` parses it (`48h` prints `2d`), so the command can be pasted.
    let monitor = format!("cutover monitor --env {env} --window {}", config.monitor.window);
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({
            "env": env,
            "passed": result.is_ok(),
            "stages": stages,
            "next": result.is_ok().then_some(&monitor),
        }));
    }
    result?;
    ctx.out.say_always(&format!("launch: stages 1-4 passed for {env}; start stage 5 with `{monitor}`"));
    Ok(format!("launch: stages 1-4 passed; next: {monitor}"))
}

fn run(ctx: &Ctx<'_>, config: &Config, launch: &LaunchArgs, stages: &mut Vec<Stage>) -> Result<(), CliError> {
    let env = ctx.global.env.as_str();
    let state = ctx.state()?;
    let mut since = std::time::Instant::now();
    let mut step = |stage: &'static str, outcome: Result<(&'static str, String), CliError>| {
        let duration_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        since = std::time::Instant::now();
        let (verdict, detail) = match &outcome {
            Ok((verdict, detail)) => (*verdict, detail.clone()),
            Err(e) => ("failed", e.to_string()),
        };
        ctx.out.say_always(&format!(
            "==> launch: {stage}: {verdict}{} ({})",
            if detail.is_empty() { String::new() } else { format!(" ({detail})") },
            cutover_config::human::duration(std::time::Duration::from_millis(duration_ms))
        ));
        stages.push(Stage { stage, verdict, detail, duration_ms });
        outcome.map(drop)
    };

    let path = cutover_gates::path::path_state(state, env)?.path;
    step(
        "launch path",
        path.map(|p| ("passed", p.to_string()))
            .ok_or_else(|| cutover_gates::GateError::NoPath { env: env.to_owned() }.into()),
    )?;
    let standing = |stage: &str| -> Result<Option<cutover_gates::GateStatus>, CliError> {
        Ok(cutover_gates::gate_statuses(state, config, env)?.into_iter().find(|g| g.stage == stage))
    };
    let passed_before = |g: &Option<cutover_gates::GateStatus>| {
        g.as_ref()
            .filter(|g| g.standing == Standing::Passed)
            .map(|g| format!("passed at {}", g.at.as_deref().unwrap_or("?")))
    };

    match passed_before(&standing("preflight")?) {
        Some(when) => step("1 pre-flight", Ok(("skipped", when)))?,
        // Item 6 (TLS) asks for `ready`, which is the next stage: deferred to it, not failed.
        None => step("1 pre-flight", preflight::run(ctx, config, true).map(|s| ("passed", s)))?,
    }
    match passed_before(&standing("ready")?) {
        Some(when) => step("2 DNS/TLS ready", Ok(("skipped", when)))?,
        None => step(
            "2 DNS/TLS ready",
            ready::exec(ctx, config, &ready::ReadyArgs { cert: None, key: None }).map(|s| ("passed", s)),
        )?,
    }

    // Stage 3 is skipped when production already runs this very artifact (nothing to build).
    let fleet = ctx.fleet(config)?;
    let live = cutover_release::live(&fleet)?;
    let local = if config.app.build.is_none() {
        let excludes = cutover_release::Excludes::new(config.app.exclude.iter().map(|e| e.as_str()));
        Some(cutover_release::Manifest::scan(&config.app.source, &excludes)?.hash())
    } else {
        None
    };
    drop(fleet);
    let same = live.as_ref().and_then(|l| l.manifest.as_deref()).is_some_and(|m| Some(m) == local.as_deref());
    if same {
        let release = live.as_ref().map(|l| l.release.clone()).unwrap_or_default();
        step("3 first release", Ok(("skipped", format!("{release} is live with this artifact"))))?;
    } else {
        let seed = if live.is_none() { launch.seed } else { None };
        let args = deploy::DeployArgs { force: deploy::ForceArgs { force: false, reason: None }, dry_run: false, seed };
        step("3 first release", deploy::exec(ctx, config, &args).map(|s| ("passed", s)))?;
    }

    let smoked = standing("smoke")?;
    let live = cutover_release::live(&ctx.fleet(config)?)?;
    let on_live = smoked.as_ref().is_some_and(|g| {
        g.standing == Standing::Passed
            && g.artifact.is_some()
            && g.artifact == live.as_ref().and_then(|l| l.manifest.clone())
    });
    if on_live {
        step("4 smoke test", Ok(("skipped", passed_before(&smoked).unwrap_or_default())))?;
    } else {
        let args = smoke::SmokeArgs { rollback_on_fail: false };
        step("4 smoke test", smoke::exec(ctx, config, &args).map(|s| ("passed", s)))?;
    }
    Ok(())
}

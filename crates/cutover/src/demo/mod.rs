//! `cutover demo`: the whole release cycle on this machine, with no config and no server. It
//! makes a throwaway app and a local target in a temporary directory, serves `current` on a
//! loopback port, deploys v1 and v2, checks the page, rolls back and checks again.

mod http;

use std::path::Path;
use std::time::Duration;

use cutover_checks::smoke::{self, Check, StatusSet};
use cutover_config::Config;
use cutover_http::{Trust, Url, Via};
use cutover_release::{DeployRequest, Fleet, Mark, RollbackRequest, deploy, releases, rollback};
use cutover_remote::SshOptions;

use crate::CliError;
use crate::output::Output;

pub fn run(out: &Output, keep: bool) -> Result<(), CliError> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| CliError::Io { what, source }
    };
    let dir = tempfile::Builder::new()
        .prefix("cutover-demo-")
        .tempdir()
        .map_err(io("failed to create the demo directory"))?;
    let root = dir.path();
    let app = root.join("app");
    let srv = root.join("srv/app");
    std::fs::create_dir_all(&srv).map_err(io("failed to create the deploy path"))?;
    write_app(&app, "v1", 40).map_err(io("failed to write the demo app"))?;

    let server = http::Server::start(srv.join("current")).map_err(io("failed to start the demo web server"))?;
    let config_path = root.join("cutover.toml");
    let config_text = format!(
        "version = 1\n[app]\nname = \"demo\"\nsource = \"app\"\nshared = [\"uploads/\"]\n\n\
         [hooks]\nbefore_switch = [\"test -f index.html\"]\n\n\
         [env.production]\nurl = \"{}\"\nhosts = [\"local\"]\npath = \"{}\"\n",
        server.url(),
        srv.display()
    );
    std::fs::write(&config_path, &config_text).map_err(io("failed to write the demo config"))?;
    let config = Config::load(&config_path)?;
    let env = config.env("production")?;

    out.say(&format!("demo: a throwaway app in `{}`, deployed to `{}` on this machine", app.display(), srv.display()));
    out.say(&format!("demo: `current` is served at {}", server.url()));
    let fleet = Fleet::connect("production", env.hosts(), env.path.clone(), &SshOptions::default(), out)?;
    let deploy_req = DeployRequest {
        app: &config.app,
        hooks: &config.hooks,
        command: "cutover demo",
        cache: None,
        env_file: None,
        verify: None,
        forced: None,
        confirm: None,
        before_switch: None,
    };

    // The page is plain HTTP on loopback: the system's roots are all a check could need.
    let trust = Trust::load(None).map_err(|e| CliError::Check(format!("cannot load the system's roots: {e}")))?;

    out.say("\nstep 1: deploy v1");
    let v1 = deploy(&fleet, &deploy_req, out)?;
    out.say(&format!("  deployed {} ({} files, {} bytes sent)", v1.release, v1.files, v1.hosts[0].sent_bytes));
    expect_page(out, &trust, server.port, "v1")?;

    out.say("\nstep 2: change one file and deploy v2");
    std::fs::write(app.join("index.html"), page("v2")).map_err(io("failed to edit the demo app"))?;
    let v2 = deploy(&fleet, &deploy_req, out)?;
    let h = &v2.hosts[0];
    out.say(&format!(
        "  deployed {}: {} file sent ({} bytes), {} unchanged files hard-linked from {}",
        v2.release, h.sent_files, h.sent_bytes, h.linked_files, v1.release
    ));
    expect_page(out, &trust, server.port, "v2")?;

    out.say("\nstep 3: roll back");
    let back = rollback(
        &fleet,
        &RollbackRequest {
            to: None,
            hooks: &config.hooks,
            command: "cutover demo",
            only_from: None,
            mark: Mark::ByHand(Some("the demo rolls back")),
            before_switch: None,
        },
        out,
    )?;
    out.say(&format!("  rolled back from {} to {}", back.from.as_deref().unwrap_or("?"), back.to));
    expect_page(out, &trust, server.port, "v1")?;

    out.say("\nreleases on the host:");
    for row in releases(&fleet)? {
        let state = row.hosts.values().next().map(ToString::to_string).unwrap_or_default();
        out.say(&format!("  {}  {state}", row.id));
    }
    out.say(&format!(
        "\ndemo complete: deploy, redeploy of one changed file, rollback, each checked over HTTP at {}",
        server.url()
    ));
    if keep {
        let kept = dir.keep();
        out.say(&format!("the demo directory is kept at `{}`", kept.display()));
    }
    Ok(())
}

fn page(version: &str) -> String {
    format!("<!doctype html><title>cutover demo</title><h1>hello from {version}</h1>\n")
}

/// The app: an index page and `assets` files that stay the same between versions.
fn write_app(dir: &Path, version: &str, assets: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("assets"))?;
    std::fs::create_dir_all(dir.join("uploads"))?;
    std::fs::write(dir.join("index.html"), page(version))?;
    for i in 0..assets {
        std::fs::write(
            dir.join(format!("assets/part{i:03}.css")),
            format!(".part{i} {{ margin: {i}px }}\n").repeat(50),
        )?;
    }
    Ok(())
}

/// The page, with the smoke checks' own check: status 200 and the version in the body.
fn expect_page(out: &Output, trust: &Trust, port: u16, version: &str) -> Result<(), CliError> {
    let want = format!("hello from {version}");
    let url = format!("http://127.0.0.1:{port}/");
    let parsed = Url::parse(&url).map_err(|e| CliError::Check(format!("`{url}` is not a URL: {e}")))?;
    let mut check = Check::new("demo page", parsed);
    check.expect_status = StatusSet::parse("200").map_err(CliError::Check)?;
    check.body_contains = vec![want.clone()];
    check.timeout = Duration::from_secs(5);
    let sample = smoke::run(&check, &Via::public(), trust);
    if !sample.ok {
        let reason = sample.reason.unwrap_or_default();
        return Err(CliError::Check(format!("expected the page to say `{want}`: {reason}")));
    }
    let status = sample.status.unwrap_or_default();
    out.say(&format!("  check: GET {url} -> {status}, says \"{want}\""));
    Ok(())
}

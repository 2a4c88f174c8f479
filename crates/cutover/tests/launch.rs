//! `cutover launch` on its success path, through the binary against a whole stack on this
//! machine (support/stack.rs): two real sshd hosts, dnsmasq authoritative for the app's names,
//! a test CA's certificate installed on each host and nginx on each host's own address serving
//! its `current` release. Every stage passes (launch path, pre-flight, DNS/TLS ready, the first
//! release, smoke), the release is live on every host and served over HTTPS at the URL through
//! DNS; run again, every stage is skipped and nothing is redeployed; with a changed app the
//! deploy stage runs again, held on the fast path by the items pre-flight deferred at go-live
//! until they pass (staging deployed, smoked and watched), then deployed and smoked.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use support::cli::{Run, assert_complete, current};
use support::stack::{NGINX_CONF, Spec, Stack, Web};

const STAGES: [&str; 5] = ["launch path", "1 pre-flight", "2 DNS/TLS ready", "3 first release", "4 smoke test"];

/// The (stage, verdict) pairs of a `--json` launch.
fn verdicts(run: &Run) -> Vec<(String, String)> {
    run.json()["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("no stages in {}", run.stdout))
        .iter()
        .map(|s| (s["stage"].as_str().unwrap().to_owned(), s["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

/// The `==> launch: STAGE: VERDICT` lines on stderr, in order, as (stage, verdict).
fn said(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("==> launch: "))
        .map(|l| {
            let (stage, rest) = l.split_once(": ").unwrap_or((l, ""));
            (stage.to_owned(), rest.split(' ').next().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Every stage with `verdict`, but the launch path, which is checked (not skipped) every time.
fn all(verdict: &str) -> Vec<(String, String)> {
    STAGES.iter().map(|&s| (s.to_owned(), if s == "launch path" { "passed" } else { verdict }.to_owned())).collect()
}

#[test]
fn launch_passes_every_stage_on_a_real_stack_then_skips_them_all_and_the_fast_path_holds_a_new_artifact() {
    let Some(stack) = Stack::start(Spec {
        hosts: 2,
        gated: true,
        // The default core items; the web server test is each host's own nginx config.
        extra: format!(
            "[preflight]\ncore = [3, 5, 6, 7]\nweb_test = \"nginx -t -q -c {NGINX_CONF}\"\n\
             [monitor]\nwindow = \"2s\"\ninterval = \"1s\"\n"
        ),
        ..Spec::default()
    }) else {
        return;
    };
    let deploy_dirs = [stack.hosts.deploy_dir(1), stack.hosts.deploy_dir(2)];
    stack.cutover(&["path", "fast"]).ok();
    for item in ["rollback-plan", "contacts", "stakeholders"] {
        stack.cutover(&["attest", item, "--by", "Ana", "--note", "in the runbook"]).ok();
    }
    // Nothing live yet: nginx answers 500 (no `current` to serve).
    assert_eq!(stack.get(&format!("{}/", stack.url), None).0, 500);

    let started = std::time::Instant::now();
    let run = stack.cutover(&["--json", "-y", "launch"]);
    let wall = started.elapsed();
    assert_eq!(run.code, 0, "launch failed\n--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    assert_eq!(verdicts(&run), all("passed"), "{}", run.stdout);
    assert_eq!(said(&run), all("passed"), "each verdict said, in order: {}", run.stderr);
    let json = run.json();
    // Each stage's time: in --json, and at the end of its verdict's line; together no more than
    // the command's.
    let took: Vec<u64> =
        json["stages"].as_array().unwrap().iter().map(|s| s["duration_ms"].as_u64().unwrap()).collect();
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("==> launch: ")).collect();
    for (line, ms) in lines.iter().zip(&took) {
        let shown = cutover_config::human::duration(std::time::Duration::from_millis(*ms));
        assert!(line.ends_with(&format!(" ({shown})")), "{line:?} does not end with its time ({ms} ms)");
    }
    assert!(took.iter().sum::<u64>() <= wall.as_millis() as u64, "{took:?} ms in {wall:?}");
    assert_eq!(json["passed"], true);
    let next = json["next"].as_str().expect("the next command");
    assert_eq!(next, "cutover monitor --env production --window 2s");
    assert!(run.stderr.contains(&format!("start stage 5 with `{next}`")), "{}", run.stderr);

    // The release is complete and current on every host, the same one everywhere.
    let release = assert_complete(&deploy_dirs[0]);
    assert_eq!(assert_complete(&deploy_dirs[1]), release);
    // Served over HTTPS at the URL, its name resolved by the DNS server, and by each host.
    assert_eq!(stack.get(&format!("{}/", stack.url), None), (200, "v1\n".to_owned()));
    for i in 1..=2 {
        assert_eq!(stack.get(&format!("{}/index.html", stack.url), Some(i)), (200, "v1\n".to_owned()), "host {i}");
    }
    // Pre-flight deferred its TLS item to the stage after it, `ready`, instead of failing it.
    let launched = &json["stages"][1]["detail"];
    assert!(launched.as_str().unwrap().contains("item 6 (TLS) is judged by `cutover ready`, next"), "{json:#}");
    let state = cutover_state::State::open(stack.project.path()).unwrap();
    let record = state.latest_gate("preflight", "production").unwrap().expect("pre-flight recorded");
    let report: serde_json::Value = serde_json::from_str(&record.evidence).unwrap();
    let tls = report["items"].as_array().unwrap().iter().find(|i| i["number"] == 6).unwrap();
    assert_eq!((tls["result"].as_str(), tls["required"].as_bool()), (Some("deferred"), Some(true)), "{report:#}");
    assert!(tls["detail"].as_str().unwrap().contains("it runs next (stage 2)"), "{tls:#}");
    // The gates stand passed for this config: pre-flight, ready, and smoke on this artifact.
    let status = stack.cutover(&["--json", "status"]).ok().json();
    for stage in ["preflight", "ready", "smoke"] {
        let gate = status["gates"].as_array().unwrap().iter().find(|g| g["stage"] == stage).unwrap();
        assert_eq!(gate["standing"], "passed", "{stage}: {status:#}");
    }

    // The command it printed starts stage 5 as written: the window is watched on the release.
    let words: Vec<&str> = next.split(' ').skip(1).collect();
    let monitor = stack.cutover(&words).ok();
    assert!(monitor.stderr.contains(&format!("monitor: {release} passed its window")), "{}", monitor.stderr);

    // Run again: every stage passed for this config and artifact, so each is skipped.
    let run = stack.cutover(&["-y", "launch"]).ok();
    assert_eq!(said(&run), all("skipped"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("3 first release: skipped ({release} is live")), "{}", run.stderr);
    assert!(run.stderr.contains("cutover monitor --env production --window "), "{}", run.stderr);
    let run = stack.cutover(&["--json", "-y", "launch"]).ok();
    assert_eq!(verdicts(&run), all("skipped"), "{}", run.stdout);
    for dir in &deploy_dirs {
        assert_eq!(current(dir).as_deref(), Some(release.as_str()), "nothing redeployed");
        let releases = std::fs::read_dir(dir.join("releases")).unwrap().count();
        assert_eq!(releases, 1, "no release uploaded in {}", dir.display());
    }

    // `cutover preflight` on its own now passes item 6 on the `ready` that passed.
    let report = stack.cutover(&["--json", "preflight"]).ok().json();
    let tls = report["items"].as_array().unwrap().iter().find(|i| i["number"] == 6).unwrap();
    assert_eq!(tls["result"], "pass", "{report:#}");

    // A new file: another artifact, so the deploy stage runs again. On the fast path it is a
    // redeploy after go-live, held until the items pre-flight deferred pass (exit 3, the
    // missing items named); nothing changes on the hosts and smoke does not run.
    stack.project.write("app/about.html", "about\n");
    let run = stack.cutover(&["--json", "-y", "launch"]);
    assert_eq!(run.code, 3, "--- stdout\n{}\n--- stderr\n{}", run.stdout, run.stderr);
    assert_eq!(
        verdicts(&run),
        [
            ("launch path".to_owned(), "passed".to_owned()),
            ("1 pre-flight".to_owned(), "skipped".to_owned()),
            ("2 DNS/TLS ready".to_owned(), "skipped".to_owned()),
            ("3 first release".to_owned(), "failed".to_owned()),
        ],
        "{}",
        run.stdout
    );
    let json = run.json();
    let detail = json["stages"][3]["detail"].as_str().unwrap();
    assert!(detail.contains("pre-flight item(s) 1, 2 were deferred at go-live"), "{detail}");
    for dir in &deploy_dirs {
        assert_eq!(current(dir).as_deref(), Some(release.as_str()), "nothing switched");
    }
    assert_eq!(stack.get(&format!("{}/about.html", stack.url), None).0, 500, "not served: not deployed");
}

#[test]
fn after_go_live_a_new_artifact_is_launched_once_the_items_deferred_at_go_live_pass_on_staging() {
    let Some(stack) = Stack::start(Spec {
        hosts: 1,
        gated: true,
        staging: true,
        extra: "[preflight]\nstaging_window = \"2s\"\nattest = [\"superadmin-setup\"]\n\
                [monitor]\nwindow = \"2s\"\ninterval = \"1s\"\n"
            .to_owned(),
        ..Spec::default()
    }) else {
        return;
    };
    let (staging_host, staging_url) = stack.staging.clone().expect("a staging host");
    let deploy_dir = stack.hosts.deploy_dir(1);
    stack.cutover(&["path", "fast"]).ok();
    for item in ["rollback-plan", "contacts", "stakeholders", "superadmin-setup"] {
        stack.cutover(&["attest", item, "--by", "Ana"]).ok();
    }
    stack.cutover(&["-y", "launch"]).ok();
    let first = assert_complete(&deploy_dir);

    // A new artifact: the redeploy waits for item 1 (staging), deferred at go-live.
    stack.project.write("app/about.html", "about\n");
    let run = stack.cutover(&["-y", "launch"]).code(3);
    assert!(run.stderr.contains("==> launch: 3 first release: failed"), "{}", run.stderr);
    assert!(run.stderr.contains("pre-flight item(s) 1 were deferred at go-live"), "{}", run.stderr);
    assert_eq!(current(&deploy_dir).as_deref(), Some(first.as_str()));

    // Staging: deployed, smoked and watched for its window; pre-flight's item 1 passes.
    for args in [&["deploy"][..], &["smoke"], &["monitor", "--window", "2s", "--interval", "1s"]] {
        let mut all = vec!["--env", "staging"];
        all.extend_from_slice(args);
        stack.cutover(&all).ok();
    }
    assert_eq!(stack.get(&format!("{staging_url}/about.html"), None), (200, "about\n".to_owned()));
    assert!(current(&stack.hosts.deploy_dir(staging_host)).is_some());
    let report = stack.cutover(&["--json", "preflight"]).ok().json();
    let staging = report["items"].as_array().unwrap().iter().find(|i| i["number"] == 1).unwrap();
    assert_eq!(staging["result"], "pass", "{report:#}");

    // Launch again: what passed is skipped, the new artifact is deployed and smoked.
    let run = stack.cutover(&["--json", "-y", "launch"]).ok();
    assert_eq!(
        verdicts(&run),
        [("launch path", "passed"), ("1 pre-flight", "skipped"), ("2 DNS/TLS ready", "skipped")]
            .into_iter()
            .chain([("3 first release", "passed"), ("4 smoke test", "passed")])
            .map(|(s, v)| (s.to_owned(), v.to_owned()))
            .collect::<Vec<_>>(),
        "{}",
        run.stdout
    );
    let second = assert_complete(&deploy_dir);
    assert_ne!(second, first, "a new release");
    assert_eq!(stack.get(&format!("{}/about.html", stack.url), None), (200, "about\n".to_owned()));
}

#[test]
fn launch_puts_a_php_app_live_through_php_fpm_on_every_host() {
    let Some(stack) = Stack::start(Spec { hosts: 2, gated: true, web: Web::Php { workers: 2 }, ..Spec::default() })
    else {
        return;
    };
    // `/` is index.php, which says which release directory it runs from.
    std::fs::remove_file(stack.project.path().join("app/index.html")).unwrap();
    stack.project.write("app/index.php", "<?php echo 'v1 from ', basename(__DIR__), \"\\n\";\n");
    stack.cutover(&["path", "fast"]).ok();
    for item in ["rollback-plan", "contacts", "stakeholders"] {
        stack.cutover(&["attest", item, "--by", "Ana"]).ok();
    }
    let run = stack.cutover(&["--json", "-y", "launch"]).ok();
    assert_eq!(verdicts(&run), all("passed"), "{}", run.stdout);
    let release = assert_complete(&stack.hosts.deploy_dir(1));
    assert_eq!(assert_complete(&stack.hosts.deploy_dir(2)), release);
    // PHP ran it from the release `current` resolves to ($realpath_root), on each host.
    let page = (200, format!("v1 from {release}\n"));
    assert_eq!(stack.get(&format!("{}/", stack.url), None), page);
    for i in 1..=2 {
        assert_eq!(stack.get(&format!("{}/", stack.url), Some(i)), page, "host {i}");
    }
}

//! Our verdicts on trust, name and expiry agree with testssl.sh's, for the same nginx sites.
//!
//! testssl (3.0.8) reports, in its JSON: `cert_trust` (does the certificate match the host name:
//! `OK`, else `HIGH`/`MEDIUM`), `cert_chain_of_trust` (`OK` "passed.", else `CRITICAL` "failed
//! (reason)"; judged now, so an expired certificate fails it with "(expired)", where we report the
//! expiry separately and judge trust within the validity), and `cert_expirationStatus` (`OK`,
//! `MEDIUM` under DAYS2WARN1 days, `HIGH` under DAYS2WARN2 days, `CRITICAL` "expired"). We run it
//! with DAYS2WARN1=30 and DAYS2WARN2=7, our warn and fail thresholds.

// Tests start the programs they need and say what they saw.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cutover_checks::tls::{self, Policy};
use cutover_checks::{Finding, Status};
use cutover_http::Trust;
use cutover_testkit::certs::{Ca, Leaf};
use cutover_testkit::nginx::{NGINX, Nginx, Site, free_port};
use cutover_testkit::{loopback_addr, on_path, require};

const NAME: &str = "shop.example.test";
const TESTSSL: &str = "testssl";

/// testssl's verdicts, from its JSON findings.
#[derive(Debug)]
struct Testssl {
    name: (String, String),
    chain: (String, String),
    expiry: (String, String),
}

fn run_testssl(ip: IpAddr, port: u16, root: &Path, out: &Path) -> Testssl {
    let mut child = Command::new(TESTSSL)
        .args(["--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--ip"])
        .arg(ip.to_string())
        .arg("--add-ca")
        .arg(root)
        .arg("-S")
        .arg("--jsonfile")
        .arg(out)
        .arg(format!("https://{NAME}:{port}"))
        .env("DAYS2WARN1", "30")
        .env("DAYS2WARN2", "7")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start testssl");
    // testssl.sh forks openssl hundreds of times: on a loaded 2-core machine, several at once take minutes.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            // testssl and the openssl it runs are in a process group of their own.
            let _ = Command::new("kill").arg("-KILL").arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            panic!("testssl against port {port} took more than 600 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out).expect("testssl JSON")).unwrap();
    let entries = json.as_array().expect("testssl JSON is an array of findings");
    let get = |id: &str| {
        entries
            .iter()
            .find(|e| e["id"].as_str().is_some_and(|i| i == id || i.starts_with(&format!("{id} "))))
            .map(|e| {
                (e["severity"].as_str().unwrap_or("").to_string(), e["finding"].as_str().unwrap_or("").to_string())
            })
            .unwrap_or_else(|| panic!("testssl reported no {id}: {json}"))
    };
    Testssl { name: get("cert_trust"), chain: get("cert_chain_of_trust"), expiry: get("cert_expirationStatus") }
}

fn ours<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check} in {findings:?}"))
}

#[test]
fn verdicts_agree_with_testssl() {
    if !require("nginx", on_path(NGINX)) || !require("testssl", on_path(TESTSSL)) {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::new("cutover test root");
    let inter = root.intermediate("cutover test intermediate");
    let root_pem = root.write(dir.path(), "root");
    let ip: IpAddr = loopback_addr().into();

    let cases: Vec<(&str, Leaf, bool)> = vec![
        ("valid", inter.issue(&[NAME]), true),
        ("expired", inter.issue_expiring(&[NAME], -3), true),
        ("expiring", inter.issue_expiring(&[NAME], 10), true),
        ("wrong-name", inter.issue(&["other.example.test"]), true),
        ("self-signed", Leaf::self_signed(&[NAME]), true),
        // The server sends the leaf without its intermediate.
        ("incomplete", inter.issue(&[NAME]), false),
    ];
    let mut sites = Vec::new();
    let mut ports = Vec::new();
    for (label, leaf, full_chain) in &cases {
        let files = leaf.write(dir.path(), label);
        let port = free_port(ip);
        let cert = if *full_chain { &files.chain } else { &files.cert };
        sites.push(Site::new(ip, port, &[NAME], cert, &files.key));
        ports.push(port);
    }
    let _nginx = Nginx::start(&sites).unwrap();

    let results: Vec<(Testssl, Vec<Finding>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .zip(&ports)
            .map(|((label, _, _), &port)| {
                let (root_pem, dir) = (&root_pem, dir.path());
                scope.spawn(move || {
                    let theirs = run_testssl(ip, port, root_pem, &dir.join(format!("{label}.json")));
                    let mut policy = Policy::new(Trust::load(Some(root_pem)).unwrap());
                    policy.https_port = port;
                    policy.http_port = free_port(ip);
                    policy.timeout = Duration::from_secs(2);
                    (theirs, tls::check_host("web1", ip, &[NAME.to_string()], &policy))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for ((label, _, _), (theirs, findings)) in cases.iter().zip(&results) {
        eprintln!("{label}: testssl {theirs:?}");
        let trust = ours(findings, &format!("tls trust {NAME}"));
        let name = ours(findings, &format!("tls name {NAME}"));
        let expiry = ours(findings, &format!("tls expiry {NAME}"));
        for f in [trust, name, expiry] {
            eprintln!("{label}: ours {} {} {}", f.check, f.status, f.detail);
        }

        let their_name = theirs.name.0 == "OK";
        assert_eq!(name.status == Status::Pass, their_name, "{label}: name: ours {name:?}, testssl {:?}", theirs.name);

        let their_expiry = match theirs.expiry.0.as_str() {
            "OK" => Status::Pass,
            "MEDIUM" => Status::Warn,
            "HIGH" | "CRITICAL" => Status::Fail,
            other => panic!("{label}: testssl expiry severity {other:?}"),
        };
        assert_eq!(expiry.status, their_expiry, "{label}: expiry: ours {expiry:?}, testssl {:?}", theirs.expiry);

        if theirs.chain.1.contains("expired") {
            // testssl judges the chain now and fails it for the expiry; we judge trust within the
            // validity and fail the expiry instead.
            assert_eq!(expiry.status, Status::Fail, "{label}");
            assert_eq!(trust.status, Status::Pass, "{label}: {trust:?}");
        } else {
            let their_trust = theirs.chain.0 == "OK";
            assert_eq!(
                trust.status == Status::Pass,
                their_trust,
                "{label}: trust: ours {trust:?}, testssl {:?}",
                theirs.chain
            );
        }
    }

    // The cases meant what they say (testssl agreeing with us about nothing would prove little).
    let severity = |i: usize| (&results[i].0.name.0, &results[i].0.chain.0, &results[i].0.expiry.0);
    assert_eq!(severity(0), (&"OK".into(), &"OK".into(), &"OK".into()));
    assert_eq!(results[1].0.expiry.0, "CRITICAL");
    assert_eq!(results[2].0.expiry.0, "MEDIUM");
    assert_ne!(results[3].0.name.0, "OK");
    assert_eq!(results[4].0.chain.0, "CRITICAL");
    assert_eq!(results[5].0.chain.0, "CRITICAL");
    // How long is said, not asserted: tests check behaviour, and each testssl run is bounded above.
    eprintln!("testssl comparison took {:?}", started.elapsed());
}

//! `cutover tls issue` end to end: the real binary, two real SSH hosts (each with its own
//! filesystem), a real ACME server (Pebble, resolving names with challtestsrv) validating HTTP-01
//! through a real nginx that serves the first host's webroot and certificate files, then
//! `cutover ready` against the result. DNS-01 goes through a hook that publishes the TXT record
//! in challtestsrv.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cutover_testkit::certs::Leaf;
use cutover_testkit::dnsmasq::{Dnsmasq, Record};
use cutover_testkit::nginx::{Nginx, Site, free_port};
use cutover_testkit::pebble::{self, Pebble};
use support::cli::Project;
use support::hosts::{MOUNT_POINT, SshHosts};

const NAMES: [&str; 2] = ["shop.issue.test", "www.shop.issue.test"];

fn available() -> bool {
    support::require("ssh hosts (sshd, root)", SshHosts::available())
        && support::require("pebble", pebble::available())
        && support::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
        && support::require("dnsmasq", Dnsmasq::available())
        && support::require("curl", cutover_testkit::on_path("curl"))
}

/// Two hosts; nginx serves host 1's webroot to Pebble (on a loopback address of its own, which
/// challtestsrv gives for both names) and host 1's certificate files on 127.0.0.1, where
/// `ssh -G` puts both hosts for `cutover ready`.
struct World {
    hosts: SshHosts,
    pebble: Pebble,
    _nginx: Nginx,
    project: Project,
    _dns: Dnsmasq,
}

impl World {
    fn start() -> World {
        let hosts = SshHosts::start(2);
        let pebble = Pebble::start();
        let web = cutover_testkit::loopback_addr();
        for name in NAMES {
            pebble.add_a(name, web);
        }
        // nginx needs a certificate to start: a self-signed placeholder on each host, which
        // `tls issue` must not mistake for one worth keeping.
        let placeholder = Leaf::self_signed(&NAMES);
        for i in 1..=2 {
            let root = hosts.root(i);
            std::fs::create_dir_all(root.join("www")).unwrap();
            std::fs::create_dir_all(root.join("tls")).unwrap();
            std::fs::write(root.join("tls/cert.pem"), &placeholder.chain_pem).unwrap();
            std::fs::write(root.join("tls/key.pem"), &placeholder.key_pem).unwrap();
        }
        let files = |i: usize| (hosts.root(i).join("tls/cert.pem"), hosts.root(i).join("tls/key.pem"));
        let addr = |i: usize| IpAddr::V4(hosts.addr(i));
        let (https_port, http_port) = (free_port(addr(1)), free_port(addr(1)));
        let (cert, key) = files(1);
        let acme_site = Site::new(IpAddr::V4(web), free_port(IpAddr::V4(web)), &NAMES, &cert, &key)
            .http_port(pebble.http_port())
            .webroot(&hosts.root(1).join("www"));
        // Each host serves its own certificate files on its own address, where `ssh -G` puts it.
        let mut sites = vec![acme_site];
        for i in 1..=2 {
            let (cert, key) = files(i);
            sites.push(Site::new(addr(i), https_port, &NAMES, &cert, &key).http_port(http_port).hsts(true));
        }
        let nginx = Nginx::start(&sites).expect("start nginx");

        let both = [addr(1), addr(2)];
        let dns = Dnsmasq::start("issue.test", 300, &[Record::new(NAMES[0], &both), Record::new(NAMES[1], &both)]);
        let project = Project::new(&[], "/srv/unused", "", 0);
        // Trusted: Pebble's HTTPS (for the directory) and the root it issues under (for `ready`).
        project.write(
            "cas.pem",
            &format!("{}{}", std::fs::read_to_string(pebble.https_ca_path()).unwrap(), pebble.root_pem()),
        );
        let hook = format!(
            "curl -fsS -X POST -d \"{{\\\"host\\\":\\\"$CUTOVER_ACME_NAME.\\\",\\\"value\\\":\\\"$CUTOVER_ACME_VALUE\\\"}}\" \
             {}/$([ \"$CUTOVER_ACME_ACTION\" = present ] && echo set-txt || echo clear-txt)",
            pebble.challtestsrv_url()
        );
        project.write("hook.sh", &hook);
        project.write(
            "cutover.toml",
            &format!(
                "version = 1\n[app]\nname = \"shop\"\n\n[env.production]\nurl = \"https://{}\"\naliases = [\"{}\"]\n\
                 hosts = [\"h1\", \"h2\"]\npath = \"{MOUNT_POINT}/app\"\n\n[ssh]\nconfig = \"{}\"\n\
                 [dns]\nresolvers = [\"{}\"]\n\n[tls]\nextra_ca = \"cas.pem\"\nwebroot = \"{MOUNT_POINT}/www\"\n\
                 cert = \"{MOUNT_POINT}/tls/cert.pem\"\nkey = \"{MOUNT_POINT}/tls/key.pem\"\n\
                 reload = \"date >> {MOUNT_POINT}/reloads && kill -HUP $(cat {})\"\ndns_hook = \"sh hook.sh\"\n\
                 email = \"ops@shop.issue.test\"\nhttps_port = {https_port}\nhttp_port = {http_port}\n",
                NAMES[0],
                NAMES[1],
                hosts.config_path().display(),
                dns.addr(),
                nginx.pid_file().display(),
            ),
        );
        World { hosts, pebble, _nginx: nginx, project, _dns: dns }
    }

    fn issue(&self, args: &[&str]) -> support::cli::Run {
        let directory = self.pebble.directory_url();
        let mut all = vec!["--json", "tls", "issue", "--directory", directory.as_str()];
        all.extend_from_slice(args);
        self.project.cutover(&all)
    }

    fn cert_on(&self, i: usize) -> String {
        std::fs::read_to_string(self.hosts.root(i).join("tls/cert.pem")).unwrap_or_default()
    }

    fn reloads_on(&self, i: usize) -> usize {
        std::fs::read_to_string(self.hosts.root(i).join("reloads")).unwrap_or_default().lines().count()
    }
}

#[test]
fn http_01_issues_installs_on_every_host_reuses_and_the_result_is_ready() {
    if !available() {
        return;
    }
    let mut world = World::start();
    // Before: nginx serves the self-signed placeholder, so `ready` fails on trust.
    let json = world.project.cutover(&["--json", "ready"]).code(1).json();
    assert_eq!(json["passed"], false, "{json:#}");

    let placeholder = world.cert_on(1);
    let run = world.issue(&[]);
    assert_eq!(run.code, 0, "{}\n{}\n{}", run.stdout, run.stderr, world.pebble.log());
    let json = run.json();
    assert_eq!(json["reused"], false, "a self-signed certificate is never kept");
    assert_eq!(json["names"], serde_json::json!(NAMES));
    assert_eq!(json["installed_on"].as_array().unwrap().len(), 2, "{json:#}");
    let first = world.cert_on(1);
    assert!(first.contains("BEGIN CERTIFICATE") && first != placeholder, "host 1 has the new certificate");
    assert_eq!(world.cert_on(2), first, "host 2 got the same certificate");
    for i in [1, 2] {
        let key = world.hosts.root(i).join("tls/key.pem");
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "key mode on host {i}");
        assert_eq!(world.reloads_on(i), 1, "reload ran once on host {i}");
        // The challenge answers are gone.
        let tokens = world.hosts.root(i).join("www/.well-known/acme-challenge");
        assert_eq!(std::fs::read_dir(&tokens).map(|d| d.count()).unwrap_or(0), 0, "tokens left on host {i}");
    }

    // nginx was reloaded with the new certificate: stage 2 passes. A reload is asynchronous
    // (old workers finish their connections), so the first seconds may still show the old one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let json = loop {
        let json = world.project.cutover(&["--json", "ready"]).json();
        if json["passed"] == true || std::time::Instant::now() > deadline {
            break json;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert_eq!(json["passed"], true, "{json:#}");

    // `--force` orders a new one even though this one is good.
    let json = world.issue(&["--force"]).ok().json();
    assert_eq!(json["reused"], false);
    let forced = world.cert_on(1);
    assert_ne!(forced, first, "a forced issue installs a new certificate");

    // Without the ACME server, a valid certificate is reused: nothing is ordered, nothing changes.
    world.pebble.stop();
    let json = world.issue(&[]).ok().json();
    assert_eq!(json["reused"], true, "{json:#}");
    assert_eq!(json["installed_on"].as_array().unwrap().len(), 0, "{json:#}");
    assert_eq!(world.cert_on(1), forced);
    assert_eq!((world.reloads_on(1), world.reloads_on(2)), (2, 2), "no reload when nothing changed");

    // A host that lost its certificate gets the reused pair.
    std::fs::remove_file(world.hosts.root(2).join("tls/cert.pem")).unwrap();
    let json = world.issue(&[]).ok().json();
    assert_eq!(json["reused"], true);
    assert_eq!(json["installed_on"], serde_json::json!(["h2"]), "{json:#}");
    assert_eq!(world.cert_on(2), forced);
}

#[test]
fn dns_01_goes_through_the_hook_and_a_failing_hook_installs_nothing() {
    if !available() {
        return;
    }
    let world = World::start();
    let before = world.cert_on(1);
    assert_eq!(world.cert_on(2), before, "both hosts start with the placeholder");
    // A hook that fails: a clear error naming it, exit 1, nothing installed.
    let toml = std::fs::read_to_string(world.project.path().join("cutover.toml")).unwrap();
    world.project.write("cutover.toml", &toml.replace("dns_hook = \"sh hook.sh\"", "dns_hook = \"exit 3\""));
    let run = world.issue(&["--challenge", "dns-01"]).code(1);
    assert!(run.stderr.contains("exit 3"), "{}", run.stderr);
    assert_eq!(world.cert_on(1), before);
    assert_eq!(world.cert_on(2), before);

    world.project.write("cutover.toml", &toml);
    let run = world.issue(&["--challenge", "dns-01"]);
    assert_eq!(run.code, 0, "{}\n{}\n{}", run.stdout, run.stderr, world.pebble.log());
    assert_eq!(run.json()["reused"], false);
    assert_ne!(world.cert_on(1), before);
    assert_eq!(world.cert_on(2), world.cert_on(1));
}

#[test]
fn missing_settings_and_an_unreachable_directory_are_clear_errors() {
    if !available() {
        return;
    }
    let world = World::start();
    let toml = std::fs::read_to_string(world.project.path().join("cutover.toml")).unwrap();
    world.project.write("cutover.toml", &toml.replace(&format!("webroot = \"{MOUNT_POINT}/www\"\n"), ""));
    world.issue(&[]).code(2).stderr_has("http-01 needs `[tls] webroot`");
    world.project.write("cutover.toml", &toml);
    // Nothing listens there: an error within the time, and no host changed.
    let dead = format!("https://127.0.0.1:{}/dir", free_port(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let before = world.cert_on(1);
    let start = std::time::Instant::now();
    let run = world.project.cutover(&["tls", "issue", "--directory", &dead]).code(1);
    assert!(start.elapsed() < std::time::Duration::from_secs(60), "took {:?}", start.elapsed());
    assert!(run.stderr.contains("ACME server"), "{}", run.stderr);
    assert_eq!(world.cert_on(1), before);
}

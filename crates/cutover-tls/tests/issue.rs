//! `cutover tls issue` against a real ACME CA (Pebble) and real nginx web servers.
//!
//! Each test host is a directory: [`DirHost`] runs scripts with `sh` with `HOME` (and the working
//! directory) set to it, so the plan's `~/…` paths land in a different place per host, as they
//! would on separate machines. For HTTP-01 each host has its own nginx on its own loopback
//! address serving that host's webroot on Pebble's HTTP port; each name resolves (through
//! challtestsrv) to one host only, so issuance only works when the tokens are on every host.

// Tests start the programs they need.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cutover_remote::Target;
use cutover_testkit::certs::Leaf;
use cutover_testkit::nginx::{NGINX, Nginx, Site, free_port};
use cutover_testkit::pebble::{self, Pebble};
use cutover_testkit::{loopback_addr, on_path, require};
use cutover_tls::{Challenge, Issued, Plan, Reporter, TlsIssueError, issue};

/// A host that is a directory on this machine.
#[derive(Debug)]
struct DirHost {
    name: String,
    home: PathBuf,
}

impl DirHost {
    fn new(root: &Path, name: &str) -> DirHost {
        let home = root.join(name);
        std::fs::create_dir_all(&home).unwrap();
        DirHost { name: name.to_owned(), home }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{}: {rel}: {e}", self.name))
    }

    fn reloads(&self) -> usize {
        std::fs::read_to_string(self.path("reloads")).map(|s| s.lines().count()).unwrap_or(0)
    }
}

impl Target for DirHost {
    fn name(&self) -> &str {
        &self.name
    }

    fn command(&self, marker: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(cutover_remote::shell::BOOTSTRAP)
            .arg("cutover")
            .arg(marker)
            .env("HOME", &self.home)
            .current_dir(&self.home);
        cmd
    }
}

/// Collects everything reported, for assertions and for the failure message.
#[derive(Debug, Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

impl Reporter for Log {
    fn step(&self, host: Option<&str>, message: &str) {
        self.0.lock().unwrap().push(format!("{}: {message}", host.unwrap_or("*")));
    }
    fn hook_line(&self, host: &str, line: &str) {
        self.0.lock().unwrap().push(format!("{host} | {line}"));
    }
    fn warn(&self, host: Option<&str>, message: &str) {
        self.0.lock().unwrap().push(format!("{} WARN: {message}", host.unwrap_or("*")));
    }
    fn upload_start(&self, _: &str, _: usize, _: u64) {}
    fn upload_progress(&self, _: &str, _: u64) {}
    fn upload_done(&self, _: &str) {}
}

const CERT: &str = "~/tls/cert.pem";
const KEY: &str = "~/tls/private/key.pem";
/// Reload: HUP this host's nginx (if it has one) and count.
const RELOAD: &str =
    r#"echo reload >> "$HOME/reloads"; if [ -f "$HOME/nginx.pid" ]; then kill -HUP "$(cat "$HOME/nginx.pid")"; fi"#;

fn services(with_nginx: bool) -> bool {
    require("pebble", pebble::available()) && (!with_nginx || require("nginx", on_path(NGINX)))
}

/// A plan for `pebble`'s directory whose extra CA file (`cas.pem`, next to `state`) holds the CA
/// of Pebble's HTTPS (first: for the directory) and the root Pebble issues under (so that what
/// it issued can be reused).
fn plan(pebble: &Pebble, names: &[&str], challenge: Challenge, state: &Path) -> Plan {
    let mut plan = Plan::new(names.iter().map(|s| s.to_string()).collect(), challenge, CERT, KEY, state);
    plan.directory = pebble.directory_url();
    let cas = state.with_file_name("cas.pem");
    let https_ca = std::fs::read_to_string(pebble.https_ca_path()).unwrap();
    std::fs::write(&cas, format!("{https_ca}{}", pebble.root_pem())).unwrap();
    plan.directory_ca = Some(cas);
    plan.contact = Some("ops@example.test".into());
    plan.reload = Some(RELOAD.into());
    plan.timeout = Duration::from_secs(60);
    plan
}

fn http01() -> Challenge {
    Challenge::Http01 { webroot: "~/www".into() }
}

/// A host with its own nginx on a fresh loopback address: HTTPS for `name` with the files at the
/// plan's paths (a self-signed placeholder until a real one is installed), and the ACME webroot
/// on Pebble's HTTP port. `name` resolves to this host.
struct WebHost {
    host: DirHost,
    ip: IpAddr,
    https_port: u16,
    _nginx: Nginx,
}

impl WebHost {
    fn start(root: &Path, label: &str, name: &str, pebble: &Pebble) -> WebHost {
        let host = DirHost::new(root, label);
        std::fs::create_dir_all(host.path("tls/private")).unwrap();
        std::fs::create_dir_all(host.path("www")).unwrap();
        let placeholder = Leaf::self_signed(&[name]);
        std::fs::write(host.path("tls/cert.pem"), &placeholder.chain_pem).unwrap();
        std::fs::write(host.path("tls/private/key.pem"), &placeholder.key_pem).unwrap();
        let v4 = loopback_addr();
        let ip = IpAddr::V4(v4);
        let https_port = free_port(ip);
        let site = Site::new(ip, https_port, &[name], &host.path("tls/cert.pem"), &host.path("tls/private/key.pem"))
            .http_port(pebble.http_port())
            .webroot(&host.path("www"));
        let nginx = Nginx::start(&[site]).expect("nginx");
        std::fs::write(host.path("nginx.pid"), nginx.pid().to_string()).unwrap();
        pebble.add_a(name, v4);
        WebHost { host, ip, https_port, _nginx: nginx }
    }
}

fn run(plan: &Plan, hosts: &[&DirHost], log: &Log) -> Result<Issued, TlsIssueError> {
    let targets: Vec<&dyn Target> = hosts.iter().map(|h| *h as &dyn Target).collect();
    issue(plan, &targets, log)
}

fn ok(result: Result<Issued, TlsIssueError>, log: &Log, pebble: &Pebble) -> Issued {
    result.unwrap_or_else(|e| panic!("{e}\n--- progress\n{}\n--- pebble\n{}", log.text(), pebble.log()))
}

fn leaf_serial(chain_pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).unwrap();
    pem.parse_x509().unwrap().raw_serial().to_vec()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The certificate chain nginx serves at `ip:port` for `name`, verified against `root_pem` by
/// rustls, as PEM-decoded DER. Waits up to 10 s for `expect_leaf` (a reload takes a moment).
fn served_leaf(ip: IpAddr, port: u16, name: &str, root_pem: &str, expect_leaf: &[u8]) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap()).unwrap();
    let config = Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> Result<Vec<u8>, String> {
            let server = ServerName::try_from(name.to_owned()).unwrap();
            let mut conn = rustls::ClientConnection::new(config.clone(), server).map_err(|e| e.to_string())?;
            let mut sock = TcpStream::connect((ip, port)).map_err(|e| e.to_string())?;
            sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut tls = rustls::Stream::new(&mut conn, &mut sock);
            tls.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").map_err(|e| e.to_string())?;
            let mut body = Vec::new();
            let _ = tls.read_to_end(&mut body);
            let certs = conn.peer_certificates().ok_or("no certificates")?;
            Ok(certs[0].to_vec())
        })();
        match attempt {
            Ok(leaf) if leaf == expect_leaf => return leaf,
            other if Instant::now() > deadline => {
                panic!("nginx at {ip}:{port} does not serve the new certificate: {other:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn leaf_der(chain_pem: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).unwrap();
    pem.contents
}

#[test]
fn http01_on_every_host_then_reuse_without_the_acme_server() {
    if !services(true) {
        return;
    }
    let mut pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let web1 = WebHost::start(root.path(), "web1", "a.cutover.test", &pebble);
    let web2 = WebHost::start(root.path(), "web2", "b.cutover.test", &pebble);
    let plan = plan(&pebble, &["a.cutover.test", "b.cutover.test"], http01(), &state);

    let log = Log::default();
    let issued = ok(run(&plan, &[&web1.host, &web2.host], &log), &log, &pebble);
    assert!(!issued.reused);
    assert_eq!(issued.installed_on, ["web1", "web2"]);
    assert!(issued.unchanged_on.is_empty());
    assert!(issued.names.contains(&"a.cutover.test".to_owned()) && issued.names.contains(&"b.cutover.test".to_owned()));
    assert!(issued.days_left > 30, "{issued:?}");
    assert!(log.text().contains("not reusable: a self-signed"), "{}", log.text());

    let cert = web1.host.read("tls/cert.pem");
    let key = web1.host.read("tls/private/key.pem");
    for web in [&web1, &web2] {
        let h = &web.host;
        assert_eq!(h.read("tls/cert.pem"), cert, "same chain on {}", h.name);
        assert_eq!(h.read("tls/private/key.pem"), key, "same key on {}", h.name);
        assert_eq!(mode(&h.path("tls/private/key.pem")), 0o600);
        assert_eq!(mode(&h.path("tls/cert.pem")), 0o644);
        assert_eq!(h.reloads(), 1, "reloaded once on {}", h.name);
        let left: Vec<_> = std::fs::read_dir(h.path("www/.well-known/acme-challenge")).unwrap().collect();
        assert!(left.is_empty(), "challenge files removed on {}: {left:?}", h.name);
        let temp: Vec<_> = std::fs::read_dir(h.path("tls"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
            .collect();
        assert!(temp.is_empty(), "{temp:?}");
    }
    assert!(key.contains("PRIVATE KEY"));
    // The account is kept, private.
    let account = cutover_tls::account_file(&state, &plan.directory);
    assert_eq!(mode(&account), 0o600);
    // nginx serves the new chain after the reload, and it verifies to Pebble's root for both names.
    let leaf = leaf_der(&cert);
    served_leaf(web1.ip, web1.https_port, "a.cutover.test", pebble.root_pem(), &leaf);
    served_leaf(web2.ip, web2.https_port, "b.cutover.test", pebble.root_pem(), &leaf);

    // Without Pebble's root trusted, the pair is not reused: a new one is ordered (and the
    // stopped server refuses), nothing changes.
    pebble.stop();
    let web3 = DirHost::new(root.path(), "web3");
    let mut untrusted = plan.clone();
    untrusted.directory_ca = Some(pebble.https_ca_path());
    let log = Log::default();
    let err = run(&untrusted, &[&web1.host, &web2.host, &web3], &log).unwrap_err();
    assert!(matches!(err, TlsIssueError::Acme { .. }), "{err}\n{}", log.text());
    assert!(log.text().contains("not reusable: not trusted: "), "{}", log.text());
    assert!(!web3.path("tls").exists());

    // Second run, with a third host that has nothing yet, and no ACME server at all: the pair on
    // web1/web2 is reused, copied to web3 only, and only web3 reloads.
    let log = Log::default();
    let again = run(&plan, &[&web1.host, &web2.host, &web3], &log).unwrap_or_else(|e| panic!("{e}\n{}", log.text()));
    assert!(again.reused, "{}", log.text());
    assert_eq!(again.reused_from.as_deref(), Some("web1"));
    assert_eq!(again.installed_on, ["web3"]);
    assert_eq!(again.unchanged_on, ["web1", "web2"]);
    assert_eq!(again.not_after, issued.not_after);
    assert_eq!(web1.host.read("tls/cert.pem"), cert);
    assert_eq!(web3.read("tls/cert.pem"), cert);
    assert_eq!(web3.read("tls/private/key.pem"), key);
    assert_eq!(mode(&web3.path("tls/private/key.pem")), 0o600);
    assert_eq!((web1.host.reloads(), web2.host.reloads(), web3.reloads()), (1, 1, 1));
    assert!(log.text().contains("the ACME server is not contacted"), "{}", log.text());
}

#[test]
fn force_orders_a_new_certificate() {
    if !services(true) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let web = WebHost::start(root.path(), "web", "force.cutover.test", &pebble);
    let mut plan = plan(&pebble, &["force.cutover.test"], http01(), &root.path().join("state"));
    let log = Log::default();
    ok(run(&plan, &[&web.host], &log), &log, &pebble);
    let first = web.host.read("tls/cert.pem");

    plan.force = true;
    let log = Log::default();
    let forced = ok(run(&plan, &[&web.host], &log), &log, &pebble);
    assert!(!forced.reused);
    assert_eq!(forced.installed_on, ["web"]);
    let second = web.host.read("tls/cert.pem");
    assert_ne!(leaf_serial(&first), leaf_serial(&second), "a new certificate");
    assert!(log.text().contains("using the ACME account in"), "the stored account is reused: {}", log.text());
    assert_eq!(web.host.reloads(), 2);
    served_leaf(web.ip, web.https_port, "force.cutover.test", pebble.root_pem(), &leaf_der(&second));

    // Without force, the new one stays.
    plan.force = false;
    let log = Log::default();
    let kept = ok(run(&plan, &[&web.host], &log), &log, &pebble);
    assert!(kept.reused && kept.installed_on.is_empty());
    assert_eq!(web.host.read("tls/cert.pem"), second);
    assert_eq!(web.host.reloads(), 2);

    // A key that became readable by others is written again, private.
    let key_path = web.host.path("tls/private/key.pem");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = Log::default();
    let fixed = ok(run(&plan, &[&web.host], &log), &log, &pebble);
    assert!(fixed.reused);
    assert_eq!(fixed.installed_on, ["web"]);
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(web.host.read("tls/cert.pem"), second);
}

#[test]
fn dns01_through_a_hook_with_a_wildcard() {
    if !services(false) || !require("curl", on_path("curl")) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "app");
    let hook = format!(
        r#"set -e
echo "$CUTOVER_ACME_ACTION $CUTOVER_ACME_DOMAIN $CUTOVER_ACME_NAME" >> hook.log
case "$CUTOVER_ACME_ACTION" in
  present) curl -fsS -X POST -d "{{\"host\":\"$CUTOVER_ACME_NAME.\",\"value\":\"$CUTOVER_ACME_VALUE\"}}" {cts}/set-txt ;;
  cleanup) curl -fsS -X POST -d "{{\"host\":\"$CUTOVER_ACME_NAME.\"}}" {cts}/clear-txt ;;
esac
echo "hook $CUTOVER_ACME_ACTION done""#,
        cts = pebble.challtestsrv_url()
    );
    let challenge = Challenge::Dns01 { hook, workdir: Some(root.path().to_owned()) };
    let plan = plan(&pebble, &["dns.cutover.test", "*.dns.cutover.test"], challenge, &root.path().join("state"));
    let log = Log::default();
    let issued = ok(run(&plan, &[&host], &log), &log, &pebble);
    assert!(!issued.reused);
    assert!(issued.names.contains(&"*.dns.cutover.test".to_owned()), "{issued:?}");
    assert!(issued.names.contains(&"dns.cutover.test".to_owned()), "{issued:?}");
    assert_eq!(mode(&host.path("tls/private/key.pem")), 0o600);
    let calls = std::fs::read_to_string(root.path().join("hook.log")).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    // Pebble may reuse a valid authorization, so one or two of each; never a present without
    // its cleanup.
    let presents =
        calls.iter().filter(|l| l.starts_with("present dns.cutover.test _acme-challenge.dns.cutover.test")).count();
    let cleanups =
        calls.iter().filter(|l| l.starts_with("cleanup dns.cutover.test _acme-challenge.dns.cutover.test")).count();
    assert!(presents >= 1 && presents == cleanups && calls.len() == presents + cleanups, "{calls:?}");
    assert!(log.text().contains("dns hook | hook present done"), "{}", log.text());
}

#[test]
fn an_unreachable_directory_is_a_quick_clear_error() {
    if !services(false) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "web");
    let mut plan = plan(&pebble, &["down.cutover.test"], http01(), &root.path().join("state"));
    let ip = loopback_addr();
    plan.directory = format!("https://{ip}:{}/dir", free_port(IpAddr::V4(ip)));
    let started = Instant::now();
    let err = run(&plan, &[&host], &Log::default()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let text = err.to_string();
    assert!(matches!(err, TlsIssueError::Acme { .. }), "{text}");
    assert!(text.contains(&plan.directory) && text.contains("refused"), "{text}");
    assert!(!err.hosts_changed());
    assert!(!host.path("tls").exists(), "nothing installed");
}

#[test]
fn a_directory_that_never_answers_times_out() {
    if !services(false) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "web");
    let mut plan = plan(&pebble, &["slow.cutover.test"], http01(), &root.path().join("state"));
    // Accepts connections (the kernel's backlog does) and never says a word.
    let silent = TcpListener::bind((loopback_addr(), 0)).unwrap();
    plan.directory = format!("https://{}/dir", silent.local_addr().unwrap());
    plan.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let err = run(&plan, &[&host], &Log::default()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    assert!(matches!(err, TlsIssueError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("no answer within 2 s"), "{err}");
}

#[test]
fn a_failing_hook_is_named_and_nothing_is_installed() {
    if !services(false) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "app");
    let hook = "echo \"no API token for $CUTOVER_ACME_DOMAIN\" >&2; exit 1".to_owned();
    let challenge = Challenge::Dns01 { hook: hook.clone(), workdir: None };
    let plan = plan(&pebble, &["hookfail.cutover.test"], challenge, &root.path().join("state"));
    let log = Log::default();
    let err = run(&plan, &[&host], &log).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TlsIssueError::Hook { .. }), "{text}");
    assert!(text.contains(&hook) && text.contains("exit 1"), "{text}");
    assert!(text.contains("no API token for hookfail.cutover.test"), "{text}");
    assert!(!host.path("tls").exists(), "nothing installed");
    assert_eq!(host.reloads(), 0);
}

#[test]
fn a_failed_challenge_reports_the_acme_problem_and_cleans_up() {
    if !services(false) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "web");
    // The name resolves to Pebble's own address, where nothing serves HTTP.
    let plan = plan(&pebble, &["unserved.cutover.test"], http01(), &root.path().join("state"));
    let log = Log::default();
    let err = run(&plan, &[&host], &log).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TlsIssueError::Validation { .. }), "{text}\n{}", log.text());
    assert!(text.contains("unserved.cutover.test:") && text.contains("connection refused"), "{text}");
    assert!(text.contains("(connection)"), "the problem type: {text}");
    let dir = host.path("www/.well-known/acme-challenge");
    assert!(dir.is_dir(), "the challenge files were written");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "and removed again");
    assert!(!host.path("tls").exists(), "nothing installed");
    assert_eq!(host.reloads(), 0);
}

#[test]
fn a_cert_path_that_cannot_be_written_stops_before_any_order() {
    if !services(false) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "web");
    std::fs::write(host.path("tls"), "a file where a directory should be").unwrap();
    let plan = plan(&pebble, &["blocked.cutover.test"], http01(), &root.path().join("state"));
    let err = run(&plan, &[&host], &Log::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TlsIssueError::Host(_)), "{text}");
    assert!(text.contains("`web`") && text.contains("not a writable directory"), "{text}");
    assert!(!cutover_tls::account_file(&root.path().join("state"), &plan.directory).exists(), "no ACME contact");
}

#[test]
fn an_account_the_server_forgot_is_registered_again() {
    if !services(false) || !require("curl", on_path("curl")) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let host = DirHost::new(root.path(), "app");
    let hook = format!(
        r#"[ "$CUTOVER_ACME_ACTION" = present ] || exit 0
curl -fsS -X POST -d "{{\"host\":\"$CUTOVER_ACME_NAME.\",\"value\":\"$CUTOVER_ACME_VALUE\"}}" {}/set-txt"#,
        pebble.challtestsrv_url()
    );
    let plan = plan(&pebble, &["again.cutover.test"], Challenge::Dns01 { hook, workdir: None }, &state);
    // Credentials of an account this server never saw (made by another Pebble), stored for
    // this directory: as after a CA's reset.
    let other = Pebble::start();
    let mut elsewhere = plan.clone();
    elsewhere.directory = other.directory_url();
    elsewhere.directory_ca = Some(other.https_ca_path());
    elsewhere.names = vec!["unused.cutover.test".into()];
    elsewhere.challenge = Challenge::Dns01 { hook: "exit 1".into(), workdir: None };
    let _ = run(&elsewhere, &[&host], &Log::default());
    let stale = std::fs::read_to_string(cutover_tls::account_file(&state, &other.directory_url())).unwrap();
    let origin = |url: String| url.trim_end_matches("/dir").to_owned();
    let stale = stale.replace(&origin(other.directory_url()), &origin(pebble.directory_url()));
    std::fs::write(cutover_tls::account_file(&state, &plan.directory), stale.as_bytes()).unwrap();

    let log = Log::default();
    let issued = ok(run(&plan, &[&host], &log), &log, &pebble);
    assert!(!issued.reused);
    assert!(log.text().contains("does not know the stored account"), "{}", log.text());
    let stored = std::fs::read_to_string(cutover_tls::account_file(&state, &plan.directory)).unwrap();
    assert_ne!(stored.as_bytes(), stale.as_bytes(), "the new account replaced the stale one");
}

#[test]
fn a_directory_certificate_from_no_trusted_ca_is_refused() {
    if !services(false) {
        return;
    }
    let pebble = Pebble::start();
    let root = tempfile::tempdir().unwrap();
    let host = DirHost::new(root.path(), "web");
    let mut plan = plan(&pebble, &["untrusted.cutover.test"], http01(), &root.path().join("state"));
    let unrelated = cutover_testkit::certs::Ca::new("not pebble's").write(root.path(), "unrelated");
    plan.directory_ca = Some(unrelated);
    let log = Log::default();
    let err = run(&plan, &[&host], &log).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TlsIssueError::Acme { .. }), "{text}");
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(log.text().contains("trying the system's roots"), "{}", log.text());
}

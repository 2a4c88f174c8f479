//! A whole production stack on this machine, for tests that go through every stage of the
//! cutover: `n` real sshd hosts ([`SshHosts`], each on a loopback address of its own), a DNS
//! server authoritative for the app's names ([`Dnsmasq`], answering them with the hosts'
//! addresses), a test CA whose certificate for those names is installed on every host where
//! `[tls] cert` and `key` say (or, with [`Spec::pebble`], certificates from Pebble, below), and
//! one nginx per host listening on the host's own address (HTTPS
//! on [`Stack::https_port`], plain HTTP redirecting to it on [`Stack::http_port`]) whose document
//! root is the host's `DEPLOY_PATH/current`, so it serves whatever release is live there. With
//! [`Spec::staging`], one more host is staging (`[env.staging]`, at `staging.shop.test`).
//!
//! nginx runs on the test machine, not in the host's mount namespace: its root is the host's
//! deploy directory as the test sees it (`hosts.deploy_dir(i)/current`). `current` is a
//! relative symlink (`releases/ID`), followed per request (`disable_symlinks off`, no open file
//! cache), so a switch is served at once. Each host's nginx config is linked at
//! `/srv/cutover-test/nginx.conf` inside the host, so `[preflight] web_test` tests on each host
//! the config its web server runs.
//!
//! The system resolver of this machine does not know the test zone; [`Stack::cutover`] (and
//! [`Stack::resolved`] for any program) runs in a mount namespace whose `/etc/resolv.conf` names
//! the DNS server, so the public URL resolves through DNS as it would on the internet.
//!
//! What a host serves is [`Web`]: the release's files as they are, or PHP through a php-fpm of
//! the host's own (Debian's `php-fpm`, a pool on a unix socket in a temp dir, run as root with
//! `-R`, OPcache on without revalidation, in a mount namespace where the host's directory is at
//! [`MOUNT_POINT`] as on the host, so paths the host's own tools wrote into the release, such as
//! Laravel's `config:cache`, are found), nginx passing `*.php` with `SCRIPT_FILENAME` and
//! `DOCUMENT_ROOT` under `$realpath_root`, so a request runs the release `current` named when it
//! came; [`Spec::web_root`] puts the document root under `current` (Laravel's `public/`).
//!
//! With [`Spec::pebble`] no test CA is made: the hosts start with a self-signed placeholder
//! (nginx needs one to start), Pebble (Let's Encrypt's ACME test server) runs with its
//! challtestsrv answering the stack's names with the hosts' addresses (dnsmasq stays the
//! resolver of cutover and the checks), each host's nginx serves [`WEBROOT`] at
//! `/.well-known/acme-challenge/` on [`Stack::http_port`] (Pebble's HTTP-01 port; the rest of it
//! redirects to HTTPS), the config's `[tls]` gets `webroot` and a `reload` that HUPs the host's
//! own nginx ([`Stack::tls_keys`]), `ca.pem` holds Pebble's HTTPS CA and the root it issues under,
//! and [`Stack::issue_certificates`] runs `cutover tls issue` through the binary per environment,
//! so what the hosts serve was issued over ACME.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use cutover_testkit::certs::{Ca, Leaf};
use cutover_testkit::dnsmasq::{Dnsmasq, Record};
use cutover_testkit::nginx::{Nginx, Site, free_port};
use cutover_testkit::pebble::{self, Pebble};
use cutover_testkit::php_fpm::PhpFpm;

use super::cli::{Project, Run};
use super::hosts::{MOUNT_POINT, SshHosts};

/// The zone the DNS server is authoritative for, and the app's names in it.
pub const ZONE: &str = "shop.test";
pub const NAME: &str = "shop.test";
pub const ALIAS: &str = "www.shop.test";
pub const STAGING: &str = "staging.shop.test";

/// Where the certificate chain and its key are on every host (`[tls] cert` and `key`).
pub const CERT_PATH: &str = "/srv/cutover-test/tls/shop.chain.pem";
pub const KEY_PATH: &str = "/srv/cutover-test/tls/shop.key";
/// Where each host's nginx config is linked inside the host, for `[preflight] web_test`.
pub const NGINX_CONF: &str = "/srv/cutover-test/nginx.conf";
/// With [`Spec::pebble`]: each host's nginx pid file, linked inside the host (`[tls] reload`).
pub const NGINX_PID: &str = "/srv/cutover-test/nginx.pid";
/// With [`Spec::pebble`]: the ACME HTTP-01 webroot on every host (`[tls] webroot`).
pub const WEBROOT: &str = "/srv/cutover-test/acme";

/// What each host's web server serves from `current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Web {
    /// The release's files as they are (`index.html` at `/`).
    #[default]
    Static,
    /// `*.php` through a php-fpm per host with `workers` static workers (`index.php` at `/`).
    Php { workers: u32 },
}

/// How to build a [`Stack`].
#[derive(Debug, Clone)]
pub struct Spec {
    pub hosts: usize,
    /// Whether production is gated (`false` keeps the fixture's `gated = false`).
    pub gated: bool,
    pub web: Web,
    /// One more host, after production's, as `[env.staging]` at `https://staging.shop.test:PORT`.
    pub staging: bool,
    /// Appended to the config's top part (before `[env.production]`): hooks, `[preflight]`, …
    pub extra: String,
    /// The web server's document root under `current` (`"public"` for Laravel; empty: `current`).
    pub web_root: &'static str,
    /// Certificates from Pebble over ACME ([`Stack::issue_certificates`]) instead of a test CA's
    /// leaf installed before the test.
    pub pebble: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            hosts: 2,
            gated: false,
            web: Web::Static,
            staging: false,
            extra: String::new(),
            web_root: "",
            pebble: false,
        }
    }
}

/// The running stack; everything is stopped on drop (nginx first, then DNS, then the hosts).
pub struct Stack {
    pub nginx: Vec<Nginx>,
    /// With [`Web::Php`]: each host's php-fpm, in host order.
    pub php: Vec<PhpFpm>,
    pub dns: Dnsmasq,
    /// The test CA whose leaf the hosts serve; `None` with [`Spec::pebble`].
    pub ca: Option<Ca>,
    /// With [`Spec::pebble`]: the ACME server the certificates come from.
    pub pebble: Option<Pebble>,
    pub project: Project,
    pub hosts: SshHosts,
    pub https_port: u16,
    pub http_port: u16,
    /// `https://shop.test:PORT`, the environment's `url`.
    pub url: String,
    /// With [`Spec::staging`]: staging's host (its index in [`Stack::hosts`]) and url.
    pub staging: Option<(usize, String)>,
    /// How many hosts are production's (the first ones).
    production: usize,
}

impl Stack {
    /// Whether this machine can run it: sshd hosts, dnsmasq, nginx, `unshare` and `curl`. A
    /// missing part is a skip, or a failure under `CUTOVER_REQUIRE_SERVICES=1`.
    pub fn available() -> bool {
        super::require("sshd", SshHosts::available())
            && super::require("dnsmasq", Dnsmasq::available())
            && super::require("nginx", Path::new(cutover_testkit::nginx::NGINX).is_file())
            && super::require("unshare", cutover_testkit::on_path("unshare"))
            && super::require("curl", cutover_testkit::on_path("curl"))
    }

    /// Starts the stack for `spec`; `None` when [`available`](Self::available) says skip.
    pub fn start(spec: Spec) -> Option<Stack> {
        if !Self::available() {
            return None;
        }
        if matches!(spec.web, Web::Php { .. }) && !super::require("php-fpm", cutover_testkit::php_fpm::available()) {
            return None;
        }
        if spec.pebble && !super::require("pebble (and openssl)", pebble::available()) {
            return None;
        }
        let all = spec.hosts + usize::from(spec.staging);
        let hosts = SshHosts::start(all);
        let addrs: Vec<Ipv4Addr> = (1..=all).map(|i| hosts.addr(i)).collect();
        let ips: Vec<IpAddr> = addrs.iter().copied().map(IpAddr::V4).collect();
        // With Pebble, plain HTTP is on the port its validation authority connects to (free on
        // every address when Pebble picked it).
        let pebble = spec.pebble.then(Pebble::start);
        let (https_port, http_port) = match &pebble {
            Some(pebble) => (port_free_on(&addrs, &[pebble.http_port()]), pebble.http_port()),
            None => {
                let https_port = port_free_on(&addrs, &[]);
                (https_port, port_free_on(&addrs, &[https_port]))
            }
        };
        let url = format!("https://{NAME}:{https_port}");
        let staging = spec.staging.then(|| (all, format!("https://{STAGING}:{https_port}")));
        let (production, staging_ips) = ips.split_at(spec.hosts);
        let dns = Dnsmasq::start(
            ZONE,
            300,
            &[Record::new(NAME, production), Record::new(ALIAS, production), Record::new(STAGING, staging_ips)],
        );

        // The certificate, installed on every host where `[tls]` says: the test CA's, or a
        // placeholder that `tls issue` replaces with Pebble's.
        let ca = (!spec.pebble).then(|| Ca::new("cutover stack test root"));
        let leaf = match &ca {
            Some(ca) => ca.intermediate("cutover stack test intermediate").issue(&[NAME, ALIAS, STAGING]),
            None => Leaf::self_signed(&[NAME, ALIAS, STAGING]),
        };
        if let Some(pebble) = &pebble {
            for (name, ips) in [(NAME, production), (ALIAS, production), (STAGING, staging_ips)] {
                let list: Vec<String> = ips.iter().map(|ip| format!("\"{ip}\"")).collect();
                if !list.is_empty() {
                    pebble.challtestsrv_post(
                        "/add-a",
                        &format!(r#"{{"host":"{name}.","addresses":[{}]}}"#, list.join(",")),
                    );
                }
            }
        }
        let php: Vec<PhpFpm> = match spec.web {
            Web::Static => Vec::new(),
            Web::Php { workers } => (1..=all)
                .map(|i| {
                    PhpFpm::start_on(workers, &hosts.root(i), Path::new(MOUNT_POINT))
                        .unwrap_or_else(|e| panic!("Stack: php-fpm for host {i}: {e}"))
                })
                .collect(),
        };
        let nginx: Vec<Nginx> = (1..=all)
            .map(|i| {
                let names: &[&str] = if i > spec.hosts { &[STAGING] } else { &[NAME, ALIAS] };
                let root = hosts.root(i);
                let tls = on_host(&root, CERT_PATH).parent().expect("a directory").to_path_buf();
                std::fs::create_dir_all(&tls).expect("the hosts' tls directory");
                std::fs::write(on_host(&root, CERT_PATH), &leaf.chain_pem).expect("install the chain");
                std::fs::write(on_host(&root, KEY_PATH), &leaf.key_pem).expect("install the key");
                let site =
                    Site::new(ips[i - 1], https_port, names, &on_host(&root, CERT_PATH), &on_host(&root, KEY_PATH))
                        .http_port(http_port)
                        .hsts(true)
                        .root(&hosts.deploy_dir(i).join("current").join(spec.web_root));
                let site = match spec.web {
                    Web::Static => site,
                    Web::Php { .. } => site.php(&php[i - 1].socket(), true),
                };
                let site = if spec.pebble {
                    std::fs::create_dir_all(on_host(&root, WEBROOT)).expect("the host's ACME webroot");
                    site.webroot(&on_host(&root, WEBROOT))
                } else {
                    site
                };
                let nginx = Nginx::start(&[site]).unwrap_or_else(|e| panic!("Stack: nginx for host {i}: {e}"));
                std::os::unix::fs::symlink(nginx.conf_path(), on_host(&root, NGINX_CONF))
                    .expect("link the host's nginx config");
                std::os::unix::fs::symlink(nginx.pid_file(), on_host(&root, NGINX_PID))
                    .expect("link the host's nginx pid file");
                nginx
            })
            .collect();

        let project = super::ssh_project_on(
            &hosts,
            &hosts.aliases()[..spec.hosts],
            &format!(
                "[dns]\nresolvers = [\"{dns}\"]\ntimeout = \"2s\"\n\
                 [tls]\nextra_ca = \"ca.pem\"\ncert = \"{CERT_PATH}\"\nkey = \"{KEY_PATH}\"\n\
                 {tls}timeout = \"3s\"\n\
                 [[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = \"v1\"\nevery_host = true\n{extra}\n",
                dns = dns.addr(),
                tls = tls_keys(https_port, http_port, spec.pebble),
                extra = spec.extra,
            ),
        );
        match (&ca, &pebble) {
            (Some(ca), _) => project.write("ca.pem", ca.cert_pem()),
            (None, Some(pebble)) => {
                let https_ca = std::fs::read_to_string(pebble.https_ca_path()).expect("Pebble's HTTPS CA");
                project.write("ca.pem", &format!("{https_ca}{}", pebble.root_pem()));
                project.write("pebble-root.pem", pebble.root_pem());
            }
            (None, None) => unreachable!("a test CA or Pebble"),
        }
        project.write("resolv.conf", &format!("nameserver {}\n", dns.addr().ip()));
        let toml = std::fs::read_to_string(project.path().join("cutover.toml")).expect("the config");
        let toml = if spec.gated { toml.replace("gated = false\n", "") } else { toml };
        // `[env.production]` is the config's last table: its keys go at the end.
        let mut toml = format!("{toml}url = \"{url}\"\naliases = [\"{ALIAS}\"]\n");
        if let Some((i, url)) = &staging {
            toml.push_str(&format!(
                "\n[env.staging]\nhosts = [\"{}\"]\npath = \"{}\"\nurl = \"{url}\"\n",
                hosts.alias(*i),
                SshHosts::DEPLOY_PATH
            ));
        }
        project.write("cutover.toml", &toml);
        Some(Stack {
            nginx,
            php,
            dns,
            ca,
            pebble,
            project,
            hosts,
            https_port,
            http_port,
            url,
            staging,
            production: spec.hosts,
        })
    }

    /// The `[tls]` keys for the stack's ports and, with [`Spec::pebble`], `tls issue`'s `webroot`
    /// and `reload` (HUP the host's own nginx): for a test that writes a config of its own.
    pub fn tls_keys(&self) -> String {
        tls_keys(self.https_port, self.http_port, self.pebble.is_some())
    }

    /// With [`Spec::pebble`]: `cutover tls issue` through the binary for production and, with
    /// [`Spec::staging`], staging, with the project's config as it is now; each must issue
    /// (http-01, from Pebble) and install on every host of its environment, and every host,
    /// which served no certificate of Pebble's before, then serve one (a reload is
    /// asynchronous: polled for up to 10 s).
    pub fn issue_certificates(&self) {
        let pebble = self.pebble.as_ref().expect("issue_certificates needs Spec::pebble");
        let directory = pebble.directory_url();
        let mut envs = vec![("production", NAME, (1..=self.production).collect::<Vec<_>>())];
        if let Some((i, _)) = &self.staging {
            envs.push(("staging", STAGING, vec![*i]));
        }
        for (env, name, hosts) in envs {
            let url = format!("https://{name}:{}", self.https_port);
            for &i in &hosts {
                let before = self.served_issuer(&url, Some(i));
                assert_eq!(before, None, "host {i} serves a certificate of Pebble's before `tls issue`");
            }
            let run = self.cutover(&["--json", "--env", env, "tls", "issue", "--directory", &directory]);
            assert_eq!(
                run.code,
                0,
                "tls issue for {env}\n--- stdout\n{}\n--- stderr\n{}\n--- pebble\n{}",
                run.stdout,
                run.stderr,
                pebble.log()
            );
            let json = run.json();
            assert_eq!(json["reused"], false, "{json:#}");
            assert_eq!(json["installed_on"].as_array().map(Vec::len), Some(hosts.len()), "{json:#}");
            for i in hosts {
                super::wait_for(
                    format_args!("host {i} serving Pebble's certificate for {name}"),
                    std::time::Duration::from_secs(10),
                    || self.served_issuer(&url, Some(i)).is_some_and(|issuer| issuer.contains("Pebble Intermediate")),
                );
            }
        }
    }

    /// The issuer (`openssl x509 -issuer`) of the certificate served for `url`'s host and port
    /// (through the stack's DNS, or with `host` at that host's address), if the chain it sends
    /// verifies for that name against this stack's Pebble root alone; `None` otherwise (a
    /// failed handshake or verification). Only with [`Spec::pebble`].
    pub fn served_issuer(&self, url: &str, host: Option<usize>) -> Option<String> {
        assert!(self.pebble.is_some(), "served_issuer needs Spec::pebble");
        let authority = url.strip_prefix("https://").expect("an https URL").split('/').next().expect("a host");
        let (name, port) = authority.rsplit_once(':').expect("a host:port URL");
        let connect = match host {
            Some(i) => format!("{}:{port}", self.hosts.addr(i)),
            None => authority.to_owned(),
        };
        let script = format!(
            "openssl s_client -connect {connect} -servername {name} -verify_hostname {name} \
             -verify_return_error -CAfile pebble-root.pem </dev/null 2>/dev/null | openssl x509 -noout -issuer"
        );
        let run = self.resolved(Path::new("sh"), &["-c", &script]);
        (run.code == 0).then(|| run.stdout.trim().to_owned())
    }

    /// Runs `program args` in the project directory, in a mount namespace where
    /// `/etc/resolv.conf` names the stack's DNS server.
    pub fn resolved(&self, program: &Path, args: &[&str]) -> Run {
        let out = Command::new("unshare")
            .args(["--mount", "sh", "-c", "mount --bind resolv.conf /etc/resolv.conf && exec \"$0\" \"$@\""])
            .arg(program)
            .args(args)
            .current_dir(self.project.path())
            .env_remove("CUTOVER_CONFIG")
            .env_remove("CUTOVER_ENV")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run unshare");
        Run::from(out)
    }

    /// The `cutover` binary with `args`, the public names resolved by the stack's DNS.
    pub fn cutover(&self, args: &[&str]) -> Run {
        self.resolved(&super::cli::bin(), args)
    }

    /// `GET url` with curl, trusting the test CA: through the stack's DNS, or, with `host`, at
    /// that host's address. Returns (status, body); a failed request fails the test.
    pub fn get(&self, url: &str, host: Option<usize>) -> (u16, String) {
        let ca = self.project.path().join("ca.pem");
        let mut args =
            vec!["-sS".to_owned(), "--max-time".into(), "10".into(), "--cacert".into(), ca.display().to_string()];
        if let Some(i) = host {
            args.extend(["--resolve".into(), format!("{NAME}:{}:{}", self.https_port, self.hosts.addr(i))]);
        }
        args.extend(["-w".into(), "\n%{http_code}".into(), url.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = self.resolved(Path::new("curl"), &args).ok();
        let (body, status) = run.stdout.rsplit_once('\n').expect("curl wrote the status last");
        (status.parse().expect("an HTTP status"), body.to_owned())
    }
}

/// `[tls]` keys: the ports, and with Pebble the webroot and a reload of the host's nginx.
fn tls_keys(https_port: u16, http_port: u16, pebble: bool) -> String {
    let mut keys = format!("https_port = {https_port}\nhttp_port = {http_port}\n");
    if pebble {
        keys.push_str(&format!("webroot = \"{WEBROOT}\"\nreload = \"kill -HUP $(cat {NGINX_PID})\"\n"));
    }
    keys
}

/// `path` inside a host (under [`MOUNT_POINT`]) as the test sees it, under the host's `root`.
pub fn on_host(root: &Path, path: &str) -> PathBuf {
    root.join(path.strip_prefix(MOUNT_POINT).expect("a path on the host's mount").trim_start_matches('/'))
}

/// A port free on every one of `addrs` (and not in `taken`): each host's address has sshd on
/// it already.
fn port_free_on(addrs: &[Ipv4Addr], taken: &[u16]) -> u16 {
    for _ in 0..50 {
        let port = free_port(IpAddr::V4(addrs[0]));
        if !taken.contains(&port) && addrs.iter().all(|a| TcpListener::bind((*a, port)).is_ok()) {
            return port;
        }
    }
    panic!("Stack: no port free on every host's address in 50 tries")
}

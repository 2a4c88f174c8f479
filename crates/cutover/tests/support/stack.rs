//! A whole production stack on this machine, for tests that go through every stage of the
//! cutover: `n` real sshd hosts ([`SshHosts`], each on a loopback address of its own), a DNS
//! server authoritative for the app's names ([`Dnsmasq`], answering them with the hosts'
//! addresses), a test CA whose certificate for those names is installed on every host where
//! `[tls] cert` and `key` say, and one nginx per host listening on the host's own address (HTTPS
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

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use cutover_testkit::certs::Ca;
use cutover_testkit::dnsmasq::{Dnsmasq, Record};
use cutover_testkit::nginx::{Nginx, Site, free_port};
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
}

impl Default for Spec {
    fn default() -> Self {
        Spec { hosts: 2, gated: false, web: Web::Static, staging: false, extra: String::new(), web_root: "" }
    }
}

/// The running stack; everything is stopped on drop (nginx first, then DNS, then the hosts).
pub struct Stack {
    pub nginx: Vec<Nginx>,
    /// With [`Web::Php`]: each host's php-fpm, in host order.
    pub php: Vec<PhpFpm>,
    pub dns: Dnsmasq,
    pub ca: Ca,
    pub project: Project,
    pub hosts: SshHosts,
    pub https_port: u16,
    pub http_port: u16,
    /// `https://shop.test:PORT`, the environment's `url`.
    pub url: String,
    /// With [`Spec::staging`]: staging's host (its index in [`Stack::hosts`]) and url.
    pub staging: Option<(usize, String)>,
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
        let all = spec.hosts + usize::from(spec.staging);
        let hosts = SshHosts::start(all);
        let addrs: Vec<Ipv4Addr> = (1..=all).map(|i| hosts.addr(i)).collect();
        let ips: Vec<IpAddr> = addrs.iter().copied().map(IpAddr::V4).collect();
        let https_port = port_free_on(&addrs, &[]);
        let http_port = port_free_on(&addrs, &[https_port]);
        let url = format!("https://{NAME}:{https_port}");
        let staging = spec.staging.then(|| (all, format!("https://{STAGING}:{https_port}")));
        let (production, staging_ips) = ips.split_at(spec.hosts);
        let dns = Dnsmasq::start(
            ZONE,
            300,
            &[Record::new(NAME, production), Record::new(ALIAS, production), Record::new(STAGING, staging_ips)],
        );

        // The certificate, installed on every host where `[tls]` says.
        let ca = Ca::new("cutover stack test root");
        let leaf = ca.intermediate("cutover stack test intermediate").issue(&[NAME, ALIAS, STAGING]);
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
                let nginx = Nginx::start(&[site]).unwrap_or_else(|e| panic!("Stack: nginx for host {i}: {e}"));
                std::os::unix::fs::symlink(nginx.conf_path(), on_host(&root, NGINX_CONF))
                    .expect("link the host's nginx config");
                nginx
            })
            .collect();

        let project = super::ssh_project_on(
            &hosts,
            &hosts.aliases()[..spec.hosts],
            &format!(
                "[dns]\nresolvers = [\"{dns}\"]\ntimeout = \"2s\"\n\
                 [tls]\nextra_ca = \"ca.pem\"\ncert = \"{CERT_PATH}\"\nkey = \"{KEY_PATH}\"\n\
                 https_port = {https_port}\nhttp_port = {http_port}\ntimeout = \"3s\"\n\
                 [[check]]\nname = \"home\"\nurl = \"/\"\nbody_contains = \"v1\"\nevery_host = true\n{extra}\n",
                dns = dns.addr(),
                extra = spec.extra,
            ),
        );
        project.write("ca.pem", ca.cert_pem());
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
        Some(Stack { nginx, php, dns, ca, project, hosts, https_port, http_port, url, staging })
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

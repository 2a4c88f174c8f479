//! A real nginx (`/usr/sbin/nginx`) serving test sites on loopback: HTTPS with a given certificate,
//! optionally plain HTTP that redirects or answers, HSTS on or off, modern or legacy TLS versions,
//! and an ACME HTTP-01 webroot.
//!
//! nginx runs in the foreground (`daemon off;`, with its master process) as a child of the test,
//! with its config, pid file, logs and temp dirs in a temp dir of its own. [`Nginx::start`] returns
//! once every listen address accepts connections; dropping the [`Nginx`] stops it (SIGTERM to the
//! master by pid, then SIGKILL if it does not exit). Call [`crate::require`] with
//! `crate::on_path(NGINX)` first.
//!
//! ```no_run
//! use cutover_testkit::nginx::{Nginx, Site, free_port};
//! # let (chain, key) = (std::path::PathBuf::new(), std::path::PathBuf::new());
//! let ip = cutover_testkit::loopback_addr().into();
//! let site = Site::new(ip, free_port(ip), &["shop.example.test"], &chain, &key)
//!     .http_port(free_port(ip))
//!     .redirect(true)
//!     .hsts(true);
//! let nginx = Nginx::start(&[site]).unwrap();
//! # drop(nginx);
//! ```

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs nginx.
pub const NGINX: &str = "/usr/sbin/nginx";
/// The FastCGI parameters Debian's nginx ships (without SCRIPT_FILENAME, which a site sets).
const FASTCGI_PARAMS: &str = "/etc/nginx/fastcgi_params";

/// TLS versions a site accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// `TLSv1.2 TLSv1.3` (the default).
    Modern,
    /// `TLSv1 TLSv1.1` only, with `DEFAULT@SECLEVEL=0` ciphers (OpenSSL 3 refuses them otherwise).
    LegacyOnly,
    /// `TLSv1 TLSv1.1 TLSv1.2 TLSv1.3`, with `DEFAULT@SECLEVEL=0` ciphers.
    All,
}

/// What the plain-HTTP port answers (outside the ACME webroot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMode {
    /// `return 301 https://$host[:PORT]$request_uri;` (the port is added when it is not 443).
    Redirect,
    /// A plain `200` page.
    Page,
}

/// One `server` (or two: HTTPS and, with [`Site::http_port`], plain HTTP).
///
/// nginx picks TLS versions per listen socket (from the first server on it), so sites that share
/// an address and port should use the same [`Protocols`].
#[derive(Debug, Clone)]
pub struct Site {
    pub addr: IpAddr,
    pub https_port: u16,
    pub http_port: Option<u16>,
    pub server_names: Vec<String>,
    /// `ssl_certificate`: the chain file the server sends (leaf first).
    pub cert: PathBuf,
    pub key: PathBuf,
    pub http: HttpMode,
    /// Send `Strict-Transport-Security: max-age=31536000` over HTTPS.
    pub hsts: bool,
    pub protocols: Protocols,
    /// Served at `/.well-known/acme-challenge/` on the HTTP port with `root WEBROOT;`, so the
    /// file for token T is `WEBROOT/.well-known/acme-challenge/T` (certbot's webroot layout).
    pub webroot: Option<PathBuf>,
    /// Serve this directory over HTTPS (`try_files $uri $uri/index.html =500`: a directory
    /// without the file answers 500, as a broken release would) instead of a fixed `ok`.
    /// Symlinks in it are followed on every request (`disable_symlinks off`, no open file
    /// cache), so a release's `current` switching is served at once.
    pub root: Option<PathBuf>,
    /// With [`Site::root`]: `*.php` (and `/` through `index.php`) passed to PHP-FPM on this socket.
    pub php: Option<Php>,
}

/// How a site hands PHP to PHP-FPM. `HTTP_HOST` is the request's Host header with its port
/// (Debian's fastcgi_params pass `$host`, without it, and on a port other than 443 WordPress
/// then redirects every page to itself).
#[derive(Debug, Clone)]
pub struct Php {
    pub socket: PathBuf,
    /// `SCRIPT_FILENAME` and `DOCUMENT_ROOT` from `$realpath_root` (the path behind `current`, as
    /// cutover's presets say), instead of `$document_root` (the path through the symlink).
    pub realpath: bool,
}

impl Site {
    /// An HTTPS-only site (no HTTP port, no HSTS, TLS 1.2 and 1.3).
    pub fn new(addr: IpAddr, https_port: u16, server_names: &[&str], cert: &Path, key: &Path) -> Site {
        Site {
            addr,
            https_port,
            http_port: None,
            server_names: server_names.iter().map(|s| s.to_string()).collect(),
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            http: HttpMode::Redirect,
            hsts: false,
            protocols: Protocols::Modern,
            webroot: None,
            root: None,
            php: None,
        }
    }

    /// Serve `*.php` under the root through PHP-FPM at `socket` (see [`Php`]).
    pub fn php(mut self, socket: &Path, realpath: bool) -> Site {
        self.php = Some(Php { socket: socket.to_path_buf(), realpath });
        self
    }

    /// Also listen for plain HTTP on `port` (redirecting to HTTPS unless [`Site::redirect`] is false).
    pub fn http_port(mut self, port: u16) -> Site {
        self.http_port = Some(port);
        self
    }

    /// Whether plain HTTP redirects to HTTPS (`true`, the default) or answers 200.
    pub fn redirect(mut self, on: bool) -> Site {
        self.http = if on { HttpMode::Redirect } else { HttpMode::Page };
        self
    }

    pub fn hsts(mut self, on: bool) -> Site {
        self.hsts = on;
        self
    }

    pub fn protocols(mut self, protocols: Protocols) -> Site {
        self.protocols = protocols;
        self
    }

    /// Serve the files under `dir` over HTTPS (see [`Site::root`]'s field).
    pub fn root(mut self, dir: &Path) -> Site {
        self.root = Some(dir.to_path_buf());
        self
    }

    pub fn webroot(mut self, dir: &Path) -> Site {
        self.webroot = Some(dir.to_path_buf());
        self
    }
}

/// A port on `addr` that was free a moment ago (bound to port 0, then let go).
pub fn free_port(addr: IpAddr) -> u16 {
    TcpListener::bind((addr, 0)).and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind a free port")
}

/// A running nginx; stopped on drop.
#[derive(Debug)]
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Writes the config for `sites`, checks it (`nginx -t`), starts nginx and waits (up to 10 s)
    /// until every listen address accepts. The error says what nginx said.
    pub fn start(sites: &[Site]) -> io::Result<Nginx> {
        let dir = tempfile::Builder::new().prefix("cutover-nginx-").tempdir()?;
        for sub in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.path().join("tmp").join(sub))?;
        }
        let conf = config(dir.path(), sites);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, &conf)?;

        let test = Command::new(NGINX).arg("-t").arg("-p").arg(dir.path()).arg("-c").arg(&conf_path).output()?;
        if !test.status.success() {
            return Err(io::Error::other(format!(
                "nginx -t refused the config: {}\n{conf}",
                String::from_utf8_lossy(&test.stderr).trim()
            )));
        }
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut nginx = Nginx { child, dir };

        let mut addrs: Vec<SocketAddr> = Vec::new();
        for site in sites {
            addrs.push((site.addr, site.https_port).into());
            addrs.extend(site.http_port.map(|p| SocketAddr::from((site.addr, p))));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for addr in addrs {
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some(status) = nginx.child.try_wait()? {
                    return Err(io::Error::other(format!("nginx exited ({status}): {}", nginx.error_log())));
                }
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!("nginx does not accept on {addr}: {}", nginx.error_log())));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(nginx)
    }

    /// The master process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The pid file nginx writes (`DIR/nginx.pid`).
    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("nginx.pid")
    }

    /// The temp dir holding `nginx.conf`, the logs and the pid file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config nginx was started with, to edit before a [`Nginx::reload`].
    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// The error log so far (empty if unreadable).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Rewrites the config for `sites` (same listen addresses, or new ones) and reloads.
    pub fn reconfigure(&self, sites: &[Site]) -> io::Result<()> {
        std::fs::write(self.conf_path(), config(self.dir.path(), sites))?;
        self.reload()
    }

    /// `kill -HUP` the master: nginx rereads its config and certificates (new workers take over).
    /// Returns once the signal is sent; the switch takes nginx a moment.
    pub fn reload(&self) -> io::Result<()> {
        signal(self.pid(), "HUP")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers and exits. SIGKILL would leave the workers behind.
        let _ = signal(self.pid(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) -> io::Result<()> {
    let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status()?;
    if status.success() { Ok(()) } else { Err(io::Error::other(format!("kill -{sig} {pid}: {status}"))) }
}

fn listen(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn config(dir: &Path, sites: &[Site]) -> String {
    let d = dir.display();
    let mut c = format!(
        "daemon off;\nmaster_process on;\nuser root;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 128; }}\nhttp {{\n\
         \x20 access_log {d}/access.log;\n\
         \x20 client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
         \x20 fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
         \x20 default_type text/plain;\n  server_tokens off;\n"
    );
    for site in sites {
        let names = site.server_names.join(" ");
        let (protocols, ciphers) = match site.protocols {
            Protocols::Modern => ("TLSv1.2 TLSv1.3", None),
            Protocols::LegacyOnly => ("TLSv1 TLSv1.1", Some("DEFAULT@SECLEVEL=0")),
            Protocols::All => ("TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", Some("DEFAULT@SECLEVEL=0")),
        };
        let _ = writeln!(
            c,
            "  server {{\n    listen {} ssl;\n    server_name {names};",
            listen(site.addr, site.https_port)
        );
        let _ = writeln!(
            c,
            "    ssl_certificate {};\n    ssl_certificate_key {};",
            site.cert.display(),
            site.key.display()
        );
        let _ = writeln!(c, "    ssl_protocols {protocols};");
        if let Some(ciphers) = ciphers {
            let _ = writeln!(c, "    ssl_ciphers {ciphers};");
        }
        if site.hsts {
            let _ = writeln!(c, "    add_header Strict-Transport-Security \"max-age=31536000\" always;");
        }
        match (&site.root, &site.php) {
            (Some(root), Some(php)) => {
                let at = if php.realpath { "$realpath_root" } else { "$document_root" };
                let _ = writeln!(
                    c,
                    "    root {};\n    disable_symlinks off;\n    index index.php;\n    location / {{ try_files $uri $uri/ /index.php$is_args$args; }}\n\
                     \x20   location ~ \\.php$ {{\n      try_files $uri =404;\n      include {FASTCGI_PARAMS};\n\
                     \x20     fastcgi_param SCRIPT_FILENAME {at}$fastcgi_script_name;\n      fastcgi_param DOCUMENT_ROOT {at};\n\
                     \x20     fastcgi_param HTTP_HOST $http_host;\n\
                     \x20     fastcgi_pass unix:{};\n    }}\n  }}",
                    root.display(),
                    php.socket.display()
                );
            }
            (Some(root), None) => {
                let _ = writeln!(
                    c,
                    "    root {};\n    disable_symlinks off;\n    location / {{ try_files $uri $uri/index.html =500; }}\n  }}",
                    root.display()
                );
            }
            (None, _) => {
                let _ = writeln!(c, "    location / {{ return 200 \"ok\\n\"; }}\n  }}");
            }
        }
        if let Some(port) = site.http_port {
            let _ = writeln!(c, "  server {{\n    listen {};\n    server_name {names};", listen(site.addr, port));
            if let Some(root) = &site.webroot {
                let _ = writeln!(c, "    location /.well-known/acme-challenge/ {{ root {}; }}", root.display());
            }
            match site.http {
                HttpMode::Redirect if site.https_port == 443 => {
                    let _ = writeln!(c, "    location / {{ return 301 https://$host$request_uri; }}");
                }
                HttpMode::Redirect => {
                    let _ =
                        writeln!(c, "    location / {{ return 301 https://$host:{}$request_uri; }}", site.https_port);
                }
                HttpMode::Page => {
                    let _ = writeln!(c, "    location / {{ return 200 \"plain http\\n\"; }}");
                }
            }
            let _ = writeln!(c, "  }}");
        }
    }
    c.push_str("}\n");
    c
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::certs::Ca;

    #[test]
    fn serves_https_redirects_http_and_reloads() {
        if !crate::require("nginx", crate::on_path(NGINX)) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let files = Ca::new("root").issue(&["a.test"]).write(dir.path(), "a");
        let webroot = dir.path().join("webroot");
        std::fs::create_dir_all(webroot.join(".well-known/acme-challenge")).unwrap();
        std::fs::write(webroot.join(".well-known/acme-challenge/tok"), "tok.thumb").unwrap();
        let ip: IpAddr = crate::loopback_addr().into();
        let (https, http) = (free_port(ip), free_port(ip));
        let legacy = Site::new(ip, free_port(ip), &["b.test"], &files.chain, &files.key).protocols(Protocols::All);
        let site = Site::new(ip, https, &["a.test"], &files.chain, &files.key).http_port(http).webroot(&webroot);
        let nginx = Nginx::start(&[site, legacy]).unwrap();

        let get = |path: &str| {
            let mut s = TcpStream::connect((ip, http)).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let redirect = get("/x?y=1");
        assert!(redirect.starts_with("HTTP/1.1 301"), "{redirect}");
        assert!(redirect.contains(&format!("Location: https://a.test:{https}/x?y=1")), "{redirect}");
        let token = get("/.well-known/acme-challenge/tok");
        assert!(token.starts_with("HTTP/1.1 200") && token.ends_with("tok.thumb"), "{token}");

        let pid: u32 = std::fs::read_to_string(nginx.pid_file()).unwrap().trim().parse().unwrap();
        assert_eq!(pid, nginx.pid());
        nginx.reload().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(get("/").starts_with("HTTP/1.1 301"));
        drop(nginx);
        assert!(TcpStream::connect((ip, http)).is_err(), "stopped on drop");
    }
}

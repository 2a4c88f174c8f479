//! Every script this crate runs on a host, in one place, and the parallel runner.
//!
//! Paths come from the plan: absolute, relative to the login directory, or `~/…` (expanded by
//! the host's shell). Every value reaches the shell through [`quote`].

use cutover_remote::shell::quote;
use cutover_remote::{RemoteError, Stdin, Target};

use crate::error::TlsIssueError;

/// A path on a host as a shell word: `~/x` becomes `"$HOME"/x`.
pub(crate) fn path_expr(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
        None if path == "~" => "\"$HOME\"".to_owned(),
        None => quote(path),
    }
}

/// Runs `f` on every host in parallel; results in host order.
pub(crate) fn each<T: Send>(hosts: &[&dyn Target], f: impl Fn(&dyn Target) -> T + Sync) -> Vec<T> {
    if hosts.len() == 1 {
        return vec![f(hosts[0])];
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = hosts.iter().map(|t| s.spawn(move || f(*t))).collect();
        handles.into_iter().map(|h| h.join().expect("host thread")).collect()
    })
}

/// All results, or every error as one [`TlsIssueError::Hosts`].
pub(crate) fn all<T>(step: &str, results: Vec<Result<T, RemoteError>>) -> Result<Vec<T>, TlsIssueError> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(value) => ok.push(value),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(ok),
        1 => Err(TlsIssueError::Host(errors.remove(0))),
        _ => Err(TlsIssueError::Hosts { step: step.to_owned(), errors }),
    }
}

/// What a host has at the certificate and key paths now (exact file contents), and whether
/// those files can be written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Current {
    pub cert: Option<String>,
    pub key: Option<String>,
    /// The key file (or what its symlink points to) has mode 0600.
    pub key_private: bool,
}

const CERT_MARK: &str = "--cutover-tls-cert--";
const KEY_MARK: &str = "--cutover-tls-key--";
const END_MARK: &str = "--cutover-tls-end--";

/// Reads the certificate and key (if present) and checks that both paths can be written (their
/// directory, or the nearest existing parent), so a new certificate is never ordered for a host
/// it cannot be installed on.
pub(crate) fn read_current(target: &dyn Target, cert_path: &str, key_path: &str) -> Result<Current, RemoteError> {
    let script = format!(
        r#"set -u
c={cert}; k={key}
writable() {{
  p=$(dirname -- "$1")
  while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done
  if [ ! -d "$p" ] || [ ! -w "$p" ]; then echo "cannot write $1: $p is not a writable directory" >&2; exit 3; fi
}}
writable "$c"; writable "$k"
printf '%s\n' {CERT_MARK}
if [ -e "$c" ]; then cat -- "$c" || exit 3; fi
printf '\n%s\n' {KEY_MARK}
if [ -e "$k" ]; then cat -- "$k" || exit 3; fi
printf '\n%s\n' {END_MARK}
[ -e "$c" ] && echo cert-present >&2
[ -e "$k" ] && echo key-present >&2
case $(ls -lLdn -- "$k" 2>/dev/null) in -rw-------*) echo key-private >&2 ;; esac
exit 0
"#,
        cert = path_expr(cert_path),
        key = path_expr(key_path),
    );
    let output = target.run("reading the current certificate", &script, Stdin::Null)?;
    let protocol = |detail: &str| RemoteError::Protocol {
        host: target.name().to_owned(),
        step: "reading the current certificate".to_owned(),
        detail: detail.to_owned(),
    };
    let out = &output.stdout;
    let cert_start =
        out.find(&format!("{CERT_MARK}\n")).ok_or_else(|| protocol("no certificate marker"))? + CERT_MARK.len() + 1;
    let key_mark = format!("\n{KEY_MARK}\n");
    let key_at = out[cert_start..].find(&key_mark).ok_or_else(|| protocol("no key marker"))? + cert_start;
    let end_mark = format!("\n{END_MARK}\n");
    let end_at = out[key_at + key_mark.len()..].find(&end_mark).ok_or_else(|| protocol("no end marker"))?
        + key_at
        + key_mark.len();
    let cert = &out[cert_start..key_at];
    let key = &out[key_at + key_mark.len()..end_at];
    Ok(Current {
        cert: output.stderr.lines().any(|l| l == "cert-present").then(|| cert.to_owned()),
        key: output.stderr.lines().any(|l| l == "key-present").then(|| key.to_owned()),
        key_private: output.stderr.lines().any(|l| l == "key-private"),
    })
}

/// Installs `key_pem` (mode 0600 from its creation) and `cert_pem` (0644), each written to a
/// temporary file next to its destination and renamed over it; the key goes first. Both arrive
/// on stdin, never on a command line.
pub(crate) fn install(
    target: &dyn Target,
    cert_path: &str,
    key_path: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), RemoteError> {
    let script = format!(
        r#"set -eu
c={cert}; k={key}
umask 022
mkdir -p -- "$(dirname -- "$c")" "$(dirname -- "$k")"
umask 077
kt="$k.cutover-tmp.$$"; ct="$c.cutover-tmp.$$"
trap 'rm -f -- "$kt" "$ct"' EXIT
dd bs=1 count={key_len} of="$kt" 2>/dev/null
cat > "$ct"
if [ $(wc -c < "$kt") -ne {key_len} ] || [ $(wc -c < "$ct") -ne {cert_len} ]; then
  echo "certificate or key arrived incomplete" >&2; exit 1
fi
chmod 600 "$kt"
chmod 644 "$ct"
mv -f -- "$kt" "$k"
mv -f -- "$ct" "$c"
trap - EXIT
"#,
        cert = path_expr(cert_path),
        key = path_expr(key_path),
        key_len = key_pem.len(),
        cert_len = cert_pem.len(),
    );
    let mut stdin = Vec::with_capacity(key_pem.len() + cert_pem.len());
    stdin.extend_from_slice(key_pem.as_bytes());
    stdin.extend_from_slice(cert_pem.as_bytes());
    target.run("installing the certificate", &script, Stdin::Bytes(&stdin)).map(drop)
}

/// One HTTP-01 response: the file `token` holding `content` (the key authorization).
#[derive(Debug, Clone)]
pub(crate) struct TokenFile {
    pub token: String,
    pub content: String,
}

fn challenge_dir(webroot: &str) -> String {
    format!("{}/.well-known/acme-challenge", path_expr(webroot.trim_end_matches('/')))
}

/// Writes every token file under `webroot`, readable by the web server.
pub(crate) fn write_tokens(target: &dyn Target, webroot: &str, files: &[TokenFile]) -> Result<(), RemoteError> {
    let mut script = format!("set -eu\numask 022\nd={}\nmkdir -p -- \"$d\"\n", challenge_dir(webroot));
    for file in files {
        script.push_str(&format!("printf '%s' {} > \"$d\"/{}\n", quote(&file.content), quote(&file.token)));
    }
    target.run("writing the http-01 challenge files", &script, Stdin::Null).map(drop)
}

/// Removes the token files (the directories stay: they may have been there before).
pub(crate) fn remove_tokens(target: &dyn Target, webroot: &str, files: &[TokenFile]) -> Result<(), RemoteError> {
    let mut script = format!("set -eu\nd={}\n", challenge_dir(webroot));
    for file in files {
        script.push_str(&format!("rm -f -- \"$d\"/{}\n", quote(&file.token)));
    }
    target.run("removing the http-01 challenge files", &script, Stdin::Null).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_paths_expand_on_the_host() {
        assert_eq!(path_expr("~/tls/cert.pem"), "\"$HOME\"/tls/cert.pem");
        assert_eq!(path_expr("/etc/ssl/my cert.pem"), "'/etc/ssl/my cert.pem'");
        assert_eq!(path_expr("relative/x"), "relative/x");
    }
}

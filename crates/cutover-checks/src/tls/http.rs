//! The HTTP side of TLS readiness: `GET /` for its response head (through `cutover-http`, so
//! hyper frames it), over the probe's TLS session for HSTS and over plain HTTP for the redirect.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use cutover_http::ResponseHead;
use cutover_http::head::get_head;
use cutover_http::text::io_reason;

use crate::Finding;

/// What readiness requests say they are.
const USER_AGENT: &str = "cutover-ready";

/// The `Host` of `GET /` for `name` (the port goes into it when it is not the scheme's default;
/// an IPv6 address goes in brackets).
pub(crate) fn host_header(name: &str, port: u16, default_port: u16) -> String {
    let host = if name.contains(':') { format!("[{name}]") } else { name.to_string() };
    if port == default_port { host } else { format!("{host}:{port}") }
}

/// `GET /` over `stream` for its response head, within `timeout` overall. `set_timeout` sets the
/// read timeout of the underlying socket.
pub(crate) fn head<S: std::io::Read + std::io::Write>(
    stream: &mut S,
    host: &str,
    timeout: Duration,
    set_timeout: impl Fn(&mut S, Duration),
) -> Result<ResponseHead, String> {
    get_head(stream, host, USER_AGENT, timeout, set_timeout)
}

/// `http redirect NAME`: plain HTTP to `addr` should redirect to `https://`.
pub(crate) fn redirect_finding(host: &str, addr: SocketAddr, name: &str, timeout: Duration) -> Finding {
    let check = format!("http redirect {name}");
    let head = TcpStream::connect_timeout(&addr, timeout).map_err(|e| io_reason(&e)).and_then(|mut sock| {
        let _ = sock.set_write_timeout(Some(timeout));
        head(&mut sock, &host_header(name, addr.port(), 80), timeout, |s, t| {
            let _ = s.set_read_timeout(Some(t));
        })
    });
    match head {
        Err(reason) => Finding::warn(check, host, format!("no HTTP answer on port {}: {reason}", addr.port())),
        Ok(head) => redirect_verdict(check, host, &head),
    }
}

pub(crate) fn redirect_verdict(check: String, host: &str, head: &ResponseHead) -> Finding {
    let location = head.header("Location");
    let redirect = matches!(head.status, 301 | 302 | 307 | 308);
    match location {
        Some(loc) if redirect && loc.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) => {
            Finding::pass(check, host, format!("{} -> {loc}", head.status))
        }
        Some(loc) if redirect => {
            Finding::warn(check, host, format!("{} redirects to {loc}, not to https://", head.status))
        }
        Some(loc) => {
            Finding::warn(check, host, format!("status {} (Location {loc}), not a redirect to https://", head.status))
        }
        None => Finding::warn(check, host, format!("status {} without a redirect to https://", head.status)),
    }
}

/// `hsts NAME` from the response head seen over HTTPS.
pub(crate) fn hsts_verdict(check: String, host: &str, head: Result<ResponseHead, String>) -> Finding {
    let head = match head {
        Ok(head) => head,
        Err(reason) => return Finding::warn(check, host, format!("no HTTPS response to read HSTS from: {reason}")),
    };
    let Some(value) = head.header("Strict-Transport-Security") else {
        return Finding::warn(check, host, format!("no Strict-Transport-Security header (status {})", head.status));
    };
    let max_age = value.split(';').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        k.trim().eq_ignore_ascii_case("max-age").then(|| v.trim().trim_matches('"').parse::<u64>().ok())?
    });
    match max_age {
        Some(0) => Finding::warn(check, host, format!("{value} (max-age=0 turns HSTS off)")),
        Some(_) => Finding::pass(check, host, value.to_string()),
        None => Finding::warn(check, host, format!("{value} (no valid max-age)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn redirect_verdicts() {
        let head = |status, loc: Option<&str>| ResponseHead {
            status,
            headers: loc.map(|l| ("Location".to_string(), l.to_string())).into_iter().collect(),
        };
        let v = |h: ResponseHead| redirect_verdict("c".into(), "h", &h).status;
        assert_eq!(v(head(301, Some("https://a.test/"))), Status::Pass);
        assert_eq!(v(head(308, Some("HTTPS://a.test/"))), Status::Pass);
        assert_eq!(v(head(302, Some("http://a.test/"))), Status::Warn);
        assert_eq!(v(head(200, None)), Status::Warn);
        assert_eq!(v(head(200, Some("https://a.test/"))), Status::Warn);
    }

    #[test]
    fn hsts_verdicts() {
        let head = |v: Option<&str>| {
            Ok(ResponseHead {
                status: 200,
                headers: v.map(|v| ("strict-transport-security".to_string(), v.to_string())).into_iter().collect(),
            })
        };
        let v = |h| hsts_verdict("hsts".into(), "h", h);
        assert_eq!(v(head(Some("max-age=31536000; includeSubDomains"))).status, Status::Pass);
        assert_eq!(v(head(Some("max-age=\"600\""))).status, Status::Pass);
        assert_eq!(v(head(Some("max-age=0"))).status, Status::Warn);
        assert_eq!(v(head(Some("includeSubDomains"))).status, Status::Warn);
        assert_eq!(v(head(None)).status, Status::Warn);
        assert_eq!(v(Err("reset".into())).status, Status::Warn);
    }
}

//! Stage 2's DNS half: does every public name point at the environment, as each server that
//! matters sees it? Asked of every authoritative server (what the world will see once caches
//! expire) and of the system's resolvers (what this machine sees now), or only of the servers
//! the config names. A finding per server, name and address family, with the TTLs.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::dns::{self, Answer, Kind};
use crate::{Finding, Status};

/// A TTL above this before the cutover means a wrong answer stays cached too long to fix.
pub const MAX_TTL: u32 = 300;

/// What the names must resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// These addresses (the hosts' own, or `expect_ips`): every answer must be one of them, and
    /// a family is required only when one of them is of that family.
    Addresses(Vec<IpAddr>),
    /// Cloudflare's proxy: every answer must be in Cloudflare's published ranges; an A record is
    /// required.
    Cloudflare,
}

/// Which servers to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Servers {
    /// Only these (`[dns] resolvers`), each asked with recursion.
    Only(Vec<SocketAddr>),
    /// These resolvers (the system's), plus every authoritative server of each name found
    /// through them.
    System(Vec<SocketAddr>),
}

impl Servers {
    /// The system's resolvers, from `resolv.conf` (`nameserver` lines, port 53).
    pub fn system(resolv_conf: &Path) -> Self {
        let text = std::fs::read_to_string(resolv_conf).unwrap_or_default();
        let resolvers = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().split('%').next()?.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        Self::System(resolvers)
    }
}

#[derive(Debug, Clone)]
pub struct DnsPlan {
    pub names: Vec<String>,
    pub expected: Expected,
    pub servers: Servers,
    pub timeout: Duration,
}

/// One server to ask, and how to name it in the report.
#[derive(Debug, Clone)]
struct Server {
    addr: SocketAddr,
    label: String,
    authoritative: bool,
}

/// Checks every name against every server. Never fails as a whole: an unreachable server or a
/// bad name is a failed finding with its reason.
pub fn check_dns(plan: &DnsPlan) -> Vec<Finding> {
    let mut findings = Vec::new();
    if plan.names.is_empty() {
        findings.push(Finding::fail("dns", "-", "the environment has no url and no aliases: nothing to resolve"));
        return findings;
    }
    // A URL whose host is an address has nothing to look up.
    for (name, ip) in plan.names.iter().filter_map(|n| Some((n, n.parse::<IpAddr>().ok()?))) {
        findings.push(address_finding(name, ip, &plan.expected));
    }
    let names: Vec<&String> = plan.names.iter().filter(|n| n.parse::<IpAddr>().is_err()).collect();
    let families = required_families(&plan.expected);
    // Each name's servers (its authoritative ones are found through the resolvers) at once.
    let per_name: Vec<(Vec<Server>, Vec<Finding>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                scope.spawn(move || {
                    let mut found = Vec::new();
                    let servers = servers_for(name, &plan.servers, plan.timeout, &mut found);
                    (servers, found)
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&names)
            .map(|(h, name)| {
                h.join().unwrap_or_else(|_| {
                    (Vec::new(), vec![Finding::fail(format!("dns {name}"), "-", "finding its servers crashed")])
                })
            })
            .collect()
    });
    let mut asks: Vec<(&str, Server, Kind, bool)> = Vec::new();
    for (name, (servers, found)) in names.iter().zip(per_name) {
        findings.extend(found);
        if servers.is_empty() {
            findings.push(Finding::fail(format!("dns {name}"), "-", "no DNS server to ask (no resolver configured)"));
        }
        for server in servers {
            asks.push((name, server.clone(), Kind::A, families.0));
            asks.push((name, server, Kind::Aaaa, families.1));
        }
    }
    // Every question at once: a silent server costs one timeout, not one per question.
    std::thread::scope(|scope| {
        let handles: Vec<_> = asks
            .iter()
            .map(|(name, server, kind, needed)| {
                scope.spawn(|| ask(server, name, *kind, *needed, &plan.expected, plan.timeout))
            })
            .collect();
        for (handle, (name, server, kind, _)) in handles.into_iter().zip(&asks) {
            findings.push(handle.join().unwrap_or_else(|_| {
                let label = if *kind == Kind::A { "A" } else { "AAAA" };
                Finding::fail(format!("dns {label} {name}"), server.label.clone(), "the query crashed")
            }));
        }
    });
    findings
}

/// `dns NAME` for a name that is an address: no question is asked; it must be one of the
/// addresses expected (or in Cloudflare's ranges when proxied).
fn address_finding(name: &str, ip: IpAddr, expected: &Expected) -> Finding {
    let check = format!("dns {name}");
    let (ok, want) = match expected {
        Expected::Addresses(want) => {
            (want.contains(&ip), want.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", "))
        }
        Expected::Cloudflare => (is_cloudflare(ip), "Cloudflare's proxy".to_owned()),
    };
    if ok {
        Finding::pass(check, "-", "an address, not a name: nothing to look up; it is the environment's")
    } else {
        Finding::fail(
            check,
            "-",
            format!("an address, not a name: nothing to look up, but it is not the environment's (expected {want})"),
        )
    }
}

/// Which families must have records: `(A, AAAA)`.
fn required_families(expected: &Expected) -> (bool, bool) {
    match expected {
        Expected::Addresses(addrs) => (addrs.iter().any(IpAddr::is_ipv4), addrs.iter().any(IpAddr::is_ipv6)),
        Expected::Cloudflare => (true, false),
    }
}

fn servers_for(name: &str, servers: &Servers, timeout: Duration, findings: &mut Vec<Finding>) -> Vec<Server> {
    let resolvers = match servers {
        Servers::Only(list) => {
            return list.iter().map(|&addr| Server { addr, label: addr.to_string(), authoritative: false }).collect();
        }
        Servers::System(list) => list,
    };
    let mut out: Vec<Server> = resolvers
        .iter()
        .map(|&addr| Server { addr, label: format!("resolver {}", addr.ip()), authoritative: false })
        .collect();
    // The authoritative servers, found through the first resolver that can name them.
    let mut last_error = None;
    for &resolver in resolvers {
        match dns::authoritative_servers(resolver, name, timeout) {
            Ok((_zone, nameservers)) => {
                for ns in nameservers {
                    let addrs = nameserver_addresses(resolver, &ns, timeout);
                    if addrs.is_empty() {
                        findings.push(Finding::warn(
                            format!("dns {name}"),
                            ns.clone(),
                            format!("nameserver `{ns}` has no address that {resolver} can find: not asked"),
                        ));
                    }
                    for ip in addrs {
                        out.push(Server {
                            addr: SocketAddr::new(ip, 53),
                            label: format!("{ns} ({ip})"),
                            authoritative: true,
                        });
                    }
                }
                last_error = None;
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    if let Some(e) = last_error {
        findings.push(Finding::warn(
            format!("dns {name}"),
            "authoritative",
            format!("cannot find the authoritative servers ({e}): only the resolvers were asked"),
        ));
    }
    out
}

fn nameserver_addresses(resolver: SocketAddr, ns: &str, timeout: Duration) -> Vec<IpAddr> {
    [Kind::A, Kind::Aaaa]
        .into_iter()
        .filter_map(|kind| dns::query(resolver, ns, kind, true, timeout).ok())
        .flat_map(|a| a.addresses())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn ask(server: &Server, name: &str, kind: Kind, needed: bool, expected: &Expected, timeout: Duration) -> Finding {
    let label = if kind == Kind::A { "A" } else { "AAAA" };
    let (status, detail) = match dns::query(server.addr, name, kind, !server.authoritative, timeout) {
        Err(e) => (Status::Fail, e.to_string()),
        Ok(answer) => judge(&answer, kind, needed, expected, server.authoritative),
    };
    Finding::new(format!("dns {label} {name}"), server.label.clone(), status, detail)
}

/// The verdict on one answer.
fn judge(answer: &Answer, kind: Kind, needed: bool, expected: &Expected, authoritative: bool) -> (Status, String) {
    let family = if kind == Kind::A { "A" } else { "AAAA" };
    if answer.is_nxdomain() {
        return (Status::Fail, "the name does not exist (NXDOMAIN)".into());
    }
    if !answer.is_noerror() {
        return (Status::Fail, format!("the server answered {}", answer.code));
    }
    let addrs = answer.addresses();
    if addrs.is_empty() {
        return if needed {
            (Status::Fail, format!("no {family} record"))
        } else {
            (Status::Pass, format!("no {family} record (none needed: the hosts have no such address)"))
        };
    }
    let shown = addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
    let ttl = answer.min_ttl().unwrap_or(0);
    let seen = format!("{shown} (ttl {ttl}s)");
    let (wrong, missing): (Vec<IpAddr>, Vec<IpAddr>) = match expected {
        Expected::Addresses(want) => (
            addrs.iter().copied().filter(|a| !want.contains(a)).collect(),
            want.iter().copied().filter(|w| w.is_ipv4() == (kind == Kind::A) && !addrs.contains(w)).collect(),
        ),
        Expected::Cloudflare => (addrs.iter().copied().filter(|a| !is_cloudflare(*a)).collect(), Vec::new()),
    };
    if !wrong.is_empty() {
        let wrong = wrong.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
        let want = match expected {
            Expected::Addresses(want) => want.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", "),
            Expected::Cloudflare => "Cloudflare's proxy (is the record proxied, orange cloud?)".into(),
        };
        return (Status::Fail, format!("{seen}: {wrong} is not the environment's (expected {want})"));
    }
    if !authoritative_flag_ok(answer, authoritative) {
        return (Status::Warn, format!("{seen}, but the server does not answer with authority (lame delegation?)"));
    }
    if !missing.is_empty() {
        let missing = missing.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
        return (Status::Warn, format!("{seen}: does not list {missing}"));
    }
    if ttl > MAX_TTL {
        return (
            Status::Warn,
            format!("{seen}: TTL above {MAX_TTL}s, lower it before the cutover so a fix spreads fast"),
        );
    }
    (Status::Pass, seen)
}

fn authoritative_flag_ok(answer: &Answer, asked_as_authoritative: bool) -> bool {
    !asked_as_authoritative || answer.authoritative
}

/// Whether `ip` is in Cloudflare's published ranges (<https://www.cloudflare.com/ips/>).
pub fn is_cloudflare(ip: IpAddr) -> bool {
    const V4: [(Ipv4Addr, u8); 15] = [
        (Ipv4Addr::new(173, 245, 48, 0), 20),
        (Ipv4Addr::new(103, 21, 244, 0), 22),
        (Ipv4Addr::new(103, 22, 200, 0), 22),
        (Ipv4Addr::new(103, 31, 4, 0), 22),
        (Ipv4Addr::new(141, 101, 64, 0), 18),
        (Ipv4Addr::new(108, 162, 192, 0), 18),
        (Ipv4Addr::new(190, 93, 240, 0), 20),
        (Ipv4Addr::new(188, 114, 96, 0), 20),
        (Ipv4Addr::new(197, 234, 240, 0), 22),
        (Ipv4Addr::new(198, 41, 128, 0), 17),
        (Ipv4Addr::new(162, 158, 0, 0), 15),
        (Ipv4Addr::new(104, 16, 0, 0), 13),
        (Ipv4Addr::new(104, 24, 0, 0), 14),
        (Ipv4Addr::new(172, 64, 0, 0), 13),
        (Ipv4Addr::new(131, 0, 72, 0), 22),
    ];
    const V6: [(Ipv6Addr, u8); 7] = [
        (Ipv6Addr::new(0x2400, 0xcb00, 0, 0, 0, 0, 0, 0), 32),
        (Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0), 32),
        (Ipv6Addr::new(0x2803, 0xf800, 0, 0, 0, 0, 0, 0), 32),
        (Ipv6Addr::new(0x2405, 0xb500, 0, 0, 0, 0, 0, 0), 32),
        (Ipv6Addr::new(0x2405, 0x8100, 0, 0, 0, 0, 0, 0), 32),
        (Ipv6Addr::new(0x2a06, 0x98c0, 0, 0, 0, 0, 0, 0), 29),
        (Ipv6Addr::new(0x2c0f, 0xf248, 0, 0, 0, 0, 0, 0), 32),
    ];
    match ip {
        IpAddr::V4(ip) => V4.iter().any(|(net, len)| u32::from(ip) >> (32 - len) == u32::from(*net) >> (32 - len)),
        IpAddr::V6(ip) => V6.iter().any(|(net, len)| u128::from(ip) >> (128 - len) == u128::from(*net) >> (128 - len)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Data, Entry};

    fn answer(addrs: &[&str], ttl: u32) -> Answer {
        Answer {
            server: "127.0.0.1:53".parse().unwrap(),
            authoritative: true,
            code: hickory_proto::op::ResponseCode::NoError.to_string(),
            records: addrs
                .iter()
                .map(|a| Entry { name: "shop.example".into(), ttl, data: Data::Address(a.parse().unwrap()) })
                .collect(),
            zone: None,
        }
    }

    fn hosts(addrs: &[&str]) -> Expected {
        Expected::Addresses(addrs.iter().map(|a| a.parse().unwrap()).collect())
    }

    #[test]
    fn an_answer_is_judged_by_addresses_family_and_ttl() {
        let want = hosts(&["203.0.113.5", "203.0.113.6"]);
        let ok = judge(&answer(&["203.0.113.5", "203.0.113.6"], 300), Kind::A, true, &want, true);
        assert_eq!(ok, (Status::Pass, "203.0.113.5, 203.0.113.6 (ttl 300s)".into()));
        let (status, detail) = judge(&answer(&["198.51.100.1"], 300), Kind::A, true, &want, true);
        assert_eq!(status, Status::Fail);
        assert!(detail.contains("198.51.100.1 is not the environment's"), "{detail}");
        let (status, detail) = judge(&answer(&["203.0.113.5"], 300), Kind::A, true, &want, true);
        assert_eq!((status, detail.as_str()), (Status::Warn, "203.0.113.5 (ttl 300s): does not list 203.0.113.6"));
        let (status, detail) = judge(&answer(&["203.0.113.5", "203.0.113.6"], 3600), Kind::A, true, &want, true);
        assert_eq!(status, Status::Warn);
        assert!(detail.contains("TTL above 300s"), "{detail}");
        // IPv4-only hosts need no AAAA, but a stray AAAA elsewhere is wrong.
        assert_eq!(judge(&answer(&[], 300), Kind::Aaaa, false, &want, true).0, Status::Pass);
        assert_eq!(judge(&answer(&["2001:db8::9"], 300), Kind::Aaaa, false, &want, true).0, Status::Fail);
        assert_eq!(judge(&answer(&[], 300), Kind::A, true, &want, true), (Status::Fail, "no A record".into()));
    }

    #[test]
    fn behind_cloudflare_the_answer_must_be_cloudflare() {
        let (status, _) = judge(&answer(&["104.16.1.2"], 300), Kind::A, true, &Expected::Cloudflare, false);
        assert_eq!(status, Status::Pass);
        let (status, detail) = judge(&answer(&["203.0.113.5"], 300), Kind::A, true, &Expected::Cloudflare, false);
        assert_eq!(status, Status::Fail);
        assert!(detail.contains("Cloudflare's proxy"), "{detail}");
        assert!(is_cloudflare("2606:4700::6810:1".parse().unwrap()));
        assert!(is_cloudflare("172.71.255.255".parse().unwrap()));
        assert!(!is_cloudflare("172.72.0.0".parse().unwrap()));
    }

    #[test]
    fn system_resolvers_come_from_resolv_conf() {
        let dir = std::env::temp_dir().join(format!("cutover-resolv-{}", std::process::id()));
        std::fs::write(&dir, "# comment\nsearch lan\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\noptions x\n")
            .unwrap();
        let servers = Servers::system(&dir);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(servers, Servers::System(vec!["10.0.0.53:53".parse().unwrap(), "[fe80::1]:53".parse().unwrap()]));
    }
}

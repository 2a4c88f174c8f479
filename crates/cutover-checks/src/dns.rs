//! DNS as a launch sees it: what one given server answers for a name (records and their TTLs,
//! whether it answers with authority), so propagation can be shown server by server, and which
//! servers are authoritative for a name. Synchronous, one UDP query at a time with a timeout, TCP
//! when the answer was truncated; no cache in between.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The record types a readiness check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    A,
    Aaaa,
    Ns,
}

impl Kind {
    fn record_type(self) -> RecordType {
        match self {
            Self::A => RecordType::A,
            Self::Aaaa => RecordType::AAAA,
            Self::Ns => RecordType::NS,
        }
    }
}

/// What a record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Address(IpAddr),
    Name(String),
}

/// One record of an answer: its owner name, TTL and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub ttl: u32,
    pub data: Data,
}

/// What a server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub server: SocketAddr,
    /// The server answered with authority for the name.
    pub authoritative: bool,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, …
    pub code: String,
    pub records: Vec<Entry>,
    /// The zone's SOA owner, when the server named it (in an empty answer).
    pub zone: Option<String>,
}

impl Answer {
    /// The addresses in the answer (CNAME chains followed by the server are included).
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.records
            .iter()
            .filter_map(|r| match r.data {
                Data::Address(ip) => Some(ip),
                Data::Name(_) => None,
            })
            .collect()
    }

    /// The smallest TTL of the address records: how long the slowest cache may keep them.
    pub fn min_ttl(&self) -> Option<u32> {
        self.records.iter().filter(|r| matches!(r.data, Data::Address(_))).map(|r| r.ttl).min()
    }

    pub fn is_noerror(&self) -> bool {
        self.code == ResponseCode::NoError.to_string()
    }

    pub fn is_nxdomain(&self) -> bool {
        self.code == ResponseCode::NXDomain.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("`{name}` is not a valid DNS name: {detail}")]
    BadName { name: String, detail: String },
    #[error("DNS server {server} did not answer within {timeout:?}")]
    Timeout { server: SocketAddr, timeout: Duration },
    #[error("DNS server {server}: {detail}")]
    Failed { server: SocketAddr, detail: String },
}

/// Asks `server` for `kind` records of `name`. `recurse` asks a resolver to resolve; an
/// authoritative server is asked without it.
pub fn query(server: SocketAddr, name: &str, kind: Kind, recurse: bool, timeout: Duration) -> Result<Answer, DnsError> {
    let fqdn =
        Name::from_ascii(name).map_err(|e| DnsError::BadName { name: name.to_owned(), detail: e.to_string() })?;
    let mut msg = Message::query();
    msg.metadata.recursion_desired = recurse;
    msg.add_query(Query::query(fqdn, kind.record_type()));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    msg.set_edns(edns);
    let id = msg.metadata.id;
    let failed = |detail: String| DnsError::Failed { server, detail };
    let wire = msg.to_vec().map_err(|e| failed(format!("cannot encode the query: {e}")))?;

    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => DnsError::Timeout { server, timeout },
        _ => failed(e.to_string()),
    };
    let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(local).map_err(io)?;
    // Connected: replies from anyone else are dropped by the kernel.
    socket.connect(server).map_err(io)?;
    socket.set_read_timeout(Some(timeout)).map_err(io)?;
    socket.send(&wire).map_err(io)?;
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + timeout;
    let reply = loop {
        let n = socket.recv(&mut buf).map_err(io)?;
        let reply = Message::from_vec(&buf[..n]).map_err(|e| failed(format!("unreadable answer: {e}")))?;
        if reply.metadata.id == id {
            break reply;
        }
        // Not ours (a late answer to an earlier query): wait for the rest of the time.
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(DnsError::Timeout { server, timeout });
        }
        socket.set_read_timeout(Some(left)).map_err(io)?;
    };
    let reply = if reply.metadata.truncation { tcp(server, &wire, timeout).map_err(io)? } else { reply };
    let records = convert(&reply.answers);
    let zone = reply.authorities.iter().find(|r| r.record_type() == RecordType::SOA).map(owner);
    Ok(Answer {
        server,
        authoritative: reply.metadata.authoritative,
        code: reply.metadata.response_code.to_string(),
        records,
        zone,
    })
}

fn tcp(server: SocketAddr, wire: &[u8], timeout: Duration) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect_timeout(&server, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut out = u16::try_from(wire.len()).unwrap_or(u16::MAX).to_be_bytes().to_vec();
    out.extend_from_slice(wire);
    stream.write_all(&out)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body)?;
    Message::from_vec(&body).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

fn owner(record: &Record) -> String {
    record.name.to_string().trim_end_matches('.').to_owned()
}

fn convert(records: &[Record]) -> Vec<Entry> {
    records
        .iter()
        .filter_map(|r| {
            let data = match &r.data {
                RData::A(a) => Data::Address(IpAddr::V4(a.0)),
                RData::AAAA(a) => Data::Address(IpAddr::V6(a.0)),
                RData::NS(ns) => Data::Name(ns.0.to_string().trim_end_matches('.').to_owned()),
                RData::CNAME(c) => Data::Name(c.0.to_string().trim_end_matches('.').to_owned()),
                _ => return None,
            };
            Some(Entry { name: owner(r), ttl: r.ttl, data })
        })
        .collect()
}

/// The zone of `name` and its nameservers, as `resolver` knows them: NS of the name, else of
/// the SOA owner the server names, else of each parent in turn.
pub fn authoritative_servers(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<(String, Vec<String>), DnsError> {
    let mut current = name.trim_end_matches('.').to_owned();
    for _ in 0..16 {
        let answer = query(resolver, &current, Kind::Ns, true, timeout)?;
        let servers: Vec<String> = answer
            .records
            .iter()
            .filter_map(|r| match &r.data {
                Data::Name(ns) if r.name == current => Some(ns.clone()),
                _ => None,
            })
            .collect();
        if !servers.is_empty() {
            return Ok((current, servers));
        }
        match answer.zone {
            Some(zone) if zone != current && !zone.is_empty() => current = zone,
            _ => match current.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => current = parent.to_owned(),
                _ => break,
            },
        }
    }
    Err(DnsError::Failed { server: resolver, detail: format!("no nameservers found for `{name}`") })
}

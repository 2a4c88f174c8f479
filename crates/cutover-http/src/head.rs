//! A response head (status line and headers) and its parser, for HTTP/1.x as servers send it:
//! the client's responses and the readiness checks' redirect and HSTS answers.

/// The status line and headers of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Parses a response head from the start of `buf`: `Ok(None)` while the blank line has not
/// arrived.
pub fn parse_head(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let end = match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => end,
        None if !buf.is_empty() && !b"HTTP/".starts_with(&buf[..buf.len().min(5)]) => {
            return Err(format!("not an HTTP response: {:?}", preview(buf)));
        }
        None if buf.len() > 64 * 1024 => return Err("response head larger than 64 KiB".into()),
        None => return Ok(None),
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("bad status line {status_line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status = code.parse::<u16>().map_err(|_| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Some(ResponseHead { status, headers }))
}

fn preview(buf: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&buf[..buf.len().min(40)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        assert_eq!(parse_head(b"HTTP/1.1 301 Moved"), Ok(None));
        assert_eq!(parse_head(b""), Ok(None));
        assert_eq!(parse_head(b"HT"), Ok(None));
        let head =
            parse_head(b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nlocation:  https://a.test/x \r\n\r\nbody")
                .unwrap()
                .unwrap();
        assert_eq!(head.status, 301);
        assert_eq!(head.header("Location"), Some("https://a.test/x"));
        assert_eq!(head.header("server"), Some("nginx"));
        assert!(parse_head(b"SSH-2.0-OpenSSH_9.2\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_head(b"\x15\x03\x01\x00\x02\x02\x46").is_err());
    }
}

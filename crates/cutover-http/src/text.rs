//! How the client's values are said in messages: durations, sizes, I/O errors, and text cut to a
//! length. Shared by the checks and the notifications, so every reason reads the same.

use std::io;
use std::time::Duration;

/// `text` cut to at most `max` characters, the last of them `…` when it was longer.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `812 ms`, `2 s`, `1.25 s`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `16 MiB`, `512 KiB`, `1.5 MiB`, `300 bytes`.
pub fn fmt_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        if n.is_multiple_of(MIB) { format!("{} MiB", n / MIB) } else { format!("{:.1} MiB", n as f64 / MIB as f64) }
    } else if n >= KIB {
        if n.is_multiple_of(KIB) { format!("{} KiB", n / KIB) } else { format!("{:.1} KiB", n as f64 / KIB as f64) }
    } else {
        format!("{n} bytes")
    }
}

/// A short reason for an I/O error, without the OS error number.
pub fn io_reason(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by the server".into(),
        ConnectionAborted => "connection aborted".into(),
        TimedOut | WouldBlock => "timed out".into(),
        UnexpectedEof => "the server closed the connection".into(),
        BrokenPipe => "the server closed the connection (broken pipe)".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// `5 s`, `1.5 s`: whole seconds, or tenths.
pub fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_duration(Duration::from_millis(812)), "812 ms");
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2 s");
        assert_eq!(fmt_duration(Duration::from_millis(1250)), "1.25 s");
        assert_eq!(fmt_bytes(16 << 20), "16 MiB");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(300), "300 bytes");
        assert_eq!(cut(&"x".repeat(70), 61), format!("{}…", "x".repeat(60)));
        assert_eq!(cut("héllo", 3), "hé…");
        assert_eq!(cut("hé", 2), "hé");
    }
}

//! How the client's values are said in messages: I/O errors, and text cut to a length (durations
//! and sizes are `cutover_config::human`). Shared by the checks and the notifications, so every
//! reason reads the same.

use std::io;

/// `text` cut to at most `max` characters, the last of them `…` when it was longer.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(cut(&"x".repeat(70), 61), format!("{}…", "x".repeat(60)));
        assert_eq!(cut("héllo", 3), "hé…");
        assert_eq!(cut("hé", 2), "hé");
    }
}

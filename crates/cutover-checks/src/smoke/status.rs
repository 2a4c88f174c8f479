//! `expect_status`: the status codes a check accepts, written as codes and ranges.

use std::fmt;

/// A set of HTTP status codes, parsed from codes and inclusive ranges separated by commas:
/// `"200-399"` (the default), `"200,204,301-308"`. Spaces around the parts are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("`{text}`: an empty part; write codes and ranges like `200,301-308`"));
            }
            let (low, high) = match part.split_once('-') {
                Some((low, high)) => (code(low.trim(), text)?, code(high.trim(), text)?),
                None => {
                    let c = code(part, text)?;
                    (c, c)
                }
            };
            if low > high {
                return Err(format!("`{text}`: the range `{part}` ends before it starts"));
            }
            ranges.push((low, high));
        }
        Ok(StatusSet(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|&(low, high)| (low..=high).contains(&status))
    }
}

fn code(s: &str, text: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) && s.len() == 3 => Ok(c),
        _ => Err(format!("`{text}`: `{s}` is not an HTTP status code (100-599)")),
    }
}

impl Default for StatusSet {
    /// `200-399`: success and redirects.
    fn default() -> Self {
        StatusSet(vec![(200, 399)])
    }
}

impl fmt::Display for StatusSet {
    /// The set as it would be written: `200-399`, `200,204,301-308`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(low, high)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if low == high { write!(f, "{low}")? } else { write!(f, "{low}-{high}")? }
        }
        Ok(())
    }
}

impl std::str::FromStr for StatusSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        StatusSet::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_ranges() {
        let set = StatusSet::parse("200, 204,301-308").unwrap();
        assert!(set.contains(200) && set.contains(204) && set.contains(301) && set.contains(308));
        assert!(!set.contains(201) && !set.contains(300) && !set.contains(309));
        assert_eq!(set.to_string(), "200,204,301-308");
        let default = StatusSet::default();
        assert!(default.contains(200) && default.contains(399) && !default.contains(400) && !default.contains(199));
        assert_eq!(default.to_string(), "200-399");
        assert_eq!(StatusSet::parse("200-399").unwrap(), default);
    }

    #[test]
    fn bad_sets_say_why() {
        for (text, says) in [
            ("", "empty part"),
            ("200,", "empty part"),
            ("2xx", "not an HTTP status code"),
            ("99", "not an HTTP status code"),
            ("600", "not an HTTP status code"),
            ("0200", "not an HTTP status code"),
            ("399-200", "ends before it starts"),
            ("200-", "not an HTTP status code"),
        ] {
            let err = StatusSet::parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}

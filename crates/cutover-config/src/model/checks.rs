//! `[[check]]` and `[smoke]`: the HTTP requests the smoke test and the monitor make, what they
//! must get, and when the smoke checks run by themselves.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::HumanDuration;

/// One `[[check]]`: an HTTP request the smoke test and the monitor make, and what it must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    /// `/path` (relative to the environment's `url`) or an absolute `http(s)://` URL.
    pub url: CheckUrl,
    #[serde(default = "default_method")]
    pub method: Method,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Codes and ranges, `"200-399"` (the default), `"200,204,301-308"`.
    #[serde(default = "default_expect_status")]
    pub expect_status: StatusRanges,
    /// Each must appear in the body: one string or a list.
    #[serde(default)]
    pub body_contains: Needles,
    /// None may appear in the body (an error page's words): one string or a list.
    #[serde(default)]
    pub body_not_contains: Needles,
    pub body_regex: Option<BodyRegex>,
    /// The body is a whole HTML document: `</html>`, then only whitespace and comments (a PHP
    /// fatal error after the headers went out leaves a 200 cut short).
    #[serde(default)]
    pub complete: bool,
    pub max_latency: Option<HumanDuration>,
    #[serde(default = "yes")]
    pub follow_redirects: bool,
    /// Also check each host directly: connect to its address with the public name for SNI and
    /// `Host`, besides the public URL.
    #[serde(default)]
    pub every_host: bool,
    #[serde(default = "default_check_timeout")]
    pub timeout: HumanDuration,
}

fn default_method() -> Method {
    Method("GET".into())
}

fn default_expect_status() -> StatusRanges {
    StatusRanges("200-399".into())
}

fn default_check_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

fn yes() -> bool {
    true
}

validated_string!(
    /// A check's URL: `/path` or `http(s)://host/…`.
    CheckUrl,
    |s| {
        let ok = s.starts_with('/') || s.starts_with("https://") || s.starts_with("http://");
        if ok && !s.contains(char::is_whitespace) {
            Ok(())
        } else {
            Err(format!("check url `{s}` must start with `/` (relative to the environment's url) or be http(s)://"))
        }
    }
);

validated_string!(
    /// An HTTP method: upper-case letters.
    Method,
    |s| {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err(format!("`{s}` is not an HTTP method (GET, HEAD, POST, …)"))
        }
    }
);

validated_string!(
    /// HTTP status codes and ranges: `200-399`, `200,204,301-308`.
    StatusRanges,
    |s| {
        let part_ok = |p: &str| {
            let code = |c: &str| c.trim().parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            match p.split_once('-') {
                Some((a, b)) => matches!((code(a), code(b)), (Some(a), Some(b)) if a <= b),
                None => code(p).is_some(),
            }
        };
        if !s.is_empty() && s.split(',').all(part_ok) {
            Ok(())
        } else {
            Err(format!("`{s}` is not a list of status codes and ranges (e.g. \"200-399\" or \"200,301-308\")"))
        }
    }
);

validated_string!(
    /// A regular expression the body must match. Compiled here by the engine under the `regex`
    /// crate (`regex-automata`'s meta regex, with the same syntax and size limits), so what
    /// `config check` accepts the smoke checks can compile, without the config building `regex`.
    BodyRegex,
    |s| regex_automata::meta::Regex::new(s).map(|_| ()).map_err(|e| format!("body_regex: {e}"))
);

/// `body_contains` and `body_not_contains`: one string or a list of them, none empty (an empty
/// string is in every body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needles(pub Vec<String>);

impl<'de> Deserialize<'de> for Needles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<String>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Vec<String>, E> {
                Ok(vec![s.to_owned()])
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut all = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    all.push(s);
                }
                Ok(all)
            }
        }
        let all = d.deserialize_any(Visitor)?;
        if let Some(i) = all.iter().position(String::is_empty) {
            let which = if all.len() == 1 { String::new() } else { format!(" (item {})", i + 1) };
            return Err(serde::de::Error::custom(format!(
                "an empty string{which} is in every body; write the text to look for"
            )));
        }
        Ok(Needles(all))
    }
}

/// `[smoke]`: when the smoke checks run by themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoke {
    /// Run the checks right after every deploy's switch; a failure rolls the deploy back.
    #[serde(default = "yes")]
    pub after_deploy: bool,
}

impl Default for Smoke {
    fn default() -> Self {
        Self { after_deploy: true }
    }
}

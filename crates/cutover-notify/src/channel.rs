//! Where a notification goes, as written in `[monitor] notify`, and how it is shown: a webhook URL
//! is a credential (Slack's and Discord's carry their token in the path), so only its scheme, host
//! and port are ever printed.

use std::fmt;

use url::Url;

/// One entry of `[monitor] notify`.
#[derive(Clone, PartialEq, Eq)]
pub enum Channel {
    /// `slack:URL`: a Slack incoming webhook (or anything that takes its payload).
    Slack(Url),
    /// `discord:URL`: a Discord webhook (or anything that takes its payload).
    Discord(Url),
    /// `webhook:URL`: plain JSON, one object per event.
    Webhook(Url),
    /// `mailto:ADDRESS`: one mail per event, through `[smtp]`.
    Mail(String),
}

impl Channel {
    /// Reads `slack:URL`, `discord:URL`, `webhook:URL` (URL is `https://…`, or `http://…` for
    /// a receiver on a private network) or `mailto:ADDRESS`. The error never repeats the URL,
    /// whose path may hold a token.
    pub fn parse(text: &str) -> Result<Channel, String> {
        let text = text.trim();
        let Some((kind, rest)) = text.split_once(':') else {
            return Err(format!("{EXPECTED}, got no `kind:`"));
        };
        match kind.to_ascii_lowercase().as_str() {
            "slack" => parse_url("slack", rest).map(Channel::Slack),
            "discord" => parse_url("discord", rest).map(Channel::Discord),
            "webhook" => parse_url("webhook", rest).map(Channel::Webhook),
            "mailto" => parse_address(rest).map(Channel::Mail),
            "http" | "https" => Err(format!("{EXPECTED}: say which kind this URL is, as in `webhook:{kind}://…`")),
            other => Err(format!("{EXPECTED}, got `{}:`", shorten(other))),
        }
    }

    /// `slack`, `discord`, `webhook` or `mailto`.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Slack(_) => "slack",
            Channel::Discord(_) => "discord",
            Channel::Webhook(_) => "webhook",
            Channel::Mail(_) => "mailto",
        }
    }

    /// The webhook URL (with its token): to send to, never to print.
    pub fn url(&self) -> Option<&Url> {
        match self {
            Channel::Slack(url) | Channel::Discord(url) | Channel::Webhook(url) => Some(url),
            Channel::Mail(_) => None,
        }
    }

    /// What to print: `slack:https://hooks.slack.com/…` (scheme, host and port; the path and any
    /// user or password left out), or `mailto:ADDRESS` whole.
    pub fn redacted(&self) -> String {
        match self {
            Channel::Mail(address) => format!("mailto:{address}"),
            Channel::Slack(url) | Channel::Discord(url) | Channel::Webhook(url) => {
                format!("{}:{}", self.kind(), redact_url(url))
            }
        }
    }
}

/// The same as [`Channel::redacted`].
impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Redacted too: a channel inside a config printed with `{:?}` keeps its token.
impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.redacted())
    }
}

const EXPECTED: &str = "expected `slack:URL`, `discord:URL`, `webhook:URL` or `mailto:ADDRESS`";

/// `https://host[:port]/…`: the origin, and `…` when there was more.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let more = (url.path() != "/" && !url.path().is_empty())
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some();
    shown.push_str(if more { "/…" } else { "/" });
    shown
}

fn parse_url(kind: &str, text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{kind}:` needs an http(s) URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("`{kind}:` needs an https:// (or http://) URL, not `{}:`", shorten(url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{kind}:` URL has no host"));
    }
    if url.fragment().is_some() {
        return Err(format!("`{kind}:` URL must not have a `#` fragment"));
    }
    Ok(url)
}

/// A bare address: `local@domain`, no display name, no `?subject=` and no list.
fn parse_address(text: &str) -> Result<String, String> {
    let address = text.trim();
    if address.is_empty() {
        return Err("`mailto:` needs an address, as in `mailto:ops@example.com`".into());
    }
    if address.contains(['?', ',', ';', '<', '>']) || address.chars().any(char::is_whitespace) {
        return Err(format!(
            "`mailto:{}` must be one bare address (one `mailto:` entry per recipient, no `?` headers)",
            shorten(address)
        ));
    }
    address
        .parse::<lettre::Address>()
        .map_err(|e| format!("`mailto:{}` is not an e-mail address: {e}", shorten(address)))?;
    Ok(address.to_string())
}

/// At most 40 characters of something the user wrote, for an error message.
fn shorten(text: &str) -> String {
    cutover_http::text::cut(text, 41)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_path_the_query_and_the_user() {
        let c = Channel::parse("slack:https://hooks.slack.com/services/T000/B000/XXXXSECRET").unwrap();
        assert_eq!(c.redacted(), "slack:https://hooks.slack.com/…");
        assert_eq!(format!("{c:?}"), "Channel(slack:https://hooks.slack.com/…)");
        let c = Channel::parse("webhook:http://user:pw@127.0.0.1:8080/?token=SECRET").unwrap();
        assert_eq!(c.to_string(), "webhook:http://127.0.0.1:8080/…");
        let c = Channel::parse("discord:https://discord.com/").unwrap();
        assert_eq!(c.to_string(), "discord:https://discord.com/");
        let c = Channel::parse("mailto:ops@example.com").unwrap();
        assert_eq!(c.to_string(), "mailto:ops@example.com");
        assert_eq!(c.url(), None);
    }

    #[test]
    fn errors_never_repeat_the_url() {
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        for text in [format!("slak:{secret}"), format!("slack:ftp{}", &secret[5..]), secret.to_string()] {
            let err = Channel::parse(&text).unwrap_err();
            assert!(!err.contains("XXXXSECRET"), "{err}");
        }
        assert!(Channel::parse(secret).unwrap_err().contains("webhook:https://…"));
        for (text, why) in [
            ("mailto:", "`mailto:` needs an address"),
            ("mailto:a@b.test,c@d.test", "must be one bare address"),
            ("mailto:a@b.test?subject=x", "must be one bare address"),
            ("mailto:not-an-address", "is not an e-mail address"),
            ("slack:", "`slack:` needs an http(s) URL"),
            ("slack:ftp://hooks.slack.test/x", "needs an https:// (or http://) URL, not `ftp:`"),
            ("webhook:https://h.test/#frag", "must not have a `#` fragment"),
            ("", "got no `kind:`"),
        ] {
            let err = Channel::parse(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}

//! An event as each receiver wants it: Slack's incoming-webhook JSON (`text`, plus blocks), Discord's
//! webhook JSON (`content` of at most 2000 characters, plus one embed, mentions off), cutover's
//! plain JSON, and the subject and text of a mail. Every length a receiver limits is cut to fit.

use serde_json::{Value, json};

use super::event::Event;
use cutover_http::text::cut;

/// Slack: `text` is what notifications and old clients show; the blocks are what the channel shows.
/// Slack limits a section's text to 3000 characters; `&`, `<` and `>` are escaped (mrkdwn).
pub(crate) fn slack(event: &Event) -> Value {
    let e = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let headline = format!("{} {}", event.kind.emoji(), event.headline());
    let mut text = format!("*{}*\n{}", e(&headline), e(&event.title));
    if !event.detail.is_empty() {
        text.push_str(&format!("\n```{}```", e(&event.detail)));
    }
    if let Some(a) = &event.attachment {
        text.push_str(&format!("\nreport: {}", e(&a.link)));
    }
    let context = match &event.release {
        Some(release) => format!("cutover · {} · release `{}` · {}", e(&event.env), e(release), event.at_rfc3339()),
        None => format!("cutover · {} · {}", e(&event.env), event.at_rfc3339()),
    };
    json!({
        "text": cut(&format!("{headline}: {}", event.title), 3000),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": cut(&text, 3000) } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": cut(&context, 3000) } ] },
        ],
    })
}

/// Discord: `content` (at most 2000 characters) and one embed (title 256, description 4096, field
/// values 1024); `allowed_mentions` empty, so an `@everyone` in a detail pings nobody.
pub(crate) fn discord(event: &Event) -> Value {
    let headline = format!("{} {}", event.kind.emoji(), event.headline());
    let mut fields = vec![json!({ "name": "environment", "value": cut(&event.env, 1024), "inline": true })];
    if let Some(release) = &event.release {
        fields.push(json!({ "name": "release", "value": cut(release, 1024), "inline": true }));
    }
    let mut embed = json!({
        "title": cut(&event.title, 256),
        "color": event.kind.color(),
        "timestamp": event.at_rfc3339(),
        "fields": fields.clone(),
        "footer": { "text": "cutover" },
    });
    if !event.detail.is_empty() {
        embed["description"] = Value::String(cut(&event.detail, 4096));
    }
    if let Some(a) = &event.attachment {
        fields.push(json!({ "name": "report", "value": cut(&a.link, 1024), "inline": false }));
        embed["fields"] = Value::Array(fields);
    }
    json!({
        "content": cut(&format!("**{headline}**: {}", event.title), 2000),
        "embeds": [embed],
        "allowed_mentions": { "parse": [] },
    })
}

/// `webhook:`: one flat object.
/// `report`, the launch report's link, only when one goes with the event.
pub(crate) fn plain(event: &Event) -> Value {
    let mut plain = json!({
        "event": event.kind.as_str(),
        "env": event.env,
        "release": event.release,
        "title": event.title,
        "detail": event.detail,
        "at": event.at_rfc3339(),
    });
    if let Some(a) = &event.attachment {
        plain["report"] = Value::String(a.link.clone());
    }
    plain
}

/// `[cutover] production: rolled back (release R) — TITLE`, on one line.
pub(crate) fn mail_subject(event: &Event) -> String {
    let title: String = event.title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    cut(&format!("[cutover] {} — {}", event.headline(), title.trim()), 200)
}

pub(crate) fn mail_body(event: &Event) -> String {
    let mut body = format!("{}\n\n{}\n", event.headline(), event.title);
    if !event.detail.is_empty() {
        body.push_str(&format!("\n{}\n", event.detail.trim_end()));
    }
    body.push_str(&format!("\nenvironment: {}\n", event.env));
    if let Some(release) = &event.release {
        body.push_str(&format!("release: {release}\n"));
    }
    if let Some(a) = &event.attachment {
        body.push_str(&format!("report: {} (attached as {})\n", a.link, a.name));
    }
    body.push_str(&format!("event: {}\nat: {}\n\n-- \nsent by cutover\n", event.kind.as_str(), event.at_rfc3339()));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventKind;

    fn event() -> Event {
        Event::new(EventKind::Breach, "production", "p(95) 1320 ms > 800 ms <b>&")
            .release("20250101-120000")
            .detail("x".repeat(5000))
    }

    #[test]
    fn limits_hold() {
        let e = event();
        let d = discord(&e);
        assert!(d["content"].as_str().unwrap().chars().count() <= 2000);
        assert_eq!(d["embeds"][0]["description"].as_str().unwrap().chars().count(), 4096);
        let long = Event::new(EventKind::Alert, "p", "t".repeat(3000));
        assert_eq!(discord(&long)["content"].as_str().unwrap().chars().count(), 2000);
        assert_eq!(discord(&long)["embeds"][0]["title"].as_str().unwrap().chars().count(), 256);
        let s = slack(&e);
        assert!(s["blocks"][0]["text"]["text"].as_str().unwrap().chars().count() <= 3000);
        assert!(s["blocks"][0]["text"]["text"].as_str().unwrap().contains("&lt;b&gt;&amp;"));
    }

    #[test]
    fn a_report_goes_as_a_link_in_every_webhook_and_in_the_mail() {
        let link = "https://ops.example/reports/report-production-r1.html";
        let e = Event::new(EventKind::WindowPassed, "production", "steady state").attach(crate::Attachment {
            name: "report-production-r1.html".into(),
            content_type: "text/html; charset=utf-8".into(),
            bytes: b"<html></html>".to_vec(),
            link: link.into(),
        });
        assert_eq!(plain(&e)["report"], link);
        assert!(slack(&e)["blocks"][0]["text"]["text"].as_str().unwrap().contains(link));
        assert!(discord(&e)["embeds"][0]["fields"].as_array().unwrap().iter().any(|f| f["value"] == link));
        assert!(mail_body(&e).contains(link));
        let bare = Event::new(EventKind::WindowPassed, "production", "steady state");
        assert!(plain(&bare).get("report").is_none(), "no report, no key");
    }

    #[test]
    fn subject_is_one_line() {
        let e = Event::new(EventKind::RolledBack, "staging", "a\nb\r\nc");
        assert_eq!(mail_subject(&e), "[cutover] staging: rolled back — a b  c");
    }
}

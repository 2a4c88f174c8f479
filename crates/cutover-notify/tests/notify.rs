//! Notifications delivered to real servers: webhooks to Python's `http.server` (plain and HTTPS
//! with a test CA), mail to aiosmtpd (plain, STARTTLS with AUTH, SMTPS), each on a loopback address
//! of its own.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cutover_http::Trust;
use cutover_notify::{Channel, Event, EventKind, Notifier, NotifyError, Smtp, SmtpTls};
use cutover_testkit::certs::Ca;
use cutover_testkit::smtp::{self, Sink};
use cutover_testkit::webhook::{self, Receiver};
use cutover_testkit::{loopback_addr, require};

const SECRET: &str = "XXXXSECRETTOKENXXXX";

fn python() -> bool {
    require("python3", webhook::available())
}

fn aiosmtpd() -> bool {
    require("aiosmtpd (python3-aiosmtpd)", smtp::available())
}

fn trust() -> Trust {
    Trust::load(None).unwrap()
}

/// A notifier that gives up quickly: 3 s per attempt, 3 attempts, 100 ms between them.
fn notifier(trust: Trust) -> Notifier {
    Notifier::new(trust).timeout(Duration::from_secs(3)).attempts(3).backoff(Duration::from_millis(100))
}

fn event() -> Event {
    Event::new(EventKind::RolledBack, "production", "http_req_failed rate 0.25 ≥ 0.01 over the last 10 min")
        .release("20250101-120000")
        .detail("checks failing: home (500), api health (timed out)\nrolled back to 20241231-090000")
}

fn channel(kind: &str, url: String) -> Channel {
    Channel::parse(&format!("{kind}:{url}")).unwrap()
}

/// Neither the message nor the Debug form of `e` holds `secret`.
fn assert_hidden(e: &NotifyError, secret: &str) {
    let (shown, debug) = (e.to_string(), format!("{e:?}"));
    assert!(!shown.contains(secret), "{shown}");
    assert!(!debug.contains(secret), "{debug}");
}

/// A test CA (its root written to `root.pem`) and a leaf for `ip` (chain and key files).
struct Pki {
    _dir: tempfile::TempDir,
    root_pem: PathBuf,
    chain: PathBuf,
    key: PathBuf,
}

fn pki(ip: IpAddr) -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::new("cutover notify test root");
    let leaf = root.intermediate("cutover notify test intermediate").issue(&[&ip.to_string()]);
    let root_pem = root.write(dir.path(), "root");
    let files = leaf.write(dir.path(), "leaf");
    Pki { root_pem, chain: files.chain, key: files.key, _dir: dir }
}

#[test]
fn slack_discord_and_plain_webhooks_arrive_in_their_shapes() {
    if !python() {
        return;
    }
    let receiver = Receiver::start().unwrap();
    let channels = [
        channel("slack", receiver.url(&format!("/services/T000/B000/{SECRET}"))),
        channel("discord", receiver.url(&format!("/api/webhooks/1234/{SECRET}"))),
        channel("webhook", receiver.url("/cutover?source=monitor")),
    ];
    let event = event();
    let results = notifier(trust()).send_all(&channels, &event);
    for (name, result) in &results {
        assert!(result.is_ok(), "{name}: {result:?}");
        assert!(!name.contains(SECRET), "{name}");
    }
    assert_eq!(results[0].0, format!("slack:http://{}/…", receiver.addr()));

    let requests = receiver.wait_for(3, Duration::from_secs(5));
    assert_eq!(requests.len(), 3, "{requests:?}");
    let by_path = |prefix: &str| requests.iter().find(|r| r.path.starts_with(prefix)).unwrap();
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.header("Host"), Some(receiver.addr().to_string().as_str()));
        assert!(r.header("User-Agent").unwrap().starts_with("cutover/"));
    }

    let slack = by_path("/services/").json();
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("production: rolled back (release 20250101-120000)"), "{text}");
    assert!(text.contains("http_req_failed rate 0.25 ≥ 0.01"), "{text}");
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert_eq!(slack["blocks"][0]["text"]["type"], "mrkdwn");
    assert!(slack["blocks"][0]["text"]["text"].as_str().unwrap().contains("api health (timed out)"));
    assert_eq!(slack["blocks"][1]["type"], "context");

    let discord = by_path("/api/webhooks/").json();
    let content = discord["content"].as_str().unwrap();
    assert!(content.contains("production: rolled back") && content.chars().count() <= 2000, "{content}");
    let embed = &discord["embeds"][0];
    assert_eq!(embed["title"], event.title.as_str());
    assert_eq!(embed["description"], event.detail.as_str());
    assert_eq!(embed["timestamp"], event.at_rfc3339().as_str());
    assert_eq!(embed["fields"][1]["value"], "20250101-120000");
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));

    let plain = by_path("/cutover").json();
    assert_eq!(by_path("/cutover").path, "/cutover?source=monitor");
    assert_eq!(
        plain,
        serde_json::json!({
            "event": "rolled_back",
            "env": "production",
            "release": "20250101-120000",
            "title": event.title,
            "detail": event.detail,
            "at": event.at_rfc3339(),
        })
    );
    let at = time::OffsetDateTime::parse(plain["at"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
        .unwrap();
    let sent = time::OffsetDateTime::from(event.at);
    assert!((sent - at).whole_seconds().abs() <= 1, "{at} vs {sent}");
}

#[test]
fn every_event_kind_has_its_name_and_a_release_may_be_absent() {
    if !python() {
        return;
    }
    let receiver = Receiver::start().unwrap();
    let hook = channel("webhook", receiver.url("/"));
    let kinds = [
        (EventKind::Breach, "breach"),
        (EventKind::RolledBack, "rolled_back"),
        (EventKind::RollbackFailed, "rollback_failed"),
        (EventKind::WindowPassed, "window_passed"),
        (EventKind::Alert, "alert"),
    ];
    let n = notifier(trust());
    for (kind, _) in kinds {
        n.send(&hook, &Event::new(kind, "staging", "t")).unwrap();
    }
    let requests = receiver.wait_for(5, Duration::from_secs(5));
    let got: Vec<String> = requests.iter().map(|r| r.json()["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, kinds.map(|(_, name)| name));
    assert_eq!(requests[0].json()["release"], serde_json::Value::Null);
}

#[test]
fn discord_content_is_cut_to_2000_characters() {
    if !python() {
        return;
    }
    let receiver = Receiver::start().unwrap();
    let event = Event::new(EventKind::Breach, "production", "é".repeat(3000)).detail("@everyone ".repeat(1000));
    notifier(trust()).send(&channel("discord", receiver.url("/api/webhooks/1/x")), &event).unwrap();
    let body = receiver.wait_for(1, Duration::from_secs(5))[0].json();
    assert_eq!(body["content"].as_str().unwrap().chars().count(), 2000);
    assert!(body["content"].as_str().unwrap().ends_with('…'));
    assert_eq!(body["embeds"][0]["title"].as_str().unwrap().chars().count(), 256);
    assert!(body["embeds"][0]["description"].as_str().unwrap().chars().count() <= 4096);
}

#[test]
fn a_receiver_answering_500_then_200_gets_it_on_the_second_attempt() {
    if !python() {
        return;
    }
    let receiver = Receiver::start_with(webhook::Options { fail_first: 1, ..Default::default() }).unwrap();
    let hook = channel("slack", receiver.url(&format!("/services/T/B/{SECRET}")));
    notifier(trust()).send(&hook, &event()).unwrap();
    let requests = receiver.wait_for(2, Duration::from_secs(5));
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn a_receiver_that_keeps_failing_is_an_error_without_the_token_it_echoed() {
    if !python() {
        return;
    }
    // The receiver's error page repeats the request path, token and all.
    let receiver = Receiver::start_with(webhook::Options { fail_first: 100, ..Default::default() }).unwrap();
    let hook = channel("slack", receiver.url(&format!("/services/T000/B000/{SECRET}")));
    let err = notifier(trust()).send(&hook, &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Refused { attempts: 3, .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("cannot notify `slack:http://{}/…`: refused: HTTP 500", receiver.addr())),
        "{shown}"
    );
    assert!(shown.contains("failure 3 of 100 for …"), "{shown}");
    assert!(shown.ends_with("(after 3 attempts)"), "{shown}");
    assert_hidden(&err, SECRET);
    assert_hidden(&err, "/services/T000/B000");
    assert_eq!(receiver.requests().len(), 3);
}

#[test]
fn a_404_is_not_retried() {
    if !python() {
        return;
    }
    let options = webhook::Options { fail_first: 100, fail_status: Some(404), ..Default::default() };
    let receiver = Receiver::start_with(options).unwrap();
    let err = notifier(trust()).send(&channel("webhook", receiver.url("/nowhere")), &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Refused { attempts: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("HTTP 404 Not Found"), "{err}");
    assert_eq!(receiver.wait_for(2, Duration::from_millis(500)).len(), 1);
}

#[test]
fn a_hanging_receiver_is_an_error_within_the_timeout() {
    if !python() {
        return;
    }
    let receiver = Receiver::start_with(webhook::Options { hang: true, ..Default::default() }).unwrap();
    let hook = channel("discord", receiver.url(&format!("/api/webhooks/1/{SECRET}")));
    let n = Notifier::new(trust()).timeout(Duration::from_secs(1)).attempts(2).backoff(Duration::from_millis(100));
    let start = Instant::now();
    let err = n.send(&hook, &event()).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, NotifyError::Timeout { attempts: 2, .. }), "{err:?}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "{took:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot notify `discord:http://{}/…`: no answer within 1 s (after 2 attempts)", receiver.addr())
    );
    assert_eq!(receiver.requests().len(), 2);
}

#[test]
fn channels_are_sent_to_at_once() {
    if !python() {
        return;
    }
    let hanging: Vec<Receiver> =
        (0..4).map(|_| Receiver::start_with(webhook::Options { hang: true, ..Default::default() }).unwrap()).collect();
    let good = Receiver::start().unwrap();
    let mut channels: Vec<Channel> = hanging.iter().map(|r| channel("webhook", r.url("/"))).collect();
    channels.push(channel("slack", good.url("/ok")));
    let n = Notifier::new(trust()).timeout(Duration::from_secs(1)).attempts(1);
    let start = Instant::now();
    let results = n.send_all(&channels, &event());
    assert!(start.elapsed() < Duration::from_millis(1900), "{:?}", start.elapsed());
    assert_eq!(results.len(), 5);
    assert!(results[..4].iter().all(|(_, r)| matches!(r, Err(NotifyError::Timeout { .. }))), "{results:?}");
    assert!(results[4].1.is_ok(), "{results:?}");
    assert_eq!(results[4].0, format!("slack:http://{}/…", good.addr()));
}

#[test]
fn an_unresolvable_host_is_an_error_naming_the_channel_without_its_token() {
    let hook = Channel::parse(&format!("slack:https://hooks.cutover-test.invalid/services/T0/B0/{SECRET}")).unwrap();
    let n = Notifier::new(trust()).timeout(Duration::from_secs(3)).attempts(2).backoff(Duration::from_millis(50));
    let start = Instant::now();
    let err = n.send(&hook, &event()).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
    assert_eq!(err.channel(), "slack:https://hooks.cutover-test.invalid/…");
    assert!(err.to_string().starts_with("cannot notify `slack:https://hooks.cutover-test.invalid/…`: "), "{err}");
    assert!(matches!(err, NotifyError::Unreachable { .. } | NotifyError::Timeout { .. }), "{err:?}");
    assert_hidden(&err, SECRET);
    assert_hidden(&err, "/services/T0/B0");
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    // Nothing listens on this address.
    let ip = loopback_addr();
    let hook = channel("webhook", format!("http://{ip}:9/{SECRET}"));
    let err = notifier(trust()).send(&hook, &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Unreachable { attempts: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("connection refused") || err.to_string().contains("Connection refused"), "{err}");
    assert_hidden(&err, SECRET);
}

#[test]
fn https_webhooks_are_verified_against_the_extra_ca() {
    if !python() {
        return;
    }
    let ip: IpAddr = loopback_addr().into();
    let pki = pki(ip);
    let options = webhook::Options { tls: Some((pki.chain.clone(), pki.key.clone())), ..Default::default() };
    let receiver = Receiver::start_on(ip, options).unwrap();
    let hook = channel("slack", receiver.url(&format!("/services/T/B/{SECRET}")));
    assert!(hook.to_string().starts_with("slack:https://"));

    let trusted = notifier(Trust::load(Some(&pki.root_pem)).unwrap());
    trusted.send(&hook, &event()).unwrap();
    let requests = receiver.wait_for(1, Duration::from_secs(5));
    assert_eq!(requests.len(), 1);
    assert!(requests[0].json()["text"].as_str().unwrap().contains("rolled back"));

    // Without the test CA the certificate is not trusted: an error at once, no retry, no request.
    let err = notifier(trust()).send(&hook, &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Unreachable { attempts: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    assert_hidden(&err, SECRET);
    // Nothing of the refused attempt arrived: the receiver, which records in order, sees the
    // next trusted request (another event) as its second.
    let next = Event::new(EventKind::Breach, "production", "http_req_failed rate 0.25 ≥ 0.01");
    trusted.send(&hook, &next).unwrap();
    let requests = receiver.wait_for(2, Duration::from_secs(5));
    assert!(!requests[1].json()["text"].as_str().unwrap().contains("rolled back"), "{requests:?}");
    assert_eq!(receiver.requests().len(), 2);
}

#[test]
fn a_large_body_arrives_intact_over_https() {
    if !python() {
        return;
    }
    let ip: IpAddr = loopback_addr().into();
    let pki = pki(ip);
    let options = webhook::Options { tls: Some((pki.chain.clone(), pki.key.clone())), ..Default::default() };
    let receiver = Receiver::start_on(ip, options).unwrap();
    // Far more than one TLS record, with multi-byte characters, quotes, backslashes and controls.
    let detail: String = (0..6000).map(|i| format!("line {i}: ünïcødé ✓ \"quoted\" back\\slash\ttab\u{1}\n")).collect();
    assert!(detail.len() > 256 * 1024);
    let event = Event::new(EventKind::Alert, "production", "big").detail(detail.clone());
    notifier(Trust::load(Some(&pki.root_pem)).unwrap())
        .send(&channel("webhook", receiver.url("/big")), &event)
        .unwrap();
    let requests = receiver.wait_for(1, Duration::from_secs(5));
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/big"));
    assert_eq!(r.header("Content-Length"), Some(r.body.len().to_string().as_str()));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.json()["detail"].as_str(), Some(detail.as_str()));
}

#[test]
fn channel_parse_errors() {
    let bad = [
        ("", "expected `slack:URL`"),
        ("teams:https://example.test/x", "got `teams:`"),
        ("https://hooks.slack.com/services/T/B/X", "webhook:https://…"),
        ("slack:hooks.slack.com/services/T/B/X", "needs an http(s) URL"),
        ("slack:ftp://hooks.slack.com/T/B/X", "not `ftp:`"),
        ("discord:https://", "URL"),
        ("mailto:", "needs an address"),
        ("mailto:ops@example.test,dev@example.test", "one bare address"),
        ("mailto:ops@example.test?subject=hi", "one bare address"),
        ("mailto:ops", "not an e-mail address"),
    ];
    for (text, expected) in bad {
        let err = Channel::parse(text).unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
        assert!(!err.contains("/T/B/X"), "{text:?}: {err}");
    }
    assert!(matches!(Channel::parse("SLACK:https://h.test/x").unwrap(), Channel::Slack(_)));
    assert!(
        matches!(Channel::parse(" mailto:ops@example.test ").unwrap(), Channel::Mail(a) if a == "ops@example.test")
    );
    assert_eq!(Channel::parse("webhook:http://10.0.0.5:8080/h?k=v").unwrap().kind(), "webhook");
}

fn smtp_to(sink: &Sink, tls: SmtpTls) -> Smtp {
    let mut smtp = Smtp::new(sink.addr().ip().to_string(), "cutover <deploy@example.test>");
    smtp.port = sink.addr().port();
    smtp.tls = tls;
    smtp.timeout = Duration::from_secs(5);
    smtp
}

#[test]
fn mail_arrives_with_subject_body_from_and_to() {
    if !aiosmtpd() {
        return;
    }
    let sink = Sink::start().unwrap();
    let n = notifier(trust()).smtp(Some(smtp_to(&sink, SmtpTls::None)));
    let event = event();
    n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event).unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1, "{}", sink.stderr());
    let mail = &mails[0];
    assert_eq!(mail.envelope_from, "deploy@example.test");
    assert_eq!(mail.envelope_to, ["ops@example.test"]);
    assert_eq!(mail.from, "cutover <deploy@example.test>");
    assert_eq!(mail.to, "ops@example.test");
    assert_eq!(
        mail.subject,
        "[cutover] production: rolled back (release 20250101-120000) — http_req_failed rate 0.25 ≥ 0.01 over the last 10 min"
    );
    let body = mail.body.replace("\r\n", "\n");
    assert!(
        body.starts_with("production: rolled back (release 20250101-120000)\n\nhttp_req_failed rate 0.25 ≥ 0.01"),
        "{body}"
    );
    assert!(
        body.contains("checks failing: home (500), api health (timed out)\nrolled back to 20241231-090000"),
        "{body}"
    );
    assert!(body.contains(&format!("at: {}", event.at_rfc3339())), "{body}");
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    assert!(mail.header("Message-ID").unwrap().ends_with("@example.test>"));
    assert!(mail.header("Date").is_some());
    assert!(!mail.tls && mail.auth_user.is_none());
}

#[test]
fn mail_over_starttls_with_auth() {
    if !aiosmtpd() {
        return;
    }
    let ip: IpAddr = loopback_addr().into();
    let pki = pki(ip);
    let password = "s3cret-smtp-passw0rd";
    let options = smtp::Options {
        starttls: Some((pki.chain.clone(), pki.key.clone())),
        auth: Some(("deploy".into(), password.into())),
        ..Default::default()
    };
    let sink = Sink::start_on(ip, options).unwrap();
    let mut settings = smtp_to(&sink, SmtpTls::StartTls);
    settings.username = Some("deploy".into());
    settings.password = Some(password.into());
    let n = notifier(Trust::load(Some(&pki.root_pem)).unwrap()).smtp(Some(settings.clone()));
    n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event()).unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1, "{}", sink.stderr());
    assert!(mails[0].tls);
    assert_eq!(mails[0].auth_user.as_deref(), Some("deploy"));

    // A wrong password: refused, and neither password is in the error or in Debug.
    settings.password = Some("wrong-passw0rd-here".into());
    let n = notifier(Trust::load(Some(&pki.root_pem)).unwrap()).smtp(Some(settings.clone()));
    let err = n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Refused { attempts: 1, .. }), "{err:?}");
    assert!(err.to_string().starts_with("cannot notify `mailto:ops@example.test`: refused: "), "{err}");
    assert!(err.to_string().contains("535"), "{err}");
    assert_hidden(&err, "wrong-passw0rd-here");
    assert_hidden(&err, password);
    for shown in [format!("{settings:?}"), format!("{n:?}")] {
        assert!(!shown.contains("wrong-passw0rd-here") && shown.contains("[redacted]"), "{shown}");
    }
}

#[test]
fn mail_over_smtps() {
    if !aiosmtpd() {
        return;
    }
    let ip: IpAddr = loopback_addr().into();
    let pki = pki(ip);
    let sink =
        Sink::start_on(ip, smtp::Options { smtps: Some((pki.chain.clone(), pki.key.clone())), ..Default::default() })
            .unwrap();
    let n = notifier(Trust::load(Some(&pki.root_pem)).unwrap()).smtp(Some(smtp_to(&sink, SmtpTls::Tls)));
    n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &Event::new(EventKind::WindowPassed, "prod", "steady"))
        .unwrap();
    let mails = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1, "{}", sink.stderr());
    assert!(mails[0].tls);
    assert_eq!(mails[0].subject, "[cutover] prod: monitor window passed — steady");
}

#[test]
fn an_untrusted_relay_certificate_fails_without_retry() {
    if !aiosmtpd() {
        return;
    }
    let ip: IpAddr = loopback_addr().into();
    let pki = pki(ip);
    let options = smtp::Options { starttls: Some((pki.chain.clone(), pki.key.clone())), ..Default::default() };
    let sink = Sink::start_on(ip, options).unwrap();
    let n = notifier(trust()).smtp(Some(smtp_to(&sink, SmtpTls::StartTls)));
    let err = n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Unreachable { attempts: 1, .. }), "{err:?}");
    assert!(sink.messages().is_empty());
}

#[test]
fn a_relay_that_never_greets_is_an_error_within_the_timeout() {
    if !python() {
        return;
    }
    // A server that accepts and never says a word (the webhook receiver waits for a request).
    let silent = Receiver::start_with(webhook::Options { hang: true, ..Default::default() }).unwrap();
    let mut smtp = Smtp::new(silent.addr().ip().to_string(), "deploy@example.test");
    smtp.port = silent.addr().port();
    smtp.tls = SmtpTls::None;
    smtp.timeout = Duration::from_secs(1);
    let n = notifier(trust()).attempts(2).smtp(Some(smtp));
    let start = Instant::now();
    let err = n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event()).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, NotifyError::Timeout { attempts: 2, .. }), "{err:?}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "{took:?}");
    assert_eq!(err.to_string(), "cannot notify `mailto:ops@example.test`: no answer within 1 s (after 2 attempts)");
}

#[test]
fn mail_is_retried_after_a_temporary_refusal() {
    if !aiosmtpd() {
        return;
    }
    let sink = Sink::start_with(smtp::Options { fail_first: 1, ..Default::default() }).unwrap();
    let n = notifier(trust()).smtp(Some(smtp_to(&sink, SmtpTls::None)));
    n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event()).unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);

    let sink = Sink::start_with(smtp::Options { fail_first: 100, ..Default::default() }).unwrap();
    let n = notifier(trust()).smtp(Some(smtp_to(&sink, SmtpTls::None)));
    let err = n.send(&Channel::parse("mailto:ops@example.test").unwrap(), &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Refused { attempts: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("451"), "{err}");
}

#[test]
fn mail_settings_that_cannot_work() {
    let mail = Channel::parse("mailto:ops@example.test").unwrap();
    let err = notifier(trust()).send(&mail, &event()).unwrap_err();
    assert!(matches!(err, NotifyError::NoSmtp { .. }), "{err:?}");
    assert_eq!(err.to_string(), "cannot notify `mailto:ops@example.test`: no [smtp] settings to send mail with");

    // A password is never sent in the clear to a relay off this machine.
    let mut smtp = Smtp::new("mail.cutover-test.invalid", "deploy@example.test");
    smtp.tls = SmtpTls::None;
    smtp.username = Some("deploy".into());
    smtp.password = Some("plain-text-passw0rd".into());
    let err = notifier(trust()).smtp(Some(smtp.clone())).send(&mail, &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Setup { .. }), "{err:?}");
    assert!(err.to_string().contains("over a plain connection"), "{err}");
    assert_hidden(&err, "plain-text-passw0rd");

    smtp.from = "not an address".into();
    let err = notifier(trust()).smtp(Some(smtp)).send(&mail, &event()).unwrap_err();
    assert!(matches!(err, NotifyError::Setup { .. }) && err.to_string().contains("[smtp] from"), "{err:?}");
}

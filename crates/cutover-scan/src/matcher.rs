//! Finding secrets in one text: one Aho-Corasick pass over every rule's keywords marks the lines
//! worth a closer look and which rules they may hold; only those rules' patterns then run, on
//! those lines only. A match its rule's check keeps is then looked at where it sits ([`site`]):
//! inside a comment that shows an example it is not reported, and the generic rules also ask
//! [`generic::check_site`]. Both the working tree and history go through [`Scanner::scan_text`].

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use memchr::{memchr, memmem, memrchr};
use regex::bytes::{Regex, RegexBuilder};

use super::entropy::shannon;
use super::generic;
use super::redact::{fingerprint, redact};
use super::rules::{Kind, RULES};
use super::site;

/// How far a line is looked at on either side of a keyword: long lines (minified code, one-line
/// JSON) are scanned in windows around their keywords, not whole for each one.
const REACH: usize = 1024;

/// Markers that accept the secret on their line.
const ALLOW_MARKERS: [&[u8]; 3] = [b"cutover:allow", b"cutover-allow", b"pragma: allowlist secret"];

/// One secret found in a text. It holds no part of the value beyond its redaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's id.
    pub rule: &'static str,
    pub description: &'static str,
    /// 1-based.
    pub line: usize,
    /// Byte offset of the value in the text.
    pub offset: usize,
    pub redacted: String,
    pub fingerprint: String,
}

/// The compiled rule set; build once with [`Scanner::get`].
#[derive(Debug)]
pub struct Scanner {
    keywords: AhoCorasick,
    /// For each keyword: the rules it stands for, with the exact spelling when case matters.
    triggers: Vec<Vec<(usize, Option<&'static str>)>>,
    patterns: Vec<Option<Regex>>,
    private_key_header: Regex,
}

/// A match before line numbers and allow comments are looked at.
struct Raw {
    rule: usize,
    range: Range<usize>,
    value: Vec<u8>,
}

impl Scanner {
    /// The built-in rules, compiled on first use.
    pub fn get() -> &'static Self {
        static SCANNER: OnceLock<Scanner> = OnceLock::new();
        SCANNER.get_or_init(Self::build)
    }

    fn build() -> Self {
        assert!(RULES.len() <= 64, "rule masks are u64");
        let mut words: Vec<String> = Vec::new();
        let mut triggers: Vec<Vec<(usize, Option<&'static str>)>> = Vec::new();
        for (index, rule) in RULES.iter().enumerate() {
            for &keyword in rule.keywords {
                let lower = keyword.to_ascii_lowercase();
                let slot = match words.iter().position(|w| *w == lower) {
                    Some(slot) => slot,
                    None => {
                        words.push(lower);
                        triggers.push(Vec::new());
                        words.len() - 1
                    }
                };
                triggers[slot].push((index, rule.case_sensitive.then_some(keyword)));
            }
        }
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .expect("keywords build");
        let patterns = RULES
            .iter()
            .map(|rule| match rule.kind {
                Kind::Pattern { pattern, .. } => Some(compile(pattern)),
                Kind::PrivateKey => None,
            })
            .collect();
        let private_key_header = compile(r"-----BEGIN[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----");
        Self { keywords, triggers, patterns, private_key_header }
    }

    /// Every secret in `text`, in order. `path` decides which rules apply (the generic ones are
    /// not run on lock files). Binary texts (a NUL in the first 8 KiB) hold none.
    pub fn scan_text(&self, path: &str, text: &[u8]) -> Vec<Hit> {
        if is_binary(text) {
            return Vec::new();
        }
        let skip_generic = is_lock_file(path);
        let code = site::is_code_file(path);
        let mut raws = Vec::new();
        let mut window: Option<(Range<usize>, u64)> = None;
        for m in self.keywords.find_overlapping_iter(text) {
            let mut mask = 0u64;
            for &(rule, exact) in &self.triggers[m.pattern().as_usize()] {
                if exact.is_none_or(|word| &text[m.range()] == word.as_bytes())
                    && !(skip_generic && RULES[rule].generic)
                {
                    mask |= 1 << rule;
                }
            }
            if mask == 0 {
                continue;
            }
            let around = line_around(text, m.range());
            match &mut window {
                Some((range, bits)) if around.start <= range.end => {
                    range.start = range.start.min(around.start);
                    range.end = range.end.max(around.end);
                    *bits |= mask;
                }
                _ => {
                    if let Some((range, bits)) = window.take() {
                        self.run(text, range, bits, code, &mut raws);
                    }
                    window = Some((around, mask));
                }
            }
        }
        if let Some((range, bits)) = window {
            self.run(text, range, bits, code, &mut raws);
        }
        self.finish(text, raws)
    }

    /// Runs the rules in `mask` on `text[window]`; `code` says the text is a source file's.
    fn run(&self, text: &[u8], window: Range<usize>, mask: u64, code: bool, raws: &mut Vec<Raw>) {
        let hay = &text[window.clone()];
        for (rule_index, rule) in RULES.iter().enumerate() {
            if mask & (1 << rule_index) == 0 {
                continue;
            }
            match (&rule.kind, &self.patterns[rule_index]) {
                (Kind::Pattern { check, .. }, Some(regex)) => {
                    for caps in regex.captures_iter(hay) {
                        let Some(value) = caps.name("s").or_else(|| caps.name("u")) else { continue };
                        if !check(&caps) {
                            continue;
                        }
                        let range = window.start + value.start()..window.start + value.end();
                        if rule.generic {
                            let whole = caps.get(0).map_or(value.start(), |m| m.start());
                            let line = memrchr(b'\n', &hay[..whole]).map_or(0, |i| i + 1);
                            let in_comment = || site::comment_around(text, range.start).is_some();
                            if !generic::check_site(&caps, &hay[line..whole], code, in_comment) {
                                continue;
                            }
                        }
                        if site::in_example_comment(text, range.start) {
                            continue;
                        }
                        raws.push(Raw { rule: rule_index, range, value: value.as_bytes().to_vec() });
                    }
                }
                _ => {
                    for header in self.private_key_header.find_iter(hay) {
                        let start = window.start + header.start();
                        if site::in_example_comment(text, start) {
                            continue;
                        }
                        if let Some((end, body)) = private_key_body(text, window.start + header.end()) {
                            raws.push(Raw { rule: rule_index, range: start..end, value: body });
                        }
                    }
                }
            }
        }
    }

    /// Drops overlaps (the earlier rule wins), then numbers lines, honours allow comments and
    /// redacts.
    fn finish(&self, text: &[u8], mut raws: Vec<Raw>) -> Vec<Hit> {
        raws.sort_by_key(|r| (r.range.start, r.rule));
        let mut kept: Vec<Raw> = Vec::with_capacity(raws.len());
        for raw in raws {
            let overlapping = kept.iter().rposition(|k| k.range.end > raw.range.start);
            match overlapping {
                Some(i) if kept[i].rule <= raw.rule => continue,
                Some(i) => kept[i] = raw,
                None => kept.push(raw),
            }
        }
        let mut hits = Vec::with_capacity(kept.len());
        let (mut line, mut counted) = (1, 0);
        for raw in kept {
            line += memchr::memchr_iter(b'\n', &text[counted..raw.range.start]).count();
            counted = raw.range.start;
            if allowed(text, raw.range.start) {
                continue;
            }
            hits.push(Hit {
                rule: RULES[raw.rule].id,
                description: RULES[raw.rule].description,
                line,
                offset: raw.range.start,
                redacted: redact(&raw.value),
                fingerprint: fingerprint(&raw.value),
            });
        }
        hits
    }
}

fn compile(pattern: &str) -> Regex {
    RegexBuilder::new(pattern).unicode(false).size_limit(1 << 24).build().expect("rule patterns compile")
}

/// The line holding `range`, at most [`REACH`] bytes to either side of it.
fn line_around(text: &[u8], range: Range<usize>) -> Range<usize> {
    let from = range.start.saturating_sub(REACH);
    let start = memrchr(b'\n', &text[from..range.start]).map_or(from, |i| from + i + 1);
    let to = (range.end + REACH).min(text.len());
    let end = memchr(b'\n', &text[range.end..to]).map_or(to, |i| range.end + i);
    start..end
}

/// Whether the line holding `offset` carries an allow comment.
fn allowed(text: &[u8], offset: usize) -> bool {
    let start = memrchr(b'\n', &text[..offset]).map_or(0, |i| i + 1);
    let end = memchr(b'\n', &text[offset..]).map_or(text.len(), |i| offset + i);
    let line = &text[start..end];
    ALLOW_MARKERS.iter().any(|marker| memmem::find(line, marker).is_some())
}

/// The body of a private key block whose header ends at `from`: its base64 characters up to the
/// `-----END` line, with `\n` escapes (keys inside JSON strings) and armor headers
/// (`Proc-Type:`, `Version:`) left out. `None` for a header with no key under it (docs, `...`).
fn private_key_body(text: &[u8], from: usize) -> Option<(usize, Vec<u8>)> {
    let limit = (from + 64 * 1024).min(text.len());
    let end = from + memmem::find(&text[from..limit], b"-----END")?;
    let mut block = text[from..end].to_vec();
    for escape in [&b"\\n"[..], b"\\r"] {
        while let Some(at) = memmem::find(&block, escape) {
            block.splice(at..at + 2, [b'\n']);
        }
    }
    let mut body = Vec::with_capacity(block.len());
    for line in block.split(|&b| b == b'\n').filter(|line| !line.contains(&b':')) {
        body.extend(line.iter().filter(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b)));
    }
    (body.len() >= 64 && shannon(&body) >= 4.5).then_some((end, body))
}

/// Git's test: a NUL in the first 8000 bytes.
pub fn is_binary(text: &[u8]) -> bool {
    memchr(0, &text[..text.len().min(8000)]).is_some()
}

/// Lock files hold hashes and package names that the generic rules would misread.
pub fn is_lock_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "package-lock.json"
            | "npm-shrinkwrap.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "composer.lock"
            | "Cargo.lock"
            | "Gemfile.lock"
            | "poetry.lock"
            | "Pipfile.lock"
            | "go.sum"
            | "mix.lock"
            | "pubspec.lock"
            | "packages.lock.json"
            | "bun.lock"
    )
}

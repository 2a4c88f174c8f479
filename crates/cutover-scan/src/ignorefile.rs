//! `.cutoverignore` at the root of the scanned directory: gitignore-style patterns of paths not
//! to scan, `fingerprint:<16 hex>` lines accepting one value wherever it appears, and
//! `rule:<id>` lines turning a rule off. `#` starts a comment.

use std::collections::HashSet;
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::error::ScanError;
use super::rules::RULES;

pub const FILE_NAME: &str = ".cutoverignore";

#[derive(Debug)]
pub struct IgnoreFile {
    paths: Gitignore,
    fingerprints: HashSet<String>,
    rules: HashSet<String>,
}

impl IgnoreFile {
    /// Reads `root/.cutoverignore`; no file ignores nothing.
    pub fn load(root: &Path) -> Result<Self, ScanError> {
        let path = root.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(ScanError::Read { path, source }),
        };
        Self::parse(root, &text)
    }

    pub fn parse(root: &Path, text: &str) -> Result<Self, ScanError> {
        let mut builder = GitignoreBuilder::new(root);
        let mut fingerprints = HashSet::new();
        let mut rules = HashSet::new();
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            let error = |message: String| ScanError::Ignore { line: number + 1, message };
            if let Some(fp) = trimmed.strip_prefix("fingerprint:") {
                let fp = fp.trim().to_ascii_lowercase();
                if fp.len() != 16 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(error(format!("`{fp}` is not a fingerprint (16 hex digits)")));
                }
                fingerprints.insert(fp);
            } else if let Some(rule) = trimmed.strip_prefix("rule:") {
                let rule = rule.trim();
                if !RULES.iter().any(|r| r.id == rule) {
                    return Err(error(format!("no rule is called `{rule}`")));
                }
                rules.insert(rule.to_owned());
            } else if !trimmed.is_empty() && !trimmed.starts_with('#') {
                builder.add_line(None, line).map_err(|e| error(e.to_string()))?;
            }
        }
        let paths = builder.build().map_err(|e| ScanError::Ignore { line: 0, message: e.to_string() })?;
        Ok(Self { paths, fingerprints, rules })
    }

    /// Whether a path (relative to the root, `/`-separated) is left out of the scan.
    pub fn skips_path(&self, relative: &str) -> bool {
        self.paths.matched_path_or_any_parents(Path::new(relative), false).is_ignore()
    }

    /// Whether a finding of `rule` with `fingerprint` is accepted.
    pub fn accepts(&self, rule: &str, fingerprint: &str) -> bool {
        self.rules.contains(rule) || self.fingerprints.contains(fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_fingerprints_and_rules() {
        let text =
            "# test data\nfixtures/\nspec/data/\n*.pem\n/docs/keys.md\nfingerprint: 0123456789ABCDEF\nrule:jwt\n";
        let file = IgnoreFile::parse(Path::new("/repo"), text).unwrap();
        assert!(file.skips_path("tests/fixtures/a.env"));
        assert!(file.skips_path("crates/x/tests/fixtures/deep/b.json"));
        // A pattern with a slash inside is anchored at the root, as in .gitignore.
        assert!(file.skips_path("spec/data/keys.json"));
        assert!(!file.skips_path("app/spec/data/keys.json"));
        assert!(file.skips_path("keys/server.pem"));
        assert!(file.skips_path("docs/keys.md"));
        assert!(!file.skips_path("src/docs/keys.md"));
        assert!(!file.skips_path("src/main.rs"));
        assert!(file.accepts("github-token", "0123456789abcdef"));
        assert!(file.accepts("jwt", "ffffffffffffffff"));
        assert!(!file.accepts("github-token", "ffffffffffffffff"));
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        let err = IgnoreFile::parse(Path::new("/repo"), "a\nfingerprint:xyz\n").unwrap_err();
        assert_eq!(err.to_string(), "`.cutoverignore` line 2: `xyz` is not a fingerprint (16 hex digits)");
        assert!(IgnoreFile::parse(Path::new("/repo"), "rule:nope").is_err());
    }
}

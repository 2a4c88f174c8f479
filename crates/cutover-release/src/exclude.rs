//! Which files of the app stay behind: the config's `exclude` patterns and what never ships.

use globset::{Glob, GlobMatcher};

/// Never part of a release, whatever the config says: version control, cutover's own state and
/// the secrets vault at its default place beside `cutover.toml` (encrypted, but it has no
/// business on a web server).
const ALWAYS: &[&str] = &[".git/", ".cutover/", "cutover.vault.age"];

#[derive(Debug, Clone)]
pub struct Excludes {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    matcher: GlobMatcher,
    /// `dir/`: matches directories only.
    dir_only: bool,
    /// Contains `/`: matched against the whole relative path, not just the name.
    anchored: bool,
}

impl Excludes {
    /// Patterns are validated by the config already; an invalid one here is skipped.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let rules = ALWAYS
            .iter()
            .copied()
            .chain(patterns)
            .filter_map(|pattern| {
                let dir_only = pattern.ends_with('/');
                let body = pattern.trim_end_matches('/').trim_start_matches('/');
                let anchored = body.contains('/') || pattern.starts_with('/');
                let matcher = Glob::new(body).ok()?.compile_matcher();
                Some(Rule { matcher, dir_only, anchored })
            })
            .collect();
        Self { rules }
    }

    /// `path` is relative to the app root, `/`-separated.
    pub fn is_excluded(&self, path: &str, is_dir: bool) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.rules
            .iter()
            .any(|rule| (!rule.dir_only || is_dir) && rule.matcher.is_match(if rule.anchored { path } else { name }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_at_any_depth_and_paths_from_the_root() {
        let ex = Excludes::new(["node_modules/", "*.log", "storage/logs/", ".env"]);
        assert!(ex.is_excluded("node_modules", true));
        assert!(ex.is_excluded("web/node_modules", true));
        assert!(!ex.is_excluded("node_modules", false), "dir patterns match directories only");
        assert!(ex.is_excluded("a/b/debug.log", false));
        assert!(ex.is_excluded("storage/logs", true));
        assert!(!ex.is_excluded("x/storage/logs", true), "patterns with a slash are anchored");
        assert!(ex.is_excluded(".env", false));
        assert!(!ex.is_excluded(".env.example", false));
        assert!(ex.is_excluded(".git", true));
        assert!(ex.is_excluded(".cutover", true));
        assert!(ex.is_excluded("cutover.vault.age", false), "the vault never ships");
    }
}

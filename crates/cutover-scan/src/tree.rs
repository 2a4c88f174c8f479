//! The files of a directory that is not a git working tree: everything under it, hidden files
//! included (`.env` is where secrets live), but not version-control metadata or installed
//! dependencies and build output.

use std::path::Path;

/// Directories never entered.
const SKIP_DIRS: &[&str] = &[".git", ".hg", ".svn", "node_modules", "target", "vendor", ".venv", "__pycache__"];

/// Regular files under `root`, relative to it and `/`-separated, sorted; and the entries that
/// could not be read.
pub fn files(root: &Path) -> (Vec<String>, Vec<String>) {
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .filter_entry(|entry| {
            !(entry.file_type().is_some_and(|t| t.is_dir())
                && entry.depth() > 0
                && SKIP_DIRS.iter().any(|d| entry.file_name() == *d))
        })
        .build();
    let (mut files, mut warnings) = (Vec::new(), Vec::new());
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let parts: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        files.push(parts.join("/"));
    }
    files.sort();
    (files, warnings)
}

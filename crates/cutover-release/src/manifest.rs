//! The manifest of a release: every path with its BLAKE3, size and mode. It decides what
//! travels (only what differs from the host's current release) and names the artifact (its hash).
//!
//! Its text form is one line per entry, sorted by path, fields separated by tabs:
//! `path  f  mode  size  blake3`, `path  d  mode`, `path  l  target`. Paths hold no control
//! characters, so the lines sort exactly as the paths do and a host can rebuild the next
//! release's manifest from the current one and a few changed lines with `awk` and `sort`.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Excludes, ReleaseError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    #[serde(flatten)]
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    Dir { mode: u32 },
    File { mode: u32, size: u64, blake3: String },
    Symlink { target: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Sorted by path; parents come before their children.
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Walks `root`, leaving out what `excludes` names, and hashes every file.
    pub fn scan(root: &Path, excludes: &Excludes) -> Result<Self, ReleaseError> {
        let mut entries = Vec::new();
        walk(root, "", excludes, &mut entries)?;
        entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        Ok(Self { entries })
    }

    /// The artifact's identity: BLAKE3 of the text form.
    pub fn hash(&self) -> String {
        blake3::hash(self.to_text().as_bytes()).to_hex().to_string()
    }

    pub fn to_text(&self) -> String {
        self.entries.iter().map(Entry::line).collect()
    }

    /// Parses the text form; `None` if any line is malformed.
    pub fn from_text(text: &str) -> Option<Self> {
        let entries = text.lines().map(Entry::parse).collect::<Option<Vec<_>>>()?;
        Some(Self { entries })
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.entries.iter().filter_map(|e| match e.kind {
            EntryKind::File { size, .. } => Some((e.path.as_str(), size)),
            _ => None,
        })
    }

    pub fn total_bytes(&self) -> u64 {
        self.files().map(|(_, size)| size).sum()
    }
}

impl Entry {
    /// The entry's line in the text form, with its newline.
    pub fn line(&self) -> String {
        match &self.kind {
            EntryKind::Dir { mode } => format!("{}\td\t{mode:o}\n", self.path),
            EntryKind::File { mode, size, blake3 } => format!("{}\tf\t{mode:o}\t{size}\t{blake3}\n", self.path),
            EntryKind::Symlink { target } => format!("{}\tl\t{target}\n", self.path),
        }
    }

    fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split('\t').collect();
        let mode = |f: &str| u32::from_str_radix(f, 8).ok();
        let kind = match fields.as_slice() {
            [_, "d", m] => EntryKind::Dir { mode: mode(m)? },
            [_, "f", m, size, hash] => {
                EntryKind::File { mode: mode(m)?, size: size.parse().ok()?, blake3: (*hash).to_owned() }
            }
            [_, "l", target] => EntryKind::Symlink { target: (*target).to_owned() },
            _ => return None,
        };
        Some(Self { path: fields[0].to_owned(), kind })
    }
}

/// Paths and link targets go into tab-separated lines and shell lists one per line.
fn check_chars(text: String, full: &Path) -> Result<String, ReleaseError> {
    if text.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(ReleaseError::ControlCharPath { path: full.display().to_string() });
    }
    Ok(text)
}

fn walk(root: &Path, prefix: &str, excludes: &Excludes, out: &mut Vec<Entry>) -> Result<(), ReleaseError> {
    let dir = root.join(prefix);
    let source_err = |path: &Path, source| ReleaseError::Source { path: path.display().to_string(), source };
    let mut children: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| source_err(&dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| source_err(&dir, e))?;
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let full = child.path();
        let name = child
            .file_name()
            .into_string()
            .map_err(|_| ReleaseError::NonUtf8Path { path: full.display().to_string() })
            .and_then(|n| check_chars(n, &full))?;
        let path = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let meta = std::fs::symlink_metadata(&full).map_err(|e| source_err(&full, e))?;
        let kind = meta.file_type();
        if excludes.is_excluded(&path, kind.is_dir()) {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if kind.is_dir() {
            out.push(Entry { path: path.clone(), kind: EntryKind::Dir { mode } });
            walk(root, &path, excludes, out)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&full).map_err(|e| source_err(&full, e))?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| ReleaseError::NonUtf8Path { path: full.display().to_string() })
                .and_then(|t| check_chars(t, &full))?;
            out.push(Entry { path, kind: EntryKind::Symlink { target } });
        } else if kind.is_file() {
            let (size, blake3) = hash_file(&full).map_err(|e| source_err(&full, e))?;
            out.push(Entry { path, kind: EntryKind::File { mode, size, blake3 } });
        }
        // Sockets, fifos and devices are not part of an app.
    }
    Ok(())
}

fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().to_hex().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_sort_as_paths_do_and_control_characters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/b"), "").unwrap();
        std::fs::write(dir.path().join("a.txt"), "").unwrap();
        let manifest = Manifest::scan(dir.path(), &Excludes::new([])).unwrap();
        let paths: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["a", "a.txt", "a/b"], "byte order, as `LC_ALL=C sort` orders the lines");
        let mut lines: Vec<String> = manifest.to_text().lines().map(str::to_owned).collect();
        lines.sort();
        assert_eq!(lines.join("\n") + "\n", manifest.to_text());
        std::fs::write(dir.path().join("tab\there"), "").unwrap();
        assert!(matches!(Manifest::scan(dir.path(), &Excludes::new([])), Err(ReleaseError::ControlCharPath { .. })));
    }

    #[test]
    fn scan_lists_files_dirs_and_links_and_hash_tracks_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("public/css")).unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        std::fs::write(root.join("public/index.php"), "<?php echo 1;").unwrap();
        std::fs::write(root.join("public/css/app.css"), "body{}").unwrap();
        std::fs::write(root.join("node_modules/x/y.js"), "x").unwrap();
        std::os::unix::fs::symlink("public/index.php", root.join("index.php")).unwrap();
        let excludes = Excludes::new(["node_modules/"]);
        let manifest = Manifest::scan(root, &excludes).unwrap();
        let paths: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["index.php", "public", "public/css", "public/css/app.css", "public/index.php"]);
        assert_eq!(manifest.total_bytes(), 13 + 6);
        let EntryKind::File { blake3, .. } = &manifest.entries[4].kind else { panic!() };
        assert_eq!(blake3, &blake3::hash(b"<?php echo 1;").to_hex().to_string());

        let before = manifest.hash();
        assert_eq!(Manifest::scan(root, &excludes).unwrap().hash(), before, "same tree, same hash");
        std::fs::write(root.join("public/css/app.css"), "body{color:red}").unwrap();
        assert_ne!(Manifest::scan(root, &excludes).unwrap().hash(), before);
        assert_eq!(Manifest::from_text(&manifest.to_text()).unwrap(), manifest);
        assert!(manifest.to_text().starts_with("index.php\tl\tpublic/index.php\npublic\td\t"));
    }
}

//! The manifest of a release: every path with its BLAKE3, size and mode. It decides what
//! travels (only what differs from the host's current release) and names the artifact (its hash).

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
        Ok(Self { entries })
    }

    /// The artifact's identity: BLAKE3 of the canonical JSON of all entries.
    pub fn hash(&self) -> String {
        blake3::hash(self.to_json().as_bytes()).to_hex().to_string()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("manifest serializes")
    }

    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
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
            .map_err(|_| ReleaseError::NonUtf8Path { path: full.display().to_string() })?;
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
                .map_err(|_| ReleaseError::NonUtf8Path { path: full.display().to_string() })?;
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
        assert_eq!(Manifest::from_json(&manifest.to_json()).unwrap(), manifest);
    }
}

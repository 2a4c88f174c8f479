//! `[app]`: what is released (its name, source, build command, excludes, shared paths) and how
//! releases are kept.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};
use serde_spanned::Spanned;

use crate::Preset;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub name: AppName,
    #[serde(default)]
    pub preset: Preset,
    /// The directory that is released; relative paths resolve against the config file's directory.
    #[serde(skip)]
    pub source: PathBuf,
    /// `source` as written, with its place in the file (for `config check`'s error).
    #[serde(default = "dot", rename = "source")]
    pub(crate) source_written: Spanned<PathBuf>,
    /// Run locally in `source` (with `sh -c`) before the manifest is made.
    pub build: Option<String>,
    /// Glob patterns of files never uploaded. A trailing `/` names a directory and all below it;
    /// a pattern without `/` matches a name at any depth.
    #[serde(default)]
    pub exclude: Vec<Exclude>,
    /// Paths that outlive releases, kept in `shared/` and linked into each release.
    #[serde(default = "no_shared")]
    pub shared: Spanned<Vec<SharedPath>>,
    #[serde(default)]
    pub keep_releases: KeepReleases,
    /// How a release gets the files unchanged since the host's current release: `link` (hard
    /// links: no copy, but a file written in place changes in every release sharing it) or `copy`
    /// (a copy on the host, a reflink where the filesystem has them).
    #[serde(default)]
    pub unchanged: Unchanged,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unchanged {
    #[default]
    Link,
    Copy,
}

fn no_shared() -> Spanned<Vec<SharedPath>> {
    Spanned::new(0..0, Vec::new())
}

impl App {
    pub fn shared(&self) -> &[SharedPath] {
        self.shared.get_ref()
    }
}

fn dot() -> Spanned<PathBuf> {
    Spanned::new(0..0, PathBuf::from("."))
}

validated_string!(
    /// An app name: letters, digits, `.`, `_`, `-`.
    AppName,
    |s| {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(format!("app name `{s}` may use only letters, digits, `.`, `_` and `-`"));
        }
        Ok(())
    }
);

validated_string!(
    /// A glob pattern of files to leave out of a release.
    Exclude,
    |s| {
        globset::Glob::new(s.trim_end_matches('/'))
            .map(|_| ())
            .map_err(|e| format!("invalid exclude pattern `{s}`: {e}"))
    }
);

/// A path inside a release that lives in `shared/` instead. `storage/` is a directory, `.env` a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedPath {
    pub path: String,
    pub is_dir: bool,
}

impl<'de> Deserialize<'de> for SharedPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let path = text.trim_end_matches('/');
        let bad = path.is_empty()
            || text.starts_with('/')
            || path.split('/').any(|p| p.is_empty() || p == "." || p == "..")
            || path.chars().any(|c| c.is_control());
        if bad {
            return Err(serde::de::Error::custom(format!(
                "shared path `{text}` must be relative to the release, without `.` or `..`"
            )));
        }
        Ok(Self { path: path.to_owned(), is_dir: text.ends_with('/') })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepReleases(pub u32);

impl Default for KeepReleases {
    fn default() -> Self {
        Self(5)
    }
}

impl<'de> Deserialize<'de> for KeepReleases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if !(2..=1000).contains(&n) {
            return Err(serde::de::Error::custom(format!(
                "keep_releases is {n}; it must be between 2 and 1000 so a rollback target always remains"
            )));
        }
        Ok(Self(n as u32))
    }
}

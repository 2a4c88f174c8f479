//! The delta between the app and a host's current release, and the tar stream that carries it.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::Path;

use crate::sparse::{self, SparseBody};
use crate::{Entry, EntryKind, Manifest};

/// What one host needs, against its current release (the base): the files it can hard-link
/// from the base, the entries that must travel, and the manifest patch (base paths to drop,
/// lines to add) from which the host rebuilds the new manifest.
#[derive(Debug)]
pub struct Delta<'a> {
    pub link: Vec<&'a str>,
    pub send: Vec<&'a Entry>,
    /// Paths of base entries that changed or are gone, one per line.
    pub drop: String,
    /// Lines of the new manifest that the base lacks.
    pub add: String,
}

impl<'a> Delta<'a> {
    pub fn between(local: &'a Manifest, base: Option<&Manifest>) -> Self {
        let base_kinds: HashMap<&str, &EntryKind> =
            base.map(|m| m.entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect()).unwrap_or_default();
        let same = |e: &Entry| base_kinds.get(e.path.as_str()) == Some(&&e.kind);
        let link: Vec<&str> = local
            .entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File { .. }) && same(e))
            .map(|e| e.path.as_str())
            .collect();
        // Linking a file recreates its parent directories; only the others need to travel.
        let linked_dirs: HashSet<&str> =
            link.iter().flat_map(|p| p.match_indices('/').map(move |(i, _)| &p[..i])).collect();
        let send = local
            .entries
            .iter()
            .filter(|e| match e.kind {
                EntryKind::File { .. } => !same(e),
                EntryKind::Dir { .. } => !same(e) || !linked_dirs.contains(e.path.as_str()),
                EntryKind::Symlink { .. } => true,
            })
            .collect();
        let local_kinds: HashMap<&str, &EntryKind> = local.entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        let drop = base
            .map(|m| {
                m.entries
                    .iter()
                    .filter(|e| local_kinds.get(e.path.as_str()) != Some(&&e.kind))
                    .map(|e| format!("{}\n", e.path))
                    .collect()
            })
            .unwrap_or_default();
        let add = local.entries.iter().filter(|e| !same(e)).map(Entry::line).collect();
        Self { link, send, drop, add }
    }

    pub fn send_files(&self) -> usize {
        self.send.iter().filter(|e| matches!(e.kind, EntryKind::File { .. })).count()
    }

    pub fn send_bytes(&self) -> u64 {
        self.send.iter().map(|e| if let EntryKind::File { size, .. } = e.kind { size } else { 0 }).sum()
    }
}

/// Writes `entries` of the app at `root` as a tar stream (a file with holes as a GNU sparse
/// member, `sparse.rs`); `progress` gets the running byte count.
pub fn write_tar(
    root: &Path,
    entries: &[&Entry],
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> io::Result<u64> {
    let mut counting = Counting { inner: out, count: 0, progress };
    {
        let mut builder = tar::Builder::new(&mut counting);
        builder.mode(tar::HeaderMode::Deterministic);
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            match &entry.kind {
                EntryKind::Dir { mode } => {
                    header.set_entry_type(tar::EntryType::Directory);
                    // Writable while the release is prepared (a read-only directory, 555, would
                    // stop tar or the shared links); the host sets its mode last.
                    header.set_mode(*mode | 0o700);
                    header.set_size(0);
                    builder.append_data(&mut header, &entry.path, io::empty())?;
                }
                EntryKind::File { mode, size, blake3: hash } => {
                    let file = std::fs::File::open(root.join(&entry.path))
                        .map_err(|e| io::Error::new(e.kind(), format!("`{}`: {e}", entry.path)))?;
                    let mtime = file.metadata()?.modified().ok();
                    header.set_mode(*mode);
                    if let Some(secs) = mtime.and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok()) {
                        header.set_mtime(secs.as_secs());
                    }
                    // What travels must be what was hashed: a file edited since is an error.
                    if let Some(map) = sparse::data_map(&file, *size)? {
                        let ext = sparse::header(&mut header, &map, *size);
                        let mut body = SparseBody::new(&file, ext, map);
                        builder.append_data(&mut header, &entry.path, &mut body)?;
                        match body.finish(*size) {
                            Ok(whole) if whole.to_hex().as_str() == hash => {}
                            _ => return Err(changed(&entry.path)),
                        }
                        continue;
                    }
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(*size);
                    let mut reader = Verified { file, left: *size, hasher: blake3::Hasher::new() };
                    builder.append_data(&mut header, &entry.path, &mut reader)?;
                    reader.finish(&entry.path, hash)?;
                }
                EntryKind::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, &entry.path, target)?;
                }
            }
        }
        builder.finish()?;
    }
    Ok(counting.count)
}

/// Reads a file for the archive, exactly `left` bytes, hashing them on the way.
struct Verified {
    file: std::fs::File,
    left: u64,
    hasher: blake3::Hasher,
}

impl io::Read for Verified {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was being uploaded"));
        }
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

impl Verified {
    fn finish(mut self, path: &str, hash: &str) -> io::Result<()> {
        let grew = io::Read::read(&mut self.file, &mut [0u8; 1])? > 0;
        if grew || self.hasher.finalize().to_hex().as_str() != hash {
            return Err(changed(path));
        }
        Ok(())
    }
}

fn changed(path: &str) -> io::Error {
    io::Error::other(format!("`{path}` changed while it was being uploaded; deploy again"))
}

struct Counting<'a> {
    inner: &'a mut dyn Write,
    count: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        (self.progress)(self.count);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Excludes;

    #[test]
    fn only_changed_files_travel_and_the_stream_unpacks_with_system_tar() {
        let app = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(app.path().join("empty")).unwrap();
        std::fs::create_dir_all(app.path().join("sub")).unwrap();
        std::fs::write(app.path().join("sub/kept.txt"), "kept").unwrap();
        for i in 0..20 {
            std::fs::write(app.path().join(format!("f{i}.txt")), format!("file {i}")).unwrap();
        }
        let ex = Excludes::new([]);
        let v1 = Manifest::scan(app.path(), &ex).unwrap();
        std::fs::write(app.path().join("f3.txt"), "changed").unwrap();
        std::fs::write(app.path().join("new.txt"), "new").unwrap();
        let v2 = Manifest::scan(app.path(), &ex).unwrap();

        let delta = Delta::between(&v2, Some(&v1));
        let sent: Vec<&str> = delta.send.iter().map(|e| e.path.as_str()).collect();
        // `empty` has no linked file to recreate it, so it travels; `sub` comes back with its file.
        assert_eq!(sent, ["empty", "f3.txt", "new.txt"]);
        assert_eq!(delta.link.len(), 20);
        assert_eq!(Delta::between(&v2, None).send.len(), 24, "no base: everything travels");
        assert_eq!(delta.drop, "f3.txt\n");
        assert_eq!(delta.add.lines().map(|l| l.split('\t').next().unwrap()).collect::<Vec<_>>(), ["f3.txt", "new.txt"]);

        let mut stream = Vec::new();
        let n = write_tar(app.path(), &delta.send, &mut stream, &mut |_| {}).unwrap();
        assert_eq!(n, stream.len() as u64);
        let out = tempfile::tempdir().unwrap();
        let mut tar = cutover_process::command("tar")
            .args(["-xf", "-", "--no-same-owner"])
            .current_dir(out.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tar.stdin.take().unwrap().write_all(&stream).unwrap();
        assert!(tar.wait().unwrap().success());
        assert_eq!(std::fs::read_to_string(out.path().join("f3.txt")).unwrap(), "changed");
        assert_eq!(std::fs::read_to_string(out.path().join("new.txt")).unwrap(), "new");
        assert!(!out.path().join("f1.txt").exists());
    }

    #[test]
    fn a_file_edited_after_hashing_is_an_error_not_a_silent_upload() {
        let app = tempfile::tempdir().unwrap();
        std::fs::write(app.path().join("a.txt"), "hashed content").unwrap();
        let manifest = Manifest::scan(app.path(), &Excludes::new([])).unwrap();
        let entries: Vec<&Entry> = manifest.entries.iter().collect();
        for edited in ["hashed CONTENT", "hashed", "hashed content, and more"] {
            std::fs::write(app.path().join("a.txt"), edited).unwrap();
            let err = write_tar(app.path(), &entries, &mut Vec::new(), &mut |_| {}).unwrap_err();
            assert!(err.to_string().contains("while it was being uploaded"), "{edited}: {err}");
        }
    }

    /// Unpacks `stream` with the system's tar, as a host does.
    fn unpack(stream: &[u8]) -> tempfile::TempDir {
        let out = tempfile::tempdir().unwrap();
        let mut tar = cutover_process::command("tar")
            .args(["-xf", "-", "--no-same-owner"])
            .current_dir(out.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        tar.stdin.take().unwrap().write_all(stream).unwrap();
        assert!(tar.wait().unwrap().success());
        out
    }

    #[test]
    fn files_with_holes_travel_as_sparse_members_and_unpack_with_their_holes() {
        use std::os::unix::fs::{FileExt, MetadataExt};
        const MIB: u64 = 1 << 20;
        let app = tempfile::tempdir().unwrap();
        let long_dir = "d".repeat(120);
        std::fs::create_dir_all(app.path().join(&long_dir)).unwrap();
        // (name, size, where data is written): data in the middle, at the end, none; a map
        // longer than the header's four slots; a name past the header's 100 bytes.
        let files: Vec<(String, u64, Vec<u64>)> = vec![
            ("middle.bin".into(), 100 * MIB, vec![0, 50 * MIB]),
            ("ends-in-data.bin".into(), 8 * MIB, vec![8 * MIB - 64]),
            ("all-hole.bin".into(), 16 * MIB, vec![]),
            ("many.bin".into(), 64 * MIB, (0..30).map(|i| i * 2 * MIB + 4096).collect()),
            (format!("{long_dir}/long.bin"), 4 * MIB, vec![MIB]),
        ];
        for (name, size, at) in &files {
            let file = std::fs::File::create(app.path().join(name)).unwrap();
            file.set_len(*size).unwrap();
            for &offset in at {
                file.write_all_at(format!("data at {offset}").as_bytes(), offset).unwrap();
            }
        }
        std::fs::write(app.path().join("plain.txt"), "no holes").unwrap();
        let manifest = Manifest::scan(app.path(), &Excludes::new([])).unwrap();
        let entries: Vec<&Entry> = manifest.entries.iter().collect();
        let mut stream = Vec::new();
        write_tar(app.path(), &entries, &mut stream, &mut |_| {}).unwrap();
        assert!(stream.len() < (MIB as usize), "holes do not travel: {} bytes sent", stream.len());

        let out = unpack(&stream);
        for (name, size, _) in &files {
            let (local, there) = (app.path().join(name), out.path().join(name));
            let meta = std::fs::metadata(&there).unwrap();
            assert_eq!(meta.len(), *size, "{name}: size");
            assert!(meta.blocks() * 512 < size / 4, "{name}: {} bytes allocated of {size}", meta.blocks() * 512);
            assert!(std::fs::read(&local).unwrap() == std::fs::read(&there).unwrap(), "{name}: content");
        }
        assert_eq!(std::fs::read_to_string(out.path().join("plain.txt")).unwrap(), "no holes");

        // A hole written into after hashing is caught like any other edit.
        std::fs::File::options()
            .write(true)
            .open(app.path().join("middle.bin"))
            .unwrap()
            .write_all_at(b"late", 70 * MIB)
            .unwrap();
        let err = write_tar(app.path(), &entries, &mut Vec::new(), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("`middle.bin` changed while it was being uploaded"), "{err}");
    }
}

//! A report is written whole or not at all: a temporary file beside the target, renamed over it.

use std::io::Write;
use std::path::Path;

use crate::ReportError;

/// Writes `text` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a page and a failed write leaves the old one.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ReportError> {
    let fail = |source| ReportError::Write { path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::Builder::new().prefix(".report-").suffix(".tmp").tempfile_in(dir).map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_replaces_the_old_one_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/report.html");
        write_atomically(&path, "one").unwrap();
        write_atomically(&path, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["report.html"]);
        let err = write_atomically(&dir.path().join("out/report.html/x"), "three").unwrap_err();
        assert!(matches!(err, ReportError::Write { .. }), "{err}");
    }
}

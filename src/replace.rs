//! Put a whole file in place of another, so that rpm and people see either the old file or
//! the new one, never half of one, and a failed write leaves no temporary file behind.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// Writes `text` to `path` through a temporary name beside it (`.NAME.tmp`, which ends in
/// neither `.files` nor `.specpart`, so rpm never reads it) renamed into place. When writing
/// or renaming fails (a full disk, a read-only directory) the temporary file is removed: a
/// full disk must not stay full of a half-written list.
pub fn replace_file(path: &Path, text: &[u8]) -> Result<(), Error> {
    let temp = temporary_name(path);
    let written = std::fs::write(&temp, text)
        .map_err(|e| Error::io(&temp, e))
        .and_then(|()| std::fs::rename(&temp, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        // Gone already, or never made: nothing is left either way.
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The temporary name [`replace_file`] writes `path` through.
pub fn temporary_name(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.files");
        std::fs::write(&path, "old\n").unwrap();
        replace_file(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new\n");
        assert!(!temporary_name(&path).exists());
    }

    /// A rename that fails (the target is a non-empty directory) removes the temporary file
    /// it had written; the error names the target.
    #[test]
    fn a_failed_rename_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.files");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "").unwrap();
        let err = replace_file(&path, b"text\n").unwrap_err().to_string();
        assert!(err.contains("b.files"), "{err}");
        assert!(!temporary_name(&path).exists(), "temporary left behind");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the directory that was there");
    }
}

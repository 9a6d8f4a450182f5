//! Apply: replace a duplicate cache by a hardlink to the kept one, atomically.
//!
//! The new link is made under a temporary name in the same directory and renamed over the
//! duplicate, so at every instant, killed or not, the duplicate's path holds a whole valid file,
//! and no byte is ever written into a file that has other links (Python's importer relies on
//! rename too, so a later recompilation breaks a link instead of changing other levels).

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::group::{Identity, InspectedCache};

const TEMP_PREFIX: &[u8] = b".brp-pyc-";
const TEMP_SUFFIX: &[u8] = b".tmp";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether a file name is one of the temporary names this module creates
/// (`.brp-pyc-<pid>-<n>.tmp`), which a killed run may leave behind.
pub fn is_temp_name(name: &[u8]) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|mid| !mid.is_empty() && mid.iter().all(|&b| b.is_ascii_digit() || b == b'-'))
}

fn temp_path(dir: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{}{}-{n}{}", OsStr::from_bytes(TEMP_PREFIX).to_string_lossy(), std::process::id(), ".tmp");
    dir.join(name)
}

/// What applying one link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Linked,
    /// The two names had become one inode in the meantime; nothing to do.
    AlreadyLinked,
}

/// Makes `dup` a hardlink of `keep`, after checking that both are still the files that were
/// planned. On any error `dup` is left as it was and the temporary name is removed.
pub fn link_atomically(keep: &InspectedCache, dup: &InspectedCache) -> Result<Applied, Error> {
    let keep_now = recheck(keep)?;
    let dup_now = recheck(dup)?;
    if keep_now.same_inode(&dup_now) {
        return Ok(Applied::AlreadyLinked);
    }
    let dir = dup.path.parent().unwrap_or(Path::new("."));
    let temp = loop {
        let temp = temp_path(dir);
        match std::fs::hard_link(&keep.path, &temp) {
            Ok(()) => break temp,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(link_error(keep, dup, source)),
        }
    };
    let result = swap_in(&temp, keep, dup);
    if result.is_err() || std::fs::symlink_metadata(&temp).is_ok() {
        // rename(2) between two names of one inode succeeds and does nothing, which would leave
        // the temporary name behind; and on failure it must not stay either.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn swap_in(temp: &Path, keep: &InspectedCache, dup: &InspectedCache) -> Result<Applied, Error> {
    // The kept name could have been replaced between the re-check and link(2).
    let linked = std::fs::symlink_metadata(temp).map_err(|e| Error::io(temp, e))?;
    if !keep.id.same_inode(&Identity::of(&linked)) {
        return Err(Error::Changed(keep.path.clone()));
    }
    std::fs::rename(temp, &dup.path).map_err(|source| link_error(keep, dup, source))?;
    Ok(Applied::Linked)
}

fn recheck(cache: &InspectedCache) -> Result<Identity, Error> {
    let meta = std::fs::symlink_metadata(&cache.path).map_err(|e| Error::io(&cache.path, e))?;
    let now = Identity::of(&meta);
    if !meta.is_file() || !cache.id.unchanged(&now) {
        return Err(Error::Changed(cache.path.clone()));
    }
    Ok(now)
}

fn link_error(keep: &InspectedCache, dup: &InspectedCache, source: std::io::Error) -> Error {
    Error::Link { dup: dup.path.clone(), keep: keep.path.clone(), source }
}

/// Removes a temporary name left by a killed run. Such a name is always a second link of a
/// cache (the run died between link(2) and rename(2)), so removing it loses nothing; a file
/// with the name but a single link is not ours to remove and is left alone.
pub fn remove_stale_temp(path: &Path) -> Result<bool, Error> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() || Identity::of(&meta).nlink < 2 {
        return Ok(false);
    }
    std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Level;

    fn inspected(path: &Path, level: Level) -> InspectedCache {
        let id = Identity::of(&std::fs::symlink_metadata(path).unwrap());
        InspectedCache { path: path.to_path_buf(), level, id }
    }

    fn ino(path: &Path) -> u64 {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path).unwrap())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn links_and_leaves_no_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"same").unwrap();
        std::fs::write(&b, b"same").unwrap();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        assert_eq!(link_atomically(&keep, &dup).unwrap(), Applied::Linked);
        assert_eq!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
        // Planned again with stale identities: b is now a's inode, which is not what was planned.
        assert!(matches!(link_atomically(&keep, &dup), Err(Error::Changed(p)) if p == b));
    }

    #[test]
    fn a_file_changed_after_planning_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"same").unwrap();
        std::fs::write(&b, b"same").unwrap();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        // Replaced as Python's importer does: a new file renamed over the old name.
        std::fs::write(dir.path().join("new"), b"diff").unwrap();
        std::fs::rename(dir.path().join("new"), &b).unwrap();
        assert!(matches!(link_atomically(&keep, &dup), Err(Error::Changed(p)) if p == b));
        assert_eq!(std::fs::read(&b).unwrap(), b"diff");
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn temporary_names_are_recognised_and_only_second_links_removed() {
        assert!(is_temp_name(b".brp-pyc-123-4.tmp"));
        assert!(!is_temp_name(b".brp-pyc-.tmp"));
        assert!(!is_temp_name(b".brp-pyc-12x.tmp"));
        assert!(!is_temp_name(b"brp-pyc-1.tmp"));
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("m.cpython-311.pyc");
        std::fs::write(&cache, b"x").unwrap();
        let temp = temp_path(dir.path());
        assert!(is_temp_name(temp.file_name().unwrap().as_bytes()));
        std::fs::hard_link(&cache, &temp).unwrap();
        assert!(remove_stale_temp(&temp).unwrap());
        assert!(!temp.exists() && cache.exists());
        std::fs::write(&temp, b"lone").unwrap();
        assert!(!remove_stale_temp(&temp).unwrap());
        assert!(temp.exists());
    }
}

//! Apply: replace a duplicate cache by a hardlink to the kept one, atomically.
//!
//! The new link is made under a temporary name in the same directory and renamed over the
//! duplicate, so at every instant, killed or not, the duplicate's path holds a whole valid file,
//! and no byte is ever written into a file that has other links (Python's importer relies on
//! rename too, so a later recompilation breaks a link instead of changing other levels).

use std::ffi::CString;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use std::fs::File;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::classify::{temp_kind, TempKind, COPY_MARK, TEMP_PREFIX, TEMP_SUFFIX};
use crate::error::Error;
use crate::group::{Identity, InspectedCache};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name unique to this process and call; the pid is asked once, not per link.
fn temp_name(kind: TempKind) -> CString {
    static PID: OnceLock<u32> = OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = TEMP_PREFIX.to_vec();
    if kind == TempKind::Copy {
        name.extend_from_slice(COPY_MARK);
    }
    name.extend_from_slice(format!("{pid}-{n}").as_bytes());
    name.extend_from_slice(TEMP_SUFFIX);
    CString::new(name).expect("no NUL in a temporary name")
}

/// Makes `dup` a hardlink of `keep`, both names in the directory open as `dir`, after checking
/// that both are still the files that were planned (`dup` before, `keep` through its new name). On any error `dup` is left as it was and
/// the temporary name is removed. Every call is relative to `dir`: no path is resolved again,
/// and a directory renamed meanwhile cannot redirect the link elsewhere.
pub fn link_atomically(dir: BorrowedFd<'_>, keep: &InspectedCache, dup: &InspectedCache) -> Result<(), Error> {
    // The planner never links two names of one inode, so a duplicate that passes the re-check
    // is still a file of its own.
    recheck(dir, dup)?;
    let temp = loop {
        let temp = temp_name(TempKind::Link);
        match rustix::fs::linkat(dir, &keep.name, dir, &temp, AtFlags::empty()) {
            Ok(()) => break temp,
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(link_error(keep, dup, e.into())),
        }
    };
    let result = swap_in(dir, &temp, keep, dup);
    if result.is_err() || rustix::fs::statat(dir, &temp, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
        // rename(2) between two names of one inode succeeds and does nothing, which would leave
        // the temporary name behind; and on failure it must not stay either.
        let _ = rustix::fs::unlinkat(dir, &temp, AtFlags::empty());
    }
    result
}

fn swap_in(dir: BorrowedFd<'_>, temp: &CString, keep: &InspectedCache, dup: &InspectedCache) -> Result<(), Error> {
    // The new name is the kept file as it is now: it must still be the planned inode, with
    // the planned size, mode, owner and mtime (this is the re-check of the kept file, made
    // after link(2) so that no replacement can slip in between).
    let linked = rustix::fs::statat(dir, temp, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| Error::io(&keep.path, e.into()))?;
    if !keep.id.unchanged(&Identity::of_stat(&linked)) {
        return Err(Error::Changed(keep.path.clone()));
    }
    rustix::fs::renameat(dir, temp, dir, &dup.name).map_err(|e| link_error(keep, dup, e.into()))
}

/// Gives `cache` an inode of its own: a copy of its bytes, mode, owner and mtime under a
/// temporary name, renamed over it, so that its other links (in another subpackage) keep the
/// old inode. As for a link, the path always holds a whole valid file and nothing is written
/// into a file that has other links.
pub fn separate_atomically(dir: BorrowedFd<'_>, cache: &InspectedCache) -> Result<(), Error> {
    recheck(dir, cache)?;
    let io = |e: Errno| Error::io(&cache.path, e.into());
    let source = File::from(rustix::fs::openat(dir, &cache.name, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()).map_err(io)?);
    let (temp, target) = loop {
        let temp = temp_name(TempKind::Copy);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        match rustix::fs::openat(dir, &temp, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => break (temp, File::from(fd)),
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(io(e)),
        }
    };
    let result = copy_into(&source, &target, cache).and_then(|()| {
        // The original must still be what was planned, now that its bytes were read.
        recheck(dir, cache)?;
        rustix::fs::renameat(dir, &temp, dir, &cache.name).map_err(io)
    });
    if result.is_err() {
        let _ = rustix::fs::unlinkat(dir, &temp, AtFlags::empty());
    }
    result
}

fn copy_into(mut source: &File, mut target: &File, cache: &InspectedCache) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::io(&cache.path, e);
    let copied = std::io::copy(&mut source, &mut target).map_err(io)?;
    if copied != cache.id.size {
        return Err(Error::Changed(cache.path.clone()));
    }
    let errno = |e: Errno| Error::io(&cache.path, e.into());
    rustix::fs::fchown(target, Some(rustix::fs::Uid::from_raw(cache.id.uid)), Some(rustix::fs::Gid::from_raw(cache.id.gid)))
        .map_err(errno)?;
    rustix::fs::fchmod(target, Mode::from_raw_mode(cache.id.mode & 0o7777)).map_err(errno)?;
    let mtime = rustix::fs::Timespec { tv_sec: cache.id.mtime.0, tv_nsec: cache.id.mtime.1 as _ };
    let times = rustix::fs::Timestamps { last_access: mtime, last_modification: mtime };
    rustix::fs::futimens(target, &times).map_err(errno)
}

fn recheck(dir: BorrowedFd<'_>, cache: &InspectedCache) -> Result<Identity, Error> {
    let stat = rustix::fs::statat(dir, &cache.name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| Error::io(&cache.path, e.into()))?;
    let now = Identity::of_stat(&stat);
    if FileType::from_raw_mode(stat.st_mode as _) != FileType::RegularFile || !cache.id.unchanged(&now) {
        return Err(Error::Changed(cache.path.clone()));
    }
    Ok(now)
}

fn link_error(keep: &InspectedCache, dup: &InspectedCache, source: std::io::Error) -> Error {
    Error::Link { dup: dup.path.clone(), keep: keep.path.clone(), source }
}

/// Removes a temporary name left by a killed run. A link temporary is removed only when it is
/// a second link of one of the directory's caches (`cache_inodes`), as a killed link leaves
/// it; a copy temporary is removed when it is a regular file, a copy of a cache that is still
/// there. Anything else with such a name is not ours and is left alone.
pub fn remove_stale_temp(path: &Path, cache_inodes: &[u64]) -> Result<bool, Error> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    let id = Identity::of(&meta);
    let ours = match path.file_name().and_then(|n| temp_kind(n.as_bytes())) {
        Some(TempKind::Link) => id.nlink >= 2 && cache_inodes.contains(&id.ino),
        Some(TempKind::Copy) => true,
        None => false,
    };
    if !meta.is_file() || !ours {
        return Ok(false);
    }
    std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{is_temp_name, Level};
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;

    fn inspected(path: &Path, level: Level) -> InspectedCache {
        let id = Identity::of(&std::fs::symlink_metadata(path).unwrap());
        let name = CString::new(path.file_name().unwrap().as_bytes()).unwrap();
        InspectedCache { path: path.to_path_buf(), name, level, id }
    }

    fn open_dir(path: &Path) -> std::os::fd::OwnedFd {
        rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty()).unwrap()
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
        let fd = open_dir(dir.path());
        link_atomically(fd.as_fd(), &keep, &dup).unwrap();
        assert_eq!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
        // Planned again with stale identities: b is now a's inode, which is not what was planned.
        assert!(matches!(link_atomically(fd.as_fd(), &keep, &dup), Err(Error::Changed(p)) if p == b));
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
        let fd = open_dir(dir.path());
        assert!(matches!(link_atomically(fd.as_fd(), &keep, &dup), Err(Error::Changed(p)) if p == b));
        assert_eq!(std::fs::read(&b).unwrap(), b"diff");
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_kept_file_written_in_place_after_planning_is_not_linked_to() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"same").unwrap();
        std::fs::write(&b, b"same").unwrap();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&a, b"SAME").unwrap(); // same inode, same size, new bytes and mtime
        let fd = open_dir(dir.path());
        assert!(matches!(link_atomically(fd.as_fd(), &keep, &dup), Err(Error::Changed(p)) if p == a));
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(std::fs::read(&b).unwrap(), b"same");
        assert_eq!(names(dir.path()), ["a", "b"], "the temporary link is gone");
    }

    #[test]
    fn separating_keeps_bytes_mode_and_mtime_and_leaves_the_other_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"shared bytes").unwrap();
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        let before = std::fs::metadata(&b).unwrap();
        let fd = open_dir(dir.path());
        separate_atomically(fd.as_fd(), &inspected(&b, Level::One)).unwrap();
        let after = std::fs::metadata(&b).unwrap();
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(std::fs::read(&b).unwrap(), b"shared bytes");
        assert_eq!(after.permissions().mode(), before.permissions().mode());
        assert_eq!(after.modified().unwrap(), before.modified().unwrap());
        assert_eq!(std::fs::metadata(&a).unwrap().len(), 12);
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn temporary_names_are_recognised_and_only_ours_removed() {
        assert_eq!(temp_kind(b".brp-pyc-123-4.tmp"), Some(TempKind::Link));
        assert_eq!(temp_kind(b".brp-pyc-copy-123-4.tmp"), Some(TempKind::Copy));
        assert!(!is_temp_name(b".brp-pyc-.tmp"));
        assert!(!is_temp_name(b".brp-pyc-copy-.tmp"));
        assert!(!is_temp_name(b".brp-pyc-12x.tmp"));
        assert!(!is_temp_name(b"brp-pyc-1.tmp"));
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("m.cpython-311.pyc");
        std::fs::write(&cache, b"x").unwrap();
        let temp = dir.path().join(std::ffi::OsStr::from_bytes(temp_name(TempKind::Link).as_bytes()));
        assert!(is_temp_name(temp.file_name().unwrap().as_bytes()));
        std::fs::hard_link(&cache, &temp).unwrap();
        assert!(!remove_stale_temp(&temp, &[ino(&cache) + 1]).unwrap(), "a link of something else is not ours");
        assert!(remove_stale_temp(&temp, &[ino(&cache)]).unwrap());
        assert!(!temp.exists() && cache.exists());
        std::fs::write(&temp, b"lone").unwrap();
        assert!(!remove_stale_temp(&temp, &[ino(&temp)]).unwrap(), "a single link is nobody's second link");
        assert!(temp.exists());
        let copy = dir.path().join(std::ffi::OsStr::from_bytes(temp_name(TempKind::Copy).as_bytes()));
        std::fs::write(&copy, b"x").unwrap();
        assert!(remove_stale_temp(&copy, &[]).unwrap(), "a leftover copy is always removable");
    }
}

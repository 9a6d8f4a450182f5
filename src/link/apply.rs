//! Apply: replace a duplicate cache by a hardlink to the kept one, atomically.
//!
//! The new link is made under a temporary name in the same directory and renamed over the
//! duplicate, so at every instant, killed or not, the duplicate's path holds a whole valid file,
//! and no byte is ever written into a file that has other links (Python's importer relies on
//! rename too, so a later recompilation breaks a link instead of changing other levels).

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use std::fs::File;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::error::Error;
use crate::link::classify::{temp_kind, Level, TempKind, COPY_MARK, TEMP_PREFIX, TEMP_SUFFIX};
use crate::link::group::{Identity, InspectedCache};

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

/// Why names made in the directory open as `dir` could not be removed again: its inode flags
/// (FS_IOC_GETFLAGS) say append-only (`chattr +a`: names can be made, not removed or renamed
/// away) or immutable (`chattr +i`). `None` also where the filesystem keeps no such flags.
pub fn entries_unremovable(dir: BorrowedFd<'_>) -> Option<&'static str> {
    use rustix::fs::IFlags;
    let flags = rustix::fs::ioctl_getflags(dir).ok()?;
    if flags.contains(IFlags::IMMUTABLE) {
        Some("immutable (chattr +i)")
    } else if flags.contains(IFlags::APPEND) {
        Some("append-only (chattr +a)")
    } else {
        None
    }
}

/// Makes `dup` a hardlink of `keep`, both names in the directory open as `dir`, after checking
/// that both are still the files that were planned (`dup` before and, through the exchange,
/// after; `keep` through its new name). On any error `dup` is left as it was and the temporary
/// name is removed; a temporary name that cannot be removed is a warning in `warnings`. Every
/// call is relative to `dir`: no path is resolved again, and a directory renamed meanwhile
/// cannot redirect the link elsewhere.
pub fn link_atomically(
    dir: BorrowedFd<'_>,
    keep: &InspectedCache,
    dup: &InspectedCache,
    warnings: &mut Vec<Error>,
) -> Result<(), Error> {
    // The planner never links two names of one inode, so a duplicate that passes the re-check
    // is still a file of its own. The kept file is re-checked here too, ctime included, as
    // link(2) is about to set its ctime.
    recheck(dir, dup)?;
    recheck(dir, keep)?;
    let temp = loop {
        let temp = temp_name(TempKind::Link);
        match rustix::fs::linkat(dir, &keep.name, dir, &temp, AtFlags::empty()) {
            Ok(()) => break temp,
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(link_error(keep, dup, e.into())),
        }
    };
    // The new name is the kept file as it is now: it must still be the planned inode, with
    // the planned size, mode, owner and mtime (this re-check of the kept file, made after
    // link(2), lets no replacement slip in between; the ctime is the one link(2) just set).
    let kept_as_planned = match rustix::fs::statat(dir, &temp, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if keep.id.unchanged_but_ctime(&Identity::of_stat(&stat)) => Ok(()),
        Ok(_) => Err(Error::Changed(keep.path.clone())),
        Err(e) => Err(Error::io(&keep.path, e.into())),
    };
    if let Err(e) = kept_as_planned {
        remove_temp(dir, &temp, &dup.path, warnings);
        return Err(e);
    }
    replace_checked(dir, &temp, dup, |e| link_error(keep, dup, e.into()), warnings)
}

/// Puts the file named `temp` in `dir` in the place of `planned`, making sure that the file
/// it replaces is `planned` as inspected. renameat2(RENAME_EXCHANGE) swaps the two names, so
/// the file taken out can be checked afterwards: when a concurrent writer put another file
/// there since the re-check, the names are swapped back and the result is [`Error::Changed`].
/// Where the filesystem has no exchange, the re-check right before a plain rename is all there
/// is. In every case `temp` is gone afterwards, unless it names a stranger's file.
fn replace_checked(
    dir: BorrowedFd<'_>,
    temp: &CStr,
    planned: &InspectedCache,
    rename_error: impl Fn(Errno) -> Error,
    warnings: &mut Vec<Error>,
) -> Result<(), Error> {
    match rustix::fs::renameat_with(dir, temp, dir, &planned.name, RenameFlags::EXCHANGE) {
        Ok(()) => {}
        // No exchange on this filesystem (EINVAL), or before Linux 3.15 (ENOSYS).
        Err(Errno::INVAL | Errno::NOSYS) => {
            let renamed = recheck(dir, planned)
                .and_then(|_| rustix::fs::renameat(dir, temp, dir, &planned.name).map_err(&rename_error));
            // rename(2) between two names of one inode succeeds and does nothing, which would
            // leave the temporary name behind; and on failure it must not stay either.
            if renamed.is_err() || rustix::fs::statat(dir, temp, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                remove_temp(dir, temp, &planned.path, warnings);
            }
            return renamed;
        }
        Err(e) => {
            remove_temp(dir, temp, &planned.path, warnings);
            return Err(rename_error(e));
        }
    }
    // `temp` now names the file that was at the planned name (whose ctime the exchange set).
    let taken_out = rustix::fs::statat(dir, temp, AtFlags::SYMLINK_NOFOLLOW);
    let as_planned = taken_out.is_ok_and(|stat| {
        FileType::from_raw_mode(stat.st_mode as _) == FileType::RegularFile
            && planned.id.unchanged_but_ctime(&Identity::of_stat(&stat))
    });
    if as_planned {
        remove_temp(dir, temp, &planned.path, warnings);
        return Ok(());
    }
    // Someone else's file: give its name back, then drop ours.
    match rustix::fs::renameat_with(dir, temp, dir, &planned.name, RenameFlags::EXCHANGE) {
        Ok(()) => remove_temp(dir, temp, &planned.path, warnings),
        Err(e) => warnings.push(Error::Displaced {
            path: planned.path.clone(),
            temp: temp_path(&planned.path, temp),
            source: e.into(),
        }),
    }
    Err(Error::Changed(planned.path.clone()))
}

/// Removes a temporary name of ours; when that fails, says so in `warnings`.
fn remove_temp(dir: BorrowedFd<'_>, temp: &CStr, beside: &Path, warnings: &mut Vec<Error>) {
    if let Err(e) = rustix::fs::unlinkat(dir, temp, AtFlags::empty()) {
        warnings.push(Error::TempLeft { path: temp_path(beside, temp), source: e.into() });
    }
}

/// The full path of a temporary name, for messages: beside `path`, in the same directory.
fn temp_path(beside: &Path, temp: &CStr) -> PathBuf {
    beside.with_file_name(OsStr::from_bytes(temp.to_bytes()))
}

/// Gives `cache` an inode of its own: a copy of its bytes, mode, owner and mtime, renamed over
/// it, so that its other links (in another subpackage) keep the old inode. As for a link, the
/// path always holds a whole valid file and nothing is written into a file that has other
/// links. The copy is written unnamed (O_TMPFILE) and named only once complete, so a
/// temporary name left by a kill holds exactly the bytes and attributes of a cache beside it,
/// which is how a later run knows it for ours.
pub fn separate_atomically(
    dir: BorrowedFd<'_>,
    cache: &InspectedCache,
    warnings: &mut Vec<Error>,
) -> Result<(), Error> {
    recheck(dir, cache)?;
    let io = |e: Errno| Error::io(&cache.path, e.into());
    let source = File::from(
        rustix::fs::openat(dir, &cache.name, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(io)?,
    );
    let unnamed =
        rustix::fs::openat(dir, c".", OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC, Mode::from_raw_mode(0o600));
    let temp = match unnamed {
        Ok(fd) => {
            let target = File::from(fd);
            copy_into(&source, &target, cache)?;
            name_unnamed(dir, &target).map_err(io)?
        }
        // No O_TMPFILE on this filesystem: a named copy (a kill may leave it partial, and a
        // later run will not take a partial copy for ours).
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
            let (temp, target) = loop {
                let temp = temp_name(TempKind::Copy);
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
                match rustix::fs::openat(dir, &temp, flags, Mode::from_raw_mode(0o600)) {
                    Ok(fd) => break (temp, File::from(fd)),
                    Err(Errno::EXIST) => continue,
                    Err(e) => return Err(io(e)),
                }
            };
            if let Err(e) = copy_into(&source, &target, cache) {
                remove_temp(dir, &temp, &cache.path, warnings);
                return Err(e);
            }
            temp
        }
        Err(e) => return Err(io(e)),
    };
    // The original must still be what was planned, now that its bytes were read; the
    // exchange checks it once more.
    if let Err(e) = recheck(dir, cache) {
        remove_temp(dir, &temp, &cache.path, warnings);
        return Err(e);
    }
    replace_checked(dir, &temp, cache, io, warnings)
}

/// Gives a complete O_TMPFILE copy a temporary name in `dir`, through /proc (which needs no
/// privilege) or, without /proc, AT_EMPTY_PATH.
fn name_unnamed(dir: BorrowedFd<'_>, file: &File) -> Result<CString, Errno> {
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    loop {
        let temp = temp_name(TempKind::Copy);
        let linked = match rustix::fs::linkat(rustix::fs::CWD, proc_path.as_str(), dir, &temp, AtFlags::SYMLINK_FOLLOW)
        {
            Err(Errno::NOENT) => rustix::fs::linkat(file, c"", dir, &temp, AtFlags::EMPTY_PATH),
            other => other,
        };
        match linked {
            Ok(()) => return Ok(temp),
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn copy_into(mut source: &File, mut target: &File, cache: &InspectedCache) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::io(&cache.path, e);
    let copied = std::io::copy(&mut source, &mut target).map_err(io)?;
    if copied != cache.id.size {
        return Err(Error::Changed(cache.path.clone()));
    }
    let errno = |e: Errno| Error::io(&cache.path, e.into());
    rustix::fs::fchown(
        target,
        Some(rustix::fs::Uid::from_raw(cache.id.uid)),
        Some(rustix::fs::Gid::from_raw(cache.id.gid)),
    )
    .map_err(errno)?;
    rustix::fs::fchmod(target, Mode::from_raw_mode(cache.id.mode & 0o7777)).map_err(errno)?;
    let mtime = rustix::fs::Timespec { tv_sec: cache.id.mtime.0, tv_nsec: cache.id.mtime.1 as _ };
    let times = rustix::fs::Timestamps { last_access: mtime, last_modification: mtime };
    rustix::fs::futimens(target, &times).map_err(errno)
}

/// After a link or a separation of ours, takes the ctime that our own calls set on the inodes
/// in `touched` (the kept file's and the duplicate's, or the separated one's) as the planned one
/// for the other names of those inodes in `caches`, so that their re-check, which compares the
/// ctime, still passes. Those inodes passed a full re-check right before our calls, so only a
/// change within them is taken along; a name whose other attributes differ keeps its planned
/// identity and fails its re-check.
pub fn take_own_ctimes(dir: BorrowedFd<'_>, caches: &mut [InspectedCache], touched: &[Identity]) {
    for cache in caches.iter_mut().filter(|c| touched.iter().any(|t| t.same_inode(&c.id))) {
        if let Ok(stat) = rustix::fs::statat(dir, &cache.name, AtFlags::SYMLINK_NOFOLLOW) {
            let now = Identity::of_stat(&stat);
            if cache.id.unchanged_but_ctime(&now) {
                cache.id.ctime = now.ctime;
            }
        }
    }
}

/// Whether the file named as `cache` is still the regular file that was inspected: inode, size,
/// mode, owner, mtime and ctime.
fn recheck(dir: BorrowedFd<'_>, cache: &InspectedCache) -> Result<Identity, Error> {
    let stat = rustix::fs::statat(dir, &cache.name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::io(&cache.path, e.into()))?;
    let now = Identity::of_stat(&stat);
    if FileType::from_raw_mode(stat.st_mode as _) != FileType::RegularFile || !cache.id.unchanged(&now) {
        return Err(Error::Changed(cache.path.clone()));
    }
    Ok(now)
}

fn link_error(keep: &InspectedCache, dup: &InspectedCache, source: std::io::Error) -> Error {
    Error::Link { dup: dup.path.clone(), keep: keep.path.clone(), source }
}

/// Removes a temporary name that a killed run left in the directory open as `dir`, when it
/// provably is ours and removing it loses nothing, so that nobody else's file is ever removed:
/// it is a second link of one of the directory's `caches` (a link made, not yet exchanged), or
/// a file with the bytes, size, mode and owner of one of them (a duplicate taken out by the
/// exchange, or a copy, which is named only once complete), and for a copy the mtime too.
/// Anything else with such a name (a user's file, a copy in flight) is left alone (`Ok(false)`).
pub fn remove_stale_temp(dir: BorrowedFd<'_>, path: &Path, caches: &[InspectedCache]) -> Result<bool, Error> {
    let Some(file_name) = path.file_name() else { return Ok(false) };
    let Some(kind) = temp_kind(file_name.as_bytes()) else { return Ok(false) };
    let name = CString::new(file_name.as_bytes()).map_err(|_| Error::Changed(path.to_path_buf()))?;
    let stat = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| Error::io(path, e.into()))?;
    if FileType::from_raw_mode(stat.st_mode as _) != FileType::RegularFile {
        return Ok(false);
    }
    let id = Identity::of_stat(&stat);
    let temp = InspectedCache { path: path.to_path_buf(), name: name.clone(), level: Level::Zero, id: id.clone() };
    let second_link = kind == TempKind::Link && caches.iter().any(|c| c.id.same_inode(&id));
    let ours = second_link
        || caches.iter().any(|c| {
            !c.id.same_inode(&id)
                && c.id.linkable_with(&id)
                && (kind == TempKind::Link || c.id.mtime == id.mtime)
                && crate::link::compare::same_bytes_at(dir, c, &temp).unwrap_or(false)
        });
    if !ours {
        return Ok(false);
    }
    rustix::fs::unlinkat(dir, &name, AtFlags::empty()).map_err(|e| Error::io(path, e.into()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::classify::is_temp_name;
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;

    fn inspected(path: &Path, level: Level) -> InspectedCache {
        let id = Identity::of(&std::fs::symlink_metadata(path).unwrap());
        let name = CString::new(path.file_name().unwrap().as_bytes()).unwrap();
        InspectedCache { path: path.to_path_buf(), name, level, id }
    }

    fn open_dir(path: &Path) -> std::os::fd::OwnedFd {
        rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty())
            .unwrap()
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

    /// A scratch directory with `a` and `b`, two separate files of the same bytes.
    fn two_identical_files() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"same").unwrap();
        std::fs::write(&b, b"same").unwrap();
        (dir, a, b)
    }

    #[test]
    fn links_and_leaves_no_temporary_name() {
        let (dir, a, b) = two_identical_files();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        let fd = open_dir(dir.path());
        link_atomically(fd.as_fd(), &keep, &dup, &mut Vec::new()).unwrap();
        assert_eq!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
        // Planned again with stale identities: b is now a's inode, which is not what was planned.
        assert!(matches!(link_atomically(fd.as_fd(), &keep, &dup, &mut Vec::new()), Err(Error::Changed(p)) if p == b));
    }

    #[test]
    fn a_file_changed_after_planning_is_left_alone() {
        let (dir, a, b) = two_identical_files();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        // Replaced as Python's importer does: a new file renamed over the old name.
        std::fs::write(dir.path().join("new"), b"diff").unwrap();
        std::fs::rename(dir.path().join("new"), &b).unwrap();
        let fd = open_dir(dir.path());
        assert!(matches!(link_atomically(fd.as_fd(), &keep, &dup, &mut Vec::new()), Err(Error::Changed(p)) if p == b));
        assert_eq!(std::fs::read(&b).unwrap(), b"diff");
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_kept_file_written_in_place_after_planning_is_not_linked_to() {
        let (dir, a, b) = two_identical_files();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&a, b"SAME").unwrap(); // same inode, same size, new bytes and mtime
        let fd = open_dir(dir.path());
        assert!(matches!(link_atomically(fd.as_fd(), &keep, &dup, &mut Vec::new()), Err(Error::Changed(p)) if p == a));
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(std::fs::read(&b).unwrap(), b"same");
        assert_eq!(names(dir.path()), ["a", "b"], "the temporary link is gone");
    }

    /// Rewrites `path` in place (same inode, same size, other bytes) and sets its mtime back:
    /// what the size and mtime cannot show, and the ctime does.
    fn rewrite_in_place_keeping_mtime(path: &Path, bytes: &[u8]) {
        use std::io::Write;
        let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20)); // past one timestamp tick
        let mut file = std::fs::File::options().write(true).open(path).unwrap();
        file.write_all(bytes).unwrap();
        file.set_modified(mtime).unwrap(); // utimensat
        assert_eq!(std::fs::metadata(path).unwrap().modified().unwrap(), mtime);
    }

    #[test]
    fn a_duplicate_rewritten_in_place_with_its_size_and_mtime_is_not_linked() {
        let (dir, a, b) = two_identical_files();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        let before = ino(&b);
        rewrite_in_place_keeping_mtime(&b, b"SAME");
        let fd = open_dir(dir.path());
        let result = link_atomically(fd.as_fd(), &keep, &dup, &mut Vec::new());
        assert!(matches!(&result, Err(Error::Changed(p)) if *p == b), "{result:?}");
        assert_eq!(std::fs::read(&b).unwrap(), b"SAME", "the new bytes are kept");
        assert_eq!((ino(&b), std::fs::read(&a).unwrap()), (before, b"same".to_vec()));
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_kept_file_rewritten_in_place_with_its_size_and_mtime_is_not_linked_to() {
        let (dir, a, b) = two_identical_files();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        rewrite_in_place_keeping_mtime(&a, b"SAME");
        let fd = open_dir(dir.path());
        let result = link_atomically(fd.as_fd(), &keep, &dup, &mut Vec::new());
        assert!(matches!(&result, Err(Error::Changed(p)) if *p == a), "{result:?}");
        assert_eq!((std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap()), (b"SAME".to_vec(), b"same".to_vec()));
        assert_ne!(ino(&a), ino(&b));
        assert_eq!(names(dir.path()), ["a", "b"]);
    }

    #[test]
    fn a_cache_rewritten_in_place_with_its_size_and_mtime_is_not_separated() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"shared bytes").unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        let planned = inspected(&b, Level::One);
        rewrite_in_place_keeping_mtime(&b, b"SHARED BYTES");
        let fd = open_dir(dir.path());
        let result = separate_atomically(fd.as_fd(), &planned, &mut Vec::new());
        assert!(matches!(&result, Err(Error::Changed(p)) if *p == b), "{result:?}");
        assert_eq!((ino(&a), std::fs::read(&b).unwrap()), (ino(&b), b"SHARED BYTES".to_vec()));
        assert_eq!(names(dir.path()), ["a", "b"]);
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
        separate_atomically(fd.as_fd(), &inspected(&b, Level::One), &mut Vec::new()).unwrap();
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
        let fd = open_dir(dir.path());
        let cache = dir.path().join("m.cpython-311.pyc");
        std::fs::write(&cache, b"x").unwrap();
        let caches = [inspected(&cache, Level::Zero)];
        let other = dir.path().join("other");
        std::fs::write(&other, b"y").unwrap();
        let temp = dir.path().join(std::ffi::OsStr::from_bytes(temp_name(TempKind::Link).as_bytes()));
        assert!(is_temp_name(temp.file_name().unwrap().as_bytes()));
        std::fs::hard_link(&other, &temp).unwrap();
        assert!(!remove_stale_temp(fd.as_fd(), &temp, &caches).unwrap(), "a link of something else is not ours");
        std::fs::remove_file(&temp).unwrap();
        std::fs::hard_link(&cache, &temp).unwrap();
        assert!(remove_stale_temp(fd.as_fd(), &temp, &caches).unwrap());
        assert!(!temp.exists() && cache.exists());
        std::fs::write(&temp, b"lone").unwrap();
        assert!(!remove_stale_temp(fd.as_fd(), &temp, &caches).unwrap(), "a single link of other bytes is not ours");
        assert!(temp.exists());
        // A duplicate that the exchange took out: the bytes of a cache, another mtime.
        std::fs::write(&temp, b"x").unwrap();
        std::fs::File::options().write(true).open(&temp).unwrap().set_modified(std::time::UNIX_EPOCH).unwrap();
        assert!(remove_stale_temp(fd.as_fd(), &temp, &caches).unwrap());
    }

    /// A file named like a copy of ours is removed only when it is a complete copy of a cache
    /// beside it (bytes, size, mode, owner, mtime): a user's file or another run's copy in
    /// flight stays.
    #[test]
    fn a_copy_temporary_is_removed_only_when_it_is_a_whole_copy_of_a_cache() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path());
        let cache = dir.path().join("m.cpython-311.pyc");
        std::fs::write(&cache, b"cache bytes").unwrap();
        let copy = dir.path().join(".brp-pyc-copy-77-1.tmp");
        let write_copy = |bytes: &[u8]| {
            std::fs::write(&copy, bytes).unwrap();
            std::fs::set_permissions(&copy, std::fs::metadata(&cache).unwrap().permissions()).unwrap();
            let mtime = std::fs::metadata(&cache).unwrap().modified().unwrap();
            std::fs::File::options().write(true).open(&copy).unwrap().set_modified(mtime).unwrap();
        };
        let caches = || [inspected(&cache, Level::Zero)];

        std::fs::write(&copy, b"a user's notes").unwrap();
        assert!(!remove_stale_temp(fd.as_fd(), &copy, &caches()).unwrap(), "other bytes: not ours");
        write_copy(b"cache byteS");
        assert!(!remove_stale_temp(fd.as_fd(), &copy, &caches()).unwrap(), "same size and times, other bytes");
        write_copy(b"cache by");
        assert!(!remove_stale_temp(fd.as_fd(), &copy, &caches()).unwrap(), "a partial copy in flight");
        write_copy(b"cache bytes");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!remove_stale_temp(fd.as_fd(), &copy, &caches()).unwrap(), "other mode: not finished");
        write_copy(b"cache bytes");
        assert!(copy.exists());
        assert!(remove_stale_temp(fd.as_fd(), &copy, &caches()).unwrap(), "a whole copy of the cache");
        assert!(!copy.exists() && std::fs::read(&cache).unwrap() == b"cache bytes");
    }

    /// The window between the re-check of the duplicate and the rename: a concurrent writer
    /// renames a new file over the duplicate. The exchange takes it out, sees that it is not
    /// the planned file, and puts it back.
    #[test]
    fn a_duplicate_replaced_after_its_recheck_is_put_back() {
        let (dir, a, b) = two_identical_files();
        let (keep, dup) = (inspected(&a, Level::Zero), inspected(&b, Level::One));
        let fd = open_dir(dir.path());
        // What link_atomically has done by then: the kept file linked under a temporary name.
        let temp = temp_name(TempKind::Link);
        rustix::fs::linkat(fd.as_fd(), &keep.name, fd.as_fd(), &temp, AtFlags::empty()).unwrap();
        std::fs::write(dir.path().join("new"), b"newer").unwrap();
        std::fs::rename(dir.path().join("new"), &b).unwrap();
        let new_inode = ino(&b);

        let mut warnings = Vec::new();
        let result = replace_checked(fd.as_fd(), &temp, &dup, |e| Error::io(&b, e.into()), &mut warnings);
        assert!(matches!(&result, Err(Error::Changed(p)) if *p == b), "{result:?}");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(std::fs::read(&b).unwrap(), b"newer", "the writer's file is where it put it");
        assert_eq!(ino(&b), new_inode);
        assert_eq!(
            std::os::unix::fs::MetadataExt::nlink(&std::fs::metadata(&a).unwrap()),
            1,
            "the temporary link is gone"
        );
        assert_eq!(names(dir.path()), ["a", "b"]);
    }
}

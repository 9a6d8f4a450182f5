//! Walk: visit every directory below the roots in parallel, without following symlinks.
//!
//! Each directory is opened once, relative to its parent's open descriptor and without
//! following a symlink (so neither PATH_MAX nor a directory swapped for a symlink after its
//! parent was listed can redirect the walk), and listed with getdents; file types come from
//! the listing, so the walk itself `stat`s no file. The caller's visitor runs on each listing in the worker
//! that read it, with the open directory, so the work on one directory (`fstatat` of its
//! caches, comparisons) overlaps the reading of others and resolves one name, not a path.
//! Results come back sorted by path, whatever the number of threads.

use std::ffi::{CString, OsStr};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::error::Error;

/// One entry of a directory listing.
#[derive(Debug)]
pub struct Entry {
    pub name: CString,
    /// As `lstat` would say: a symlink is a symlink.
    pub file_type: FileType,
}

impl Entry {
    pub fn name_bytes(&self) -> &[u8] {
        self.name.to_bytes()
    }

    pub fn name_os(&self) -> &OsStr {
        OsStr::from_bytes(self.name.to_bytes())
    }
}

/// One directory as the visitor sees it: its path, its open descriptor, its entries.
#[derive(Debug)]
pub struct Listing {
    pub path: PathBuf,
    /// Shared with the visits of the subdirectories until they have opened themselves.
    dir: Arc<rustix::fs::Dir>,
    pub entries: Vec<Entry>,
}

impl Listing {
    /// The open directory, for `*at` calls relative to it.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dir.fd().expect("an open Dir has a descriptor")
    }

    pub fn join(&self, name: &Entry) -> PathBuf {
        self.path.join(name.name_os())
    }
}

/// What the visitor returned for each directory (those where it returned something), sorted
/// by path, and the directories that could not be read.
#[derive(Debug)]
pub struct Walk<R> {
    pub dirs: Vec<(PathBuf, R)>,
    pub errors: Vec<Error>,
}

/// Checks that every root is a directory, before anything is touched, and drops roots that
/// lie inside another root so that no file is seen twice. A root that is a symlink to a
/// directory is honoured: it was named explicitly.
pub fn check_roots(roots: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut checked: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(roots.len());
    for root in roots {
        let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
        if !meta.is_dir() {
            return Err(Error::NotADirectory(root.clone()));
        }
        let canonical = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        checked.push((canonical, root.clone()));
    }
    checked.sort();
    let mut kept: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(checked.len());
    for (canonical, root) in checked {
        if !kept.iter().any(|(outer, _)| canonical.starts_with(outer)) {
            kept.push((canonical, root));
        }
    }
    Ok(kept.into_iter().map(|(_, root)| root).collect())
}

/// Visits every directory below the roots (checked by [`check_roots`]), the roots included.
pub fn visit_dirs<R, F>(roots: &[PathBuf], visitor: F) -> Walk<R>
where
    R: Send,
    F: Fn(&Listing) -> Option<R> + Sync,
{
    let results = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let shared = Shared { visitor: &visitor, results: &results, errors: &errors };
    rayon::scope(|scope| {
        for root in roots {
            let shared = &shared;
            let root = root.clone();
            scope.spawn(move |scope| visit(root, None, scope, shared));
        }
    });
    let mut dirs = results.into_inner().unwrap_or_else(|e| e.into_inner());
    dirs.sort_by(|(a, _): &(PathBuf, R), (b, _)| a.cmp(b));
    let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    errors.sort_by_key(|e| e.to_string());
    Walk { dirs, errors }
}

struct Shared<'a, R, F> {
    visitor: &'a F,
    results: &'a Mutex<Vec<(PathBuf, R)>>,
    errors: &'a Mutex<Vec<Error>>,
}

/// Where a directory is opened from: a root by its path, any other directory by its name in
/// its parent's open descriptor.
type Parent = Option<(Arc<rustix::fs::Dir>, CString)>;

fn visit<'s, R, F>(dir: PathBuf, parent: Parent, scope: &rayon::Scope<'s>, shared: &'s Shared<'s, R, F>)
where
    R: Send,
    F: Fn(&Listing) -> Option<R> + Sync,
{
    if crate::interrupt::requested().is_some() {
        return; // stopping: list nothing more
    }
    let listing = match list(dir, parent) {
        Ok(listing) => listing,
        Err(e) => {
            shared.errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
            return;
        }
    };
    for entry in &listing.entries {
        if entry.file_type == FileType::Directory {
            let (sub, parent) = (listing.join(entry), Some((Arc::clone(&listing.dir), entry.name.clone())));
            scope.spawn(move |scope| visit(sub, parent, scope, shared));
        }
    }
    if let Some(result) = (shared.visitor)(&listing) {
        shared.results.lock().unwrap_or_else(|e| e.into_inner()).push((listing.path, result));
    }
}

/// Opens and lists one directory. Below a root, the directory is opened by its name in the
/// parent it was listed in, with O_NOFOLLOW: if it was replaced by a symlink since, it is not
/// followed, and no path is resolved, however deep.
fn list(path: PathBuf, parent: Parent) -> Result<Listing, Error> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = match parent {
        Some((parent, name)) => {
            let parent_fd = parent.fd().map_err(|e| Error::io(&path, e.into()))?;
            rustix::fs::openat(parent_fd, &name, flags | OFlags::NOFOLLOW, Mode::empty())
        }
        None => rustix::fs::open(&path, flags, Mode::empty()),
    }
    .map_err(|e| Error::io(&path, e.into()))?;
    let mut dir = rustix::fs::Dir::new(fd).map_err(|e| Error::io(&path, e.into()))?;
    let mut entries = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(|e| Error::io(&path, e.into()))?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            entries.push(Entry { name: name.to_owned(), file_type: entry.file_type() });
        }
    }
    // Some filesystems give no type in the listing: ask for those.
    for entry in entries.iter_mut().filter(|e| e.file_type == FileType::Unknown) {
        let fd = dir.fd().map_err(|e| Error::io(&path, e.into()))?;
        let stat = rustix::fs::statat(fd, &entry.name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::io(&path.join(entry.name_os()), e.into()))?;
        entry.file_type = FileType::from_raw_mode(stat.st_mode as _);
    }
    Ok(Listing { path, dir: Arc::new(dir), entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_every_directory_once_in_path_order_without_following_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["b/c", "a", "b/a"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("b/f"), b"").unwrap();
        std::os::unix::fs::symlink(dir.path().join("b"), dir.path().join("a/link")).unwrap();
        let walk = visit_dirs(&[dir.path().to_path_buf()], |listing| Some(listing.entries.len()));
        let seen: Vec<(String, usize)> = walk
            .dirs
            .iter()
            .map(|(p, n)| (p.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned(), *n))
            .collect();
        let expect = [("", 2), ("a", 1), ("b", 3), ("b/a", 0), ("b/c", 0)];
        assert_eq!(seen, expect.map(|(p, n)| (p.to_string(), n)));
        assert!(walk.errors.is_empty());
    }

    #[test]
    fn nested_roots_are_walked_once_and_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let roots = check_roots(&[dir.path().join("a"), dir.path().to_path_buf()]).unwrap();
        assert_eq!(roots, [dir.path().to_path_buf()]);
        std::fs::write(dir.path().join("f"), b"").unwrap();
        assert!(matches!(check_roots(&[dir.path().join("f")]), Err(Error::NotADirectory(_))));
        assert!(matches!(check_roots(&[dir.path().join("missing")]), Err(Error::Io { .. })));
    }

    /// A directory swapped for a symlink after its parent was opened: the walk goes on in the
    /// directory it listed, never into the symlink's target. One worker, so that each
    /// directory's visitor runs before its subdirectories are opened.
    #[test]
    fn a_directory_swapped_for_a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/inside"), b"").unwrap();
        std::fs::create_dir_all(outside.join("b")).unwrap();
        std::fs::write(outside.join("b/secret"), b"").unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let walk = pool.install(|| {
            visit_dirs(std::slice::from_ref(&root), |listing| {
                if listing.path == root.join("a") {
                    std::fs::rename(root.join("a"), root.join("moved")).unwrap();
                    std::os::unix::fs::symlink(&outside, root.join("a")).unwrap();
                }
                Some(listing.entries.iter().map(|e| e.name_os().to_string_lossy().into_owned()).collect::<Vec<_>>())
            })
        });
        let seen: Vec<String> = walk.dirs.iter().flat_map(|(_, names)| names.clone()).collect();
        assert!(seen.contains(&"inside".to_string()), "{seen:?}");
        assert!(!seen.contains(&"secret".to_string()), "the walk followed the symlink: {seen:?}");
        assert!(walk.errors.is_empty(), "{:?}", walk.errors);
    }
}

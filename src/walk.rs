//! Walk: find every bytecode cache below the given roots, without following symlinks.
//!
//! The walk reads directories only; file types come from `readdir`, so no file is `stat`ed
//! here. Directory paths are stored once and caches refer to them by index, which keeps the
//! memory of a 100,000-cache build root to a few MiB.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::apply::is_temp_name;
use crate::classify::{classify, CacheName};
use crate::error::Error;

/// One cache file found by the walk.
#[derive(Debug)]
pub struct FoundCache {
    /// Index into [`Walked::dirs`].
    pub dir: u32,
    pub name: Box<[u8]>,
    pub class: CacheName,
}

impl FoundCache {
    pub fn stem(&self) -> &[u8] {
        self.class.stem(&self.name)
    }

    pub fn tag(&self) -> &[u8] {
        self.class.tag(&self.name)
    }
}

/// Everything one walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Every directory visited, in walk order (sorted by name inside each directory).
    pub dirs: Vec<PathBuf>,
    pub caches: Vec<FoundCache>,
    /// Temporary link names that an interrupted run left behind.
    pub stale_temps: Vec<PathBuf>,
    /// Symlinks, directories and other non-regular entries that carry a cache name.
    pub non_regular: Vec<PathBuf>,
    /// Directories that could not be read; the walk goes on without them.
    pub errors: Vec<Error>,
}

impl Walked {
    pub fn path_of(&self, cache: &FoundCache) -> PathBuf {
        self.dirs[cache.dir as usize].join(OsStr::from_bytes(&cache.name))
    }
}

/// Checks that every root is a readable directory, before anything is touched, and drops roots
/// that lie inside another root so that no file is seen twice.
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
        if kept.iter().any(|(outer, _)| canonical.starts_with(outer)) {
            continue;
        }
        kept.push((canonical, root));
    }
    Ok(kept.into_iter().map(|(_, root)| root).collect())
}

/// Walks the roots (already checked by [`check_roots`]) and collects the caches.
pub fn walk(roots: &[PathBuf]) -> Walked {
    let mut walked = Walked::default();
    for root in roots {
        walk_one(root, &mut walked);
    }
    walked
}

fn walk_one(root: &Path, walked: &mut Walked) {
    // `parents[d]` is the index of the directory at depth `d` currently being listed; walkdir
    // yields a directory before its contents, so the parent of an entry at depth d is parents[d-1].
    let mut parents: Vec<u32> = Vec::new();
    let walker = walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().unwrap_or(root).to_path_buf();
                let io = err.into_io_error().unwrap_or_else(|| std::io::Error::other("filesystem loop"));
                walked.errors.push(Error::io(&path, io));
                continue;
            }
        };
        let depth = entry.depth();
        let file_type = entry.file_type();
        let parent = depth.checked_sub(1).and_then(|d| parents.get(d)).copied();
        if file_type.is_dir() {
            if let Some(parent) = parent {
                if classify(dir_name(walked, parent), entry.file_name().as_bytes()).is_some() {
                    walked.non_regular.push(entry.path().to_path_buf());
                }
            }
            parents.truncate(depth);
            parents.push(walked.dirs.len() as u32);
            walked.dirs.push(entry.into_path());
            continue;
        }
        let Some(parent) = parent else {
            continue; // a root that is a file; check_roots prevents it
        };
        let name = entry.file_name().as_bytes();
        if let Some(class) = classify(dir_name(walked, parent), name) {
            if file_type.is_file() {
                walked.caches.push(FoundCache { dir: parent, name: name.into(), class });
            } else {
                walked.non_regular.push(entry.into_path());
            }
        } else if is_temp_name(name) && file_type.is_file() {
            walked.stale_temps.push(entry.into_path());
        }
    }
}

fn dir_name(walked: &Walked, dir: u32) -> &[u8] {
    walked.dirs[dir as usize].file_name().map_or(&b""[..], |n| n.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_caches_and_skips_non_regular_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("pkg/__pycache__");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("m.cpython-311.pyc"), b"x").unwrap();
        std::fs::create_dir(cache.join("d.cpython-311.pyc")).unwrap();
        std::os::unix::fs::symlink("m.cpython-311.pyc", cache.join("s.cpython-311.opt-1.pyc")).unwrap();
        std::fs::write(dir.path().join("pkg/old.pyo"), b"y").unwrap();
        std::fs::write(dir.path().join("pkg/mod.py"), b"").unwrap();
        let walked = walk(&check_roots(&[dir.path().to_path_buf()]).unwrap());
        let mut names: Vec<_> = walked.caches.iter().map(|c| walked.path_of(c)).collect();
        names.sort();
        assert_eq!(names, [dir.path().join("pkg/__pycache__/m.cpython-311.pyc"), dir.path().join("pkg/old.pyo")]);
        assert_eq!(walked.non_regular.len(), 2);
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
}

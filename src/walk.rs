//! Walk: visit every directory below the roots in parallel, without following symlinks.
//!
//! Each directory is listed once; file types come from `readdir`, so the walk itself `stat`s
//! no file. The caller's visitor runs on each listing in the worker that read it, so the work
//! on one directory (the `stat`s and comparisons of its caches) overlaps the reading of others.
//! Results come back sorted by path, whatever the number of threads.

use std::ffi::OsString;
use std::fs::FileType;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Error;

/// One entry of a directory listing.
#[derive(Debug)]
pub struct Entry {
    pub name: OsString,
    /// As `lstat` would say: a symlink is a symlink.
    pub file_type: FileType,
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
    F: Fn(&Path, &[Entry]) -> Option<R> + Sync,
{
    let results = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let shared = Shared { visitor: &visitor, results: &results, errors: &errors };
    rayon::scope(|scope| {
        for root in roots {
            let shared = &shared;
            let root = root.clone();
            scope.spawn(move |scope| visit(root, scope, shared));
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

fn visit<'s, R, F>(dir: PathBuf, scope: &rayon::Scope<'s>, shared: &'s Shared<'s, R, F>)
where
    R: Send,
    F: Fn(&Path, &[Entry]) -> Option<R> + Sync,
{
    let entries = match list(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            shared.errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
            return;
        }
    };
    for entry in &entries {
        if entry.file_type.is_dir() {
            let sub = dir.join(&entry.name);
            scope.spawn(move |scope| visit(sub, scope, shared));
        }
    }
    if let Some(result) = (shared.visitor)(&dir, &entries) {
        shared.results.lock().unwrap_or_else(|e| e.into_inner()).push((dir, result));
    }
}

fn list(dir: &Path) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        // From d_type; std falls back to lstat only where the filesystem gives no type.
        let file_type = entry.file_type().map_err(|e| Error::io(&entry.path(), e))?;
        entries.push(Entry { name: entry.file_name(), file_type });
    }
    Ok(entries)
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
        let walk = visit_dirs(&[dir.path().to_path_buf()], |_, entries| Some(entries.len()));
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
}

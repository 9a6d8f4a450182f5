//! The `%{pyproject_files}` list of Fedora's `%pyproject_save_files`: take its bytecode entries
//! over, so that a split package lists each cache exactly once.
//!
//! `%pyproject_save_files` writes `%dir .../__pycache__` for the cache directories of the
//! package's modules and one glob `.../__pycache__/mod.cpython-313{,.opt-?}.pyc` per source,
//! which makes every real cache a file of the main package. With split bytecode the main package
//! must own those caches as `%ghost` and the subpackages ship them, so the bytecode lines leave
//! that list and the `%ghost` list covers exactly what they covered: their directories and the
//! caches their globs name. When brp-pyc declares the subpackages itself (spec parts), those
//! `%dir` and `%ghost` entries go back into the list itself, so that `-f %{pyproject_files}`
//! stays the owner's only list. `%pyproject_save_files -D NAME` writes a named copy
//! `FILE-NAME` beside the base list: each is taken over the same way ([`lists_at`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::replace::replace_file;

/// The glob suffix `pyproject_save_files.py` appends to `mod.<tag>` (its `PYCACHED_SUFFIX`).
const PYCACHED_SUFFIX: &str = "{,.opt-?}.pyc";

/// The bytecode entries of a `%{pyproject_files}` list, as installed paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PyprojectBytecode {
    /// `__pycache__` directories the list owns with `%dir`.
    pub dirs: BTreeSet<Vec<u8>>,
    /// Per glob: the `__pycache__` path and the `mod.<tag>` prefix of the cache names.
    pub caches: BTreeSet<(Vec<u8>, Vec<u8>)>,
}

impl PyprojectBytecode {
    /// Whether `path` (installed) is one of the caches a glob of the list names: `mod.<tag>.pyc`
    /// or `mod.<tag>.opt-X.pyc` with one character X, as rpm expands `{,.opt-?}.pyc`.
    pub fn covers(&self, path: &[u8]) -> bool {
        let Some(slash) = path.iter().rposition(|&b| b == b'/') else { return false };
        let (dir, name) = (&path[..slash], &path[slash + 1..]);
        self.caches.range((dir.to_vec(), Vec::new())..).take_while(|(d, _)| d == dir).any(|(_, prefix)| {
            let Some(rest) = name.strip_prefix(prefix.as_slice()) else { return false };
            rest == b".pyc" || (rest.len() == 10 && rest.starts_with(b".opt-") && rest.ends_with(b".pyc"))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.caches.is_empty()
    }
}

/// A list split into its bytecode entries and the other lines, kept as they were.
#[derive(Debug, PartialEq, Eq)]
pub struct PyprojectList {
    pub bytecode: PyprojectBytecode,
    /// The list without its bytecode lines.
    pub rest: String,
}

/// Splits the text of a `%{pyproject_files}` list. A bytecode line whose path `accepts`
/// refuses (outside `%py_bytecode_split -i`/`-x`) stays in the list: its caches are not split.
pub fn parse(text: &str, accepts: &dyn Fn(&[u8]) -> bool) -> PyprojectList {
    let mut bytecode = PyprojectBytecode::default();
    let mut rest = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim();
        if is_our_ghost_line(trimmed) {
            continue; // written by an earlier run into this list: written again from the caches
        }
        if let Some(dir) = trimmed.strip_prefix("%dir ").map(|p| unescape(p.trim())) {
            if dir.ends_with(b"/__pycache__") && accepts(&dir) {
                bytecode.dirs.insert(dir);
                continue;
            }
        } else if !trimmed.starts_with('%') {
            // The glob suffix is written unescaped, after the escaped path (and inside the
            // double quotes rpm before 4.19 needs around a path with a space).
            let unquoted = trimmed.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(trimmed);
            if let Some(path) = unquoted.strip_suffix(PYCACHED_SUFFIX) {
                let path = unescape(path);
                let level_0 = [path.as_slice(), b".pyc"].concat();
                if let Some(slash) = path.iter().rposition(|&b| b == b'/').filter(|_| accepts(&level_0)) {
                    if path[..slash].ends_with(b"/__pycache__") {
                        bytecode.caches.insert((path[..slash].to_vec(), path[slash + 1..].to_vec()));
                        continue;
                    }
                }
            }
        }
        rest.push_str(line);
        rest.push('\n');
    }
    PyprojectList { bytecode, rest }
}

/// A `%ghost` line of a cache below `__pycache__`: `%pyproject_save_files` writes none, so it
/// is one that brp-pyc put into the list on an earlier run.
fn is_our_ghost_line(trimmed: &str) -> bool {
    let Some(path) = trimmed.strip_prefix("%ghost ") else { return false };
    let path = path.trim().trim_end_matches('"');
    path.contains("/__pycache__/") && path.ends_with(".pyc")
}

/// The lists to take over for `file`: `file` itself and its named copies `file-NAME`
/// (`%pyproject_save_files -D NAME`), those that exist, sorted, each with the name of its saved
/// original in the output directory (`pyproject-files.orig`, `pyproject-files-NAME.orig`).
pub fn lists_at(file: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let (Some(dir), Some(base)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut lists = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(suffix) = name.to_str().and_then(|n| n.strip_prefix(base)) else { continue };
        let named_copy = suffix.strip_prefix('-').is_some_and(|n| !n.is_empty());
        if (suffix.is_empty() || named_copy) && entry.file_type().is_ok_and(|t| t.is_file()) {
            lists.push((file.with_file_name(&name), format!("pyproject-files{suffix}.orig")));
        }
    }
    lists.sort();
    Ok(lists)
}

/// Undoes the escaping of `pyproject_save_files.py`: double quotes around the path (rpm before
/// 4.19), backslash escapes (4.19 and later) and doubled `%` (repeated: rpm before 4.19 is
/// given `%%%%` for one `%`).
fn unescape(text: &str) -> Vec<u8> {
    let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    while out.contains("%%") {
        out = out.replace("%%", "%");
    }
    out.into_bytes()
}

/// The bytecode entries of a list, and the rewrite that takes them over.
#[derive(Debug)]
pub struct TakeOver {
    pub bytecode: PyprojectBytecode,
    /// The text as read and the text without bytecode lines.
    text: String,
    rest: String,
    /// Whether the list is as `%pyproject_save_files` wrote it (it has cache globs): then its
    /// text is the original to keep; otherwise an earlier run took it over and `bytecode` comes
    /// from the saved original.
    fresh: bool,
}

/// Reads the list at `path`. The original is kept in `saved` when the rewrite is committed, so
/// that a second run (a short-circuit rebuild, a second brp step) finds the same entries once
/// the list has none left; a list with cache globs again was written anew and wins.
pub fn read(path: &Path, saved: &Path, accepts: &dyn Fn(&[u8]) -> bool) -> Result<TakeOver, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let list = parse(&text, accepts);
    if !list.bytecode.caches.is_empty() {
        return Ok(TakeOver { bytecode: list.bytecode, text, rest: list.rest, fresh: true });
    }
    let bytecode = match std::fs::read_to_string(saved) {
        Ok(original) => parse(&original, accepts).bytecode,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => list.bytecode,
        Err(e) => return Err(Error::io(saved, e)),
    };
    Ok(TakeOver { bytecode, text, rest: list.rest, fresh: false })
}

impl TakeOver {
    /// Saves the original in `saved` (a list as `%pyproject_save_files` wrote it), then
    /// rewrites `path` without its bytecode lines and with `owned` (the `%dir` and `%ghost`
    /// lines the list owns instead, or nothing) at the end.
    pub fn commit(&self, path: &Path, saved: &Path, owned: &str) -> Result<(), Error> {
        if self.fresh {
            replace_file(saved, self.text.as_bytes())?;
        }
        let new_text = format!("{}{owned}", self.rest);
        if new_text != self.text {
            replace_file(path, new_text.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "\
%dir /usr/lib/python3.11/site-packages/foo
%dir /usr/lib/python3.11/site-packages/foo/__pycache__
%license /usr/lib/python3.11/site-packages/foo-1.0.dist-info/LICENSE
/usr/lib/python3.11/site-packages/__pycache__/top.cpython-311{,.opt-?}.pyc
/usr/lib/python3.11/site-packages/foo/__init__.py
/usr/lib/python3.11/site-packages/foo/__pycache__/__init__.cpython-311{,.opt-?}.pyc
/usr/lib/python3.11/site-packages/foo/sp\\ ace/__pycache__/a\\ b.cpython-311{,.opt-?}.pyc
\"/usr/lib/python3.11/site-packages/foo/old style/__pycache__/c d.cpython-311{,.opt-?}.pyc\"
/usr/lib/python3.11/site-packages/top.py
";

    #[test]
    fn bytecode_lines_leave_the_list_and_are_understood() {
        let list = parse(LIST, &|_| true);
        assert_eq!(
            list.rest,
            "%dir /usr/lib/python3.11/site-packages/foo\n\
             %license /usr/lib/python3.11/site-packages/foo-1.0.dist-info/LICENSE\n\
             /usr/lib/python3.11/site-packages/foo/__init__.py\n\
             /usr/lib/python3.11/site-packages/top.py\n"
        );
        let dirs: Vec<&[u8]> = list.bytecode.dirs.iter().map(Vec::as_slice).collect();
        assert_eq!(dirs, [&b"/usr/lib/python3.11/site-packages/foo/__pycache__"[..]]);
        let b = &list.bytecode;
        assert!(b.covers(b"/usr/lib/python3.11/site-packages/foo/__pycache__/__init__.cpython-311.pyc"));
        assert!(b.covers(b"/usr/lib/python3.11/site-packages/foo/__pycache__/__init__.cpython-311.opt-2.pyc"));
        assert!(b.covers(b"/usr/lib/python3.11/site-packages/__pycache__/top.cpython-311.opt-1.pyc"));
        assert!(b.covers(b"/usr/lib/python3.11/site-packages/foo/sp ace/__pycache__/a b.cpython-311.pyc"));
        assert!(b.covers(b"/usr/lib/python3.11/site-packages/foo/old style/__pycache__/c d.cpython-311.opt-1.pyc"));
        assert!(!b.covers(b"/usr/lib/python3.11/site-packages/foo/__pycache__/__init__.cpython-312.pyc"));
        assert!(!b.covers(b"/usr/lib/python3.11/site-packages/foo/__pycache__/__init__.cpython-311.opt-12.pyc"));
        assert!(!b.covers(b"/usr/lib/python3.11/site-packages/__pycache__/other.cpython-311.pyc"));
    }

    #[test]
    fn lines_outside_the_filter_stay() {
        let outside = |p: &[u8]| !p.starts_with(b"/usr/lib/python3.11/site-packages/foo/");
        let list = parse(LIST, &outside);
        assert!(list.rest.contains("%dir /usr/lib/python3.11/site-packages/foo/__pycache__\n"));
        assert!(list.rest.contains("/foo/__pycache__/__init__.cpython-311{,.opt-?}.pyc\n"));
        assert!(!list.rest.contains("/top.cpython-311"));
        assert_eq!(list.bytecode.caches.len(), 1);
    }

    #[test]
    fn take_over_rewrites_once_and_remembers() {
        let dir = tempfile::tempdir().unwrap();
        let (list, saved) = (dir.path().join("files"), dir.path().join("saved"));
        std::fs::write(&list, LIST).unwrap();
        let first = read(&list, &saved, &|_| true).unwrap();
        assert_eq!(std::fs::read_to_string(&list).unwrap(), LIST, "nothing changes before the commit");
        first.commit(&list, &saved, "").unwrap();
        assert_eq!(first.bytecode.caches.len(), 4);
        let rewritten = std::fs::read_to_string(&list).unwrap();
        assert!(!rewritten.contains("__pycache__"), "{rewritten}");
        let second = read(&list, &saved, &|_| true).unwrap();
        assert_eq!(second.bytecode, first.bytecode, "a second run finds the same entries");
        second.commit(&list, &saved, "").unwrap();
        assert_eq!(std::fs::read_to_string(&list).unwrap(), rewritten);
    }

    /// With the owned entries written back into the list, a second run finds the same entries
    /// (from the saved original) and writes the same text.
    #[test]
    fn owned_entries_written_into_the_list_are_rewritten_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let (list, saved) = (dir.path().join("files"), dir.path().join("saved"));
        std::fs::write(&list, LIST).unwrap();
        let owned = "%dir /usr/lib/python3.11/site-packages/foo/__pycache__\n\
                     %ghost /usr/lib/python3.11/site-packages/foo/__pycache__/__init__.cpython-311.pyc\n";
        let first = read(&list, &saved, &|_| true).unwrap();
        first.commit(&list, &saved, owned).unwrap();
        let written = std::fs::read_to_string(&list).unwrap();
        assert!(written.ends_with(owned) && !written.contains("{,.opt-?}"), "{written}");
        let second = read(&list, &saved, &|_| true).unwrap();
        assert_eq!(second.bytecode, first.bytecode);
        second.commit(&list, &saved, owned).unwrap();
        assert_eq!(std::fs::read_to_string(&list).unwrap(), written);
    }

    #[test]
    fn named_copies_are_found_beside_the_base_list() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("p-1-1.noarch-pyproject-files");
        for name in [
            "p-1-1.noarch-pyproject-files-foo",
            "p-1-1.noarch-pyproject-files-bar",
            "p-1-1.noarch-pyproject-files-",
            "p-1-1.noarch-pyproject-record",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found: Vec<String> = lists_at(&base)
            .unwrap()
            .into_iter()
            .map(|(p, saved)| format!("{} {saved}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        assert_eq!(
            found,
            [
                "p-1-1.noarch-pyproject-files-bar pyproject-files-bar.orig",
                "p-1-1.noarch-pyproject-files-foo pyproject-files-foo.orig"
            ]
        );
        std::fs::write(&base, "").unwrap();
        assert_eq!(lists_at(&base).unwrap()[0], (base.clone(), "pyproject-files.orig".to_string()));
    }
}

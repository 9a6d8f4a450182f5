//! The `%{pyproject_files}` list of Fedora's `%pyproject_save_files`: take its bytecode entries
//! over, so that a split package lists each cache exactly once.
//!
//! `%pyproject_save_files` writes `%dir .../__pycache__` for the cache directories of the
//! package's modules and one glob `.../__pycache__/mod.cpython-313{,.opt-?}.pyc` per source,
//! which makes every real cache a file of the main package. With split bytecode the main package
//! must own those caches as `%ghost` and the subpackages ship them, so the bytecode lines leave
//! that list and the `%ghost` list covers exactly what they covered: their directories and the
//! caches their globs name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Error;

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
    /// The original text and the text without bytecode lines; `None` when the list has none
    /// left (an earlier run took them over: `bytecode` comes from its saved copy).
    rewrite: Option<(String, String)>,
}

/// Reads the list at `path`. The original is kept in `saved` when the rewrite is committed, so
/// that a second run (a short-circuit rebuild, a second brp step) finds the same entries once
/// the list has none left; a list with bytecode lines again was written anew and wins.
pub fn read(path: &Path, saved: &Path, accepts: &dyn Fn(&[u8]) -> bool) -> Result<TakeOver, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let list = parse(&text, accepts);
    if !list.bytecode.is_empty() {
        return Ok(TakeOver { bytecode: list.bytecode, rewrite: Some((text, list.rest)) });
    }
    let bytecode = match std::fs::read_to_string(saved) {
        Ok(original) => parse(&original, accepts).bytecode,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => list.bytecode,
        Err(e) => return Err(Error::io(saved, e)),
    };
    Ok(TakeOver { bytecode, rewrite: None })
}

impl TakeOver {
    /// Saves the original in `saved`, then rewrites `path` without its bytecode lines.
    pub fn commit(&self, path: &Path, saved: &Path) -> Result<(), Error> {
        if let Some((original, rest)) = &self.rewrite {
            write_atomically(saved, original)?;
            write_atomically(path, rest)?;
        }
        Ok(())
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), Error> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp: PathBuf = path.with_file_name(format!(".{name}.brp-pyc-tmp"));
    std::fs::write(&temp, text).map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))
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
        first.commit(&list, &saved).unwrap();
        assert_eq!(first.bytecode.caches.len(), 4);
        let rewritten = std::fs::read_to_string(&list).unwrap();
        assert!(!rewritten.contains("__pycache__"), "{rewritten}");
        let second = read(&list, &saved, &|_| true).unwrap();
        assert_eq!(second.bytecode, first.bytecode, "a second run finds the same entries");
        second.commit(&list, &saved).unwrap();
        assert_eq!(std::fs::read_to_string(&list).unwrap(), rewritten);
    }
}

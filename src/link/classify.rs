//! Classify: turn a file name into a bytecode cache identity (module stem, cache tag, level).
//!
//! Names are bytes, not strings: a module may be called `we ird.py`, `a.b.py`, `-x.py` or carry
//! bytes that are not UTF-8, and rpm build roots contain all of these. Every rule here parses
//! from the right, because the stem is the only part that may contain dots.

use std::fmt;

/// The directory name that PEP 3147 caches live in.
pub const PYCACHE: &[u8] = b"__pycache__";

/// The temporary names [`crate::link::apply`] makes beside a cache and renames over it: recognised
/// here, with the cache names, because a directory listing is classified once.
pub const TEMP_PREFIX: &[u8] = b".brp-pyc-";
pub const COPY_MARK: &[u8] = b"copy-";
pub const TEMP_SUFFIX: &[u8] = b".tmp";

/// The two kinds of temporary name, which a killed run may leave behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TempKind {
    /// `.brp-pyc-<pid>-<n>.tmp`: a second link of a cache, made before rename(2).
    Link,
    /// `.brp-pyc-copy-<pid>-<n>.tmp`: a (partial) copy of a cache being separated; the cache
    /// itself is intact, so the copy is never the only one of anything.
    Copy,
}

/// Which temporary name `name` is, if it is one.
pub fn temp_kind(name: &[u8]) -> Option<TempKind> {
    let mid = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(TEMP_SUFFIX)?;
    let (kind, mid) = match mid.strip_prefix(COPY_MARK) {
        Some(rest) => (TempKind::Copy, rest),
        None => (TempKind::Link, mid),
    };
    (!mid.is_empty() && mid.iter().all(|&b| b.is_ascii_digit() || b == b'-')).then_some(kind)
}

/// Whether a file name is one of the temporary names [`crate::link::apply`] creates.
pub fn is_temp_name(name: &[u8]) -> bool {
    temp_kind(name).is_some()
}

/// Optimization level of one cache file.
///
/// The order is the order of preference for the file that is kept when identical caches are
/// linked: the lowest level wins, so two builds of one package give the same hardlink sets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `mod.<tag>.pyc`, or a Python 2 `mod.pyc`.
    Zero,
    /// `mod.<tag>.opt-1.pyc` (`python -O`), or a Python 2 `mod.pyo` (written by `-O` and `-OO`).
    One,
    /// `mod.<tag>.opt-2.pyc` (`python -OO`).
    Two,
    /// Any other `opt-<alnum>` suffix; CPython writes none, but importlib accepts them.
    Other(Box<[u8]>),
}

impl Level {
    /// The digit a layout uses for this level, if it has one.
    pub fn digit(&self) -> Option<u8> {
        match self {
            Level::Zero => Some(0),
            Level::One => Some(1),
            Level::Two => Some(2),
            Level::Other(_) => None,
        }
    }

    fn from_opt_suffix(suffix: &[u8]) -> Level {
        match suffix {
            b"1" => Level::One,
            b"2" => Level::Two,
            other => Level::Other(other.into()),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Zero => f.write_str("0"),
            Level::One => f.write_str("1"),
            Level::Two => f.write_str("2"),
            Level::Other(s) => write!(f, "opt-{}", String::from_utf8_lossy(s)),
        }
    }
}

/// How a cache is named relative to its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// PEP 3147/488: `pkg/__pycache__/mod.<tag>[.opt-N].pyc` for `pkg/mod.py`.
    Pep3147,
    /// Python 2 (and sourceless Python 3): `pkg/mod.pyc` and `pkg/mod.pyo` beside `pkg/mod.py`.
    Legacy,
}

/// What a cache file name says about the file, as byte ranges into the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheName {
    pub scheme: Scheme,
    /// Length of the module stem at the start of the name.
    pub stem_len: usize,
    /// Byte range of the cache tag (`cpython-311`); empty for [`Scheme::Legacy`].
    pub tag: std::ops::Range<usize>,
    pub level: Level,
}

impl CacheName {
    pub fn stem<'a>(&self, name: &'a [u8]) -> &'a [u8] {
        &name[..self.stem_len]
    }

    pub fn tag<'a>(&self, name: &'a [u8]) -> &'a [u8] {
        &name[self.tag.clone()]
    }
}

/// Classifies the name of a regular file found in a directory called `parent`.
///
/// Returns `None` for anything that is not a bytecode cache. Inside `__pycache__` only
/// PEP 3147 names count (a tag is required); elsewhere only the Python 2 `.pyc`/`.pyo` names.
pub fn classify(parent: &[u8], name: &[u8]) -> Option<CacheName> {
    if parent == PYCACHE {
        classify_pep3147(name)
    } else {
        classify_legacy(name)
    }
}

fn classify_pep3147(name: &[u8]) -> Option<CacheName> {
    let rest = name.strip_suffix(b".pyc")?;
    let (rest, level) = match rsplit_dot(rest) {
        Some((head, last)) if last.starts_with(b"opt-") => {
            let suffix = &last[4..];
            // importlib rejects an empty or non-alphanumeric optimization suffix.
            if suffix.is_empty() || !suffix.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            (head, Level::from_opt_suffix(suffix))
        }
        _ => (rest, Level::Zero),
    };
    let (stem, tag) = rsplit_dot(rest)?;
    if stem.is_empty() || tag.is_empty() {
        return None;
    }
    Some(CacheName { scheme: Scheme::Pep3147, stem_len: stem.len(), tag: stem.len() + 1..rest.len(), level })
}

fn classify_legacy(name: &[u8]) -> Option<CacheName> {
    let (stem, level) = if let Some(stem) = name.strip_suffix(b".pyc") {
        (stem, Level::Zero)
    } else if let Some(stem) = name.strip_suffix(b".pyo") {
        (stem, Level::One)
    } else {
        return None;
    };
    if stem.is_empty() {
        return None;
    }
    Some(CacheName { scheme: Scheme::Legacy, stem_len: stem.len(), tag: 0..0, level })
}

/// Splits at the last dot: `a.b.c` gives (`a.b`, `c`).
fn rsplit_dot(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let dot = bytes.iter().rposition(|&b| b == b'.')?;
    Some((&bytes[..dot], &bytes[dot + 1..]))
}

/// The file name of the cache of `stem` at `level` under `scheme`, the inverse of [`classify`].
pub fn cache_file_name(scheme: Scheme, stem: &[u8], tag: &[u8], level: &Level) -> Vec<u8> {
    let mut name = stem.to_vec();
    match scheme {
        Scheme::Legacy => {
            name.extend_from_slice(if *level == Level::Zero { b".pyc" } else { b".pyo" });
        }
        Scheme::Pep3147 => {
            name.push(b'.');
            name.extend_from_slice(tag);
            match level {
                Level::Zero => {}
                Level::One => name.extend_from_slice(b".opt-1"),
                Level::Two => name.extend_from_slice(b".opt-2"),
                Level::Other(s) => {
                    name.extend_from_slice(b".opt-");
                    name.extend_from_slice(s);
                }
            }
            name.extend_from_slice(b".pyc");
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pep(name: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Level)> {
        classify(PYCACHE, name).map(|c| (c.stem(name).to_vec(), c.tag(name).to_vec(), c.level))
    }

    #[test]
    fn pep3147_levels_and_tags() {
        assert_eq!(pep(b"mod.cpython-311.pyc"), Some((b"mod".to_vec(), b"cpython-311".to_vec(), Level::Zero)));
        assert_eq!(pep(b"mod.cpython-313t.opt-1.pyc"), Some((b"mod".to_vec(), b"cpython-313t".to_vec(), Level::One)));
        assert_eq!(pep(b"mod.pypy39.opt-2.pyc"), Some((b"mod".to_vec(), b"pypy39".to_vec(), Level::Two)));
        assert_eq!(
            pep(b"mod.cpython-311.opt-abc3.pyc"),
            Some((b"mod".to_vec(), b"cpython-311".to_vec(), Level::Other(b"abc3".to_vec().into())))
        );
    }

    #[test]
    fn stems_with_dots_spaces_and_odd_bytes_parse_from_the_right() {
        assert_eq!(pep(b"a.b.cpython-311.opt-1.pyc").unwrap().0, b"a.b");
        assert_eq!(pep(b"we ird.cpython-311.pyc").unwrap().0, b"we ird");
        assert_eq!(pep(b"-x\n\\\xff.cpython-311.opt-2.pyc").unwrap().0, b"-x\n\\\xff");
        assert_eq!(pep(b"..cpython-311.pyc").unwrap().0, b".");
    }

    #[test]
    fn not_caches() {
        assert_eq!(pep(b"mod.pyc"), None, "a __pycache__ name needs a tag");
        assert_eq!(pep(b".cpython-311.pyc"), None, "empty stem");
        assert_eq!(pep(b"mod..pyc"), None, "empty tag");
        assert_eq!(pep(b"mod.cpython-311.opt-.pyc"), None, "empty optimization suffix");
        assert_eq!(pep(b"mod.cpython-311.opt-1-2.pyc"), None, "non-alphanumeric suffix");
        assert_eq!(pep(b"mod.cpython-311.py"), None);
        assert_eq!(pep(b"mod.cpython-311.pyo"), None);
        assert_eq!(classify(b"pkg", b".pyc"), None);
        assert_eq!(classify(b"pkg", b"mod.py"), None);
    }

    #[test]
    fn legacy_python2_names() {
        let c = classify(b"pkg", b"mod.pyc").unwrap();
        assert_eq!((c.scheme, c.stem(b"mod.pyc"), c.level), (Scheme::Legacy, &b"mod"[..], Level::Zero));
        let c = classify(b"pkg", b"a.b.pyo").unwrap();
        assert_eq!((c.scheme, c.stem(b"a.b.pyo"), c.level), (Scheme::Legacy, &b"a.b"[..], Level::One));
    }

    #[test]
    fn file_names_round_trip() {
        for name in [
            &b"a.b.cpython-311.pyc"[..],
            b"x.pypy39.opt-1.pyc",
            b"x y.cpython-313t.opt-2.pyc",
            b"x.cpython-311.opt-z9.pyc",
        ] {
            let c = classify(PYCACHE, name).unwrap();
            assert_eq!(cache_file_name(c.scheme, c.stem(name), c.tag(name), &c.level), name);
        }
        for name in [&b"m.pyc"[..], b"m.pyo"] {
            let c = classify(b"lib", name).unwrap();
            assert_eq!(cache_file_name(c.scheme, c.stem(name), b"", &c.level), name);
        }
    }

    #[test]
    fn lowest_level_sorts_first() {
        let mut levels = [Level::Other(b"a".to_vec().into()), Level::Two, Level::Zero, Level::One];
        levels.sort();
        assert_eq!(levels[..3], [Level::Zero, Level::One, Level::Two]);
    }
}

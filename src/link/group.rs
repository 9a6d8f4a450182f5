//! Group: gather the caches of one module (directory, stem, cache tag) from a directory
//! listing, and describe their identities, so that the planner can decide which are the same.

use std::ffi::{CString, OsStr};
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use rustix::fs::{FileType, Stat};

use crate::link::classify::{classify, is_temp_name, CacheName, Level, Scheme};
use crate::link::walk::{Entry, Listing};

/// One cache file of a module: its name in the directory and its level.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub name: CString,
    pub level: Level,
}

impl CacheEntry {
    pub fn name_os(&self) -> &OsStr {
        OsStr::from_bytes(self.name.to_bytes())
    }
}

/// The caches of one module: same directory, same stem, same tag. Caches of different tags
/// (interpreters) never match, so they are different modules here.
#[derive(Debug)]
pub struct Module {
    pub scheme: Scheme,
    pub stem: Box<[u8]>,
    /// Empty for [`Scheme::Legacy`].
    pub tag: Box<[u8]>,
    /// Sorted by level, lowest first.
    pub caches: Vec<CacheEntry>,
}

/// What one directory listing holds that matters to brp-pyc.
#[derive(Debug, Default)]
pub struct DirCaches {
    /// Sorted by scheme, stem and tag, so that decisions are made in a fixed order.
    pub modules: Vec<Module>,
    /// Symlinks, directories and other non-regular entries that carry a cache name.
    pub non_regular: Vec<PathBuf>,
    /// Temporary link names that an interrupted run left behind.
    pub stale_temps: Vec<PathBuf>,
}

impl DirCaches {
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty() && self.non_regular.is_empty() && self.stale_temps.is_empty()
    }

    pub fn cache_count(&self) -> usize {
        self.modules.iter().map(|m| m.caches.len()).sum()
    }
}

/// The stems of the Python sources (`stem.py`, regular files) of a directory listing.
pub fn source_stems(listing: &Listing) -> Vec<Box<[u8]>> {
    listing
        .entries
        .iter()
        .filter(|e| e.file_type == FileType::RegularFile)
        .filter_map(|e| e.name_bytes().strip_suffix(b".py").filter(|s| !s.is_empty()).map(Box::from))
        .collect()
}

/// Classifies the entries of a directory and groups its regular cache files into modules.
pub fn group_dir(listing: &Listing) -> DirCaches {
    let parent = listing.path.file_name().map_or(&b""[..], OsStr::as_bytes);
    let mut found = DirCaches::default();
    let mut caches: Vec<(CacheName, &Entry)> = Vec::new();
    for entry in &listing.entries {
        let name = entry.name_bytes();
        let regular = entry.file_type == FileType::RegularFile;
        match classify(parent, name) {
            Some(class) if regular => caches.push((class, entry)),
            Some(_) => found.non_regular.push(listing.join(entry)),
            None if regular && is_temp_name(name) => found.stale_temps.push(listing.join(entry)),
            None => {}
        }
    }
    caches.sort_by(|(ca, ea), (cb, eb)| {
        let (na, nb) = (ea.name_bytes(), eb.name_bytes());
        (ca.scheme, ca.stem(na), ca.tag(na), &ca.level).cmp(&(cb.scheme, cb.stem(nb), cb.tag(nb), &cb.level))
    });
    for item in &caches {
        let (class, entry) = item;
        let name = entry.name_bytes();
        let cache = CacheEntry { name: entry.name.clone(), level: class.level.clone() };
        match found.modules.last_mut() {
            Some(m) if m.scheme == class.scheme && *m.stem == *class.stem(name) && *m.tag == *class.tag(name) => {
                m.caches.push(cache)
            }
            _ => found.modules.push(Module {
                scheme: class.scheme,
                stem: class.stem(name).into(),
                tag: class.tag(name).into(),
                caches: vec![cache],
            }),
        }
    }
    found.non_regular.sort();
    found.stale_temps.sort();
    found
}

/// What `lstat` said about one cache: enough to tell whether two names are one inode, whether
/// linking them would change anything but the content's storage, and whether the file changed
/// between planning and applying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    /// The inode's change time: unlike the mtime, no one can set it back (utimensat sets it to
    /// now), so an in-place rewrite that restores size and mtime still shows here. Our own
    /// link, rename and unlink change it too; see [`Identity::unchanged_but_ctime`].
    pub ctime: (i64, i64),
    pub nlink: u64,
}

impl Identity {
    pub fn of(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            nlink: meta.nlink(),
        }
    }

    // The field types of `struct stat` differ between architectures; the casts are no-ops here.
    #[allow(clippy::unnecessary_cast)]
    pub fn of_stat(stat: &Stat) -> Identity {
        Identity {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
            size: stat.st_size as u64,
            mode: stat.st_mode as u32,
            uid: stat.st_uid as u32,
            gid: stat.st_gid as u32,
            mtime: (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
            nlink: stat.st_nlink as u64,
        }
    }

    pub fn same_inode(&self, other: &Identity) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// Whether a link would keep every attribute of both names: a hardlink shares mode and
    /// owner, so files that differ in them are never linked.
    pub fn linkable_with(&self, other: &Identity) -> bool {
        self.dev == other.dev
            && self.size == other.size
            && self.mode == other.mode
            && self.uid == other.uid
            && self.gid == other.gid
    }

    /// Whether the file is still the one that was inspected, its bytes untouched: same inode,
    /// size, mode, owner, mtime and ctime (the link count may change: our own links change it).
    pub fn unchanged(&self, now: &Identity) -> bool {
        self.unchanged_but_ctime(now) && self.ctime == now.ctime
    }

    /// [`Identity::unchanged`] without the ctime, for a file our own link(2) or rename(2) has
    /// just touched (each of them sets the ctime): the checks made right after those calls.
    pub fn unchanged_but_ctime(&self, now: &Identity) -> bool {
        self.same_inode(now) && self.linkable_with(now) && self.mtime == now.mtime
    }
}

/// One cache of a module with its identity.
#[derive(Clone, Debug)]
pub struct InspectedCache {
    /// The full path, for messages.
    pub path: PathBuf,
    /// The name in its directory, for calls relative to the open directory.
    pub name: CString,
    pub level: Level,
    pub id: Identity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_stem_and_tag_and_sorts_levels() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("__pycache__");
        std::fs::create_dir(&cache).unwrap();
        for name in
            ["m.cpython-311.opt-2.pyc", "m.cpython-311.pyc", "m.pypy39.pyc", "a.b.cpython-311.opt-1.pyc", "x.py"]
        {
            std::fs::write(cache.join(name), b"").unwrap();
        }
        std::fs::create_dir(cache.join("d.cpython-311.pyc")).unwrap();
        std::fs::hard_link(cache.join("m.pypy39.pyc"), cache.join(".brp-pyc-1-2.tmp")).unwrap();
        let walk = crate::link::walk::visit_dirs(std::slice::from_ref(&cache), |listing| Some(group_dir(listing)));
        let found = &walk.dirs[0].1;
        let modules: Vec<(String, String, Vec<Level>)> = found
            .modules
            .iter()
            .map(|m| {
                let levels = m.caches.iter().map(|c| c.level.clone()).collect();
                (String::from_utf8_lossy(&m.stem).into(), String::from_utf8_lossy(&m.tag).into(), levels)
            })
            .collect();
        assert_eq!(
            modules,
            [
                ("a.b".into(), "cpython-311".into(), vec![Level::One]),
                ("m".into(), "cpython-311".into(), vec![Level::Zero, Level::Two]),
                ("m".into(), "pypy39".into(), vec![Level::Zero]),
            ]
        );
        assert_eq!(found.non_regular, [cache.join("d.cpython-311.pyc")]);
        assert_eq!(found.stale_temps, [cache.join(".brp-pyc-1-2.tmp")]);
        assert_eq!(found.cache_count(), 4);
    }
}

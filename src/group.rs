//! Group: gather the caches of one module (directory, stem, cache tag) and learn their
//! identities, so that the planner can decide which of them are the same bytes.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::classify::{Level, Scheme};
use crate::walk::{FoundCache, Walked};

/// The caches of one module: same directory, same stem, same tag. Caches of different tags
/// (interpreters) never match, so they are different modules here.
#[derive(Debug)]
pub struct Module<'w> {
    pub dir: &'w Path,
    pub scheme: Scheme,
    /// Sorted by level, lowest first.
    pub caches: Vec<&'w FoundCache>,
}

impl Module<'_> {
    pub fn stem(&self) -> &[u8] {
        self.caches[0].stem()
    }

    pub fn tag(&self) -> &[u8] {
        self.caches[0].tag()
    }
}

/// Groups the walk's caches into modules, ordered by directory (walk order) then stem and tag,
/// so that every decision is made in the same order whatever the number of threads.
pub fn group(walked: &Walked) -> Vec<Module<'_>> {
    let mut caches: Vec<&FoundCache> = walked.caches.iter().collect();
    caches.sort_by(|a, b| {
        (a.dir, a.class.scheme, a.stem(), a.tag(), &a.class.level).cmp(&(
            b.dir,
            b.class.scheme,
            b.stem(),
            b.tag(),
            &b.class.level,
        ))
    });
    let mut modules: Vec<Module> = Vec::new();
    for cache in caches {
        match modules.last_mut() {
            Some(m) if same_module(m.caches[0], cache) => m.caches.push(cache),
            _ => modules.push(Module {
                dir: &walked.dirs[cache.dir as usize],
                scheme: cache.class.scheme,
                caches: vec![cache],
            }),
        }
    }
    modules
}

fn same_module(a: &FoundCache, b: &FoundCache) -> bool {
    a.dir == b.dir && a.class.scheme == b.class.scheme && a.stem() == b.stem() && a.tag() == b.tag()
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
            nlink: meta.nlink(),
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

    /// Whether the file is still the one that was inspected (the link count may change: our
    /// own links change it).
    pub fn unchanged(&self, now: &Identity) -> bool {
        self.same_inode(now) && self.linkable_with(now) && self.mtime == now.mtime
    }
}

/// One cache of a module with its identity.
#[derive(Clone, Debug)]
pub struct InspectedCache {
    pub path: PathBuf,
    pub level: Level,
    pub id: Identity,
}

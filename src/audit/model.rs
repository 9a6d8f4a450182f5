//! The common model: a tree and a package both become a list of installed files.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::error::Error;

/// More than any real package installs or any real file holds (1 PiB): a package header that
/// records more is corrupt, a tree's file that is larger (sparse) is named and never read.
pub const MAX_INSTALLED_SIZE: u64 = 1 << 50;

/// What a sum too large for 64 bits is called in errors.
pub const SUM_TOO_LARGE: &str = "add up to more than 16 EiB (2^64 bytes): no total can be given";

/// The sizes of the installed regular files of `inventory`, each path counted, added up:
/// every sum the analysis makes is part of this one, so none can wrap once it fits.
/// `what` says whose files they are, in the error naming the inventory when they do not fit.
pub fn check_size_sum(inventory: &Inventory, what: &str) -> Result<u64, Error> {
    let sum =
        inventory.files.iter().filter(|f| f.is_installed_regular()).try_fold(0u64, |sum, f| sum.checked_add(f.size));
    sum.ok_or_else(|| Error::Size { path: inventory.location.clone(), reason: format!("{what} {SUM_TOO_LARGE}") })
}

/// Where an inventory came from; decides how content is read and what a build root looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Tree,
    Package,
}

/// The files of one tree or one package.
#[derive(Debug)]
pub struct Inventory {
    pub kind: ItemKind,
    /// The directory or `.rpm` file that was read.
    pub location: PathBuf,
    /// What a person calls it: the package's file name, or the directory as named.
    pub name: String,
    /// Sorted by installed path.
    pub files: Vec<FileRecord>,
    /// A package's rpm name (NAME); `None` for a tree.
    pub package_name: Option<String>,
}

/// What a file is, as far as sizes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Other,
}

/// Which stored copy a file is: two records with one `Storage` are hardlinks of each other
/// (same device and inode in a tree; same FILEDEVICES and FILEINODES inside one package, which
/// is where rpm keeps a hardlink set).
pub type Storage = (u64, u64);

/// How the bytes of a file can be compared with those of another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// The package header's file digest; empty for files without one.
    Digest(FileDigest),
    /// The file on disk, compared byte for byte.
    OnDisk(PathBuf),
}

/// A package header's file digest. rpm writes digests as lowercase hex, up to 128 digits
/// (SHA-512): those are held decoded, in place, so that a file costs no allocation for it;
/// any other text is kept as written. Two digests are equal when their texts are: decoding
/// only lowercase hex of even length keeps that one-to-one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileDigest {
    Hex { len: u8, bytes: [u8; 64] },
    Text(Box<[u8]>),
}

/// The value of each lowercase hex digit; 255 for every other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

impl FileDigest {
    pub fn from_text(text: &[u8]) -> FileDigest {
        let mut bytes = [0u8; 64];
        if text.len().is_multiple_of(2) && text.len() <= 2 * bytes.len() {
            let mut all_hex = true;
            for (pair, byte) in text.chunks_exact(2).zip(&mut bytes) {
                let (hi, lo) = (HEX_DIGIT[usize::from(pair[0])], HEX_DIGIT[usize::from(pair[1])]);
                all_hex &= hi | lo < 16;
                *byte = hi << 4 | (lo & 15);
            }
            if all_hex {
                return FileDigest::Hex { len: (text.len() / 2) as u8, bytes };
            }
        }
        FileDigest::Text(text.into())
    }

    pub fn is_empty(&self) -> bool {
        match self {
            FileDigest::Hex { len, .. } => *len == 0,
            FileDigest::Text(text) => text.is_empty(),
        }
    }
}

/// One installed file.
#[derive(Clone, Debug)]
pub struct FileRecord {
    /// As installed: always starts with `/`; for a tree, relative to the tree's root.
    pub path: Vec<u8>,
    pub kind: FileKind,
    pub size: u64,
    pub storage: Storage,
    pub content: Content,
    /// Permission bits and type, as `st_mode`.
    pub mode: u32,
    /// `uid:gid` for a tree, `user:group` for a package: only compared within one inventory.
    /// Shared by the files of one owner (most packages have one), not allocated per file.
    pub owner: Arc<str>,
    /// Seconds since the epoch (a package's FILEMTIMES).
    pub mtime: i64,
    /// Owned but not shipped (`%ghost`): costs nothing installed.
    pub ghost: bool,
    /// What a symlink points to, as written (FILELINKTOS in a package); empty otherwise.
    pub link_target: Box<[u8]>,
}

impl FileRecord {
    /// A regular file that the package actually installs.
    pub fn is_installed_regular(&self) -> bool {
        self.kind == FileKind::Regular && !self.ghost
    }

    /// What [`crate::link::plan::verdict`] compares: device, size, mode and owner.
    pub fn link_traits(&self) -> (u64, u64, u32, &str) {
        (self.storage.0, self.size, self.mode, &self.owner)
    }

    /// The directory part (without trailing slash) and the file name.
    pub fn split(&self) -> (&[u8], &[u8]) {
        split_path(&self.path)
    }
}

/// Whether a path reads as UTF-8, so that its JSON text form is exact and needs no bytes beside.
pub fn is_utf8(path: &[u8]) -> bool {
    std::str::from_utf8(path).is_ok()
}

/// Splits `/a/b/c` into (`/a/b`, `c`); `/c` gives (``, `c`).
pub fn split_path(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (&[][..], path),
    }
}

/// Installed paths to their records, across the inventories that share one file namespace:
/// the packages of one run share `/`, each tree is a namespace of its own.
pub struct PathIndex<'a> {
    by_namespace: HashMap<usize, HashMap<&'a [u8], (usize, usize)>>,
    /// Installed symlinks and what they point to, per namespace.
    links_by_namespace: HashMap<usize, HashMap<&'a [u8], &'a [u8]>>,
    namespace_of: Vec<usize>,
}

/// How many symlinks a path may pass through, as the kernel's own limit (`MAXSYMLINKS`).
pub(super) const MAX_SYMLINK_HOPS: usize = 40;

impl<'a> PathIndex<'a> {
    pub fn new(inventories: &'a [Inventory]) -> PathIndex<'a> {
        let namespace_of: Vec<usize> = inventories
            .iter()
            .enumerate()
            .map(|(i, inv)| if inv.kind == ItemKind::Package { usize::MAX } else { i })
            .collect();
        let mut by_namespace: HashMap<usize, HashMap<&'a [u8], (usize, usize)>> = HashMap::new();
        let mut links_by_namespace: HashMap<usize, HashMap<&'a [u8], &'a [u8]>> = HashMap::new();
        for (i, inv) in inventories.iter().enumerate() {
            let paths = by_namespace.entry(namespace_of[i]).or_default();
            let links = links_by_namespace.entry(namespace_of[i]).or_default();
            for (f, file) in inv.files.iter().enumerate() {
                if file.is_installed_regular() {
                    paths.entry(file.path.as_slice()).or_insert((i, f));
                } else if file.kind == FileKind::Symlink && !file.ghost && !file.link_target.is_empty() {
                    links.entry(file.path.as_slice()).or_insert(&file.link_target);
                }
            }
        }
        PathIndex { by_namespace, links_by_namespace, namespace_of }
    }

    /// The installed regular file at `path` seen from inventory `from`: (inventory, file).
    /// Symlinks are followed, as Python follows them when it stats a source: a module whose
    /// source is a link to a file is that file.
    pub fn find(&self, from: usize, path: &[u8]) -> Option<(usize, usize)> {
        let namespace = self.namespace_of[from];
        let paths = self.by_namespace.get(&namespace)?;
        let links = self.links_by_namespace.get(&namespace);
        let mut path = path.to_vec();
        for _ in 0..MAX_SYMLINK_HOPS {
            if let Some(found) = paths.get(path.as_slice()) {
                return Some(*found);
            }
            let target = links?.get(path.as_slice())?;
            path = resolve_link(&path, target);
        }
        None
    }
}

impl PathIndex<'_> {
    /// The installed regular file at `path` seen from inventory `from`, symlinks not followed.
    pub fn regular(&self, from: usize, path: &[u8]) -> Option<(usize, usize)> {
        self.by_namespace.get(&self.namespace_of[from])?.get(path).copied()
    }

    /// Whether `path` seen from inventory `from` is an installed symlink: a source that is one
    /// exists even when what it points to is outside the items checked.
    pub fn is_symlink(&self, from: usize, path: &[u8]) -> bool {
        self.links_by_namespace.get(&self.namespace_of[from]).is_some_and(|links| links.contains_key(path))
    }
}

/// The absolute, normalized path a symlink at `link` pointing to `target` names: relative
/// targets start from the link's directory; `.` and `..` are folded (`..` of `/` is `/`).
pub(super) fn resolve_link(link: &[u8], target: &[u8]) -> Vec<u8> {
    let mut joined = Vec::with_capacity(link.len() + target.len() + 1);
    if !target.starts_with(b"/") {
        joined.extend_from_slice(split_path(link).0);
        joined.push(b'/');
    }
    joined.extend_from_slice(target);
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in joined.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut resolved = Vec::with_capacity(joined.len());
    for part in parts {
        resolved.push(b'/');
        resolved.extend_from_slice(part);
    }
    if resolved.is_empty() {
        resolved.push(b'/');
    }
    resolved
}

/// All inventories as one installation (the subpackages of one build): their files in one
/// list. Stored copies stay apart: each item's storage ids are renumbered so that no two items
/// share one (rpm numbers inodes per package, from 1).
pub fn merge(inventories: Vec<Inventory>) -> Option<Inventory> {
    let first = inventories.first()?;
    let kind = if inventories.iter().all(|i| i.kind == ItemKind::Package) { ItemKind::Package } else { ItemKind::Tree };
    let (location, name) = (first.location.clone(), format!("{} items together", inventories.len()));
    let mut renumbered: HashMap<(usize, Storage), u64> = HashMap::new();
    let mut files = Vec::new();
    for (item, inventory) in inventories.into_iter().enumerate() {
        for mut file in inventory.files {
            let next = renumbered.len() as u64;
            let id = *renumbered.entry((item, file.storage)).or_insert(next);
            file.storage = (u64::MAX, id);
            files.push(file);
        }
    }
    Some(Inventory { kind, location, name, files, package_name: None })
}

#[cfg(test)]
mod tests {
    use super::resolve_link;

    #[test]
    fn link_targets_resolve_like_the_kernel_does() {
        let r = |link: &str, target: &str| String::from_utf8(resolve_link(link.as_bytes(), target.as_bytes())).unwrap();
        assert_eq!(r("/usr/lib/p/m.py", "n.py"), "/usr/lib/p/n.py");
        assert_eq!(r("/usr/lib/p/m.py", "../q/./n.py"), "/usr/lib/q/n.py");
        assert_eq!(r("/usr/lib/p/m.py", "/usr/share/n.py"), "/usr/share/n.py");
        assert_eq!(r("/m.py", "../../n.py"), "/n.py");
    }
}

#[cfg(test)]
mod digest_tests {
    use super::FileDigest;

    #[test]
    fn digests_are_equal_when_their_texts_are() {
        let texts: [&[u8]; 9] = [b"", b"00", b"0a", b"0A", b"0a1", b"a0", b"zz", &[b'f'; 128], &[b'f'; 130]];
        for a in texts {
            for b in texts {
                assert_eq!(FileDigest::from_text(a) == FileDigest::from_text(b), a == b, "{a:?} {b:?}");
            }
            assert_eq!(FileDigest::from_text(a).is_empty(), a.is_empty());
        }
        assert!(matches!(FileDigest::from_text(&[b'f'; 128]), FileDigest::Hex { len: 64, .. }));
        assert!(matches!(FileDigest::from_text(b"0A"), FileDigest::Text(_)));
    }
}

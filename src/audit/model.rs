//! The common model: a tree and a package both become a list of installed files.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

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
    /// The package header's file digest (hex); empty for files without one.
    Digest(Box<str>),
    /// The file on disk, compared byte for byte.
    OnDisk(PathBuf),
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
    pub owner: Box<str>,
    /// Seconds since the epoch (a package's FILEMTIMES).
    pub mtime: i64,
    /// Owned but not shipped (`%ghost`): costs nothing installed.
    pub ghost: bool,
}

impl FileRecord {
    /// A regular file that the package actually installs.
    pub fn is_installed_regular(&self) -> bool {
        self.kind == FileKind::Regular && !self.ghost
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
    namespace_of: Vec<usize>,
}

impl<'a> PathIndex<'a> {
    pub fn new(inventories: &'a [Inventory]) -> PathIndex<'a> {
        let namespace_of: Vec<usize> = inventories
            .iter()
            .enumerate()
            .map(|(i, inv)| if inv.kind == ItemKind::Package { usize::MAX } else { i })
            .collect();
        let mut by_namespace: HashMap<usize, HashMap<&'a [u8], (usize, usize)>> = HashMap::new();
        for (i, inv) in inventories.iter().enumerate() {
            let paths = by_namespace.entry(namespace_of[i]).or_default();
            for (f, file) in inv.files.iter().enumerate() {
                if file.is_installed_regular() {
                    paths.entry(file.path.as_slice()).or_insert((i, f));
                }
            }
        }
        PathIndex { by_namespace, namespace_of }
    }

    /// The installed regular file at `path` seen from inventory `from`: (inventory, file).
    pub fn find(&self, from: usize, path: &[u8]) -> Option<(usize, usize)> {
        self.by_namespace.get(&self.namespace_of[from])?.get(path).copied()
    }
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
    Some(Inventory { kind, location, name, files })
}

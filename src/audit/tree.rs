//! Inventory of a directory tree: every file below it, `lstat`ed relative to its open directory.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, FileType};

use super::model::{Content, FileKind, FileRecord, Inventory, ItemKind, MAX_INSTALLED_SIZE};
use crate::error::Error;
use crate::link::group::Identity;
use crate::link::walk::{check_roots, visit_dirs, Listing};

/// The lead of every `.rpm` file (`rpmlead.magic`).
const RPM_LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];

/// What a walk of one directory found.
#[derive(Debug)]
pub struct Scanned {
    pub tree: Inventory,
    /// Files named `*.rpm` that start like a package: read as packages, not as tree files, so
    /// that `stats REPODIR` reports a repository directory package by package.
    pub packages: Vec<PathBuf>,
    /// Directories and files that could not be read.
    pub errors: Vec<Error>,
}

/// Walks `root` in parallel and lists its files as installed paths (`/` is `root`).
pub fn inventory(root: &Path) -> Scanned {
    let name = root.display().to_string();
    let mut scanned = Scanned {
        tree: Inventory {
            kind: ItemKind::Tree,
            location: root.to_path_buf(),
            name,
            files: Vec::new(),
            package_name: None,
        },
        packages: Vec::new(),
        errors: Vec::new(),
    };
    let roots = match check_roots(&[root.to_path_buf()]) {
        Ok(roots) => roots,
        Err(e) => {
            scanned.errors.push(e);
            return scanned;
        }
    };
    let walk = visit_dirs(&roots, |listing| Some(list_dir(root, listing)));
    scanned.errors.extend(walk.errors);
    for (_, dir) in walk.dirs {
        scanned.tree.files.extend(dir.files);
        scanned.packages.extend(dir.packages);
        scanned.errors.extend(dir.errors);
    }
    scanned.tree.files.sort_by(|a, b| a.path.cmp(&b.path));
    // Packages in path order, not the walk's: two runs list them alike.
    scanned.packages.sort();
    scanned
}

/// The tree of a scan as an item of its own: none when it holds nothing but packages (a
/// repository directory), an error when its sizes do not add up in 64 bits (a total that does
/// not fit is an error, never a number).
pub fn tree_item(tree: Inventory, has_packages: bool) -> Option<Result<Inventory, Error>> {
    if tree.files.is_empty() && has_packages {
        return None;
    }
    Some(super::model::check_size_sum(&tree, "its files").map(|_| tree))
}

#[derive(Default)]
struct DirFiles {
    files: Vec<FileRecord>,
    packages: Vec<PathBuf>,
    errors: Vec<Error>,
}

fn list_dir(root: &Path, listing: &Listing) -> DirFiles {
    let mut found = DirFiles::default();
    let relative = listing.path.strip_prefix(root).unwrap_or(Path::new(""));
    let mut prefix = b"/".to_vec();
    if !relative.as_os_str().is_empty() {
        prefix.extend_from_slice(relative.as_os_str().as_bytes());
        prefix.push(b'/');
    }
    // The owner of the file before: a directory's files mostly have one, shared.
    let mut last_owner: Option<(u32, u32, Arc<str>)> = None;
    let mut owner = |uid: u32, gid: u32| match &last_owner {
        Some((u, g, owner)) if (*u, *g) == (uid, gid) => owner.clone(),
        _ => {
            let owner: Arc<str> = format!("{uid}:{gid}").into();
            last_owner = Some((uid, gid, owner.clone()));
            owner
        }
    };
    for entry in &listing.entries {
        if entry.file_type == FileType::Directory {
            continue;
        }
        let path = listing.join(entry);
        let stat = match rustix::fs::statat(listing.fd(), &entry.name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(e) => {
                found.errors.push(Error::io(&path, e.into()));
                continue;
            }
        };
        let id = Identity::of_stat(&stat);
        let kind = match FileType::from_raw_mode(stat.st_mode as _) {
            FileType::RegularFile => FileKind::Regular,
            FileType::Symlink => FileKind::Symlink,
            FileType::Directory => FileKind::Directory,
            _ => FileKind::Other,
        };
        if kind == FileKind::Regular && id.size > MAX_INSTALLED_SIZE {
            let reason = format!("{} bytes, larger than any real file (1 PiB): not read", id.size);
            found.errors.push(Error::Size { path, reason });
            continue;
        }
        if kind == FileKind::Regular && entry.name_bytes().ends_with(b".rpm") && starts_like_rpm(&path) {
            found.packages.push(path);
            continue;
        }
        let link_target = if kind == FileKind::Symlink {
            match rustix::fs::readlinkat(listing.fd(), &entry.name, Vec::new()) {
                Ok(target) => target.into_bytes().into_boxed_slice(),
                Err(e) => {
                    found.errors.push(Error::io(&path, e.into()));
                    continue;
                }
            }
        } else {
            Box::default()
        };
        let mut installed = prefix.clone();
        installed.extend_from_slice(entry.name_bytes());
        found.files.push(FileRecord {
            path: installed,
            kind,
            size: id.size,
            storage: (id.dev, id.ino),
            content: Content::OnDisk(path),
            mode: id.mode,
            owner: owner(id.uid, id.gid),
            mtime: id.mtime.0,
            ghost: false,
            link_target,
        });
    }
    found
}

fn starts_like_rpm(path: &Path) -> bool {
    let mut lead = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut lead)).is_ok() && lead == RPM_LEAD_MAGIC
}

/// The path of a tree file on disk, from its record.
pub fn disk_path(record: &FileRecord) -> Option<&Path> {
    match &record.content {
        Content::OnDisk(path) => Some(path),
        Content::Digest(_) => None,
    }
}

/// The bytes a cache compiled inside a build root without `-s`/`-p` records: the build root's
/// absolute path, as named and as resolved. Only inside a build (`$RPM_BUILD_ROOT` set, and
/// `root` is the build root or below it) is there one: an installed tree's caches record their
/// real paths, which are the tree's own path and no mistake.
pub fn build_root_markers(root: &Path) -> Vec<Vec<u8>> {
    match std::env::var_os("RPM_BUILD_ROOT") {
        Some(build_root) => markers_inside_build(root, Path::new(&build_root)),
        None => Vec::new(),
    }
}

fn markers_inside_build(root: &Path, build_root: &Path) -> Vec<Vec<u8>> {
    let (Ok(canonical_root), Ok(canonical_build_root)) =
        (std::fs::canonicalize(root), std::fs::canonicalize(build_root))
    else {
        return Vec::new();
    };
    if !canonical_root.starts_with(&canonical_build_root) {
        return Vec::new();
    }
    let mut markers = Vec::new();
    if build_root.is_absolute() {
        markers.push(build_root.as_os_str().as_bytes().to_vec());
    }
    markers.push(canonical_build_root.as_os_str().as_bytes().to_vec());
    for marker in &mut markers {
        while marker.len() > 1 && marker.ends_with(b"/") {
            marker.pop();
        }
    }
    // A build root of `/` would match every absolute path: nothing to look for then (and a brp
    // script changes nothing there).
    markers.retain(|m| m.len() > 1);
    markers.sort();
    markers.dedup();
    markers
}

//! The owner's whole list for a spec without `%pyproject_save_files`: the directories given
//! to `%py_bytecode_split` (`%{python3_sitelib}/foo`), every directory and non-cache file
//! below them, and their caches as `%ghost`, so that this one list replaces the spec's
//! `%{python3_sitelib}/foo/` line (which would list every cache a second time).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::split::{FileLists, ListRenderer};

/// The file name of the owner's list (`%py_bytecode_owner_files`).
pub const OWNER_LIST_NAME: &str = "bytecode-owner.files";

/// Renders the owner's list for the installed directories `own`, below `real_root`: `%dir`
/// for each directory, each file that ships in no bytecode subpackage as it is (a cache left
/// out of the split by `--include`/`--exclude` too), the caches of the split as `%ghost`,
/// also those absent from the build root (levels Python may write at run time).
pub fn render(
    own: &[PathBuf],
    real_root: &Path,
    lists: &FileLists,
    renderer: &mut ListRenderer<'_>,
) -> Result<String, Error> {
    let in_subpackage: BTreeSet<&[u8]> =
        lists.groups.iter().flat_map(|(_, caches)| caches.iter().map(Vec::as_slice)).collect();
    let mut dirs = BTreeSet::new();
    let mut files = BTreeSet::new();
    for top in own {
        let installed = Path::new("/").join(top.strip_prefix("/").unwrap_or(top));
        let mut stack = vec![installed];
        while let Some(dir) = stack.pop() {
            let on_disk = real_root.join(dir.strip_prefix("/").unwrap_or(&dir));
            let entries = std::fs::read_dir(&on_disk).map_err(|e| Error::io(&on_disk, e))?;
            dirs.insert(dir.clone().into_os_string().into_vec());
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&on_disk, e))?;
                let path = dir.join(entry.file_name());
                // Not followed: a symlink to a directory is a file of the package.
                if entry.file_type().map_err(|e| Error::io(&on_disk.join(entry.file_name()), e))?.is_dir() {
                    stack.push(path);
                } else {
                    files.insert(path.into_os_string().into_vec());
                }
            }
        }
    }
    let below = |path: &[u8]| {
        own.iter().any(|top| {
            Path::new(OsStr::from_bytes(path)).starts_with(Path::new("/").join(top.strip_prefix("/").unwrap_or(top)))
        })
    };
    let ghosts: BTreeSet<&Vec<u8>> = lists.ghosts.iter().chain(&lists.unassigned).filter(|p| below(p)).collect();
    let mut text = renderer.owned_entries(dirs.iter(), ghosts.iter().copied())?;
    for file in files.iter().filter(|f| !in_subpackage.contains(f.as_slice()) && !ghosts.contains(f)) {
        text.push_str(&renderer.line("", file)?);
    }
    Ok(text)
}

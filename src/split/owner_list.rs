//! The owner's whole list for a spec without `%pyproject_save_files`: the directories given
//! to `%py_bytecode_split` (`%{python3_sitelib}/foo`), every directory and non-cache file
//! below them, and their caches as `%ghost`, so that this one list replaces the spec's
//! `%{python3_sitelib}/foo/` line (which would list every cache a second time).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet};

use crate::error::Error;
use crate::render::rpm_files::has_glob_chars;
use crate::split::{FileLists, ListRenderer};

/// The file name of the owner's list (`%py_bytecode_owner_files`).
pub const OWNER_LIST_NAME: &str = "bytecode-owner.files";

/// Renders the owner's list for the installed directories `own`, below `real_root`: `%dir`
/// for each directory, each file that ships in no bytecode subpackage as it is (a cache left
/// out of the split by `--include`/`--exclude` too), the caches of the split as `%ghost`,
/// also those absent from the build root (levels Python may write at run time); and, as
/// `%ghost`, the caches of the split that `taken` matches (the cache globs a
/// `%py_bytecode_owns` line took over).
pub fn render(
    own: &[PathBuf],
    real_root: &Path,
    lists: &FileLists,
    taken: Option<&GlobSet>,
    renderer: &mut ListRenderer<'_>,
) -> Result<String, Error> {
    let in_subpackage: BTreeSet<&[u8]> =
        lists.groups.iter().flat_map(|(_, caches)| caches.iter().map(Vec::as_slice)).collect();
    let own = expand_globs(own, real_root)?;
    let mut dirs = BTreeSet::new();
    let mut files = BTreeSet::new();
    for installed in &own {
        let on_disk = real_root.join(installed.strip_prefix("/").unwrap_or(installed));
        let meta = std::fs::symlink_metadata(&on_disk).map_err(|e| Error::io(&on_disk, e))?;
        if !meta.is_dir() {
            // A file a glob named (a top-level module, say): a file of the owner.
            files.insert(installed.clone().into_os_string().into_vec());
            continue;
        }
        let mut stack = vec![installed.clone()];
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
    let below = |path: &[u8]| own.iter().any(|top| Path::new(OsStr::from_bytes(path)).starts_with(top));
    let by_glob = |path: &[u8]| taken.is_some_and(|globs| globs.is_match(Path::new(OsStr::from_bytes(path))));
    let ghosts: BTreeSet<&Vec<u8>> =
        lists.ghosts.iter().chain(&lists.unassigned).filter(|p| below(p) || by_glob(p)).collect();
    let mut text = renderer.owned_entries(dirs.iter(), ghosts.iter().copied())?;
    for file in files.iter().filter(|f| !in_subpackage.contains(f.as_slice()) && !ghosts.contains(f)) {
        text.push_str(&renderer.line("", file)?);
    }
    Ok(text)
}

/// The installed paths `own` names, absolute: each as given, or, when its last component is a
/// glob (`%{python3_sitelib}/*`), the entries of its directory in the build root it matches,
/// as rpm expands a `%files` glob: `*` and `?` do not match a leading `.`, and a glob that
/// matches nothing is an error (rpm's "File not found by glob").
fn expand_globs(own: &[PathBuf], real_root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut expanded = Vec::new();
    for top in own {
        let installed = Path::new("/").join(top.strip_prefix("/").unwrap_or(top));
        let (Some(parent), Some(pattern)) = (installed.parent(), installed.file_name()) else {
            expanded.push(installed);
            continue;
        };
        if has_glob_chars(parent.as_os_str().as_bytes()) {
            return Err(Error::Glob(
                installed.display().to_string(),
                "only the last component of a directory given to split may be a glob".into(),
            ));
        }
        if !has_glob_chars(pattern.as_bytes()) {
            expanded.push(installed);
            continue;
        }
        let text = pattern.to_str().ok_or_else(|| Error::Glob(installed.display().to_string(), "not UTF-8".into()))?;
        let matcher = GlobBuilder::new(text)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::Glob(text.to_string(), e.to_string()))?
            .compile_matcher();
        let on_disk = real_root.join(parent.strip_prefix("/").unwrap_or(parent));
        let mut names: Vec<std::ffi::OsString> = Vec::new();
        for entry in std::fs::read_dir(&on_disk).map_err(|e| Error::io(&on_disk, e))? {
            let name = entry.map_err(|e| Error::io(&on_disk, e))?.file_name();
            let hidden = name.as_bytes().starts_with(b".") && !text.starts_with('.');
            if !hidden && matcher.is_match(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return Err(Error::Glob(installed.display().to_string(), "matches nothing in the build root".into()));
        }
        names.sort();
        expanded.extend(names.into_iter().map(|name| parent.join(name)));
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_names_the_entries_it_matches_but_hidden_ones() {
        let root = tempfile::tempdir().unwrap();
        let site = root.path().join("usr/lib/site");
        for dir in ["foo", "bar", "__pycache__", ".hidden"] {
            std::fs::create_dir_all(site.join(dir)).unwrap();
        }
        std::fs::write(site.join("top.py"), "").unwrap();
        let got = expand_globs(&[PathBuf::from("/usr/lib/site/*")], root.path()).unwrap();
        let names: Vec<String> = got.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            names,
            ["/usr/lib/site/__pycache__", "/usr/lib/site/bar", "/usr/lib/site/foo", "/usr/lib/site/top.py"]
        );
        assert_eq!(
            expand_globs(&[PathBuf::from("usr/lib/site/f*")], root.path()).unwrap(),
            [PathBuf::from("/usr/lib/site/foo")]
        );
        assert_eq!(
            expand_globs(&[PathBuf::from("/usr/lib/site/.h*")], root.path()).unwrap(),
            [PathBuf::from("/usr/lib/site/.hidden")]
        );
        assert!(expand_globs(&[PathBuf::from("/usr/lib/site/zz*")], root.path())
            .unwrap_err()
            .to_string()
            .contains("matches nothing"));
        assert!(expand_globs(&[PathBuf::from("/usr/*/site/foo")], root.path()).is_err());
        assert_eq!(
            expand_globs(&[PathBuf::from("/usr/lib/site/foo")], root.path()).unwrap(),
            [PathBuf::from("/usr/lib/site/foo")]
        );
    }
}

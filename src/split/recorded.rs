//! What brp-pyc's rpm macros recorded while rpm parsed the spec (`macros/list-owners.lua`),
//! handed to the brp step in its environment: for each list brp-pyc takes over or writes, the
//! package whose `%files` line names it, the paths other packages list or its section
//! `%exclude`s (whose caches are left to them), and the lines of its section that list caches
//! by hand. The brp step's command line is expanded before rpm reaches the `%files` lines, so
//! this is the only way it learns them.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::split::owner_list::OWNER_LIST_NAME;
use crate::split::GHOST_LIST_NAME;

/// `LIST<TAB>OWNER` lines.
pub const OWNERS_VARIABLE: &str = "BRP_PYC_LIST_OWNERS";
/// `LIST<TAB>GLOB` lines: installed paths (a directory: all below it) whose caches stay out.
pub const LEFT_ALONE_VARIABLE: &str = "BRP_PYC_LIST_LEFT_ALONE";
/// `LIST<TAB>LINE` lines: lines of the owner's `%files` section that list caches by hand.
pub const BY_HAND_VARIABLE: &str = "BRP_PYC_LIST_BY_HAND";

/// The recorded facts, as (list, value) pairs in the order recorded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    owners: Vec<(Vec<u8>, String)>,
    left_alone: Vec<(Vec<u8>, String)>,
    by_hand: Vec<(Vec<u8>, String)>,
}

impl Recorded {
    /// What this process's environment holds (nothing outside an rpm build with the macros).
    pub fn from_env() -> Recorded {
        let var = |name| std::env::var_os(name).map(OsString::into_encoded_bytes).unwrap_or_default();
        Recorded::parse(&var(OWNERS_VARIABLE), &var(LEFT_ALONE_VARIABLE), &var(BY_HAND_VARIABLE))
    }

    /// The three variables' texts; a line without a tab is skipped.
    pub fn parse(owners: &[u8], left_alone: &[u8], by_hand: &[u8]) -> Recorded {
        let pairs = |text: &[u8]| -> Vec<(Vec<u8>, String)> {
            text.split(|&b| b == b'\n')
                .filter_map(|line| {
                    let tab = line.iter().position(|&b| b == b'\t')?;
                    Some((line[..tab].to_vec(), String::from_utf8_lossy(&line[tab + 1..]).into_owned()))
                })
                .collect()
        };
        Recorded { owners: pairs(owners), left_alone: pairs(left_alone), by_hand: pairs(by_hand) }
    }

    fn values<'a>(pairs: &'a [(Vec<u8>, String)], lists: &[PathBuf]) -> impl Iterator<Item = &'a str> + 'a {
        let lists: Vec<Vec<u8>> = lists.iter().map(|l| l.as_os_str().as_encoded_bytes().to_vec()).collect();
        pairs.iter().filter(move |(list, _)| lists.contains(list)).map(|(_, value)| value.as_str())
    }

    /// The owner recorded for `list`.
    pub fn owner_of(&self, list: &Path) -> Option<&str> {
        Recorded::values(&self.owners, &[list.to_path_buf()]).last()
    }

    /// The distinct owners recorded for any of `lists`.
    pub fn owners_of(&self, lists: &[PathBuf]) -> BTreeSet<String> {
        Recorded::values(&self.owners, lists).map(str::to_string).collect()
    }

    /// The paths whose caches stay out of the split of `lists`, each once.
    pub fn left_alone(&self, lists: &[PathBuf]) -> Vec<String> {
        let mut seen = BTreeSet::new();
        Recorded::values(&self.left_alone, lists).filter(|p| seen.insert(*p)).map(str::to_string).collect()
    }

    /// The lines of the owner's section that list caches by hand, each once.
    pub fn by_hand(&self, lists: &[PathBuf]) -> Vec<String> {
        let mut seen = BTreeSet::new();
        Recorded::values(&self.by_hand, lists).filter(|l| seen.insert(*l)).map(str::to_string).collect()
    }
}

/// The lists that say who owns the caches of a split: the pyproject list given and its named
/// copies that exist, else the owner's list (`--own`), else the main package's list.
pub fn owner_lists(pyproject_files: Option<&Path>, own: bool, output_dir: &Path) -> Vec<PathBuf> {
    let mut lists: Vec<PathBuf> = pyproject_files
        .map(|file| crate::split::pyproject::lists_at(file).unwrap_or_default().into_iter().map(|(l, _)| l).collect())
        .unwrap_or_default();
    if lists.is_empty() {
        lists.push(output_dir.join(if own { OWNER_LIST_NAME } else { GHOST_LIST_NAME }));
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_taken_for_the_lists_asked_only() {
        let recorded = Recorded::parse(
            b"/b/pyproject-files\tpython3-pyyaml\n/b/other.files\tpython3-other\nno tab here",
            b"/b/pyproject-files\t/usr/lib/py/foo/tests\n/b/pyproject-files\t/usr/lib/py/foo/tests\n/b/other.files\t/x",
            b"/b/pyproject-files\t/usr/lib/py/__pycache__/foo.*",
        );
        let lists = [PathBuf::from("/b/pyproject-files")];
        assert_eq!(recorded.owner_of(Path::new("/b/pyproject-files")), Some("python3-pyyaml"));
        assert_eq!(recorded.owners_of(&lists).into_iter().collect::<Vec<_>>(), ["python3-pyyaml"]);
        assert_eq!(recorded.left_alone(&lists), ["/usr/lib/py/foo/tests"]);
        assert_eq!(recorded.by_hand(&lists), ["/usr/lib/py/__pycache__/foo.*"]);
        assert_eq!(recorded.owner_of(Path::new("/b/none")), None);
        assert_eq!(Recorded::parse(b"", b"", b""), Recorded::default());
    }
}

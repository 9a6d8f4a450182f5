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
/// `LIST<TAB>PATH<TAB>PATH...` lines: installed paths (a directory: all below it) whose caches
/// stay out; `LIST<TAB>*` when there were too many to hand on.
pub const LEFT_ALONE_VARIABLE: &str = "BRP_PYC_LIST_LEFT_ALONE";
/// `LIST<TAB>LINE<TAB>LINE...` lines: lines of the owner's `%files` section that list caches
/// by hand; `LIST<TAB>*` when there were too many.
pub const BY_HAND_VARIABLE: &str = "BRP_PYC_LIST_BY_HAND";

/// `LIST<TAB>DIR<TAB>DIR...` lines: the directories a `%py_bytecode_owns` line took over from
/// its macro's `DIR/` lines, whose whole tree the owner's list (LIST) now lists.
pub const TAKEN_DIRS_VARIABLE: &str = "BRP_PYC_LIST_TAKEN_DIRS";
/// `LIST<TAB>GLOB<TAB>GLOB...` lines: the cache lines (globs) a `%py_bytecode_owns` line took
/// over from its macro; the owner's list (LIST) lists what they match as `%ghost`.
pub const TAKEN_GLOBS_VARIABLE: &str = "BRP_PYC_LIST_TAKEN_GLOBS";

/// What was recorded of a list beside its owner: the values, or `None` when the macros had
/// more than they could hand on (the spec cannot be followed).
type Facts = Vec<(Vec<u8>, Option<Vec<String>>)>;

/// The recorded facts, by list, in the order recorded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    owners: Vec<(Vec<u8>, String)>,
    left_alone: Facts,
    by_hand: Facts,
    taken_dirs: Facts,
    taken_globs: Facts,
}

impl Recorded {
    /// What this process's environment holds (nothing outside an rpm build with the macros).
    pub fn from_env() -> Recorded {
        let var = |name| std::env::var_os(name).map(OsString::into_encoded_bytes).unwrap_or_default();
        Recorded::parse(&var(OWNERS_VARIABLE), &var(LEFT_ALONE_VARIABLE), &var(BY_HAND_VARIABLE))
            .with_taken_over(&var(TAKEN_DIRS_VARIABLE), &var(TAKEN_GLOBS_VARIABLE))
    }

    /// The two variables of `%py_bytecode_owns` lines added.
    pub fn with_taken_over(mut self, taken_dirs: &[u8], taken_globs: &[u8]) -> Recorded {
        self.taken_dirs = facts(taken_dirs);
        self.taken_globs = facts(taken_globs);
        self
    }

    /// The three variables' texts; a line without a tab is skipped.
    pub fn parse(owners: &[u8], left_alone: &[u8], by_hand: &[u8]) -> Recorded {
        let owners = lines(owners).into_iter().map(|(list, mut values)| (list, values.swap_remove(0))).collect();
        Recorded { owners, left_alone: facts(left_alone), by_hand: facts(by_hand), ..Recorded::default() }
    }

    fn bytes(lists: &[PathBuf]) -> Vec<Vec<u8>> {
        lists.iter().map(|l| l.as_os_str().as_encoded_bytes().to_vec()).collect()
    }

    /// The owner recorded for `list`.
    pub fn owner_of(&self, list: &Path) -> Option<&str> {
        let list = list.as_os_str().as_encoded_bytes();
        self.owners.iter().rev().find(|(l, _)| l == list).map(|(_, owner)| owner.as_str())
    }

    /// The distinct owners recorded for any of `lists`.
    pub fn owners_of(&self, lists: &[PathBuf]) -> BTreeSet<String> {
        let lists = Recorded::bytes(lists);
        self.owners.iter().filter(|(l, _)| lists.contains(l)).map(|(_, owner)| owner.clone()).collect()
    }

    fn values(facts: &Facts, lists: &[PathBuf]) -> Option<Vec<String>> {
        let lists = Recorded::bytes(lists);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (_, values) in facts.iter().filter(|(l, _)| lists.contains(l)) {
            for value in values.as_ref()? {
                if seen.insert(value.clone()) {
                    out.push(value.clone());
                }
            }
        }
        Some(out)
    }

    /// The paths whose caches stay out of the split of `lists`, each once; `None` when there
    /// were more than the macros could hand on.
    pub fn left_alone(&self, lists: &[PathBuf]) -> Option<Vec<String>> {
        Recorded::values(&self.left_alone, lists)
    }

    /// The lines of the owner's section that list caches by hand, each once; `None` when
    /// there were more than the macros could hand on.
    pub fn by_hand(&self, lists: &[PathBuf]) -> Option<Vec<String>> {
        Recorded::values(&self.by_hand, lists)
    }

    /// The directories `%py_bytecode_owns` lines took over for `lists` (whose whole trees the
    /// owner's list lists), each once; `None` when there were more than could be handed on.
    pub fn taken_dirs(&self, lists: &[PathBuf]) -> Option<Vec<String>> {
        Recorded::values(&self.taken_dirs, lists)
    }

    /// The cache globs `%py_bytecode_owns` lines took over for `lists` (whose matches the
    /// owner's list lists as `%ghost`), each once; `None` when there were more than could be
    /// handed on.
    pub fn taken_globs(&self, lists: &[PathBuf]) -> Option<Vec<String>> {
        Recorded::values(&self.taken_globs, lists)
    }
}

/// The `LIST<TAB>VALUE...` lines of a variable; a line without a tab is skipped.
fn lines(text: &[u8]) -> Vec<(Vec<u8>, Vec<String>)> {
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            let mut fields = line.split(|&b| b == b'\t');
            let list = fields.next()?.to_vec();
            let values: Vec<String> = fields.map(|v| String::from_utf8_lossy(v).into_owned()).collect();
            (!values.is_empty()).then_some((list, values))
        })
        .collect()
}

/// The facts of a variable: `LIST<TAB>*` is "too many to hand on".
fn facts(text: &[u8]) -> Facts {
    lines(text).into_iter().map(|(list, values)| (list, (values != ["*"]).then_some(values))).collect()
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
            b"/b/pyproject-files\t/usr/lib/py/foo/tests\t/usr/lib/py/foo/tests\t/usr/bin/foo\n/b/other.files\t/x",
            b"/b/pyproject-files\t/usr/lib/py/__pycache__/foo.*",
        );
        let lists = [PathBuf::from("/b/pyproject-files")];
        assert_eq!(recorded.owner_of(Path::new("/b/pyproject-files")), Some("python3-pyyaml"));
        assert_eq!(recorded.owners_of(&lists).into_iter().collect::<Vec<_>>(), ["python3-pyyaml"]);
        assert_eq!(recorded.left_alone(&lists).unwrap(), ["/usr/lib/py/foo/tests", "/usr/bin/foo"]);
        assert_eq!(recorded.by_hand(&lists).unwrap(), ["/usr/lib/py/__pycache__/foo.*"]);
        assert_eq!(recorded.owner_of(Path::new("/b/none")), None);
        assert_eq!(recorded.left_alone(&[PathBuf::from("/b/none")]).unwrap(), Vec::<String>::new());
        assert_eq!(Recorded::parse(b"", b"", b""), Recorded::default());
    }

    /// What `%py_bytecode_owns` took over is read per list, as the other facts are.
    #[test]
    fn taken_over_dirs_and_globs_are_read_per_list() {
        let recorded = Recorded::parse(b"/b/bytecode-owner.files\tpython3-libs", b"", b"").with_taken_over(
            b"/b/bytecode-owner.files\t/usr/lib64/py/json\t/usr/lib64/py/email/mime\n/b/other\t/x",
            b"/b/bytecode-owner.files\t/usr/lib64/py/__pycache__/*.cpython-314*.pyc",
        );
        let lists = [PathBuf::from("/b/bytecode-owner.files")];
        assert_eq!(recorded.taken_dirs(&lists).unwrap(), ["/usr/lib64/py/json", "/usr/lib64/py/email/mime"]);
        assert_eq!(recorded.taken_globs(&lists).unwrap(), ["/usr/lib64/py/__pycache__/*.cpython-314*.pyc"]);
        let too_many = Recorded::default().with_taken_over(b"/b/bytecode-owner.files\t*", b"");
        assert_eq!(too_many.taken_dirs(&lists), None);
        assert_eq!(too_many.taken_globs(&lists).unwrap(), Vec::<String>::new());
    }

    /// `LIST<TAB>*`: more than the macros could hand on in the environment.
    #[test]
    fn too_many_is_not_knowing() {
        let recorded = Recorded::parse(b"/b/l\tpython3-foo", b"/b/l\t*", b"");
        let lists = [PathBuf::from("/b/l")];
        assert_eq!(recorded.left_alone(&lists), None);
        assert_eq!(recorded.by_hand(&lists).unwrap(), Vec::<String>::new());
    }
}

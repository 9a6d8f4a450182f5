//! Layouts: which optimization levels ship together in one (sub)package.
//!
//! rpm keeps a hardlink set only inside one package, so links are made only inside a layout
//! group: `0,1,2` is three subpackages, `0,12` puts levels 1 and 2 together, `012` is one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::Error;
use crate::link::classify::Level;

/// The file in the list directory of `split` that records the layout of the split, so that
/// `check` on the build root knows which levels ship apart.
pub const RECORD_NAME: &str = "bytecode-layout";

/// Reads the layout `split` recorded in its list directory `dir`.
pub fn read_record(dir: &Path) -> Result<Layout, Error> {
    let path = dir.join(RECORD_NAME);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    text.trim()
        .parse()
        .map_err(|e: Error| Error::io(&path, std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())))
}

/// The list directory of `%py_bytecode_split` in the package build that runs us, from what
/// rpmbuild exports to its scripts: `%_brp_pyc_lists_dir`'s default,
/// `$RPM_BUILD_DIR/$RPM_PACKAGE_NAME-$RPM_PACKAGE_VERSION-$RPM_PACKAGE_RELEASE.brp-pyc`.
pub fn lists_dir_of_this_build() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let build_dir = PathBuf::from(var("RPM_BUILD_DIR")?);
    let mut name = var("RPM_PACKAGE_NAME")?;
    for part in [var("RPM_PACKAGE_VERSION")?, var("RPM_PACKAGE_RELEASE")?] {
        name.push("-");
        name.push(part);
    }
    name.push(".brp-pyc");
    Some(build_dir.join(name))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Each group as a bit set of level digits (bit 0 = level 0). `None`: one group that holds
    /// every level, also `opt-<alnum>` levels that have no digit (the default without a layout).
    groups: Option<Vec<u8>>,
}

impl Layout {
    /// All levels in one group: link everything identical inside a module.
    pub fn all_in_one() -> Layout {
        Layout { groups: None }
    }

    /// The groups as lists of level digits, in the order given; `[[0, 1, 2]]` for the default.
    pub fn groups(&self) -> Vec<Vec<u8>> {
        match &self.groups {
            None => vec![vec![0, 1, 2]],
            Some(groups) => groups.iter().map(|&bits| (0..3).filter(|d| bits & (1 << d) != 0).collect()).collect(),
        }
    }

    /// The group a level belongs to, as an index into [`Layout::groups`]; `None` when the layout
    /// does not name the level, and such a level is never linked.
    pub fn group_of(&self, level: &Level) -> Option<usize> {
        match (&self.groups, level.digit()) {
            (None, _) => Some(0),
            (Some(groups), Some(d)) => groups.iter().position(|&bits| bits & (1 << d) != 0),
            (Some(_), None) => None,
        }
    }
}

impl Default for Layout {
    fn default() -> Layout {
        Layout::all_in_one()
    }
}

impl FromStr for Layout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Layout, Error> {
        let bad = |why| Error::Layout(s.to_string(), why);
        let mut seen = 0u8;
        let mut groups = Vec::new();
        for part in s.split(',') {
            let mut bits = 0u8;
            if part.is_empty() {
                return Err(bad("empty group; write groups of level digits such as 0,12"));
            }
            for c in part.bytes() {
                let d = match c {
                    b'0'..=b'2' => c - b'0',
                    _ => return Err(bad("levels are the digits 0, 1 and 2")),
                };
                if seen & (1 << d) != 0 {
                    return Err(bad("a level appears twice"));
                }
                seen |= 1 << d;
                bits |= 1 << d;
            }
            groups.push(bits);
        }
        Ok(Layout { groups: Some(groups) })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<String> =
            self.groups().iter().map(|g| g.iter().map(|d| char::from(b'0' + d)).collect()).collect();
        f.write_str(&groups.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layouts() {
        let l: Layout = "0,12".parse().unwrap();
        assert_eq!(l.groups(), [vec![0], vec![1, 2]]);
        assert_eq!(l.group_of(&Level::Zero), Some(0));
        assert_eq!(l.group_of(&Level::One), l.group_of(&Level::Two));
        assert_eq!(l.group_of(&Level::Other(b"x".to_vec().into())), None);
        assert_eq!(l.to_string(), "0,12");
        let split: Layout = "0,1,2".parse().unwrap();
        assert_ne!(split.group_of(&Level::One), split.group_of(&Level::Two));
        let partial: Layout = "12".parse().unwrap();
        assert_eq!(partial.group_of(&Level::Zero), None);
        assert_eq!(Layout::default().group_of(&Level::Other(b"x".to_vec().into())), Some(0));
    }

    #[test]
    fn rejects_bad_layouts() {
        for bad in ["", "0,,1", "0,1,1", "013", "a", "0 1"] {
            assert!(
                matches!(bad.parse::<Layout>(), Err(Error::Layout(text, _)) if text == bad),
                "{bad:?} should be refused"
            );
        }
    }
}

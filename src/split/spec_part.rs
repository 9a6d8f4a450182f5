//! The spec part that declares the bytecode subpackages (rpm 4.19 and later), so that a spec
//! needs no `%package`, `%description` or `%files` of its own for them.
//!
//! rpm parses the files `*.specpart` that the build writes into `%{specpartsdir}` during
//! `%install` (the brp steps included) after `%install`. The part declares one subpackage per
//! layout group, `<owner>-bytecode-opt-<levels>`, requiring its owner at the same
//! epoch:version-release. The groups installed by default get `Supplements: <owner>`: a
//! `Recommends:` in the part would be a tag of the package named by `Name:`, which for a
//! `python-foo` spec is never built, and `%package -n <owner>` in a part fails (it exists).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::replace::replace_file;

/// The file name of the part brp-pyc writes (one per build: a second run replaces it).
pub const SPEC_PART_NAME: &str = "brp-pyc-bytecode.specpart";

/// What the spec part declares besides the lists: who owns the caches and how the
/// subpackages relate to it.
#[derive(Clone, Debug)]
pub struct Declaration {
    /// `%{specpartsdir}`, where rpm looks for parts.
    pub spec_parts_dir: PathBuf,
    /// The binary package that ships the sources and owns the caches as `%ghost`.
    pub owner: String,
    /// The owner's `[epoch:]version-release`.
    pub owner_evr: String,
    /// Whether the subpackages are `BuildArch: noarch` (the spec's target is noarch).
    pub noarch: bool,
    /// Levels whose groups dnf installs with the owner by default (a weak dependency).
    pub default_levels: Vec<u8>,
}

impl Declaration {
    /// The name of the subpackage of the group labelled `label` (`0`, `1-2`).
    pub fn subpackage(&self, label: &str) -> String {
        format!("{}-bytecode-opt-{label}", self.owner)
    }

    /// Checks the names that go into the part: an rpm name has no whitespace and no `%`
    /// (which rpm would expand), and a version-release has exactly one `-`.
    pub fn validate(&self) -> Result<(), Error> {
        let bad_name = !is_package_name(&self.owner);
        let bad_evr =
            self.owner_evr.chars().any(|c| c.is_whitespace() || c == '%') || self.owner_evr.matches('-').count() != 1;
        if bad_name || bad_evr {
            return Err(Error::BadOwner { owner: self.owner.clone(), evr: self.owner_evr.clone() });
        }
        Ok(())
    }
}

/// Whether `name` can stand as a package name in the part: not empty, no white space, no `%`
/// (which rpm would expand) and no `,` (which would end a dependency).
pub fn is_package_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '%' || c == ',')
}

/// The longest description line rpmlint accepts (`description-line-too-long`).
const DESCRIPTION_WIDTH: usize = 79;

/// `text` in lines of at most `width` characters, broken at spaces (a longer word stays
/// whole), each ending in a newline.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// How Python is run to load the caches of `level`.
fn run_with(level: u8) -> &'static str {
    match level {
        0 => "run without -O",
        1 => "run with -O",
        _ => "run with -OO",
    }
}

/// `1` → `level 1`, `[1, 2]` → `levels 1 and 2`.
fn levels_text(levels: &[u8]) -> String {
    let names: Vec<String> = levels.iter().map(u8::to_string).collect();
    match names.as_slice() {
        [one] => format!("level {one}"),
        [init @ .., last] => format!("levels {} and {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// The `%files -f` argument for `list`: `%` doubled (rpm expands the part), quoted when it
/// holds a space.
fn list_argument(list: &Path) -> Result<String, Error> {
    let text = list.to_str().filter(|t| !t.contains(['"', '\n', '\t'])).ok_or_else(|| Error::Unlistable {
        path: list.to_path_buf(),
        rpm: "rpm 4.19 and later",
        why: "a list path a spec part cannot name".into(),
    })?;
    let text = text.replace('%', "%%");
    Ok(if text.contains(' ') { format!("\"{text}\"") } else { text })
}

/// One layout group as the part declares it.
#[derive(Debug)]
pub struct DeclaredGroup<'a> {
    pub levels: Vec<u8>,
    /// `0`, `1-2`: the end of the subpackage's name.
    pub label: String,
    /// The `%files -f` list of its real caches.
    pub list: PathBuf,
    /// Those caches, as installed paths.
    pub caches: &'a BTreeSet<Vec<u8>>,
}

/// A Lua string literal for rpm: the path with `\` and `"` escaped, and `%` doubled because
/// rpm expands macros in scriptlets.
fn lua_string(path: &[u8]) -> Result<String, Error> {
    let text =
        std::str::from_utf8(path).ok().filter(|t| !t.contains(['\n', '\r'])).ok_or_else(|| Error::Unlistable {
            path: PathBuf::from(String::from_utf8_lossy(path).into_owned()),
            rpm: "rpm 4.19 and later",
            why: "a name a scriptlet cannot hold".into(),
        })?;
    Ok(format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%")))
}

/// The text of the part: for each group, a `%package` with Summary, Requires, the weak
/// dependency and BuildArch where they apply, a `%description`, a `%postun` and `%files -f`.
///
/// The `%postun` removes the group's caches when the subpackage is erased and not upgraded:
/// rpm keeps a file that another installed package owns, even as `%ghost`, so without it
/// `dnf remove` of a bytecode subpackage would leave its caches, which Python goes on loading.
/// It is Lua, run inside rpm (no shell needed in the installed system).
pub fn render(declaration: &Declaration, groups: &[DeclaredGroup<'_>]) -> Result<String, Error> {
    let owner = &declaration.owner;
    let mut text = String::from("# Written by brp-pyc split: the bytecode subpackages of this build.\n");
    for DeclaredGroup { levels, label, list, caches } in groups {
        let name = declaration.subpackage(label);
        let default = levels.iter().any(|l| declaration.default_levels.contains(l));
        let how: Vec<&str> = levels.iter().map(|&l| run_with(l)).collect();
        let summary = match levels.as_slice() {
            [0] => format!("Bytecode caches of {owner} for Python run without -O"),
            _ => format!("Bytecode caches of {owner} ({})", levels_text(levels)),
        };
        text.push_str(&format!(
            "\n%package -n {name}\nSummary: {summary}\nRequires: {owner} = {}\n",
            declaration.owner_evr
        ));
        if default {
            text.push_str(&format!("Supplements: {owner}\n"));
        }
        if declaration.noarch {
            text.push_str("BuildArch: noarch\n");
        }
        let mut about = format!(
            "The optimization {} bytecode caches (__pycache__/*.pyc) of the modules of {owner}, \
             which Python loads when {}. Without them Python compiles those modules again each \
             time it imports them.",
            levels_text(levels),
            how.join(" or "),
        );
        if default {
            about.push_str(&format!(" Installed with {owner} by default; removing it keeps {owner}."));
        }
        text.push_str(&format!("\n%description -n {name}\n{}", wrap(&about, DESCRIPTION_WIDTH)));
        text.push_str(&format!("\n%postun -n {name} -p <lua>\nif arg[2] == 0 then\n  for _, path in ipairs({{\n"));
        for cache in caches.iter() {
            text.push_str(&format!("    {},\n", lua_string(cache)?));
        }
        text.push_str("  }) do os.remove(path) end\nend\n");
        text.push_str(&format!("\n%files -n {name} -f {}\n", list_argument(list)?));
    }
    Ok(text)
}

/// Writes the part into the spec parts directory through a temporary name (which does not end
/// in `.specpart`, so rpm never reads half a part).
pub fn write(declaration: &Declaration, text: &str) -> Result<PathBuf, Error> {
    write_as(declaration, text, SPEC_PART_NAME)
}

/// [`write()`] under the file name `name` (one part per owner).
pub fn write_as(declaration: &Declaration, text: &str, name: &str) -> Result<PathBuf, Error> {
    let dir = &declaration.spec_parts_dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(name);
    replace_file(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration() -> Declaration {
        Declaration {
            spec_parts_dir: PathBuf::from("/parts"),
            owner: "python3-foo".into(),
            owner_evr: "1:2.0-3.fc42".into(),
            noarch: true,
            default_levels: vec![0],
        }
    }

    #[test]
    fn one_subpackage_per_group_and_the_weak_dependency_on_level_0() {
        let level_0: BTreeSet<Vec<u8>> = [b"/s/__pycache__/m.cpython-313.pyc".to_vec()].into();
        let levels_12: BTreeSet<Vec<u8>> = [b"/s/__pycache__/100%\"\\.cpython-313.opt-1.pyc".to_vec()].into();
        let groups = vec![
            DeclaredGroup {
                levels: vec![0],
                label: "0".into(),
                list: "/b/l/bytecode-opt-0.files".into(),
                caches: &level_0,
            },
            DeclaredGroup {
                levels: vec![1, 2],
                label: "1-2".into(),
                list: "/b/100% l/bytecode-opt-1-2.files".into(),
                caches: &levels_12,
            },
        ];
        let text = render(&declaration(), &groups).unwrap();
        let opt0 = &text[text.find("%package -n python3-foo-bytecode-opt-0\n").unwrap()
            ..text.find("%package -n python3-foo-bytecode-opt-1-2").unwrap()];
        assert!(
            opt0.contains("Requires: python3-foo = 1:2.0-3.fc42\nSupplements: python3-foo\nBuildArch: noarch\n"),
            "{opt0}"
        );
        assert!(opt0.contains("%files -n python3-foo-bytecode-opt-0 -f /b/l/bytecode-opt-0.files\n"), "{opt0}");
        assert!(opt0.contains("when run without -O"), "{opt0}");
        let opt12 = &text[text.find("%package -n python3-foo-bytecode-opt-1-2").unwrap()..];
        assert!(
            !opt12.contains("Supplements") && opt12.contains("levels 1 and 2") && opt12.contains("-O or run with -OO"),
            "{opt12}"
        );
        assert!(opt12.contains("-f \"/b/100%% l/bytecode-opt-1-2.files\"\n"), "{opt12}");
        assert!(opt0.contains("%postun -n python3-foo-bytecode-opt-0 -p <lua>\nif arg[2] == 0 then\n"), "{opt0}");
        assert!(opt0.contains("    \"/s/__pycache__/m.cpython-313.pyc\",\n"), "{opt0}");
        assert!(
            opt12.contains(
                r#"    "/s/__pycache__/100%%\"\\.cpython-313.opt-1.pyc",
"#
            ),
            "{opt12}"
        );
    }

    #[test]
    fn descriptions_fit_in_rpmlint_width() {
        let mut long = declaration();
        long.owner = "python3-a-rather-long-package-name-for-testing".into();
        let level_0: BTreeSet<Vec<u8>> = BTreeSet::new();
        let groups = [DeclaredGroup { levels: vec![0], label: "0".into(), list: "/l".into(), caches: &level_0 }];
        let text = render(&long, &groups).unwrap();
        let description = &text[text.find("%description").unwrap()..text.find("%postun").unwrap()];
        assert!(description.lines().all(|l| l.chars().count() <= DESCRIPTION_WIDTH), "{description}");
        assert!(
            description.contains("removing it keeps\npython3-a-rather")
                || description.contains("removing it keeps python3-a-rather"),
            "{description}"
        );
        assert_eq!(wrap("a bb ccc", 4), "a bb\nccc\n");
    }

    #[test]
    fn names_that_would_break_the_part_are_refused() {
        let mut bad = declaration();
        bad.owner = "python3 foo".into();
        assert!(bad.validate().unwrap_err().to_string().contains("python3 foo"));
        let mut bad = declaration();
        bad.owner_evr = "1.0".into();
        assert!(bad.validate().is_err());
        assert!(declaration().validate().is_ok());
    }
}

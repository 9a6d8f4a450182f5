//! `%py_bytecode_split` alone, on Fedora's real configuration with brp-pyc installed by
//! `make install`: with rpm 4.19 and later the brp step declares the bytecode subpackages in a
//! spec part and the owner's `%ghost` entries go into `%{pyproject_files}` itself; the
//! packages go into a local repository, where dnf installs level 0 with the owner by default.
//! With rpm 4.18 (no spec parts) the same spec fails with one line saying what to write.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::fedora::*;
use common::*;

/// What a spec with the split needs besides its unsplit form: the one macro line.
const SPLIT_LINE: &str = "%py_bytecode_split";

/// The unsplit pyproject spec with the split line added after `%pyproject_save_files ARGS`,
/// and `files` its only `%files` line.
fn split_spec(save_files_args: &str, files: &str) -> String {
    pyproject_spec(&format!("%pyproject_save_files {save_files_args}\n{SPLIT_LINE}"), &[], files)
}

/// Whether the installed rpm reads spec parts (4.19 and later).
fn rpm_reads_spec_parts() -> bool {
    rpm_version() >= (4, 19)
}

/// Builds `spec`; with rpm 4.18 checks instead that the build fails with brp-pyc's one error
/// line naming the rpm version and what to write, and returns `None`.
fn build_or_4_18_error(config: &Path, dir: &Path, spec: &str) -> Option<Build> {
    if rpm_reads_spec_parts() {
        return Some(rpmbuild(config, dir, spec));
    }
    let stderr = try_rpmbuild(config, dir, spec).err().expect("rpm 4.18 reads no spec parts: the build must fail");
    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("brp-pyc:")).collect();
    assert_eq!(ours.len(), 1, "one line from brp-pyc:\n{stderr}");
    let (major, minor) = rpm_version();
    for needed in [format!("rpm {major}.{minor}"), "reads no spec parts".into(), "%package -n python3-foo-bytecode-opt-0".into(), "%py_bytecode_files 0".into()] {
        assert!(ours[0].contains(&needed), "{needed:?} in {}", ours[0]);
    }
    None
}

/// The sitelib of the packages (Fedora's `/usr/lib/pythonX.Y/site-packages`), from the owner.
fn sitelib_of(owner: &Path) -> String {
    let files = files_of(owner);
    let top = files.iter().find(|e| e.name.ends_with("/foo_top.py")).expect("foo_top.py in the owner");
    top.name.trim_end_matches("/foo_top.py").to_string()
}

/// Checks the packages of a one-line split: the owner and one subpackage per level, each cache
/// real in exactly one subpackage (of its level) and a `%ghost` of the owner, which owns the
/// `__pycache__` directories %pyproject_save_files named; the subpackages' tags.
fn assert_declared_split(build: &Build) {
    let names: Vec<&str> = build.packages.keys().map(String::as_str).collect();
    assert_eq!(names, ["python3-foo", "python3-foo-bytecode-opt-0", "python3-foo-bytecode-opt-1", "python3-foo-bytecode-opt-2"]);
    let owner = files_of(&build.packages["python3-foo"]);
    assert!(owner.iter().filter(|e| e.name.ends_with(".pyc")).all(|e| e.ghost), "the owner ships no real cache: {owner:?}");
    let ghosts: BTreeSet<&str> = owner.iter().filter(|e| e.ghost).map(|e| e.name.as_str()).collect();
    let sitelib = sitelib_of(&build.packages["python3-foo"]);
    let pycache_dirs: BTreeSet<String> = owner.iter().filter(|e| e.dir && e.name.ends_with("/__pycache__")).map(|e| e.name.clone()).collect();
    let expected: BTreeSet<String> = ["foo/__pycache__", "foo/sub/__pycache__"].iter().map(|d| format!("{sitelib}/{d}")).collect();
    assert_eq!(pycache_dirs, expected, "the owner owns its __pycache__ directories, not site-packages/__pycache__");
    let mut real_in: BTreeMap<String, &str> = BTreeMap::new();
    for level in 0..3 {
        let name = format!("python3-foo-bytecode-opt-{level}");
        let package = &build.packages[&name];
        let files = files_of(package);
        // 7 modules: __init__, plain, docs, asserts, both, sub/__init__, foo_top.
        assert_eq!(files.len(), 7, "{name}: {files:?}");
        for file in &files {
            let level_of_name = if file.name.ends_with(".opt-1.pyc") { 1 } else if file.name.ends_with(".opt-2.pyc") { 2 } else { 0 };
            assert!(!file.ghost && !file.dir && level_of_name == level, "{name}: {file:?}");
            assert!(ghosts.contains(file.name.as_str()), "{} is a %ghost of the owner", file.name);
            assert!(real_in.insert(file.name.clone(), build.packages.keys().find(|k| **k == name).unwrap()).is_none(), "{} twice", file.name);
        }
        let query = |qf: &str| String::from_utf8(run_ok(Command::new("rpm").args(["-qp", "--qf", qf]).arg(package)).stdout).unwrap();
        assert!(query("[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]").contains("python3-foo = 1.0-1\n"), "{name} requires its owner");
        assert_eq!(query("%{ARCH}"), "noarch", "{name}");
        let supplements = query("[%{SUPPLEMENTS}\n]");
        assert_eq!(supplements, if level == 0 { "python3-foo\n" } else { "" }, "{name}: only level 0 is installed by default");
        let about = query("%{SUMMARY}\n%{DESCRIPTION}");
        let how = ["without -O", "with -O", "with -OO"][level];
        assert!(about.contains("python3-foo") && about.contains(&format!("level {level}")) && about.contains(how), "{name}: {about}");
    }
    assert_eq!(ghosts.len(), real_in.len(), "every %ghost of the owner is real in one subpackage");
    build.assert_no_set_spans_packages();
}

/// The spec of the README: an unsplit pyproject spec plus the one line builds without a
/// warning into the owner and one subpackage per level (with rpm 4.18: the one-line error).
#[test]
fn the_split_line_alone_declares_the_subpackages() {
    let Some(config) = fedora() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = split_spec("-l foo foo_top", "%files -n python3-foo -f %{pyproject_files}\n");
    let Some(build) = build_or_4_18_error(config, dir.path(), &spec) else { return };
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    assert_declared_split(&build);
}

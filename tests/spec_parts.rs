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
    for needed in [
        format!("rpm {major}.{minor}"),
        "reads no spec parts".into(),
        "%package -n python3-foo-bytecode-opt-0".into(),
        "%py_bytecode_files 0".into(),
    ] {
        assert!(ours[0].contains(&needed), "{needed:?} in {}", ours[0]);
    }
    None
}

/// The sitelib of the packages (Fedora's `/usr/lib/pythonX.Y/site-packages`), from the owner.
fn sitelib_of(owner: &Path) -> String {
    let files = files_of(owner);
    let module = files.iter().find(|e| e.name.ends_with("/foo/plain.py")).expect("foo/plain.py in the owner");
    module.name.trim_end_matches("/foo/plain.py").to_string()
}

/// How the subpackages of a build were declared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Declared {
    /// By brp-pyc in a spec part: their tags are checked too.
    ByBrpPyc,
    /// By the spec (rpm 4.18).
    BySpec,
}

/// Checks the packages of a one-line split of `modules` modules: the owner and one subpackage
/// per level, each cache real in exactly one subpackage (of its level) and a `%ghost` of the
/// owner, which owns the package's `__pycache__` directories (not site-packages'); the
/// subpackages' tags when brp-pyc declared them.
fn assert_split(build: &Build, modules: usize, declared: Declared) {
    let names: Vec<&str> = build.packages.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["python3-foo", "python3-foo-bytecode-opt-0", "python3-foo-bytecode-opt-1", "python3-foo-bytecode-opt-2"]
    );
    let owner = files_of(&build.packages["python3-foo"]);
    assert!(
        owner.iter().filter(|e| e.name.ends_with(".pyc")).all(|e| e.ghost),
        "the owner ships no real cache: {owner:?}"
    );
    let ghosts: BTreeSet<&str> = owner.iter().filter(|e| e.ghost).map(|e| e.name.as_str()).collect();
    let sitelib = sitelib_of(&build.packages["python3-foo"]);
    let pycache_dirs: BTreeSet<String> =
        owner.iter().filter(|e| e.dir && e.name.ends_with("/__pycache__")).map(|e| e.name.clone()).collect();
    let expected: BTreeSet<String> =
        ["foo/__pycache__", "foo/sub/__pycache__"].iter().map(|d| format!("{sitelib}/{d}")).collect();
    assert_eq!(pycache_dirs, expected, "the owner owns its __pycache__ directories, not site-packages/__pycache__");
    let mut real_in: BTreeMap<String, &str> = BTreeMap::new();
    for level in 0..3 {
        let name = format!("python3-foo-bytecode-opt-{level}");
        let package = &build.packages[&name];
        let files = files_of(package);
        assert_eq!(files.len(), modules, "{name}: {files:?}");
        for file in &files {
            let level_of_name = if file.name.ends_with(".opt-1.pyc") {
                1
            } else if file.name.ends_with(".opt-2.pyc") {
                2
            } else {
                0
            };
            assert!(!file.ghost && !file.dir && level_of_name == level, "{name}: {file:?}");
            assert!(ghosts.contains(file.name.as_str()), "{} is a %ghost of the owner", file.name);
            assert!(
                real_in.insert(file.name.clone(), build.packages.keys().find(|k| **k == name).unwrap()).is_none(),
                "{} twice",
                file.name
            );
        }
        let query = |qf: &str| rpm_query(package, qf);
        assert!(
            query("[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]").contains("python3-foo = 1.0-1\n"),
            "{name} requires its owner"
        );
        if declared == Declared::BySpec {
            continue;
        }
        assert_eq!(query("%{ARCH}"), "noarch", "{name}");
        let supplements = query("[%{SUPPLEMENTS}\n]");
        assert_eq!(
            supplements,
            if level == 0 { "python3-foo\n" } else { "" },
            "{name}: only level 0 is installed by default"
        );
        // Words, not lines: the description is wrapped.
        let about = query("%{SUMMARY}\n%{DESCRIPTION}").split_whitespace().collect::<Vec<_>>().join(" ");
        let how = ["without -O", "with -O", "with -OO"][level];
        assert!(
            about.contains("python3-foo") && about.contains(&format!("level {level}")) && about.contains(how),
            "{name}: {about}"
        );
    }
    assert_eq!(ghosts.len(), real_in.len(), "every %ghost of the owner is real in one subpackage");
    build.assert_no_set_spans_packages();
}

/// The `%install` and `%files` of the one-line pyproject snippet of the README and the
/// packagers' guide, after `%pyproject_install`.
const DOC_SAVE_FILES: &str = "-l foo foo_top";
const DOC_FILES: &str = "%files -n python3-foo -f %{pyproject_files}\n";

/// Builds the one-line split of `%pyproject_save_files ARGS` with `files`: no warning, the
/// owner and one subpackage per level (with rpm 4.18: the one-line error).
fn assert_one_line_split_builds(save_files_args: &str, files: &str) {
    let Some(config) = fedora() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(build) = build_or_4_18_error(config, dir.path(), &split_spec(save_files_args, files)) else { return };
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    // 7 modules: __init__, plain, docs, asserts, both, sub/__init__, foo_top.
    assert_split(&build, 7, Declared::ByBrpPyc);
}

/// The spec of the README and the packagers' guide (which both show exactly these lines): an
/// unsplit pyproject spec plus the one line.
#[test]
fn the_split_line_alone_declares_the_subpackages() {
    let snippet =
        format!("%install\n%pyproject_install\n%pyproject_save_files {DOC_SAVE_FILES}\n{SPLIT_LINE}\n\n{DOC_FILES}");
    assert_doc_shows("README.md", &snippet);
    assert_doc_shows("docs/packagers.md", &snippet);
    assert_one_line_split_builds(DOC_SAVE_FILES, DOC_FILES);
}

/// `%pyproject_save_files -D NAME` writes a named copy of the list (and no base list): it is
/// taken over the same way, so its `%files` line stays the owner's only one. The packagers'
/// guide shows these lines.
#[test]
fn a_named_copy_of_the_list_is_taken_over_too() {
    let (save_files_args, files) = ("-D foo -l foo foo_top", "%files -n python3-foo -f %{pyproject_files -D foo}\n");
    assert_doc_shows("docs/packagers.md", &format!("%pyproject_save_files {save_files_args}\n{SPLIT_LINE}\n\n{files}"));
    assert_one_line_split_builds(save_files_args, files);
}

/// Under the switch, a spec whose `%pyproject_save_files -D foo` wrote only a named copy, which
/// one package's `%files` line names, splits as the one line does (rpm 4.19 and later); a
/// copy that no `%files` line names as written (a macro writes the whole line) is left
/// unsplit, saying so.
#[test]
fn under_the_switch_a_named_copy_one_package_lists_is_split() {
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(config) = fedora_with_macro_files("switch-copy", &switch_file) else { return };
    let named = "%files -n python3-foo -f %{pyproject_files -D foo}\n";
    let spec = pyproject_spec("%pyproject_save_files -D foo -l foo foo_top", &[], named);
    let dir = tempfile::tempdir().unwrap();
    let build = try_rpmbuild(&config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    let said = switch_line(&build.stderr);
    if rpm_reads_spec_parts() {
        assert_split(&build, 7, Declared::ByBrpPyc);
        assert!(said.contains("split (the distribution's switch): the caches of python3-foo go to"), "{said}");
    } else {
        assert!(said.contains("not split") && said.contains("reads no spec parts"), "{said}");
    }
    // The same copy listed by a %files line a macro writes whole: rpm records no owner for it.
    let hidden = "%global files_of_foo %files -n python3-foo -f %{pyproject_files -D foo}\n%{files_of_foo}\n";
    let spec = pyproject_spec("%pyproject_save_files -D foo -l foo foo_top", &[], hidden);
    let dir = tempfile::tempdir().unwrap();
    match try_rpmbuild(&config, dir.path(), &spec) {
        Ok(build) => {
            assert_eq!(build.packages.keys().collect::<Vec<_>>(), ["python3-foo"], "{}", build.stderr);
            let said = switch_line(&build.stderr);
            assert!(said.contains("not split (the distribution's switch)"), "{said}");
            if rpm_reads_spec_parts() {
                assert!(said.contains("only named copies of its list, whose owners no %files line names"), "{said}");
            }
        }
        // An rpm that does not take a %files line from a macro: nothing of brp-pyc's to check.
        Err(stderr) => assert!(!stderr.contains("brp-pyc:"), "{stderr}"),
    }
}

/// The lines of the packagers' guide for a spec whose `%pyproject_save_files -D` copies two
/// packages list.
const TWO_OWNERS_SAVE_FILES: &str = "%pyproject_save_files -D foo -l foo foo_top\n%pyproject_save_files -D bar -L bar";
const TWO_OWNERS_FILES: &str =
    "%files -n python3-foo -f %{pyproject_files -D foo}\n\n%files -n python3-bar -f %{pyproject_files -D bar}\n";

/// A spec that builds two projects, `foo` and `bar` (made in `%build`; with `bar_modules`,
/// its top-level modules), installs both and saves each list with `install`, the two lists
/// listed by two packages' `%files` lines.
fn two_owners_spec(install: &str) -> String {
    two_owners_spec_with(install, "")
}

fn two_owners_spec_with(install: &str, bar_modules: &str) -> String {
    let modules = if bar_modules.is_empty() { String::new() } else { format!("py-modules = [\"{bar_modules}\"]\\n") };
    let module_file =
        if bar_modules.is_empty() { String::new() } else { format!("echo 'BAR = 1' >bar/{bar_modules}.py\n") };
    pyproject_spec(install, &[], TWO_OWNERS_FILES)
        .replacen("%prep\n", "%package -n python3-bar\nSummary: bar\n%description -n python3-bar\nbar.\n%prep\n", 1)
        .replacen(
            "%build\n%pyproject_wheel\n",
            &format!("%build\n%pyproject_wheel\nmkdir -p bar/bar\n\
             printf '[build-system]\\nrequires = [\"setuptools\"]\\nbuild-backend = \"setuptools.build_meta\"\\n\
             [project]\\nname = \"bar\"\\nversion = \"1.0\"\\n[tool.setuptools]\\npackages = [\"bar\"]\\n{modules}' >bar/pyproject.toml\n\
             printf '\"\"\"Docs.\"\"\"\\ndef g(x):\\n    assert x\\n    return x\\n' >bar/bar/__init__.py\n\
             {module_file}cd bar\n%pyproject_wheel\ncd ..\n"),
            1,
        )
}

/// `%pyproject_save_files -D` copies that the `%files` lines of two packages list, split by
/// the one line of the packagers' guide and by the distribution's switch (rpm 4.19 and
/// later): each owner gets its own bytecode subpackages, which ship the caches of its copy
/// only, require and supplement it, and dnf brings each owner's level 0 with it and not the
/// other's. With rpm 4.18 the one line fails saying why, the switch leaves the build unsplit.
#[test]
fn named_copies_of_two_owners_split_each_into_its_own_subpackages() {
    assert_doc_shows("docs/packagers.md", &format!("{TWO_OWNERS_SAVE_FILES}\n{SPLIT_LINE}\n\n{TWO_OWNERS_FILES}"));
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(switched) = fedora_with_macro_files("switch-two-owners", &switch_file) else { return };
    let Some(config) = fedora() else { return };
    let one_line = two_owners_spec(&format!("{TWO_OWNERS_SAVE_FILES}\n{SPLIT_LINE}"));
    let unmodified = two_owners_spec(TWO_OWNERS_SAVE_FILES);
    for (what, config, spec) in [("one line", config, one_line), ("switch", switched.as_path(), unmodified)] {
        let dir = tempfile::tempdir().unwrap();
        let build = try_rpmbuild(config, dir.path(), &spec);
        if !rpm_reads_spec_parts() {
            let (stderr, said) = match (what, build) {
                ("switch", Ok(build)) => {
                    assert_eq!(build.packages.keys().collect::<Vec<_>>(), ["python3-bar", "python3-foo"]);
                    (build.stderr.clone(), switch_line(&build.stderr).to_string())
                }
                ("one line", Err(stderr)) => {
                    let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("brp-pyc:")).collect();
                    assert_eq!(ours.len(), 1, "{what}: one line from brp-pyc:\n{stderr}");
                    (stderr.clone(), ours[0].to_string())
                }
                (_, Ok(build)) => panic!("{what}: rpm 4.18 cannot declare the subpackages:\n{}", build.stderr),
                (_, Err(stderr)) => panic!("{what}: the switch leaves the build unsplit, it does not fail:\n{stderr}"),
            };
            assert!(said.contains("reads no spec parts"), "{what}: {said}\n{stderr}");
            continue;
        }
        let build = build.unwrap_or_else(|stderr| panic!("{what}: {stderr}"));
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{what}: {}", build.stderr);
        assert_two_owners_split(&build, what);
        if what == "switch" {
            let said = switch_line(&build.stderr);
            for owner in ["python3-bar", "python3-foo"] {
                assert!(said.contains(&format!("the caches of {owner} go to {owner}-bytecode-opt-0")), "{said}");
            }
        }
        if !have("dnf") || !have("createrepo_c") {
            continue;
        }
        let repository = Repository::new(&build);
        let root = tempfile::tempdir().unwrap();
        repository.dnf(root.path(), &["install", "python3-bar"]);
        let expected: BTreeSet<String> =
            ["python3-bar", "python3-bar-bytecode-opt-0", "system-python"].map(String::from).into();
        assert_eq!(installed(root.path()), expected, "{what}: bar's owner brings its own level 0, not foo's");
    }
}

/// Copies of two owners that name the same caches (bar also ships `foo_top`, which both
/// `-D` calls save) are not split apart: the caches would ship in both owners' subpackages.
/// Under the switch the build stays unsplit, with a warning and the line saying why.
#[test]
fn named_copies_that_name_the_same_caches_keep_one_owner() {
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(config) = fedora_with_macro_files("switch-two-owners-overlap", &switch_file) else { return };
    let spec = two_owners_spec_with(
        "%pyproject_save_files -D foo -l foo foo_top\n%pyproject_save_files -D bar -L bar foo_top",
        "foo_top",
    );
    let dir = tempfile::tempdir().unwrap();
    let build = try_rpmbuild(&config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert_eq!(build.packages.keys().collect::<Vec<_>>(), ["python3-bar", "python3-foo"], "{}", build.stderr);
    let said = switch_line(&build.stderr);
    assert!(said.contains("not split") && said.contains("cannot split apart"), "{said}");
    assert!(
        build.stderr.contains("the copies of python3-bar and python3-foo name the same caches"),
        "the warning says why:\n{}",
        build.stderr
    );
}

/// The packages of [`two_owners_spec`] split: each owner and its three subpackages, each of
/// whose caches is a `%ghost` of that owner and real in no other package.
fn assert_two_owners_split(build: &Build, what: &str) {
    let levels = ["0", "1", "2"];
    let mut expected: Vec<String> = Vec::new();
    for owner in ["python3-bar", "python3-foo"] {
        expected.push(owner.to_string());
        expected.extend(levels.map(|l| format!("{owner}-bytecode-opt-{l}")));
    }
    assert_eq!(build.packages.keys().cloned().collect::<Vec<_>>(), expected, "{what}: {}", build.stderr);
    let mut real = BTreeSet::new();
    for owner in ["python3-bar", "python3-foo"] {
        let module = if owner == "python3-bar" { "/bar/" } else { "/foo" };
        let ghosts: BTreeSet<String> =
            files_of(&build.packages[owner]).into_iter().filter(|e| e.ghost).map(|e| e.name).collect();
        assert!(!ghosts.is_empty() && ghosts.iter().all(|g| g.contains(module)), "{what}: {owner}: {ghosts:?}");
        let mut shipped = 0;
        for level in levels {
            let name = format!("{owner}-bytecode-opt-{level}");
            let package = &build.packages[&name];
            for file in files_of(package).into_iter().filter(|e| !e.dir) {
                assert!(ghosts.contains(&file.name), "{what}: {name}: {} is a %ghost of {owner}", file.name);
                assert!(real.insert(file.name.clone()), "{what}: {} twice", file.name);
                shipped += 1;
            }
            let query = |qf: &str| rpm_query(package, qf);
            let requires = query("[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]");
            assert!(requires.contains(&format!("{owner} = 1.0-1\n")), "{what}: {name} requires {owner}: {requires}");
            let supplements = if level == "0" { format!("{owner}\n") } else { String::new() };
            assert_eq!(query("[%{SUPPLEMENTS}\n]"), supplements, "{what}: {name}");
        }
        // bar's one module has a docstring and an assert: three caches; foo's 7 modules, 3 each.
        assert_eq!(shipped, if owner == "python3-bar" { 3 } else { 21 }, "{what}: {owner}");
    }
    build.assert_no_set_spans_packages();
}

/// A spec whose package with the sources is not the guessed owner: `Name: foo-tools` (the
/// guess: `foo-tools`, never built) ships `python3-%{srcname}`, as `PyYAML` ships
/// `python3-pyyaml`. The owner is the package whose `%files` line lists `%{pyproject_files}`,
/// as rpm parsed it, for the one line and for the distribution's switch: the subpackages are
/// `python3-foo-bytecode-opt-N`, require and supplement `python3-foo`, which owns the
/// `%ghost` entries; nothing names `foo-tools`.
#[test]
fn the_owner_is_the_package_whose_files_line_lists_the_pyproject_list() {
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(switched) = fedora_with_macro_files("switch-owner", &switch_file) else { return };
    let Some(config) = fedora() else { return };
    // The -n written by a macro, as rpm expands the line (and brp-pyc reads it).
    let files = "%files %{!?without_py3:-n python3-%{srcname}} -f %{pyproject_files}\n";
    let other_name =
        |spec: String| format!("%global srcname foo\n{}", spec.replacen("Name: python-foo\n", "Name: foo-tools\n", 1));
    let one_line = other_name(split_spec(DOC_SAVE_FILES, files));
    let unmodified = other_name(pyproject_spec(&format!("%pyproject_save_files {DOC_SAVE_FILES}"), &[], files));
    for (what, config, spec) in [("one line", config, one_line), ("switch", switched.as_path(), unmodified)] {
        let dir = tempfile::tempdir().unwrap();
        if !rpm_reads_spec_parts() {
            // rpm 4.18: the one line fails, naming what to declare; the switch leaves it.
            let stderr = match try_rpmbuild(config, dir.path(), &spec) {
                Err(stderr) => stderr,
                Ok(build) => build.stderr,
            };
            let said = if what == "switch" {
                "not split (the distribution's switch)"
            } else {
                "%package -n python3-foo-bytecode-opt-0"
            };
            assert!(stderr.contains(said), "{what}: {said:?} in:\n{stderr}");
            assert!(!stderr.contains("foo-tools-bytecode"), "{what}: the guess is not named:\n{stderr}");
            continue;
        }
        let build = try_rpmbuild(config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{what}: {stderr}"));
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{what}: {}", build.stderr);
        assert_split(&build, 7, Declared::ByBrpPyc);
        assert!(!build.stderr.contains("foo-tools-bytecode"), "{what}: {}", build.stderr);
    }
}

/// Two builds of the one-line split give the same bytes in every package.
#[test]
fn two_builds_of_the_one_line_split_are_byte_identical() {
    let Some(config) = fedora() else { return };
    let spec = split_spec(DOC_SAVE_FILES, DOC_FILES);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Some(first) = build_or_4_18_error(config, a.path(), &spec) else { return };
    // A second apart, so that a time that leaked into a package would show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = rpmbuild(config, b.path(), &spec);
    assert_eq!(first.packages.keys().collect::<Vec<_>>(), second.packages.keys().collect::<Vec<_>>());
    assert_eq!(first.packages.len(), 4);
    for (name, path) in &first.packages {
        assert!(
            std::fs::read(path).unwrap() == std::fs::read(&second.packages[name]).unwrap(),
            "{name} differs between two builds"
        );
    }
}

/// A local repository of the packages of one build, and a package that provides what they
/// require from the system (`python(abi) = X.Y`, ...), so that dnf can install them offline
/// into an empty root.
struct Repository {
    dir: tempfile::TempDir,
}

impl Repository {
    fn new(build: &Build) -> Repository {
        let dir = tempfile::tempdir().unwrap();
        let mut provided = BTreeSet::new();
        let mut required = BTreeSet::new();
        for package in build.packages.values() {
            std::fs::copy(package, dir.path().join(package.file_name().unwrap())).unwrap();
            let query = |qf: &str| rpm_query(package, qf);
            provided.extend(query("[%{PROVIDENAME}\n]").lines().map(str::to_string));
            required.extend(
                query("[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]")
                    .lines()
                    .map(|l| l.trim().to_string()),
            );
        }
        let system: Vec<&String> = required
            .iter()
            .filter(|r| !r.starts_with("rpmlib(") && !provided.contains(r.split(' ').next().unwrap()))
            .collect();
        assert!(
            system.iter().any(|r| r.starts_with("python(abi) = ")),
            "the packages require python(abi): {required:?}"
        );
        assert!(system.iter().all(|r| !r.starts_with('/')), "no file dependency to provide: {system:?}");
        let provides: String = system.iter().map(|r| format!("Provides: {r}\n")).collect();
        let spec = format!(
            "Name: system-python\nVersion: 1\nRelease: 1\nSummary: what the packages need of the system\nLicense: MIT\n\
             BuildArch: noarch\n{provides}%description\nStands for the interpreter.\n%files\n"
        );
        for package in rpmbuild_spec(&dir.path().join("system-top"), &spec) {
            std::fs::copy(&package, dir.path().join(package.file_name().unwrap())).unwrap();
        }
        std::fs::remove_dir_all(dir.path().join("system-top")).unwrap();
        run_ok(Command::new("createrepo_c").arg("-q").arg(dir.path()));
        Repository { dir }
    }

    /// Runs `dnf -y ARGS...` offline against this repository only, into `root`.
    fn dnf(&self, root: &Path, args: &[&str]) -> String {
        let out = run_ok(
            Command::new("dnf")
                .arg("-y")
                .arg(format!("--installroot={}", root.display()))
                .args(["--releasever=1", "--setopt=reposdir=/dev/null", "--nogpgcheck", "--repo=local", "-q"])
                .arg(format!("--repofrompath=local,{}", self.dir.path().display()))
                .args(args),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The names of the packages installed in `root`.
fn installed(root: &Path) -> BTreeSet<String> {
    let out = run_ok(Command::new("rpm").arg("--root").arg(root).args(["-qa", "--qf", "%{NAME}\n"]));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

/// The caches that `python3 [-O] -v` loads when importing the package's modules from the
/// site-packages of `root` (the lane's python3 with that directory first on sys.path).
fn loaded_caches(root: &Path, sitelib: &str, optimize: bool) -> BTreeSet<String> {
    let site = root.join(&sitelib[1..]);
    let mut python = Command::new(SYSTEM_PYTHON);
    if optimize {
        python.arg("-O");
    }
    let out = run_ok(
        python
            .args(["-v", "-c", "import foo.plain, foo.docs, foo.asserts, foo.both, foo.sub, foo_top"])
            .env("PYTHONPATH", &site)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    let prefix = format!("code object from '{}/", site.display());
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split_once(&prefix).map(|(_, rest)| rest.trim_end_matches('\'').to_string()))
        .collect()
}

/// The repository of a one-line split: `dnf install` of the owner brings the level 0
/// subpackage by its weak dependency and nothing else, and python3 loads those caches;
/// without weak dependencies the owner comes alone, and adding opt-1 serves python3 -O.
#[test]
fn dnf_installs_level_0_with_the_owner_by_default() {
    let Some(config) = fedora() else { return };
    if !have("dnf") || !have("createrepo_c") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = split_spec(DOC_SAVE_FILES, DOC_FILES);
    let Some(build) = build_or_4_18_error(config, dir.path(), &spec) else { return };
    let repository = Repository::new(&build);
    let sitelib = sitelib_of(&build.packages["python3-foo"]);
    let tag = cache_tag(SYSTEM_PYTHON);
    let level_0: BTreeSet<String> = [
        "foo/__pycache__/plain",
        "foo/__pycache__/docs",
        "foo/__pycache__/asserts",
        "foo/__pycache__/both",
        "foo/sub/__pycache__/__init__",
        "foo/__pycache__/__init__",
        "__pycache__/foo_top",
    ]
    .iter()
    .map(|m| format!("{m}.{tag}.pyc"))
    .collect();

    let root = tempfile::tempdir().unwrap();
    repository.dnf(root.path(), &["install", "python3-foo"]);
    let expected: BTreeSet<String> =
        ["python3-foo", "python3-foo-bytecode-opt-0", "system-python"].map(String::from).into();
    assert_eq!(installed(root.path()), expected, "the owner, level 0 by its weak dependency, and what they require");
    assert_eq!(loaded_caches(root.path(), &sitelib, false), level_0, "python3 loads every level 0 cache");

    // Removing level 0 keeps the owner and removes the caches (rpm alone would keep them: the
    // owner owns them as %ghost), so python3 compiles in memory again.
    repository.dnf(root.path(), &["remove", "python3-foo-bytecode-opt-0"]);
    let expected: BTreeSet<String> = ["python3-foo", "system-python"].map(String::from).into();
    assert_eq!(installed(root.path()), expected);
    let left: Vec<&String> = level_0.iter().filter(|c| root.path().join(&sitelib[1..]).join(c).exists()).collect();
    assert_eq!(left, Vec::<&String>::new(), "dnf remove of opt-0 removes its caches");
    assert!(root.path().join(&sitelib[1..]).join("foo/plain.py").is_file(), "and keeps the sources");
    assert_eq!(loaded_caches(root.path(), &sitelib, false), BTreeSet::new());

    let bare = tempfile::tempdir().unwrap();
    repository.dnf(bare.path(), &["--setopt=install_weak_deps=False", "install", "python3-foo"]);
    assert_eq!(installed(bare.path()), expected, "without weak dependencies the owner comes alone");
    assert_eq!(loaded_caches(bare.path(), &sitelib, false), BTreeSet::new(), "no cache is installed");
    repository.dnf(bare.path(), &["install", "python3-foo-bytecode-opt-1"]);
    let level_1: BTreeSet<String> = level_0.iter().map(|c| c.replace(".pyc", ".opt-1.pyc")).collect();
    assert_eq!(loaded_caches(bare.path(), &sitelib, true), level_1, "python3 -O loads every level 1 cache");
}

/// The `%install` end and `%files` of the packagers' guide's snippet for a spec without
/// `%pyproject_save_files`, which used to list `%{python3_sitelib}/foo/`.
const DOC_DIRECTORY_INSTALL: &str = "\
cp -a foo %{buildroot}%{python3_sitelib}/
%py_bytecode_split %{python3_sitelib}/foo
";
const DOC_DIRECTORY_FILES: &str = "%files -n python3-foo -f %{py_bytecode_owner_files}\n";

/// A spec that installs its package directory by hand and lists it whole; with rpm 4.18 it
/// declares the subpackages itself.
fn directory_spec(declared: Declared) -> String {
    let mut spec = String::from(
        "Name: python-foo\nVersion: 1.0\nRelease: 1\nSummary: foo\nLicense: MIT\nBuildArch: noarch\n\
         Source0: foo-1.0.tar.gz\n%description\nfoo.\n\
         %package -n python3-foo\nSummary: foo\n%description -n python3-foo\nfoo.\n",
    );
    let levels = if declared == Declared::BySpec { 0..3 } else { 0..0 };
    for level in levels.clone() {
        spec.push_str(&format!(
            "%package -n python3-foo-bytecode-opt-{level}\nSummary: caches\nRequires: python3-foo = %{{version}}-%{{release}}\n\
             %description -n python3-foo-bytecode-opt-{level}\ncaches.\n"
        ));
    }
    spec.push_str("%prep\n%autosetup -n foo-1.0\n%install\nmkdir -p %{buildroot}%{python3_sitelib}\n");
    spec.push_str(DOC_DIRECTORY_INSTALL);
    spec.push_str("echo data > %{buildroot}%{python3_sitelib}/foo/data.txt\n\n");
    spec.push_str(DOC_DIRECTORY_FILES);
    for level in levels {
        spec.push_str(&format!("%files -n python3-foo-bytecode-opt-{level} -f %py_bytecode_files {level}\n"));
    }
    spec.push_str("\n%changelog\n* Tue Dec 01 2026 Packager <p@example.org> - 1.0-1\n- Built.\n");
    spec
}

/// Without `%pyproject_save_files`: `%{py_bytecode_owner_files}` takes the place of the
/// `%{python3_sitelib}/foo/` line, owning the directory, every file below it but the caches
/// the subpackages ship, and the caches as `%ghost`; no "File listed twice". Declared by
/// brp-pyc with rpm 4.19 and later, by the spec with rpm 4.18.
#[test]
fn a_directory_spec_keeps_one_owner_line() {
    let Some(config) = fedora() else { return };
    assert_doc_shows("docs/packagers.md", &format!("{DOC_DIRECTORY_INSTALL}\n{DOC_DIRECTORY_FILES}"));
    let declared = if rpm_reads_spec_parts() { Declared::ByBrpPyc } else { Declared::BySpec };
    let dir = tempfile::tempdir().unwrap();
    let build = rpmbuild(config, dir.path(), &directory_spec(declared));
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    // 6 modules: __init__, plain, docs, asserts, both, sub/__init__.
    assert_split(&build, 6, declared);
    let sitelib = sitelib_of(&build.packages["python3-foo"]);
    let owner: BTreeSet<String> = files_of(&build.packages["python3-foo"])
        .into_iter()
        .filter(|e| !e.ghost)
        .map(|e| e.name.trim_start_matches(&sitelib).to_string())
        .collect();
    let expected: BTreeSet<String> = [
        "/foo",
        "/foo/__pycache__",
        "/foo/sub",
        "/foo/sub/__pycache__",
        "/foo/__init__.py",
        "/foo/plain.py",
        "/foo/docs.py",
        "/foo/asserts.py",
        "/foo/both.py",
        "/foo/sub/__init__.py",
        "/foo/data.txt",
    ]
    .map(String::from)
    .into();
    assert_eq!(owner, expected, "what the owner ships besides its %ghost caches");
}

/// The line brp-pyc writes into the build log under the distribution's switch.
fn switch_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("(the distribution's switch)")).collect();
    assert_eq!(lines.len(), 1, "one line says what the switch did:\n{stderr}");
    lines[0]
}

/// The distribution's switch, `%_brp_pyc_split_pyproject 1`, set in a file of the rpm
/// configuration that sorts before brp-pyc's own (`macros.python-brp-pyc-switch`, where
/// python-srpm-macros would put it): with rpm 4.19 and later an unmodified pyproject spec is
/// split as the one line splits it; a spec without `%pyproject_save_files` and, with rpm
/// 4.18, every spec stay unsplit, their caches linked. The build log says which, in one line.
#[test]
fn the_distribution_switch_splits_an_unmodified_pyproject_spec() {
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(config) = fedora_with_macro_files("switch", &switch_file) else { return };
    let config = config.as_path();
    assert!(
        "macros.python-brp-pyc-switch" < "macros.zz-brp-pyc",
        "the switch's file is read before brp-pyc's, which must not override it"
    );
    let dir = tempfile::tempdir().unwrap();
    let unmodified = pyproject_spec(&format!("%pyproject_save_files {DOC_SAVE_FILES}"), &[], DOC_FILES);
    let build = try_rpmbuild(config, dir.path(), &unmodified).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    let said = switch_line(&build.stderr);
    if rpm_reads_spec_parts() {
        assert!(said.contains("split (the distribution's switch): the caches of python3-foo go to python3-foo-bytecode-opt-0, python3-foo-bytecode-opt-1, python3-foo-bytecode-opt-2"), "{said}");
    } else {
        let (major, minor) = rpm_version();
        assert!(
            said.contains(&format!("not split (the distribution's switch): rpm {major}.{minor}"))
                && said.contains("reads no spec parts"),
            "{said}"
        );
    }
    let tag = cache_tag(SYSTEM_PYTHON);
    let assert_unsplit_and_linked = |build: &Build| {
        assert_eq!(build.packages.keys().collect::<Vec<_>>(), ["python3-foo"]);
        let files = files_of(&build.packages["python3-foo"]);
        let inode_of = |suffix: &str| {
            files
                .iter()
                .find(|e| e.name.ends_with(suffix) && !e.ghost)
                .unwrap_or_else(|| panic!("{suffix}: {files:?}"))
                .inode
        };
        // docs.py: levels 0 and 1 are the same bytes, linked in the one package.
        assert_eq!(inode_of(&format!("/docs.{tag}.pyc")), inode_of(&format!("/docs.{tag}.opt-1.pyc")));
    };
    if rpm_reads_spec_parts() {
        assert_eq!(build.packages.len(), 4, "the owner and three subpackages:\n{}", build.stderr);
        assert_split(&build, 7, Declared::ByBrpPyc);
    } else {
        assert_unsplit_and_linked(&build);
    }
    let other = tempfile::tempdir().unwrap();
    let directory = directory_spec(Declared::ByBrpPyc)
        .replace("%py_bytecode_split %{python3_sitelib}/foo\n", "")
        .replace(DOC_DIRECTORY_FILES, "%files -n python3-foo\n%{python3_sitelib}/foo/\n");
    let build = try_rpmbuild(config, other.path(), &directory).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    assert_unsplit_and_linked(&build);
    let said = switch_line(&build.stderr);
    assert!(said.contains("not split (the distribution's switch): no %pyproject_save_files list"), "{said}");
    // Without the switch, the same spec builds as it did: no line from the switch.
    let off = tempfile::tempdir().unwrap();
    let build = try_rpmbuild(fedora().unwrap(), off.path(), &directory).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert!(!build.stderr.contains("the distribution's switch"), "{}", build.stderr);
    assert_unsplit_and_linked(&build);
}

/// Every real cache of a build: (package, path) for each file that is a cache and not a
/// `%ghost`.
fn real_caches(build: &Build) -> Vec<(String, String)> {
    let mut real = Vec::new();
    for (name, package) in &build.packages {
        for file in files_of(package) {
            if file.name.ends_with(".pyc") && !file.ghost {
                real.push((name.clone(), file.name));
            }
        }
    }
    real
}

/// Caches follow their sources. The owner `%exclude`s `foo/sub` and, in a second spec,
/// `python3-foo-sub` ships it: the one-line split (rpm 4.19 and later) leaves those caches
/// to whoever lists the sources, as the unsplit build does: none of them in a bytecode
/// subpackage, every real cache in exactly one package, no warning; without a package that
/// lists `foo/sub`, none of its caches ships at all.
#[test]
fn caches_of_sources_the_owner_excludes_are_left_to_whoever_lists_them() {
    let Some(config) = fedora() else { return };
    if !rpm_reads_spec_parts() {
        return; // rpm 4.18: the one line fails (tests above); nothing is split.
    }
    let excluded = "%files -n python3-foo -f %{pyproject_files}\n%exclude %{python3_sitelib}/foo/sub\n";
    let shipped_by_sub = format!("{excluded}\n%files -n python3-foo-sub\n%{{python3_sitelib}}/foo/sub/\n");
    // A directory written with its trailing slash, as rpm takes it, in %exclude too.
    let excluded_slash = "%files -n python3-foo -f %{pyproject_files}\n%exclude %{python3_sitelib}/foo/sub/\n";
    let shipped_slash = format!("{excluded_slash}\n%files -n python3-foo-sub\n%{{python3_sitelib}}/foo/sub/\n");
    for (what, packages, files) in [
        ("excluded", &[][..], excluded.to_string()),
        ("sub", &["sub"][..], shipped_by_sub),
        ("excluded/", &[][..], excluded_slash.to_string()),
        ("sub/", &["sub"][..], shipped_slash),
    ] {
        let spec = pyproject_spec(&format!("%pyproject_save_files {DOC_SAVE_FILES}\n{SPLIT_LINE}"), packages, &files);
        let dir = tempfile::tempdir().unwrap();
        let build = try_rpmbuild(config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{what}: {stderr}"));
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{what}: {}", build.stderr);
        let real = real_caches(&build);
        let mut once = BTreeSet::new();
        for (package, path) in &real {
            assert!(once.insert(path.clone()), "{what}: {path} is real in two packages: {real:?}");
            let in_sub = path.contains("/foo/sub/");
            assert_eq!(
                package == "python3-foo-sub",
                in_sub,
                "{what}: {path} ships in {package}: a cache of foo/sub only in the package that ships foo/sub"
            );
        }
        let subpackages = ["python3-foo-bytecode-opt-0", "python3-foo-bytecode-opt-1", "python3-foo-bytecode-opt-2"];
        for name in subpackages {
            assert!(build.packages.contains_key(name), "{what}: {name}: {:?}", build.packages.keys());
        }
        let in_subpackages = real.iter().filter(|(p, _)| subpackages.contains(&p.as_str())).count();
        // foo: __init__, plain, docs, asserts, both; and foo_top: three levels each.
        assert_eq!(in_subpackages, 6 * 3, "{what}: {real:?}");
        if what.starts_with("sub") {
            // What the build compiled of foo/sub (the levels the unsplit build has: the split
            // compiles missing levels only of the caches it splits), all in python3-foo-sub.
            let sub_caches: BTreeSet<String> = files_below(&build.build_root)
                .into_iter()
                .map(|p| format!("/{}", p.strip_prefix(&build.build_root).unwrap().display()))
                .filter(|p| p.contains("/foo/sub/__pycache__/"))
                .collect();
            let shipped: BTreeSet<String> =
                real.iter().filter(|(p, _)| p == "python3-foo-sub").map(|(_, c)| c.clone()).collect();
            assert!(!shipped.is_empty() && shipped == sub_caches, "{what}: {shipped:?} against {sub_caches:?}");
        } else {
            assert_eq!(real.len(), in_subpackages, "{what}: no package lists foo/sub: none of its caches ships");
        }
        build.assert_no_set_spans_packages();
    }
}

/// A spec that lists a module and its caches by hand next to `%{pyproject_files}` (as 13 of
/// Fedora's specs do): under the switch it is left as the unsplit build is (one package, no
/// new warning), and the build log says why in one line.
#[test]
fn under_the_switch_a_spec_that_lists_caches_by_hand_is_left_unsplit() {
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(switched) = fedora_with_macro_files("switch-by-hand", &switch_file) else { return };
    let Some(plain) = fedora() else { return };
    let files = "%files -n python3-foo -f %{pyproject_files}\n%{python3_sitelib}/foo_top.py\n%{python3_sitelib}/__pycache__/foo_top.*\n";
    let spec = pyproject_spec("%pyproject_save_files -l foo", &[], files);
    let mut built = Vec::new();
    for config in [plain, switched.as_path()] {
        let dir = tempfile::tempdir().unwrap();
        let build = try_rpmbuild(config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{stderr}"));
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
        assert_eq!(build.packages.keys().collect::<Vec<_>>(), ["python3-foo"], "{}", build.stderr);
        built.push((
            files_of(&build.packages["python3-foo"]).into_iter().map(|f| (f.name, f.ghost)).collect::<BTreeSet<_>>(),
            build.stderr,
            dir,
        ));
    }
    assert_eq!(built[0].0, built[1].0, "the same files as without the switch");
    let said = switch_line(&built[1].1);
    assert!(said.contains("not split (the distribution's switch)"), "{said}");
    if rpm_reads_spec_parts() {
        assert!(said.contains("lists caches by hand") && said.contains("__pycache__/foo_top."), "{said}");
    }
}

/// An arch-specific owner (no `BuildArch: noarch`; Fedora's 265 arch-specific pyproject
/// specs) gets arch-specific bytecode subpackages: their caches live where the owner puts
/// them (`%{python3_sitearch}`, `/usr/lib64` on x86_64), which a noarch package could not
/// hold for every architecture.
#[test]
fn an_arch_specific_owner_gets_arch_specific_bytecode_subpackages() {
    let Some(config) = fedora() else { return };
    let spec = split_spec(DOC_SAVE_FILES, DOC_FILES).replacen("BuildArch: noarch\n", "", 1);
    let dir = tempfile::tempdir().unwrap();
    let Some(build) = build_or_4_18_error(config, dir.path(), &spec) else { return };
    let arch = |name: &str| {
        let out = run_ok(Command::new("rpm").args(["-qp", "--qf", "%{ARCH}"]).arg(&build.packages[name]));
        String::from_utf8(out.stdout).unwrap()
    };
    let owner = arch("python3-foo");
    assert_ne!(owner, "noarch");
    for level in 0..3 {
        assert_eq!(arch(&format!("python3-foo-bytecode-opt-{level}")), owner, "opt-{level}");
    }
}

/// The `%install` end of the packagers' guide's snippets for several directories and for a
/// directory's glob (a spec that listed `%{python3_sitelib}/*`); `%files` is the same line.
const DOC_TWO_DIRECTORIES_INSTALL: &str = "\
cp -a foo %{buildroot}%{python3_sitelib}/
cp -a foo %{buildroot}%{python3_sitelib}/bar
%py_bytecode_split %{python3_sitelib}/foo %{python3_sitelib}/bar
";
const DOC_GLOB_INSTALL: &str = "\
cp -a foo foo_top.py %{buildroot}%{python3_sitelib}/
%py_bytecode_split %{python3_sitelib}/*
";

/// Non-pyproject specs beyond one directory: two directories, and `%{python3_sitelib}/*`
/// (whose top-level module's caches are in site-packages' own `__pycache__`). The owner's one
/// list ships every directory and file below what was given and owns every cache as
/// `%ghost`; each real cache is in exactly one bytecode subpackage; no warning. Declared by
/// brp-pyc with rpm 4.19 and later, by the spec with rpm 4.18.
#[test]
fn several_directories_and_a_glob_keep_one_owner_line() {
    let Some(config) = fedora() else { return };
    let declared = if rpm_reads_spec_parts() { Declared::ByBrpPyc } else { Declared::BySpec };
    for install in [DOC_TWO_DIRECTORIES_INSTALL, DOC_GLOB_INSTALL] {
        assert_doc_shows("docs/packagers.md", &format!("{install}\n{DOC_DIRECTORY_FILES}"));
        let spec = directory_spec(declared).replace(DOC_DIRECTORY_INSTALL, install);
        let dir = tempfile::tempdir().unwrap();
        let build = rpmbuild(config, dir.path(), &spec);
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{install}: {}", build.stderr);
        let owner = files_of(&build.packages["python3-foo"]);
        let sitelib = sitelib_of(&build.packages["python3-foo"]);
        // What the build root holds below site-packages, caches aside: all the owner's.
        let root_sitelib = build.build_root.join(sitelib.trim_start_matches('/'));
        let mut expected = BTreeSet::new();
        for entry in walk_all(&root_sitelib) {
            let installed = format!("{sitelib}/{}", entry.strip_prefix(&root_sitelib).unwrap().display());
            if !installed.ends_with(".pyc") {
                expected.insert(installed);
            }
        }
        let shipped: BTreeSet<String> = owner.iter().filter(|e| !e.ghost).map(|e| e.name.clone()).collect();
        assert_eq!(shipped, expected, "{install}: the owner ships everything but the caches");
        let ghosts: BTreeSet<String> = owner.iter().filter(|e| e.ghost).map(|e| e.name.clone()).collect();
        let mut real = BTreeSet::new();
        for (name, package) in &build.packages {
            for file in files_of(package).into_iter().filter(|f| f.name.ends_with(".pyc") && !f.ghost) {
                assert!(name.contains("-bytecode-opt-"), "{install}: {} real in {name}", file.name);
                assert!(real.insert(file.name.clone()), "{install}: {} twice", file.name);
                assert!(ghosts.contains(&file.name), "{install}: {} is a %ghost of the owner", file.name);
            }
        }
        assert!(real.iter().any(|c| c.contains("/__pycache__/foo_top.")) == (install == DOC_GLOB_INSTALL), "{real:?}");
        assert!(real.iter().any(|c| c.contains("/bar/__pycache__/")) == (install == DOC_TWO_DIRECTORIES_INSTALL));
        build.assert_no_set_spans_packages();
    }
}

/// Every directory and file below `dir` (not `dir` itself), symlinks not followed.
fn walk_all(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
            out.push(entry.path());
        }
    }
    out
}

/// The corpus of real Fedora specs (`../shared/corpus/specs`, or `$BRP_PYC_CORPUS/specs`).
fn corpus_specs() -> Option<Vec<std::path::PathBuf>> {
    let corpus = std::env::var_os("BRP_PYC_CORPUS")
        .map_or_else(|| Path::new(ROOT).join("../shared/corpus"), std::path::PathBuf::from);
    let Ok(entries) = std::fs::read_dir(corpus.join("specs")) else {
        assert!(std::env::var_os("CI").is_none(), "{}: the corpus of specs is required in CI", corpus.display());
        skipped(&format!("{}: no corpus of specs", corpus.display()));
        return None;
    };
    let mut specs: Vec<_> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "spec")).collect();
    specs.sort();
    Some(specs)
}

/// Every real Fedora spec of the corpus, parsed by rpm with Fedora's configuration and
/// brp-pyc installed: the owner recorded for `%{pyproject_files}` is the package its `%files`
/// line names as rpm expands it (`rpmspec -P`), also where that is not the guessed name (in
/// this corpus `babel` ships `python3-babel`, `python-blurb` ships `blurb`, ...).
#[test]
fn the_owner_is_recorded_for_every_spec_of_the_corpus() {
    let Some(config) = fedora() else { return };
    let Some(specs) = corpus_specs() else { return };
    let macro_path = std::fs::read_to_string(config.join("macro-path")).unwrap();
    let mut not_guessed = Vec::new();
    for spec in &specs {
        let rpmspec = |args: &[&str]| {
            let out = Command::new("rpmspec")
                .args(args)
                .args(["--macros", macro_path.trim(), "--define", "_brp_pyc_show_owners 1"])
                .arg(spec)
                .env("RPM_CONFIGDIR", config.join("config"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}: {}", spec.display(), String::from_utf8_lossy(&out.stderr));
            (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
        };
        let (parsed, stderr) = rpmspec(&["-P"]);
        let files_line = parsed
            .lines()
            .find(|l| l.starts_with("%files") && l.contains("-pyproject-files"))
            .unwrap_or_else(|| panic!("{}: no %files line lists %{{pyproject_files}}", spec.display()));
        let (name, _) = rpmspec(&["-q", "--srpm", "--qf", "%{name}"]);
        let words: Vec<&str> = files_line.split_whitespace().collect();
        let expected = match words.iter().position(|w| *w == "-n") {
            Some(at) => words[at + 1].to_string(),
            None if !words[1].starts_with('-') => format!("{name}-{}", words[1]),
            None => name.clone(),
        };
        let recorded: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("brp-pyc: the owner of ") && l.contains("-pyproject-files "))
            .filter_map(|l| l.rsplit_once(" is ").map(|(_, owner)| owner))
            .collect();
        assert!(!recorded.is_empty(), "{}: no owner recorded:\n{stderr}", spec.display());
        assert!(recorded.iter().all(|r| *r == expected), "{}: {recorded:?}, {files_line}", spec.display());
        let guess = name.strip_prefix("python-").map_or(name.clone(), |rest| format!("python3-{rest}"));
        if expected != guess {
            not_guessed.push(expected);
        }
    }
    assert_eq!(specs.len(), 40, "the corpus of 40 specs");
    assert!(not_guessed.len() >= 8, "owners that are not the guess, recorded right: {not_guessed:?}");
}

/// Modules outside site-packages that `%py_byte_compile` compiles (`%{_datadir}/foo-plugins`),
/// listed by a directory line: of the owner itself, or of `python3-foo-sub`. Their caches stay
/// real in the package that lists the directory, as in the unsplit build, and in no bytecode
/// subpackage.
#[test]
fn caches_of_a_directory_a_package_lists_stay_with_it() {
    let Some(config) = fedora() else { return };
    if !rpm_reads_spec_parts() {
        return; // rpm 4.18: the one line fails (tests above); nothing is split.
    }
    let install = format!(
        "%pyproject_save_files {DOC_SAVE_FILES}\n\
         mkdir -p %{{buildroot}}%{{_datadir}}/foo-plugins\n\
         echo 'X = 1' > %{{buildroot}}%{{_datadir}}/foo-plugins/plug.py\n\
         %py_byte_compile %{{__python3}} %{{buildroot}}%{{_datadir}}/foo-plugins\n{SPLIT_LINE}"
    );
    let by_owner = "%files -n python3-foo -f %{pyproject_files}\n%{_datadir}/foo-plugins/\n";
    let by_sub = "%files -n python3-foo -f %{pyproject_files}\n\n%files -n python3-foo-sub\n%{_datadir}/foo-plugins/\n";
    for (who, packages, files) in [("python3-foo", &[][..], by_owner), ("python3-foo-sub", &["sub"][..], by_sub)] {
        let dir = tempfile::tempdir().unwrap();
        let spec = pyproject_spec(&install, packages, files);
        let build = try_rpmbuild(config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{who}: {stderr}"));
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{who}: {}", build.stderr);
        let real = real_caches(&build);
        let plugins: Vec<&(String, String)> = real.iter().filter(|(_, c)| c.contains("/foo-plugins/")).collect();
        assert!(!plugins.is_empty() && plugins.iter().all(|(p, _)| p == who), "{who}: {plugins:?}");
        let mut once = BTreeSet::new();
        assert!(real.iter().all(|(_, c)| once.insert(c.clone())), "{who}: a cache real in two packages: {real:?}");
        assert!(build.packages.contains_key("python3-foo-bytecode-opt-0"), "{who}: the rest is split");
    }
}

/// A spec whose other `%files` sections list thousands of paths (here 3,000 files of
/// `python3-foo-sub`, 130 KiB of names): what brp-pyc's macros hand on in the environment stays
/// under the kernel's limit for one variable (128 KiB; past it every program rpm runs fails
/// with "Argument list too long"), so the spec builds as before; under the switch it is left
/// unsplit, saying brp-pyc cannot follow it.
#[test]
fn a_spec_listing_thousands_of_paths_builds_and_is_left_unsplit_under_the_switch() {
    let switch_file = [("macros.python-brp-pyc-switch", "%_brp_pyc_split_pyproject 1\n")];
    let Some(config) = fedora_with_macro_files("switch-many", &switch_file) else { return };
    let install = format!(
        "%pyproject_save_files {DOC_SAVE_FILES}\n\
         mkdir -p %{{buildroot}}%{{_datadir}}/foo-data-with-a-rather-long-directory-name\n\
         for n in $(seq 3000); do touch %{{buildroot}}%{{_datadir}}/foo-data-with-a-rather-long-directory-name/file-$n; done"
    );
    let mut files = String::from("%files -n python3-foo -f %{pyproject_files}\n\n%files -n python3-foo-sub\n");
    for n in 1..=3000 {
        files.push_str(&format!("%{{_datadir}}/foo-data-with-a-rather-long-directory-name/file-{n}\n"));
    }
    let spec = pyproject_spec(&install, &["sub"], &files);
    let dir = tempfile::tempdir().unwrap();
    let build = try_rpmbuild(&config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert!(!build.stderr.contains("Argument list too long"), "{}", build.stderr);
    assert_eq!(build.packages.keys().collect::<Vec<_>>(), ["python3-foo", "python3-foo-sub"]);
    let said = switch_line(&build.stderr);
    assert!(said.contains("not split (the distribution's switch)"), "{said}");
    if rpm_reads_spec_parts() {
        assert!(said.contains("list more than brp-pyc can follow"), "{said}");
    }
}

//! Fedora's own Python package: `bench/python3-libs/python3.14-libs.spec` keeps the `%files`
//! sections of python3.14.spec for python3-libs, -idle, -tkinter and -test verbatim and stands
//! in for CPython's build with the machine's Python 3.14 standard library (the sid lane:
//! Debian's libpython3.14-stdlib, idle-python3.14, python3.14-tk, libpython3.14-testsuite).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::fedora::*;
use common::*;

const STAND_IN: &str = "bench/python3-libs/python3.14-libs.spec";

/// Fedora's python3.14.spec: `$BRP_PYC_FEDORA_PYTHON/python3.14.spec`, else beside the checkout.
fn fedora_python_spec() -> PathBuf {
    std::env::var_os("BRP_PYC_FEDORA_PYTHON")
        .map_or_else(|| Path::new(ROOT).join("../shared/python3.14"), PathBuf::from)
        .join("python3.14.spec")
}

/// Fedora's lines from the one that equals `first` to the one before `end` (trailing empty
/// lines left out) or, with `end` of `None`, to `last` included.
fn fedora_block<'a>(text: &'a str, first: &str, end: &str, included: bool) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| *l == first).unwrap_or_else(|| panic!("{first:?} in Fedora's spec"));
    let stop = start + lines[start..].iter().position(|l| *l == end).unwrap_or_else(|| panic!("{end:?} after it"));
    let mut block = lines[start..if included { stop + 1 } else { stop }].to_vec();
    while block.last() == Some(&"") {
        block.pop();
    }
    block
}

/// The stand-in's `%files` sections are Fedora's, line for line: python3-libs up to -devel's
/// section, and -idle, -tkinter and -test.
#[test]
fn the_stand_in_keeps_fedoras_files_sections_verbatim() {
    let fedora = fedora_python_spec();
    let Ok(fedora) = std::fs::read_to_string(&fedora) else {
        assert!(std::env::var_os("CI").is_none(), "{}: Fedora's python3.14.spec is required in CI", fedora.display());
        eprintln!("skipped: {} is absent", fedora.display());
        return;
    };
    let stand_in = std::fs::read_to_string(Path::new(ROOT).join(STAND_IN)).unwrap();
    let ours: Vec<&str> = stand_in.lines().collect();
    for (first, end, included) in [
        ("%files -n %{pkgname}-libs", "%files -n %{pkgname}-devel", false),
        ("%files -n %{pkgname}-idle", "%extension_modules_test %{dynload_dir} %{SOABI_optimized}", true),
    ] {
        let theirs = fedora_block(&fedora, first, end, included);
        assert!(theirs.len() > 40, "{first}: {} lines", theirs.len());
        let start = ours.iter().position(|l| *l == first).unwrap_or_else(|| panic!("{first:?} in the stand-in"));
        assert_eq!(&ours[start..(start + theirs.len()).min(ours.len())], &theirs[..], "{first} is Fedora's, verbatim");
    }
}

/// Whether the machine has the Python 3.14 standard library the stand-in copies. The sid lane
/// has it (.ci/run installs it); the others have another Python and skip, saying so.
fn have_python_314() -> bool {
    let lib = Path::new("/usr/lib/python3.14");
    // One file of each package beyond libpython3.14-stdlib (which has a part of test/).
    let have = ["idlelib/idle.py", "tkinter/__init__.py", "test/test_grammar.py", "turtledemo/__main__.py"]
        .iter()
        .all(|f| lib.join(f).is_file())
        && Path::new("/usr/bin/python3.14").is_file();
    if !have {
        let (major, _) = rpm_version();
        assert!(
            !(std::env::var_os("CI").is_some() && major >= 6),
            "the sid lane needs Python 3.14 with IDLE, tkinter and its tests (.ci/run installs them)"
        );
        eprintln!("skipped: no Python 3.14 standard library with IDLE, tkinter and tests here");
    }
    have
}

/// Each file of a package as rpm recorded it: mode, digest, flags, link target, and the first
/// path of its hardlink set (inode numbers differ between builds, the sets must not).
fn recorded(package: &Path) -> Vec<String> {
    let qf = "[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEDIGESTS}\t%{FILEFLAGS:fflags}\t%{FILELINKTOS}\t%{FILEINODES}\n]";
    let mut first_of_inode: BTreeMap<String, String> = BTreeMap::new();
    rpm_query(package, qf)
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split('\t').collect();
            let first = first_of_inode.entry(fields[5].to_string()).or_insert_with(|| fields[0].to_string()).clone();
            fields[5] = &first;
            fields.join("\t")
        })
        .collect()
}

/// The maintainer's change that splits python3-libs' caches: each Fedora line and the line that
/// takes its place (bench/python3-libs/README.md shows them).
const SPLIT_CHANGES: [(&str, &str); 3] = [
    ("%files -n %{pkgname}-libs", "%files -n %{pkgname}-libs -f %{py_bytecode_owner_files}"),
    ("%pure_python_modules %{pylibdir}", "%py_bytecode_owns pure_python_modules %{pylibdir}"),
    ("%global __brp_python_hardlink %{nil}", "%py_bytecode_split"),
];

/// The stand-in with the maintainer's change: each changed line must be there exactly once.
fn split_stand_in(spec: &str) -> String {
    let mut lines: Vec<String> = spec.lines().map(str::to_string).collect();
    for (fedora, ours) in SPLIT_CHANGES {
        let at: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == fedora).collect();
        assert_eq!(at.len(), 1, "{fedora:?} once in the stand-in");
        lines[at[0]] = ours.to_string();
    }
    lines.join("\n") + "\n"
}

/// The stand-in built three ways, once for all tests of this file (each build takes a minute):
/// with brp-pyc installed, without it, and split with brp-pyc. `None` where the machine cannot.
fn stand_in_builds() -> Option<&'static [Build; 3]> {
    static BUILDS: std::sync::OnceLock<Option<[Build; 3]>> = std::sync::OnceLock::new();
    BUILDS
        .get_or_init(|| {
            let with = fedora()?;
            let without = fedora_without_brp_pyc()?;
            if !have_python_314() {
                return None;
            }
            let spec = std::fs::read_to_string(Path::new(ROOT).join(STAND_IN)).unwrap();
            let split = split_stand_in(&spec);
            let dirs = Box::leak(Box::new([
                tempfile::tempdir().unwrap(),
                tempfile::tempdir().unwrap(),
                tempfile::tempdir().unwrap(),
            ]));
            // All at once, each compiling in one process: marshal writes a constant once and
            // refers to it after when it is shared at that moment, so the bytes of a cache can
            // depend on which modules one worker of `compileall -j` compiled before it; one
            // worker compiles them in one order.
            let builds: Vec<Build> = std::thread::scope(|scope| {
                let running: Vec<_> = [(with, &spec), (without.as_path(), &spec), (with, &split)]
                    .into_iter()
                    .zip(dirs.iter())
                    .map(|((config, spec), dir)| {
                        scope.spawn(move || try_rpmbuild_with(config, dir.path(), spec, &["_smp_mflags -j1"]))
                    })
                    .collect();
                running.into_iter().map(|b| b.join().unwrap().unwrap_or_else(|stderr| panic!("{stderr}"))).collect()
            });
            Some(builds.try_into().ok().unwrap())
        })
        .as_ref()
}

/// Unsplit, the stand-in builds on Fedora's configuration with brp-pyc installed and gives the
/// packages it gives without brp-pyc: the same files, modes, digests, flags and hardlink sets.
/// (Fedora's spec turns `%__brp_python_hardlink` off itself, after its own `compileall
/// --hardlink-dupes`: brp-pyc's step does not run; this shows that nothing else of it does.)
#[test]
fn unsplit_the_stand_in_gives_the_packages_it_gives_without_brp_pyc() {
    let Some([with, without, _]) = stand_in_builds() else { return };
    for build in [with, without] {
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    }
    assert_eq!(
        with.packages.keys().collect::<Vec<_>>(),
        ["python3-idle", "python3-libs", "python3-test", "python3-tkinter"],
        "{}",
        with.stderr
    );
    assert_eq!(with.packages.keys().collect::<Vec<_>>(), without.packages.keys().collect::<Vec<_>>());
    for (name, package) in &with.packages {
        let ours = recorded(package);
        let theirs = recorded(&without.packages[name]);
        assert!(ours.iter().any(|f| f.contains(".opt-2.pyc")), "{name} has caches of every level");
        assert_eq!(ours.len(), theirs.len(), "{name}: as many files");
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b, "{name}");
        }
    }
}

/// brp-pyc's warnings in a build log (a cache said to be listed by hand, a link said to
/// cross subpackages): none where the split followed the spec.
fn brp_pyc_warnings(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("brp-pyc: warning:")).collect()
}

/// Whether a recorded path is a cache.
fn is_cache(path: &str) -> bool {
    path.contains("/__pycache__/") && path.ends_with(".pyc")
}

/// Split with three changed lines (the header names the owner's list, `%py_bytecode_owns`
/// wraps the macro that lists the library, `%py_bytecode_split` takes the place of the line
/// that turned the brp step off): python3-libs' caches, listed by glob and inside listed
/// directories, ship in python3-libs-bytecode-opt-0/1/2 and are python3-libs' `%ghost`s;
/// its other files are those of the unsplit build; -idle, -tkinter and -test, whose caches
/// the same globs and directories list, are the unsplit build's, hardlinks included.
#[test]
fn split_in_three_lines_the_stand_in_ships_python3_libs_caches_in_its_bytecode_packages() {
    for page in ["bench/python3-libs/README.md", "docs/packagers.md"] {
        let text = std::fs::read_to_string(Path::new(ROOT).join(page)).unwrap();
        for (fedora, ours) in SPLIT_CHANGES {
            assert!(text.contains(&format!("| `{fedora}` | `{ours}` |")), "{page} shows {ours:?}");
        }
    }
    let ours: Vec<&str> = SPLIT_CHANGES.iter().map(|(_, ours)| *ours).collect();
    assert_doc_shows("README.md", &ours.join("\n"));
    let Some([unsplit, _, split]) = stand_in_builds() else { return };
    assert_eq!(rpm_warnings(&split.stderr), Vec::<&str>::new(), "{}", split.stderr);
    assert_eq!(brp_pyc_warnings(&split.stderr), Vec::<&str>::new(), "{}", split.stderr);
    let levels = ["0", "1", "2"];
    let mut expected = vec!["python3-idle", "python3-libs"];
    let subpackages: Vec<String> = levels.iter().map(|l| format!("python3-libs-bytecode-opt-{l}")).collect();
    expected.extend(subpackages.iter().map(String::as_str));
    expected.extend(["python3-test", "python3-tkinter"]);
    assert_eq!(split.packages.keys().collect::<Vec<_>>(), expected, "{}", split.stderr);
    for name in ["python3-idle", "python3-test", "python3-tkinter"] {
        assert_eq!(recorded(&split.packages[name]), recorded(&unsplit.packages[name]), "{name} as unsplit");
    }
    // python3-libs: the unsplit package's caches are now %ghost, everything else as it was.
    let libs = recorded(&split.packages["python3-libs"]);
    let unsplit_libs = recorded(&unsplit.packages["python3-libs"]);
    let path = |line: &String| line.split('\t').next().unwrap().to_string();
    let caches: BTreeSet<String> = unsplit_libs.iter().map(path).filter(|p| is_cache(p)).collect();
    assert!(caches.len() > 1000, "{} caches in python3-libs", caches.len());
    let ghosts: BTreeSet<String> =
        files_of(&split.packages["python3-libs"]).into_iter().filter(|e| e.ghost).map(|e| e.name).collect();
    assert_eq!(ghosts, caches, "python3-libs' %ghost entries are the caches it shipped");
    let others = |lines: &[String]| -> Vec<String> { lines.iter().filter(|l| !is_cache(&path(l))).cloned().collect() };
    assert_eq!(others(&libs), others(&unsplit_libs), "python3-libs' other files as unsplit");
    // Each cache real in the subpackage of its level, once.
    let mut shipped = BTreeSet::new();
    for (level, name) in levels.iter().zip(&subpackages) {
        let package = &split.packages[name];
        for file in files_of(package).into_iter().filter(|e| !e.dir) {
            let of_level = match *level {
                "0" => !file.name.contains(".opt-"),
                n => file.name.ends_with(&format!(".opt-{n}.pyc")),
            };
            assert!(of_level && caches.contains(&file.name), "{name}: {}", file.name);
            assert!(shipped.insert(file.name.clone()), "{} twice", file.name);
        }
        let query = |qf: &str| rpm_query(package, qf);
        let requires = query("[%{REQUIRENAME} %{REQUIREFLAGS:depflags} %{REQUIREVERSION}\n]");
        assert!(requires.contains("python3-libs = 3.14.7-2"), "{name} requires python3-libs: {requires}");
        let supplements = if *level == "0" { "python3-libs\n" } else { "" };
        assert_eq!(query("[%{SUPPLEMENTS}\n]"), supplements, "{name}: level 0 is installed with python3-libs");
    }
    assert_eq!(shipped, caches, "the subpackages ship python3-libs' caches, each once");
    split.assert_no_set_spans_packages();
}

/// A small spec of python3-libs' shape: a macro (`listing`, of `LISTING`'s lines, `%{1}` the
/// library) that lists a directory and a cache glob.
fn owns_spec(install: &str, files_line: &str, listing: &str) -> String {
    let body = listing.lines().collect::<Vec<_>>().join("\\\n");
    format!(
        "Name: owns\nVersion: 1\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n%description\nd.\n\
         %install\nmkdir -p %{{buildroot}}/usr/lib/py/pkg\necho 'X = 1' >%{{buildroot}}/usr/lib/py/pkg/m.py\n{install}\n\
         {files_line}\n%define listing() \\\n{body}\n\
         %py_bytecode_owns listing /usr/lib/py\n%changelog\n* Thu Jan 01 2026 Packager <p@example.org> - 1-1\n- Built.\n"
    )
}

/// `%py_bytecode_owns` where the split could not follow it fails the build while rpm parses
/// the spec, with one line saying what is missing: something to take over, the header naming
/// the owner's list, the `%py_bytecode_split` line, a brp step that runs (python3.14.spec
/// turns it off).
#[test]
fn py_bytecode_owns_refuses_a_spec_whose_split_could_not_follow_it() {
    let Some(config) = fedora() else { return };
    let header = "%files -f %{py_bytecode_owner_files}";
    let listing = "%{1}/pkg/\n%{1}/__pycache__/*.pyc";
    for (install, files_line, said) in [
        ("%py_bytecode_split", header, "%listing lists no directory (DIR/) and no caches"),
        ("%py_bytecode_split", "%files", "the %files line of its section must name the owner's list"),
        ("", header, "the split is not asked for: %py_bytecode_split in %install"),
        (
            "%py_bytecode_split\n%global __brp_python_hardlink %{nil}",
            header,
            "the spec sets %__brp_python_hardlink to nothing",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let listing = if said.contains("lists no directory") { "%{1}/*.py\n%{1}/pkg/m.py" } else { listing };
        let stderr = match try_rpmbuild(config, dir.path(), &owns_spec(install, files_line, listing)) {
            Ok(build) => panic!("{said}: the build did not fail:\n{}", build.stderr),
            Err(stderr) => stderr,
        };
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("%py_bytecode_owns: ")).collect();
        assert!(!lines.is_empty() && lines.iter().all(|l| l.contains(said)), "{said}:\n{stderr}");
        assert!(!stderr.contains("+ "), "{said}: failed before any script ran:\n{stderr}");
    }
}

/// python3-libs' shape in a few lines, built on every rpm: the owner's section lists a
/// module glob, its `__pycache__` by `%dir` and a cache glob, and a whole directory, by a
/// macro; another package lists a directory with caches; the spec declares the bytecode
/// subpackages itself (rpm 4.18 reads no spec parts). `compileall --hardlink-dupes` links
/// the levels of modules without docstrings or asserts.
const OWNS_SPEC: &str = r#"Name: owns
Version: 1
Release: 1
Summary: s
License: MIT
BuildArch: noarch
%description
d.
%package other
Summary: o
%description other
o.
%package bytecode-opt-0
Summary: 0
Requires: owns = %{version}-%{release}
%description bytecode-opt-0
0.
%package bytecode-opt-1
Summary: 1
Requires: owns = %{version}-%{release}
%description bytecode-opt-1
1.
%package bytecode-opt-2
Summary: 2
Requires: owns = %{version}-%{release}
%description bytecode-opt-2
2.
%install
mkdir -p %{buildroot}/usr/lib/py/pkg/sub %{buildroot}/usr/lib/py/other
echo 'X = 1' >%{buildroot}/usr/lib/py/pkg/m.py
printf '"""Doc."""\nassert True\n' >%{buildroot}/usr/lib/py/pkg/sub/d.py
echo 'data' >%{buildroot}/usr/lib/py/pkg/data.txt
printf '"""Doc."""\n' >%{buildroot}/usr/lib/py/top.py
echo 'O = 1' >%{buildroot}/usr/lib/py/other/o.py
%{__python3} -m compileall -q -o 0 -o 1 -o 2 --hardlink-dupes -s %{buildroot} -p / %{buildroot}/usr/lib/py
%py_bytecode_split
%files -f %{py_bytecode_owner_files}
%define listing() \
%{1}/*.py\
%dir %{1}/__pycache__/\
%{1}/__pycache__/*.pyc\
%{1}/pkg/
%py_bytecode_owns listing /usr/lib/py
%files other
/usr/lib/py/other/
%files bytecode-opt-0 -f %py_bytecode_files 0
%files bytecode-opt-1 -f %py_bytecode_files 1
%files bytecode-opt-2 -f %py_bytecode_files 2
%changelog
* Thu Jan 01 2026 Packager <p@example.org> - 1-1
- Built.
"#;

/// The owner's caches (listed by the glob and inside the directory) are its `%ghost`s and
/// real in the subpackage of their level; its other files and directories it ships itself;
/// the other package's caches stay its own, one hardlink set as compileall made them; no
/// warning.
#[test]
fn a_macro_listing_a_directory_and_a_cache_glob_splits_the_owner_only() {
    let Some(config) = fedora() else { return };
    let dir = tempfile::tempdir().unwrap();
    let build = try_rpmbuild(config, dir.path(), OWNS_SPEC).unwrap_or_else(|stderr| panic!("{stderr}"));
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    assert_eq!(brp_pyc_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    let names = ["owns", "owns-bytecode-opt-0", "owns-bytecode-opt-1", "owns-bytecode-opt-2", "owns-other"];
    assert_eq!(build.packages.keys().collect::<Vec<_>>(), names, "{}", build.stderr);
    let tag = cache_tag(SYSTEM_PYTHON);
    let levels = ["", ".opt-1", ".opt-2"];
    let caches_of = |dir: &str, stem: &str| -> Vec<String> {
        levels.iter().map(|l| format!("/usr/lib/py/{dir}__pycache__/{stem}.{tag}{l}.pyc")).collect()
    };
    let owned: BTreeSet<String> =
        [caches_of("", "top"), caches_of("pkg/", "m"), caches_of("pkg/sub/", "d")].concat().into_iter().collect();
    let files = files_of(&build.packages["owns"]);
    let ghosts: BTreeSet<String> = files.iter().filter(|e| e.ghost).map(|e| e.name.clone()).collect();
    assert_eq!(ghosts, owned, "the owner's %ghost entries");
    let shipped: BTreeSet<String> = files.iter().filter(|e| !e.ghost).map(|e| e.name.clone()).collect();
    let expected: BTreeSet<String> = [
        "/usr/lib/py/__pycache__",
        "/usr/lib/py/top.py",
        "/usr/lib/py/pkg",
        "/usr/lib/py/pkg/__pycache__",
        "/usr/lib/py/pkg/m.py",
        "/usr/lib/py/pkg/data.txt",
        "/usr/lib/py/pkg/sub",
        "/usr/lib/py/pkg/sub/__pycache__",
        "/usr/lib/py/pkg/sub/d.py",
    ]
    .map(String::from)
    .into();
    assert_eq!(shipped, expected, "what the owner ships");
    let mut real = BTreeSet::new();
    for (n, level) in levels.iter().enumerate() {
        for file in files_of(&build.packages[&format!("owns-bytecode-opt-{n}")]) {
            assert!(
                file.name.ends_with(&format!("{level}.pyc")) && owned.contains(&file.name),
                "opt-{n}: {}",
                file.name
            );
            assert!(!file.ghost && real.insert(file.name.clone()), "{}", file.name);
        }
    }
    assert_eq!(real, owned, "each of the owner's caches real once");
    let other: Vec<PackagedFile> =
        files_of(&build.packages["owns-other"]).into_iter().filter(|e| e.name.ends_with(".pyc")).collect();
    let other_names: BTreeSet<String> = other.iter().map(|e| e.name.clone()).collect();
    assert_eq!(other_names, caches_of("other/", "o").into_iter().collect(), "the other package's caches");
    assert!(
        other.iter().all(|e| !e.ghost && e.inode == other[0].inode),
        "other's caches: one set, as compileall made it"
    );
    build.assert_no_set_spans_packages();
}

/// The shapes around the macro: one that lists caches by glob and no directory (the section
/// lists the package directory by a line of its own, whose caches stay real in the owner), and
/// one whose directory line sits in an `%if` that rpm skips (left to rpm: not taken over, the
/// directory need not exist). Both build without a warning; the owner's `%ghost` entries are
/// the top-level caches alone.
#[test]
fn a_macro_of_cache_globs_alone_or_with_a_skipped_branch_splits_what_rpm_lists() {
    let Some(config) = fedora() else { return };
    let listing = "%define listing() \\\n%{1}/*.py\\\n%dir %{1}/__pycache__/\\\n%{1}/__pycache__/*.pyc\\\n%{1}/pkg/\n";
    assert!(OWNS_SPEC.contains(listing));
    let globs_alone = OWNS_SPEC.replace(
        listing,
        "%define listing() \\\n%{1}/*.py\\\n%dir %{1}/__pycache__/\\\n%{1}/__pycache__/*.pyc\n/usr/lib/py/pkg/\n",
    );
    let skipped_branch = OWNS_SPEC.replace(
        listing,
        "%define listing() \\\n%{1}/*.py\\\n%dir %{1}/__pycache__/\\\n%{1}/__pycache__/*.pyc\\\n%if 0\\\n%{1}/gone/\\\n%endif\n/usr/lib/py/pkg/\n",
    );
    let tag = cache_tag(SYSTEM_PYTHON);
    let top: BTreeSet<String> =
        ["", ".opt-1", ".opt-2"].iter().map(|l| format!("/usr/lib/py/__pycache__/top.{tag}{l}.pyc")).collect();
    for (what, spec) in [("globs alone", globs_alone), ("a skipped branch", skipped_branch)] {
        let dir = tempfile::tempdir().unwrap();
        let build = try_rpmbuild(config, dir.path(), &spec).unwrap_or_else(|stderr| panic!("{what}: {stderr}"));
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{what}: {}", build.stderr);
        assert_eq!(brp_pyc_warnings(&build.stderr), Vec::<&str>::new(), "{what}: {}", build.stderr);
        let files = files_of(&build.packages["owns"]);
        let ghosts: BTreeSet<String> = files.iter().filter(|e| e.ghost).map(|e| e.name.clone()).collect();
        assert_eq!(ghosts, top, "{what}: the owner's %ghost entries");
        let real_caches = files.iter().filter(|e| !e.ghost && e.name.ends_with(".pyc")).count();
        assert_eq!(real_caches, 6, "{what}: pkg's caches stay real in the owner, as its line lists them");
        let shipped: usize = (0..3).map(|n| files_of(&build.packages[&format!("owns-bytecode-opt-{n}")]).len()).sum();
        assert_eq!(shipped, 3, "{what}: the subpackages ship top's caches alone");
    }
}

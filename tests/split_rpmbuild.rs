//! `split` and the macros against the real thing: the example specs built with rpmbuild, the
//! packages read back with rpm, installed into a scratch root, loaded by python3 -O, erased.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use brp_pyc::render::rpm_files::RpmSyntax;
use common::*;

const MACROS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/macros/macros.brp-pyc");
const COMPILE_MACROS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/macros/macros.brp-pyc-compile");
/// Runs the brp step after %install on Debian's configuration, which has none of its own.
const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rpm-config/macros.brp-pyc-policy");

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

/// The interpreter the tests compile with and load with, so the cache tags agree.
fn python() -> String {
    let out = run_ok(Command::new("python3").args(["-c", "import sys; print(sys.executable)"]));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Builds `spec` with rpmbuild, loading the project's macro file and using the test binary,
/// and returns the built packages by name.
fn rpmbuild(spec: &Path, topdir: &Path, defines: &[(&str, &str)]) -> BTreeMap<String, PathBuf> {
    let out = rpmbuild_output(spec, topdir, defines);
    assert!(out.status.success(), "rpmbuild failed:\n{}", String::from_utf8_lossy(&out.stderr));
    packages_below(topdir)
}

/// The packages rpmbuild wrote below `topdir`, by name.
fn packages_below(topdir: &Path) -> BTreeMap<String, PathBuf> {
    let mut packages = BTreeMap::new();
    for entry in std::fs::read_dir(topdir.join("RPMS/noarch")).unwrap() {
        let path = entry.unwrap().path();
        let out = run_ok(Command::new("rpm").args(["-qp", "--qf", "%{NAME}"]).arg(&path));
        packages.insert(String::from_utf8(out.stdout).unwrap(), path);
    }
    packages
}

/// Runs rpmbuild on `spec` as [`rpmbuild`] does, whatever its exit status.
fn rpmbuild_output(spec: &Path, topdir: &Path, defines: &[(&str, &str)]) -> std::process::Output {
    rpmbuild_output_with(spec, topdir, &[MACROS], defines)
}

/// Runs rpmbuild on `spec` as [`rpmbuild_output`] does, loading `macro_files` (in this order,
/// after rpm's own macro path).
fn rpmbuild_output_with(
    spec: &Path,
    topdir: &Path,
    macro_files: &[&str],
    defines: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new("rpmbuild");
    // --noclean keeps the build root, where the tests check which files share an inode.
    let macro_files: Vec<&Path> = macro_files.iter().map(Path::new).collect();
    cmd.arg("-bb").arg("--noclean").args(rpm_macros_args(&macro_files));
    let mut all = vec![
        ("_topdir", topdir.to_str().unwrap().to_string()),
        ("__brp_pyc", env!("CARGO_BIN_EXE_brp-pyc").to_string()),
        ("__python3", python()),
        // Debian's rpm has no debuginfo tooling for noarch Python; and its brp scripts would
        // only add time: the bytecode step under test runs inside %install.
        ("debug_package", "%{nil}".to_string()),
        ("__os_install_post", "%{nil}".to_string()),
    ];
    all.extend(defines.iter().map(|(k, v)| (*k, v.to_string())));
    for (name, value) in &all {
        cmd.arg("--define").arg(format!("{name} {value}"));
    }
    cmd.arg(spec).env_remove("RPM_BUILD_ROOT");
    cmd.output().unwrap()
}

/// The level of a cache path: 0, 1, 2, or None for anything else.
fn level(name: &str) -> Option<u8> {
    let file = name.rsplit('/').next()?;
    let stem = file.strip_suffix(".pyc")?;
    Some(if stem.ends_with(".opt-1") {
        1
    } else if stem.ends_with(".opt-2") {
        2
    } else {
        0
    })
}

/// Unpacks a package's payload into `dir`.
fn extract(package: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let script = format!("rpm2cpio '{}' | cpio -idm --quiet", package.display());
    run_ok(Command::new("sh").arg("-c").arg(script).current_dir(dir));
}

/// Checks one layout's packages: the main package owns each __pycache__ and every cache of
/// every level of every source as %ghost and ships none; each subpackage ships exactly its
/// levels; inside a subpackage identical caches are one hardlink set, different ones are not;
/// in the build root, no two files of different packages share an inode.
fn check_layout(packages: &BTreeMap<String, PathBuf>, topdir: &Path, main: &str, groups: &[(&str, &[u8])]) {
    let main_files = files_of(&packages[main]);
    let sources: Vec<&PackagedFile> = main_files.iter().filter(|f| f.name.ends_with(".py")).collect();
    assert!(sources.len() >= 4);
    let tag = cache_tag("python3");
    for source in &sources {
        let (dir, file) = source.name.rsplit_once('/').unwrap();
        let stem = file.strip_suffix(".py").unwrap();
        let pycache = format!("{dir}/__pycache__");
        assert!(main_files.iter().any(|f| f.name == pycache && f.dir && !f.ghost), "{pycache} is owned as a directory");
        for suffix in [".pyc", ".opt-1.pyc", ".opt-2.pyc"] {
            let cache = format!("{pycache}/{stem}.{tag}{suffix}");
            assert!(main_files.iter().any(|f| f.name == cache && f.ghost), "{cache} is a %ghost of the main package");
        }
    }
    assert!(main_files.iter().filter(|f| level(&f.name).is_some()).all(|f| f.ghost), "the main package ships no cache");

    let scratch = tempfile::tempdir().unwrap();
    let build_root = build_root_below(topdir);
    let mut owner_of_inode: BTreeMap<u64, &str> = BTreeMap::new();
    let mut shipped = BTreeSet::new();
    for (sub, levels) in groups {
        let package = &packages[&format!("{main}-{sub}")];
        let files = files_of(package);
        assert!(!files.is_empty());
        for f in &files {
            assert!(!f.ghost && levels.contains(&level(&f.name).unwrap()), "{sub} ships {}", f.name);
            assert!(shipped.insert(f.name.clone()), "{} is shipped twice", f.name);
        }
        for f in &files {
            let owner = *owner_of_inode.entry(inode(&build_root.join(&f.name[1..]))).or_insert(sub);
            assert_eq!(owner, *sub, "{}: a hardlink set crosses packages", f.name);
        }
        let root = scratch.path().join(sub);
        extract(package, &root);
        for (i, a) in files.iter().enumerate() {
            for b in &files[i + 1..] {
                let same =
                    std::fs::read(root.join(&a.name[1..])).unwrap() == std::fs::read(root.join(&b.name[1..])).unwrap();
                assert_eq!(
                    a.inode == b.inode,
                    same,
                    "{sub}: {} and {}: one inode exactly when identical",
                    a.name,
                    b.name
                );
            }
        }
    }
    let every_cache: BTreeSet<String> =
        main_files.iter().filter(|f| f.ghost && level(&f.name).is_some()).map(|f| f.name.clone()).collect();
    assert_eq!(shipped, every_cache, "every level of every module is shipped by exactly one subpackage");
}

#[test]
fn example_with_one_subpackage_per_level() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    // The packagers' guide shows the spec's end, from its split line.
    let text = std::fs::read_to_string(example("python-example-split.spec")).unwrap();
    assert_doc_shows("docs/packagers.md", &text[text.find("\n%py_bytecode_split").unwrap() + 1..]);
    let top = tempfile::tempdir().unwrap();
    let packages = rpmbuild(&example("python-example-split.spec"), top.path(), &[]);
    assert_eq!(packages.len(), 4, "{packages:?}");
    check_layout(
        &packages,
        top.path(),
        "python-example-split",
        &[("bytecode-opt-0", &[0]), ("bytecode-opt-1", &[1]), ("bytecode-opt-2", &[2])],
    );
}

/// `examples/python-example-one-line.spec` on Debian's configuration with the macros and the
/// policy file (as `examples/demo.sh` builds it): with rpm 4.19 and later its one macro line
/// makes the owner and one subpackage per level, laid out as the hand-declared example's, the
/// brp step compiling level 2; rpm 4.18 reads no spec parts, and the build fails with
/// brp-pyc's one line saying what to write instead.
#[test]
fn example_split_by_one_line() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let spec = example("python-example-one-line.spec");
    // The packagers' guide shows the spec's end, from its %py_byte_compile line.
    let text = std::fs::read_to_string(&spec).unwrap();
    assert_doc_shows("docs/packagers.md", &text[text.find("\n%py_byte_compile").unwrap() + 1..]);
    let out = rpmbuild_output_with(&spec, top.path(), &[MACROS, COMPILE_MACROS, POLICY], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if rpm_version() < (4, 19) {
        assert!(!out.status.success(), "rpm 4.18 reads no spec parts: the build must fail");
        let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("brp-pyc:")).collect();
        assert_eq!(ours.len(), 1, "one line from brp-pyc:\n{stderr}");
        assert!(
            ours[0].contains("reads no spec parts")
                && ours[0].contains("%package -n python3-example-one-line-bytecode-opt-0"),
            "{}",
            ours[0]
        );
        return;
    }
    assert!(out.status.success(), "rpmbuild failed:\n{stderr}");
    // rpm 4.20 warns about a build host without a resolvable name: the machine's, not the spec's.
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:") && !l.contains("Could not canonicalize hostname"))
        .collect();
    assert_eq!(warnings, Vec::<&str>::new(), "{stderr}");
    let packages = packages_below(top.path());
    assert_eq!(packages.len(), 4, "{packages:?}");
    check_layout(
        &packages,
        top.path(),
        "python3-example-one-line",
        &[("bytecode-opt-0", &[0]), ("bytecode-opt-1", &[1]), ("bytecode-opt-2", &[2])],
    );
}

/// The `not-linked` findings of `check --json` output.
fn not_linked(report: &serde_json::Value) -> usize {
    report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "not-linked").count()
}

/// `check` on a split build root: the identical caches that the layout ships in different
/// subpackages are not findings, with the layout given, read from the list directory, found
/// inside the build (`%check`) and through `%py_bytecode_check`, which fails the build on a
/// finding; all levels in one package, they are.
#[test]
fn check_on_a_split_build_root_follows_the_recorded_layout() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    // The README shows the macro line this test appends to %check.
    assert_doc_shows("README.md", "%py_bytecode_check");
    let top = tempfile::tempdir().unwrap();
    let in_build = top.path().join("check-in-build.json");
    let spec = top.path().join("python-example-split.spec");
    let mut text = std::fs::read_to_string(example("python-example-split.spec")).unwrap();
    text.push_str(&format!(
        "\n%check\n%{{__brp_pyc}} check --json \"%{{buildroot}}\" > {} || :\n%py_bytecode_check\n",
        in_build.display()
    ));
    std::fs::write(&spec, text).unwrap();
    rpmbuild(&spec, top.path(), &[]);
    let root = build_root_below(top.path());

    let (code, all_in_one) = audit_json("check", &[&root]);
    // plain: 0/1, 0/2 (1/2 share 0's class); checked: 1/2; __init__: 0/1.
    assert_eq!((code, not_linked(&all_in_one), &all_in_one["layout_from"]), (1, 4, &"default".into()), "{all_in_one}");
    let with_option = run_ok(brp_pyc().args(["check", "--json", "--layout", "0,1,2"]).arg(&root));
    let with_option: serde_json::Value = serde_json::from_slice(&with_option.stdout).unwrap();
    assert_eq!((with_option["problems"].as_u64(), &with_option["layout"]), (Some(0), &"0,1,2".into()), "{with_option}");
    let lists_dir = files_below(top.path())
        .into_iter()
        .find_map(|f| (f.file_name()? == "bytecode-layout").then(|| f.parent().unwrap().to_path_buf()));
    let lists_dir = lists_dir.expect("split recorded its layout beside its lists");
    assert!(lists_dir.to_string_lossy().ends_with("python-example-split-1.0-1.brp-pyc"), "{}", lists_dir.display());
    let from_dir = run_ok(brp_pyc().args(["check", "--json", "--lists-dir"]).arg(&lists_dir).arg(&root));
    let from_dir: serde_json::Value = serde_json::from_slice(&from_dir.stdout).unwrap();
    assert_eq!((from_dir["problems"].as_u64(), &from_dir["layout_from"]), (Some(0), &"lists-dir".into()), "{from_dir}");
    let in_build: serde_json::Value = serde_json::from_slice(&std::fs::read(&in_build).unwrap()).unwrap();
    assert_eq!(
        (in_build["problems"].as_u64(), &in_build["layout"], &in_build["layout_from"]),
        (Some(0), &"0,1,2".into(), &"build".into()),
        "{in_build}"
    );
}

#[test]
fn example_with_levels_1_and_2_together_keeps_their_links() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let packages = rpmbuild(&example("python-example-0-12.spec"), top.path(), &[]);
    assert_eq!(packages.len(), 3, "{packages:?}");
    check_layout(
        &packages,
        top.path(),
        "python-example-0-12",
        &[("bytecode-opt-0", &[0]), ("bytecode-opt-1-2", &[1, 2])],
    );
    let files = files_of(&packages["python-example-0-12-bytecode-opt-1-2"]);
    let inodes: BTreeSet<u64> = files.iter().map(|f| f.inode).collect();
    assert!(inodes.len() < files.len(), "identical opt-1/opt-2 pairs are one hardlink set in the subpackage");
}

/// A spec that installs the given module files (exact bytes of their names) and splits them.
fn odd_names_spec(dir: &Path, sources: &Path, ghost: &str) -> PathBuf {
    odd_names_spec_with(dir, sources, &format!("-e legacy -g {ghost}"), "-o 0 -o 1 -o 2", GHOST_LIST_FILES)
}

/// The same spec with the given `%py_bytecode_split` options, `compileall` levels and main
/// package's `%files`; without level 2 there is no opt-2 subpackage (rpm 4.20 refuses an empty
/// `%files -f` list).
fn odd_names_spec_with(dir: &Path, sources: &Path, split_options: &str, levels: &str, main_files: &str) -> PathBuf {
    let with_opt2 = if levels.contains('2') { "%global with_opt2 1" } else { "" };
    let spec = format!(
        r#"{with_opt2}
%global python3_sitelib /usr/lib/python3/site-packages
Name: odd-names
Version: 1
Release: 1
Summary: Modules with names rpm finds hard
License: MIT
BuildArch: noarch
%description
Modules with odd names.
%package bytecode-opt-0
Summary: level 0
%description bytecode-opt-0
level 0
%package bytecode-opt-1
Summary: level 1
%description bytecode-opt-1
level 1
%{{?with_opt2:%package bytecode-opt-2
Summary: level 2
%description bytecode-opt-2
level 2}}
%install
mkdir -p %{{buildroot}}%{{python3_sitelib}}/odd
cp -a {sources}/. %{{buildroot}}%{{python3_sitelib}}/odd/
%{{__python3}} -m compileall -q {levels} -s %{{buildroot}} -p / %{{buildroot}}%{{python3_sitelib}}/odd
%py_bytecode_split {split_options}
{main_files}
%files bytecode-opt-0 -f %py_bytecode_files 0
%files bytecode-opt-1 -f %py_bytecode_files 1
%{{?with_opt2:%files bytecode-opt-2 -f %py_bytecode_files 2}}
"#,
        sources = sources.display()
    );
    let path = dir.join("odd-names.spec");
    std::fs::write(&path, spec).unwrap();
    path
}

/// Writes one module per stem into `dir/src` and returns that directory.
fn write_modules(dir: &Path, stems: &[&str]) -> PathBuf {
    let sources = dir.join("src");
    std::fs::create_dir(&sources).unwrap();
    for stem in stems {
        std::fs::write(sources.join(format!("{stem}.py")), format!("NAME = {stem:?}\n")).unwrap();
    }
    sources
}

const ODD_STEMS: [&str; 10] = [
    "we ird",
    "per%.cent",
    "[x]*?{y}",
    "bang!",
    "quo\"te",
    "back\\slash",
    "a.b.c",
    "-dash",
    "sp %.ace",
    "p%,q%+r%=s%@t%~u",
];

/// Module names with what rpm's macro expander (rpmio/macro.c) reads specially after a `%`:
/// option flags, negation and existence tests, macro bodies, shell, expressions, `%%`,
/// arguments and macro names.
const PERCENT_STEMS: [&str; 15] = [
    "pct%-", "a%-b", "a%!b", "a%?b", "a%{b}", "a%(b)", "a%[b]", "a%%b", "a%*b", "a%**b", "a%#b", "a%0b", "a%_b",
    "%{name}", "per%cent",
];

#[test]
fn odd_module_names_survive_the_round_trip_with_legacy_escaping() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let sources = write_modules(work.path(), &ODD_STEMS);
    let spec = odd_names_spec(work.path(), &sources, "all");
    let packages = rpmbuild(&spec, &work.path().join("top"), &[]);
    let tag = cache_tag("python3");
    let base = "/usr/lib/python3/site-packages/odd";
    let main = files_of(&packages["odd-names"]);
    for stem in ODD_STEMS {
        assert!(main.iter().any(|f| f.name == format!("{base}/{stem}.py")), "{stem}.py");
        for (n, suffix) in [".pyc", ".opt-1.pyc", ".opt-2.pyc"].iter().enumerate() {
            let cache = format!("{base}/__pycache__/{stem}.{tag}{suffix}");
            assert!(main.iter().any(|f| f.name == cache && f.ghost), "ghost {cache}");
            let sub = files_of(&packages[&format!("odd-names-bytecode-opt-{n}")]);
            assert!(sub.iter().any(|f| f.name == cache && !f.ghost), "shipped {cache}");
        }
    }
    for n in 0..3 {
        let sub = files_of(&packages[&format!("odd-names-bytecode-opt-{n}")]);
        assert_eq!(sub.len(), ODD_STEMS.len(), "nothing more, nothing less in opt-{n}");
    }
}

/// The `%ghost` entries of caches not compiled (levels 0 and 1 only, `%py_byte_compile`'s
/// default) with the installed rpm's syntax: rpm 4.19 and later record an absent name's
/// escapes literally, so these must come out exactly right too.
#[test]
fn odd_names_of_caches_not_compiled_are_recorded_exactly_as_ghosts() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mut stems: Vec<&str> = ODD_STEMS.iter().copied().chain(["{a,b}", "!bang"]).collect();
    // rpm before 4.19 expands a macro in a -f list however its `%` is written: split refuses
    // such a name there (see the test below).
    let version = run_ok(Command::new("rpm").arg("--version")).stdout;
    // A % before a letter, where rpm's %files directives start, is refused by every rpm
    // (names_holding_files_directives_fail_the_build_with_one_line).
    if RpmSyntax::for_version(&String::from_utf8_lossy(&version)) == Some(RpmSyntax::V419) {
        stems.extend(
            PERCENT_STEMS
                .iter()
                .filter(|s| !s.as_bytes().windows(2).any(|w| w[0] == b'%' && w[1].is_ascii_alphabetic())),
        );
    }
    let sources = write_modules(work.path(), &stems);
    let spec = odd_names_spec_with(work.path(), &sources, "-g all", "-o 0 -o 1", GHOST_LIST_FILES);
    let packages = rpmbuild(&spec, &work.path().join("top"), &[]);
    let tag = cache_tag("python3");
    let base = "/usr/lib/python3/site-packages/odd/__pycache__";
    let main = files_of(&packages["odd-names"]);
    let ghosts: BTreeSet<&str> = main.iter().filter(|f| f.ghost).map(|f| f.name.as_str()).collect();
    let mut expected = BTreeSet::new();
    for stem in &stems {
        for suffix in [".pyc", ".opt-1.pyc", ".opt-2.pyc"] {
            expected.insert(format!("{base}/{stem}.{tag}{suffix}"));
        }
    }
    assert_eq!(
        ghosts,
        expected.iter().map(String::as_str).collect(),
        "the main package's %ghost entries, every name exact"
    );
    assert!(!packages.contains_key("odd-names-bytecode-opt-2"), "no level 2 cache was compiled");
}

/// rpm 4.18 expands a list's lines twice, so `%%-` in a list is `%-`, which drops itself and
/// the rest of the word: `pct%-.py`'s caches would be "File not found". With legacy escaping
/// (whatever rpm builds), each such name fails `split` in `%install` with one line naming it.
#[test]
fn names_with_macro_syntax_after_a_percent_fail_legacy_split_with_one_line() {
    if !have("rpmbuild") || !have("python3") {
        return skipped("rpmbuild or python3");
    }
    for stem in PERCENT_STEMS {
        let work = tempfile::tempdir().unwrap();
        let sources = write_modules(work.path(), &["plain", stem]);
        let spec = odd_names_spec(work.path(), &sources, "all");
        let out = rpmbuild_output(&spec, &work.path().join("top"), &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stem}: built although rpm 4.18 would not find its caches");
        assert!(!stderr.contains("File not found"), "{stem}: split let rpm find out:\n{stderr}");
        let refusals: Vec<&str> = stderr.lines().filter(|l| l.contains("would read as macro syntax")).collect();
        assert_eq!(refusals.len(), 1, "{stem}: one line:\n{stderr}");
        assert!(
            refusals[0].contains(&format!("/odd/__pycache__/{stem}."))
                || refusals[0].contains(&format!("/odd/{stem}.py")),
            "{stem}: {}",
            refusals[0]
        );
    }
}

#[test]
fn names_legacy_rpm_cannot_hold_are_an_error_naming_the_path() {
    let tree = Tree::new();
    for name in ["ok.py", "m*.py", "mod.py"] {
        tree.write(format!("p/{name}"), "x = 1\n");
    }
    for name in ["m*.cpython-311.pyc", "mod.cpython-311.pyc"] {
        tree.write(format!("p/__pycache__/{name}"), "cache");
    }
    let out_dir = tree.path("lists");
    let run = |escape: &str| {
        brp_pyc()
            .args(["split", "--rpm-escape", escape, "--output-dir"])
            .arg(&out_dir)
            .arg(tree.path("p").parent().unwrap().join("p"))
            .output()
            .unwrap()
    };
    let out = run("legacy");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("m*.cpython-311") && stderr.contains("mod.cpython-311.pyc"), "{stderr}");
    assert!(!out_dir.exists(), "no list is written when one path cannot be");
    let out = run("4.19");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let opt0 = std::fs::read_to_string(out_dir.join("bytecode-opt-0.files")).unwrap();
    assert_eq!(opt0, "/__pycache__/m\\*.cpython-311.pyc\n/__pycache__/mod.cpython-311.pyc\n");
}

/// Installs packages into a scratch root with their own rpm database.
struct ScratchRoot {
    dir: tempfile::TempDir,
}

impl ScratchRoot {
    fn new() -> ScratchRoot {
        let dir = tempfile::tempdir().unwrap();
        run_ok(Command::new("rpm").arg("--root").arg(dir.path()).arg("--initdb"));
        ScratchRoot { dir }
    }

    fn rpm(&self, args: &[&str], packages: &[&Path]) {
        run_ok(
            Command::new("rpm")
                .arg("--root")
                .arg(self.dir.path())
                .args(["--nodeps", "--noscripts"])
                .args(args)
                .args(packages),
        );
    }

    fn path(&self, installed: &str) -> PathBuf {
        self.dir.path().join(&installed[1..])
    }
}

#[test]
fn install_load_with_dash_o_and_erase_a_subpackage() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let packages = rpmbuild(&example("python-example-split.spec"), top.path(), &[]);
    let sitelib = files_of(&packages["python-example-split"])
        .into_iter()
        .find(|f| f.name.ends_with("/example/plain.py"))
        .map(|f| f.name.trim_end_matches("/example/plain.py").to_string())
        .unwrap();
    let tag = cache_tag("python3");
    let opt1 = format!("{sitelib}/example/__pycache__/plain.{tag}.opt-1.pyc");
    let opt0 = format!("{sitelib}/example/__pycache__/plain.{tag}.pyc");

    let root = ScratchRoot::new();
    root.rpm(&["-i"], &[&packages["python-example-split"]]);
    assert!(root.path(&format!("{sitelib}/example/plain.py")).exists());
    assert!(!root.path(&opt1).exists(), "the main package alone installs no cache");
    assert!(root.path(&format!("{sitelib}/example/__pycache__")).is_dir(), "but owns __pycache__");

    root.rpm(&["-i"], &[&packages["python-example-split-bytecode-opt-1"]]);
    assert!(root.path(&opt1).is_file() && !root.path(&opt0).exists());
    // python3 -O (3.11, 3.13 or 3.14, by lane) loads the installed opt-1 cache (it is valid:
    // rpm kept the sources' mtimes).
    let out = run_ok(
        Command::new(python())
            .args(["-O", "-v", "-c", "import example.plain"])
            .env("PYTHONPATH", root.path(&sitelib))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let loaded = format!("code object from '{}'", root.path(&opt1).display());
    assert!(log.contains(&loaded), "python3 -O did not load {opt1}:\n{log}");

    // Erase the subpackage while the main package owns its files as %ghost: rpm (4.18, 4.20
    // and 6.1 alike) keeps them on disk, as it keeps every file another installed package
    // still owns.
    root.rpm(&["-e"], &[Path::new("python-example-split-bytecode-opt-1")]);
    assert!(root.path(&opt1).exists(), "rpm leaves a file that the main package owns as %ghost");
}

#[test]
fn without_ghosts_erasing_a_subpackage_removes_its_caches() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let sources = work.path().join("src");
    std::fs::create_dir(&sources).unwrap();
    std::fs::write(sources.join("plain.py"), "x = 1\n").unwrap();
    let spec = odd_names_spec(work.path(), &sources, "none");
    let packages = rpmbuild(&spec, &work.path().join("top"), &[]);
    let main = files_of(&packages["odd-names"]);
    assert!(main.iter().all(|f| !f.ghost), "--ghost none: no %ghost entries");
    assert!(main.iter().any(|f| f.name.ends_with("/odd/__pycache__") && f.dir), "the directory is still owned");
    let root = ScratchRoot::new();
    root.rpm(&["-i"], &[&packages["odd-names"], &packages["odd-names-bytecode-opt-1"]]);
    let opt1 = format!("/usr/lib/python3/site-packages/odd/__pycache__/plain.{}.opt-1.pyc", cache_tag("python3"));
    assert!(root.path(&opt1).is_file());
    root.rpm(&["-e"], &[Path::new("odd-names-bytecode-opt-1")]);
    assert!(!root.path(&opt1).exists(), "without the %ghost, erasing the subpackage removes the cache");
}

#[test]
fn caches_linked_across_subpackages_are_named_in_a_warning() {
    let tree = Tree::new();
    tree.write("p/m.py", "x = 1\n");
    let level0 = tree.write("p/__pycache__/m.cpython-311.pyc", "same");
    let level1 = tree.path("p/__pycache__/m.cpython-311.opt-1.pyc");
    std::fs::hard_link(&level0, &level1).unwrap();
    let lists = tree.path("lists");
    let split = |layout: &str| {
        brp_pyc()
            .args(["split", "--rpm-escape", "4.19", "--layout", layout, "--output-dir"])
            .arg(&lists)
            .arg(tree.root())
            .output()
            .unwrap()
    };
    let out = split("0,1,2");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("warning")
            && stderr.contains("m.cpython-311.pyc")
            && stderr.contains("m.cpython-311.opt-1.pyc"),
        "{stderr}"
    );
    assert!(split("01,2").stderr.is_empty(), "a link inside one group is what the layout wants");
}

#[test]
fn stats_together_over_the_subpackages_equals_stats_of_the_build_root() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let packages = rpmbuild(&example("python-example-split.spec"), top.path(), &[]);
    let build_root = build_root_below(top.path());
    let json = |args: &[&std::ffi::OsStr]| -> serde_json::Value {
        let out = run_ok(brp_pyc().args(["stats", "--json"]).args(args));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mut args: Vec<&std::ffi::OsStr> = vec!["--together".as_ref()];
    args.extend(packages.values().map(|p| p.as_os_str()));
    let together = json(&args);
    let tree = json(&[build_root.as_os_str()]);
    for key in ["caches", "cache_bytes", "linked_bytes", "linkable_bytes", "identical", "layouts"] {
        assert_eq!(together[key], tree[key], "{key}");
    }
    assert!(together["linkable_bytes"].as_u64().unwrap() > 0, "split subpackages leave identical levels unlinked");
    assert!(together["layouts"]["all_linked"].as_u64() < together["layouts"]["shipped"].as_u64());
}

/// The main package's `%files` of [`odd_names_spec_with`]: the split's `%ghost` list, the
/// directory and its sources.
const GHOST_LIST_FILES: &str =
    "%files -f %{py_bytecode_ghost_files}\n%dir %{python3_sitelib}/odd\n%{python3_sitelib}/odd/*.py";

/// A spec that installs `sources` below `%{python3_sitelib}/odd` and lists it with the owner
/// list of `%py_bytecode_split DIR` (every directory `%dir`, every file, the caches `%ghost`),
/// the subpackages declared by the spec, so that every rpm from 4.18 on builds it.
fn owner_list_spec(dir: &Path, sources: &Path) -> PathBuf {
    let files = "%files -f %{py_bytecode_owner_files}";
    odd_names_spec_with(dir, sources, "%{python3_sitelib}/odd", "-o 0 -o 1 -o 2", files)
}

/// Writes a small package into `dir/src`: `__init__.py`, `m.py`, `sub/m.py`, and each of
/// `extra`: a name ending in `/` an empty directory, one ending in `.py` a module, else a
/// directory holding `m.py`.
fn write_package(dir: &Path, extra: &[&str]) -> PathBuf {
    let sources = dir.join("src");
    for module in ["__init__.py", "m.py", "sub/m.py"] {
        let path = sources.join(module);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "X = 1\n").unwrap();
    }
    for name in extra {
        if let Some(empty) = name.strip_suffix('/') {
            std::fs::create_dir_all(sources.join(empty)).unwrap();
        } else if name.ends_with(".py") {
            std::fs::write(sources.join(name), "X = 2\n").unwrap();
        } else {
            std::fs::create_dir_all(sources.join(name)).unwrap();
            std::fs::write(sources.join(name).join("m.py"), "X = 3\n").unwrap();
        }
    }
    sources
}

/// Each `%files` directive rpm reads anywhere in a line (`%defattr(...)`, `%attr(...)`,
/// `%lang(...)`, ...), as the name of an empty directory of an upstream tarball, of a module,
/// of a directory with a module: rpm 4.19 and later would apply it to the files of the
/// package (a `%defattr(0666,...)` directory made every file after it writable by anyone).
/// The build fails in `%install` with one line naming the path and no package is written.
#[test]
fn names_holding_files_directives_fail_the_build_with_one_line() {
    if !have("rpmbuild") || !have("python3") {
        return skipped("rpmbuild or python3");
    }
    let v419 = rpm_version() >= (4, 19);
    let hostile = [
        ("sub%defattr(0666,root,root,0777)/", "%defattr"),
        ("sub%attr(0777,root,root)/", "%attr"),
        ("b%lang(de)/", "%lang"),
        ("c%verify(mode)/", "%verify"),
        ("d%defverify(not mode)/", "%defverify"),
        ("e%caps(cap_net_raw=ep)/", "%caps"),
        ("f%config/", "%config"),
        ("g%config(noreplace)", "%config"),
        ("h%dev(c,1,3)/", "%dev"),
        ("m%config(noreplace).py", "%config"),
        ("x%doc/", "a % before a letter"),
    ];
    for (name, directive) in hostile {
        let work = tempfile::tempdir().unwrap();
        let sources = write_package(work.path(), &[name]);
        let top = work.path().join("top");
        let out = rpmbuild_output(&owner_list_spec(work.path(), &sources), &top, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: built:\n{stderr}");
        let ours: Vec<&str> = stderr.lines().filter(|l| l.starts_with("brp-pyc:")).collect();
        assert_eq!(ours.len(), 1, "{name}: one line from brp-pyc:\n{stderr}");
        // A module is named by its source or by one of its caches.
        let path = name.trim_end_matches('/').trim_end_matches(".py");
        let named = [format!("/odd/{path}"), format!("/odd/__pycache__/{path}.")];
        assert!(named.iter().any(|n| ours[0].contains(n)), "{name}: the line names the path: {}", ours[0]);
        // rpm before 4.19 expands a list twice, and split refuses a % before a letter there
        // as macro syntax; 4.19 and later name the directive.
        let why = if v419 { directive } else { "would read as macro syntax" };
        assert!(ours[0].contains(why), "{name}: {why:?} in {}", ours[0]);
        assert!(!stderr.contains("File listed twice"), "{name}: rpm parsed the list:\n{stderr}");
        assert!(files_below(&top.join("RPMS")).is_empty(), "{name}: no package is written");
    }
}

/// What rpm recorded of each file of `package`, with `rename` applied to its name: mode,
/// owner, group, flags (%config, %doc, %ghost, ...), languages, verify flags, capabilities.
fn recorded_attributes(package: &Path, rename: &dyn Fn(&str) -> String) -> BTreeSet<String> {
    let qf = "[%{FILENAMES}\\t%{FILEMODES:octal}\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILEFLAGS}\\t\
              %{FILELANGS}\\t%{FILEVERIFYFLAGS}\\t%{FILECAPS}\\n]";
    let out = run_ok(Command::new("rpm").args(["-qp", "--qf", qf]).arg(package));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (name, rest) = line.split_once('\t').unwrap();
            format!("{}\t{rest}", rename(name))
        })
        .collect()
}

/// Names next to the directives, which rpm finds no directive in (the words without `%`, a
/// `%` before punctuation, parentheses, commas, spaces): split lists them, and rpm 4.18, 4.20
/// and 6.1 record for each file exactly what they record for the same package with plain
/// names: modes, owners, flags, languages, verify flags and capabilities.
#[test]
fn names_near_files_directives_are_recorded_as_plain_names_are() {
    if !have("rpmbuild") || !have("python3") {
        return skipped("rpmbuild or python3");
    }
    let near = [
        "defattr(0666,root,root,0777)/",
        "attr(0777,root,root)/",
        "lang(de)",
        "verify(mode)/",
        "caps(cap_net_raw=ep).py",
        "p%.config(noreplace)",
        "100%+/",
        "a b%,lang(de) dir ghost",
    ];
    let plain: Vec<String> = near
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let kind = if name.ends_with('/') {
                "/"
            } else if name.ends_with(".py") {
                ".py"
            } else {
                ""
            };
            format!("plain{n}{kind}")
        })
        .collect();
    let build = |names: &[&str]| {
        let work = tempfile::tempdir().unwrap();
        let sources = write_package(work.path(), names);
        let packages = rpmbuild(&owner_list_spec(work.path(), &sources), &work.path().join("top"), &[]);
        (work, packages)
    };
    let (_near_work, near_packages) = build(&near);
    let (_plain_work, plain_packages) = build(&plain.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(near_packages.keys().collect::<Vec<_>>(), plain_packages.keys().collect::<Vec<_>>());
    let to_plain = |name: &str| {
        let mut name = name.to_string();
        for (n, odd) in near.iter().enumerate() {
            let odd = odd.trim_end_matches('/').trim_end_matches(".py");
            name = name.replace(&format!("/odd/{odd}"), &format!("/odd/plain{n}"));
            name = name.replace(&format!("/odd/__pycache__/{odd}."), &format!("/odd/__pycache__/plain{n}."));
        }
        name
    };
    for (package, near_path) in &near_packages {
        let recorded = recorded_attributes(near_path, &to_plain);
        let expected = recorded_attributes(&plain_packages[package], &|n: &str| n.to_string());
        assert_eq!(recorded, expected, "{package}: what rpm recorded, near names mapped to plain ones");
        assert!(recorded.len() > 3, "{package}: {recorded:?}");
    }
    let owner = recorded_attributes(&near_packages["odd-names"], &|n: &str| n.to_string());
    for name in near {
        let path = format!("/usr/lib/python3/site-packages/odd/{}", name.trim_end_matches('/'));
        assert!(owner.iter().any(|row| row.starts_with(&format!("{path}\t"))), "{path} in the owner: {owner:?}");
    }
}

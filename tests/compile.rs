//! `brp-pyc compile` with real interpreters: the caches equal what compileall writes, build
//! roots never leak into them, rebuilds are reproducible, failures are loud, and the
//! %py_byte_compile macro works in a real rpmbuild.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// The installed directory the tests compile, below each build root.
const DATADIR: &str = "usr/share/demo";

/// A mtime in the past, the same in every tree, so that two trees compile to the same bytes.
const MTIME: u64 = 1_600_000_000;

/// Sources covering CPython's hardlink matrix (docstring x assert), a frozenset constant
/// (whose order depends on the hash seed), a package and names with dots and spaces.
const SOURCES: [(&str, &str); 8] = [
    ("plain.py", "x = 1\n"),
    ("asserts.py", "x = 1\nassert x == 1\n"),
    ("documented.py", "'''module docstring'''\nx = 1\n"),
    ("both.py", "'''doc'''\ndef f(x):\n    '''doc'''\n    assert x\n    return x\n"),
    ("sets.py", "def f(x):\n    return x in {'alpha', 'beta', 'gamma', 'delta'}\n"),
    ("pkg/__init__.py", ""),
    ("pkg/sub/we ird.py", "'''odd name'''\nassert True\n"),
    ("pkg/sub/a.b.py", "if __debug__:\n    print('debug')\n"),
];

/// Writes the sources below `root`/DATADIR with the fixed mtime; returns that directory.
fn write_sources(root: &Path) -> PathBuf {
    let dir = root.join(DATADIR);
    for (name, code) in SOURCES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, code).unwrap();
        set_mtime(&path, MTIME);
    }
    dir
}

/// `brp-pyc compile` inside the build root `root`, with a clean Python environment.
fn compile_in_root(root: &Path) -> Command {
    let mut cmd = brp_pyc();
    cmd.arg("compile")
        .env("RPM_BUILD_ROOT", root)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PYTHONDONTWRITEBYTECODE");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every cache file below `dir`.
fn caches_below(dir: &Path) -> Vec<PathBuf> {
    files_below(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "pyc")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The caches that brp-pyc writes equal, in bytes and in link structure, those of
/// `compileall -o 0 -o 1 -o 2 --hardlink-dupes --invalidation-mode timestamp -s ROOT -p /`.
fn assert_same_as_compileall(python: &str, bytes: Equality) {
    let ours = Tree::in_memory();
    let reference = Tree::in_memory();
    let ours_dir = write_sources(ours.root());
    let reference_dir = write_sources(reference.root());

    run_ok(compile_in_root(ours.root()).args(["--python", python, "-o", "0", "-o", "1", "-o", "2"]).arg(&ours_dir));
    run_ok(
        Command::new(python)
            .args(["-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes"])
            .args(["--invalidation-mode", "timestamp", "-s"])
            .arg(reference.root())
            .args(["-p", "/"])
            .arg(&reference_dir)
            .env("PYTHONHASHSEED", "0")
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .env_remove("SOURCE_DATE_EPOCH"),
    );

    let tag = cache_tag(python);
    let expected = relative_contents(reference.root());
    let caches = expected.keys().filter(|p| p.to_string_lossy().contains(&format!(".{tag}."))).count();
    assert_eq!(caches, SOURCES.len() * 3, "compileall wrote three levels of every module for {tag}");
    let ours_contents = relative_contents(ours.root());
    match bytes {
        Equality::Bytes => assert_eq!(ours_contents, expected, "{python}: same files, same bytes"),
        Equality::Marshal => {
            assert_eq!(
                ours_contents.keys().collect::<Vec<_>>(),
                expected.keys().collect::<Vec<_>>(),
                "{python}: same files"
            );
            assert_same_code(python, ours.root(), reference.root(), &tag);
        }
    }
    let links = link_sets(reference.root());
    assert!(!links.is_empty(), "the fixture has identical levels");
    assert_eq!(link_sets(ours.root()), links, "{python}: same hardlink sets");
}

/// How two caches are compared.
enum Equality {
    /// Byte for byte: CPython writes the same bytes whatever else its process did.
    Bytes,
    /// Same 16-byte header and equal unmarshalled code objects. PyPy's marshal flags a string
    /// as interned depending on what its process ran before (compileall's own
    /// `--hardlink-dupes`, which runs filecmp between files, changes the bytes of later
    /// caches), so no two differently-run PyPy processes are byte-identical.
    Marshal,
}

/// Every cache of `tag` below `a` and `b`: same header, and code objects equal as the
/// interpreter itself compares them.
fn assert_same_code(python: &str, a: &Path, b: &Path, tag: &str) {
    let script = r#"
import marshal, os, sys
a, b, tag = sys.argv[1:4]
checked = 0
for dirpath, _, files in os.walk(a):
    for name in files:
        if not name.endswith(".pyc") or "." + tag + "." not in name:
            continue
        pa = os.path.join(dirpath, name)
        pb = os.path.join(b, os.path.relpath(pa, a))
        da, db = open(pa, "rb").read(), open(pb, "rb").read()
        assert da[:16] == db[:16], ("header", pa)
        assert marshal.loads(da[16:]) == marshal.loads(db[16:]), ("code", pa)
        checked += 1
print(checked)
"#;
    let out = run_ok(Command::new(python).arg("-c").arg(script).arg(a).arg(b).arg(tag));
    let checked: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(checked, SOURCES.len() * 3, "every cache was compared");
}

#[test]
fn cpython_caches_equal_those_of_compileall_hardlink_dupes() {
    if have("python3") {
        assert_same_as_compileall("python3", Equality::Bytes);
    }
}

#[test]
fn pypy_caches_equal_those_of_compileall_hardlink_dupes() {
    if have("pypy3") {
        assert_same_as_compileall("pypy3", Equality::Marshal);
    }
}

/// PyPy wrote different caches from run to run: on several workers a third of them for a
/// hundred stdlib modules, on one worker a few, as its garbage collector happened to run. Two
/// builds of PyPy's own json, email and http packages, asked for `-j 4`, give the same bytes.
#[test]
fn pypy_compiles_reproducibly() {
    if !have("pypy3") {
        return;
    }
    let stdlib =
        run_ok(Command::new("pypy3").args(["-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"])).stdout;
    let stdlib = PathBuf::from(String::from_utf8(stdlib).unwrap().trim());
    let builds: Vec<Tree> = (0..2).map(|_| Tree::in_memory()).collect();
    for build in &builds {
        let dir = build.root().join("usr/share/pkg");
        std::fs::create_dir_all(&dir).unwrap();
        for package in ["json", "email", "http"] {
            run_ok(Command::new("cp").arg("-r").arg(stdlib.join(package)).arg(&dir));
        }
        run_ok(Command::new("find").arg(&dir).args(["-name", "__pycache__", "-prune", "-exec", "rm", "-r", "{}", "+"]));
        for source in files_below(&dir) {
            set_mtime(&source, 1_700_000_000);
        }
        run_ok(compile_in_root(build.root()).args(["--python", "pypy3", "-j", "4"]).arg(&dir));
    }
    let caches = relative_contents(builds[0].root());
    assert!(caches.keys().filter(|p| p.extension().is_some_and(|e| e == "pyc")).count() > 50);
    let second = relative_contents(builds[1].root());
    let differing: Vec<_> =
        caches.iter().filter(|(path, bytes)| second.get(*path) != Some(bytes)).map(|(p, _)| p).collect();
    assert!(differing.is_empty(), "{} caches differ between two builds: {differing:?}", differing.len());
}

#[test]
fn caches_record_the_installed_path_never_the_build_root() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    run_ok(compile_in_root(tree.root()).args(["--python", "python3"]).arg(&dir));
    let caches = caches_below(&dir);
    assert_eq!(caches.len(), SOURCES.len() * 2, "levels 0 and 1 by default");
    let build_root = tree.root().as_os_str().as_encoded_bytes();
    for cache in &caches {
        let bytes = std::fs::read(cache).unwrap();
        assert!(!contains(&bytes, build_root), "{} records the build root", cache.display());
        assert!(contains(&bytes, format!("/{DATADIR}/").as_bytes()), "{} records the installed path", cache.display());
    }
}

#[test]
fn outside_a_build_root_caches_record_the_path_as_given() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    run_ok(brp_pyc().args(["compile", "--python", "python3"]).arg(&dir).env_remove("PYTHONDONTWRITEBYTECODE"));
    let cache = &caches(&tree, &format!("{DATADIR}/plain"), &cache_tag("python3"))[0];
    assert!(contains(&std::fs::read(cache).unwrap(), dir.as_os_str().as_encoded_bytes()));
}

#[test]
fn source_date_epoch_clamps_sources_and_two_builds_give_the_same_bytes() {
    if !have("python3") {
        return;
    }
    let epoch: u32 = 1_700_000_000;
    let builds: Vec<Tree> = (0..2).map(|_| Tree::in_memory()).collect();
    for (n, build) in builds.iter().enumerate() {
        let dir = write_sources(build.root());
        // Sources written "now", at different times in each build: newer than the epoch.
        for source in files_below(&dir) {
            set_mtime(&source, u64::from(epoch) + 1_000 + n as u64 * 77);
        }
        run_ok(
            compile_in_root(build.root())
                .args(["--python", "python3"])
                .arg(&dir)
                .env("SOURCE_DATE_EPOCH", epoch.to_string()),
        );
        let plain = dir.join("plain.py");
        assert_eq!(std::fs::metadata(&plain).unwrap().mtime(), i64::from(epoch), "source mtime clamped");
        let cache = &caches(build, &format!("{DATADIR}/plain"), &cache_tag("python3"))[0];
        let header = std::fs::read(cache).unwrap();
        assert_eq!(&header[4..8], &[0; 4], "timestamp invalidation, not hash, despite SOURCE_DATE_EPOCH");
        assert_eq!(header[8..12], epoch.to_le_bytes(), "the cache records the clamped mtime");
    }
    assert_eq!(relative_contents(builds[0].root()), relative_contents(builds[1].root()));
    assert_eq!(link_sets(builds[0].root()), link_sets(builds[1].root()));
}

#[test]
fn a_syntax_error_fails_the_run_names_the_file_and_the_rest_is_compiled() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    tree.write(format!("{DATADIR}/broken.py"), "def (:\n");
    let out = run(compile_in_root(tree.root()).args(["--python", "python3"]).arg(&dir));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("SyntaxError"), "the interpreter's message passes through: {err}");
    assert!(err.contains(&format!("brp-pyc: error: {}: not byte-compiled", dir.join("broken.py").display())), "{err}");
    assert!(!err.contains("plain.py"), "only the broken file is named: {err}");
    assert!(out.stdout.is_empty(), "stdout stays clean");
    let tag = cache_tag("python3");
    assert!(!caches(&tree, &format!("{DATADIR}/broken"), &tag)[0].exists());
    let plain = caches(&tree, &format!("{DATADIR}/plain"), &tag);
    assert!(plain[0].exists() && same_inode(&plain[0], &plain[1]), "the rest is compiled and linked");
}

#[test]
fn keep_going_turns_a_syntax_error_into_a_warning() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    tree.write(format!("{DATADIR}/pkg/broken.py"), "x = = 1\n");
    let out = run(compile_in_root(tree.root()).args(["--python", "python3", "--keep-going"]).arg(&dir));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("brp-pyc: warning: {}: not byte-compiled", dir.join("pkg/broken.py").display()))
    );
    assert_eq!(caches_below(&dir).len(), SOURCES.len() * 2);
}

#[test]
fn a_bad_interpreter_is_one_line_naming_it_and_exit_2() {
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    let missing = tree.root().join("no-such-python");
    for python in [missing.to_str().unwrap(), "/bin/true", "python3 -I"] {
        let out = run(brp_pyc().args(["compile", "--python", python]).arg(&dir));
        assert_eq!(out.status.code(), Some(2), "{python}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{python}: {err}");
        assert!(err.contains(python), "{python}: {err}");
    }
    assert!(caches_below(&dir).is_empty(), "nothing was compiled");
}

#[test]
fn a_missing_path_is_one_line_naming_it_and_exit_2() {
    if !have("python3") {
        return;
    }
    let tree = Tree::new();
    let missing = tree.root().join("absent");
    let out = run(brp_pyc().args(["compile", "--python", "python3"]).arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(missing.to_str().unwrap()) && stderr(&out).lines().count() == 1, "{}", stderr(&out));
}

#[test]
fn a_single_file_is_compiled_and_its_levels_linked() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    run_ok(compile_in_root(tree.root()).args(["--python", "python3"]).arg(dir.join("plain.py")));
    let tag = cache_tag("python3");
    let plain = caches(&tree, &format!("{DATADIR}/plain"), &tag);
    assert!(same_inode(&plain[0], &plain[1]));
    assert!(!plain[2].exists(), "level 2 was not asked for");
    assert!(!caches(&tree, &format!("{DATADIR}/asserts"), &tag)[0].exists(), "only the file named");
}

#[test]
fn layout_keeps_links_inside_its_groups() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    run_ok(
        compile_in_root(tree.root())
            .args(["--python", "python3", "-o", "0", "-o", "1", "-o", "2", "--layout", "0,12"])
            .arg(&dir),
    );
    let plain = caches(&tree, &format!("{DATADIR}/plain"), &cache_tag("python3"));
    assert_eq!(std::fs::read(&plain[0]).unwrap(), std::fs::read(&plain[1]).unwrap(), "identical levels");
    assert!(!same_inode(&plain[0], &plain[1]), "level 0 is in another group");
    assert!(same_inode(&plain[1], &plain[2]));
}

#[test]
fn without_path_the_brp_rules_apply() {
    let tree = Tree::in_memory();
    let libdir = tree.root().join("usr/lib/python3.11");
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::write(libdir.join("mod.py"), "x = 1\n").unwrap();
    for build_root in [None, Some("/")] {
        let mut cmd = brp_pyc();
        cmd.current_dir(tree.root()).args(["compile", "--python", "python3"]);
        if let Some(root) = build_root {
            cmd.env("RPM_BUILD_ROOT", root);
        }
        let out = run(&mut cmd);
        assert!(out.status.success() && out.stderr.is_empty(), "{build_root:?}: {}", stderr(&out));
    }
    assert!(caches_below(tree.root()).is_empty(), "nothing was compiled");
}

#[test]
fn without_path_each_python_library_of_the_build_root_is_compiled_by_its_python() {
    // The system interpreter of some version, as brp-python-bytecompile would use it.
    let Some(system) =
        std::fs::read_dir("/usr/bin").unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).find(
            |n| {
                n.strip_prefix("python3.")
                    .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
            },
        )
    else {
        return assert!(have("/usr/bin/python3.X"));
    };
    let tree = Tree::in_memory();
    let libdir = tree.root().join("usr/lib").join(&system).join("site-packages");
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::write(libdir.join("mod.py"), "x = 1\n").unwrap();
    let elsewhere = tree.write("usr/share/other/other.py", "y = 2\n");
    run_ok(&mut compile_in_root(tree.root()));
    let tag = cache_tag(&format!("/usr/bin/{system}"));
    let pycache = libdir.join("__pycache__");
    let (level0, level1) = (pycache.join(format!("mod.{tag}.pyc")), pycache.join(format!("mod.{tag}.opt-1.pyc")));
    assert!(level0.exists() && same_inode(&level0, &level1), "levels 0 and 1, linked");
    assert!(!contains(&std::fs::read(&level0).unwrap(), tree.root().as_os_str().as_encoded_bytes()));
    assert!(caches_below(elsewhere.parent().unwrap()).is_empty(), "only the Python library trees");
}

#[test]
fn py_byte_compile_macro_in_a_real_rpmbuild() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The README and the packagers' guide show the spec's %py_byte_compile line.
    let spec = std::fs::read_to_string(repo.join("examples/py-byte-compile.spec")).unwrap();
    let line = spec.lines().find(|l| l.starts_with("%py_byte_compile ")).expect("the spec's %py_byte_compile line");
    assert_doc_shows("README.md", line);
    assert_doc_shows("docs/packagers.md", line);
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let topdir = Tree::in_memory();
    let out = run(Command::new("rpmbuild")
        .arg("-bb")
        .args(rpm_macros_args(&[&repo.join("macros/macros.brp-pyc-compile")]))
        .arg("--define")
        .arg(format!("_topdir {}", topdir.root().display()))
        .arg("--define")
        .arg(format!("__brp_pyc {}", env!("CARGO_BIN_EXE_brp-pyc")))
        // No debuginfo subpackage: nothing here is compiled code.
        .args(["--define", "debug_package %{nil}"])
        // Only %py_byte_compile may write and link caches: on Fedora, brp-python-hardlink
        // in %__os_install_post would link them too and hide a macro that does not.
        .args(["--define", "__os_install_post %{nil}"])
        .arg(repo.join("examples/py-byte-compile.spec"))
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .env_remove("RPM_BUILD_ROOT"));
    assert!(out.status.success(), "rpmbuild failed: {}", stderr(&out));
    let rpms = files_below(&topdir.root().join("RPMS"));
    assert_eq!(rpms.len(), 1, "{rpms:?}");
    let listing = run_ok(Command::new("rpm").args(["-qp", "--qf", "[%{FILENAMES} %{FILEINODES}\n]"]).arg(&rpms[0]));
    let inode_of: std::collections::BTreeMap<String, String> = String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.rsplit_once(' ').map(|(name, ino)| (name.to_string(), ino.to_string())))
        .collect();
    let tag = cache_tag("/usr/bin/python3");
    let dir = "/usr/share/py-byte-compile-example";
    let path = |sub: &str, module: &str, opt: &str| format!("{dir}{sub}/__pycache__/{module}.{tag}{opt}.pyc");
    for (sub, module, identical) in
        [("", "plain", true), ("/plugins", "__init__", true), ("/plugins", "checked", false)]
    {
        let (level0, level1) = (path(sub, module, ""), path(sub, module, ".opt-1"));
        let (Some(a), Some(b)) = (inode_of.get(&level0), inode_of.get(&level1)) else {
            panic!("{level0} and {level1} in the package: {inode_of:?}");
        };
        assert_eq!(a == b, identical, "{module}: linked exactly when identical");
    }
    // The payload: no cache records the build root.
    let payload = topdir.root().join("payload");
    std::fs::create_dir(&payload).unwrap();
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("rpm2cpio '{}' | cpio -idm --quiet", rpms[0].display()))
            .current_dir(&payload),
    );
    let caches = caches_below(&payload);
    assert_eq!(caches.len(), 6);
    for cache in caches {
        let bytes = std::fs::read(&cache).unwrap();
        assert!(!contains(&bytes, b"BUILDROOT"), "{} records the build root", cache.display());
        assert!(contains(&bytes, dir.as_bytes()), "{} records the installed path", cache.display());
    }
}

/// `rpm --eval` of `%py_byte_compile ARGS` with the macro file loaded and the binary replaced.
fn eval_macro(args: &str, brp_pyc: &str) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    run(Command::new("rpm")
        .arg("--load")
        .arg(repo.join("macros/macros.brp-pyc-compile"))
        .args(["--define", &format!("__brp_pyc {brp_pyc}"), "--define", "with_options /usr/bin/python3 -s"])
        .args(["--eval", &format!("%py_byte_compile {args}")]))
}

#[test]
fn py_byte_compile_refuses_an_interpreter_with_options_and_needs_two_arguments() {
    if !have("rpm") {
        return;
    }
    // rpm 4.18 stops an option at the macro's own argument parsing; the macro's shell test
    // is there for rpm versions that let it through.
    for args in ["%{with_options} /x", "/usr/bin/python3"] {
        let out = eval_macro(args, "/bin/echo");
        assert!(!out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(stderr(&out).contains("error"), "{args}: {}", stderr(&out));
    }
    let script = eval_macro("/usr/bin/python3 /x", "/bin/echo");
    assert!(script.status.success());
    let refusal = run(Command::new("sh")
        .arg("-c")
        .arg(String::from_utf8(script.stdout).unwrap().replace("\"/usr/bin/python3\"", "\"/usr/bin/python3 -I\"")));
    assert_eq!(refusal.status.code(), Some(1));
    assert!(stderr(&refusal).contains("should not contain any arguments"), "{}", stderr(&refusal));
}

#[test]
fn py_byte_compile_passes_a_glob_through_to_the_shell() {
    if !have("rpm") || !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let dir = write_sources(tree.root());
    let script = eval_macro(&format!("/usr/bin/python3 {}/*s.py", dir.display()), env!("CARGO_BIN_EXE_brp-pyc"));
    assert!(script.status.success(), "{}", stderr(&script));
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(String::from_utf8(script.stdout).unwrap())
            .env("RPM_BUILD_ROOT", tree.root())
            .env_remove("PYTHONDONTWRITEBYTECODE"),
    );
    let tag = cache_tag("/usr/bin/python3");
    for (module, compiled) in [("asserts", true), ("sets", true), ("plain", false)] {
        assert_eq!(caches(&tree, &format!("{DATADIR}/{module}"), &tag)[1].exists(), compiled, "{module}");
    }
}

/// `%clamp_mtime_to_source_date_epoch 0` (and undefined) leaves source mtimes as they are, as
/// Fedora's `%py_byte_compile` does by unsetting `$SOURCE_DATE_EPOCH`; 1 clamps them.
#[test]
fn py_byte_compile_clamps_source_mtimes_only_when_the_configuration_says_so() {
    if !have("rpm") || !have("python3") {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (epoch, later) = (1_600_000_000_i64, 1_700_000_000_u64);
    for (clamp, clamped) in [(Some("0"), false), (None, false), (Some("1"), true)] {
        let tree = Tree::in_memory();
        let source = tree.write("usr/share/x/m.py", "X = 1\n");
        set_mtime(&source, later);
        let mut eval = Command::new("rpm");
        eval.arg("--load").arg(repo.join("macros/macros.brp-pyc-compile"));
        eval.args(["--define", &format!("__brp_pyc {}", env!("CARGO_BIN_EXE_brp-pyc"))]);
        match clamp {
            Some(value) => eval.args(["--define", &format!("clamp_mtime_to_source_date_epoch {value}")]),
            None => eval.args(["--undefine", "clamp_mtime_to_source_date_epoch"]),
        };
        let script = run_ok(eval.args(["--eval", &format!("%py_byte_compile /usr/bin/python3 {}", source.display())]));
        run_ok(
            Command::new("sh")
                .arg("-c")
                .arg(String::from_utf8(script.stdout).unwrap())
                .env("RPM_BUILD_ROOT", tree.root())
                .env("SOURCE_DATE_EPOCH", epoch.to_string())
                .env_remove("PYTHONDONTWRITEBYTECODE"),
        );
        let mtime = std::fs::metadata(&source).unwrap().mtime();
        assert_eq!(mtime, if clamped { epoch } else { later as i64 }, "clamp_mtime_to_source_date_epoch {clamp:?}");
        let cache = caches(&tree, "usr/share/x/m", &cache_tag("/usr/bin/python3"))[0].clone();
        assert_eq!(
            std::fs::read(&cache).unwrap()[8..12],
            (mtime as u32).to_le_bytes(),
            "the cache records the source's mtime"
        );
    }
}

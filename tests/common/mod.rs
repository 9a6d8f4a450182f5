//! Helpers shared by the integration tests: a tree builder, real interpreters, inode checks.
#![allow(dead_code)]

pub mod fedora;
pub mod rpm_payload;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The brp-pyc binary built for these tests.
pub fn brp_pyc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brp-pyc"));
    cmd.env_remove("RPM_BUILD_ROOT").env_remove("RUST_LOG");
    cmd
}

/// Whether `tool` can be run. Outside CI a missing tool skips the test with a message; in CI
/// (`CI` set) it fails the test, because `.ci/run` is meant to install every tool.
pub fn have(tool: &str) -> bool {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required in CI; .ci/run should have installed it");
        }
        skipped(&format!("{tool} is not installed"));
    }
    found
}

/// Says that the running test skips (some of) its work, and why, on the terminal: libtest
/// keeps what a passing test prints with `eprintln!` to itself, so this writes to stderr
/// directly, naming the test. In CI (`CI` set) no test may skip: it fails instead, since
/// `.ci/run` provides every tool and privilege, and a test that needs data makes it.
pub fn skipped(why: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var_os("CI").is_some() {
        panic!("{test} would skip in CI: {why}");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The user root hands files to and runs brp-pyc as, where permissions must matter.
pub const NOBODY: u32 = 65534;

/// The command that runs brp-pyc without privileges: as root, through setpriv as nobody (root
/// ignores permissions, so a refused link or read must come from an unprivileged process).
pub fn unprivileged_brp_pyc() -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", &NOBODY.to_string(), "--regid", &NOBODY.to_string(), "--clear-groups"]);
        cmd.arg(env!("CARGO_BIN_EXE_brp-pyc"));
        cmd.env_remove("RPM_BUILD_ROOT").env_remove("RUST_LOG");
        cmd
    } else {
        brp_pyc()
    }
}

/// Runs a command and returns its output, failing the test with its stderr if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

/// A scratch directory tree.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree { dir: tempfile::tempdir().unwrap() }
    }

    /// A tree in memory (/dev/shm) where there is one: for tests that copy thousands of files,
    /// which costs seconds on a disk filesystem and milliseconds there.
    pub fn in_memory() -> Tree {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
        Tree { dir: dir.unwrap() }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Path of a relative name given as bytes (any file name, also non-UTF-8).
    pub fn path(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        self.root().join(OsStr::from_bytes(rel.as_ref()))
    }

    pub fn write(&self, rel: impl AsRef<[u8]>, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Compiles the whole tree with `python -m compileall` at the given levels, no links.
    pub fn compile(&self, python: &str, levels: &[u8]) {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "compileall", "-q"]);
        for level in levels {
            cmd.arg("-o").arg(level.to_string());
        }
        run_ok(cmd.arg(self.root()));
    }

    /// Runs `brp-pyc link ARGS... ROOT` and returns the parsed `--json` report.
    pub fn link_json(&self, args: &[&str]) -> serde_json::Value {
        let out = run_ok(brp_pyc().arg("link").arg("--json").args(args).arg(self.root()));
        serde_json::from_slice(&out.stdout).expect("link --json prints one JSON object")
    }

    /// Every regular file below the root with its bytes.
    pub fn contents(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_below(self.root()).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
    }

    /// Every regular file below the root with its inode.
    pub fn inodes(&self) -> BTreeMap<PathBuf, u64> {
        files_below(self.root()).into_iter().map(|p| (p.clone(), inode(&p))).collect()
    }
}

pub fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

pub fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).ino()
}

pub fn same_inode(a: &Path, b: &Path) -> bool {
    inode(a) == inode(b)
}

/// The caches of `module` (a source path relative to the tree, without `.py`) for `tag`:
/// levels 0, 1 and 2.
pub fn caches(tree: &Tree, module: &str, tag: &str) -> [PathBuf; 3] {
    let (dir, stem) = module.rsplit_once('/').unwrap_or(("", module));
    let base = tree.root().join(dir).join("__pycache__");
    [
        base.join(format!("{stem}.{tag}.pyc")),
        base.join(format!("{stem}.{tag}.opt-1.pyc")),
        base.join(format!("{stem}.{tag}.opt-2.pyc")),
    ]
}

/// The cache tag of an interpreter, asked of the interpreter itself.
pub fn cache_tag(python: &str) -> String {
    let out = run_ok(Command::new(python).args(["-c", "import sys; print(sys.implementation.cache_tag)"]));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Checks the defining property of a complete link run: inside each module's set of cache
/// paths, two files share an inode exactly when they hold the same bytes (and the same mode
/// and owner, which the tests that use this do not vary).
pub fn assert_linked_iff_identical(paths: &[PathBuf]) {
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            if !a.exists() || !b.exists() {
                continue;
            }
            let identical = std::fs::read(a).unwrap() == std::fs::read(b).unwrap();
            assert_eq!(
                same_inode(a, b),
                identical,
                "{} and {}: linked must equal identical ({identical})",
                a.display(),
                b.display()
            );
        }
    }
}

/// Sets the modification time of `path` to `secs` since the epoch.
pub fn set_mtime(path: &Path, secs: u64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The link structure of a tree: for each regular file with more than one name below `root`,
/// the set of its names relative to `root`. Inode numbers differ between trees; this does not.
pub fn link_sets(root: &Path) -> std::collections::BTreeSet<Vec<PathBuf>> {
    let mut by_inode: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    for path in files_below(root) {
        by_inode.entry(inode(&path)).or_default().push(path.strip_prefix(root).unwrap().to_path_buf());
    }
    by_inode.into_values().filter(|names| names.len() > 1).collect()
}

/// Every regular file below `root`, by path relative to `root`, with its bytes: for comparing
/// two trees at different places.
pub fn relative_contents(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_below(root)
        .into_iter()
        .map(|p| (p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Writes one module of each kind CPython's levels tell apart into `dir` (relative to the
/// tree): no asserts and no docstrings (levels 0, 1, 2 identical), docstrings only (0 = 1),
/// asserts only (1 = 2), both (all differ). Returns their relative source paths.
pub fn write_level_matrix(tree: &Tree, dir: &str) -> Vec<String> {
    let modules = [
        ("plain.py", "def f(x):\n    return x + 1\n"),
        ("docs.py", "\"\"\"Module docs.\"\"\"\ndef f(x):\n    \"\"\"Function docs.\"\"\"\n    return x\n"),
        ("asserts.py", "def f(x):\n    assert x > 0\n    return x\n"),
        ("both.py", "\"\"\"Docs.\"\"\"\ndef f(x):\n    assert x\n    return x\n"),
    ];
    modules
        .iter()
        .map(|(name, text)| {
            let rel = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
            tree.write(&rel, text);
            rel
        })
        .collect()
}

/// Builds `spec` (its text) with `rpmbuild -bb` in a fresh `_topdir` below `topdir` and
/// returns the binary packages it wrote.
pub fn rpmbuild_spec(topdir: &Path, spec: &str) -> Vec<PathBuf> {
    let spec_path = topdir.join("test.spec");
    std::fs::create_dir_all(topdir).unwrap();
    std::fs::write(&spec_path, spec).unwrap();
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb").arg("--define").arg(format!("_topdir {}", topdir.display()));
    // Debian's rpm has no debuginfo tooling for a noarch package, and its brp scripts
    // (%__os_install_post) would compress, strip or byte-compile behind the test's back: the
    // test decides exactly which caches the package holds.
    cmd.args(["--define", "debug_package %{nil}", "--define", "__os_install_post %{nil}"]);
    run_ok(cmd.arg(&spec_path).env_remove("RPM_BUILD_ROOT"));
    let mut packages: Vec<PathBuf> =
        files_below(&topdir.join("RPMS")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rpm")).collect();
    packages.sort();
    packages
}

/// Extracts the payload of `package` with rpm2cpio and cpio (hardlinks kept) into a new tree.
pub fn extract_payload(package: &Path) -> Tree {
    let tree = Tree::in_memory();
    let script = format!("rpm2cpio '{}' | cpio -idm --quiet", package.display());
    run_ok(Command::new("sh").arg("-c").arg(script).current_dir(tree.root()));
    tree
}

/// Counted without brp-pyc: below `root`, the caches of one module (same directory, same name
/// once the `.opt-N` part is dropped) that hold the same bytes but are separate inodes. Returns
/// (bytes that linking would save, bytes that existing links save).
pub fn cache_link_bytes(root: &Path) -> (u64, u64) {
    let mut modules: BTreeMap<(PathBuf, String), Vec<PathBuf>> = BTreeMap::new();
    for path in files_below(root) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".pyc") {
            continue;
        }
        let module = name.replace(".opt-1.pyc", ".pyc").replace(".opt-2.pyc", ".pyc");
        modules.entry((path.parent().unwrap().to_path_buf(), module)).or_default().push(path);
    }
    let (mut linkable, mut linked) = (0, 0);
    for paths in modules.values() {
        let mut inodes_by_content: BTreeMap<Vec<u8>, std::collections::BTreeSet<u64>> = BTreeMap::new();
        for path in paths {
            let content = std::fs::read(path).unwrap();
            let size = content.len() as u64;
            if !inodes_by_content.entry(content).or_default().insert(inode(path)) {
                linked += size;
            }
        }
        for (content, inodes) in inodes_by_content {
            linkable += (inodes.len() as u64 - 1) * content.len() as u64;
        }
    }
    (linkable, linked)
}

/// Runs `brp-pyc SUBCOMMAND --json ARGS...` and returns its exit code and parsed output.
pub fn audit_json(subcommand: &str, args: &[&Path]) -> (i32, serde_json::Value) {
    let out = brp_pyc().arg(subcommand).arg("--json").args(args).output().unwrap();
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{subcommand} --json: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), value)
}

/// rpmbuild arguments that load `files` after rpm's own macro files on every rpm version:
/// `--macros` with the installed rpm's macro path first. rpm 4.20 reads its configuration
/// again for a `BuildArch: noarch` spec and forgets files given with `--load`; the macro path
/// it keeps. They go before any `--define`, which rpm applies on top of the files it reads.
pub fn rpm_macros_args(files: &[&Path]) -> [std::ffi::OsString; 2] {
    let out = run_ok(Command::new("rpm").arg("--showrc"));
    let showrc = String::from_utf8_lossy(&out.stdout);
    let path = showrc
        .lines()
        .find_map(|l| l.strip_prefix("Macro path: "))
        .unwrap_or_else(|| panic!("rpm --showrc names no macro path:\n{showrc}"));
    let mut value = std::ffi::OsString::from(path.trim());
    for file in files {
        value.push(":");
        value.push(file);
    }
    ["--macros".into(), value]
}

/// The build root of the one package rpmbuild built with `--noclean` below `topdir`: rpm 4.18
/// keeps it in `%_topdir/BUILDROOT/<name-version-release.arch>`, rpm 4.20 and later in
/// `%_topdir/BUILD/<name-version>-build/BUILDROOT`.
pub fn build_root_below(topdir: &Path) -> PathBuf {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(topdir.join("BUILDROOT")) {
        found.extend(entries.map(|e| e.unwrap().path()));
    }
    if let Ok(entries) = std::fs::read_dir(topdir.join("BUILD")) {
        found.extend(entries.map(|e| e.unwrap().path().join("BUILDROOT")).filter(|p| p.is_dir()));
    }
    assert_eq!(found.len(), 1, "one build root below {}: {found:?}", topdir.display());
    found.pop().unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedFile {
    pub name: String,
    pub ghost: bool,
    pub dir: bool,
    /// rpm's inode number, unique inside one package.
    pub inode: u64,
}

/// `rpm -qp --qf QF PACKAGE`: what rpm recorded, as `qf` formats it.
pub fn rpm_query(package: &Path, qf: &str) -> String {
    String::from_utf8(run_ok(Command::new("rpm").args(["-qp", "--qf", qf]).arg(package)).stdout).unwrap()
}

/// What rpm recorded about each file of a package.
pub fn files_of(package: &Path) -> Vec<PackagedFile> {
    let qf = "[%{FILENAMES}\\t%{FILEFLAGS:fflags}\\t%{FILEINODES}\\t%{FILEMODES:perms}\\n]";
    rpm_query(package, qf)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            PackagedFile {
                name: f[0].to_string(),
                ghost: f[1].contains('g'),
                inode: f[2].parse().unwrap(),
                dir: f[3].starts_with('d'),
            }
        })
        .collect()
}

/// The installed rpm's version as (major, minor): `rpm --version` says `RPM version 4.18.0`.
pub fn rpm_version() -> (u32, u32) {
    let out = run_ok(Command::new("rpm").arg("--version"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = text.split_whitespace().last().unwrap_or_else(|| panic!("rpm --version: {text:?}"));
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// A tmpfs mounted for one test (`mount -o OPTIONS`), unmounted when dropped. `None`, after
/// saying why, where the test cannot mount one (not root, or no mount allowed outside CI).
pub struct Tmpfs {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(options: &str) -> Option<Tmpfs> {
        if !is_root() {
            skipped("mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mounted");
        std::fs::create_dir(&path).unwrap();
        let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(&path).status();
        if !mounted.is_ok_and(|s| s.success()) {
            assert!(std::env::var_os("CI").is_none(), "cannot mount a tmpfs in CI");
            skipped("cannot mount a tmpfs here");
            return None;
        }
        Some(Tmpfs { path, _dir: dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Checks that the documentation page `page` (relative to the checkout: `README.md`,
/// `docs/packagers.md`) shows `lines` as a code block, each line indented by four spaces (an
/// empty line stays empty), so that a test that builds those lines keeps the page true.
pub fn assert_doc_shows(page: &str, lines: &str) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(page))
        .unwrap_or_else(|e| panic!("{page}: {e}"));
    let block: String =
        lines.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("    {l}\n") }).collect();
    assert!(text.contains(&block), "{page} shows the lines this test builds:\n{block}");
}

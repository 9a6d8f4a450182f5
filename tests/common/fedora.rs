//! Fedora's real rpm configuration (from `../shared/fedora-rpm-config`, or
//! `$FEDORA_RPM_CONFIG`) laid out with brp-pyc installed by `make install`, and pyproject
//! packages built on it: the helpers of `tests/fedora.rs` and `tests/spec_parts.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::*;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The system interpreter: Fedora's brp step calls `pythonX.Y` by name and the tests' venv is
/// made from it, so every cache of a build has its tag.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The scratch configuration, made once for all tests of this file: `None` (with a message)
/// when Fedora's files or the tools are missing outside CI.
pub fn fedora() -> Option<&'static Path> {
    static SETUP: OnceLock<Option<PathBuf>> = OnceLock::new();
    SETUP.get_or_init(|| setup("")).as_deref()
}

/// A scratch configuration of its own (named `name`) with the macro files `files` (file
/// name, text) added to its `macros.d`, as a distribution's packages add theirs.
pub fn fedora_with_macro_files(name: &str, files: &[(&str, &str)]) -> Option<PathBuf> {
    let dir = setup(&format!("-{name}"))?;
    for (file, text) in files {
        std::fs::write(dir.join("config/macros.d").join(file), text).unwrap();
    }
    Some(dir)
}

/// Fedora's configuration alone, without brp-pyc: what a build gives before a distribution
/// adopts it.
pub fn fedora_without_brp_pyc() -> Option<PathBuf> {
    setup_with("-without-brp-pyc", false)
}

fn setup(suffix: &str) -> Option<PathBuf> {
    setup_with(suffix, true)
}

fn setup_with(suffix: &str, with_brp_pyc: bool) -> Option<PathBuf> {
    // Beside the checkout, or where $FEDORA_RPM_CONFIG says (a checkout elsewhere).
    let files = std::env::var_os("FEDORA_RPM_CONFIG")
        .map_or_else(|| Path::new(ROOT).join("../shared/fedora-rpm-config"), PathBuf::from);
    let in_ci = std::env::var_os("CI").is_some();
    if !files.join("python-rpm-macros/macros.python-srpm").is_file() {
        assert!(!in_ci, "{}: Fedora's rpm configuration is required in CI", files.display());
        eprintln!("skipped: {} is absent (Fedora's rpm configuration)", files.display());
        return None;
    }
    if !have("rpmbuild") || !have(SYSTEM_PYTHON) || !have("make") {
        return None;
    }
    let modules = Command::new(SYSTEM_PYTHON).args(["-c", "import setuptools, wheel, packaging, venv, pip"]).output();
    if !modules.is_ok_and(|o| o.status.success()) {
        assert!(
            !in_ci,
            "{SYSTEM_PYTHON} needs pip, setuptools, wheel, packaging and venv in CI; .ci/run installs them"
        );
        eprintln!("skipped: {SYSTEM_PYTHON} lacks pip, setuptools, wheel, packaging or venv");
        return None;
    }
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fedora-config-{}{suffix}", env!("CARGO_CRATE_NAME")));
    let mut script = Command::new("bash");
    script.arg(Path::new(ROOT).join("tests/fedora/setup-config.sh")).arg(&files).arg(&dir);
    if with_brp_pyc {
        script.env("BINARY", env!("CARGO_BIN_EXE_brp-pyc"));
    } else {
        script.env("BRP_PYC_INSTALL", "none").env_remove("BRP_PYC_RPM");
    }
    run_ok(&mut script);
    Some(dir)
}

/// The project the packages are built from: a package with one module of each kind CPython's
/// levels tell apart, a subpackage, and a top-level module (whose cache directory is
/// site-packages' own `__pycache__`).
pub fn write_project(sources: &Path) {
    let tree = Tree::new();
    let top = tree.root().join("foo-1.0");
    let write = |rel: &str, text: &str| {
        let path = top.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"foo\"\nversion = \"1.0\"\n\n\
         [tool.setuptools]\npackages = [\"foo\", \"foo.sub\"]\npy-modules = [\"foo_top\"]\n",
    );
    write("LICENSE", "MIT\n");
    write("foo/__init__.py", "");
    write("foo/plain.py", "def f(x):\n    return x + 1\n");
    write("foo/docs.py", "\"\"\"Module docs.\"\"\"\ndef f(x):\n    \"\"\"Function docs.\"\"\"\n    return x\n");
    write("foo/asserts.py", "def f(x):\n    assert x > 0\n    return x\n");
    write("foo/both.py", "\"\"\"Docs.\"\"\"\ndef f(x):\n    assert x\n    return x\n");
    write("foo/sub/__init__.py", "X = 1\n");
    write("foo_top.py", "TOP = 1\n");
    std::fs::create_dir_all(sources).unwrap();
    run_ok(
        Command::new("tar").arg("czf").arg(sources.join("foo-1.0.tar.gz")).arg("-C").arg(tree.root()).arg("foo-1.0"),
    );
}

/// A pyproject spec: `install` is the %install section after %pyproject_install, `files` the
/// %files sections, `packages` the subpackages' names after `python3-foo-`.
pub fn pyproject_spec(install: &str, packages: &[&str], files: &str) -> String {
    let mut spec = String::from(
        "Name: python-foo\nVersion: 1.0\nRelease: 1\nSummary: foo\nLicense: MIT\nBuildArch: noarch\n\
         Source0: foo-1.0.tar.gz\n%description\nfoo.\n\
         %package -n python3-foo\nSummary: foo\n%description -n python3-foo\nfoo.\n",
    );
    for sub in packages {
        spec.push_str(&format!(
            "%package -n python3-foo-{sub}\nSummary: {sub}\n%description -n python3-foo-{sub}\n{sub}.\n"
        ));
    }
    spec.push_str("%prep\n%autosetup -n foo-1.0\n%build\n%pyproject_wheel\n%install\n%pyproject_install\n");
    spec.push_str(install);
    spec.push('\n');
    spec.push_str(files);
    // Every Fedora spec has a changelog, so SOURCE_DATE_EPOCH is set in the build.
    spec.push_str("\n%changelog\n* Tue Dec 01 2026 Packager <p@example.org> - 1.0-1\n- Built.\n");
    spec
}

/// What one build gave: the packages by name, rpmbuild's stderr and the build root.
pub struct Build {
    pub packages: BTreeMap<String, PathBuf>,
    pub stderr: String,
    pub build_root: PathBuf,
}

impl Build {
    /// Checks that every hardlink set of the build root that a package ships is shipped whole
    /// by that one package: rpm stores a set split across packages in full in each.
    pub fn assert_no_set_spans_packages(&self) {
        let mut packages_of_inode: BTreeMap<u64, (BTreeSet<&str>, u64, u64)> = BTreeMap::new();
        for (name, package) in &self.packages {
            for entry in files_of(package).into_iter().filter(|e| !e.ghost && !e.dir) {
                let meta = std::fs::symlink_metadata(self.build_root.join(&entry.name[1..])).unwrap();
                let set = packages_of_inode.entry(std::os::unix::fs::MetadataExt::ino(&meta)).or_default();
                set.0.insert(name);
                set.1 += 1;
                set.2 = std::os::unix::fs::MetadataExt::nlink(&meta);
            }
        }
        for (inode, (packages, shipped, nlink)) in packages_of_inode {
            assert!(
                packages.len() == 1 && shipped == nlink,
                "inode {inode}: {nlink} links, {shipped} shipped by {packages:?}"
            );
        }
    }
}

/// Builds `spec` on the Fedora configuration in a fresh `_topdir` below `dir`.
pub fn rpmbuild(config: &Path, dir: &Path, spec: &str) -> Build {
    try_rpmbuild(config, dir, spec).unwrap_or_else(|stderr| panic!("rpmbuild failed:\n{stderr}"))
}

/// [`rpmbuild`], or rpmbuild's stderr when the build fails.
pub fn try_rpmbuild(config: &Path, dir: &Path, spec: &str) -> Result<Build, String> {
    try_rpmbuild_with(config, dir, spec, &[])
}

/// [`try_rpmbuild`] with `defines` (`NAME VALUE`) on top of the configuration, as a
/// distribution's macro files would set them.
pub fn try_rpmbuild_with(config: &Path, dir: &Path, spec: &str, defines: &[&str]) -> Result<Build, String> {
    let top = dir.join("top");
    write_project(&top.join("SOURCES"));
    let spec_path = dir.join("foo.spec");
    std::fs::write(&spec_path, spec).unwrap();
    let macro_path = std::fs::read_to_string(config.join("macro-path")).unwrap();
    let out = Command::new("rpmbuild")
        // --noclean keeps the build root, whose inodes say which files are one hardlink set.
        .args(["-bb", "--noclean"])
        .args(["--macros", macro_path.trim()])
        .args(["--define", &format!("_topdir {}", top.display())])
        // Fedora's /bin/sh is bash; the pyproject macros need it.
        .args(["--define", "_buildshell /bin/bash"])
        .args(["--define", &format!("__python3 {}", config.join("venv/bin/python3").display())])
        // No debuginfo tooling for noarch here; Fedora's build sets the time from the changelog
        // in its reproducible-builds configuration.
        .args(["--define", "debug_package %{nil}", "--define", "use_source_date_epoch_as_buildtime 1"])
        // A fixed build host, as reproducible builds set it (rpm 4.20 warns when the machine's
        // name does not resolve).
        .args(["--define", "_buildhost build.example.org"])
        .args(defines.iter().flat_map(|d| ["--define", d]))
        .arg(&spec_path)
        .env("RPM_CONFIGDIR", config.join("config"))
        // Fedora's brp step runs `pythonX.Y` found in $PATH: the system's.
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env_remove("RPM_BUILD_ROOT")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(stderr);
    }
    let mut packages = BTreeMap::new();
    for path in files_below(&top.join("RPMS")) {
        let name = run_ok(Command::new("rpm").args(["-qp", "--qf", "%{NAME}"]).arg(&path)).stdout;
        packages.insert(String::from_utf8(name).unwrap(), path);
    }
    // rpm 4.18: %_topdir/BUILDROOT/NVRA; 4.20 and later: %_topdir/BUILD/NAME-VERSION-build/BUILDROOT.
    let per_build = std::fs::read_dir(top.join("BUILD")).unwrap().flatten().map(|e| e.path().join("BUILDROOT"));
    let build_root = std::fs::read_dir(top.join("BUILDROOT"))
        .map_or(None, |mut d| d.next().and_then(Result::ok).map(|e| e.path()))
        .or_else(|| per_build.into_iter().find(|p| p.is_dir()))
        .expect("rpmbuild --noclean keeps the build root");
    Ok(Build { packages, stderr, build_root })
}

/// rpm's own warnings (`warning: File listed twice: ...`), not the indented output of the
/// build tools that rpmbuild passes through. One is left out: rpm 4.20 and later deprecate
/// `%clamp_mtime_to_source_date_epoch`, which the redhat-rpm-config of the test data (older
/// than those rpm versions) still sets; it is about that pairing, not about any spec.
pub fn rpm_warnings(stderr: &str) -> Vec<&str> {
    let configuration = |l: &str| l.contains("%clamp_mtime_to_source_date_epoch is deprecated");
    stderr
        .lines()
        .filter(|l| l.starts_with("warning:") || l.starts_with("error:") || l.contains("File listed twice"))
        .filter(|l| !configuration(l))
        .collect()
}

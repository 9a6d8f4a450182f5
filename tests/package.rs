//! brp-pyc as its package installs it: the rpm that `make rpm` builds from its own spec
//! (`$BRP_PYC_RPM`, which `.ci/run` builds and sets) installs exactly what `make install`
//! installs, and `rpm -e brp-pyc` gives a build on Fedora's configuration back to Fedora's own
//! tools. (tests/fedora.rs builds the example and pyproject specs with the package installed
//! when `$BRP_PYC_RPM` is set.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The built package, or `None` (with a message) outside CI when it or the tools are missing.
fn package() -> Option<PathBuf> {
    let in_ci = std::env::var_os("CI").is_some();
    let Some(package) = std::env::var_os("BRP_PYC_RPM").map(PathBuf::from) else {
        assert!(!in_ci, "$BRP_PYC_RPM (the package `make rpm` builds) is required in CI; .ci/run sets it");
        skipped("$BRP_PYC_RPM is unset (the package `make rpm` builds)");
        return None;
    };
    assert!(package.is_file(), "$BRP_PYC_RPM: {} is not a file", package.display());
    if !have("rpm") || !have("make") {
        return None;
    }
    if !is_root() {
        assert!(!in_ci, "installing into a scratch root with rpm --root needs root in CI");
        skipped("rpm --root needs root");
        return None;
    }
    Some(package)
}

/// The policy subpackage built beside `package` (RPMS/noarch/ next to RPMS/<arch>/).
fn policy_package(package: &Path) -> PathBuf {
    let noarch = package.parent().unwrap().parent().unwrap().join("noarch");
    files_below(&noarch)
        .into_iter()
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("brp-pyc-policy-"))
        .unwrap_or_else(|| panic!("no brp-pyc-policy package in {}", noarch.display()))
}

/// rpm with its database in `root`'s /var/lib/rpm (Debian's default is the user's home).
fn rpm_in(root: &Path) -> Command {
    let mut cmd = Command::new("rpm");
    cmd.arg("--root").arg(root).args(["--dbpath", "/var/lib/rpm"]);
    cmd
}

/// Every file below `root` (by path relative to it) with what it holds: a symlink's target,
/// a file's bytes (a gzipped man page unpacked: Fedora's configuration compresses them,
/// Debian's does not), `None` for a directory.
fn installed(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let mut rel = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let content = if meta.is_dir() {
                stack.push(path.clone());
                None
            } else if meta.file_type().is_symlink() {
                Some(std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes())
            } else if rel.extension().is_some_and(|e| e == "gz") {
                rel.set_extension("");
                Some(run_ok(Command::new("gzip").arg("-dc").arg(&path)).stdout)
            } else {
                Some(std::fs::read(&path).unwrap())
            };
            found.insert(rel, content);
        }
    }
    found
}

/// The package (and its policy subpackage) installed with `rpm -i` into a scratch root lays
/// out the same files, with the same contents, as `make install` and `make install-policy`
/// with the package's directories; the binary is the one program (its --version and man
/// pages agree). Only rpm's own additions differ: the documentation and license directories,
/// the build-id link and rpm's database.
#[test]
fn package_installs_what_make_install_installs() {
    let Some(package) = package() else { return };
    let root = Tree::new();
    run_ok(rpm_in(root.root()).arg("--initdb"));
    run_ok(rpm_in(root.root()).args(["-i", "--nodeps", "--nosignature"]).arg(&package).arg(policy_package(&package)));

    let stage = Tree::new();
    let dirs = [
        "PREFIX=/usr",
        "RPMMACRODIR=/usr/lib/rpm/macros.d",
        "RPMCONFIGDIR=/usr/lib/rpm",
        "MANDIR=/usr/share/man",
        "RPMLINTDIR=/etc/xdg/rpmlint",
        "RPMPOLICYDIR=/etc/rpm",
    ];
    run_ok(
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(ROOT)
            .args(["install", "install-policy", "CARGO=:"])
            .arg(format!("DESTDIR={}", stage.root().display()))
            .arg(format!("BINARY={}", env!("CARGO_BIN_EXE_brp-pyc")))
            .args(dirs),
    );

    let rpms_own = |rel: &Path| {
        ["usr/share/doc", "usr/share/licenses", "usr/lib/.build-id", "var"].iter().any(|p| rel.starts_with(p))
    };
    let mut from_package = installed(root.root());
    from_package.retain(|rel, _| !rpms_own(rel));
    let mut from_make = installed(stage.root());
    let binary = Path::new("usr/bin/brp-pyc");
    assert!(
        from_package.contains_key(binary),
        "the package installs no {}: {:?}",
        binary.display(),
        from_package.keys()
    );
    let version = |root: &Path| run_ok(Command::new(root.join(binary)).arg("--version")).stdout;
    assert_eq!(version(root.root()), version(stage.root()));
    from_package.remove(binary);
    from_make.remove(binary);
    let paths = |m: &BTreeMap<PathBuf, Option<Vec<u8>>>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(paths(&from_package), paths(&from_make), "the package and make install lay out different files");
    for (rel, content) in &from_make {
        assert!(from_package[rel] == *content, "{}: the package's differs from make install's", rel.display());
    }
}

/// Fedora's rpm configuration in a scratch directory (tests/fedora/setup-config.sh), with
/// `env` naming how brp-pyc is installed; `None` outside CI when Fedora's files are absent.
fn fedora_config(dir: &Path, env: (&str, &Path)) -> Option<PathBuf> {
    let files = std::env::var_os("FEDORA_RPM_CONFIG")
        .map_or_else(|| Path::new(ROOT).join("../shared/fedora-rpm-config"), PathBuf::from);
    if !files.join("python-rpm-macros/macros.python-srpm").is_file() {
        assert!(std::env::var_os("CI").is_none(), "{}: Fedora's rpm configuration is required in CI", files.display());
        skipped("Fedora's rpm configuration is absent");
        return None;
    }
    run_ok(
        Command::new("bash")
            .arg(Path::new(ROOT).join("tests/fedora/setup-config.sh"))
            .arg(&files)
            .arg(dir)
            .env_remove("BRP_PYC_RPM")
            .env(env.0, env.1),
    );
    Some(dir.to_path_buf())
}

/// One build of examples/py-byte-compile.spec (with a changelog, as every Fedora spec has) on
/// the configuration in `config`: what rpm recorded of each file (name, mode, ghost, and the
/// other files sharing its inode), and rpmbuild's stderr.
fn build_example(config: &Path, topdir: &Path) -> (BTreeMap<String, (String, Vec<String>)>, String) {
    let mut spec = std::fs::read_to_string(Path::new(ROOT).join("examples/py-byte-compile.spec")).unwrap();
    spec.push_str("\n%changelog\n* Tue Dec 01 2026 Packager <p@example.org> - 1.0-1\n- Built.\n");
    std::fs::create_dir_all(topdir).unwrap();
    let spec_path = topdir.join("example.spec");
    std::fs::write(&spec_path, spec).unwrap();
    let macro_path = std::fs::read_to_string(config.join("macro-path")).unwrap();
    let out = Command::new("rpmbuild")
        .arg("-bb")
        .args(["--macros", macro_path.trim()])
        .arg("--define")
        .arg(format!("_topdir {}", topdir.display()))
        .args(["--define", "_buildshell /bin/bash", "--define", "debug_package %{nil}"])
        .arg("--define")
        .arg(format!("__python3 {}", config.join("venv/bin/python3").display()))
        .arg(&spec_path)
        .env("RPM_CONFIGDIR", config.join("config"))
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .env_remove("RPM_BUILD_ROOT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rpmbuild failed:\n{stderr}");
    let [package] = files_below(&topdir.join("RPMS")).try_into().expect("one package");
    let qf = "[%{FILENAMES}\\t%{FILEMODES:perms}\\t%{FILEFLAGS:fflags}\\t%{FILEINODES}\\n]";
    let listing =
        String::from_utf8(run_ok(Command::new("rpm").args(["-qp", "--qf", qf]).arg(&package)).stdout).unwrap();
    let rows: Vec<Vec<&str>> = listing.lines().map(|l| l.split('\t').collect()).collect();
    let files = rows
        .iter()
        .map(|f| {
            let same_inode = rows.iter().filter(|g| g[3] == f[3] && g[0] != f[0]).map(|g| g[0].to_string()).collect();
            (f[0].to_string(), (format!("{} {}", f[1], f[2]), same_inode))
        })
        .collect();
    (files, stderr)
}

/// With the package installed, Fedora's configuration runs brp-pyc (%py_byte_compile is its
/// compile, the brp step its link); after `rpm -e brp-pyc` nothing of it is left in the root,
/// the macros are Fedora's own again, and the same spec builds as on a configuration that never
/// had brp-pyc: the same files, modes and hardlinks, and no brp-pyc in the build's trace.
#[test]
fn erasing_the_package_gives_the_build_back_to_fedoras_tools() {
    let Some(package) = package() else { return };
    if !have("rpmbuild") {
        return;
    }
    let scratch = Tree::new();
    let Some(with_package) = fedora_config(&scratch.path("with-package"), ("BRP_PYC_RPM", &package)) else { return };
    let Some(fedora_only) = fedora_config(&scratch.path("fedora-only"), ("BRP_PYC_INSTALL", Path::new("none"))) else {
        return;
    };
    let eval = |config: &Path, expr: &str| {
        let macro_path = std::fs::read_to_string(config.join("macro-path")).unwrap();
        let out = run_ok(
            Command::new("rpm")
                .args(["--macros", macro_path.trim(), "--eval", expr])
                .env("RPM_CONFIGDIR", config.join("config")),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let macros = ["%{macrobody:py_byte_compile}", "%__brp_python_hardlink"];
    let binary = with_package.join("prefix/bin/brp-pyc");
    for expr in macros {
        assert!(eval(&with_package, expr).contains("brp-pyc"), "{expr} is not brp-pyc's with the package installed");
    }
    let (_, stderr) = build_example(&with_package, &scratch.path("top-installed"));
    assert!(stderr.contains(&format!("{} compile", binary.display())), "brp-pyc compile did not run:\n{stderr}");

    let package_files = String::from_utf8(run_ok(Command::new("rpm").args(["-qlp"]).arg(&package)).stdout).unwrap();
    run_ok(rpm_in(&with_package.join("root")).args(["-e", "brp-pyc"]));
    for file in package_files.lines() {
        assert!(!with_package.join("root").join(&file[1..]).exists(), "{file} is left after rpm -e");
    }
    for expr in macros {
        let fedoras = eval(&fedora_only, expr);
        assert!(!fedoras.contains("brp-pyc"), "{expr}: {fedoras}");
        assert_eq!(
            eval(&with_package, expr),
            fedoras.replace(&*fedora_only.to_string_lossy(), &with_package.to_string_lossy()),
            "{expr}"
        );
    }
    let (after_erase, stderr) = build_example(&with_package, &scratch.path("top-erased"));
    assert!(!stderr.contains("brp-pyc"), "brp-pyc still runs after rpm -e:\n{stderr}");
    let (fedoras, _) = build_example(&fedora_only, &scratch.path("top-fedora"));
    assert_eq!(after_erase, fedoras);
}

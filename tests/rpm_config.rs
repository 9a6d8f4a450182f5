//! The distribution side: the policy drop-in and the brp-python-hardlink wrapper in a real
//! rpmbuild after %install, and `make install` laying everything out where rpm finds it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A spec that writes caches at three levels in %install and leaves linking to the brp step.
fn plain_spec(dir: &Path) -> PathBuf {
    let spec = r#"Name: brp-step
Version: 1
Release: 1
Summary: Caches linked by the brp step
License: MIT
BuildArch: noarch
%description
Caches linked after %install.
%install
mkdir -p %{buildroot}/usr/lib/python3/site-packages/m
printf 'x = 1\n' > %{buildroot}/usr/lib/python3/site-packages/m/plain.py
printf '"""doc"""\nx = 1\n' > %{buildroot}/usr/lib/python3/site-packages/m/doc.py
%{__python3} -m compileall -q -o 0 -o 1 -o 2 -s %{buildroot} -p / %{buildroot}/usr/lib/python3/site-packages/m
%files
/usr/lib/python3/site-packages/m
"#;
    let path = dir.join("brp-step.spec");
    std::fs::write(&path, spec).unwrap();
    path
}

/// Builds the spec with extra rpmbuild arguments and returns, per cache file name, its inode
/// in the package.
fn build(dir: &Path, macro_files: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Vec<(String, u64)> {
    let top = dir.join("top");
    let mut files = vec![Path::new(ROOT).join("macros/macros.brp-pyc")];
    files.extend(macro_files.iter().map(|f| Path::new(ROOT).join(f)));
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb")
        .args(rpm_macros_args(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>()))
        .args(["--define", &format!("_topdir {}", top.display())])
        .args(["--define", "debug_package %{nil}"])
        .args(["--define", "__python3 python3"])
        .args(["--define", &format!("__brp_pyc {}", env!("CARGO_BIN_EXE_brp-pyc"))])
        .args(extra)
        .arg(plain_spec(dir))
        .env_remove("RPM_BUILD_ROOT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_ok(&mut cmd);
    let package = top.join("RPMS/noarch/brp-step-1-1.noarch.rpm");
    let out = run_ok(Command::new("rpm").args(["-qp", "--qf", "[%{FILENAMES}\\t%{FILEINODES}\\n]"]).arg(&package));
    std::fs::remove_dir_all(&top).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(".pyc\t"))
        .map(|l| {
            let (name, inode) = l.split_once('\t').unwrap();
            (name.rsplit('/').next().unwrap().to_string(), inode.parse().unwrap())
        })
        .collect()
}

/// The inode of `stem`'s cache whose name ends in `suffix` exactly after the cache tag:
/// `.pyc` is level 0 only, not `.opt-1.pyc`.
fn inode_of(caches: &[(String, u64)], suffix: &str, stem: &str) -> u64 {
    let level_of =
        |name: &str| name.rsplit_once(".opt-").map_or(".pyc".to_string(), |(_, rest)| format!(".opt-{rest}"));
    caches.iter().find(|(n, _)| n.starts_with(&format!("{stem}.")) && level_of(n) == suffix).unwrap().1
}

/// plain: all three levels identical; doc: 0 and 1 identical, 2 without the docstring.
fn assert_linked_like_compileall_hardlink_dupes(caches: &[(String, u64)]) {
    assert_eq!(caches.len(), 6, "{caches:?}");
    let p = |s| inode_of(caches, s, "plain");
    let d = |s| inode_of(caches, s, "doc");
    assert!(p(".opt-1.pyc") == p(".pyc") && p(".opt-2.pyc") == p(".pyc"), "{caches:?}");
    assert!(d(".opt-1.pyc") == d(".pyc") && d(".opt-2.pyc") != d(".pyc"), "{caches:?}");
}

#[test]
fn policy_drop_in_links_after_install() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unlinked = build(dir.path(), &[], &[], &[]);
    assert_eq!(
        unlinked.iter().map(|(_, i)| i).collect::<std::collections::BTreeSet<_>>().len(),
        6,
        "without the policy nothing links"
    );
    let policy = "rpm-config/macros.brp-pyc-policy";
    assert_linked_like_compileall_hardlink_dupes(&build(dir.path(), &[policy], &[], &[]));
}

#[test]
fn wrapper_script_called_by_path_links_like_the_old_script() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wrapper = format!("__brp_python_hardlink {ROOT}/rpm-config/brp-python-hardlink");
    let policy = "rpm-config/macros.brp-pyc-policy";
    let caches = build(dir.path(), &[policy], &["--define", &wrapper], &[("BRP_PYC", env!("CARGO_BIN_EXE_brp-pyc"))]);
    assert_linked_like_compileall_hardlink_dupes(&caches);
    // With a layout, links stay inside its groups: 0 alone, 1 and 2 together.
    let caches = build(
        dir.path(),
        &[policy],
        &["--define", &wrapper],
        &[("BRP_PYC", env!("CARGO_BIN_EXE_brp-pyc")), ("BRP_PYC_LAYOUT", "0,12")],
    );
    let p = |s| inode_of(&caches, s, "plain");
    let d = |s| inode_of(&caches, s, "doc");
    assert!(p(".opt-1.pyc") == p(".opt-2.pyc") && p(".pyc") != p(".opt-1.pyc"), "{caches:?}");
    assert!(d(".pyc") != d(".opt-1.pyc") && d(".opt-1.pyc") != d(".opt-2.pyc"), "{caches:?}");
}

#[test]
fn make_install_lays_out_binary_macros_wrapper_and_man_pages() {
    if !have("make") {
        return;
    }
    let stage = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("make")
            .arg("-C")
            .arg(ROOT)
            .arg("install")
            .arg(format!("DESTDIR={}", stage.path().display()))
            .args(["PREFIX=/usr", "CARGO=:"])
            .arg(format!("BINARY={}", env!("CARGO_BIN_EXE_brp-pyc"))),
    );
    let at = |p: &str| stage.path().join(p);
    assert!(at("usr/bin/brp-pyc").is_file());
    let macros = std::fs::read_to_string(at("usr/lib/rpm/macros.d/macros.zz-brp-pyc")).unwrap();
    assert!(
        macros.lines().any(|l| l == "%__brp_pyc /usr/bin/brp-pyc"),
        "the installed macros point at the installed binary"
    );
    let wrapper = std::fs::read_to_string(at("usr/lib/rpm/brp-pyc/brp-python-hardlink")).unwrap();
    assert!(wrapper.contains("/usr/bin/brp-pyc") && !wrapper.contains("@BINDIR@"));
    // Run while rpm parses a spec: %_brp_pyc_record_owner finds it in %{_rpmconfigdir}.
    assert!(at("usr/lib/rpm/brp-pyc/list-owners.lua").is_file());
    for page in ["brp-pyc", "brp-pyc-link", "brp-pyc-split", "brp-pyc-compile", "brp-pyc-stats", "brp-pyc-check"] {
        let roff = std::fs::read_to_string(at(&format!("usr/share/man/man1/{page}.1"))).unwrap();
        assert!(roff.starts_with(".ie") || roff.contains(".TH"), "{page}.1 is a man page");
        assert!(roff.contains(page), "{page}.1 names its command");
    }
    // rpm itself reads the installed macro file.
    if have("rpm") {
        let out = run_ok(
            Command::new("rpm")
                .arg("--load")
                .arg(at("usr/lib/rpm/macros.d/macros.zz-brp-pyc"))
                .args(["--eval", "%__brp_python_hardlink"]),
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "/usr/bin/brp-pyc link");
    }
}

/// Debian's configuration with the policy drop-in: a spec that compiles levels 0 and 1 and
/// splits with layout 0,1,2 gets its level 2 compiled by the brp step (the interpreter of the
/// caches' tag), three non-empty subpackages, and every level valid for python3 -OO.
#[test]
fn policy_brp_step_compiles_the_level_a_split_layout_names() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("top");
    let spec = r#"Name: split-missing
Version: 1
Release: 1
Summary: Level 2 compiled by the brp step
License: MIT
BuildArch: noarch
%description
Levels 0 and 1 compiled in %install, level 2 by the brp step.
%package opt-0
Summary: 0
%description opt-0
0
%package opt-1
Summary: 1
%description opt-1
1
%package opt-2
Summary: 2
%description opt-2
2
%install
mkdir -p %{buildroot}/usr/share/sm/m
printf '"""doc"""\nx = 1\n' > %{buildroot}/usr/share/sm/m/doc.py
%py_byte_compile %{__python3} %{buildroot}/usr/share/sm/m
%py_bytecode_split -l 0,1,2
%files -f %{py_bytecode_ghost_files}
/usr/share/sm/m/doc.py
%files opt-0 -f %py_bytecode_files 0
%files opt-1 -f %py_bytecode_files 1
%files opt-2 -f %py_bytecode_files 2
"#;
    let spec_path = dir.path().join("split-missing.spec");
    std::fs::write(&spec_path, spec).unwrap();
    let policy = format!("{ROOT}/rpm-config/macros.brp-pyc-policy");
    let python =
        String::from_utf8(run_ok(Command::new("python3").args(["-c", "import sys; print(sys.executable)"])).stdout)
            .unwrap();
    run_ok(
        Command::new("rpmbuild")
            .arg("-bb")
            .args(rpm_macros_args(&[
                &Path::new(ROOT).join("macros/macros.brp-pyc"),
                &Path::new(ROOT).join("macros/macros.brp-pyc-compile"),
                Path::new(&policy),
            ]))
            .args(["--define", &format!("_topdir {}", top.display())])
            .args(["--define", "debug_package %{nil}"])
            .args(["--define", &format!("__python3 {}", python.trim())])
            .args(["--define", &format!("__brp_pyc {}", env!("CARGO_BIN_EXE_brp-pyc"))])
            .arg(&spec_path)
            .env_remove("RPM_BUILD_ROOT"),
    );
    let tag = cache_tag(python.trim());
    for (level, suffix) in [(0, ".pyc"), (1, ".opt-1.pyc"), (2, ".opt-2.pyc")] {
        let package = top.join(format!("RPMS/noarch/split-missing-opt-{level}-1-1.noarch.rpm"));
        let out = run_ok(Command::new("rpm").args(["-qp", "--qf", "[%{FILENAMES}\\n]"]).arg(&package));
        let names = String::from_utf8(out.stdout).unwrap();
        assert_eq!(names.trim(), format!("/usr/share/sm/m/__pycache__/doc.{tag}{suffix}"), "opt-{level}");
    }
    // The level 2 cache is valid: python3 -OO loads it from the extracted package.
    let opt2 = extract_payload(&top.join("RPMS/noarch/split-missing-opt-2-1-1.noarch.rpm"));
    let main = extract_payload(&top.join("RPMS/noarch/split-missing-1-1.noarch.rpm"));
    let source = main.root().join("usr/share/sm/m/doc.py");
    let cache = opt2.root().join(format!("usr/share/sm/m/__pycache__/doc.{tag}.opt-2.pyc"));
    let staged = Tree::new();
    std::fs::create_dir_all(staged.path("m/__pycache__")).unwrap();
    std::fs::copy(&source, staged.path("m/doc.py")).unwrap();
    set_mtime(
        &staged.path("m/doc.py"),
        std::fs::metadata(&source)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    std::fs::copy(&cache, staged.path(format!("m/__pycache__/doc.{tag}.opt-2.pyc"))).unwrap();
    let out = run_ok(
        Command::new(python.trim())
            .args(["-OO", "-v", "-c", "import m.doc"])
            .env("PYTHONPATH", staged.root())
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(&format!(
            "code object from '{}'",
            staged.path(format!("m/__pycache__/doc.{tag}.opt-2.pyc")).display()
        )),
        "{log}"
    );
}

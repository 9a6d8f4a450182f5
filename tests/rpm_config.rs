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
fn build(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Vec<(String, u64)> {
    let top = dir.join("top");
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb")
        .args(["--define", &format!("_topdir {}", top.display())])
        .args(["--define", "debug_package %{nil}"])
        .args(["--define", "__python3 python3"])
        .args(["--load", &format!("{ROOT}/macros/macros.brp-pyc")])
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
    let level_of = |name: &str| name.rsplit_once(".opt-").map_or(".pyc".to_string(), |(_, rest)| format!(".opt-{rest}"));
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
    let unlinked = build(dir.path(), &[], &[]);
    assert_eq!(unlinked.iter().map(|(_, i)| i).collect::<std::collections::BTreeSet<_>>().len(), 6, "without the policy nothing links");
    let policy = format!("{ROOT}/rpm-config/macros.brp-pyc-policy");
    assert_linked_like_compileall_hardlink_dupes(&build(dir.path(), &["--load", &policy], &[]));
}

#[test]
fn wrapper_script_called_by_path_links_like_the_old_script() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wrapper = format!("__brp_python_hardlink {ROOT}/rpm-config/brp-python-hardlink");
    let policy = format!("{ROOT}/rpm-config/macros.brp-pyc-policy");
    let caches = build(dir.path(), &["--load", &policy, "--define", &wrapper], &[("BRP_PYC", env!("CARGO_BIN_EXE_brp-pyc"))]);
    assert_linked_like_compileall_hardlink_dupes(&caches);
    // With a layout, links stay inside its groups: 0 alone, 1 and 2 together.
    let caches = build(
        dir.path(),
        &["--load", &policy, "--define", &wrapper],
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
    assert!(macros.lines().any(|l| l == "%__brp_pyc /usr/bin/brp-pyc"), "the installed macros point at the installed binary");
    let wrapper = std::fs::read_to_string(at("usr/lib/rpm/brp-pyc/brp-python-hardlink")).unwrap();
    assert!(wrapper.contains("/usr/bin/brp-pyc") && !wrapper.contains("@BINDIR@"));
    for page in ["brp-pyc", "brp-pyc-link", "brp-pyc-split", "brp-pyc-compile", "brp-pyc-stats", "brp-pyc-check"] {
        let roff = std::fs::read_to_string(at(&format!("usr/share/man/man1/{page}.1"))).unwrap();
        assert!(roff.starts_with(".ie") || roff.contains(".TH"), "{page}.1 is a man page");
        assert!(roff.contains(page), "{page}.1 names its command");
    }
    // rpm itself reads the installed macro file.
    if have("rpm") {
        let out = run_ok(Command::new("rpm").arg("--load").arg(at("usr/lib/rpm/macros.d/macros.zz-brp-pyc")).args(["--eval", "%__brp_python_hardlink"]));
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "/usr/bin/brp-pyc link");
    }
}

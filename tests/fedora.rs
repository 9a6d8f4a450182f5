//! brp-pyc on Fedora's real rpm configuration (redhat-rpm-config, python-rpm-macros,
//! pyproject-rpm-macros from `../shared/fedora-rpm-config`), installed by `make install` into a
//! scratch copy of rpm's configuration: real `%pyproject_wheel`/`%pyproject_install`/
//! `%pyproject_save_files` builds of a small project, offline, read back with rpm, installed
//! into a scratch root and loaded by python3 -O.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fedora::*;
use common::*;

const SPLIT_0_1_2: &str = "\
%files -n python3-foo -f %{pyproject_files} -f %{py_bytecode_ghost_files}
%files -n python3-foo-bytecode-opt-0 -f %py_bytecode_files 0
%files -n python3-foo-bytecode-opt-1 -f %py_bytecode_files 1
%files -n python3-foo-bytecode-opt-2 -f %py_bytecode_files 2
";

fn split_spec(layout: &str, files: &str, subpackages: &[&str]) -> String {
    pyproject_spec(&format!("%pyproject_save_files -l foo foo_top\n%py_bytecode_split -l {layout}"), subpackages, files)
}

/// The spec of the issue, word for word: no warning, every level in its subpackage, each cache
/// real in exactly one package and a %ghost of the main package, which owns exactly the
/// `__pycache__` directories %pyproject_save_files named. The packagers' guide shows its
/// `%install` and `%files` lines.
#[test]
fn pyproject_spec_splits_every_level_without_a_warning() {
    assert_doc_shows(
        "docs/packagers.md",
        &format!(
            "%install\n%pyproject_install\n%pyproject_save_files -l foo foo_top\n%py_bytecode_split -l 0,1,2\n\n{SPLIT_0_1_2}"
        ),
    );
    let Some(config) = fedora() else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = split_spec("0,1,2", SPLIT_0_1_2, &["bytecode-opt-0", "bytecode-opt-1", "bytecode-opt-2"]);
    let build = rpmbuild(config, dir.path(), &spec);
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    assert!(
        build.stderr.contains("brp-pyc split --link --compile-missing"),
        "the brp step ran brp-pyc:\n{}",
        build.stderr
    );

    let main = files_of(&build.packages["python3-foo"]);
    assert!(main.iter().filter(|e| e.name.ends_with(".pyc")).all(|e| e.ghost), "the main package ships no real cache");
    let ghosts: BTreeSet<&str> = main.iter().filter(|e| e.ghost).map(|e| e.name.as_str()).collect();
    let pycache_dirs: BTreeSet<&str> =
        main.iter().filter(|e| e.dir && e.name.ends_with("/__pycache__")).map(|e| e.name.as_str()).collect();
    let sitelib =
        main.iter().find(|e| e.name.ends_with("/foo_top.py")).unwrap().name.trim_end_matches("/foo_top.py").to_string();
    let expected_dirs: BTreeSet<String> =
        ["foo/__pycache__", "foo/sub/__pycache__"].iter().map(|d| format!("{sitelib}/{d}")).collect();
    assert_eq!(pycache_dirs, expected_dirs.iter().map(String::as_str).collect(), "not site-packages/__pycache__");

    let mut real_owner: BTreeMap<String, &str> = BTreeMap::new();
    for (level, sub) in
        ["python3-foo-bytecode-opt-0", "python3-foo-bytecode-opt-1", "python3-foo-bytecode-opt-2"].iter().enumerate()
    {
        let files = files_of(&build.packages[*sub]);
        // 7 modules: __init__, plain, docs, asserts, both, sub/__init__, foo_top.
        assert_eq!(files.len(), 7, "{sub}: {files:?}");
        for f in &files {
            let level_of_name = if f.name.ends_with(".opt-1.pyc") {
                1
            } else if f.name.ends_with(".opt-2.pyc") {
                2
            } else {
                0
            };
            assert!(!f.ghost && !f.dir && level_of_name == level, "{sub}: {f:?}");
            assert!(ghosts.contains(f.name.as_str()), "{} is a %ghost of the main package", f.name);
            assert!(real_owner.insert(f.name.clone(), sub).is_none(), "{} is real in two packages", f.name);
        }
    }
    assert_eq!(ghosts.len(), real_owner.len(), "every %ghost has a real file in a subpackage");
    build.assert_no_set_spans_packages();

    // The list %pyproject_save_files wrote no longer names a cache: the main package has no
    // real cache above, and no entry twice (no warning above).
    let listed = std::fs::read_to_string(
        files_below(&dir.path().join("top/BUILD"))
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with("-pyproject-files"))
            .unwrap(),
    )
    .unwrap();
    assert!(!listed.contains("__pycache__") && listed.contains("/foo/plain.py"), "{listed}");

    // `check` on this split build root: the identical levels it keeps in different subpackages
    // are findings only when all levels are taken as one package, not in the recorded layout.
    let not_linked = |report: &serde_json::Value| {
        report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "not-linked").count()
    };
    let record = files_below(&dir.path().join("top/BUILD")).into_iter().find(|p| p.ends_with("bytecode-layout"));
    let lists_dir = record.expect("the split recorded its layout").parent().unwrap().to_path_buf();
    let (_, as_one) = audit_json("check", &[&build.build_root]);
    assert!(not_linked(&as_one) > 0, "identical levels shipped apart: {as_one}");
    let out =
        brp_pyc().args(["check", "--json", "--lists-dir"]).arg(&lists_dir).arg(&build.build_root).output().unwrap();
    let in_layout: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((not_linked(&in_layout), &in_layout["layout"]), (0, &"0,1,2".into()), "{in_layout}");
}

/// Layout 0,12: levels 1 and 2 ship together and their identical caches stay one hardlink set
/// inside that package; installed with the main package, python3 -O loads the opt-1 caches.
#[test]
fn pyproject_layout_0_12_links_inside_its_subpackage_and_python_loads_it() {
    let Some(config) = fedora() else { return };
    let dir = tempfile::tempdir().unwrap();
    let files = "\
%files -n python3-foo -f %{pyproject_files} -f %{py_bytecode_ghost_files}
%files -n python3-foo-bytecode-opt-0 -f %py_bytecode_files 0
%files -n python3-foo-bytecode-opt-1-2 -f %py_bytecode_files 1-2
";
    let build = rpmbuild(config, dir.path(), &split_spec("0,12", files, &["bytecode-opt-0", "bytecode-opt-1-2"]));
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    let opt12 = files_of(&build.packages["python3-foo-bytecode-opt-1-2"]);
    let inode_of = |suffix: &str| {
        opt12.iter().find(|e| e.name.ends_with(suffix)).unwrap_or_else(|| panic!("{suffix}: {opt12:?}")).inode
    };
    // asserts.py: levels 1 and 2 identical; docs.py: they differ.
    let tag = cache_tag(SYSTEM_PYTHON);
    assert_eq!(inode_of(&format!("/asserts.{tag}.opt-1.pyc")), inode_of(&format!("/asserts.{tag}.opt-2.pyc")));
    assert_ne!(inode_of(&format!("/docs.{tag}.opt-1.pyc")), inode_of(&format!("/docs.{tag}.opt-2.pyc")));
    build.assert_no_set_spans_packages();

    let root = tempfile::tempdir().unwrap();
    run_ok(Command::new("rpm").arg("--root").arg(root.path()).arg("--initdb"));
    run_ok(
        Command::new("rpm")
            .arg("--root")
            .arg(root.path())
            .args(["-i", "--nodeps", "--noscripts"])
            .arg(&build.packages["python3-foo"])
            .arg(&build.packages["python3-foo-bytecode-opt-1-2"]),
    );
    let main = files_of(&build.packages["python3-foo"]);
    let installed_sitelib =
        main.iter().find(|e| e.name.ends_with("/foo_top.py")).unwrap().name.trim_end_matches("/foo_top.py").to_string();
    let sitelib = root.path().join(&installed_sitelib[1..]);
    let out = run_ok(
        Command::new(SYSTEM_PYTHON)
            .args(["-O", "-v", "-c", "import foo.asserts, foo_top"])
            .env("PYTHONPATH", &sitelib)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    let log = String::from_utf8_lossy(&out.stderr);
    for cache in [format!("foo/__pycache__/asserts.{tag}.opt-1.pyc"), format!("__pycache__/foo_top.{tag}.opt-1.pyc")] {
        let loaded = format!("code object from '{}'", sitelib.join(&cache).display());
        assert!(log.contains(&loaded), "python3 -O did not load {cache}:\n{log}");
    }
}

/// Two builds of the spec give the same bytes in every package.
#[test]
fn pyproject_split_builds_are_reproducible() {
    let Some(config) = fedora() else { return };
    let spec = split_spec("0,1,2", SPLIT_0_1_2, &["bytecode-opt-0", "bytecode-opt-1", "bytecode-opt-2"]);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = rpmbuild(config, a.path(), &spec);
    // A second apart, so that a time that leaked into a package would show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = rpmbuild(config, b.path(), &spec);
    assert_eq!(first.packages.keys().collect::<Vec<_>>(), second.packages.keys().collect::<Vec<_>>());
    for (name, path) in &first.packages {
        assert!(
            std::fs::read(path).unwrap() == std::fs::read(&second.packages[name]).unwrap(),
            "{name} differs between two builds"
        );
    }
}

/// Installed by `make install`, brp-pyc's macros are the ones Fedora's configuration expands,
/// and a spec that only uses %pyproject_save_files (no split) gets its caches linked.
#[test]
fn installed_macros_win_over_fedoras() {
    let Some(config) = fedora() else { return };
    let macro_path = std::fs::read_to_string(config.join("macro-path")).unwrap();
    let eval = |expr: &str| {
        let out = run_ok(
            Command::new("rpm")
                .args(["--macros", macro_path.trim(), "--eval", expr])
                .env("RPM_CONFIGDIR", config.join("config")),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let binary = config.join("prefix/bin/brp-pyc");
    assert_eq!(eval("%__brp_python_hardlink").trim(), format!("{} link", binary.display()));
    // brp-pyc's %_pyproject_files_base records the owner, then gives pyproject-rpm-macros'
    // path: the same text as Fedora's own definition, and the same expansion.
    let fedora_definition = "%_pyproject_files_base %{_builddir}/%{_pyproject_files_prefix}-pyproject-files\n";
    let fedora_file = std::fs::read_to_string(config.join("config/macros.d/macros.pyproject")).unwrap();
    assert!(fedora_file.contains(fedora_definition), "pyproject-rpm-macros changed %_pyproject_files_base");
    let in_a_spec = "%define name foo\n%define version 1\n%define release 1\n";
    let ours = eval(&format!("{in_a_spec}%{{_pyproject_files_base}}"));
    assert!(ours.contains("foo-1-1") && ours.trim().ends_with("-pyproject-files"), "{ours}");
    assert_eq!(ours, eval(&format!("{in_a_spec}%{{_builddir}}/%{{_pyproject_files_prefix}}-pyproject-files")));
    assert!(eval("%{macrobody:py_byte_compile}").contains("brp-pyc} compile"), "%py_byte_compile is brp-pyc's");

    let dir = tempfile::tempdir().unwrap();
    let spec =
        pyproject_spec("%pyproject_save_files -l foo foo_top", &[], "%files -n python3-foo -f %{pyproject_files}\n");
    let build = rpmbuild(config, dir.path(), &spec);
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    let main = files_of(&build.packages["python3-foo"]);
    let inode_of = |suffix: &str| main.iter().find(|e| e.name.ends_with(suffix)).unwrap().inode;
    // Fedora's brp step compiles levels 0 and 1; docs.py's are identical and linked by brp-pyc.
    let tag = cache_tag(SYSTEM_PYTHON);
    assert_eq!(inode_of(&format!("/docs.{tag}.pyc")), inode_of(&format!("/docs.{tag}.opt-1.pyc")));
    assert_ne!(inode_of(&format!("/asserts.{tag}.pyc")), inode_of(&format!("/asserts.{tag}.opt-1.pyc")));
}

/// A layout level whose cache tag no interpreter here writes: one error line naming the tag
/// and what to install, and the tree as it was.
#[test]
fn missing_interpreter_for_a_cache_tag_is_one_error_line() {
    if !have(SYSTEM_PYTHON) {
        return;
    }
    let tree = Tree::new();
    tree.write("usr/share/x/m.py", "X = 1\n");
    tree.write("usr/share/x/__pycache__/m.cpython-399.pyc", "not really a cache");
    let before = tree.contents();
    let out = brp_pyc()
        .args([
            "split",
            "--compile-missing",
            "--python",
            SYSTEM_PYTHON,
            "--layout",
            "0,1,2",
            "--rpm-escape",
            "4.19",
            "--output-dir",
        ])
        .arg(tree.root().join("lists"))
        .arg(tree.root().join("usr"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cpython-399") && stderr.contains("install python3.99") && stderr.contains("m.py"),
        "{stderr}"
    );
    assert_eq!(tree.contents(), before);
}

/// A spec without %pyproject_save_files (the example with layout 0,12, plus the %changelog
/// every Fedora spec has) keeps working on Fedora's configuration: levels compiled by
/// `brp-pyc compile` in %install and rewritten by Fedora's brp step are all timestamp caches,
/// so identical levels 1 and 2 stay linked, and `check` finds nothing in the packages.
#[test]
fn example_spec_with_a_changelog_keeps_its_links_on_fedora() {
    let Some(config) = fedora() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = std::fs::read_to_string(Path::new(ROOT).join("examples/python-example-0-12.spec")).unwrap();
    spec.push_str("\n%changelog\n* Tue Dec 01 2026 Packager <p@example.org> - 1.0-1\n- Built.\n");
    let build = rpmbuild(config, dir.path(), &spec);
    assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    let opt12 = files_of(&build.packages["python-example-0-12-bytecode-opt-1-2"]);
    let inode_of = |suffix: &str| {
        opt12.iter().find(|e| e.name.ends_with(suffix)).unwrap_or_else(|| panic!("{suffix}: {opt12:?}")).inode
    };
    // plain.py and checked.py have no docstring: levels 1 and 2 are the same bytes.
    for module in ["plain", "checked"] {
        let tag = cache_tag(SYSTEM_PYTHON);
        assert_eq!(
            inode_of(&format!("/{module}.{tag}.opt-1.pyc")),
            inode_of(&format!("/{module}.{tag}.opt-2.pyc")),
            "{module}"
        );
    }
    let packages: Vec<&Path> = build.packages.values().map(PathBuf::as_path).collect();
    let (code, report) = audit_json("check", &packages);
    assert_eq!(code, 0, "{report}");
    build.assert_no_set_spans_packages();
}

//! Hand-made inputs that once broke brp-pyc: caches of different modules sharing an inode, a
//! stdout closed by the reader, a tree deeper than PATH_MAX, an installed tree that records its
//! own path, non-UTF-8 paths in JSON, identical bytes under two cache tags.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

fn int(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

/// Three modules whose caches are two inodes between them, as a tool that links across
/// modules (jdupes, hardlink) leaves them: every level 0 cache is inode X, every level 1 cache
/// inode Y, and X and Y hold the same 100 bytes.
#[test]
fn caches_of_different_modules_sharing_an_inode_count_once() {
    let tree = Tree::in_memory();
    let bytes = vec![b'c'; 100];
    let x = tree.write("p/__pycache__/a.cpython-311.pyc", &bytes);
    let y = tree.write("p/__pycache__/a.cpython-311.opt-1.pyc", &bytes);
    tree.write("p/a.py", "1\n");
    for module in ["b", "c"] {
        std::fs::hard_link(&x, tree.path(format!("p/__pycache__/{module}.cpython-311.pyc"))).unwrap();
        std::fs::hard_link(&y, tree.path(format!("p/__pycache__/{module}.cpython-311.opt-1.pyc"))).unwrap();
        tree.write(format!("p/{module}.py"), "1\n");
    }
    let sources = 3 * 2;

    let (code, stats) = audit_json("stats", &[tree.root()]);
    assert_eq!(code, 0, "{stats}");
    assert_eq!((int(&stats, "caches"), int(&stats, "cache_bytes"), int(&stats, "linked_bytes")), (6, 200, 400));
    assert_eq!(int(&stats, "linkable_bytes"), 100, "linking joins X and Y: one copy of 100 bytes saved");
    let layouts = &stats["layouts"];
    assert_eq!(int(layouts, "shipped"), sources + 200);
    assert_eq!(int(layouts, "all_linked"), sources + 100);
    assert_eq!(int(layouts, "opt_0_only"), sources + 100, "the level 0 caches are one inode");
    assert_eq!(int(layouts, "levels_0_1"), sources + 100);
    assert!(layouts["split_0_1_2"].is_null(), "no level 2 cache: not projected: {layouts}");
    assert_eq!(int(&stats["missing_levels"], "level_2"), 3);
    assert_eq!(int(layouts, "no_caches"), sources);

    let (code, check) = audit_json("check", &[tree.root()]);
    assert_eq!(code, 1, "{check}");
    let not_linked: Vec<&str> = check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "not-linked")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let level_1 = ["a", "b", "c"].map(|m| format!("/p/__pycache__/{m}.cpython-311.opt-1.pyc"));
    assert_eq!(not_linked, level_1, "each module's level 1 cache is a separate copy of its level 0: {check}");
}

/// `brp-pyc SUBCOMMAND ... | head -0`: the reader is gone before anything is written.
#[test]
fn a_closed_stdout_is_a_clean_end_for_every_subcommand() {
    let tree = Tree::in_memory();
    for n in 0..50 {
        tree.write(format!("p/m{n}.py"), "1\n");
        tree.write(format!("p/__pycache__/m{n}.cpython-311.pyc"), "same bytes");
        tree.write(format!("p/__pycache__/m{n}.cpython-311.opt-1.pyc"), "same bytes");
    }
    let root = tree.root().to_str().unwrap();
    let runs: [(&[&str], i32); 7] = [
        (&["check", root], 1),
        (&["check", "--json", root], 1),
        (&["stats", root], 0),
        (&["stats", "--json", root], 0),
        (&["link", "--dry-run", root], 0),
        (&["link", "--dry-run", "--json", root], 0),
        (&["link", "--json", root], 0),
    ];
    for (args, status) in runs {
        let mut child = brp_pyc().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
    // The real link run went on without its reader.
    assert!(same_inode(
        &tree.path("p/__pycache__/m7.cpython-311.pyc"),
        &tree.path("p/__pycache__/m7.cpython-311.opt-1.pyc")
    ));
}

/// A chain of directories whose path is longer than PATH_MAX (4096), made and inspected with
/// relative names only, as no path to the bottom can be resolved.
#[test]
fn a_tree_deeper_than_path_max_is_linked() {
    let tree = Tree::in_memory();
    let component = "d".repeat(100);
    let depth = 50; // 50 * 101 bytes
    let script = format!(
        "set -e; for i in $(seq {depth}); do mkdir {component}; cd -P {component}; done; mkdir __pycache__; \
         for s in pyc opt-1.pyc opt-2.pyc; do printf 'same bytes' > __pycache__/m.cpython-311.$s; done; echo x > m.py"
    );
    run_ok(Command::new("bash").arg("-c").arg(&script).current_dir(tree.root()));

    let report = tree.link_json(&[]);
    assert_eq!((int(&report, "scanned"), int(&report, "linked"), int(&report, "errors")), (3, 2, 0), "{report}");
    let inodes = format!(
        "set -e; for i in $(seq {depth}); do cd -P {component}; done; stat -c %i __pycache__/m.cpython-311.pyc \
         __pycache__/m.cpython-311.opt-1.pyc __pycache__/m.cpython-311.opt-2.pyc | sort -u | wc -l"
    );
    let out = run_ok(Command::new("bash").arg("-c").arg(&inodes).current_dir(tree.root()));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "the three caches are one inode");
    // Remove it the same way: paths this long cannot be unlinked by name.
    let cleanup = format!("for i in $(seq {depth}); do cd -P {component}; done; rm -r __pycache__ m.py");
    run_ok(Command::new("bash").arg("-c").arg(&cleanup).current_dir(tree.root()));
    run_ok(Command::new("rm").arg("-rf").arg(tree.path(&component)));
}

/// `check` with `RPM_BUILD_ROOT` as rpmbuild sets it for the brp scripts.
fn check_in_build(build_root: Option<&Path>, tree: &Path) -> (i32, Value) {
    let mut cmd = brp_pyc();
    if let Some(root) = build_root {
        cmd.env("RPM_BUILD_ROOT", root);
    }
    let out = cmd.args(["check", "--json"]).arg(tree).output().unwrap();
    (out.status.code().unwrap(), serde_json::from_slice(&out.stdout).unwrap())
}

fn build_root_findings(report: &Value) -> usize {
    report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "build-root").count()
}

/// A tree compiled where it is, as an installed tree is: its caches record their real paths,
/// which is no build root; inside a build, the same bytes do record the build root.
#[test]
fn an_installed_tree_has_no_build_root_findings_and_a_build_root_still_does() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    write_level_matrix(&tree, "usr/lib/python3/dist-packages/m");
    tree.compile("python3", &[0, 1]);
    tree.link_json(&[]);
    let caches = 4 * 2;

    let (code, installed) = check_in_build(None, tree.root());
    assert_eq!((code, build_root_findings(&installed)), (0, 0), "{installed}");
    let (code, elsewhere) = check_in_build(Some(Path::new("/nonexistent/BUILDROOT/x")), tree.root());
    assert_eq!((code, build_root_findings(&elsewhere)), (0, 0), "{elsewhere}");

    let (code, build) = check_in_build(Some(tree.root()), tree.root());
    assert_eq!((code, build_root_findings(&build)), (1, caches), "{build}");
    let below = tree.path("usr/lib/python3");
    let (code, build) = check_in_build(Some(tree.root()), &below);
    assert_eq!((code, build_root_findings(&build)), (1, caches), "a tree below the build root: {build}");

    // Part of the interpreter's own standard library, copied into a scratch tree laid out as
    // installed and compiled there at three levels, as a distribution compiles it where it is
    // installed: made here, so that a machine whose standard library has no caches tests it too.
    let installed = Tree::in_memory();
    let (stdlib, caches) = installed_stdlib_part(&installed, "python3");
    let (code, report) = check_in_build(None, &stdlib);
    assert_eq!(build_root_findings(&report), 0, "{report}");
    assert_eq!(
        report["findings"].as_array().map(Vec::len),
        Some(0),
        "an installed standard library is clean: {report}"
    );
    assert_eq!(code, 0);
    let (code, report) = check_in_build(Some(installed.root()), &stdlib);
    assert_eq!(
        (code, build_root_findings(&report)),
        (1, caches),
        "the same caches inside a build record its root: {report}"
    );
}

/// Copies the packages `json` and `email` of `python`'s standard library into `tree` at the
/// installed path (`usr/lib/pythonX.Y`), compiles them in place at levels 0, 1 and 2 and links
/// them, and returns that directory and the number of caches.
fn installed_stdlib_part(tree: &Tree, python: &str) -> (std::path::PathBuf, usize) {
    let query = "import sysconfig; print(sysconfig.get_paths()['stdlib'])";
    let out = run_ok(Command::new(python).args(["-c", query]));
    let source = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let stdlib = tree.root().join(source.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&stdlib).unwrap();
    for package in ["json", "email"] {
        run_ok(Command::new("cp").arg("-r").arg(source.join(package)).arg(&stdlib));
        let _ = std::fs::remove_dir_all(stdlib.join(package).join("__pycache__"));
    }
    run_ok(Command::new(python).args(["-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2"]).arg(&stdlib));
    run_ok(brp_pyc().arg("link").arg(&stdlib));
    let caches = files_below(&stdlib).iter().filter(|p| p.extension().is_some_and(|e| e == "pyc")).count();
    assert!(caches >= 3 * 20, "json and email have dozens of modules: {caches} caches");
    (stdlib, caches)
}

/// Paths that are not UTF-8 come back exactly, as bytes next to the text.
#[test]
fn json_keeps_non_utf8_paths_exactly() {
    let tree = Tree::in_memory();
    let root = tree.path(b"r\xe9");
    let cache = b"/p\xff/__pycache__/m.cpython-311.pyc";
    let mut on_disk = root.as_os_str().as_bytes().to_vec();
    on_disk.extend_from_slice(cache);
    let on_disk = Path::new(std::ffi::OsStr::from_bytes(&on_disk));
    std::fs::create_dir_all(on_disk.parent().unwrap()).unwrap();
    std::fs::write(on_disk, b"not bytecode").unwrap();

    let bytes = |v: &Value| -> Vec<u8> { v.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect() };
    let (code, check) = audit_json("check", &[&root]);
    assert_eq!(code, 1);
    let findings = check["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for finding in findings {
        assert_eq!(bytes(&finding["path_bytes"]), cache, "{finding}");
        assert!(finding["path"].as_str().unwrap().ends_with("/__pycache__/m.cpython-311.pyc"), "the text stays");
    }
    let (_, stats) = audit_json("stats", &[&root]);
    let item = &stats["items"][0];
    assert_eq!(bytes(&item["path_bytes"]), root.as_os_str().as_bytes(), "{stats}");
    assert!(item["path"].is_string());

    // UTF-8 paths need no second form.
    let plain = Tree::in_memory();
    plain.write("p/__pycache__/m.cpython-311.pyc", b"not bytecode");
    let (_, check) = audit_json("check", &[plain.root()]);
    assert!(check["findings"][0].get("path_bytes").is_none(), "{check}");
}

/// Identical bytes under two cache tags: a planner that merged tags would link them. Real
/// CPython and PyPy caches never share bytes, so only synthetic ones can catch that.
#[test]
fn identical_caches_of_two_tags_are_never_linked() {
    let tree = Tree::in_memory();
    tree.write("p/m.py", "1\n");
    let mut paths = Vec::new();
    for tag in ["cpython-311", "cpython-312", "pypy311"] {
        for suffix in ["pyc", "opt-1.pyc", "opt-2.pyc"] {
            paths.push(tree.write(format!("p/__pycache__/m.{tag}.{suffix}"), "the same bytes for every tag"));
        }
    }
    let report = tree.link_json(&[]);
    assert_eq!((int(&report, "groups"), int(&report, "linked")), (3, 6), "{report}");
    for tag in paths.chunks(3) {
        assert!(same_inode(&tag[0], &tag[1]) && same_inode(&tag[0], &tag[2]));
    }
    for (a, b) in [(0, 3), (0, 6), (3, 6)] {
        assert!(!same_inode(&paths[a], &paths[b]), "{} and {}", paths[a].display(), paths[b].display());
    }
    let (_, stats) = audit_json("stats", &[tree.root()]);
    assert_eq!(int(&stats, "modules"), 3);
    assert_eq!(int(&stats, "linkable_bytes"), 0);
}

/// A test skipped for a missing tool says so where a person sees it: libtest keeps what a
/// passing test prints with `eprintln!` to itself.
#[test]
fn a_skipped_test_says_so_on_the_terminal() {
    if std::env::var_os("BRP_PYC_SKIP_PROBE").is_some() {
        assert!(!have("brp-pyc-no-such-tool"));
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_skipped_test_says_so_on_the_terminal", "--test-threads", "1"])
        .env("BRP_PYC_SKIP_PROBE", "1")
        .env_remove("CI")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped: a_skipped_test_says_so_on_the_terminal: brp-pyc-no-such-tool is not installed"),
        "{stderr}"
    );
}

/// Under `CI=true` no test may skip: a skip fails the test, naming it and why.
#[test]
fn a_test_that_would_skip_fails_in_ci() {
    if std::env::var_os("BRP_PYC_SKIP_PROBE").is_some() {
        skipped("a probe");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_test_that_would_skip_fails_in_ci", "--test-threads", "1"])
        .env("BRP_PYC_SKIP_PROBE", "1")
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a skip under CI=true passed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("a_test_that_would_skip_fails_in_ci would skip in CI: a probe"), "{stdout}");
}

/// A file that only looks like a temporary copy of brp-pyc (a user's, or another run's copy
/// in flight) is never removed; a whole copy of a cache beside it, as a killed run leaves one,
/// is.
#[test]
fn a_file_named_like_a_copy_temporary_is_removed_only_when_it_is_a_copy_of_a_cache() {
    let tree = Tree::in_memory();
    tree.write("p/m.py", "1\n");
    let cache = tree.write("p/__pycache__/m.cpython-311.pyc", "cache bytes");
    tree.write("p/__pycache__/m.cpython-311.opt-1.pyc", "cache bytes");
    let stranger = tree.write("p/__pycache__/.brp-pyc-copy-1-2.tmp", "a user's own file");
    let in_flight = tree.write("p/__pycache__/.brp-pyc-copy-3-4.tmp", "cache by");
    let leftover = tree.path("p/__pycache__/.brp-pyc-copy-5-6.tmp");
    run_ok(Command::new("cp").arg("-p").arg(&cache).arg(&leftover));

    let report = tree.link_json(&[]);
    assert_eq!((int(&report, "linked"), int(&report, "stale_temps_removed")), (1, 1), "{report}");
    assert_eq!(std::fs::read(&stranger).unwrap(), b"a user's own file");
    assert_eq!(std::fs::read(&in_flight).unwrap(), b"cache by");
    assert!(!leftover.exists());
}

/// `split` on a full disk: writing a list (or the spec part) fails with one line and exit 2,
/// and no temporary file is left to keep the disk full. Both places: the lists' directory on
/// a tmpfs of one page, then the spec parts' directory there.
#[test]
fn split_on_a_full_filesystem_leaves_no_temporary() {
    let tree = Tree::new();
    // Enough caches that the main package's list (about 30 KiB) cannot fit in one page.
    for n in 0..150 {
        tree.write(format!("p/module_with_a_long_name_{n}.py"), "x = 1\n");
        tree.write(format!("p/__pycache__/module_with_a_long_name_{n}.cpython-311.pyc"), "cache");
    }
    for full in ["lists", "spec parts"] {
        let Some(tmpfs) = Tmpfs::mount("size=4k") else { return };
        let elsewhere = tempfile::tempdir().unwrap();
        let (lists, parts) = match full {
            "lists" => (tmpfs.path.join("lists"), elsewhere.path().join("parts")),
            _ => (elsewhere.path().join("lists"), tmpfs.path.join("parts")),
        };
        if full == "spec parts" {
            // A spec part larger than the page: one subpackage's %postun names every cache.
            std::fs::create_dir(&parts).unwrap();
            std::fs::write(parts.join("filler"), vec![b'x'; 2048]).unwrap();
        }
        let out = brp_pyc()
            .args(["split", "--output-dir"])
            .arg(&lists)
            .args(["--declare", "python3-p", "--owner-evr", "1-1", "--spec-parts-dir"])
            .arg(&parts)
            .arg(tree.path("p").parent().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{full}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{full}: one line: {stderr}");
        assert!(stderr.contains("No space left on device"), "{full}: {stderr}");
        let left: Vec<PathBuf> = files_below(&tmpfs.path)
            .into_iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert_eq!(left, Vec::<PathBuf>::new(), "{full}: temporary files left on the full disk");
    }
}

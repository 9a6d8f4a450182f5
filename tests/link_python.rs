//! `link` on caches written by real interpreters: CPython's own hardlink test matrix
//! (Lib/test/test_compileall.py), recompilation after linking, and PyPy beside CPython.

mod common;

use std::process::Command;

use common::*;

/// The module of CPython's HardlinkDedupTestsBase.create_code.
fn code(docstring: bool, assertion: bool) -> String {
    let mut lines = Vec::new();
    if docstring {
        lines.push("'''module docstring'''");
    }
    lines.push("x = 1");
    if assertion {
        lines.push("assert x == 1");
    }
    lines.join("\n")
}

const CASES: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

fn name(docstring: bool, assertion: bool) -> String {
    format!("mod_doc{}_assert{}", docstring as u8, assertion as u8)
}

#[test]
fn cpython_matrix_all_three_levels() {
    if !have("python3") {
        return;
    }
    let tree = Tree::new();
    for (d, a) in CASES {
        tree.write(format!("pkg/{}.py", name(d, a)), code(d, a));
    }
    tree.compile("python3", &[0, 1, 2]);
    let tag = cache_tag("python3");
    let before = tree.contents();
    let report = tree.link_json(&[]);
    assert_eq!(report["scanned"], 12);
    assert_eq!(report["groups"], 4);
    assert_eq!(report["errors"], 0);
    // Same bytes under every name: linking changes storage, never content.
    assert_eq!(tree.contents(), before);
    for (docstring, assertion) in CASES {
        let pycs = caches(&tree, &format!("pkg/{}", name(docstring, assertion)), &tag);
        // The expectations of CPython's check_hardlinks.
        assert_eq!(same_inode(&pycs[0], &pycs[1]), !assertion, "{docstring} {assertion}");
        assert_eq!(same_inode(&pycs[0], &pycs[2]), !assertion && !docstring, "{docstring} {assertion}");
        assert_eq!(same_inode(&pycs[1], &pycs[2]), !docstring, "{docstring} {assertion}");
        assert_linked_iff_identical(&pycs);
    }
    // Links made: 2 (plain) + 1 (assert: 1/2) + 1 (docstring: 0/1) + 0.
    assert_eq!(report["linked"], 4);
}

#[test]
fn cpython_matrix_two_levels() {
    if !have("python3") {
        return;
    }
    let tag = cache_tag("python3");
    for levels in [[0u8, 1], [1, 2], [0, 2]] {
        let tree = Tree::new();
        for (d, a) in CASES {
            tree.write(format!("{}.py", name(d, a)), code(d, a));
        }
        tree.compile("python3", &levels);
        let report = tree.link_json(&[]);
        assert_eq!(report["scanned"], 8, "{levels:?}");
        for (docstring, assertion) in CASES {
            let pycs = caches(&tree, &name(docstring, assertion), &tag);
            let (a, b) = (&pycs[levels[0] as usize], &pycs[levels[1] as usize]);
            let expected = match levels {
                [0, 1] => !assertion,
                [1, 2] => !docstring,
                _ => !assertion && !docstring,
            };
            assert_eq!(same_inode(a, b), expected, "{levels:?} docstring={docstring} assertion={assertion}");
            let missing = 3 - levels[0] - levels[1];
            assert!(!pycs[missing as usize].exists(), "no level is invented");
        }
    }
}

#[test]
fn recompiling_level_0_after_linking_breaks_only_its_link() {
    if !have("python3") {
        return;
    }
    let tree = Tree::new();
    let source = tree.write("module.py", "a = 0");
    tree.compile("python3", &[0, 1, 2]);
    tree.link_json(&[]);
    let pycs = caches(&tree, "module", &cache_tag("python3"));
    let inode0 = inode(&pycs[0]);
    assert!(same_inode(&pycs[0], &pycs[1]) && same_inode(&pycs[1], &pycs[2]));
    let old_opt = std::fs::read(&pycs[1]).unwrap();

    std::fs::write(&source, "print(0)").unwrap();
    run_ok(Command::new("python3").args(["-m", "compileall", "-q", "-f", "-o", "0"]).arg(tree.root()));
    assert_ne!(inode(&pycs[0]), inode0, "level 0 was replaced by a new file");
    assert_eq!(inode(&pycs[1]), inode0, "opt-1 kept the old inode");
    assert_eq!(inode(&pycs[2]), inode0, "opt-2 kept the old inode");
    assert_eq!(std::fs::read(&pycs[1]).unwrap(), old_opt, "recompiling level 0 did not write into opt-1");
    assert_ne!(std::fs::read(&pycs[0]).unwrap(), old_opt);
}

#[test]
fn importing_a_changed_source_with_dash_o_rewrites_only_opt_1() {
    if !have("python3") {
        return;
    }
    let tree = Tree::new();
    let source = tree.write("module.py", code(false, false));
    tree.compile("python3", &[0, 1, 2]);
    tree.link_json(&[]);
    let pycs = caches(&tree, "module", &cache_tag("python3"));
    let shared = inode(&pycs[0]);
    assert!(same_inode(&pycs[0], &pycs[2]) && same_inode(&pycs[0], &pycs[1]));

    std::fs::write(&source, "print(0)").unwrap();
    run_ok(
        Command::new("python3")
            .args(["-O", "-c", "import module"])
            .env("PYTHONPATH", tree.root())
            .env_remove("PYTHONDONTWRITEBYTECODE"),
    );
    assert_eq!(inode(&pycs[0]), shared);
    assert_eq!(inode(&pycs[2]), shared);
    assert!(!same_inode(&pycs[1], &pycs[2]));
    assert_ne!(std::fs::read(&pycs[1]).unwrap(), std::fs::read(&pycs[2]).unwrap());
    // And a second link run leaves the rewritten, different opt-1 alone.
    let report = tree.link_json(&[]);
    assert_eq!((report["linked"].as_u64(), report["already_linked"].as_u64()), (Some(0), Some(1)));
}

#[test]
fn pypy_caches_beside_cpython_caches_never_link_across_tags() {
    if !have("python3") || !have("pypy3") {
        return;
    }
    let tree = Tree::new();
    for (d, a) in CASES {
        tree.write(format!("pkg/{}.py", name(d, a)), code(d, a));
    }
    tree.compile("python3", &[0, 1, 2]);
    tree.compile("pypy3", &[0, 1, 2]);
    let (cpython, pypy) = (cache_tag("python3"), cache_tag("pypy3"));
    assert_ne!(cpython, pypy);
    let report = tree.link_json(&[]);
    assert_eq!(report["scanned"], 24);
    assert_eq!(report["groups"], 8, "one group per module and tag");
    let mut linked_pypy = 0;
    for (d, a) in CASES {
        let module = format!("pkg/{}", name(d, a));
        let (c, p) = (caches(&tree, &module, &cpython), caches(&tree, &module, &pypy));
        assert_linked_iff_identical(&c);
        assert_linked_iff_identical(&p);
        for x in &c {
            for y in &p {
                assert!(!same_inode(x, y), "{} and {} cross tags", x.display(), y.display());
            }
        }
        linked_pypy += (same_inode(&p[0], &p[1]) as u32) + (same_inode(&p[1], &p[2]) as u32);
    }
    assert!(linked_pypy > 0, "PyPy's identical levels are linked too");
}

/// A split links its own caches inside the layout's groups and leaves the caches it excludes
/// (another package's) as an unsplit build links them: `compileall --hardlink-dupes` linked
/// every level of both modules; after `split --link --layout 0,1,2 --exclude /usr/lib/py/keep`,
/// keep's caches are still one file, the split module's three.
#[test]
fn a_split_keeps_the_links_of_the_caches_it_leaves_to_others() {
    let tree = Tree::new();
    for dir in ["usr/lib/py/keep", "usr/lib/py/split"] {
        tree.write(format!("{dir}/m.py"), "X = 1\n");
    }
    let mut compile = Command::new("python3");
    compile.args(["-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes"]);
    run_ok(compile.arg(tree.root()));
    let tag = cache_tag("python3");
    let keep = caches(&tree, "usr/lib/py/keep/m", &tag);
    let split = caches(&tree, "usr/lib/py/split/m", &tag);
    for set in [&keep, &split] {
        assert!(same_inode(&set[0], &set[1]) && same_inode(&set[0], &set[2]), "compileall linked {set:?}");
    }
    let lists = tempfile::tempdir().unwrap();
    run_ok(
        brp_pyc()
            .args(["split", "--link", "--layout", "0,1,2", "--exclude", "/usr/lib/py/keep", "--output-dir"])
            .arg(lists.path())
            .arg("--build-root")
            .arg(tree.root())
            .arg(tree.root()),
    );
    assert!(same_inode(&keep[0], &keep[1]) && same_inode(&keep[0], &keep[2]), "the excluded caches stay linked");
    assert!(!same_inode(&split[0], &split[1]) && !same_inode(&split[1], &split[2]), "the split ones are apart");
    let listed = std::fs::read_to_string(lists.path().join("bytecode-opt-0.files")).unwrap();
    assert!(listed.contains("/split/") && !listed.contains("/keep/"), "{listed}");
}

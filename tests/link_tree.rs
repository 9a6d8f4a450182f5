//! `link` on trees with the shapes a build root really has: odd names, differing modes,
//! existing links, symlinks and directories named like caches, Python 2 pairs, layouts, and
//! the brp rules and exit statuses rpmbuild relies on.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::*;

const TAG: &str = "cpython-311";

/// Writes the three caches of `stem` in `dir/__pycache__` with the given contents.
fn write_caches(tree: &Tree, dir: &str, stem: &[u8], contents: [&[u8]; 3]) -> Vec<PathBuf> {
    let suffixes = [".pyc", ".opt-1.pyc", ".opt-2.pyc"];
    let mut paths = Vec::new();
    for (suffix, content) in suffixes.iter().zip(contents) {
        let mut rel = format!("{dir}/__pycache__/").into_bytes();
        rel.extend_from_slice(stem);
        rel.extend_from_slice(format!(".{TAG}{suffix}").as_bytes());
        paths.push(tree.write(&rel, content));
    }
    paths
}

#[test]
fn odd_module_names_are_linked_as_bytes() {
    if !have("python3") {
        return;
    }
    let tree = Tree::new();
    let stems: [&[u8]; 12] = [
        b"we ird",
        b"new\nline",
        b"back\\slash",
        b"per%cent",
        b"[br]*?{x}",
        b"quo\"te",
        b"bang!",
        b"caf\xe9",
        b"-dash",
        b"a.b.c",
        b"tab\there",
        b"it's",
    ];
    for stem in stems {
        let mut rel = b"pkg/".to_vec();
        rel.extend_from_slice(stem);
        rel.extend_from_slice(b".py");
        tree.write(&rel, "x = 1\n");
    }
    tree.compile("python3", &[0, 1, 2]);
    let tag = cache_tag("python3");
    let before = tree.contents();
    let report = tree.link_json(&[]);
    assert_eq!(report["scanned"], 36);
    assert_eq!(report["groups"], 12);
    assert_eq!(report["linked"], 24, "every module's three identical levels become one inode");
    assert_eq!(tree.contents(), before);
    for stem in stems {
        let cache = |suffix: &str| {
            let mut name = stem.to_vec();
            name.extend_from_slice(format!(".{tag}{suffix}").as_bytes());
            tree.root().join("pkg/__pycache__").join(OsStr::from_bytes(&name))
        };
        let (c0, c1, c2) = (cache(".pyc"), cache(".opt-1.pyc"), cache(".opt-2.pyc"));
        assert!(same_inode(&c0, &c1) && same_inode(&c0, &c2), "{}", String::from_utf8_lossy(stem));
    }
}

#[test]
fn maximal_partition_without_level_0_and_across_a_differing_middle() {
    let tree = Tree::new();
    // opt-only module: 1 and 2 identical, no level 0 at all.
    let only = tree.write(format!("p/__pycache__/only.{TAG}.opt-1.pyc"), "same");
    let only2 = tree.write(format!("p/__pycache__/only.{TAG}.opt-2.pyc"), "same");
    // 0 and 2 identical, 1 different.
    let mid = write_caches(&tree, "p", b"mid", [b"A", b"B", b"A"]);
    let report = tree.link_json(&[]);
    assert_eq!(report["linked"], 2);
    assert!(same_inode(&only, &only2));
    assert!(same_inode(&mid[0], &mid[2]) && !same_inode(&mid[0], &mid[1]));
}

#[test]
fn the_lowest_level_is_kept() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    let level0 = inode(&paths[0]);
    tree.link_json(&[]);
    assert!(paths.iter().all(|p| inode(p) == level0), "every level now is level 0's inode");
}

#[test]
fn differing_mode_or_owner_is_never_linked() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    std::fs::set_permissions(&paths[1], std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = tree.link_json(&[]);
    assert_eq!((report["linked"].as_u64(), report["identical_not_linked"].as_u64()), (Some(1), Some(1)));
    assert!(same_inode(&paths[0], &paths[2]));
    assert!(!same_inode(&paths[0], &paths[1]));
    assert_eq!(std::fs::metadata(&paths[1]).unwrap().permissions().mode() & 0o777, 0o600);
    if is_root() {
        let other = write_caches(&tree, "q", b"m", [b"y", b"y", b"y"]);
        std::os::unix::fs::chown(&other[2], Some(1), None).unwrap();
        tree.link_json(&[]);
        assert!(same_inode(&other[0], &other[1]) && !same_inode(&other[0], &other[2]));
    }
}

#[test]
fn pre_linked_files_cost_nothing_and_join_the_set() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    std::fs::remove_file(&paths[2]).unwrap();
    std::fs::hard_link(&paths[1], &paths[2]).unwrap();
    let report = tree.link_json(&[]);
    assert_eq!(report["linked"], 2);
    assert_eq!(report["bytes_saved"], 1, "the old 1/2 inode is freed once");
    assert!(same_inode(&paths[0], &paths[1]) && same_inode(&paths[0], &paths[2]));
}

#[test]
fn second_run_links_nothing_and_changes_no_inode() {
    let tree = Tree::new();
    write_caches(&tree, "p", b"a", [b"x", b"x", b"y"]);
    write_caches(&tree, "p/q", b"b", [b"1", b"2", b"2"]);
    let first = tree.link_json(&[]);
    assert_eq!(first["linked"], 2);
    let inodes = tree.inodes();
    let second = tree.link_json(&[]);
    assert_eq!(second["linked"], 0);
    assert_eq!(second["bytes_saved"], 0);
    assert_eq!(second["already_linked"], 2);
    assert_eq!(tree.inodes(), inodes);
}

#[test]
fn symlinks_and_directories_named_like_caches_stay_as_they_are() {
    let tree = Tree::new();
    let real = tree.write(format!("p/__pycache__/m.{TAG}.pyc"), "x");
    let link = tree.path(format!("p/__pycache__/m.{TAG}.opt-1.pyc"));
    std::os::unix::fs::symlink(format!("m.{TAG}.pyc"), &link).unwrap();
    let dir = tree.path(format!("p/__pycache__/m.{TAG}.opt-2.pyc"));
    std::fs::create_dir(&dir).unwrap();
    // A symlink to a directory holding caches is not followed either.
    let elsewhere = Tree::new();
    let outside = write_caches(&elsewhere, "o", b"m", [b"z", b"z", b"z"]);
    std::os::unix::fs::symlink(elsewhere.root(), tree.path("p/linkdir")).unwrap();
    let report = tree.link_json(&[]);
    assert_eq!(report["scanned"], 1);
    assert_eq!(report["non_regular"], 2);
    assert_eq!(report["linked"], 0);
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(format!("m.{TAG}.pyc")));
    assert!(std::fs::symlink_metadata(&dir).unwrap().is_dir());
    assert!(std::fs::symlink_metadata(&real).unwrap().is_file());
    assert!(!same_inode(&outside[0], &outside[1]), "nothing outside the tree was touched");
}

#[test]
fn python2_pyc_and_pyo_pairs_are_linked() {
    let tree = Tree::new();
    tree.write("lib/same.py", "x = 1");
    let (c, o) = (tree.write("lib/same.pyc", "py2 bytes"), tree.write("lib/same.pyo", "py2 bytes"));
    tree.write("lib/diff.py", "assert 1");
    let (dc, d_o) = (tree.write("lib/diff.pyc", "with assert"), tree.write("lib/diff.pyo", "without"));
    let report = tree.link_json(&[]);
    assert_eq!(report["scanned"], 4);
    assert_eq!(report["linked"], 1);
    assert!(same_inode(&c, &o));
    assert!(!same_inode(&dc, &d_o));
}

#[test]
fn layouts_never_link_across_groups() {
    for (layout, expect01, expect12) in
        [("0,1,2", false, false), ("0,12", false, true), ("01,2", true, false), ("012", true, true)]
    {
        let tree = Tree::new();
        let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
        tree.link_json(&["--layout", layout]);
        assert_eq!(same_inode(&paths[0], &paths[1]), expect01, "{layout}");
        assert_eq!(same_inode(&paths[1], &paths[2]), expect12, "{layout}");
    }
}

#[test]
fn dry_run_changes_nothing_and_says_what_it_would_do() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"we ird", [b"x", b"x", b"y"]);
    let inodes = tree.inodes();
    let out = run_ok(brp_pyc().args(["link", "--dry-run"]).arg(tree.root()));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(tree.inodes(), inodes);
    let first = stdout.lines().next().unwrap();
    assert!(first.starts_with("would link '"), "{stdout}");
    assert!(first.contains(&*paths[1].to_string_lossy()) && first.contains(&*paths[0].to_string_lossy()), "{stdout}");
    assert!(stdout.contains("would link 1"), "{stdout}");
    let json = tree.link_json(&["--dry-run"]);
    assert_eq!((json["linked"].as_u64(), json["dry_run"].as_bool()), (Some(1), Some(true)));
    assert_eq!(tree.inodes(), inodes);
}

#[test]
fn brp_rules_for_the_build_root() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    // Unset or /: change nothing, succeed, even with caches in the working directory.
    for value in [None, Some("/"), Some("//"), Some("")] {
        let mut cmd = brp_pyc();
        cmd.arg("link").current_dir(tree.root());
        if let Some(v) = value {
            cmd.env("RPM_BUILD_ROOT", v);
        }
        let out = run_ok(&mut cmd);
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
        assert!(!same_inode(&paths[0], &paths[1]), "{value:?} must change nothing");
    }
    run_ok(brp_pyc().arg("link").env("RPM_BUILD_ROOT", tree.root()));
    assert!(same_inode(&paths[0], &paths[1]) && same_inode(&paths[0], &paths[2]));
}

#[test]
fn bad_input_is_one_line_naming_it_with_status_2_and_nothing_touched() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    let file = tree.write("plain-file", "");
    let missing = tree.path("missing dir");
    for bad in [&missing, &file] {
        // The good root comes first: it must not be touched either.
        let out = brp_pyc().arg("link").arg(tree.root()).arg(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&*bad.file_name().unwrap().to_string_lossy()), "{stderr}");
        assert!(!same_inode(&paths[0], &paths[1]));
    }
    for args in [&["link", "--layout", "0,0"][..], &["link", "--no-such-option"], &["frobnicate"]] {
        let out = brp_pyc().args(args).arg(tree.root()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    assert!(!same_inode(&paths[0], &paths[1]));
}

#[test]
fn stale_temporary_links_of_a_killed_run_are_removed() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    let temp = tree.path("p/__pycache__/.brp-pyc-4242-7.tmp");
    std::fs::hard_link(&paths[0], &temp).unwrap();
    let lookalike = tree.write("p/__pycache__/.brp-pyc-1-1.tmp", "not a link: not ours");
    let report = tree.link_json(&[]);
    assert_eq!(report["stale_temps_removed"], 1);
    assert!(!temp.exists());
    assert!(lookalike.exists());
    assert!(same_inode(&paths[0], &paths[2]));
}

#[test]
fn links_made_across_layout_groups_are_separated() {
    for (layout, expect01, expect12, separated) in
        [("0,12", false, true, 1), ("0,1,2", false, false, 1), ("01,2", true, false, 0)]
    {
        let tree = Tree::new();
        // 0 and 1 linked before the layout was known (compileall --hardlink-dupes does that),
        // 2 holds the same bytes.
        let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
        std::fs::set_permissions(&paths[1], std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::set_permissions(&paths[2], std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::set_permissions(&paths[0], std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::remove_file(&paths[1]).unwrap();
        std::fs::hard_link(&paths[0], &paths[1]).unwrap();
        let before = tree.contents();
        let dry = tree.link_json(&["--dry-run", "--layout", layout]);
        assert_eq!(dry["separated"], separated, "{layout}");
        assert!(same_inode(&paths[0], &paths[1]), "--dry-run changes nothing");
        let report = tree.link_json(&["--layout", layout]);
        assert_eq!(report["separated"], separated, "{layout}");
        assert_eq!(same_inode(&paths[0], &paths[1]), expect01, "{layout}");
        assert_eq!(same_inode(&paths[1], &paths[2]), expect12, "{layout}");
        assert!(!same_inode(&paths[0], &paths[2]), "{layout}");
        assert_eq!(tree.contents(), before, "{layout}: same bytes under every name");
        for path in &paths {
            assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o640, "{layout}: mode kept");
        }
        let again = tree.link_json(&["--layout", layout]);
        assert_eq!((again["separated"].as_u64(), again["linked"].as_u64()), (Some(0), Some(0)), "{layout}: idempotent");
    }
}

/// Three levels that are one inode, under a layout of three groups: both higher levels get an
/// inode of their own, although separating the first changes the ctime of the inode the second
/// still shares (the re-check must know its own changes from a stranger's).
#[test]
fn one_inode_across_three_groups_is_separated_twice() {
    let tree = Tree::new();
    let paths = write_caches(&tree, "p", b"m", [b"x", b"x", b"x"]);
    for path in &paths[1..] {
        std::fs::remove_file(path).unwrap();
        std::fs::hard_link(&paths[0], path).unwrap();
    }
    let report = tree.link_json(&["--layout", "0,1,2"]);
    assert_eq!((report["separated"].as_u64(), report["errors"].as_u64()), (Some(2), Some(0)), "{report}");
    assert!(
        !same_inode(&paths[0], &paths[1]) && !same_inode(&paths[1], &paths[2]) && !same_inode(&paths[0], &paths[2])
    );
}

//! `brp-pyc stats` against real packages: built by rpmbuild (caches left apart, and linked
//! by `brp-pyc link` inside %install) and by the rpm crate's builder, checked against counts
//! made from the extracted payload and against the same files as a directory. Also bad input,
//! and a fuzz of the package reader (headers, and payload entries against header sizes) and
//! the cache-name parser.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::Value;

use common::*;

const SITE: &str = "/usr/lib/python3/dist-packages";

/// A spec for package `name` that installs the sources of `src` (always as module `m`, so
/// that the caches of two packages record the same paths), compiles them at levels 0, 1 and 2
/// as %py_byte_compile would (paths recorded as installed), then runs `after`.
fn spec(name: &str, src: &Path, after: &str) -> String {
    format!(
        "Name: {name}\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
         %description\nt\n\
         %install\n\
         mkdir -p %{{buildroot}}{SITE}/m\n\
         cp -a {src}/. %{{buildroot}}{SITE}/m/\n\
         python3 -m compileall -q -o 0 -o 1 -o 2 -s %{{buildroot}} -p / %{{buildroot}}{SITE}\n\
         {after}\n\
         %files\n{SITE}/m\n",
        src = src.display()
    )
}

fn sources() -> Tree {
    let src = Tree::in_memory();
    write_level_matrix(&src, "");
    write_level_matrix(&src, "sub");
    src.write("data.txt", "not python\n");
    src
}

fn int(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

/// The figures that must not depend on whether the files come as a tree or a package.
fn figures(v: &Value) -> Value {
    let keys = [
        "caches",
        "cache_bytes",
        "linked_bytes",
        "linkable_bytes",
        "modules",
        "sources",
        "bytes",
        "identical",
        "layouts",
    ];
    keys.iter().map(|k| (k.to_string(), v[k].clone())).collect::<serde_json::Map<_, _>>().into()
}

#[test]
fn rpmbuild_packages_report_what_their_payload_shows() {
    if !have("rpmbuild") || !have("rpm2cpio") || !have("cpio") || !have("python3") {
        return;
    }
    let src = sources();
    let top = Tree::in_memory();
    let link = format!("{} link %{{buildroot}}", env!("CARGO_BIN_EXE_brp-pyc"));
    let apart = rpmbuild_spec(&top.path("apart"), &spec("apart", src.root(), ""));
    let linked = rpmbuild_spec(&top.path("linked"), &spec("linked", src.root(), &link));
    let (apart, linked) = (&apart[0], &linked[0]);
    // rpm 6 writes v6 packages, whose file sizes are in LONGFILESIZES only: the figures below
    // then come from those, compared with the extracted payload.
    let version = String::from_utf8(run_ok(std::process::Command::new("rpm").arg("--version")).stdout).unwrap();
    if version
        .split_whitespace()
        .last()
        .is_some_and(|v| v.split('.').next().and_then(|m| m.parse::<u32>().ok()) >= Some(6))
    {
        let qf = "%{RPMFORMAT}|[%{FILESIZES}]|[%{LONGFILESIZES}]";
        let out = run_ok(std::process::Command::new("rpm").args(["-qp", "--qf", qf]).arg(apart)).stdout;
        let fields: Vec<String> = String::from_utf8(out).unwrap().split('|').map(str::to_string).collect();
        assert_eq!((fields[0].as_str(), fields[1].as_str()), ("6", ""), "a v6 package without FILESIZES: {fields:?}");
        assert!(!fields[2].is_empty());
        eprintln!("{}: v6 packages, sizes from LONGFILESIZES", version.trim());
    }

    let (code, a) = audit_json("stats", &[apart]);
    assert_eq!(code, 0);
    let apart_tree = extract_payload(apart);
    let (linkable, already) = cache_link_bytes(apart_tree.root());
    assert!(linkable > 0, "the level matrix has identical caches");
    assert_eq!(int(&a, "linkable_bytes"), linkable);
    assert_eq!(int(&a, "linked_bytes"), already);
    let pyc_count = files_below(apart_tree.root()).iter().filter(|p| p.extension().is_some_and(|e| e == "pyc")).count();
    assert_eq!(int(&a, "caches"), pyc_count as u64);
    // The extracted payload as a directory gives the same figures as the package.
    let (_, as_tree) = audit_json("stats", &[apart_tree.root()]);
    assert_eq!(figures(&as_tree), figures(&a));

    let (code, l) = audit_json("stats", &[linked]);
    assert_eq!(code, 0);
    let linked_tree = extract_payload(linked);
    assert_eq!(int(&l, "linkable_bytes"), 0);
    assert_eq!(cache_link_bytes(linked_tree.root()), (0, int(&l, "linked_bytes")));
    assert_eq!(int(&l, "linked_bytes"), linkable, "linking saves what was linkable");
    assert_eq!(int(&l["layouts"], "shipped"), int(&a["layouts"], "all_linked"));
    assert_eq!(l["identical"], a["identical"]);
    let (_, as_tree) = audit_json("stats", &[linked_tree.root()]);
    assert_eq!(figures(&as_tree), figures(&l));

    // Both at once: a row each, totals that add up.
    let (_, both) = audit_json("stats", &[apart, linked]);
    assert_eq!(both["items"].as_array().unwrap().len(), 2);
    for key in ["caches", "cache_bytes", "linked_bytes", "linkable_bytes"] {
        assert_eq!(int(&both, key), int(&a, key) + int(&l, key), "{key}");
    }
}

/// Builds a package of every file below `root` with the rpm crate (hardlinks found from the
/// files' inodes) and writes it into `dir`.
fn build_with_rpm_crate(root: &Path, name: &str, dir: &Path) -> PathBuf {
    let mut builder = rpm::PackageBuilder::new(name, "1", "MIT", "noarch", "test package");
    for path in files_below(root) {
        let installed = Path::new("/").join(path.strip_prefix(root).unwrap());
        builder.with_file(&path, rpm::FileOptions::new(installed.to_str().unwrap())).unwrap();
    }
    let package = builder.build().unwrap();
    let out = dir.join(format!("{name}-1-1.noarch.rpm"));
    package.write_file(&out).unwrap();
    out
}

#[test]
fn rpm_crate_packages_and_their_trees_give_the_same_figures() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    write_level_matrix(&tree, "usr/lib/python3/dist-packages/m");
    tree.write("usr/share/doc/m/README", "readme\n");
    tree.compile("python3", &[0, 1, 2]);
    let repo = Tree::in_memory();
    let apart = build_with_rpm_crate(tree.root(), "apart", repo.root());
    let (_, tree_apart) = audit_json("stats", &[tree.root()]);
    let (code, pkg_apart) = audit_json("stats", &[&apart]);
    assert_eq!(code, 0);
    assert_eq!(figures(&pkg_apart), figures(&tree_apart));
    assert!(int(&pkg_apart, "linkable_bytes") > 0);

    tree.link_json(&[]);
    let linked = build_with_rpm_crate(tree.root(), "linked", repo.root());
    let (_, tree_linked) = audit_json("stats", &[tree.root()]);
    let (_, pkg_linked) = audit_json("stats", &[&linked]);
    assert_eq!(figures(&pkg_linked), figures(&tree_linked));
    assert_eq!(int(&pkg_linked, "linkable_bytes"), 0);
    assert_eq!(int(&pkg_linked, "linked_bytes"), int(&pkg_apart, "linkable_bytes"));
    if have("rpm2cpio") && have("cpio") {
        let extracted = extract_payload(&apart);
        assert_eq!(cache_link_bytes(extracted.root()).0, int(&pkg_apart, "linkable_bytes"));
    }

    // A repository directory: one row per package, totals that are the sum of the rows.
    let (code, all) = audit_json("stats", &[repo.root()]);
    assert_eq!(code, 0);
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["kind"] == "package"));
    for key in ["caches", "cache_bytes", "linked_bytes", "linkable_bytes", "modules"] {
        assert_eq!(int(&all, key), items.iter().map(|i| int(i, key)).sum::<u64>(), "{key}");
    }
}

/// A repository of `n` packages built with the rpm crate: package i has i modules (caches at
/// levels 0, 1 and 2), the first none.
fn repository(n: usize) -> Tree {
    let repo = Tree::in_memory();
    for i in 0..n {
        let tree = Tree::in_memory();
        tree.write("usr/share/doc/p/README", "readme\n");
        for m in 0..i {
            let dir = "usr/lib/python3/dist-packages/p";
            tree.write(format!("{dir}/m{m}.py"), format!("X = {m}\n").repeat(m + 1));
            for suffix in ["", ".opt-1", ".opt-2"] {
                let code = format!("code {m}{}", if suffix == ".opt-2" { " 2" } else { "" });
                tree.write(format!("{dir}/__pycache__/m{m}.cpython-311{suffix}.pyc"), code.repeat(m + 1));
            }
        }
        build_with_rpm_crate(tree.root(), &format!("p{i}"), repo.root());
    }
    repo
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8(out.to_vec()).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn json_lines_give_the_rows_of_json_then_a_summary() {
    let repo = repository(13);
    let (code, whole) = audit_json("stats", &[repo.root()]);
    assert_eq!(code, 0);
    let out = brp_pyc().args(["stats", "--json-lines"]).arg(repo.root()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out.stdout);
    let (summary, items) = lines.split_last().unwrap();
    assert_eq!(items.len(), 13);
    // Each item line is the --json row with a record type; the same rows in the same order.
    for (line, row) in items.iter().zip(whole["items"].as_array().unwrap()) {
        let mut line = line.clone();
        assert_eq!(line.as_object_mut().unwrap().remove("record").unwrap(), "item");
        assert_eq!(&line, row);
    }
    assert_eq!(summary["record"], "summary");
    assert_eq!(figures(summary), figures(&whole));
    assert_eq!(summary["layout_change_percent"], whole["layout_change_percent"]);
    assert_eq!((int(summary, "items"), int(summary, "items_with_caches"), int(summary, "errors")), (13, 12, 0));
    let layouts = &whole["layouts"];
    let saved = summary["layout_savings"]["opt_0_only"].as_i64().unwrap();
    assert_eq!(saved, int(layouts, "all_linked") as i64 - int(layouts, "opt_0_only") as i64);
    assert!(saved > 0);
    // The ten largest by bytes of caches: the packages with the most modules, largest first.
    let largest: Vec<&str> =
        summary["largest"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    let expected: Vec<String> = (3..13).rev().map(|i| format!("p{i}-1-1.noarch.rpm")).collect();
    assert_eq!(largest, expected);

    // An item that cannot be read: an error line in its place with --keep-going, exit 2.
    repo.write("p5-1-1.noarch.rpm", b"\xed\xab\xee\xdbtruncated");
    let out = brp_pyc().args(["stats", "--json-lines", "--keep-going"]).arg(repo.root()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 14);
    // In path order p0, p1, p10, p11, p12, p2, ... p5 is the ninth.
    assert_eq!(lines[8]["record"], "error");
    assert!(lines[8]["error"].as_str().unwrap().contains("p5-1-1.noarch.rpm"));
    assert_eq!(lines[7]["name"], "p4-1-1.noarch.rpm");
    assert_eq!((int(&lines[13], "items"), int(&lines[13], "errors")), (12, 1));
}

#[test]
fn the_progress_line_shows_only_on_a_terminal_and_never_with_json() {
    let repo = repository(3);
    // Off a terminal (here a pipe), standard error stays empty.
    for flag in [None, Some("--json"), Some("--json-lines")] {
        let out = brp_pyc().arg("stats").args(flag).arg(repo.root()).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stderr.is_empty(), "{flag:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    if !have("script") {
        return;
    }
    // On a terminal (script(1) gives the command a pseudo-terminal), the line is drawn, then
    // cleared before the report; with --json it is not drawn at all.
    let on_terminal = |flag: &str| {
        let command = format!("{} stats {flag} {}", env!("CARGO_BIN_EXE_brp-pyc"), repo.root().display());
        // A terminal has a TERM; without one (or with TERM=dumb) nothing is drawn.
        let out =
            run_ok(std::process::Command::new("script").args(["-qec", &command, "/dev/null"]).env("TERM", "xterm"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal("");
    assert!(shown.contains("items read") || shown.contains("listing"), "{shown}");
    assert!(
        shown.find("TOTAL").unwrap() > shown.rfind("\x1b[2K").unwrap(),
        "the line is cleared before the report: {shown}"
    );
    assert!(shown.contains("TOTAL (3 items)"), "{shown}");
    let json = on_terminal("--json");
    assert!(!json.contains("items read") && !json.contains("listing"), "{json}");
}

/// Installed sizes of the layouts of an unlinked tree, counted from the files on disk without
/// brp-pyc: caches of one module are the files of one directory whose names agree once the
/// `.opt-N` part is dropped; a group of levels shipped together costs one copy per distinct
/// content. Returns (all levels linked, level 0 only, levels 0 and 1 linked, split, no caches,
/// levels 0 and 1 split).
fn layout_sizes_on_disk(root: &Path) -> [u64; 6] {
    /// (directory, cache name without `.opt-N`) -> (level, bytes) of each cache.
    type Modules = std::collections::BTreeMap<(PathBuf, String), Vec<(u8, Vec<u8>)>>;
    let mut others = 0;
    let mut modules = Modules::new();
    for path in files_below(root) {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let content = std::fs::read(&path).unwrap();
        if !name.ends_with(".pyc") {
            others += content.len() as u64;
            continue;
        }
        let level = if name.ends_with(".opt-1.pyc") {
            1
        } else if name.ends_with(".opt-2.pyc") {
            2
        } else {
            0
        };
        let module = name.replace(".opt-1.pyc", ".pyc").replace(".opt-2.pyc", ".pyc");
        modules.entry((path.parent().unwrap().to_path_buf(), module)).or_default().push((level, content));
    }
    let distinct = |levels: &[u8]| -> u64 {
        let mut total = 0;
        for caches in modules.values() {
            let contents: std::collections::BTreeSet<&Vec<u8>> =
                caches.iter().filter(|(l, _)| levels.contains(l)).map(|(_, c)| c).collect();
            total += contents.iter().map(|c| c.len() as u64).sum::<u64>();
        }
        total
    };
    let every = |levels: &[u8]| -> u64 {
        modules.values().flatten().filter(|(l, _)| levels.contains(l)).map(|(_, c)| c.len() as u64).sum()
    };
    [
        others + distinct(&[0, 1, 2]),
        others + distinct(&[0]),
        others + distinct(&[0, 1]),
        others + every(&[0, 1, 2]),
        others,
        others + every(&[0, 1]),
    ]
}

/// Fedora compiles levels 0 and 1 only: a layout with level 2 is then not projected (as if
/// level 2 cost nothing), in the table or in JSON, and the other layouts still are; once level
/// 2 is compiled, it is, and matches the files on disk.
#[test]
fn a_layout_needing_a_level_no_cache_has_is_not_projected() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    write_level_matrix(&tree, "usr/lib/python3/dist-packages/m");
    tree.compile("python3", &[0, 1]);
    let [_, opt_0, levels_0_1, _, _, split_0_1] = layout_sizes_on_disk(tree.root());
    let (code, report) = audit_json("stats", &[tree.root()]);
    assert_eq!(code, 0);
    let modules = int(&report, "modules");
    assert_eq!(
        report["missing_levels"],
        serde_json::json!({"level_0": 0, "level_1": 0, "level_2": modules}),
        "{report}"
    );
    let layouts = &report["layouts"];
    assert!(layouts["split_0_1_2"].is_null(), "{layouts}");
    for reference in ["against_shipped", "against_all_linked"] {
        assert!(report["layout_change_percent"][reference]["split_0_1_2"].is_null(), "{report}");
        assert!(report["items"][0]["layout_change_percent"][reference]["split_0_1_2"].is_null(), "{report}");
    }
    assert!(report["items"][0]["layouts"]["split_0_1_2"].is_null());
    assert_eq!(
        (int(layouts, "opt_0_only"), int(layouts, "levels_0_1"), int(layouts, "split_0_1")),
        (opt_0, levels_0_1, split_0_1)
    );
    let text = String::from_utf8(run_ok(brp_pyc().arg("stats").arg(tree.root())).stdout).unwrap();
    let row = text.lines().find(|l| l.starts_with("split 0,1,2")).unwrap();
    assert_eq!(row.split_whitespace().skip(5).collect::<Vec<_>>(), ["n/a"], "{text}");
    assert!(text.contains(&format!("(n/a: {modules} of {modules} modules have no level 2 cache")), "{text}");

    tree.compile("python3", &[2]);
    let split = layout_sizes_on_disk(tree.root())[3];
    let (_, report) = audit_json("stats", &[tree.root()]);
    assert_eq!(int(&report["layouts"], "split_0_1_2"), split, "{report}");
    assert_eq!(int(&report["missing_levels"], "level_2"), 0);
    let text = String::from_utf8(run_ok(brp_pyc().arg("stats").arg(tree.root())).stdout).unwrap();
    assert!(!text.contains("n/a"), "{text}");
}

#[test]
fn layouts_against_the_status_quo_match_sizes_on_disk() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    write_level_matrix(&tree, "usr/lib/python3/dist-packages/m");
    write_level_matrix(&tree, "usr/lib/python3/dist-packages/m/sub");
    tree.write("usr/share/doc/m/README", "readme\n".repeat(50));
    tree.compile("python3", &[0, 1, 2]);
    let [all_linked, opt_0, levels_0_1, split, no_caches, split_0_1] = layout_sizes_on_disk(tree.root());
    assert!(
        all_linked < split && opt_0 < levels_0_1 && levels_0_1 < split_0_1 && no_caches < opt_0,
        "the level matrix tells the layouts apart"
    );
    let expected = |size: u64| (size as f64 - all_linked as f64) * 100.0 / all_linked as f64;
    let keys = [
        ("all_linked", all_linked),
        ("opt_0_only", opt_0),
        ("levels_0_1", levels_0_1),
        ("split_0_1_2", split),
        ("no_caches", no_caches),
        ("split_0_1", split_0_1),
    ];

    let (code, unlinked) = audit_json("stats", &[tree.root()]);
    assert_eq!(code, 0);
    let percent =
        |report: &Value, reference: &str, key: &str| report["layout_change_percent"][reference][key].as_f64().unwrap();
    for (key, size) in keys {
        assert!((percent(&unlinked, "against_all_linked", key) - expected(size)).abs() < 1e-9, "{key}: {unlinked}");
        let against_shipped = (size as f64 - split as f64) * 100.0 / split as f64;
        assert!((percent(&unlinked, "against_shipped", key) - against_shipped).abs() < 1e-9, "{key}: {unlinked}");
        // The row of the one item carries the same figures as the total.
        assert_eq!(
            unlinked["items"][0]["layout_change_percent"]["against_all_linked"][key],
            unlinked["layout_change_percent"]["against_all_linked"][key]
        );
    }
    let out = run_ok(brp_pyc().arg("stats").arg(tree.root()));
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().find(|l| l.starts_with("level 0 only")).unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.ends_with(&format!("{:+.2} %", expected(opt_0))),
        "last column against all levels linked: {row}\n{text}"
    );

    // Once the tree is linked, what it ships is the status quo: the two references agree, and
    // the one that is the status quo did not move.
    tree.link_json(&[]);
    let distinct_inodes: u64 = {
        let mut seen = std::collections::BTreeSet::new();
        files_below(tree.root())
            .iter()
            .filter(|p| seen.insert(inode(p)))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    assert_eq!(distinct_inodes, all_linked, "linking stores what the layout counted");
    let (_, linked) = audit_json("stats", &[tree.root()]);
    for (key, size) in keys {
        assert!((percent(&linked, "against_all_linked", key) - expected(size)).abs() < 1e-9, "{key}: {linked}");
        assert!((percent(&linked, "against_shipped", key) - expected(size)).abs() < 1e-9, "{key}: {linked}");
    }
}

#[test]
fn human_output_is_an_aligned_table_with_units() {
    let tree = Tree::in_memory();
    tree.write("p/__pycache__/m.cpython-311.pyc", vec![b'x'; 3000]);
    tree.write("p/__pycache__/m.cpython-311.opt-1.pyc", vec![b'x'; 3000]);
    tree.write("p/m.py", "x = 1\n");
    let out = run_ok(brp_pyc().arg("stats").arg(tree.root()));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ITEM") && lines[0].contains("LINKABLE"), "{text}");
    assert_eq!(lines[0].len(), lines[1].len(), "columns aligned:\n{text}");
    assert!(lines[1].ends_with("2.9 KiB"), "the linkable column shows 3000 bytes in KiB:\n{text}");
    assert!(text.contains("level 0 only"), "{text}");
}

#[test]
fn bad_input_is_one_line_naming_it_and_exit_2() {
    let dir = Tree::in_memory();
    let good_tree = Tree::in_memory();
    good_tree.write("m.py", "x = 1\n");
    let good = build_with_rpm_crate(good_tree.root(), "good", dir.root());
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.write("truncated.rpm", &bytes[..bytes.len() - 10]);
    let header_only = dir.write("header-only.rpm", &bytes[..bytes.len() / 2]);
    let garbage = dir.write("garbage.rpm", b"\xed\xab\xee\xdb and then nothing that makes sense");
    let missing = dir.path("missing.rpm");
    for bad in [&truncated, &header_only, &garbage, &missing] {
        for sub in ["stats", "check"] {
            let out = brp_pyc().arg(sub).arg(&good).arg(bad).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{sub} {}", bad.display());
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(stderr.contains(bad.file_name().unwrap().to_str().unwrap()), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    // --keep-going: the good package still gets its row, the bad one an error row.
    let out = brp_pyc().args(["stats", "--json", "--keep-going"]).arg(&good).arg(&truncated).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["items"].as_array().unwrap().len(), 1);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].as_str().unwrap().contains("truncated.rpm"));

    // A directory that cannot be read (root reads everything, so as nobody then).
    if is_root() && !have("setpriv") {
        return;
    }
    let locked = dir.path("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    std::fs::set_permissions(dir.root(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = unprivileged_brp_pyc().arg("stats").arg(dir.root()).output().unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));
}

/// Where one header of a package is: its intro, index and data (offsets into the file).
#[derive(Clone, Copy, Debug)]
struct HeaderSpan {
    intro: usize,
    entries: usize,
    data: usize,
    data_len: usize,
}

impl HeaderSpan {
    fn entry(&self, n: usize) -> usize {
        self.intro + 16 + 16 * n
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn put32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// The signature header and the main header of a well-formed package.
fn header_spans(bytes: &[u8]) -> [HeaderSpan; 2] {
    let span = |intro: usize| {
        let (entries, data_len) = (be32(bytes, intro + 8) as usize, be32(bytes, intro + 12) as usize);
        HeaderSpan { intro, entries, data: intro + 16 + 16 * entries, data_len }
    };
    let signature = span(96);
    let main = span((signature.data + signature.data_len).next_multiple_of(8));
    [signature, main]
}

/// Gives the entry with `tag` in `header` (or, when there is none, the header's first entry,
/// retagged) the type INT64 or INT32, one value, and that value: what a crafted package claims.
fn set_number(bytes: &mut [u8], header: HeaderSpan, tag: u32, wide: bool, value: u64) {
    let n = (0..header.entries).find(|&n| be32(bytes, header.entry(n)) == tag).unwrap_or(0);
    let at = header.entry(n);
    // Where the value goes: inside the seed's data, aligned, whatever the entry says now.
    let offset = (be32(bytes, at + 8) as usize).min(header.data_len.saturating_sub(8)) & !7;
    put32(bytes, at, tag);
    put32(bytes, at + 4, if wide { 5 } else { 4 });
    put32(bytes, at + 8, offset as u32);
    put32(bytes, at + 12, 1);
    let data = header.data + offset;
    if wide {
        bytes[data..data + 8].copy_from_slice(&value.to_be_bytes());
    } else {
        put32(bytes, data, value as u32);
    }
}

const RPMSIGTAG_LONGSIZE: u32 = 270;

#[test]
fn a_signature_header_claiming_a_huge_size_is_refused_naming_the_package() {
    let (seed, _) = seed_package();
    let dir = Tree::in_memory();
    for size in [u64::MAX, u64::MAX - 95] {
        let mut bytes = seed.clone();
        set_number(&mut bytes, header_spans(seed)[0], RPMSIGTAG_LONGSIZE, true, size);
        let package = dir.write("huge.rpm", &bytes);
        for sub in ["stats", "check"] {
            let out = brp_pyc().arg(sub).arg(&package).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{sub}, size {size}: {stderr}");
            assert_eq!(
                stderr.trim_end(),
                format!(
                    "brp-pyc: error: {}: corrupt signature header (records a size of {size} bytes)",
                    package.display()
                ),
            );
        }
    }
}

/// A structural change to a package, of the kind a bit flip rarely makes: a header's counts,
/// an index entry's fields, or the number a size or count entry holds.
#[derive(Clone, Debug)]
enum Mutation {
    /// Sets the entry count (`data_len` false) or the data length of a header's intro.
    Intro { main: bool, data_len: bool, value: u32 },
    /// Sets field 0 (tag), 1 (type), 2 (offset) or 3 (count) of an index entry.
    EntryField { main: bool, entry: prop::sample::Index, field: usize, value: u32 },
    /// Gives a size, count or inode entry a crafted value.
    Number { main: bool, tag: u32, wide: bool, value: u64 },
}

fn edge_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        prop::sample::select(vec![
            0u32,
            1,
            2,
            3,
            4,
            5,
            7,
            8,
            9,
            15,
            16,
            17,
            0xffff,
            0x1_0000,
            0x0fff_ffff,
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX - 1,
            u32::MAX
        ]),
        any::<u32>(),
    ]
}

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => prop::sample::select(vec![0u64, 1, 96, u32::MAX as u64, 1 << 32, 1 << 50, (1 << 50) + 1, 1 << 63, u64::MAX - 95, u64::MAX]),
        1 => any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Signature: SIZE, LONGSIZE, PAYLOADSIZE. Header: FILESIZES, FILEMODES, FILEINODES,
    // FILEDEVICES, DIRINDEXES, LONGFILESIZES, LONGSIZE, FILEFLAGS, FILEMTIMES, and the string
    // arrays BASENAMES, DIRNAMES, FILEDIGESTS, FILELINKTOS, FILEUSERNAME given a number type.
    let signature_tags = vec![1000u32, 270, 1007];
    let header_tags = vec![1028u32, 1030, 1096, 1095, 1116, 5008, 5009, 1037, 1034, 1117, 1118, 1035, 1036, 1039];
    prop_oneof![
        1 => (any::<bool>(), any::<bool>(), edge_u32()).prop_map(|(main, data_len, value)| Mutation::Intro { main, data_len, value }),
        1 => (any::<bool>(), any::<prop::sample::Index>(), 0..4usize, edge_u32())
            .prop_map(|(main, entry, field, value)| Mutation::EntryField { main, entry, field, value }),
        2 => (prop::sample::select(signature_tags), any::<bool>(), edge_u64())
            .prop_map(|(tag, wide, value)| Mutation::Number { main: false, tag, wide, value }),
        2 => (prop::sample::select(header_tags), any::<bool>(), edge_u64())
            .prop_map(|(tag, wide, value)| Mutation::Number { main: true, tag, wide, value }),
    ]
}

/// Applies a mutation where the seed's headers are (`spans`), whatever earlier ones changed.
fn apply_mutation(bytes: &mut [u8], spans: [HeaderSpan; 2], mutation: &Mutation) {
    match mutation {
        Mutation::Intro { main, data_len, value } => {
            let header = spans[*main as usize];
            put32(bytes, header.intro + if *data_len { 12 } else { 8 }, *value);
        }
        Mutation::EntryField { main, entry, field, value } => {
            let header = spans[*main as usize];
            put32(bytes, header.entry(entry.index(header.entries)) + 4 * field, *value);
        }
        Mutation::Number { main, tag, wide, value } => set_number(bytes, spans[*main as usize], *tag, *wide, *value),
    }
}

/// Reads a package with the library as `stats` and `check` do; errors must name the file, and
/// nothing may panic (also outside the reader's own guard) or overflow.
fn read_like_the_commands(path: &Path, paths: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let before = PANICS.load(Ordering::SeqCst);
    let inventory = brp_pyc::audit::package::inventory(path);
    let wanted = paths.iter().cloned().collect();
    let payload = brp_pyc::audit::payload::read_payload_files(path, &wanted, |_, _| Ok(()));
    for e in [inventory.as_ref().err(), payload.as_ref().err()].into_iter().flatten() {
        prop_assert!(e.to_string().contains(path.to_str().unwrap()), "error names the file: {}", e);
    }
    if let Ok(inventory) = inventory {
        let stats = brp_pyc::audit::analysis::analyse(&inventory).stats;
        let layouts = &stats.layouts;
        prop_assert!(stats.linkable_bytes <= stats.cache_bytes, "{:?}", stats);
        prop_assert!(
            layouts.all_linked <= layouts.shipped && layouts.opt_0_only.is_none_or(|l| l <= layouts.shipped),
            "{:?}",
            stats
        );
        let checked = brp_pyc::audit::check_run::check(std::slice::from_ref(&inventory));
        for e in &checked.errors {
            prop_assert!(e.to_string().contains(path.to_str().unwrap()), "error names the file: {}", e);
        }
    }
    prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "a panic while reading");
    Ok(())
}

/// Applies the mutations (where the seed's headers are) to `bytes`, a seed package, writes the
/// result to a file and reads it as the commands do; returns the file.
fn mutated_and_read(
    mut bytes: Vec<u8>,
    mutations: &[Mutation],
    paths: &[Vec<u8>],
) -> Result<tempfile::NamedTempFile, TestCaseError> {
    let spans = header_spans(&seed_package().0);
    for mutation in mutations {
        apply_mutation(&mut bytes, spans, mutation);
    }
    let file = tempfile::NamedTempFile::new_in("/dev/shm").or_else(|_| tempfile::NamedTempFile::new()).unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    read_like_the_commands(file.path(), paths)?;
    Ok(file)
}

/// Panics seen anywhere in this process (also those the reader catches): the fuzz demands 0.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// The payload reader against packages as the rpm crate writes them: v4, whose "new ASCII"
/// cpio entries are named by path, and v6, whose stripped entries name their file by its index
/// in the header and take their size from it; each compression. Every wanted file's content
/// comes once per stored copy (a hardlink set's with the member that carries it, the last),
/// and symlinks, directories and %ghost files give none.
#[test]
fn payload_entries_are_found_by_name_in_v4_and_by_index_in_v6() {
    let site = "/usr/lib/python3.11/site-packages/p";
    let expected: Vec<(String, Vec<u8>)> = vec![
        (format!("{site}/__pycache__/m.cpython-311.opt-2.pyc"), b"\xa7\x0d\x0d\x0a level 2".to_vec()),
        // The last member of the set {.pyc, .opt-1.pyc} in the header's (path) order.
        (format!("{site}/__pycache__/m.cpython-311.pyc"), b"\xa7\x0d\x0d\x0a levels 0 and 1".to_vec()),
        (format!("{site}/m.py"), b"x = 1\n".to_vec()),
    ];
    let compressions =
        [rpm::CompressionType::None, rpm::CompressionType::Gzip, rpm::CompressionType::Zstd, rpm::CompressionType::Xz];
    let repo = Tree::in_memory();
    for (format, config) in [("v4", rpm::BuildConfig::v4()), ("v6", rpm::BuildConfig::v6())] {
        for compression in compressions {
            let mut builder = rpm::PackageBuilder::new("p", "1", "MIT", "noarch", "t");
            builder.using_config(config.compression(compression));
            let shared = b"\xa7\x0d\x0d\x0a levels 0 and 1".to_vec();
            let cache = |suffix: &str| format!("{site}/__pycache__/m.cpython-311{suffix}.pyc");
            builder.with_file_contents(shared.clone(), rpm::FileOptions::new(cache("")).hardlink("m")).unwrap();
            builder.with_file_contents(shared, rpm::FileOptions::new(cache(".opt-1")).hardlink("m")).unwrap();
            builder
                .with_file_contents(b"\xa7\x0d\x0d\x0a level 2".to_vec(), rpm::FileOptions::new(cache(".opt-2")))
                .unwrap();
            builder.with_file_contents("x = 1\n", rpm::FileOptions::new(format!("{site}/m.py"))).unwrap();
            builder.with_symlink(rpm::FileOptions::symlink(format!("{site}/n.py"), "m.py")).unwrap();
            builder.with_dir_entry(rpm::FileOptions::dir(format!("{site}/data"))).unwrap();
            builder.with_ghost(rpm::FileOptions::ghost(cache(".opt-3"))).unwrap();
            // More files than a linear search could pass unnoticed, none of them wanted.
            for i in 0..300 {
                builder
                    .with_file_contents(format!("{i}\n"), rpm::FileOptions::new(format!("{site}/data/f{i:03}.txt")))
                    .unwrap();
            }
            let path = repo.root().join(format!("p-{format}-{compression}.rpm"));
            builder.build().unwrap().write_file(&path).unwrap();
            if compression == rpm::CompressionType::None {
                // Stripped entries in v6 only (both end with a "new ASCII" trailer).
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(bytes.windows(6).any(|w| w == b"07070X"), format == "v6", "{format}");
            }

            let mut wanted: std::collections::HashSet<Vec<u8>> =
                ["", ".opt-1", ".opt-2", ".opt-3"].iter().map(|s| cache(s).into_bytes()).collect();
            wanted.extend(
                [format!("{site}/m.py"), format!("{site}/n.py"), format!("{site}/data")].map(String::into_bytes),
            );
            let mut got = Vec::new();
            brp_pyc::audit::payload::read_payload_files(&path, &wanted, |path, content| {
                let mut bytes = Vec::new();
                content.read_to_end(&mut bytes)?;
                got.push((String::from_utf8(path.to_vec()).unwrap(), bytes));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{format} {compression}: {e}"));
            got.sort();
            let mut want = expected.clone();
            want.sort();
            assert_eq!(got, want, "{format} {compression}");
        }
    }
}

/// rpm makes a hardlink set only of files with an inode other than 0 (rpmfilesBuildNLink):
/// the seed's two linked caches given inode 0 are two stored copies, installed apart.
#[test]
fn files_of_inode_0_are_in_no_hardlink_set() {
    let (seed, _) = seed_package();
    let repo = Tree::in_memory();
    let linked = repo.root().join("linked.rpm");
    std::fs::write(&linked, seed).unwrap();
    let mut bytes = seed.clone();
    let (main, _) = rpm_payload::layout(&bytes);
    assert!(rpm_payload::set_numbers(&mut bytes, main, 1096, |_, _| Some(0)), "FILEINODES");
    let apart = repo.root().join("apart.rpm");
    std::fs::write(&apart, &bytes).unwrap();
    let (code, linked) = audit_json("stats", &[&linked]);
    assert_eq!(code, 0);
    let (code, apart) = audit_json("stats", &[&apart]);
    assert_eq!(code, 0);
    let cache = b"\xa7\x0d\x0d\x0a\0\0\0\0abcdefgh-code".len() as u64;
    assert_eq!((int(&linked, "cache_bytes"), int(&linked, "linked_bytes")), (cache, cache));
    assert_eq!((int(&apart, "cache_bytes"), int(&apart, "linked_bytes")), (2 * cache, 0));
}

fn seed_package() -> &'static (Vec<u8>, Vec<Vec<u8>>) {
    static SEED: std::sync::OnceLock<(Vec<u8>, Vec<Vec<u8>>)> = std::sync::OnceLock::new();
    SEED.get_or_init(|| {
        let tree = Tree::in_memory();
        tree.write("p/m.py", "x = 1\n");
        tree.write("p/__pycache__/m.cpython-311.pyc", b"\xa7\x0d\x0d\x0a\0\0\0\0abcdefgh-code");
        std::fs::hard_link(
            tree.path("p/__pycache__/m.cpython-311.pyc"),
            tree.path("p/__pycache__/m.cpython-311.opt-1.pyc"),
        )
        .unwrap();
        let dir = Tree::in_memory();
        let path = build_with_rpm_crate(tree.root(), "seed", dir.root());
        let paths = ["/p/m.py", "/p/__pycache__/m.cpython-311.pyc", "/p/__pycache__/m.cpython-311.opt-1.pyc"];
        (std::fs::read(path).unwrap(), paths.iter().map(|p| p.as_bytes().to_vec()).collect())
    })
}

/// What a payload entry is given: a size near its own (and so near the header's), or one of
/// the sizes where reading in chunks and rounding to cpio's 4-byte padding change.
#[derive(Clone, Debug)]
enum EntryLen {
    Delta(i64),
    Exact(u64),
}

/// A payload entry given other content than the header records, the payload compressed
/// again with one of the compressions rpm writes.
#[derive(Clone, Debug)]
struct PayloadChange {
    entry: prop::sample::Index,
    len: EntryLen,
    fill: u8,
    compression: rpm_payload::Compression,
}

fn payload_change() -> impl Strategy<Value = PayloadChange> {
    let len = prop_oneof![
        (-3i64..=3).prop_map(EntryLen::Delta),
        prop::sample::select(vec![0u64, 1, 3, 4, 15, 16, 17, 4096, 65_535, 65_537, 1 << 20]).prop_map(EntryLen::Exact),
    ];
    (any::<prop::sample::Index>(), len, any::<u8>(), prop::sample::select(rpm_payload::Compression::ALL.to_vec()))
        .prop_map(|(entry, len, fill, compression)| PayloadChange { entry, len, fill, compression })
}

/// The seed's payload entries: (name, size).
fn seed_entries() -> &'static [(String, u64)] {
    static ENTRIES: std::sync::OnceLock<Vec<(String, u64)>> = std::sync::OnceLock::new();
    ENTRIES.get_or_init(|| rpm_payload::payload_entries(&seed_package().0))
}

/// Uncompressed seed packages as the rpm crate writes them, v4 ("new ASCII" cpio entries) and
/// v6 (stripped entries), with a hardlink set, a symlink, a directory and a %ghost: the cpio
/// stream lies bare in the file, so a mutation of it reaches the payload reader as it is.
/// (package, where its payload starts, the installed paths.)
type BareSeed = (Vec<u8>, usize, Vec<Vec<u8>>);

fn bare_cpio_seeds() -> &'static [BareSeed; 2] {
    static SEEDS: std::sync::OnceLock<[BareSeed; 2]> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let seed = |config: rpm::BuildConfig| {
            let mut builder = rpm::PackageBuilder::new("bare", "1", "MIT", "noarch", "t");
            builder.using_config(config.compression(rpm::CompressionType::None));
            let cache = |suffix: &str| format!("/p/__pycache__/m.cpython-311{suffix}.pyc");
            let code = b"\xa7\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0code".to_vec();
            builder.with_file_contents(code.clone(), rpm::FileOptions::new(cache("")).hardlink("m")).unwrap();
            builder.with_file_contents(code, rpm::FileOptions::new(cache(".opt-1")).hardlink("m")).unwrap();
            builder.with_file_contents("x = 1\n", rpm::FileOptions::new("/p/m.py")).unwrap();
            builder.with_symlink(rpm::FileOptions::symlink("/p/n.py", "m.py")).unwrap();
            builder.with_dir_entry(rpm::FileOptions::dir("/p/data")).unwrap();
            builder.with_ghost(rpm::FileOptions::ghost(cache(".opt-2"))).unwrap();
            let mut bytes = Vec::new();
            builder.build().unwrap().write(&mut bytes).unwrap();
            let payload = rpm_payload::layout(&bytes).1;
            let paths = ["", ".opt-1", ".opt-2"]
                .iter()
                .map(|s| cache(s).into_bytes())
                .chain([b"/p/m.py".to_vec(), b"/p/n.py".to_vec()]);
            (bytes, payload, paths.collect())
        };
        [seed(rpm::BuildConfig::v4()), seed(rpm::BuildConfig::v6())]
    })
}

/// What the payload reader handed on: (path, content), in payload order.
type ReadFiles = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads `bytes` as a package with the payload reader, handing on `paths`: the panics seen
/// before, the result (its one-line message, which must name the package, named PACKAGE) and
/// what was read.
fn read_bare(bytes: &[u8], paths: &[Vec<u8>]) -> (usize, Result<(), String>, ReadFiles) {
    let file = tempfile::NamedTempFile::new_in("/dev/shm").or_else(|_| tempfile::NamedTempFile::new()).unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let before = PANICS.load(Ordering::SeqCst);
    let wanted = paths.iter().cloned().collect();
    let mut read = Vec::new();
    let result = brp_pyc::audit::payload::read_payload_files(file.path(), &wanted, |path, content| {
        let mut bytes = Vec::new();
        content.read_to_end(&mut bytes)?;
        read.push((path.to_vec(), bytes));
        Ok(())
    });
    let result = result.map_err(|e| {
        let message = e.to_string();
        assert!(message.contains(file.path().to_str().unwrap()), "the package is named: {message}");
        message.replace(file.path().to_str().unwrap(), "PACKAGE")
    });
    (before, result, read)
}

/// Where the cpio entries of a bare payload start (their magic numbers), the trailer's included.
fn cpio_entries(payload: &[u8]) -> Vec<usize> {
    (0..payload.len().saturating_sub(5))
        .filter(|&at| matches!(&payload[at..at + 6], b"070701" | b"070702" | b"07070X"))
        .collect()
}

/// A change to one cpio entry header: one of its 8-digit hex fields (for a stripped entry the
/// only one is the file index) given a crafted value, or its magic number another.
#[derive(Clone, Debug)]
enum CpioChange {
    Field { entry: prop::sample::Index, field: prop::sample::Index, value: CpioValue },
    Magic { entry: prop::sample::Index, magic: &'static [u8; 6] },
}

/// What a field is given: the edges of sizes, counts and the name length, or no hex at all.
#[derive(Clone, Debug)]
enum CpioValue {
    Number(u32),
    Delta(i64),
    Text(&'static [u8; 8]),
}

fn cpio_change() -> impl Strategy<Value = CpioChange> {
    let value = prop_oneof![
        prop::sample::select(vec![
            0u32,
            1,
            2,
            3,
            4,
            5,
            15,
            16,
            17,
            4095,
            4096,
            4097,
            65_536,
            0x7fff_ffff,
            u32::MAX - 1,
            u32::MAX
        ])
        .prop_map(CpioValue::Number),
        (-5i64..=5).prop_map(CpioValue::Delta),
        prop::sample::select(vec![b"zzzzzzzz", b"+0000001", b"-0000001", b"0000000 ", b" 0000001", b"0x000001"])
            .prop_map(CpioValue::Text),
    ];
    let field = (any::<prop::sample::Index>(), any::<prop::sample::Index>(), value)
        .prop_map(|(entry, field, value)| CpioChange::Field { entry, field, value });
    let magic = (
        any::<prop::sample::Index>(),
        prop::sample::select(vec![b"070701", b"070702", b"07070X", b"070707", b"000000"]),
    )
        .prop_map(|(entry, magic)| CpioChange::Magic { entry, magic });
    prop_oneof![3 => field, 1 => magic]
}

fn apply_cpio_change(payload: &mut [u8], change: &CpioChange) {
    let entries = cpio_entries(payload);
    match change {
        CpioChange::Magic { entry, magic } => {
            let at = entries[entry.index(entries.len())];
            payload[at..at + 6].copy_from_slice(*magic);
        }
        CpioChange::Field { entry, field, value } => {
            let at = entries[entry.index(entries.len())];
            let fields = if &payload[at..at + 6] == b"07070X" { 1 } else { 13 };
            let start = at + 6 + 8 * field.index(fields);
            let digits = &mut payload[start..start + 8];
            let old = u32::from_str_radix(std::str::from_utf8(digits).unwrap_or("0"), 16).unwrap_or(0);
            let new = match value {
                CpioValue::Number(n) => format!("{n:08x}").into_bytes(),
                CpioValue::Delta(d) => {
                    format!("{:08x}", (i64::from(old) + d).clamp(0, i64::from(u32::MAX))).into_bytes()
                }
                CpioValue::Text(text) => text.to_vec(),
            };
            digits.copy_from_slice(&new);
        }
    }
}

proptest! {
    // PROPTEST_CASES sets the number of cases (256 by default).
    #[test]
    fn package_reader_never_panics_on_corrupt_packages(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        count_panics();
        let (seed, paths) = seed_package();
        let mut bytes = seed.clone();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        mutated_and_read(bytes, &[], paths)?;
    }

    /// The same reader against changes to the structure: counts, offsets, types and sizes,
    /// which random bytes hardly ever hit in a way the reader's checks let through.
    #[test]
    fn package_reader_refuses_crafted_headers_cleanly(mutations in proptest::collection::vec(mutation(), 1..4)) {
        count_panics();
        let (seed, paths) = seed_package();
        mutated_and_read(seed.clone(), &mutations, paths)?;
    }

    /// Payload entries against header sizes: an entry given more or fewer bytes than the
    /// header records (gzip, zstd or xz), alone or with crafted headers. Alone, a changed
    /// size is always the one-line error naming the entry, an unchanged one never an error.
    #[test]
    fn payload_entry_sizes_are_held_to_the_header_sizes(
        change in payload_change(),
        mutations in proptest::collection::vec(mutation(), 0..3),
    ) {
        count_panics();
        let (seed, paths) = seed_package();
        let entries = seed_entries();
        let target = change.entry.index(entries.len());
        let (name, original) = &entries[target];
        let len = match change.len {
            EntryLen::Delta(delta) => original.saturating_add_signed(delta),
            EntryLen::Exact(len) => len,
        };
        let content = rpm_payload::NewContent { len, fill: change.fill };
        let bytes = rpm_payload::rewrite(seed, change.compression, &mut |at, _, _| (at == target).then_some(content));
        let file = mutated_and_read(bytes, &mutations, paths)?;
        if mutations.is_empty() {
            let wanted = paths.iter().cloned().collect();
            let read = brp_pyc::audit::payload::read_payload_files(file.path(), &wanted, |_, _| Ok(()));
            if len == *original {
                prop_assert!(read.is_ok(), "{:?}", read);
            } else {
                let error = read.expect_err("a changed entry size is an error").to_string();
                let installed = name.trim_start_matches('.');
                prop_assert!(error.contains("corrupt payload: the entry of") && error.contains(installed), "{}", error);
                prop_assert_eq!(error.lines().count(), 1);
            }
        }
    }

    /// The payload reader against crafted cpio entry headers, v4 and v6: sizes, name lengths,
    /// file indexes and magic numbers at their edges or not hex, and payloads cut anywhere.
    /// Never a panic; a changed entry is either read as it was or a one-line error naming the
    /// package; an unchanged payload is read whole.
    #[test]
    fn payload_reader_refuses_crafted_cpio_entries_cleanly(
        v6 in any::<bool>(),
        changes in proptest::collection::vec(cpio_change(), 0..3),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        count_panics();
        let (seed, payload_start, paths) = &bare_cpio_seeds()[usize::from(v6)];
        let mut bytes = seed.clone();
        for change in &changes {
            apply_cpio_change(&mut bytes[*payload_start..], change);
        }
        if let Some(cut) = &cut {
            bytes.truncate(payload_start + cut.index(bytes.len() - payload_start));
        }
        let (before, result, read) = read_bare(&bytes, paths);
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "a panic while reading");
        match result {
            Err(message) => prop_assert_eq!(message.lines().count(), 1, "{}", message),
            Ok(()) if changes.is_empty() && cut.is_none() => {
                // The caches' one stored copy (with its last member, the .pyc) and the source.
                prop_assert_eq!(read.len(), 2, "{:?}", read);
            }
            Ok(()) => {}
        }
        // A crafted size never hands on more bytes than the package holds.
        prop_assert!(read.iter().all(|(_, content)| content.len() <= bytes.len()));
    }

    /// Payloads that end early, v4 and v6: the trailer moved before an entry, the entries from
    /// there dropped (what rpm refuses as "cpio: Missing file(s)"), alone or with crafted
    /// entry headers. Never a panic, never more than one line; unchanged otherwise, the
    /// archive is read as it was exactly when it still holds every entry the reader needs (it
    /// stops after the last one), else refused naming the first entry it lacks.
    #[test]
    fn payloads_that_end_early_are_refused_up_to_the_last_entry_needed(
        v6 in any::<bool>(),
        from in any::<prop::sample::Index>(),
        changes in proptest::collection::vec(cpio_change(), 0..2),
    ) {
        count_panics();
        let (seed, payload_start, paths) = &bare_cpio_seeds()[usize::from(v6)];
        let payload = &seed[*payload_start..];
        let entries = cpio_entries(payload);
        let (trailer, kept) = (*entries.last().unwrap(), entries[from.index(entries.len())]);
        let mut cpio = [&payload[..kept], &payload[trailer..]].concat();
        for change in &changes {
            apply_cpio_change(&mut cpio, change);
        }
        // With the signature's sizes made to agree: only the archive is crafted.
        let bytes = rpm_payload::with_compressed_payload(seed, &cpio);
        let (before, result, read) = read_bare(&bytes, paths);
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "a panic while reading");
        if let Err(message) = &result {
            prop_assert_eq!(message.lines().count(), 1, "{}", message);
        }
        if changes.is_empty() {
            // The two entries with content the reader wants (the rpm crate writes entries in
            // the order files were added): the source's, and the caches' stored copy's.
            let at = |content: &[u8]| payload.windows(content.len()).position(|w| w == content).unwrap();
            let holds_all = kept > at(b"x = 1\n").max(at(b"code"));
            match &result {
                Ok(()) => prop_assert!(holds_all && read.len() == 2, "read {:?} from {}", read, kept),
                Err(message) => prop_assert!(!holds_all && message.contains("the archive ends before the entry of /p/"), "{}", message),
            }
        }
    }

    /// A gzip payload in several members (rpm reads them all, as zlib's gzread does), split
    /// anywhere, even inside an entry header: read exactly as the payload of one member.
    #[test]
    fn gzip_payloads_of_several_members_read_as_one(
        splits in proptest::collection::vec(any::<prop::sample::Index>(), 1..5),
    ) {
        count_panics();
        let (seed, paths) = seed_package();
        let archive = rpm_payload::cpio_archive(seed);
        let mut at: Vec<usize> = splits.iter().map(|i| i.index(archive.len() + 1)).collect();
        at.sort_unstable();
        let whole = rpm_payload::with_gzip_members(seed, &archive, &[]);
        let members = rpm_payload::with_gzip_members(seed, &archive, &at);
        let (_, expected, expected_read) = read_bare(&whole, paths);
        let (before, result, read) = read_bare(&members, paths);
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "a panic while reading");
        prop_assert!(expected.is_ok(), "{:?}", expected);
        prop_assert_eq!(result, expected);
        prop_assert_eq!(read, expected_read);
    }

    #[test]
    fn cache_name_parser_round_trips_any_bytes(
        parent in prop_oneof![Just(b"__pycache__".to_vec()), proptest::collection::vec(any::<u8>(), 0..12)],
        name in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'o'), Just(b'p'), Just(b'c'), Just(b'y'), Just(b't'), Just(b'-'), Just(b'1'), any::<u8>()], 0..40),
        suffix in prop_oneof![Just(&b".pyc"[..]), Just(&b".pyo"[..]), Just(&b".opt-1.pyc"[..]), Just(&b".cpython-311.opt-2.pyc"[..]), Just(&b""[..])],
    ) {
        let mut name = name;
        name.extend_from_slice(suffix);
        if let Some(class) = brp_pyc::link::classify::classify(&parent, &name) {
            let rebuilt = brp_pyc::link::classify::cache_file_name(class.scheme, class.stem(&name), class.tag(&name), &class.level);
            prop_assert_eq!(rebuilt, name);
        }
        // The header parser takes any bytes as a cache.
        let _ = brp_pyc::audit::pyc::parse_header(brp_pyc::link::classify::Scheme::Pep3147, b"cpython-311", &parent);
    }
}

/// Not a test: writes the packages that `bench/stats.sh` and `bench/stats-scale.sh` time, when
/// they set `BRP_PYC_BENCH_DIR` (and `BRP_PYC_BENCH_PACKAGES`, default 500). With
/// `BRP_PYC_BENCH_SHAPE=debian` the packages are shaped like a distribution's Python packages
/// (see [`DebianShape`]); otherwise each holds 40 modules of sources and three levels of
/// caches, some identical, half of them linked. Written on all cores, payloads compressed
/// with zstd level 1 (only the headers are read).
#[test]
#[ignore]
fn generate_bench_packages() {
    let Some(dir) = std::env::var_os("BRP_PYC_BENCH_DIR") else { return };
    let count: usize = std::env::var("BRP_PYC_BENCH_PACKAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(500);
    let debian = std::env::var("BRP_PYC_BENCH_SHAPE").is_ok_and(|shape| shape == "debian");
    write_bench_packages(Path::new(&dir), 0..count, debian);
}

/// Writes packages number `range` of the bench shape (Debian's or the uniform one) into `dir`.
fn write_bench_packages(dir: &Path, range: std::ops::Range<usize>, debian: bool) {
    use rayon::prelude::*;
    std::fs::create_dir_all(dir).unwrap();
    range.into_par_iter().for_each(|p| {
        let name = format!("python3-bench{p:05}");
        let mut builder = rpm::PackageBuilder::new(&name, "1", "MIT", "noarch", "bench");
        // One fixed mtime: members of a hardlink set must agree, also across a second boundary.
        let config =
            rpm::BuildConfig::v4().compression(rpm::CompressionWithLevel::Zstd(1)).source_date(1_700_000_000u32);
        builder.using_config(config);
        if debian {
            DebianShape::package(p as u64).add_files(&mut builder, &name);
        } else {
            add_uniform_files(&mut builder, &name, p);
        }
        let package = builder.build().unwrap();
        package.write_file(dir.join(format!("{name}-1-1.noarch.rpm"))).unwrap();
    });
}

/// The exit status and peak resident memory (KiB) of `command` (a run of brp-pyc), from
/// wait4(2) on that one child.
fn peak_rss_and_status(command: &mut std::process::Command) -> (i32, i64) {
    let child = command.stdout(std::process::Stdio::null()).spawn().unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status), "status {status}");
    std::mem::forget(child); // reaped above
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

/// Packages `p{range}` of 200 small files each in `repo`: 50 modules, each with a source and
/// three levels of caches (headers that no Python accepts: each cache is a `check` finding).
fn write_small_packages(repo: &Path, range: std::ops::Range<usize>) {
    use rayon::prelude::*;
    range.into_par_iter().for_each(|p| {
        let mut builder = rpm::PackageBuilder::new(&format!("p{p}"), "1", "MIT", "noarch", "t");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::None));
        let site = format!("/usr/lib/python3.11/site-packages/p{p}");
        for m in 0..50 {
            builder.with_file_contents(format!("x = {m}\n"), rpm::FileOptions::new(format!("{site}/m{m}.py"))).unwrap();
            for suffix in ["", ".opt-1", ".opt-2"] {
                let path = format!("{site}/__pycache__/m{m}.cpython-311{suffix}.pyc");
                builder.with_file_contents(format!("code {m}{suffix}"), rpm::FileOptions::new(path)).unwrap();
            }
        }
        builder.build().unwrap().write_file(repo.join(format!("p{p}-1-1.noarch.rpm"))).unwrap();
    });
}

#[test]
fn memory_does_not_grow_with_the_number_of_packages() {
    // Packages of 200 small files: the inventory costs per file, not per byte. Two workers,
    // whatever the machine: each reads up to ITEMS_AHEAD_PER_WORKER (64) packages ahead, so
    // the first run's 160 packages already fill both windows, as the second run's 400 do
    // (a first run of 40 held fewer packages in flight, and the margin measured that too).
    let repo = Tree::in_memory();
    let peak = |flag: &str| {
        let mut command = brp_pyc();
        command.env("RAYON_NUM_THREADS", "2").args(["stats", flag]).arg(repo.root());
        let (status, peak) = peak_rss_and_status(&mut command);
        assert_eq!(status, 0, "brp-pyc stats {flag}");
        peak
    };
    write_small_packages(repo.root(), 0..160);
    let few = peak("--json-lines");
    // Holding each inventory costs about 60 KiB a package: 14 MiB more for these 240.
    write_small_packages(repo.root(), 160..400);
    // The table and --json set their rows aside (a temporary file past 1 MiB): no output
    // form holds the inventories.
    for flag in ["--json-lines", "--json", "--keep-going"] {
        let many = peak(flag);
        assert!(many < few + 6 * 1024, "{flag}: {many} KiB over 400 packages, {few} KiB over 160");
    }
}

#[test]
fn check_and_together_memory_does_not_grow_with_the_number_of_packages() {
    // `check` and `stats --together` look across packages (a source in another package, a
    // module that several packages install): they keep an index of the packages' sources
    // and modules, a few dozen bytes each, and nothing else per package. Holding the
    // inventories and the findings (150 a package here) costs about 100 KiB a package: 35 MiB
    // more for 360 more packages, where the index costs about 1 MiB.
    let repo = Tree::in_memory();
    write_small_packages(repo.root(), 0..40);
    let runs: [&[&str]; 2] = [&["check", "--json"], &["stats", "--together", "--json"]];
    let peak = |args: &[&str]| {
        // Two workers, as on the smallest machine: each worker's window of items ahead (16
        // items for check) is full over 400 packages and not over 40.
        let mut command = brp_pyc();
        command.env("RAYON_NUM_THREADS", "2").args(args).arg(repo.root());
        let (status, peak) = peak_rss_and_status(&mut command);
        assert!(status == 0 || status == 1, "brp-pyc {args:?}: exit {status}"); // 1: findings
        peak
    };
    let few: Vec<i64> = runs.iter().map(|args| peak(args)).collect();
    write_small_packages(repo.root(), 40..400);
    let peaks: Vec<String> = runs
        .iter()
        .zip(few)
        .map(|(args, few)| (args, few, peak(args)))
        .filter(|(_, few, many)| *many >= few + 6 * 1024)
        .map(|(args, few, many)| format!("{args:?}: {many} KiB over 400 packages, {few} KiB over 40"))
        .collect();
    assert!(peaks.is_empty(), "{peaks:#?}");
}

/// 40 modules, caches of 2,000 to 2,400 bytes, a third with all levels identical, the
/// packages of even number linked (the packages of `bench/stats.sh`).
fn add_uniform_files(builder: &mut rpm::PackageBuilder, name: &str, p: usize) {
    let site = "/usr/lib/python3.11/site-packages";
    for m in 0..40 {
        let source = format!("def f{m}(x):\n    return x + {p}\n").repeat(20);
        builder.with_file_contents(source.clone(), rpm::FileOptions::new(format!("{site}/{name}/m{m}.py"))).unwrap();
        let base = format!("{site}/{name}/__pycache__/m{m}.cpython-311");
        let code = |level: usize| {
            let mut bytes = b"\xa7\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            bytes.extend(source.bytes().cycle().take(2000 + 100 * (m % 3) * level));
            bytes
        };
        let linked = p.is_multiple_of(2);
        for (level, suffix) in [(0, ""), (1, ".opt-1"), (2, ".opt-2")] {
            let mut options = rpm::FileOptions::new(format!("{base}{suffix}.pyc"));
            if linked && (m % 3 == 0 || level > 0) {
                options = options.hardlink(format!("{base}-{}", if m % 3 == 0 { 0 } else { level.min(1) }));
            }
            builder.with_file_contents(code(if m % 3 == 0 { 0 } else { level.min(1) }), options).unwrap();
        }
    }
}

/// Packages drawn from the spread of Debian 12's Python packages: the 35 top-level packages
/// with sources in `/usr/lib/python3/dist-packages` of a Debian 12 machine (1,511 modules,
/// each with its level 0 cache), measured with `os.walk` and `lstat`:
///
/// | percentile | 10 | 25 | 50 | 75 | 90 | 99 |
/// |---|---:|---:|---:|---:|---:|---:|
/// | modules per package | 2 | 5 | 10 | 24 | 85 | 491 |
/// | level 0 cache, bytes | 790 | 2,589 | 6,598 | 15,966 | 33,759 | 130,234 |
/// | cache / source size | 0.85 | 1.06 | 1.33 | 1.65 | 2.04 | |
/// | other files per package | 0 | 0 | 1 | 1 | 4 | 12 |
///
/// Values between percentiles are drawn on straight lines between them (and from the 99th
/// to twice it). Levels 1 and 2, which Debian does not ship, follow CPython 3.11's standard
/// library compiled at three levels (README, numbers): 486 of 637 modules have identical
/// levels 0 and 1, 77 identical levels 1 and 2; a level 2 cache without docstrings is about
/// 15 % smaller. Half the packages are linked (as brp-python-hardlink leaves them), half not.
struct DebianShape {
    seed: u64,
}

impl DebianShape {
    const MODULES: [(f64, f64); 7] =
        [(0.0, 1.0), (0.10, 2.0), (0.25, 5.0), (0.50, 10.0), (0.75, 24.0), (0.90, 85.0), (0.99, 491.0)];
    const CACHE_BYTES: [(f64, f64); 7] = [
        (0.0, 200.0),
        (0.10, 790.0),
        (0.25, 2589.0),
        (0.50, 6598.0),
        (0.75, 15966.0),
        (0.90, 33759.0),
        (0.99, 130234.0),
    ];
    const SOURCE_RATIO: [(f64, f64); 6] =
        [(0.0, 0.6), (0.10, 0.85), (0.25, 1.06), (0.50, 1.33), (0.75, 1.65), (0.90, 2.04)];
    const OTHER_FILES: [(f64, f64); 6] = [(0.0, 0.0), (0.25, 0.0), (0.50, 1.0), (0.75, 1.0), (0.90, 4.0), (0.99, 12.0)];

    fn package(p: u64) -> DebianShape {
        DebianShape { seed: p.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d }
    }

    /// A uniform draw in [0, 1) (splitmix64: the same packages on every machine).
    fn uniform(&mut self) -> f64 {
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / (u64::MAX as f64 + 1.0)
    }

    /// A draw from the spread given by `percentiles`, linear between them, up to twice the last.
    fn draw(&mut self, percentiles: &[(f64, f64)]) -> f64 {
        let u = self.uniform();
        let last = percentiles[percentiles.len() - 1];
        let upper = percentiles.iter().position(|&(q, _)| q > u);
        let ((q0, v0), (q1, v1)) = match upper {
            Some(i) => (percentiles[i - 1], percentiles[i]),
            None => (last, (1.0, last.1 * 2.0)),
        };
        v0 + (v1 - v0) * (u - q0) / (q1 - q0)
    }

    fn add_files(mut self, builder: &mut rpm::PackageBuilder, name: &str) {
        let site = "/usr/lib/python3.11/site-packages";
        let linked = self.uniform() < 0.5;
        let modules = self.draw(&Self::MODULES).round().max(1.0) as usize;
        // Contents repeat a short text: the payload compresses to almost nothing, and each
        // file's digest still differs from every other file's.
        let content = |seed: String, len: usize| {
            let mut bytes = b"\xa7\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
            bytes.extend(seed.bytes().cycle().take(len));
            bytes
        };
        for m in 0..modules {
            let dir = format!("{site}/{name}/{}", if m % 10 == 0 { String::new() } else { format!("sub{}/", m / 10) });
            let cache_len = self.draw(&Self::CACHE_BYTES) as usize;
            let source_len = (cache_len as f64 / self.draw(&Self::SOURCE_RATIO)) as usize;
            builder
                .with_file_contents(
                    content(format!("source {name} {m} "), source_len),
                    rpm::FileOptions::new(format!("{dir}m{m}.py")),
                )
                .unwrap();
            let same_0_1 = self.uniform() < 486.0 / 637.0;
            let same_1_2 = self.uniform() < 77.0 / 637.0;
            let one = if same_0_1 { 0 } else { 1 };
            let two = if same_1_2 { one } else { 2 };
            let lengths = [cache_len, cache_len, cache_len * 85 / 100];
            let base = format!("{dir}__pycache__/m{m}.cpython-311");
            let variants = [0, one, two];
            for (variant, suffix) in variants.into_iter().zip(["", ".opt-1", ".opt-2"]) {
                let mut options = rpm::FileOptions::new(format!("{base}{suffix}.pyc"));
                // Levels with the same bytes are one hardlink set (of two or three members).
                if linked && variants.iter().filter(|&&v| v == variant).count() > 1 {
                    options = options.hardlink(format!("{base}-{variant}"));
                }
                builder
                    .with_file_contents(content(format!("code {name} {m} {variant} "), lengths[variant]), options)
                    .unwrap();
            }
        }
        for f in 0..self.draw(&Self::OTHER_FILES).round() as usize {
            builder
                .with_file_contents(
                    content(format!("data {f}"), 400),
                    rpm::FileOptions::new(format!("{site}/{name}/data{f}.txt")),
                )
                .unwrap();
        }
    }
}

//! `brp-pyc check` on real trees and rpmbuild packages: clean ones pass, and unlinked
//! duplicates, stale caches (source edited after compiling, timestamp and hash based), caches
//! that record the build root and caches without their source are each found; exit 0/1/2.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::*;

/// Compiles every module below `root` at levels 0, 1, 2; `as_installed` records paths as
/// %py_byte_compile does (`-s ROOT -p /`), otherwise the build root path stays in the caches.
fn compile(root: &Path, as_installed: bool, mode: &str) {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2", "--invalidation-mode", mode]);
    if as_installed {
        cmd.arg("-s").arg(root).args(["-p", "/"]);
    }
    run_ok(cmd.arg(root));
}

/// The (kind, path) pairs of a `check --json` report.
fn findings(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["path"].as_str().unwrap().to_string()))
        .collect()
}

fn of_kind(report: &Value, kind: &str) -> BTreeSet<String> {
    findings(report).into_iter().filter(|(k, _)| k == kind).map(|(_, p)| p).collect()
}

/// The installed paths (tree-relative, with a leading slash) of the caches of `module`.
fn cache_paths(tree: &Tree, module: &str) -> BTreeSet<String> {
    let tag = cache_tag("python3");
    caches(tree, module.trim_end_matches(".py"), &tag)
        .iter()
        .map(|p| format!("/{}", p.strip_prefix(tree.root()).unwrap().display()))
        .collect()
}

#[test]
fn trees_clean_and_each_kind_of_problem() {
    if !have("python3") {
        return;
    }
    for mode in ["timestamp", "checked-hash"] {
        let tree = Tree::in_memory();
        let modules = write_level_matrix(&tree, "pkg");
        compile(tree.root(), true, mode);

        // Unlinked duplicates: one finding per link that `link` then makes.
        let (code, before) = audit_json("check", &[tree.root()]);
        assert_eq!(code, 1, "{mode}: {before}");
        let linked = tree.link_json(&[]);
        assert!(linked["linked"].as_u64().unwrap() > 0);
        assert_eq!(of_kind(&before, "not-linked").len() as u64, linked["linked"].as_u64().unwrap());
        assert_eq!(findings(&before).len(), of_kind(&before, "not-linked").len(), "{mode}: nothing else: {before}");

        let (code, clean) = audit_json("check", &[tree.root()]);
        assert_eq!((code, findings(&clean).len()), (0, 0), "{mode}: {clean}");

        // Edit one source after compiling: its caches are stale. For hash-based caches keep
        // size and mtime, so that only the hash can tell.
        let edited = tree.path(&modules[0]);
        let meta = std::fs::metadata(&edited).unwrap();
        let mut text = std::fs::read(&edited).unwrap();
        *text.last_mut().unwrap() = b' ';
        text.push(b'\n');
        if mode == "checked-hash" {
            text.truncate(meta.len() as usize);
        }
        std::fs::write(&edited, &text).unwrap();
        if mode == "checked-hash" {
            std::fs::File::options().write(true).open(&edited).unwrap().set_modified(meta.modified().unwrap()).unwrap();
        }
        let (code, stale) = audit_json("check", &[tree.root()]);
        assert_eq!(code, 1);
        assert_eq!(of_kind(&stale, "stale"), cache_paths(&tree, &modules[0]), "{mode}: {stale}");

        // A source removed: its caches have no source.
        std::fs::remove_file(tree.path(&modules[1])).unwrap();
        let (_, orphans) = audit_json("check", &[tree.root()]);
        assert_eq!(of_kind(&orphans, "no-source"), cache_paths(&tree, &modules[1]));
    }

    // Compiled in the build root without -s/-p: every cache records the build root's path
    // (which only a build tells from a tree installed where it is).
    let tree = Tree::in_memory();
    let modules = write_level_matrix(&tree, "pkg");
    compile(tree.root(), false, "timestamp");
    tree.link_json(&[]);
    let out = brp_pyc().env("RPM_BUILD_ROOT", tree.root()).args(["check", "--json"]).arg(tree.root()).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all: BTreeSet<String> = modules.iter().flat_map(|m| cache_paths(&tree, m)).collect();
    assert_eq!(of_kind(&report, "build-root"), all);
}

#[test]
fn human_output_lists_one_finding_per_line() {
    let tree = Tree::in_memory();
    tree.write("p/__pycache__/m.cpython-311.pyc", b"not a cache at all");
    let out = brp_pyc().arg("check").arg(tree.root()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines.iter().any(|l| l.contains("/p/__pycache__/m.cpython-311.pyc: no-source:")), "{text}");
    assert!(lines.iter().any(|l| l.contains(": bad-header: no bytecode magic number")), "{text}");
}

const SITE: &str = "/usr/lib/python3/dist-packages/m";

/// A package of the level matrix compiled in %install with `compile` (compileall options),
/// then `after` (shell) run on the build root.
fn package(top: &Path, name: &str, compile: &str, after: &str) -> std::path::PathBuf {
    package_with(top, name, "", compile, after)
}

/// The same, with `preamble` (spec lines) before the package's tags.
fn package_with(top: &Path, name: &str, preamble: &str, compile: &str, after: &str) -> std::path::PathBuf {
    let src = Tree::in_memory();
    write_level_matrix(&src, "");
    let spec = format!(
        "{preamble}Name: {name}\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
         %description\nt\n%install\n\
         mkdir -p %{{buildroot}}{SITE}\ncp -a {src}/. %{{buildroot}}{SITE}/\n\
         python3 -m compileall -q -o 0 -o 1 -o 2 {compile} %{{buildroot}}{SITE}\n{after}\n\
         %files\n{SITE}\n",
        src = src.root().display()
    );
    rpmbuild_spec(&top.join(name), &spec).remove(0)
}

#[test]
fn rpmbuild_packages_clean_and_broken() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = Tree::in_memory();
    let link = format!("{} link %{{buildroot}}", env!("CARGO_BIN_EXE_brp-pyc"));
    let installed = "-s %{buildroot} -p /";
    let hashed = "-s %{buildroot} -p / --invalidation-mode checked-hash";
    let clean = package(top.root(), "clean", installed, &link);
    let clean_hashed = package(top.root(), "hashed", hashed, &link);
    let unlinked = package(top.root(), "unlinked", installed, "");
    let stale =
        package(top.root(), "stale", installed, &format!("{link}\necho '# edited' >> %{{buildroot}}{SITE}/plain.py"));
    let stale_hashed =
        package(top.root(), "stalehash", hashed, &format!("{link}\nsed -i s/x/y/ %{{buildroot}}{SITE}/docs.py"));
    let buildroot = package(top.root(), "buildroot", "", &link);

    for pkg in [&clean, &clean_hashed] {
        let (code, report) = audit_json("check", &[pkg]);
        assert_eq!((code, findings(&report).len()), (0, 0), "{}: {report}", pkg.display());
    }
    let (code, report) = audit_json("check", &[&unlinked]);
    assert_eq!(code, 1);
    let expected_duplicates = {
        let extracted = extract_payload(&unlinked);
        let (bytes, _) = cache_link_bytes(extracted.root());
        assert!(bytes > 0);
        let (_, stats) = audit_json("stats", &[&unlinked]);
        assert_eq!(stats["linkable_bytes"].as_u64().unwrap(), bytes);
        report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "not-linked").count()
    };
    assert!(expected_duplicates > 0);
    assert_eq!(findings(&report).len(), expected_duplicates, "{report}");

    for (pkg, module) in [(&stale, "plain"), (&stale_hashed, "docs")] {
        let (code, report) = audit_json("check", &[pkg]);
        assert_eq!(code, 1);
        let stale: BTreeSet<String> = of_kind(&report, "stale");
        assert!(!stale.is_empty() && stale.iter().all(|p| p.contains(&format!("/__pycache__/{module}."))), "{report}");
        assert_eq!(stale.len(), 3, "levels 0, 1, 2 of {module}: {report}");
    }
    let (code, report) = audit_json("check", &[&buildroot]);
    assert_eq!(code, 1);
    let recorded = of_kind(&report, "build-root");
    let total_caches = audit_json("stats", &[&buildroot]).1["caches"].as_u64().unwrap();
    assert_eq!(recorded.len() as u64, total_caches, "{report}");

    // Bad input wins over findings: exit 2.
    let bytes = std::fs::read(&unlinked).unwrap();
    let cut = top.write("cut.rpm", &bytes[..bytes.len() * 3 / 4]);
    let out = brp_pyc().arg("check").arg(&unlinked).arg(&cut).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut.rpm"));
}

/// rpm writes bzip2 and lzma payloads on request; check cannot read them and says so in one
/// line naming the package and the compression, while stats (headers only) still counts.
#[test]
fn payload_compressions_not_read_are_named() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = Tree::in_memory();
    for (payload, compression) in [("w9.bzdio", "bzip2"), ("w9.lzdio", "lzma")] {
        let preamble = format!("%define _binary_payload {payload}\n");
        let pkg = package_with(top.root(), compression, &preamble, "-s %{buildroot} -p /", "");
        let out = brp_pyc().arg("check").arg(&pkg).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(pkg.file_name().unwrap().to_str().unwrap()) && stderr.contains(compression),
            "{stderr}"
        );
        let (code, stats) = audit_json("stats", &[&pkg]);
        assert_eq!(code, 0);
        assert!(stats["caches"].as_u64().unwrap() > 0, "{stats}");
    }
}

/// A module whose source is a symlink (Debian links `sitecustomize.py` into /etc): Python
/// stats and reads the file the link names, so check does too, in a tree and in a package:
/// editing that file makes the caches of every link to it stale. A link whose target is not
/// among the items checked is a source whose staleness cannot be seen: no finding.
#[test]
fn a_symlink_to_a_source_is_that_source() {
    if !have("python3") || !have("rpmbuild") {
        return;
    }
    let links = "mkdir -p etc/p && printf 'x = 1\\n' > etc/p/real.py && \
                 mkdir -p lib/m && ln -s ../../etc/p/real.py lib/m/relative.py && ln -s /etc/p/real.py lib/m/absolute.py && \
                 ln -s relative.py lib/m/chained.py && printf 'y = 2\\n' > lib/m/gone.py";
    let tree = Tree::in_memory();
    run_ok(Command::new("sh").arg("-c").arg(links).current_dir(tree.root()));
    // Absolute links name the installed path: compile through a link that works here.
    std::fs::remove_file(tree.path("lib/m/absolute.py")).unwrap();
    std::os::unix::fs::symlink("../../etc/p/real.py", tree.path("lib/m/absolute.py")).unwrap();
    compile(&tree.path("lib"), true, "timestamp");
    std::fs::remove_file(tree.path("lib/m/absolute.py")).unwrap();
    std::os::unix::fs::symlink("/etc/p/real.py", tree.path("lib/m/absolute.py")).unwrap();
    std::fs::remove_file(tree.path("lib/m/gone.py")).unwrap();
    std::os::unix::fs::symlink("nowhere.py", tree.path("lib/m/gone.py")).unwrap();
    run_ok(brp_pyc().arg("link").arg(tree.root()));
    let (code, report) = audit_json("check", &[tree.root()]);
    assert_eq!((code, findings(&report).len()), (0, 0), "{report}");
    // The target edited: every module linked to it is stale, through one, two links or an
    // absolute one.
    std::fs::write(tree.path("etc/p/real.py"), "x = 1  # edited\n").unwrap();
    let (code, report) = audit_json("check", &[tree.root()]);
    let mut stale = BTreeSet::new();
    for module in ["lib/m/relative.py", "lib/m/absolute.py", "lib/m/chained.py"] {
        stale.extend(cache_paths(&tree, module));
    }
    assert_eq!((code, of_kind(&report, "stale")), (1, stale), "{report}");
    assert_eq!(findings(&report).len(), 9, "{report}");

    // The same in a package (FILELINKTOS), with the gone module left out and the absolute
    // link made after compiling, as for the tree.
    let top = Tree::in_memory();
    let spec = format!(
        "Name: links\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n%description\nt\n%install\n\
         cd %{{buildroot}} && {links} && rm lib/m/gone.py\n\
         python3 -m compileall -q -o 0 -o 1 -o 2 -s %{{buildroot}} -p / %{{buildroot}}/lib\n\
         ln -sfn /etc/p/real.py %{{buildroot}}/lib/m/absolute.py\n\
         {brp_pyc} link %{{buildroot}}\n%files\n/etc/p\n/lib/m\n",
        links = links.replace("ln -s /etc/p/real.py", "ln -s ../../etc/p/real.py"),
        brp_pyc = env!("CARGO_BIN_EXE_brp-pyc")
    );
    let package = rpmbuild_spec(top.root(), &spec).remove(0);
    let listing = run_ok(Command::new("rpm").args(["-qp", "--qf", "[%{FILENAMES} %{FILELINKTOS}\\n]"]).arg(&package));
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains("/lib/m/absolute.py /etc/p/real.py"),
        "a symlink in the package"
    );
    let (code, report) = audit_json("check", &[&package]);
    assert_eq!((code, findings(&report).len()), (0, 0), "{report}");
}

/// Levels compiled in different invalidation modes (compileall under $SOURCE_DATE_EPOCH writes
/// hash-based caches, Fedora's brp step rewrites levels 0 and 1 as timestamp caches): each
/// module is named once, and linking cannot fix it.
#[test]
fn levels_in_different_invalidation_modes_are_named() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    let modules = write_level_matrix(&tree, "pkg");
    let compile_levels = |levels: &[&str], mode: &str| {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "compileall", "-q", "--invalidation-mode", mode, "-s"]).arg(tree.root()).args(["-p", "/"]);
        for level in levels {
            cmd.args(["-o", level]);
        }
        run_ok(cmd.arg(tree.root()));
    };
    compile_levels(&["0", "1"], "timestamp");
    compile_levels(&["2"], "checked-hash");
    tree.link_json(&[]);
    let (code, report) = audit_json("check", &[tree.root()]);
    assert_eq!(code, 1, "{report}");
    let mixed = of_kind(&report, "mixed-invalidation");
    let tag = cache_tag("python3");
    let expected: BTreeSet<String> = modules
        .iter()
        .map(|m| format!("/pkg/__pycache__/{}.{tag}.opt-2.pyc", m.trim_start_matches("pkg/").trim_end_matches(".py")))
        .collect();
    assert_eq!(mixed, expected, "{report}");

    // Compiled in one mode, the same tree has no such finding.
    compile_levels(&["0", "1", "2"], "timestamp");
    tree.link_json(&[]);
    let (code, report) = audit_json("check", &[tree.root()]);
    assert_eq!((code, findings(&report).len()), (0, 0), "{report}");
}

/// A split build: sources in the main package, hash-based caches in a subpackage. Given both,
/// `check` reads each source from the package that has it: clean caches pass, and a source
/// edited after compiling (same size and mtime: only the hash tells) makes its caches stale.
#[test]
fn hash_based_caches_are_verified_against_a_source_in_another_package() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = Tree::in_memory();
    let build = |name: &str, after: &str| {
        let src = Tree::in_memory();
        write_level_matrix(&src, "");
        let spec = format!(
            "Name: {name}\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
             %description\nt\n%package caches\nSummary: c\n%description caches\nc\n%install\n\
             mkdir -p %{{buildroot}}{SITE}\ncp -a {src}/. %{{buildroot}}{SITE}/\n\
             python3 -m compileall -q -o 0 -o 1 -o 2 -s %{{buildroot}} -p / --invalidation-mode checked-hash %{{buildroot}}{SITE}\n\
             {link} link %{{buildroot}}\n{after}\n\
             %files\n{SITE}/*.py\n%files caches\n{SITE}/__pycache__\n",
            src = src.root().display(),
            link = env!("CARGO_BIN_EXE_brp-pyc"),
        );
        rpmbuild_spec(&top.path(name), &spec)
    };
    let clean = build("split", "");
    assert_eq!(clean.len(), 2);
    let (code, report) = audit_json("check", &[&clean[0], &clean[1]]);
    assert_eq!((code, findings(&report).len()), (0, 0), "{report}");

    let stale = build("splitstale", &format!("touch -r %{{buildroot}}{SITE}/docs.py t && sed -i s/x/y/ %{{buildroot}}{SITE}/docs.py && touch -r t %{{buildroot}}{SITE}/docs.py"));
    let (code, report) = audit_json("check", &[&stale[0], &stale[1]]);
    assert_eq!(code, 1, "{report}");
    let stale_paths = of_kind(&report, "stale");
    assert_eq!(stale_paths.len(), 3, "levels 0, 1, 2 of docs: {report}");
    assert!(stale_paths.iter().all(|p| p.contains("/__pycache__/docs.")), "{report}");
}

/// `--layout`: identical caches are a `not-linked` finding only inside one group of the
/// layout, whatever is linked across groups; a level the layout does not name ships in no
/// subpackage and is no duplicate of anything.
#[test]
fn not_linked_follows_the_groups_of_the_layout() {
    if !have("python3") {
        return;
    }
    let tree = Tree::in_memory();
    tree.write("p/m.py", "X = 1\n"); // no assert, no docstring: three identical levels
    compile(tree.root(), true, "timestamp");
    let tag = cache_tag("python3");
    let not_linked = |layout: Option<&str>| {
        let mut cmd = brp_pyc();
        cmd.args(["check", "--json"]);
        if let Some(layout) = layout {
            cmd.args(["--layout", layout]);
        }
        let out = cmd.arg(tree.root()).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let paths = of_kind(&report, "not-linked");
        let names: BTreeSet<String> = paths.iter().map(|p| p.rsplit('/').next().unwrap().to_string()).collect();
        (out.status.code(), names)
    };
    let names = |list: &[&str]| -> BTreeSet<String> { list.iter().map(|s| format!("m.{tag}.{s}")).collect() };
    assert_eq!(not_linked(None), (Some(1), names(&["opt-1.pyc", "opt-2.pyc"])));
    assert_eq!(not_linked(Some("012")), (Some(1), names(&["opt-1.pyc", "opt-2.pyc"])));
    assert_eq!(not_linked(Some("0,12")), (Some(1), names(&["opt-2.pyc"])), "1 and 2 ship together");
    assert_eq!(not_linked(Some("01,2")), (Some(1), names(&["opt-1.pyc"])));
    assert_eq!(not_linked(Some("0,1,2")), (Some(0), names(&[])));
    assert_eq!(not_linked(Some("0,1")), (Some(0), names(&[])), "level 2 ships in no subpackage");
    // Linked as `link --layout 0,12` links: nothing left inside a group.
    tree.link_json(&["--layout", "0,12"]);
    assert_eq!(not_linked(Some("0,12")), (Some(0), names(&[])));
    let bad = brp_pyc().args(["check", "--lists-dir"]).arg(tree.path("nowhere")).arg(tree.root()).output().unwrap();
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert_eq!((bad.status.code(), stderr.lines().count()), (Some(2), 1), "{stderr}");
    assert!(stderr.contains("nowhere/bytecode-layout"), "{stderr}");
}

/// A bytecode subpackage (`OWNER-bytecode-opt-<levels>`) whose owner is not among the packages
/// checked would not install: `check` names it, whether the owner was left out of the run or
/// the subpackage names the wrong owner (a wrong `%py_bytecode_split -n`).
#[test]
fn a_bytecode_subpackage_whose_owner_is_missing_is_named() {
    if !have("rpmbuild") || !have("python3") {
        return;
    }
    let top = Tree::in_memory();
    let src = Tree::in_memory();
    write_level_matrix(&src, "");
    let build = |dir: &str, subpackage: &str| {
        let spec = format!(
            "Name: owner\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
             %description\nt\n%package -n {subpackage}\nSummary: c\n%description -n {subpackage}\nc\n%install\n\
             mkdir -p %{{buildroot}}{SITE}\ncp -a {src}/. %{{buildroot}}{SITE}/\n\
             python3 -m compileall -q -s %{{buildroot}} -p / --invalidation-mode timestamp %{{buildroot}}{SITE}\n\
             %files\n{SITE}/*.py\n%files -n {subpackage}\n{SITE}/__pycache__\n",
            src = src.root().display(),
        );
        rpmbuild_spec(&top.path(dir), &spec)
    };
    let no_owner = |report: &Value| -> Vec<String> {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "no-owner")
            .map(|f| f["detail"].as_str().unwrap().to_string())
            .collect()
    };
    let right = build("right", "owner-bytecode-opt-0");
    assert_eq!(right.len(), 2);
    let (code, report) = audit_json("check", &[&right[0], &right[1]]);
    assert_eq!((code, findings(&report).len()), (0, 0), "the whole build is clean: {report}");
    let subpackage = right.iter().find(|p| p.to_string_lossy().contains("bytecode-opt-0")).unwrap();
    let (code, report) = audit_json("check", &[subpackage]);
    let named = no_owner(&report);
    assert_eq!(code, 1, "{report}");
    assert!(
        named.len() == 1 && named[0].contains("owner-bytecode-opt-0 is a bytecode subpackage of owner,"),
        "{report}"
    );

    let wrong = build("wrong", "python3-owner-bytecode-opt-0");
    let (code, report) = audit_json("check", &[&wrong[0], &wrong[1]]);
    let named = no_owner(&report);
    assert_eq!(code, 1, "{report}");
    assert_eq!(findings(&report).len(), 1, "only that: {report}");
    assert!(named.len() == 1 && named[0].contains("subpackage of python3-owner, which is not among"), "{report}");
}

/// Sources looked up across packages, in a run that reads each package once and keeps only
/// an index of the `.py` paths: a source installed by a later package than its caches, the
/// first of two packages that install one source path, a source behind a symlink that leads
/// out of the `.py` paths (to a file a later package installs), and a source that no package
/// has. The packages are named so that they are read in the order a, b, c, d.
#[test]
fn sources_are_found_in_any_package_the_first_to_install_them_counting() {
    let repo = Tree::in_memory();
    // A timestamp cache (CPython 3.11) recording a source of `mtime` and `size`.
    let cache = |mtime: u32, size: u32| {
        let mut bytes = b"\xa7\x0d\x0d\x0a\0\0\0\0".to_vec();
        bytes.extend(mtime.to_le_bytes());
        bytes.extend(size.to_le_bytes());
        bytes.extend(b"code");
        bytes
    };
    let write = |name: &str, mtime: u32, files: &[(&str, Result<Vec<u8>, &str>)]| {
        let mut builder = rpm::PackageBuilder::new(name, "1", "MIT", "noarch", "t");
        builder.using_config(rpm::BuildConfig::v4().compression(rpm::CompressionType::None).source_date(mtime));
        for (path, content) in files {
            match content {
                Ok(bytes) => builder.with_file_contents(bytes.clone(), rpm::FileOptions::new(*path)).unwrap(),
                Err(target) => builder.with_symlink(rpm::FileOptions::symlink(*path, *target)).unwrap(),
            };
        }
        builder.build().unwrap().write_file(repo.path(format!("{name}-1-1.noarch.rpm"))).unwrap();
    };
    let (t, later) = (1_700_000_000u32, 1_700_000_100u32);
    let pyc = |module: &str| format!("/usr/lib/p/__pycache__/{module}.cpython-311.pyc");
    write(
        "a",
        t,
        &[
            // Its source in c (d installs it too, later: c's counts).
            (&pyc("later"), Ok(cache(t, 6))),
            // A symlink in b to a data file in c.
            (&pyc("linked"), Ok(cache(t, 9))),
            // Recorded against c's data file, which has another mtime.
            (&pyc("linked_stale"), Ok(cache(later, 9))),
            (&pyc("nowhere"), Ok(cache(t, 1))),
        ],
    );
    write(
        "b",
        t,
        &[
            ("/usr/lib/p/linked.py", Err("../../share/p/data")),
            ("/usr/lib/p/linked_stale.py", Err("/usr/share/p/data")),
        ],
    );
    write(
        "c",
        t,
        &[("/usr/lib/p/later.py", Ok(b"x = 1\n".to_vec())), ("/usr/share/p/data", Ok(b"data = 1\n".to_vec()))],
    );
    write("d", later, &[("/usr/lib/p/later.py", Ok(b"x = 22\n".to_vec()))]);
    let (code, report) = audit_json("check", &[repo.root()]);
    let expected: BTreeSet<(String, String)> =
        [("stale", pyc("linked_stale")), ("no-source", pyc("nowhere"))].map(|(k, p)| (k.to_string(), p)).into();
    assert_eq!((code, findings(&report)), (1, expected), "{report}");
    let stale = &report["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "stale").unwrap()["detail"];
    assert_eq!(
        stale,
        &format!("records source mtime {later} and size 9, the source has mtime {t} and size 9: Python ignores and rewrites it")
    );
    // In the other order of reading (d before c), d's source is the one: the cache is stale.
    std::fs::rename(repo.path("d-1-1.noarch.rpm"), repo.path("0d-1-1.noarch.rpm")).unwrap();
    let (_, report) = audit_json("check", &[repo.root()]);
    assert!(of_kind(&report, "stale").contains(&pyc("later")), "{report}");
}

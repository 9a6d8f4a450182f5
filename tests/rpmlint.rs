//! rpmlint 2.x on split bytecode packages: with the filters of `rpm-config/brp-pyc.toml`
//! loaded the way rpmlint finds them once installed (every `*.toml` in `rpmlint/` below an XDG
//! config directory), the split example shows no warning that the same package unsplit does
//! not show too, and a cache without its source in the main package is still reported.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const MACROS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/macros/macros.brp-pyc");
const FILTERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rpm-config/brp-pyc.toml");
const SPLIT_SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python-example-split.spec");
const POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rpm-config/macros.brp-pyc-policy");

/// The interpreter the packages are compiled with.
fn python() -> String {
    let out = run_ok(Command::new("python3").args(["-c", "import sys; print(sys.executable)"]));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Builds the spec text with rpmbuild, the project's macros and the test binary; returns the
/// binary packages.
fn build(topdir: &Path, spec: &str) -> Vec<PathBuf> {
    build_with(topdir, spec, &[], &[])
}

/// [`build`] with more macro files after the project's and more definitions.
fn build_with(topdir: &Path, spec: &str, macro_files: &[&Path], defines: &[(&str, String)]) -> Vec<PathBuf> {
    std::fs::create_dir_all(topdir).unwrap();
    let spec_path = topdir.join("package.spec");
    std::fs::write(&spec_path, spec).unwrap();
    let mut cmd = Command::new("rpmbuild");
    let mut files = vec![Path::new(MACROS)];
    files.extend_from_slice(macro_files);
    cmd.arg("-bb").args(rpm_macros_args(&files));
    let base = [
        ("_topdir", topdir.to_str().unwrap().to_string()),
        ("__brp_pyc", env!("CARGO_BIN_EXE_brp-pyc").to_string()),
        ("__python3", python()),
    ];
    for (name, value) in base.iter().map(|(n, v)| (*n, v)).chain(defines.iter().map(|(n, v)| (*n, v))) {
        cmd.arg("--define").arg(format!("{name} {value}"));
    }
    run_ok(cmd.arg(&spec_path).env_remove("RPM_BUILD_ROOT"));
    let packages: Vec<PathBuf> =
        files_below(&topdir.join("RPMS")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rpm")).collect();
    assert!(!packages.is_empty());
    packages
}

/// Replaces the lines of `text` for which `edit` returns Some; asserts that `expected` lines
/// were replaced, so that a change of the example spec fails here instead of testing nothing.
fn edit_lines(text: &str, expected: usize, edit: impl Fn(&str) -> Option<String>) -> String {
    let mut hits = 0;
    let mut out = String::new();
    for line in text.lines() {
        match edit(line) {
            Some(new) => {
                hits += 1;
                out.push_str(&new);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    assert_eq!(hits, expected, "lines edited in:\n{text}");
    out
}

/// The split example as one package, as distributions ship Python packages today: no
/// bytecode subpackages, every cache in the main package, identical levels linked.
fn unsplit_spec(split: &str) -> String {
    // The subpackages' preambles and descriptions: from the first %package to %install.
    let (head, rest) = split.split_once("\n%package ").expect("the example has subpackages");
    let install = rest.find("\n%install").expect("the example has %install");
    let text = format!("{head}{}", &rest[install..]);
    let text = edit_lines(&text, 1, |l| {
        l.starts_with("%py_bytecode_split").then(|| "%{__brp_pyc} link \"%{buildroot}\"".to_string())
    });
    let text = edit_lines(&text, 1, |l| {
        (l == "%files -f %{py_bytecode_ghost_files}")
            .then(|| "%files\n%{python3_sitelib}/example/__pycache__".to_string())
    });
    edit_lines(&text, 3, |l| l.starts_with("%files bytecode-opt-").then(String::new))
}

/// The split example with a mistake of the kind rpmlint is there to catch: a cache whose
/// source is not shipped, in the main package.
fn stray_cache_spec(split: &str) -> String {
    let text = edit_lines(split, 1, |l| {
        l.starts_with("%py_bytecode_split").then(|| {
            format!(
                "{l}\nmkdir -p %{{buildroot}}%{{python3_sitelib}}/stray\n\
                 echo 'X = 1' > %{{buildroot}}%{{python3_sitelib}}/stray/orphan.py\n\
                 %{{__python3}} -m compileall -q -s %{{buildroot}} -p / %{{buildroot}}%{{python3_sitelib}}/stray\n\
                 rm %{{buildroot}}%{{python3_sitelib}}/stray/orphan.py"
            )
        })
    });
    edit_lines(&text, 1, |l| {
        (l == "%files -f %{py_bytecode_ghost_files}").then(|| format!("{l}\n%{{python3_sitelib}}/stray"))
    })
}

/// The split example with a README in the main package, as a real package has: then
/// the main package gets no `no-documentation`, and a subpackage that did would show.
fn documented_spec(split: &str) -> String {
    let text =
        edit_lines(split, 1, |l| l.starts_with("%py_bytecode_split").then(|| format!("{l}\necho Example. > README")));
    edit_lines(&text, 1, |l| (l == "%files -f %{py_bytecode_ghost_files}").then(|| format!("{l}\n%doc README")))
}

/// One rpmlint finding: (package, level, name, detail).
type Finding = (String, String, String, String);

/// Runs rpmlint on `packages`, with the filter file installed in an XDG config directory of
/// its own (so a system's rpmlint configuration plays no part) or with no configuration.
fn rpmlint(packages: &[PathBuf], with_filters: bool) -> BTreeSet<Finding> {
    let config = tempfile::tempdir().unwrap();
    let dirs = config.path().join("dirs");
    std::fs::create_dir_all(dirs.join("rpmlint")).unwrap();
    if with_filters {
        std::fs::copy(FILTERS, dirs.join("rpmlint/brp-pyc.toml")).unwrap();
    }
    let out = Command::new("rpmlint")
        .args(packages)
        .env("XDG_CONFIG_DIRS", &dirs)
        .env("XDG_CONFIG_HOME", config.path().join("home"))
        .env_remove("CONFIG_DISABLE_AUTOLOADING")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let loaded = stdout.contains("brp-pyc.toml");
    assert_eq!(loaded, with_filters, "rpmlint names the configuration it read:\n{stdout}");
    assert!(
        stdout.contains("packages and 0 specfiles checked"),
        "rpmlint ran:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    findings_in(&stdout)
}

/// The findings in rpmlint's output: lines `PACKAGE.ARCH: W: NAME DETAIL` (or `E:`).
fn findings_in(stdout: &str) -> BTreeSet<Finding> {
    let mut findings = BTreeSet::new();
    for line in stdout.lines() {
        let Some((package, rest)) = line.split_once(": ") else { continue };
        let Some((level, rest)) = rest.split_once(": ") else { continue };
        if !matches!(level, "W" | "E") || package.contains(' ') {
            continue;
        }
        let (name, detail) = rest.split_once(' ').unwrap_or((rest, ""));
        findings.insert((package.to_string(), level.to_string(), name.to_string(), detail.to_string()));
    }
    findings
}

/// The findings without the package that has them: the split and unsplit builds name their
/// packages differently, what matters is which warnings exist.
fn kinds(findings: &BTreeSet<Finding>) -> BTreeSet<(String, String, String)> {
    findings.iter().map(|(_, level, name, detail)| (level.clone(), name.clone(), detail.clone())).collect()
}

#[test]
fn filters_leave_no_warning_the_unsplit_package_lacks_and_keep_real_ones() {
    if !have("rpmbuild") || !have("python3") || !have("rpmlint") {
        return;
    }
    let example = documented_spec(&std::fs::read_to_string(SPLIT_SPEC).unwrap());
    let top = Tree::in_memory();
    let split = build(&top.path("split"), &example);
    let unsplit = build(&top.path("unsplit"), &unsplit_spec(&example));
    assert_eq!(split.len(), 4);
    assert_eq!(unsplit.len(), 1);

    // What the split costs without the filters: the warnings the filters are for.
    let raw = rpmlint(&split, false);
    for name in [
        "python-bytecode-without-source",
        "postin-without-ghost-file-creation",
        "ghost-files-without-postin",
        "no-documentation",
    ] {
        assert!(raw.iter().any(|f| f.2 == name), "{name} without filters:\n{raw:#?}");
    }
    let filtered = rpmlint(&split, true);
    let unsplit_raw = rpmlint(&unsplit, false);
    let unsplit_filtered = rpmlint(&unsplit, true);
    assert_eq!(unsplit_filtered, unsplit_raw, "the filters hide nothing of a package that is not split");
    let new: BTreeSet<_> = kinds(&filtered).difference(&kinds(&unsplit_raw)).cloned().collect();
    assert!(new.is_empty(), "warnings of the split build that the unsplit one does not have:\n{new:#?}");

    // A cache without source in the main package is reported, filters or not.
    let stray = build(&top.path("stray"), &stray_cache_spec(&example));
    let findings = rpmlint(&stray, true);
    let tag = cache_tag(&python());
    let orphan = findings.iter().find(|(package, _, name, detail)| {
        package == "python-example-split.noarch"
            && name == "python-bytecode-without-source"
            && detail.ends_with(&format!("/stray/__pycache__/orphan.{tag}.pyc"))
    });
    assert!(orphan.is_some(), "the stray cache is still reported:\n{findings:#?}");
    // And only that is new against the split build.
    let new: Vec<_> = kinds(&findings).difference(&kinds(&filtered)).cloned().collect();
    assert_eq!(new.len(), 1, "{new:#?}");
}

/// The subpackages brp-pyc declares itself (a spec part, rpm 4.19 and later) get no warning
/// that the package unsplit lacks either. rpm 4.18 here reads no spec parts, so the part the
/// brp step writes is built the way rpm 4.19 would read it: appended to the spec, in a second
/// build in the same directory (whose lists the part names).
#[test]
fn declared_subpackages_get_no_warning_the_unsplit_package_lacks() {
    if !have("rpmbuild") || !have("python3") || !have("rpmlint") {
        return;
    }
    let example = documented_spec(&std::fs::read_to_string(SPLIT_SPEC).unwrap());
    // The example without its hand-declared subpackages: only the split line, owner %{name}.
    let (head, rest) = example.split_once("\n%package ").expect("the example has subpackages");
    let declared = format!("{head}{}", &rest[rest.find("\n%install").expect("the example has %install")..]);
    let declared =
        edit_lines(&declared, 1, |l| l.starts_with("%py_bytecode_split").then(|| format!("{l} -n %{{name}}")));
    let declared = edit_lines(&declared, 3, |l| l.starts_with("%files bytecode-opt-").then(String::new));
    let top = Tree::in_memory();
    let parts = top.path("parts");
    let defines =
        [("specpartsdir", parts.display().to_string()), ("_unpackaged_files_terminate_build", "0".to_string())];
    // The brp step (the policy file runs it on this configuration) writes the part.
    build_with(&top.path("build"), &declared, &[Path::new(POLICY)], &defines);
    let part =
        std::fs::read_to_string(parts.join("brp-pyc-bytecode.specpart")).expect("the brp step wrote a spec part");
    assert_eq!(part.matches("\n%package -n python-example-split-bytecode-opt-").count(), 3, "{part}");
    std::fs::remove_dir_all(&parts).unwrap();
    let split = build_with(&top.path("build"), &format!("{declared}\n{part}"), &[Path::new(POLICY)], &defines[..1]);
    assert_eq!(split.len(), 4, "{split:?}");
    let unsplit = build(&top.path("unsplit"), &unsplit_spec(&example));

    let filtered = rpmlint(&split, true);
    let new: BTreeSet<_> = kinds(&filtered).difference(&kinds(&rpmlint(&unsplit, false))).cloned().collect();
    assert!(new.is_empty(), "warnings of the declared subpackages that the unsplit package does not have:\n{new:#?}");
    // Without the filters they do get the split's warnings, so the filters did the work.
    let raw = rpmlint(&split, false);
    assert!(raw.iter().any(|f| f.0.contains("-bytecode-opt-") && f.2 == "python-bytecode-without-source"), "{raw:#?}");
}

#[test]
fn make_install_puts_the_filters_where_rpmlint_reads_them() {
    if !have("make") {
        return;
    }
    // Dry run: the commands `make install` would run, nothing built or written.
    let out = run_ok(
        Command::new("make")
            .args(["-n", "install", "DESTDIR=/stage", "PREFIX=/usr"])
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    let commands = String::from_utf8(out.stdout).unwrap();
    assert!(
        commands
            .lines()
            .any(|l| l.contains("rpm-config/brp-pyc.toml") && l.ends_with("/stage/etc/xdg/rpmlint/brp-pyc.toml")),
        "{commands}"
    );
}

/// brp-pyc's own package: rpmlint on the spec that `make spec` writes and on both rpms built
/// from it (`$BRP_PYC_RPM`, set by .ci/run) reports nothing but the messages that
/// `rpm/rpmlint.toml` explains one by one, and without that file it does report some.
#[test]
fn brp_pyc_package_lints_clean_but_the_explained_messages() {
    if !have("rpmlint") || !have("make") {
        return;
    }
    let Some(package) = std::env::var_os("BRP_PYC_RPM").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "$BRP_PYC_RPM (the package `make rpm` builds) is required in CI; .ci/run sets it"
        );
        skipped("$BRP_PYC_RPM is unset (the package `make rpm` builds)");
        return;
    };
    let noarch = package.parent().unwrap().parent().unwrap().join("noarch");
    let policy = files_below(&noarch)
        .into_iter()
        .find(|p| p.to_string_lossy().contains("/brp-pyc-policy-"))
        .expect("the policy subpackage");
    let dist = Tree::new();
    run_ok(
        Command::new("make")
            .args(["-s", "spec"])
            .arg(format!("DISTDIR={}", dist.root().display()))
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    let lint = |config: Option<&str>| {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("rpmlint");
        if let Some(config) = config {
            cmd.arg("-c").arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(config));
        }
        let out = cmd
            .arg(&package)
            .arg(&policy)
            .arg(dist.path("brp-pyc.spec"))
            .env("XDG_CONFIG_DIRS", home.path().join("dirs"))
            .env("XDG_CONFIG_HOME", home.path().join("home"))
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains("2 packages and 1 specfiles checked"),
            "rpmlint ran:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (findings_in(&stdout), stdout)
    };
    let (raw, _) = lint(None);
    assert!(!raw.is_empty(), "rpmlint without rpm/rpmlint.toml finds nothing: the file has nothing to explain");
    let (findings, stdout) = lint(Some("rpm/rpmlint.toml"));
    assert!(findings.is_empty() && stdout.contains("0 errors, 0 warnings"), "unexplained rpmlint messages:\n{stdout}");
}

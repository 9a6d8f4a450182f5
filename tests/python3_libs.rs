//! Fedora's own Python package: `bench/python3-libs/python3.14-libs.spec` keeps the `%files`
//! sections of python3.14.spec for python3-libs, -idle, -tkinter and -test verbatim and stands
//! in for CPython's build with the machine's Python 3.14 standard library (the sid lane:
//! Debian's libpython3.14-stdlib, idle-python3.14, python3.14-tk, libpython3.14-testsuite).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fedora::*;
use common::*;

const STAND_IN: &str = "bench/python3-libs/python3.14-libs.spec";

/// Fedora's python3.14.spec: `$BRP_PYC_FEDORA_PYTHON/python3.14.spec`, else beside the checkout.
fn fedora_python_spec() -> PathBuf {
    std::env::var_os("BRP_PYC_FEDORA_PYTHON")
        .map_or_else(|| Path::new(ROOT).join("../shared/python3.14"), PathBuf::from)
        .join("python3.14.spec")
}

/// Fedora's lines from the one that equals `first` to the one before `end` (trailing empty
/// lines left out) or, with `end` of `None`, to `last` included.
fn fedora_block<'a>(text: &'a str, first: &str, end: &str, included: bool) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| *l == first).unwrap_or_else(|| panic!("{first:?} in Fedora's spec"));
    let stop = start + lines[start..].iter().position(|l| *l == end).unwrap_or_else(|| panic!("{end:?} after it"));
    let mut block = lines[start..if included { stop + 1 } else { stop }].to_vec();
    while block.last() == Some(&"") {
        block.pop();
    }
    block
}

/// The stand-in's `%files` sections are Fedora's, line for line: python3-libs up to -devel's
/// section, and -idle, -tkinter and -test.
#[test]
fn the_stand_in_keeps_fedoras_files_sections_verbatim() {
    let fedora = fedora_python_spec();
    let Ok(fedora) = std::fs::read_to_string(&fedora) else {
        assert!(std::env::var_os("CI").is_none(), "{}: Fedora's python3.14.spec is required in CI", fedora.display());
        eprintln!("skipped: {} is absent", fedora.display());
        return;
    };
    let stand_in = std::fs::read_to_string(Path::new(ROOT).join(STAND_IN)).unwrap();
    let ours: Vec<&str> = stand_in.lines().collect();
    for (first, end, included) in [
        ("%files -n %{pkgname}-libs", "%files -n %{pkgname}-devel", false),
        ("%files -n %{pkgname}-idle", "%extension_modules_test %{dynload_dir} %{SOABI_optimized}", true),
    ] {
        let theirs = fedora_block(&fedora, first, end, included);
        assert!(theirs.len() > 40, "{first}: {} lines", theirs.len());
        let start = ours.iter().position(|l| *l == first).unwrap_or_else(|| panic!("{first:?} in the stand-in"));
        assert_eq!(&ours[start..(start + theirs.len()).min(ours.len())], &theirs[..], "{first} is Fedora's, verbatim");
    }
}

/// Whether the machine has the Python 3.14 standard library the stand-in copies. The sid lane
/// has it (.ci/run installs it); the others have another Python and skip, saying so.
fn have_python_314() -> bool {
    let lib = Path::new("/usr/lib/python3.14");
    // One file of each package beyond libpython3.14-stdlib (which has a part of test/).
    let have = ["idlelib/idle.py", "tkinter/__init__.py", "test/test_grammar.py", "turtledemo/__main__.py"]
        .iter()
        .all(|f| lib.join(f).is_file())
        && Path::new("/usr/bin/python3.14").is_file();
    if !have {
        let (major, _) = rpm_version();
        assert!(
            !(std::env::var_os("CI").is_some() && major >= 6),
            "the sid lane needs Python 3.14 with IDLE, tkinter and its tests (.ci/run installs them)"
        );
        eprintln!("skipped: no Python 3.14 standard library with IDLE, tkinter and tests here");
    }
    have
}

/// Each file of a package as rpm recorded it: mode, digest, flags, link target, and the first
/// path of its hardlink set (inode numbers differ between builds, the sets must not).
fn recorded(package: &Path) -> Vec<String> {
    let qf = "[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEDIGESTS}\t%{FILEFLAGS:fflags}\t%{FILELINKTOS}\t%{FILEINODES}\n]";
    let out = run_ok(Command::new("rpm").args(["-qp", "--qf", qf]).arg(package));
    let mut first_of_inode: BTreeMap<String, String> = BTreeMap::new();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split('\t').collect();
            let first = first_of_inode.entry(fields[5].to_string()).or_insert_with(|| fields[0].to_string()).clone();
            fields[5] = &first;
            fields.join("\t")
        })
        .collect()
}

/// Unsplit, the stand-in builds on Fedora's configuration with brp-pyc installed and gives the
/// packages it gives without brp-pyc: the same files, modes, digests, flags and hardlink sets.
/// (Fedora's spec turns `%__brp_python_hardlink` off itself, after its own `compileall
/// --hardlink-dupes`: brp-pyc's step does not run; this shows that nothing else of it does.)
#[test]
fn unsplit_the_stand_in_gives_the_packages_it_gives_without_brp_pyc() {
    let Some(with) = fedora() else { return };
    let Some(without) = fedora_without_brp_pyc() else { return };
    if !have_python_314() {
        return;
    }
    let spec = std::fs::read_to_string(Path::new(ROOT).join(STAND_IN)).unwrap();
    // Both builds at once: each is mostly one process (compileall, rpm's payload).
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let builds: Vec<Build> = std::thread::scope(|scope| {
        let running: Vec<_> = [with, without.as_path()]
            .into_iter()
            .zip(&dirs)
            .map(|(config, dir)| scope.spawn(|| try_rpmbuild(config, dir.path(), &spec)))
            .collect();
        running.into_iter().map(|b| b.join().unwrap().unwrap_or_else(|stderr| panic!("{stderr}"))).collect()
    });
    for build in &builds {
        assert_eq!(rpm_warnings(&build.stderr), Vec::<&str>::new(), "{}", build.stderr);
    }
    let (with, without) = (&builds[0], &builds[1]);
    assert_eq!(
        with.packages.keys().collect::<Vec<_>>(),
        ["python3-idle", "python3-libs", "python3-test", "python3-tkinter"],
        "{}",
        with.stderr
    );
    assert_eq!(with.packages.keys().collect::<Vec<_>>(), without.packages.keys().collect::<Vec<_>>());
    for (name, package) in &with.packages {
        let ours = recorded(package);
        let theirs = recorded(&without.packages[name]);
        assert!(ours.iter().any(|f| f.contains(".opt-2.pyc")), "{name} has caches of every level");
        assert_eq!(ours.len(), theirs.len(), "{name}: as many files");
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b, "{name}");
        }
    }
}

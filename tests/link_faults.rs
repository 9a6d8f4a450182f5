//! Faults that really happen, really injected: a directory where link(2) is refused, an
//! append-only or immutable `__pycache__` (`chattr +a`, `+i`), an unreadable cache, a filesystem without hardlinks (FAT through FUSE), and SIGKILL at random
//! moments. After each, every cache path exists with its original bytes.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Gives the tree to nobody when running as root, so that only what a test locks is refused.
fn hand_over(tree: &Tree) {
    std::fs::set_permissions(tree.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        run_ok(Command::new("chown").args(["-R", &format!("{NOBODY}:{NOBODY}")]).arg(tree.root()));
    }
}

fn three_identical(tree: &Tree, dir: &str) -> Vec<PathBuf> {
    ["pyc", "opt-1.pyc", "opt-2.pyc"]
        .iter()
        .map(|suffix| tree.write(format!("{dir}/__pycache__/m.cpython-311.{suffix}"), "same bytes"))
        .collect()
}

#[test]
fn refused_link_is_a_warning_naming_the_path_and_the_group_stays() {
    if is_root() && !have("setpriv") {
        return;
    }
    let tree = Tree::new();
    let free = three_identical(&tree, "free");
    let locked = three_identical(&tree, "locked");
    hand_over(&tree);
    let locked_dir = tree.path("locked/__pycache__");
    if is_root() {
        run_ok(Command::new("chown").args(["-R", "0:0"]).arg(&locked_dir));
    }
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let inodes = tree.inodes();

    let out = unprivileged_brp_pyc().args(["link", "--json"]).arg(tree.root()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "a refused link never fails the build");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("brp-pyc: warning: ") && stderr.contains(&*locked[1].to_string_lossy()), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["errors"].as_u64(), report["linked"].as_u64()), (Some(1), Some(2)));
    assert!(same_inode(&free[0], &free[1]) && same_inode(&free[0], &free[2]));
    for path in &locked {
        assert_eq!(inode(path), inodes[path], "the locked group is as it was");
        assert_eq!(std::fs::read(path).unwrap(), b"same bytes");
    }
    assert_eq!(std::fs::read_dir(&locked_dir).unwrap().count(), 3, "no temporary name left");

    let strict = unprivileged_brp_pyc().args(["link", "--strict"]).arg(tree.root()).output().unwrap();
    assert_eq!(strict.status.code(), Some(2), "--strict turns warnings into status 2");
    std::fs::set_permissions(&locked_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A directory's inode flags set as `chattr` sets them (FS_IOC_SETFLAGS), cleared again on drop
/// so that the scratch tree can be removed.
struct DirFlags {
    dir: std::fs::File,
    before: rustix::fs::IFlags,
}

impl DirFlags {
    /// Sets `flag` on `dir`; `None` where that is not possible here (no CAP_LINUX_IMMUTABLE,
    /// a filesystem without such flags), which [`skipped`] makes a failure in CI.
    fn set(dir: &Path, flag: rustix::fs::IFlags) -> Option<DirFlags> {
        let file = std::fs::File::open(dir).unwrap();
        let before = rustix::fs::ioctl_getflags(&file).ok()?;
        match rustix::fs::ioctl_setflags(&file, before | flag) {
            Ok(()) => Some(DirFlags { dir: file, before }),
            Err(e) => {
                skipped(&format!("cannot set {flag:?} on {}: {e}", dir.display()));
                None
            }
        }
    }
}

impl Drop for DirFlags {
    fn drop(&mut self) {
        let _ = rustix::fs::ioctl_setflags(&self.dir, self.before);
    }
}

/// In an append-only `__pycache__` (`chattr +a`) names can be made but not removed, so every
/// link would leave its temporary name (and an immutable one refuses both): the directory is
/// found before anything is made there, named in one warning and left as it was, on every
/// run, while the other directories are linked.
#[test]
fn append_only_and_immutable_directories_are_named_once_and_left_as_they_were() {
    use rustix::fs::IFlags;
    for (flag, says) in [(IFlags::APPEND, "append-only (chattr +a)"), (IFlags::IMMUTABLE, "immutable (chattr +i)")] {
        let tree = Tree::new();
        let free = three_identical(&tree, "free");
        let locked = three_identical(&tree, "locked");
        // A flagged directory with nothing to link is no news.
        tree.write("quiet/__pycache__/m.cpython-311.pyc", "x");
        let locked_dir = tree.path("locked/__pycache__");
        let before = tree.inodes();
        let Some(_flags) = DirFlags::set(&locked_dir, flag) else { return };
        let Some(_quiet) = DirFlags::set(&tree.path("quiet/__pycache__"), flag) else { return };
        for run in 1..=3 {
            let out = brp_pyc().args(["link", "--json"]).arg(tree.root()).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{says}, run {run}");
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert_eq!(stderr.lines().count(), 1, "{says}, run {run}: {stderr}");
            let named = format!("{}: {says} directory: left as it was", locked_dir.display());
            assert!(stderr.starts_with("brp-pyc: warning: ") && stderr.contains(&named), "{says}, run {run}: {stderr}");
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let expect_linked = if run == 1 { 2 } else { 0 };
            assert_eq!(
                (report["errors"].as_u64(), report["linked"].as_u64()),
                (Some(1), Some(expect_linked)),
                "{says}, run {run}"
            );
            let mut names: Vec<_> = std::fs::read_dir(&locked_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            assert_eq!(
                names,
                ["m.cpython-311.opt-1.pyc", "m.cpython-311.opt-2.pyc", "m.cpython-311.pyc"],
                "{says}, run {run}"
            );
            for path in &locked {
                assert_eq!(
                    (inode(path), std::fs::read(path).unwrap()),
                    (before[path], b"same bytes".to_vec()),
                    "{says}, run {run}"
                );
            }
            assert!(same_inode(&free[0], &free[1]) && same_inode(&free[0], &free[2]), "{says}, run {run}");
        }
        let dry = brp_pyc().args(["link", "--dry-run"]).arg(tree.root()).output().unwrap();
        assert_eq!(String::from_utf8(dry.stderr).unwrap().lines().count(), 1, "{says}: --dry-run says it too");
    }
}

#[test]
fn unreadable_cache_is_a_warning_and_its_module_is_left_alone() {
    if is_root() && !have("setpriv") {
        return;
    }
    let tree = Tree::new();
    let readable = three_identical(&tree, "ok");
    let hidden = three_identical(&tree, "hidden");
    hand_over(&tree);
    std::fs::set_permissions(&hidden[2], std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = unprivileged_brp_pyc().args(["link", "--json"]).arg(tree.root()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&*hidden[2].to_string_lossy()) && stderr.contains("ermission denied"), "{stderr}");
    assert!(same_inode(&readable[0], &readable[2]));
    assert!(
        !same_inode(&hidden[0], &hidden[1]) && !same_inode(&hidden[0], &hidden[2]),
        "the whole module is left as it was"
    );
}

/// A FAT image mounted through FUSE: a real filesystem where link(2) fails with EPERM.
struct FatMount {
    _dir: tempfile::TempDir,
    mountpoint: PathBuf,
}

impl FatMount {
    fn new() -> Option<FatMount> {
        if !have("fusefat") || !have("mkfs.vfat") || !have("fusermount") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("fat.img");
        std::fs::File::create(&image).unwrap().set_len(16 << 20).unwrap();
        run_ok(Command::new("mkfs.vfat").arg(&image).stdout(Stdio::null()));
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&mountpoint).unwrap();
        let out = Command::new("fusefat").args(["-o", "rw+"]).arg(&image).arg(&mountpoint).output().unwrap();
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(std::env::var_os("CI").is_none(), "cannot mount a FAT image with fusefat in CI: {why}");
            skipped(&format!("cannot mount a FAT image with fusefat: {why}"));
            return None;
        }
        Some(FatMount { _dir: dir, mountpoint })
    }
}

impl Drop for FatMount {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").arg("-u").arg(&self.mountpoint).status();
    }
}

#[test]
fn filesystem_without_hardlinks_loses_nothing() {
    if !have("python3") {
        return;
    }
    let Some(fat) = FatMount::new() else { return };
    let root = &fat.mountpoint;
    std::fs::create_dir(root.join("pkg")).unwrap();
    std::fs::write(root.join("pkg/plain.py"), "x = 1\n").unwrap();
    std::fs::write(root.join("pkg/doc.py"), "'''doc'''\nx = 1\n").unwrap();
    run_ok(Command::new("python3").args(["-m", "compileall", "-q", "-o", "0", "-o", "1", "-o", "2"]).arg(root));
    let before = contents_below(root);
    assert_eq!(before.len(), 8);

    let out = brp_pyc().args(["link", "--json"]).arg(root).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["linked"], 0);
    assert_eq!(report["errors"], 2, "one warning per module with duplicates");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("plain.cpython-") && stderr.contains("doc.cpython-"), "{stderr}");
    assert_eq!(contents_below(root), before, "every cache is present with its bytes, and no temporary name is left");

    let strict = brp_pyc().args(["link", "--strict"]).arg(root).output().unwrap();
    assert_eq!(strict.status.code(), Some(2));
}

fn contents_below(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_below(root).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

/// A small deterministic generator, so a failing kill schedule can be replayed from its seed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn copy_tree(from: &Path, to: &Path) {
    run_ok(Command::new("cp").arg("-a").arg(from).arg(to));
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_a_rerun_completes() {
    if have("python3") {
        kill_rounds(&[], Stop::Kill);
    }
}

/// SIGINT and SIGTERM (alternately) at random moments: the run finishes the rename in flight,
/// removes its temporary name and exits 130 or 143; nothing is left to clean up.
#[test]
fn sigint_and_sigterm_stop_between_two_links_and_leave_no_temporary_name() {
    if have("python3") {
        kill_rounds(&[], Stop::Signal);
        kill_rounds(&["--layout", "0,12"], Stop::Signal);
    }
}

/// How a round stops the run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: nothing runs after it.
    Kill,
    /// SIGINT or SIGTERM, which brp-pyc catches.
    Signal,
}

/// The same with a layout on a tree linked earlier without it: the kills land while caches
/// linked across groups are being copied apart (separated) as well as while linking.
#[test]
fn sigkill_while_separating_links_across_layout_groups_loses_nothing() {
    if have("python3") {
        kill_rounds(&["--layout", "0,12"], Stop::Kill);
    }
}

/// Runs `brp-pyc link ARGS` on fresh copies of a tree of real caches and SIGKILLs it at random
/// moments; after each kill every cache has its bytes, and a rerun completes.
fn kill_rounds(args: &[&str], stop: Stop) {
    // A template of real caches: the four shapes of CPython's matrix, copied into many packages.
    let template = Tree::in_memory();
    let shapes = ["x = 1", "'''doc'''\nx = 1", "x = 1\nassert x", "'''doc'''\nx = 1\nassert x"];
    for (n, code) in shapes.iter().enumerate() {
        template.write(format!("seed/m{n}.py"), code);
    }
    template.compile("python3", &[0, 1, 2]);
    let tag = cache_tag("python3");
    for pkg in 0..200 {
        copy_tree(&template.path("seed"), &template.path(format!("pkg{pkg:03}")));
    }
    if !args.is_empty() {
        // Links across every level, as compileall --hardlink-dupes makes them.
        run_ok(brp_pyc().arg("link").arg(template.root()));
    }
    let original = template.contents();
    let caches = original.keys().filter(|p| p.extension().is_some_and(|e| e == "pyc")).count();
    assert_eq!(caches, 201 * 12);

    let seed = std::env::var("BRP_PYC_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    eprintln!("kill schedule seed: {seed} (BRP_PYC_KILL_SEED={seed} replays it)");
    let mut rng = XorShift(seed);

    let scratch = Tree::in_memory();
    let scratch = scratch.root();
    let full_run = {
        let copy = scratch.join("timing");
        copy_tree(template.root(), &copy);
        let start = Instant::now();
        run_ok(brp_pyc().arg("link").args(args).arg(&copy));
        start.elapsed()
    };
    let rounds: usize = if stop == Stop::Kill { 60 } else { 20 };
    let (mut interrupted, mut partial) = (0, 0);
    for round in 0..rounds {
        let copy = scratch.join(format!("round{round}"));
        copy_tree(template.root(), &copy);
        let mut child = brp_pyc().arg("link").args(args).arg(&copy).stderr(Stdio::null()).spawn().unwrap();
        if stop == Stop::Signal {
            // A signal before the handlers are in place kills like SIGKILL: wait for them.
            wait_for_handlers(child.id());
        }
        std::thread::sleep(Duration::from_micros(rng.below(full_run.as_micros() as u64)));
        let running = child.try_wait().unwrap().is_none();
        interrupted += running as usize;
        let signal = if round % 2 == 0 { libc::SIGINT } else { libc::SIGTERM };
        match stop {
            Stop::Kill => {
                let _ = child.kill(); // SIGKILL
                child.wait().unwrap();
            }
            Stop::Signal => {
                // SAFETY: a plain kill(2) of our own child, which has not been reaped yet.
                unsafe { libc::kill(child.id() as libc::pid_t, signal) };
                let code = child.wait().unwrap().code();
                let expected = if running { [Some(128 + signal), Some(0)] } else { [Some(0), Some(0)] };
                assert!(expected.contains(&code), "exit status {code:?} after signal {signal} (seed {seed})");
            }
        }

        // Every cache path exists as a regular file with its original bytes; the only extra
        // names are temporary second links or copies.
        let mut linked_now = 0;
        for (path, bytes) in &original {
            let here = copy.join(path.strip_prefix(template.root()).unwrap());
            let meta =
                std::fs::symlink_metadata(&here).unwrap_or_else(|e| panic!("{}: {e} (seed {seed})", here.display()));
            assert!(meta.is_file());
            assert_eq!(&std::fs::read(&here).unwrap(), bytes, "{} (seed {seed})", here.display());
            linked_now += (meta.nlink() > 1) as usize;
        }
        for path in files_below(&copy) {
            let rel = path.strip_prefix(&copy).unwrap();
            if !original.contains_key(&template.root().join(rel)) {
                assert!(
                    stop == Stop::Kill,
                    "a caught signal leaves no temporary name: {} (seed {seed})",
                    path.display()
                );
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                assert!(name.starts_with(".brp-pyc-"), "{}", path.display());
                // A second link of a cache, a duplicate taken out by the exchange, or a whole
                // copy: in each case the bytes of a cache beside it.
                let bytes = std::fs::read(&path).unwrap();
                let beside = files_below(path.parent().unwrap());
                assert!(
                    beside
                        .iter()
                        .any(|c| c.extension().is_some_and(|e| e == "pyc") && std::fs::read(c).unwrap() == bytes),
                    "a leftover holds the bytes of a cache: {} (seed {seed})",
                    path.display()
                );
            }
        }
        if linked_now > 0 && child_left_work(&copy, args) {
            partial += 1;
        }

        // A rerun completes and leaves the same result as an uninterrupted run.
        run_ok(brp_pyc().arg("link").args(args).arg(&copy));
        let files = files_below(&copy);
        assert_eq!(files.len(), original.len(), "no temporary name survives a rerun (seed {seed})");
        // The whole tree, not a sample: every module of every package.
        let packages = std::iter::once("seed".to_string()).chain((0..200).map(|p| format!("pkg{p:03}")));
        for pkg in packages {
            for n in 0..4 {
                let caches = caches_of(&copy.join(&pkg), &format!("m{n}"), &tag);
                if args.is_empty() {
                    assert_linked_iff_identical(&caches);
                } else {
                    // Layout 0,12: level 0 alone, 1 and 2 linked exactly when identical.
                    assert!(!same_inode(&caches[0], &caches[1]) && !same_inode(&caches[0], &caches[2]), "seed {seed}");
                    assert_linked_iff_identical(&caches[1..]);
                }
            }
        }
        std::fs::remove_dir_all(&copy).unwrap();
    }
    eprintln!("{interrupted} of {rounds} stops landed while running, {partial} left a partly linked tree (full run {full_run:?})");
    assert!(interrupted >= rounds / 3, "the stops must land mid-run to test anything (seed {seed})");
    assert!(partial >= 1, "some kill must leave a partly linked tree (seed {seed})");
}

/// Waits until process `pid` catches SIGINT and SIGTERM (its SigCgt mask in /proc), or is gone.
fn wait_for_handlers(pid: u32) {
    let wanted = (1u64 << (libc::SIGINT - 1)) | (1u64 << (libc::SIGTERM - 1));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return };
        if status.lines().any(|l| l.starts_with("State:") && l.contains('Z')) {
            return; // exited already
        }
        let caught =
            status.lines().find_map(|l| l.strip_prefix("SigCgt:")).and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
        match caught {
            Some(mask) if mask & wanted == wanted => return,
            None => return, // no such line: nothing to wait for
            _ => std::thread::sleep(Duration::from_micros(100)),
        }
    }
}

/// Whether a run killed in `tree` left something to link or separate.
fn child_left_work(tree: &Path, args: &[&str]) -> bool {
    let out = run_ok(brp_pyc().args(["link", "--dry-run", "--json"]).args(args).arg(tree));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["linked"].as_u64().unwrap() + report["separated"].as_u64().unwrap() > 0
}

fn caches_of(pkg: &Path, stem: &str, tag: &str) -> Vec<PathBuf> {
    ["pyc", "opt-1.pyc", "opt-2.pyc"]
        .iter()
        .map(|s| pkg.join("__pycache__").join(format!("{stem}.{tag}.{s}")))
        .collect()
}

/// A tmpfs mounted with no free inode: link(2) there fails with ENOSPC (tmpfs reserves an
/// inode slot for every extra link), a real full filesystem.
#[test]
fn full_filesystem_enospc_is_a_warning_and_loses_nothing() {
    // The root directory, p, p/__pycache__ and three caches: six inodes, none left.
    let Some(tmpfs) = Tmpfs::mount("size=1m,nr_inodes=6") else { return };
    let mountpoint = tmpfs.path.clone();
    let cache = mountpoint.join("p/__pycache__");
    std::fs::create_dir_all(&cache).unwrap();
    for suffix in ["pyc", "opt-1.pyc", "opt-2.pyc"] {
        std::fs::write(cache.join(format!("m.cpython-311.{suffix}")), "same bytes").unwrap();
    }
    let one_more = std::fs::write(mountpoint.join("one-more"), "").unwrap_err();
    assert_eq!(one_more.raw_os_error(), Some(libc::ENOSPC), "the filesystem is full: {one_more}");
    let before = contents_below(&mountpoint);

    let out = brp_pyc().args(["link", "--json"]).arg(&mountpoint).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("m.cpython-311.opt-1.pyc") && stderr.contains("No space left on device"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["linked"].as_u64(), report["errors"].as_u64()), (Some(0), Some(1)));
    assert_eq!(contents_below(&mountpoint), before, "every cache is there with its bytes; no temporary name");
    let strict = brp_pyc().args(["link", "--strict"]).arg(&mountpoint).output().unwrap();
    assert_eq!(strict.status.code(), Some(2));
}

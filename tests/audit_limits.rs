//! What crafted sizes do to `stats` and `check`: a payload entry that holds more or fewer
//! bytes than its package's header says (gzip, zstd and xz payloads of real rpmbuild
//! packages), sparse caches larger than any real file, sizes whose sum does not fit in 64
//! bits, and the peak memory of each run, taken from the kernel's accounting of the child.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use common::rpm_payload::{
    cpio_archive, file_index, layout, newc_entries, rewrite_payload, set_numbers, with_archive, with_gzip_members,
    Compression, NewContent,
};
use common::*;

const SITE: &str = "/usr/lib/python3/dist-packages/m";
const MIB: u64 = 1 << 20;
/// More than any run below needs (a few MiB), far less than what holding a crafted entry or a
/// large cache whole would take.
const PEAK_LIMIT_KIB: u64 = 48 * 1024;

/// Runs `cmd` and returns its output and its peak resident memory in KiB (`ru_maxrss` of
/// that one child, as `/usr/bin/time -v` reports it).
// The child is reaped by `wait4`, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut Command) -> (Output, u64) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut stdout = Vec::new();
        out.read_to_end(&mut stdout).unwrap();
        stdout
    });
    let mut stderr = Vec::new();
    err.read_to_end(&mut stderr).unwrap();
    let stdout = reader.join().unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    let pid = child.id() as libc::pid_t;
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let status = std::os::unix::process::ExitStatusExt::from_raw(status);
    (Output { status, stdout, stderr }, usage.ru_maxrss as u64)
}

/// A real package with one module (`m.py`) compiled at levels 0 and 1, as installed, its
/// payload compressed with `compression`. A v4 package also from rpm 6: its v6 packages
/// write stripped cpio entries, which carry no size of their own (the reader takes the
/// header's), so only a v4 payload can disagree with its header the way this test needs.
fn package(top: &Path, compression: Compression) -> PathBuf {
    let source = "\"\"\"Docs.\"\"\"\ndef f(x):\n    assert x\n    return x\n";
    package_named(top, &format!("{compression:?}").to_lowercase(), compression, source, &[])
}

/// The package `name` of [`package`] with `m.py` holding `source`, and each of `data` (an
/// installed path) a file of two bytes.
fn package_named(top: &Path, name: &str, compression: Compression, source: &str, data: &[&str]) -> PathBuf {
    let src = Tree::in_memory();
    src.write("m.py", source);
    let mut install = String::new();
    let mut files = String::new();
    for path in data {
        install.push_str(&format!("mkdir -p $(dirname %{{buildroot}}{path})\necho 0 > %{{buildroot}}{path}\n"));
        files.push_str(&format!("{path}\n"));
    }
    let spec = format!(
        "%define _binary_payload {payload}\n%define _rpmformat 4\nName: {name}\nVersion: 1\nRelease: 1\nSummary: t\nLicense: MIT\nBuildArch: noarch\n\
         %description\nt\n%install\n\
         mkdir -p %{{buildroot}}{SITE}\ncp -a {src}/. %{{buildroot}}{SITE}/\n{install}\
         python3 -m compileall -q -o 0 -o 1 -s %{{buildroot}} -p / %{{buildroot}}{SITE}\n\
         %files\n{SITE}\n{files}",
        payload = compression.rpm_payload_macro(),
        src = src.root().display()
    );
    rpmbuild_spec(&top.join(name), &spec).remove(0)
}

/// The header's size of the file whose path ends with `suffix`, set to `size` (in FILESIZES,
/// and in LONGFILESIZES where rpm 6 writes only that).
fn set_header_size(bytes: &mut [u8], package: &Path, suffix: &str, size: u64) {
    let index = file_index(package, suffix);
    let (main, _) = layout(bytes);
    let short = set_numbers(bytes, main, 1028, |n, _| (n == index).then_some(size));
    let long = set_numbers(bytes, main, 5008, |n, _| (n == index).then_some(size));
    assert!(short || long, "the header has file sizes");
}

fn one_line(stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Issue: a package whose header says a cache is 181 bytes but whose payload entry holds
/// 256 MiB made `check` allocate it all (529 MB), then report `bad-header` and exit 1. Now
/// each entry is held to the header's size: one line naming package and entry, exit 2, read
/// no further than one byte past the header's size. An entry that holds fewer bytes is
/// refused too, and an entry as large as its header says is read in bounded chunks.
#[test]
fn payload_entries_are_held_to_the_header_sizes_in_bounded_memory() {
    if !have("rpmbuild") || !have("python3") || !have("rpm") {
        return;
    }
    let tag = cache_tag("python3");
    let cache = format!("{SITE}/__pycache__/m.{tag}.pyc");
    let entry_mib: u64 = std::env::var("BRP_PYC_CRAFTED_MIB").ok().and_then(|n| n.parse().ok()).unwrap_or(64);
    let top = Tree::in_memory();
    for compression in Compression::ALL {
        let real = package(top.root(), compression);
        let bytes = std::fs::read(&real).unwrap();
        let (code, report) = audit_json("check", &[&real]);
        assert_eq!(code, 0, "the package as rpmbuild wrote it is clean: {report}");

        // BRP_PYC_KEEP_CRAFTED=DIR keeps a copy of each crafted package there, for measuring
        // (README, "brp-pyc stats and check").
        let crafted = |name: &str, bytes: Vec<u8>| {
            if let Some(dir) = std::env::var_os("BRP_PYC_KEEP_CRAFTED") {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(Path::new(&dir).join(format!("{name}-{compression:?}.rpm")), &bytes).unwrap();
            }
            top.write(format!("{name}-{compression:?}.rpm"), bytes)
        };
        let larger = crafted(
            "larger",
            rewrite_payload(&bytes, &cache, Some(NewContent { len: entry_mib * MIB, fill: 0 }), compression),
        );
        let smaller =
            crafted("smaller", rewrite_payload(&bytes, &cache, Some(NewContent { len: 4, fill: 0 }), compression));
        assert!(std::fs::metadata(&larger).unwrap().len() < 2 * MIB + bytes.len() as u64, "kept small on disk");
        for (package, held) in [(&larger, "holds more than the "), (&smaller, "holds 4 bytes, the header records ")] {
            let (out, peak_kib) = run_measured(brp_pyc().arg("check").arg(package));
            let stderr = one_line(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{compression:?}: {stderr}");
            assert!(
                stderr.contains(&package.display().to_string()) && stderr.contains(&cache) && stderr.contains(held),
                "{stderr}"
            );
            assert!(
                peak_kib < PEAK_LIMIT_KIB,
                "{compression:?}: check of {} peaked at {peak_kib} KiB",
                package.display()
            );
            eprintln!("{compression:?}: check {}: peak {peak_kib} KiB", package.display());
            // stats reads headers only: the payload does not matter to it.
            let (out, peak_kib) = run_measured(brp_pyc().arg("stats").arg(package));
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(peak_kib < PEAK_LIMIT_KIB, "stats peaked at {peak_kib} KiB");
        }

        // The header agrees with the entry: a cache of zeros, read to its end in chunks.
        let mut agreeing =
            rewrite_payload(&bytes, &cache, Some(NewContent { len: entry_mib * MIB, fill: 0 }), compression);
        set_header_size(&mut agreeing, &real, &cache, entry_mib * MIB);
        let agreeing = crafted("agreeing", agreeing);
        let (out, peak_kib) = run_measured(brp_pyc().args(["check", "--json"]).arg(&agreeing));
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(out.status.code(), Some(1), "{report}");
        let bad: Vec<&Value> =
            report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "bad-header").collect();
        assert_eq!(bad.len(), 1, "zeros are no cache header: {report}");
        assert_eq!(bad[0]["path"], cache.as_str());
        assert!(
            peak_kib < PEAK_LIMIT_KIB,
            "{compression:?}: check of a {entry_mib} MiB cache peaked at {peak_kib} KiB"
        );
        eprintln!("{compression:?}: check {}: peak {peak_kib} KiB", agreeing.display());
    }
}

/// A file of `size` bytes that takes no space: tmpfs (where [`Tree::in_memory`] puts trees)
/// keeps files of up to 8 EiB sparse.
fn sparse(tree: &Tree, rel: &str, size: u64) -> PathBuf {
    let path = tree.write(rel, "");
    std::fs::File::options().write(true).open(&path).unwrap().set_len(size).unwrap_or_else(|e| {
        panic!("{}: cannot make a sparse file of {size} bytes ({e}): this test needs /dev/shm on tmpfs", path.display())
    });
    path
}

const PIB: u64 = 1 << 50;

/// Issue: five sparse caches of 4 EiB made the debug build panic (overflow) and the release
/// build print a wrong total. A file larger than 1 PiB (as for package headers) is named and
/// never read; sizes that add up past 64 bits, in a tree, across trees or taken together, are
/// an error naming the item, not a number.
#[test]
fn sizes_past_the_cap_are_named_and_sums_never_wrap() {
    let tree = Tree::in_memory();
    let big: Vec<PathBuf> =
        (0..5).map(|n| sparse(&tree, &format!("p/__pycache__/m{n}.cpython-311.pyc"), 4 << 60)).collect();
    for n in 0..5 {
        tree.write(format!("p/m{n}.py"), "x = 1\n");
    }
    tree.write("p/__pycache__/ok.cpython-311.pyc", b"\xa7\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0code");
    tree.write("p/ok.py", "x = 1\n");
    for sub in ["stats", "check"] {
        let (out, peak_kib) = run_measured(brp_pyc().arg(sub).arg(tree.root()));
        let stderr = one_line(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub}: {stderr}");
        assert!(
            big.iter().any(|b| stderr.contains(&b.display().to_string())) && stderr.contains("1 PiB"),
            "{sub}: {stderr}"
        );
        assert!(peak_kib < PEAK_LIMIT_KIB, "{sub} peaked at {peak_kib} KiB");
        // --keep-going: every one named, the rest of the tree counted.
        let out = brp_pyc().arg(sub).args(["--json", "--keep-going"]).arg(tree.root()).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<&str> = report["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        assert_eq!(errors.len(), 5, "{sub}: {report}");
        for b in &big {
            assert!(errors.iter().any(|e| e.contains(&b.display().to_string())), "{sub}: {b:?} named: {errors:?}");
        }
        if sub == "stats" {
            assert_eq!((report["caches"].as_u64(), report["cache_bytes"].as_u64()), (Some(1), Some(20)), "{report}");
        }
    }

    // 1 PiB is the largest size taken: 16,400 such files add up past 2**64 bytes (16 EiB).
    let full = Tree::in_memory();
    let halves = [Tree::in_memory(), Tree::in_memory()];
    for n in 0..8200 {
        sparse(&halves[0], &format!("data/f{n}"), PIB);
        sparse(&halves[1], &format!("data/f{n}"), PIB);
    }
    for n in 0..16_400 {
        sparse(&full, &format!("data/f{n}"), PIB);
    }
    let runs: [(Vec<&Path>, bool, &Path); 3] = [
        (vec![full.root()], false, full.root()),
        (vec![halves[0].root(), halves[1].root()], false, halves[1].root()),
        (vec![halves[0].root(), halves[1].root()], true, halves[0].root()),
    ];
    for (roots, together, named) in runs {
        let mut cmd = brp_pyc();
        cmd.arg("stats").args(together.then_some("--together")).args(&roots);
        let out = cmd.output().unwrap();
        let stderr = one_line(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {stderr}");
        assert!(stderr.contains(&named.display().to_string()) && stderr.contains("16 EiB"), "{cmd:?}: {stderr}");
        assert!(out.stdout.is_empty(), "no total printed: {}", String::from_utf8_lossy(&out.stdout));
    }
    // Each half alone fits: 8,200 PiB.
    let (code, half) = audit_json("stats", &[halves[0].root()]);
    assert_eq!(code, 0);
    assert_eq!(half["bytes"]["other_files"].as_u64(), Some(8200 * PIB), "{half}");
}

/// Issue: tree `check` read each cache whole (a 1 GiB cache cost 1.05 GB). It reads the
/// 16-byte header, and in a build root (where it looks for the build root's path in every
/// cache) the rest in bounded chunks.
#[test]
fn tree_check_reads_caches_in_bounded_memory() {
    let tree = Tree::in_memory();
    let cache = sparse(&tree, "p/__pycache__/m.cpython-311.pyc", 1 << 30);
    tree.write("p/m.py", "x = 1\n");
    let (out, peak_kib) = run_measured(brp_pyc().args(["check", "--json"]).arg(tree.root()));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["findings"][0]["kind"], "bad-header", "{report}");
    assert!(peak_kib < PEAK_LIMIT_KIB, "check of a 1 GiB cache peaked at {peak_kib} KiB");

    // Inside a build: the whole cache is searched for the build root's path, which this one
    // holds near its end, across the boundary of the last two 64 KiB pieces it is read in.
    let root = tree.root().to_str().unwrap().as_bytes().to_vec();
    let file = std::fs::File::options().write(true).open(&cache).unwrap();
    file.set_len(256 * MIB).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &root, 256 * MIB - 64 * 1024 - root.len() as u64 / 2).unwrap();
    let (out, peak_kib) =
        run_measured(brp_pyc().args(["check", "--json"]).arg(tree.root()).env("RPM_BUILD_ROOT", tree.root()));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["bad-header", "build-root"], "{report}");
    assert!(peak_kib < PEAK_LIMIT_KIB, "check of a 256 MiB cache in a build root peaked at {peak_kib} KiB");
}

/// The exit status and the (kind, path) findings of `check --json` on one package.
fn check_findings(package: &Path) -> (i32, Vec<(String, String)>) {
    let (code, report) = audit_json("check", &[package]);
    let findings = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: {report}", package.display()))
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["path"].as_str().unwrap().to_string()))
        .collect();
    (code, findings)
}

/// Issue: a payload that ended early (its trailer after 5 of 37 entries, or alone), which rpm
/// refuses ("cpio: Missing file(s)"), made `check` report the intact package's findings, and
/// hid the finding of a removed cache. Now the archive that ends before an entry the header
/// lists is corrupt: exit 2, one line naming the package and the entry.
#[test]
fn a_payload_that_lacks_entries_is_corrupt() {
    if !have("rpmbuild") || !have("python3") || !have("rpm") {
        return;
    }
    let tag = cache_tag("python3");
    let top = Tree::in_memory();
    for compression in Compression::ALL {
        let real = package(top.root(), compression);
        let bytes = std::fs::read(&real).unwrap();
        let archive = cpio_archive(&bytes);
        let entries = newc_entries(&archive);
        let trailer = &archive[entries.last().unwrap().0..];
        let (first_cache, _) = entries.iter().find(|(_, name)| name.ends_with(&format!("m.{tag}.pyc"))).unwrap();
        let next = entries.iter().find(|(at, _)| at > first_cache).unwrap().0;
        let variants: [(&str, Vec<u8>); 3] = [
            ("first entry only", [&archive[..entries[1].0], trailer].concat()),
            ("trailer only", trailer.to_vec()),
            ("level 0 cache removed", [&archive[..*first_cache], &archive[next..]].concat()),
        ];
        for (what, archive) in variants {
            let crafted = top.write(format!("{what}-{compression:?}.rpm"), with_archive(&bytes, &archive, compression));
            let out = brp_pyc().arg("check").arg(&crafted).output().unwrap();
            let stderr = one_line(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what}, {compression:?}: {stderr}");
            assert!(
                stderr.contains(&crafted.display().to_string())
                    && stderr.contains("corrupt payload: the archive ends before the entry of /"),
                "{what}, {compression:?}: {stderr}"
            );
        }
    }
}

/// Issue: a gzip payload of several members, which rpm reads whole (rpm2cpio lists every
/// entry), was refused ("the archive ends before its trailer": one member read). Now `check`
/// reports on it what it reports on the package of one member, whatever the members' bounds.
#[test]
fn a_gzip_payload_of_several_members_is_read_whole() {
    if !have("rpmbuild") || !have("python3") || !have("rpm") || !have("rpm2cpio") || !have("cpio") {
        return;
    }
    let top = Tree::in_memory();
    let real = package(top.root(), Compression::Gzip);
    let bytes = std::fs::read(&real).unwrap();
    let archive = cpio_archive(&bytes);
    let expected = check_findings(&real);
    let listing = |package: &Path| {
        let script = format!("rpm2cpio '{}' | cpio -t --quiet", package.display());
        String::from_utf8(run_ok(Command::new("sh").arg("-c").arg(script)).stdout).unwrap()
    };
    let names = listing(&real);
    let len = archive.len();
    for splits in [vec![len / 2], vec![1, len / 3, 2 * len / 3, len - 1], vec![110, 111, 112]] {
        let crafted = top.write(format!("members-{}.rpm", splits.len()), with_gzip_members(&bytes, &archive, &splits));
        assert_eq!(listing(&crafted), names, "rpm reads the {} members whole", splits.len() + 1);
        assert_eq!(check_findings(&crafted), expected, "members split at {splits:?}");
    }
}

/// A real package whose payload holds `/usr/lib/a/zeros` before the module's caches and
/// `/usr/share/z/zeros` after them (entries are in path order).
fn package_with_data(top: &Path, compression: Compression) -> PathBuf {
    let name = format!("data-{compression:?}").to_lowercase();
    package_named(top, &name, compression, "def f(x):\n    return x\n", &["/usr/lib/a/zeros", "/usr/share/z/zeros"])
}

/// Issue: `check`'s time followed the sizes a header declares (a 3.4 MB package whose payload
/// holds 100 GiB of zeros for one file: 56 s), and it read every payload to its end. Now it
/// reads no further than the last cache it needs: 2 GiB of zeros after the caches change
/// nothing; before them they are refused once they expand past 1,024 times the compressed
/// bytes (64 MiB allowed): exit 2, one line, memory bounded.
#[test]
fn check_reads_what_it_needs_and_no_payload_expands_past_the_limit() {
    if !have("rpmbuild") || !have("python3") || !have("rpm") {
        return;
    }
    let top = Tree::in_memory();
    for compression in [Compression::Zstd, Compression::Xz] {
        let real = package_with_data(top.root(), compression);
        let bytes = std::fs::read(&real).unwrap();
        let expected = check_findings(&real);
        for (data, refused) in [("/usr/share/z/zeros", false), ("/usr/lib/a/zeros", true)] {
            let zeros = NewContent { len: 2 << 30, fill: 0 };
            let mut crafted = rewrite_payload(&bytes, data, Some(zeros), compression);
            set_header_size(&mut crafted, &real, data, zeros.len);
            let crafted = top.write(format!("{}-{compression:?}.rpm", refused), crafted);
            let size = std::fs::metadata(&crafted).unwrap().len();
            assert!(size < 4 * MIB, "{compression:?}: {size} bytes on disk for 2 GiB of zeros");
            let (out, peak_kib) = run_measured(brp_pyc().args(["check", "--json"]).arg(&crafted));
            assert!(peak_kib < PEAK_LIMIT_KIB, "{compression:?}: check peaked at {peak_kib} KiB");
            if refused {
                let stderr = one_line(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{compression:?}: {stderr}");
                assert!(
                    stderr.contains(&crafted.display().to_string()) && stderr.contains("expands more than 1024 times"),
                    "{compression:?}: {stderr}"
                );
            } else {
                assert_eq!(check_findings(&crafted), expected, "{compression:?}: zeros after the caches are not read");
            }
        }
    }
}

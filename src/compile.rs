//! Compile: byte-compile sources with the target interpreter's own compiler, then link
//! identical levels with the `link` engine; the backend of `%py_byte_compile`.
//!
//! The interpreter is asked once for its version and cache tag. Python 3.9+ compiles every
//! level in one `python -m compileall -o 0 -o 1 ...` run; older interpreters, which have no
//! `-o` (nor `-s`/`-p`), run a small `compileall` driver once per level under `-O`/`-OO`.
//! compileall's own `--hardlink-dupes` is never used: it links only consecutive levels, and
//! knows neither layouts nor the atomic link of [`crate::link::apply`].

use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Timespec, Timestamps, UTIME_OMIT};

use crate::error::Error;
use crate::link::classify::{cache_file_name, Level, Scheme, PYCACHE};
use crate::link::layout::Layout;
use crate::link::walk::{check_roots, visit_dirs};
use crate::link::{link, Event, LinkOptions, LinkReport};
use crate::render::quote;

/// A Python interpreter as it described itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpreter {
    /// As given: a path or a name looked up in `$PATH`.
    pub program: PathBuf,
    pub major: u32,
    pub minor: u32,
    /// `sys.implementation.cache_tag`; `None` for Python 2, which writes `.pyc`/`.pyo` beside
    /// the source.
    pub cache_tag: Option<String>,
}

/// One line that any Python from 2.7 on runs: a marker (so that a program that merely exits 0
/// is not mistaken for Python), the version and the cache tag (`-` when there is none).
const PROBE: &str = "import sys; i = getattr(sys, 'implementation', None); \
sys.stdout.write('brp-pyc-probe %d %d %s\\n' % (sys.version_info[0], sys.version_info[1], \
getattr(i, 'cache_tag', None) or '-'))";

impl Interpreter {
    /// Asks `program` what it is, in one subprocess.
    pub fn probe(program: &Path) -> Result<Interpreter, Error> {
        let refuse = |reason: String| Error::Interpreter { path: program.to_path_buf(), reason };
        // -E: no PYTHON* variable (PYTHONSTARTUP, PYTHONINSPECT...) may change the answer.
        let output = Command::new(program)
            .args(["-E", "-c", PROBE])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| refuse(format!("cannot run it: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let answer = stdout.lines().find_map(|line| line.strip_prefix("brp-pyc-probe "));
        let Some(answer) = answer.filter(|_| output.status.success()) else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no answer");
            return Err(refuse(format!("not a Python interpreter ({}: {})", output.status, last.trim())));
        };
        Interpreter::parse_probe(program, answer).ok_or_else(|| refuse(format!("unexpected answer {answer:?}")))
    }

    fn parse_probe(program: &Path, answer: &str) -> Option<Interpreter> {
        let mut words = answer.split_whitespace();
        let major = words.next()?.parse().ok()?;
        let minor = words.next()?.parse().ok()?;
        let cache_tag = words.next().filter(|&t| t != "-").map(str::to_string);
        Some(Interpreter { program: program.to_path_buf(), major, minor, cache_tag })
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// compileall's command line has `-o`, `-s`, `-p` and `-e` (3.9, from compileall2).
    pub fn has_compileall_levels(&self) -> bool {
        self.at_least(3, 9)
    }

    /// Whether brp-pyc can drive this interpreter: 2.7, or 3.3 and later (3.0 to 3.2 have no
    /// `sys.implementation.cache_tag`; 2.6 has no `compileall.compile_file`).
    fn check_supported(&self) -> Result<(), Error> {
        let supported = match self.major {
            2 => self.minor >= 7,
            3.. => self.at_least(3, 3) && self.cache_tag.is_some(),
            _ => false,
        };
        if supported {
            Ok(())
        } else {
            Err(Error::Interpreter {
                path: self.program.clone(),
                reason: format!(
                    "Python {}.{} cannot be driven (2.7 or 3.3+ with a cache tag needed)",
                    self.major, self.minor
                ),
            })
        }
    }

    /// Whether this is PyPy (its cache tag says so: `pypy39`, `pypy311`).
    pub fn is_pypy(&self) -> bool {
        self.cache_tag.as_deref().is_some_and(|tag| tag.starts_with("pypy"))
    }

    /// Where the cache of `source` at `level` goes.
    fn cache_path(&self, source: &Path, level: u8) -> Option<PathBuf> {
        let dir = source.parent()?;
        let stem = source.file_name()?.as_bytes().strip_suffix(b".py")?;
        let level = [Level::Zero, Level::One, Level::Two][usize::from(level.min(2))].clone();
        Some(match &self.cache_tag {
            Some(tag) if self.major >= 3 => {
                let name = cache_file_name(Scheme::Pep3147, stem, tag.as_bytes(), &level);
                dir.join(OsStr::from_bytes(PYCACHE)).join(OsString::from_vec(name))
            }
            _ => dir.join(OsString::from_vec(cache_file_name(Scheme::Legacy, stem, b"", &level))),
        })
    }
}

/// One source tree or file to compile, and what its caches must record as its path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub path: PathBuf,
    /// The build root that `path` lies in, which the caches must not record.
    pub build_root: Option<PathBuf>,
}

impl Target {
    /// `path` as installed: the build root stripped, made absolute again.
    fn installed_path(&self) -> Option<PathBuf> {
        let root = self.build_root.as_ref()?;
        Some(Path::new("/").join(self.path.strip_prefix(root).ok()?))
    }
}

/// Everything a compile run needs to know.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub python: Interpreter,
    /// Optimization levels, sorted and without repeats.
    pub levels: Vec<u8>,
    /// Worker processes for compileall (3.5+).
    pub jobs: usize,
    /// Clamp source mtimes newer than this (inside a build root only).
    pub source_date_epoch: Option<i64>,
    pub layout: Layout,
    /// List compiled files (compileall without `-q`).
    pub verbose: bool,
}

/// One run of the interpreter: its arguments (after the program) and what it compiles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub args: Vec<OsString>,
}

/// Runs compileall on 2.7 to 3.8, where its command line lacks `-o`, `-s`/`-p` and (before
/// 3.7) the invalidation mode, and where it stops 10 directories deep. Python 2.7 compatible.
/// Arguments: quiet, workers, timestamp (1 or empty), then pairs of installed path (or empty)
/// and path. The optimization level comes from the interpreter's `-O`/`-OO`.
const OLD_DRIVER: &str = "\
import compileall, os, sys
a = sys.argv[1:]
kw = dict(quiet=int(a[0]), force=True)
if a[2]:
    import py_compile
    kw['invalidation_mode'] = py_compile.PycInvalidationMode.TIMESTAMP
ok = True
for ddir, path in zip(a[3::2], a[4::2]):
    if os.path.isdir(path):
        if sys.version_info >= (3, 5):
            kw['workers'] = int(a[1])
        ok = compileall.compile_dir(path, sys.getrecursionlimit(), ddir or None, **kw) and ok
    else:
        kw.pop('workers', None)
        ok = compileall.compile_file(path, ddir and os.path.dirname(ddir) or None, **kw) and ok
sys.exit(int(not ok))
";

/// Makes PyPy's caches the same from run to run. PyPy keeps interned strings in a weak table,
/// and marshal writes a string as interned (`Z`/`A`) or not (`z`/`a`) by whether it is in
/// that table, so the bytes depended on when the garbage collector last ran (10 of 150 stdlib
/// caches flipped between two one-worker runs of PyPy 7.3 for Python 3.9). Collecting before
/// each file, and never during one, fixes that state; memory stays bounded by one file.
/// Python 2.7 compatible (prefixed to the old driver).
const PYPY_STEADY_GC: &str = "\
import compileall, gc
gc.disable()
_compile_file = compileall.compile_file
def compile_file(*args, **kwargs):
    gc.collect()
    return _compile_file(*args, **kwargs)
compileall.compile_file = compile_file
";

/// `python -m compileall` with [`PYPY_STEADY_GC`] first: compileall's own command line.
const PYPY_COMPILEALL: &str = "\
import sys
sys.argv[0] = 'compileall'
sys.exit(int(not compileall.main()))
";

/// The interpreter runs that compile `targets` at every level of `options`. Pure, so the
/// argument building for every Python version is testable without that Python.
pub fn invocations(options: &CompileOptions, targets: &[Target]) -> Result<Vec<Invocation>, Error> {
    let python = &options.python;
    let quiet: &[&str] = if options.verbose { &[] } else { &["-q"] };
    // -s: no user site-packages; -B: no caches for compileall's own imports.
    let mut runs = Vec::new();
    // Targets inside and outside a build root need different path rewriting: one run each.
    let mut batches: Vec<(&Option<PathBuf>, Vec<&Target>)> = Vec::new();
    for target in targets {
        match batches.iter_mut().find(|(root, _)| *root == &target.build_root) {
            Some((_, batch)) => batch.push(target),
            None => batches.push((&target.build_root, vec![target])),
        }
    }
    // PyPy's caches differ from run to run when compileall compiles on several workers (32 of
    // 97 stdlib caches with -j 4, measured with PyPy 7.3 for Python 3.9), since each worker's
    // interned strings depend on which files it got: one worker, with PYPY_STEADY_GC, makes
    // them reproducible, which a package build needs more than speed.
    let jobs = if python.is_pypy() { 1 } else { options.jobs };
    let pypy_compileall = format!("{PYPY_STEADY_GC}{PYPY_COMPILEALL}");
    let old_driver = if python.is_pypy() { format!("{PYPY_STEADY_GC}{OLD_DRIVER}") } else { OLD_DRIVER.to_string() };
    for (build_root, batch) in batches {
        if python.has_compileall_levels() {
            let mut args: Vec<OsString> = if python.is_pypy() {
                ["-s", "-B", "-c", pypy_compileall.as_str(), "-f"].map(OsString::from).to_vec()
            } else {
                ["-s", "-B", "-m", "compileall", "-f"].map(OsString::from).to_vec()
            };
            args.extend(quiet.iter().map(OsString::from));
            for level in &options.levels {
                args.extend(["-o".into(), level.to_string().into()]);
            }
            args.extend(["-j".into(), jobs.to_string().into()]);
            if let Some(root) = build_root {
                args.extend(["-s".into(), root.clone().into(), "-p".into(), "/".into()]);
                // Symlinks that leave the build root point at the build machine's files.
                args.extend(["-e".into(), root.clone().into()]);
                args.push("--invalidation-mode=timestamp".into());
            }
            args.push("--".into());
            args.extend(batch.iter().map(|t| t.path.clone().into_os_string()));
            runs.push(Invocation { args });
            continue;
        }
        if python.major == 2 && options.levels.contains(&1) && options.levels.contains(&2) {
            return Err(Error::Interpreter {
                path: python.program.clone(),
                reason: "Python 2 writes levels 1 and 2 to the same .pyo file; ask for one of them".into(),
            });
        }
        for level in &options.levels {
            let mut args: Vec<OsString> = Vec::new();
            match level {
                0 => {}
                1 => args.push("-O".into()),
                _ => args.push("-OO".into()),
            }
            args.extend(["-s", "-B", "-c", old_driver.as_str()].map(OsString::from));
            args.push(if options.verbose { "0" } else { "1" }.into());
            args.push(jobs.to_string().into());
            let timestamp = build_root.is_some() && python.at_least(3, 7);
            args.push(if timestamp { "1" } else { "" }.into());
            for target in &batch {
                args.push(target.installed_path().map(PathBuf::into_os_string).unwrap_or_default());
                args.push(target.path.clone().into_os_string());
            }
            runs.push(Invocation { args });
        }
    }
    Ok(runs)
}

/// What a compile run did.
#[derive(Debug, Default)]
pub struct CompileReport {
    /// Sources whose mtime was clamped to `$SOURCE_DATE_EPOCH`.
    pub clamped: u64,
    /// Sources that have no fresh cache for some level after the run (syntax errors...).
    pub failed: Vec<PathBuf>,
    /// The interpreter failed without a failed source to show for it.
    pub interpreter_failed: Option<String>,
    pub link: LinkReport,
}

/// Compiles `targets` with `options`, then links identical levels. The interpreter's messages
/// go to stderr; per-file problems end up in the report, not in an early return.
pub fn compile(
    options: &CompileOptions,
    targets: &[Target],
    on_link_event: impl FnMut(&Event),
) -> Result<CompileReport, Error> {
    options.python.check_supported()?;
    let runs = invocations(options, targets)?;
    let mut report = CompileReport::default();
    if let Some(epoch) = options.source_date_epoch {
        for target in targets.iter().filter(|t| t.build_root.is_some()) {
            report.clamped += clamp_mtimes(&target.path, epoch)?;
        }
    }
    // Kernel file times come from a coarse clock that can lag the precise one by a tick: a
    // cache written by this run is never older than this.
    let started = SystemTime::now() - Duration::from_millis(100);
    let mut failed_status = None;
    for run in &runs {
        log::debug!("running {} {:?}", quote(&options.python.program), run.args);
        // compileall reports errors on its stdout; brp-pyc's stdout is for its own output.
        let stderr = std::io::stderr().as_fd().try_clone_to_owned().map_err(|e| Error::io(Path::new("<stderr>"), e))?;
        let status = Command::new(&options.python.program)
            .args(&run.args)
            .env("PYTHONHASHSEED", "0")
            // These would change which caches are written, or where.
            .env_remove("PYTHONOPTIMIZE")
            .env_remove("PYTHONPYCACHEPREFIX")
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .stdin(Stdio::null())
            .stdout(Stdio::from(stderr))
            .status()
            .map_err(|e| Error::Interpreter {
                path: options.python.program.clone(),
                reason: format!("cannot run it: {e}"),
            })?;
        if !status.success() {
            failed_status.get_or_insert(status);
        }
    }
    if let Some(status) = failed_status {
        report.failed = sources_without_fresh_caches(options, targets, started);
        if report.failed.is_empty() {
            report.interpreter_failed = Some(format!("compileall ended with {status}"));
        }
    }
    let link_roots = check_roots(&link_roots(&options.python, targets))?;
    let link_options = LinkOptions {
        roots: link_roots,
        layout: options.layout.clone(),
        dry_run: false,
        link_events: log::log_enabled!(log::Level::Debug),
        layout_scope: None,
    };
    report.link = link(&link_options, on_link_event);
    Ok(report)
}

/// Directories where the caches of `targets` are: the tree itself, or the cache directory of
/// a single file (which may hold caches of its neighbours too; linking those is harmless).
fn link_roots(python: &Interpreter, targets: &[Target]) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for target in targets {
        if target.path.is_dir() {
            roots.push(target.path.clone());
        } else if let Some(parent) = target.path.parent() {
            let dir = if python.major >= 3 { parent.join(OsStr::from_bytes(PYCACHE)) } else { parent.to_path_buf() };
            if dir.is_dir() {
                roots.push(dir);
            }
        }
    }
    // Files of one directory share it: each directory once, or two workers would link the
    // same caches at the same time.
    roots.sort();
    roots.dedup();
    roots
}

/// Calls `visit` on each regular `.py` file of `path` (a file or a tree), the way compileall
/// finds them: not in `__pycache__`, not through symlinked directories. Returns the listing
/// errors.
fn for_each_source(
    path: &Path,
    visit: impl Fn(&Path, Option<(std::os::fd::BorrowedFd<'_>, &std::ffi::CStr)>) + Sync,
) -> Vec<Error> {
    if !path.is_dir() {
        visit(path, None);
        return Vec::new();
    }
    let walk = visit_dirs(&[path.to_path_buf()], |listing| {
        let below = listing.path.strip_prefix(path).unwrap_or(&listing.path);
        if below.components().any(|c| c.as_os_str().as_bytes() == PYCACHE) {
            return None;
        }
        for entry in &listing.entries {
            if entry.file_type == FileType::RegularFile && entry.name_bytes().ends_with(b".py") {
                visit(&listing.join(entry), Some((listing.fd(), &entry.name)));
            }
        }
        None::<()>
    });
    walk.errors
}

/// Sets the mtime of every source newer than `epoch` to `epoch`, so that the caches record
/// the same time in every rebuild (what Fedora's clamp_source_mtime does). Returns how many.
fn clamp_mtimes(path: &Path, epoch: i64) -> Result<u64, Error> {
    let clamped = std::sync::atomic::AtomicU64::new(0);
    let first_error = std::sync::Mutex::new(None);
    let errors = for_each_source(path, |source, at| {
        let result = clamp_one(source, at, epoch);
        match result {
            Ok(true) => {
                clamped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(e) => {
                first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
            }
        }
    });
    // An unclamped source would make the package irreproducible: that is fatal, not a warning.
    if let Some(e) = errors.into_iter().next().or(first_error.into_inner().unwrap_or_else(|e| e.into_inner())) {
        return Err(e);
    }
    Ok(clamped.into_inner())
}

fn clamp_one(
    source: &Path,
    at: Option<(std::os::fd::BorrowedFd<'_>, &std::ffi::CStr)>,
    epoch: i64,
) -> Result<bool, Error> {
    let io = |e: rustix::io::Errno| Error::io(source, e.into());
    let (dir, name) = match at {
        Some(at) => at,
        None => (
            rustix::fs::CWD,
            &*std::ffi::CString::new(source.as_os_str().as_bytes()).map_err(|e| Error::io(source, e.into()))?,
        ),
    };
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
    let newer = (stat.st_mtime as i64, stat.st_mtime_nsec as i64) > (epoch, 0);
    if !newer {
        return Ok(false);
    }
    let times = Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT },
        last_modification: Timespec { tv_sec: epoch, tv_nsec: 0 },
    };
    rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
    Ok(true)
}

/// The sources that lack a cache written by this run at some level: those that failed.
fn sources_without_fresh_caches(options: &CompileOptions, targets: &[Target], started: SystemTime) -> Vec<PathBuf> {
    let failed = std::sync::Mutex::new(Vec::new());
    for target in targets {
        let errors = for_each_source(&target.path, |source, _| {
            let fresh = |level: &u8| {
                let cache = options.python.cache_path(source, *level);
                cache
                    .and_then(|c| std::fs::symlink_metadata(c).ok())
                    .and_then(|m| m.modified().ok())
                    .is_some_and(|t| t >= started)
            };
            if !options.levels.iter().all(fresh) {
                failed.lock().unwrap_or_else(|e| e.into_inner()).push(source.to_path_buf());
            }
        });
        for e in errors {
            log::warn!("{e}");
        }
    }
    let mut failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    failed.sort();
    failed
}

/// The `pythonX.Y` library trees of a build root (`usr/lib{,64}/pythonX.Y`), each with the
/// version its name gives; what brp-python-bytecompile compiles.
pub fn python_libdirs(build_root: &Path) -> Vec<(PathBuf, u32, u32)> {
    let mut found = Vec::new();
    for lib in ["usr/lib", "usr/lib64"] {
        let Ok(entries) = std::fs::read_dir(build_root.join(lib)) else { continue };
        for entry in entries.flatten() {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if let (true, Some(version)) = (is_dir, parse_python_dir_name(entry.file_name().as_bytes())) {
                found.push((entry.path(), version.0, version.1));
            }
        }
    }
    found.sort();
    found
}

/// `python3.11` -> (3, 11).
fn parse_python_dir_name(name: &[u8]) -> Option<(u32, u32)> {
    let version = std::str::from_utf8(name.strip_prefix(b"python")?).ok()?;
    let (major, minor) = version.split_once('.')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(major) || !all_digits(minor) || major.len() != 1 {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python(major: u32, minor: u32) -> Interpreter {
        let cache_tag = (major >= 3).then(|| format!("cpython-{major}{minor}"));
        Interpreter { program: format!("python{major}.{minor}").into(), major, minor, cache_tag }
    }

    fn options(python: Interpreter, levels: &[u8]) -> CompileOptions {
        CompileOptions {
            python,
            levels: levels.to_vec(),
            jobs: 4,
            source_date_epoch: None,
            layout: Layout::default(),
            verbose: false,
        }
    }

    fn in_root(path: &str) -> Target {
        Target { path: format!("/broot{path}").into(), build_root: Some("/broot".into()) }
    }

    fn args(run: &Invocation) -> Vec<String> {
        run.args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn python_3_9_and_later_compile_every_level_in_one_compileall_run() {
        let runs = invocations(&options(python(3, 11), &[0, 1]), &[in_root("/usr/share/x")]).unwrap();
        assert_eq!(runs.len(), 1);
        let expected = "-s -B -m compileall -f -q -o 0 -o 1 -j 4 -s /broot -p / -e /broot \
                        --invalidation-mode=timestamp -- /broot/usr/share/x";
        assert_eq!(args(&runs[0]).join(" "), expected);
    }

    #[test]
    fn pypy_compiles_on_one_worker_collecting_between_files() {
        let pypy = Interpreter { program: "pypy3".into(), major: 3, minor: 11, cache_tag: Some("pypy311".into()) };
        let runs = invocations(&options(pypy, &[0, 1]), &[in_root("/usr/share/x")]).unwrap();
        let args = args(&runs[0]);
        assert!(args.join(" ").contains(" -j 1 "), "{args:?}");
        assert_eq!(args[..3], ["-s", "-B", "-c"]);
        assert!(args[3].contains("gc.collect()") && args[3].contains("compileall.main()"), "{args:?}");
    }

    #[test]
    fn outside_a_build_root_paths_are_recorded_as_they_are() {
        let outside = Target { path: "/srv/x".into(), build_root: None };
        let runs = invocations(&options(python(3, 9), &[2]), &[outside, in_root("/a")]).unwrap();
        assert_eq!(runs.len(), 2, "one run per kind of path rewriting");
        let first = args(&runs[0]);
        assert!(!first.iter().any(|a| a == "-p" || a.starts_with("--invalidation")), "{first:?}");
        assert_eq!(first.last().unwrap(), "/srv/x");
        assert!(args(&runs[1]).contains(&"-p".to_string()));
    }

    #[test]
    fn python_3_5_to_3_8_run_the_driver_once_per_level_with_dash_o() {
        let runs = invocations(&options(python(3, 8), &[0, 1, 2]), &[in_root("/usr/share/x")]).unwrap();
        let flags: Vec<String> = runs.iter().map(|r| args(r)[0].clone()).collect();
        assert_eq!(flags, ["-s", "-O", "-OO"]);
        let last = args(&runs[2]);
        // quiet, workers, timestamp (3.7+), installed path, path
        assert_eq!(&last[last.len() - 5..], ["1", "4", "1", "/usr/share/x", "/broot/usr/share/x"]);
        let py36 = invocations(&options(python(3, 6), &[0]), &[in_root("/x")]).unwrap();
        assert_eq!(args(&py36[0])[args(&py36[0]).len() - 3], "", "3.6 has no invalidation modes");
    }

    #[test]
    fn python_2_runs_the_driver_with_dash_o_and_refuses_levels_1_and_2_together() {
        let runs = invocations(&options(python(2, 7), &[0, 1]), &[in_root("/usr/lib/python2.7")]).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(args(&runs[0])[..3], ["-s", "-B", "-c"]);
        assert_eq!(args(&runs[1])[..4], ["-O", "-s", "-B", "-c"]);
        assert!(args(&runs[1]).contains(&"/usr/lib/python2.7".to_string()));
        assert!(matches!(
            invocations(&options(python(2, 7), &[1, 2]), &[in_root("/x")]),
            Err(Error::Interpreter { .. })
        ));
    }

    #[test]
    fn cache_paths_follow_pep_3147_or_the_python_2_layout() {
        let source = Path::new("/t/a.b.py");
        assert_eq!(python(3, 11).cache_path(source, 0).unwrap(), Path::new("/t/__pycache__/a.b.cpython-311.pyc"));
        assert_eq!(python(3, 11).cache_path(source, 2).unwrap(), Path::new("/t/__pycache__/a.b.cpython-311.opt-2.pyc"));
        assert_eq!(python(2, 7).cache_path(source, 0).unwrap(), Path::new("/t/a.b.pyc"));
        assert_eq!(python(2, 7).cache_path(source, 1).unwrap(), Path::new("/t/a.b.pyo"));
    }

    #[test]
    fn probe_answers_are_parsed_and_old_pythons_refused() {
        let p = Interpreter::parse_probe(Path::new("pypy3"), "3 9 pypy39").unwrap();
        assert_eq!((p.major, p.minor, p.cache_tag.as_deref()), (3, 9, Some("pypy39")));
        assert_eq!(Interpreter::parse_probe(Path::new("python2"), "2 7 -").unwrap().cache_tag, None);
        assert!(Interpreter::parse_probe(Path::new("x"), "three").is_none());
        let refused = |p: Interpreter| matches!(p.check_supported(), Err(Error::Interpreter { reason, .. }) if reason.contains("cannot be driven"));
        assert!(refused(python(3, 2)) && refused(python(2, 6)));
        assert!(python(2, 7).check_supported().is_ok());
    }

    #[test]
    fn python_library_directories_are_recognized_by_name() {
        assert_eq!(parse_python_dir_name(b"python3.11"), Some((3, 11)));
        assert_eq!(parse_python_dir_name(b"python2.7"), Some((2, 7)));
        for name in [&b"python3"[..], b"python3.11t", b"python.1", b"python10.1", b"pypy3.9"] {
            assert_eq!(parse_python_dir_name(name), None, "{}", String::from_utf8_lossy(name));
        }
    }
}

//! Missing levels: before the lists of a split are written, compile the layout levels that the
//! caches of a module lack, with the interpreter of their cache tag.
//!
//! Fedora's brp step compiles levels 0 and 1 only and pip writes level 0 only, so a layout that
//! names level 2 would otherwise get an empty list, which rpm refuses. Only the sources beside a
//! `__pycache__` that holds caches of a tag get the missing levels of that tag (the sources the
//! `%ghost` list covers): whoever compiled the package decided which sources have bytecode,
//! brp-pyc only completes the levels.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::compile::{compile, CompileOptions, Interpreter, Target};
use crate::error::Error;
use crate::link::classify::{cache_file_name, Level, Scheme, PYCACHE};
use crate::link::group::{group_dir, source_stems};
use crate::link::layout::Layout;
use crate::link::walk::visit_dirs;
use crate::link::Event;

/// Sources per command line: compileall takes files as arguments, and a package with tens of
/// thousands of modules must not exceed the kernel's argument limit.
const SOURCES_PER_RUN: usize = 1000;

/// What is missing: per cache tag, the sources that lack a level the layout names, and those
/// levels.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Missing {
    pub by_tag: BTreeMap<String, (BTreeSet<u8>, BTreeSet<PathBuf>)>,
}

/// The level digits each module of a `__pycache__` has, by (tag, stem).
type LevelsByModule = BTreeMap<(Box<[u8]>, Box<[u8]>), BTreeSet<u8>>;

/// What one directory holds: its sources (stems) and, for a `__pycache__`, which levels each
/// module has.
struct DirScan {
    sources: Vec<Box<[u8]>>,
    levels: LevelsByModule,
}

/// Finds, below `roots`, the modules with a PEP 3147 cache of some tag that lack a level of
/// `layout`; `accepts` sees the path of each cache that would be written.
pub fn find_missing(roots: &[PathBuf], layout: &Layout, accepts: impl Fn(&Path) -> bool) -> Result<Missing, Error> {
    let wanted: Vec<u8> = layout.groups().into_iter().flatten().collect();
    let walk = visit_dirs(roots, |listing| {
        let sources = source_stems(listing);
        let mut levels = LevelsByModule::new();
        for module in group_dir(listing).modules.into_iter().filter(|m| m.scheme == Scheme::Pep3147) {
            let digits = module.caches.iter().filter_map(|c| c.level.digit());
            levels.entry((module.tag, module.stem)).or_default().extend(digits);
        }
        (!sources.is_empty() || !levels.is_empty()).then_some(DirScan { sources, levels })
    });
    if let Some(error) = walk.errors.into_iter().next() {
        return Err(error);
    }
    let by_path: HashMap<&Path, &DirScan> = walk.dirs.iter().map(|(p, s)| (p.as_path(), s)).collect();
    let mut missing = Missing::default();
    for (dir, scan) in &walk.dirs {
        let in_pycache = dir.file_name().is_some_and(|n| n.as_bytes() == PYCACHE);
        let Some(parent) = dir.parent().filter(|_| in_pycache && !scan.levels.is_empty()) else { continue };
        let Some(sources) = by_path.get(parent).map(|s| &s.sources) else { continue };
        let tags: BTreeSet<&[u8]> = scan.levels.keys().map(|(tag, _)| &**tag).collect();
        for tag in tags {
            for stem in sources {
                let have = scan.levels.get(&(Box::from(tag), stem.clone()));
                for &level in &wanted {
                    if have.is_some_and(|h| h.contains(&level)) {
                        continue;
                    }
                    let level_name = [Level::Zero, Level::One, Level::Two][usize::from(level)].clone();
                    let cache = dir.join(OsStr::from_bytes(&cache_file_name(Scheme::Pep3147, stem, tag, &level_name)));
                    if !accepts(&cache) {
                        continue;
                    }
                    let entry = missing.by_tag.entry(String::from_utf8_lossy(tag).into_owned()).or_default();
                    entry.0.insert(level);
                    let mut source = stem.to_vec();
                    source.extend_from_slice(b".py");
                    entry.1.insert(parent.join(OsStr::from_bytes(&source)));
                }
            }
        }
    }
    Ok(missing)
}

/// The interpreter name that writes caches of `tag`, as brp-python-bytecompile finds it for a
/// `pythonX.Y` library directory: `cpython-311` is `python3.11`, `cpython-313t` `python3.13t`.
pub fn interpreter_name(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("cpython-")?;
    let (digits, suffix) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len()));
    let (major, minor) = digits.split_at(digits.len().min(1));
    (!major.is_empty() && !minor.is_empty()).then(|| format!("python{major}.{minor}{suffix}"))
}

/// Finds an interpreter whose cache tag is `tag`: `pythonX.Y` from `$PATH`, else `fallback`
/// (`%__python3`). Returns what was tried when none fits.
fn interpreter_for(tag: &str, fallback: Option<&Path>) -> Result<Interpreter, Vec<String>> {
    let mut tried = Vec::new();
    let candidates = interpreter_name(tag).map(PathBuf::from).into_iter().chain(fallback.map(Path::to_path_buf));
    for program in candidates {
        match Interpreter::probe(&program) {
            Ok(python) if python.cache_tag.as_deref() == Some(tag) => return Ok(python),
            Ok(python) => tried.push(format!(
                "{} writes {}",
                program.display(),
                python.cache_tag.as_deref().unwrap_or("Python 2 caches")
            )),
            Err(_) => tried.push(format!("{} is not installed", program.display())),
        }
    }
    Err(tried)
}

/// Compiles what `missing` names inside `build_root`, linking inside `layout` as it goes.
/// Returns how many sources were compiled.
pub fn compile_missing(
    missing: &Missing,
    build_root: &Path,
    layout: &Layout,
    fallback: Option<&Path>,
) -> Result<usize, Error> {
    let mut compiled = 0;
    for (tag, (levels, sources)) in &missing.by_tag {
        let levels: Vec<u8> = levels.iter().copied().collect();
        let level_list = levels.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
        let python = interpreter_for(tag, fallback).map_err(|tried| Error::MissingInterpreter {
            path: sources.iter().next().cloned().unwrap_or_default(),
            tag: tag.clone(),
            levels: level_list.clone(),
            tried: tried.join("; "),
            install: interpreter_name(tag).unwrap_or_else(|| format!("the interpreter of {tag}")),
        })?;
        log::info!(
            "compiling level(s) {level_list} of {} sources with {} ({tag})",
            sources.len(),
            python.program.display()
        );
        let options = CompileOptions {
            python,
            levels,
            // All CPUs, as brp-python-bytecompile's compileall -j0 (PyPy still gets one worker:
            // `compile` keeps its caches reproducible that way).
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            // The other levels record the sources' mtimes as they are: clamping now would make
            // them stale.
            source_date_epoch: None,
            layout: layout.clone(),
            verbose: log::log_enabled!(log::Level::Info),
        };
        let sources: Vec<&PathBuf> = sources.iter().collect();
        for chunk in sources.chunks(SOURCES_PER_RUN) {
            let targets: Vec<Target> = chunk
                .iter()
                .map(|s| Target { path: (*s).clone(), build_root: Some(build_root.to_path_buf()) })
                .collect();
            let report = compile(&options, &targets, Event::log)?;
            if let Some(why) = report.interpreter_failed {
                return Err(Error::Interpreter { path: options.python.program.clone(), reason: why });
            }
            if let Some(first) = report.failed.first() {
                return Err(Error::CompileFailed { path: first.clone(), count: report.failed.len() });
            }
            compiled += chunk.len();
        }
    }
    Ok(compiled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_names_follow_the_cache_tag() {
        assert_eq!(interpreter_name("cpython-311").as_deref(), Some("python3.11"));
        assert_eq!(interpreter_name("cpython-313t").as_deref(), Some("python3.13t"));
        assert_eq!(interpreter_name("cpython-27"), Some("python2.7".into()));
        assert_eq!(interpreter_name("pypy311"), None);
        assert_eq!(interpreter_name("cpython-"), None);
    }

    #[test]
    fn finds_the_levels_a_module_lacks_per_tag() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        };
        for rel in [
            "p/a.py",
            "p/b.py",
            "p/nocache/c.py",
            "p/__pycache__/a.cpython-311.pyc",
            "p/__pycache__/a.cpython-311.opt-1.pyc",
            "p/__pycache__/b.cpython-311.pyc",
            "p/__pycache__/b.cpython-311.opt-1.pyc",
            "p/__pycache__/b.cpython-311.opt-2.pyc",
        ] {
            write(rel);
        }
        let layout: Layout = "0,1,2".parse().unwrap();
        let missing = find_missing(&[dir.path().to_path_buf()], &layout, |_| true).unwrap();
        let (levels, sources) = &missing.by_tag["cpython-311"];
        assert_eq!(levels.iter().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(sources.iter().cloned().collect::<Vec<_>>(), [dir.path().join("p/a.py")]);
        assert_eq!(missing.by_tag.len(), 1, "a source without any cache gets none");
        let only_zero: Layout = "0".parse().unwrap();
        assert!(find_missing(&[dir.path().to_path_buf()], &only_zero, |_| true).unwrap().by_tag.is_empty());
        assert!(find_missing(&[dir.path().to_path_buf()], &layout, |_| false).unwrap().by_tag.is_empty());
    }
}

//! `brp-pyc compile`: byte-compile with the target interpreter, then link identical levels.

use std::path::{Path, PathBuf};

use crate::cli::CompileArgs;
use crate::compile::{compile, python_libdirs, CompileOptions, CompileReport, Interpreter, Target};
use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::link::Event;
use crate::render::quote;
use crate::render::units::human_bytes;

/// The build root as a brp script sees it: `$RPM_BUILD_ROOT` unless unset, empty or `/`.
/// Normalized (`/a//b/` is `/a/b`) because compileall's `-s` compares path parts as strings.
fn build_root() -> Option<PathBuf> {
    Some(crate::build_root::build_root()?.components().collect())
}

/// `$SOURCE_DATE_EPOCH` as seconds; a value that is not a number is ignored with a warning,
/// as rpm itself does not refuse it either.
fn source_date_epoch() -> Option<i64> {
    let value = std::env::var("SOURCE_DATE_EPOCH").ok()?;
    match value.trim().parse() {
        Ok(epoch) => Some(epoch),
        Err(_) => {
            log::warn!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds; source mtimes are not clamped");
            None
        }
    }
}

/// The target for `path`, with the build root it lies in (lexically, as rpm spells both, or
/// else after resolving symlinks).
fn target(path: &Path, build_root: Option<&Path>) -> Result<Target, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() && !meta.is_file() {
        return Err(Error::io(path, std::io::Error::other("not a file or directory")));
    }
    let Some(root) = build_root else { return Ok(Target { path: path.to_path_buf(), build_root: None }) };
    if path.starts_with(root) {
        return Ok(Target { path: path.to_path_buf(), build_root: Some(root.to_path_buf()) });
    }
    let canonical = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    match std::fs::canonicalize(root) {
        Ok(root) if canonical.starts_with(&root) => Ok(Target { path: canonical, build_root: Some(root) }),
        _ => Ok(Target { path: path.to_path_buf(), build_root: None }),
    }
}

/// The `compile` subcommand.
pub fn run(args: &CompileArgs) -> Result<ExitCode, Error> {
    let mut levels = if args.levels.is_empty() { vec![0, 1] } else { args.levels.clone() };
    levels.sort_unstable();
    levels.dedup();
    let jobs = match args.jobs {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let build_root = build_root();
    let source_date_epoch = build_root.as_ref().and_then(|_| source_date_epoch());
    // Each batch: one interpreter and what it compiles.
    let mut batches: Vec<(Interpreter, Vec<Target>)> = Vec::new();
    if args.paths.is_empty() {
        let Some(root) = build_root.as_deref() else {
            log::info!("RPM_BUILD_ROOT is unset or /: nothing to do");
            return Ok(ExitCode::Success);
        };
        let fallback = args.python.as_deref().map(Interpreter::probe).transpose()?;
        for (libdir, major, minor) in python_libdirs(root) {
            let system = PathBuf::from(format!("/usr/bin/python{major}.{minor}"));
            let python = if system.exists() {
                Interpreter::probe(&system)?
            } else if let Some(python) = fallback.clone().filter(|p| (p.major, p.minor) == (major, minor)) {
                python
            } else {
                log::warn!("{}: not byte-compiled: {} is not installed", quote(&libdir), quote(&system));
                continue;
            };
            log::info!("byte-compiling {} with {}", quote(&libdir), quote(&python.program));
            batches.push((python, vec![Target { path: libdir, build_root: Some(root.to_path_buf()) }]));
        }
    } else {
        let Some(program) = &args.python else { return Err(Error::NoInterpreter(args.paths[0].clone())) };
        let python = Interpreter::probe(program)?;
        let targets = args.paths.iter().map(|p| target(p, build_root.as_deref())).collect::<Result<_, _>>()?;
        batches.push((python, targets));
    }
    let mut failed = Vec::new();
    for (python, targets) in batches {
        let options = CompileOptions {
            python,
            levels: levels.clone(),
            jobs,
            source_date_epoch,
            layout: args.layout.clone().unwrap_or_default(),
            verbose: log::log_enabled!(log::Level::Info),
        };
        let report = compile(&options, &targets, Event::log)?;
        log_report(&options, &report);
        if let Some(why) = &report.interpreter_failed {
            // No source to blame: something beyond one file went wrong.
            return Err(Error::Interpreter { path: options.python.program.clone(), reason: why.clone() });
        }
        failed.extend(report.failed.into_iter().map(|source| (source, targets[0].path.clone())));
    }
    for (source, _) in &failed {
        if args.keep_going {
            log::warn!("{}: not byte-compiled", quote(source));
        } else {
            log::error!("{}: not byte-compiled", quote(source));
        }
    }
    match failed.first() {
        Some((_, tree)) if !args.keep_going => Err(Error::CompileFailed { path: tree.clone(), count: failed.len() }),
        _ => Ok(ExitCode::Success),
    }
}

fn log_report(options: &CompileOptions, report: &CompileReport) {
    let tag = options.python.cache_tag.as_deref().unwrap_or("python2");
    log::info!(
        "{} ({tag}): levels {:?}, {} source mtimes clamped, {} failed; linked {} caches, saving {}",
        quote(&options.python.program),
        options.levels,
        report.clamped,
        report.failed.len(),
        report.link.linked,
        human_bytes(report.link.bytes_saved)
    );
}

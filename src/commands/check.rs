//! `brp-pyc check`: exit 1 when a tree or package leaves bytes on the table or ships caches
//! that Python will not use.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::audit::check_run::{judge, CheckRun, Finished, Items};
use crate::audit::report::{check_line, error_rows, CheckReport, ReportError};
use crate::audit::Plan;
use crate::cli::CheckArgs;
use crate::error::{stdout_written, Error};
use crate::exit_codes::ExitCode;
use crate::link::layout::{lists_dir_of_this_build, read_record, Layout, RECORD_NAME};

/// How far, per worker, reading runs ahead of the item added last: enough that a package ten
/// times the size of its neighbours keeps no worker waiting.
const CHECK_ITEMS_AHEAD_PER_WORKER: usize = 16;

pub fn run(args: &CheckArgs) -> Result<ExitCode, Error> {
    let keep_going = args.inputs.keep_going;
    let (layout, layout_from) = layout_to_check(args)?;
    let paths = &args.inputs.paths;
    // Each item is checked on its own as it is read, then dropped: the run keeps an index of
    // the packages' sources and sets the findings aside until all items are read.
    // Fewer items ahead than for `stats`' rows: an item's findings and caches wait with it.
    let plan = Plan::new(paths).ahead_per_worker(CHECK_ITEMS_AHEAD_PER_WORKER);
    let mut run = CheckRun::new(Items::Paths(paths));
    let keys = run.keys();
    let mut errors = Vec::new();
    let mut item = 0;
    plan.run(
        |inventory| judge(&keys, &inventory, &layout),
        |judged| -> Result<(), Error> {
            match judged {
                Ok(judged) => run.add(item, judged).map_err(set_aside_error)?,
                // Without --keep-going an item that cannot be read ends the run (before any
                // error met while checking the items, as those wait for the end).
                Err(e) if !keep_going => return Err(e),
                Err(e) => errors.push(e),
            }
            item += 1;
            Ok(())
        },
    )?;
    let mut finished = run.finish();
    if !keep_going {
        if let Some(first) = std::mem::take(&mut finished.errors).into_iter().next() {
            return Err(first);
        }
    } else {
        errors.append(&mut finished.errors);
    }
    let problems = finished.problems;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        write_json(&mut out, finished, problems, &errors, &layout, layout_from)
    } else {
        finished.for_each_finding(|finding| out.write_all(check_line(finding).as_bytes()))
    };
    match written {
        Ok(()) => stdout_written(out.flush())?,
        Err(ReportError::SetAside(e)) => return Err(set_aside_error(e)),
        Err(ReportError::Output(e)) => stdout_written(Err(e))?,
    }
    if !args.json {
        for error in &errors {
            eprintln!("brp-pyc: error: {error}");
        }
    }
    Ok(if !errors.is_empty() {
        ExitCode::Fatal
    } else if problems > 0 {
        ExitCode::Problems
    } else {
        ExitCode::Success
    })
}

/// `check --json`: the bytes `serde_json` writes for a [`CheckReport`], with the findings
/// handed out one by one from where they were set aside.
fn write_json(
    out: &mut impl Write,
    finished: Finished,
    problems: usize,
    errors: &[Error],
    layout: &Layout,
    layout_from: &'static str,
) -> Result<(), ReportError> {
    let tail =
        CheckReport { problems, findings: &[], errors: error_rows(errors), layout: layout.to_string(), layout_from };
    let tail = serde_json::to_vec(&tail).map_err(std::io::Error::from)?;
    // `{"problems":N,"findings":[]` and the rest: the findings go between the brackets.
    let split = memchr::memmem::find(&tail, b"\"findings\":[]").expect("the report names its findings")
        + b"\"findings\":[".len();
    out.write_all(&tail[..split])?;
    let mut first = true;
    finished.for_each_finding(|finding| {
        if !std::mem::take(&mut first) {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, finding).map_err(std::io::Error::from)
    })?;
    out.write_all(&tail[split..])?;
    Ok(out.write_all(b"\n")?)
}

/// The findings could not be set aside (the temporary directory is full, say).
fn set_aside_error(source: std::io::Error) -> Error {
    Error::SetAside { dir: std::env::temp_dir(), source }
}

/// The layout to check in, and where it came from: `--layout`, `--lists-dir`, the record of
/// `%py_bytecode_split` in this package build (when every path checked is the build root or
/// below it, and the split recorded one), or all levels in one package.
fn layout_to_check(args: &CheckArgs) -> Result<(Layout, &'static str), Error> {
    if let Some(layout) = &args.layout {
        return Ok((layout.clone(), "option"));
    }
    if let Some(dir) = &args.lists_dir {
        return Ok((read_record(dir)?, "lists-dir"));
    }
    let build_root = std::env::var_os("RPM_BUILD_ROOT").map(PathBuf::from).filter(|root| root != Path::new("/"));
    let inside_build = build_root.is_some_and(|root| {
        let canonical = |p: &Path| std::fs::canonicalize(p).ok();
        let root = canonical(&root);
        root.is_some()
            && args.inputs.paths.iter().all(|p| canonical(p).zip(root.as_ref()).is_some_and(|(p, r)| p.starts_with(r)))
    });
    match lists_dir_of_this_build().filter(|dir| inside_build && dir.join(RECORD_NAME).exists()) {
        Some(dir) => Ok((read_record(&dir)?, "build")),
        None => Ok((Layout::all_in_one(), "default")),
    }
}

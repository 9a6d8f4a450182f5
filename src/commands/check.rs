//! `brp-pyc check`: exit 1 when a tree or package leaves bytes on the table or ships caches
//! that Python will not use.

use std::io::Write;

use std::path::{Path, PathBuf};

use crate::audit::findings::check_in_layout;
use crate::audit::report::{check_text, error_rows, CheckReport};
use crate::audit::{load_for_command, Loaded};
use crate::cli::CheckArgs;
use crate::error::{stdout_written, Error};
use crate::exit_codes::ExitCode;
use crate::link::layout::{lists_dir_of_this_build, read_record, Layout, RECORD_NAME};

pub fn run(args: &CheckArgs) -> Result<ExitCode, Error> {
    let keep_going = args.inputs.keep_going;
    let (layout, layout_from) = layout_to_check(args)?;
    let Loaded { inventories, mut errors } = load_for_command(&args.inputs.paths, keep_going)?;
    let checked = check_in_layout(&inventories, &layout);
    if !keep_going {
        if let Some(first) = checked.errors.into_iter().next() {
            return Err(first);
        }
    } else {
        errors.extend(checked.errors);
    }
    let problems = checked.findings.len();
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let report = CheckReport {
            problems,
            findings: &checked.findings,
            errors: error_rows(&errors),
            layout: layout.to_string(),
            layout_from,
        };
        serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        out.write_all(check_text(&checked.findings).as_bytes())
    };
    stdout_written(written)?;
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

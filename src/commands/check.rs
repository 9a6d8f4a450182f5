//! `brp-pyc check`: exit 1 when a tree or package leaves bytes on the table or ships caches
//! that Python will not use.

use std::io::Write;

use crate::audit::findings::check;
use crate::audit::report::{check_text, error_rows, CheckReport};
use crate::audit::{load_for_command, Loaded};
use crate::cli::CheckArgs;
use crate::error::{stdout_written, Error};
use crate::exit_codes::ExitCode;


pub fn run(args: &CheckArgs) -> Result<ExitCode, Error> {
    let keep_going = args.inputs.keep_going;
    let Loaded { inventories, mut errors } = load_for_command(&args.inputs.paths, keep_going)?;
    let checked = check(&inventories);
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
        let report = CheckReport { problems, findings: &checked.findings, errors: error_rows(&errors) };
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

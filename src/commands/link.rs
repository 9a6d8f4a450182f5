//! `brp-pyc link`: turn the command line into a [`crate::link`] run and its events into output.

use std::io::Write;

use crate::build_root::roots_or_build_root;
use crate::cli::LinkArgs;
use crate::error::{stdout_written, Error};
use crate::exit_codes::ExitCode;
use crate::link::walk::check_roots;
use crate::link::{link, Event, LinkOptions, LinkReport};
use crate::render::{quote, units::human_bytes};

/// The `link` subcommand: options from the command line, events to the log and stdout.
pub fn run(args: &LinkArgs) -> Result<ExitCode, Error> {
    let Some(paths) = roots_or_build_root(&args.paths) else {
        log::info!("RPM_BUILD_ROOT is unset or /: nothing to do");
        if args.json {
            print_json(&LinkReport { dry_run: args.dry_run, ..LinkReport::default() })?;
        }
        return Ok(ExitCode::Success);
    };
    if !args.dry_run {
        // Stop between two links, never inside one (a plain SIGINT would leave a temporary name).
        crate::interrupt::install().map_err(|e| Error::io(std::path::Path::new("sigaction"), e))?;
    }
    let options = LinkOptions {
        roots: check_roots(&paths)?,
        layout: args.layout.clone().unwrap_or_default(),
        dry_run: args.dry_run,
        link_events: (args.dry_run && !args.json) || log::log_enabled!(log::Level::Info),
        layout_scope: None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let dry_run_output = options.dry_run && !args.json;
    let report = link(&options, |event| {
        let line = match event {
            Event::Link { keep, dup, bytes } if dry_run_output => {
                format!("would link {} => {} ({bytes} bytes)", quote(dup), quote(keep))
            }
            Event::Separated(path) if dry_run_output => {
                format!("would separate {} (linked across layout groups)", quote(path))
            }
            event => return event.log(),
        };
        if let Err(e) = writeln!(out, "{line}") {
            write_error.get_or_insert(e);
        }
    });
    drop(out);
    if let Some(signal) = crate::interrupt::requested() {
        let name = crate::interrupt::signal_name(signal);
        log::warn!("stopped by {name}: {} links made, the rest left as it was", report.linked);
        return Ok(ExitCode::Interrupted(signal));
    }
    stdout_written(write_error.map_or(Ok(()), Err))?;
    if args.json {
        print_json(&report)?;
    } else if options.dry_run || log::log_enabled!(log::Level::Info) {
        let verb = if options.dry_run { "would link" } else { "linked" };
        let summary = format!(
            "{} caches in {} modules: {verb} {}, saving {}; {} already linked, {} warnings",
            report.scanned,
            report.groups,
            report.linked,
            human_bytes(report.bytes_saved),
            report.already_linked,
            report.errors
        );
        if options.dry_run {
            stdout_written(writeln!(std::io::stdout(), "{summary}"))?;
        } else {
            log::info!("{summary}");
        }
    }
    Ok(if args.strict && report.errors > 0 { ExitCode::Fatal } else { ExitCode::Success })
}

fn print_json(report: &LinkReport) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    stdout_written(serde_json::to_writer(&mut out, report).map_err(std::io::Error::from).and_then(|()| writeln!(out)))
}

//! `brp-pyc stats`: what a tree or a set of built packages spends on bytecode caches.

use std::io::Write;

use rayon::prelude::*;
use serde::Serialize;

use super::progress::Progress;
use crate::audit::analysis::{analyse, Stats};
use crate::audit::model::{check_size_sum, merge, SUM_TOO_LARGE};
use crate::audit::report::{error_rows, ItemRow, ReportError, StatsFormat, StatsRows};
use crate::audit::summary::Summary;
use crate::audit::{load_for_command, Loaded, Plan};
use crate::cli::StatsArgs;
use crate::error::{stdout_written, Error};
use crate::exit_codes::ExitCode;

pub fn run(args: &StatsArgs) -> Result<ExitCode, Error> {
    if args.together {
        return run_together(args);
    }
    let keep_going = args.inputs.keep_going;
    let progress = Progress::new(!args.json && !args.json_lines);
    progress.listing(&args.inputs.paths);
    let plan = Plan::new(&args.inputs.paths);
    progress.reading(plan.items);
    let mut summary = Summary::default();
    // `--json-lines` writes each row as it comes; the table and `--json` set them aside until
    // the totals are known.
    let mut rows = StatsRows::new(report_format(args));
    let mut errors = Vec::new();
    let mut lines = JsonLines { out: std::io::stdout().lock(), open: true };
    plan.run(
        |inventory| {
            let analysis = analyse(&inventory);
            (ItemRow::new(&inventory, analysis.stats), analysis.errors)
        },
        |item| -> Result<(), Error> {
            progress.item_done();
            let (row, item_errors) = match item {
                Ok((row, analysis_errors)) => (Some(row), analysis_errors),
                Err(e) => (None, vec![e]),
            };
            for error in item_errors {
                if !keep_going {
                    return Err(error);
                }
                summary.errors += 1;
                if args.json_lines {
                    lines.write(&ErrorRecord { record: "error", error: error.to_string() })?;
                }
                errors.push(error);
            }
            if let Some(row) = row {
                add_row(&mut summary, &row)?;
                if args.json_lines {
                    lines.write(&ItemRecord { record: "item", row: &row })?;
                } else {
                    rows.push(&row).map_err(set_aside_error)?;
                }
            }
            Ok(())
        },
    )?;
    drop(progress);
    if args.json_lines {
        lines.write(&summary.record())?;
    } else {
        write_report(rows, &summary.total, &errors)?;
    }
    Ok(if errors.is_empty() { ExitCode::Success } else { ExitCode::Fatal })
}

/// `stats --together`: all items as one installation, which needs all their files at once
/// (identical caches and stored copies are matched across the items).
fn run_together(args: &StatsArgs) -> Result<ExitCode, Error> {
    let keep_going = args.inputs.keep_going;
    let Loaded { inventories, mut errors } = load_for_command(&args.inputs.paths, keep_going)?;
    let inventories: Vec<_> = merge(inventories).into_iter().collect();
    if let Some(merged) = inventories.first() {
        check_size_sum(merged, &format!("the files of the {}", merged.name))?;
    }
    let analyses: Vec<_> = inventories.par_iter().map(analyse).collect();
    let mut total = Stats::default();
    let mut items = Vec::with_capacity(inventories.len());
    for (inventory, analysis) in inventories.iter().zip(analyses) {
        if !keep_going {
            if let Some(first) = analysis.errors.into_iter().next() {
                return Err(first);
            }
        } else {
            errors.extend(analysis.errors);
        }
        total.checked_add(&analysis.stats).ok_or_else(|| Error::Size {
            path: inventory.location.clone(),
            reason: format!("its sizes and those of the items before it {SUM_TOO_LARGE}"),
        })?;
        items.push(ItemRow::new(inventory, analysis.stats));
    }
    if args.json_lines {
        let mut summary = Summary::default();
        let mut lines = JsonLines { out: std::io::stdout().lock(), open: true };
        for error in &errors {
            summary.errors += 1;
            lines.write(&ErrorRecord { record: "error", error: error.to_string() })?;
        }
        for row in &items {
            add_row(&mut summary, row)?;
            lines.write(&ItemRecord { record: "item", row })?;
        }
        lines.write(&summary.record())?;
    } else {
        let mut rows = StatsRows::new(report_format(args));
        for row in &items {
            rows.push(row).map_err(set_aside_error)?;
        }
        write_report(rows, &total, &errors)?;
    }
    Ok(if errors.is_empty() { ExitCode::Success } else { ExitCode::Fatal })
}

/// Counts a row into the run's totals; a total that no longer fits is an error naming the item.
fn add_row(summary: &mut Summary, row: &ItemRow) -> Result<(), Error> {
    summary.add(row).ok_or_else(|| Error::Size {
        path: row.path.clone().into(),
        reason: format!("its sizes and those of the items before it {SUM_TOO_LARGE}"),
    })
}

/// The form of the report that is not `--json-lines`.
fn report_format(args: &StatsArgs) -> StatsFormat {
    if args.json {
        StatsFormat::Json
    } else {
        StatsFormat::Text
    }
}

/// The rows of a report could not be set aside (the temporary directory is full, say).
fn set_aside_error(source: std::io::Error) -> Error {
    Error::SetAside { dir: std::env::temp_dir(), source }
}

fn write_report(rows: StatsRows, total: &Stats, errors: &[Error]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match rows.write_report(total, &error_rows(errors), &mut out) {
        Ok(()) => Ok(()),
        Err(ReportError::SetAside(e)) => Err(set_aside_error(e)),
        Err(ReportError::Output(e)) => stdout_written(Err(e)),
    }
}

/// A line of `--json-lines` for one item: the row of `stats --json`'s "items".
#[derive(Serialize)]
struct ItemRecord<'a> {
    record: &'static str,
    #[serde(flatten)]
    row: &'a ItemRow,
}

/// A line of `--json-lines` for an item that could not be read (with `--keep-going`).
#[derive(Serialize)]
struct ErrorRecord {
    record: &'static str,
    error: String,
}

/// Standard output, one JSON object per line, flushed as each is written; a reader that
/// closed the pipe stops the writing, not the run.
struct JsonLines<W: Write> {
    out: W,
    open: bool,
}

impl<W: Write> JsonLines<W> {
    fn write(&mut self, record: &impl Serialize) -> Result<(), Error> {
        if !self.open {
            return Ok(());
        }
        let out = &mut self.out;
        let written =
            serde_json::to_writer(&mut *out, record).map_err(std::io::Error::from).and_then(|()| writeln!(out));
        if matches!(&written, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.open = false;
        }
        stdout_written(written)
    }
}

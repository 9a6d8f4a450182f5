//! `brp-pyc stats`: what a tree or a set of built packages spends on bytecode caches.

use std::io::Write;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::PathBuf;

use serde::Serialize;

use super::progress::Progress;
use crate::audit::analysis::{analyse, analyse_sums, modules, Stats, Sums};
use crate::audit::model::{check_size_sum, merge, Inventory, ItemKind, SUM_TOO_LARGE};
use crate::audit::report::{error_rows, ItemRow, ReportError, StatsFormat, StatsRows};
use crate::audit::summary::Summary;
use crate::audit::Plan;
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

/// `stats --together`: all items as one installation, which matches identical caches and
/// stored copies across the items. Only a module that several items install (the subpackages
/// of a split build, two versions of one package) needs them at once: a first pass over the
/// items finds which items share a module ([`Parts`]); each item that shares none is a part
/// of its own, analysed as it is read and dropped, and the items of a larger part are held
/// until its last one is read. What adds up across the parts is added up ([`Sums`]).
fn run_together(args: &StatsArgs) -> Result<ExitCode, Error> {
    let keep_going = args.inputs.keep_going;
    let paths = &args.inputs.paths;
    let Parts { part, last, failed, mut errors, loaded, first_location, all_packages, size_fits } =
        Parts::find(paths, keep_going)?;
    let Some(location) = first_location else {
        return write_together(args, None, errors);
    };
    let name = format!("{loaded} items together");
    if !size_fits {
        return Err(Error::Size { path: location, reason: format!("the files of the {name} {SUM_TOO_LARGE}") });
    }
    let alone = |item: usize| part[item] as usize == item && last[item] as usize == item;
    let mut total = Sums::default();
    let mut held: HashMap<u32, Vec<Inventory>> = HashMap::new();
    let mut item = 0;
    let mut analysis_errors = Vec::new();
    let mut add = |sums: &Sums, errors: Vec<Error>| -> Result<(), Error> {
        analysis_errors.extend(errors);
        total.checked_add(sums).ok_or_else(|| Error::Size {
            path: location.clone(),
            reason: format!("the sums of the {name} {SUM_TOO_LARGE}"),
        })
    };
    Plan::new(paths).run_numbered(
        |item, inventory| match alone(item) {
            // Stored copies numbered as among all items (no two items share one).
            true => Ok(analyse_sums(&merge(vec![inventory]).expect("one inventory"))),
            false => Err(inventory),
        },
        |result| -> Result<(), Error> {
            let this = item;
            item += 1;
            // An item the first pass could not read is not counted (nor one it did not see:
            // the paths changed between the passes); one that cannot be read now is an error.
            let Some(&part_of) = part.get(this).filter(|_| !failed[this]) else { return Ok(()) };
            match result {
                Err(e) => errors.push(e),
                Ok(Ok((sums, errors))) => add(&sums, errors)?,
                Ok(Err(inventory)) => held.entry(part_of).or_default().push(inventory),
            }
            if last[part_of as usize] as usize == this {
                if let Some(merged) = held.remove(&part_of).and_then(merge) {
                    let (sums, errors) = analyse_sums(&merged);
                    add(&sums, errors)?;
                }
            }
            Ok(())
        },
    )?;
    if !keep_going {
        if let Some(first) = analysis_errors.into_iter().next() {
            return Err(first);
        }
    } else {
        errors.extend(analysis_errors);
    }
    let kind = if all_packages { ItemKind::Package } else { ItemKind::Tree };
    let row = ItemRow::of(name, kind, &location, total.finish());
    write_together(args, Some(row), errors)
}

/// The report of `stats --together`: its one row (none when no item could be read).
fn write_together(args: &StatsArgs, row: Option<ItemRow>, errors: Vec<Error>) -> Result<ExitCode, Error> {
    let total = row.as_ref().map_or_else(Stats::default, |row| row.stats.clone());
    if args.json_lines {
        let mut summary = Summary::default();
        let mut lines = JsonLines { out: std::io::stdout().lock(), open: true };
        for error in &errors {
            summary.errors += 1;
            lines.write(&ErrorRecord { record: "error", error: error.to_string() })?;
        }
        if let Some(row) = &row {
            add_row(&mut summary, row)?;
            lines.write(&ItemRecord { record: "item", row })?;
        }
        lines.write(&summary.record())?;
    } else {
        let mut rows = StatsRows::new(report_format(args));
        if let Some(row) = &row {
            rows.push(row).map_err(set_aside_error)?;
        }
        write_report(rows, &total, &errors)?;
    }
    Ok(if errors.is_empty() { ExitCode::Success } else { ExitCode::Fatal })
}

/// Which items of `stats --together` share a module: a part is the items linked by shared
/// modules, named by its first item. Found in a first pass over the items, which also counts
/// what the report says of all of them.
struct Parts {
    /// The part of each item (its first item).
    part: Vec<u32>,
    /// The last item of each part, at the part's number.
    last: Vec<u32>,
    /// The items that could not be read.
    failed: Vec<bool>,
    /// Their errors, in order.
    errors: Vec<Error>,
    /// How many items were read.
    loaded: usize,
    first_location: Option<PathBuf>,
    all_packages: bool,
    /// Whether the sizes of all installed files add up in 64 bits.
    size_fits: bool,
}

impl Parts {
    fn find(paths: &[PathBuf], keep_going: bool) -> Result<Parts, Error> {
        // Module keys are hashed: two modules that share a hash only make one part of two,
        // which adds up to the same figures. Keyed per run, so that no package can make a
        // mirror one part.
        let hasher = std::hash::RandomState::new();
        let mut parts = Parts {
            part: Vec::new(),
            last: Vec::new(),
            failed: Vec::new(),
            errors: Vec::new(),
            loaded: 0,
            first_location: None,
            all_packages: true,
            size_fits: true,
        };
        let mut size = Some(0u64);
        // The first item to install each module.
        let mut first_item: HashMap<u64, u32> = HashMap::new();
        let mut item = 0u32;
        Plan::new(paths).run(
            |inventory| {
                let keys: Vec<u64> =
                    modules(&inventory).iter().map(|m| hasher.hash_one((m.dir, m.scheme, m.stem, m.tag))).collect();
                let size = check_size_sum(&inventory, "").ok();
                (keys, size, inventory.kind, inventory.location)
            },
            |result| -> Result<(), Error> {
                let this = item;
                item += 1;
                parts.part.push(this);
                match result {
                    Err(e) if !keep_going => return Err(e),
                    Err(e) => {
                        parts.failed.push(true);
                        parts.errors.push(e);
                    }
                    Ok((keys, item_size, kind, location)) => {
                        parts.failed.push(false);
                        parts.loaded += 1;
                        parts.first_location.get_or_insert(location);
                        parts.all_packages &= kind == ItemKind::Package;
                        size = size.zip(item_size).and_then(|(a, b)| a.checked_add(b));
                        for key in keys {
                            let first = *first_item.entry(key).or_insert(this);
                            parts.join(first, this);
                        }
                    }
                }
                Ok(())
            },
        )?;
        parts.size_fits = size.is_some();
        let items = parts.part.len();
        parts.last = (0..items as u32).collect();
        for item in 0..items {
            let root = parts.root(item as u32);
            parts.part[item] = root;
            parts.last[root as usize] = item as u32;
        }
        Ok(parts)
    }

    /// The first item of `item`'s part, halving the path on the way.
    fn root(&mut self, mut item: u32) -> u32 {
        while self.part[item as usize] != item {
            let parent = self.part[item as usize];
            self.part[item as usize] = self.part[parent as usize];
            item = parent;
        }
        item
    }

    /// Makes one part of the parts of items `a` and `b`, named by its first item.
    fn join(&mut self, a: u32, b: u32) {
        let (a, b) = (self.root(a), self.root(b));
        self.part[a.max(b) as usize] = a.min(b);
    }
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

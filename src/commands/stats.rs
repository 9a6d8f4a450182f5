//! `brp-pyc stats`: what a tree or a set of built packages spends on bytecode caches.

use std::io::Write;

use rayon::prelude::*;

use crate::audit::analysis::{analyse, Stats};
use crate::audit::model::{check_size_sum, merge, SUM_TOO_LARGE};
use crate::audit::report::{error_rows, stats_text, ItemRow, LayoutChanges, StatsReport};
use crate::audit::{load_for_command, Loaded};
use crate::cli::StatsArgs;
use crate::error::{stdout_written, Error};
use crate::exit_codes::ExitCode;

pub fn run(args: &StatsArgs) -> Result<ExitCode, Error> {
    let keep_going = args.inputs.keep_going;
    let Loaded { mut inventories, mut errors } = load_for_command(&args.inputs.paths, keep_going)?;
    if args.together {
        inventories = merge(std::mem::take(&mut inventories)).into_iter().collect();
        if let Some(merged) = inventories.first() {
            check_size_sum(merged, &format!("the files of the {}", merged.name))?;
        }
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
    let report = StatsReport { layout_change_percent: LayoutChanges::of(&total.layouts), total, items, errors: error_rows(&errors) };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        out.write_all(stats_text(&report).as_bytes())
    };
    stdout_written(written)?;
    Ok(if errors.is_empty() { ExitCode::Success } else { ExitCode::Fatal })
}

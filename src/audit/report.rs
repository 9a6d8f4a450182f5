//! Report rendering: the aligned tables and JSON objects of `stats` and `check`.

use std::ffi::OsStr;
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use super::analysis::{Layouts, Stats};
use super::findings::Finding;
use super::model::{Inventory, ItemKind};
use crate::error::Error;
use crate::render::spill::Spill;
use crate::render::{quote, units::human_bytes};

/// One row per tree or package.
#[derive(Debug, Serialize)]
pub struct ItemRow {
    pub name: String,
    pub kind: ItemKind,
    pub path: String,
    /// The exact bytes of `path`, only when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<Vec<u8>>,
    #[serde(flatten)]
    pub stats: Stats,
    pub layout_change_percent: LayoutChanges,
}

impl ItemRow {
    pub fn new(inventory: &Inventory, stats: Stats) -> ItemRow {
        ItemRow::of(inventory.name.clone(), inventory.kind, &inventory.location, stats)
    }

    /// The row of an item named `name`, of `kind`, read at `location`.
    pub fn of(name: String, kind: ItemKind, location: &Path, stats: Stats) -> ItemRow {
        let raw = location.as_os_str().as_bytes();
        ItemRow {
            name,
            kind,
            path: location.to_string_lossy().into_owned(),
            layout_change_percent: LayoutChanges::of(&stats.layouts),
            path_bytes: (!super::model::is_utf8(raw)).then(|| raw.to_vec()),
            stats,
        }
    }
}

/// The change of each layout's installed size, in percent, against two references.
#[derive(Debug, Serialize)]
pub struct LayoutChanges {
    /// Against the items as they are (`layouts.shipped`).
    pub against_shipped: LayoutPercents,
    /// Against all levels in one package with identical caches linked (`layouts.all_linked`):
    /// the status quo of a distribution that already links identical levels, which is what
    /// Fedora's change proposal measured its layouts against.
    pub against_all_linked: LayoutPercents,
}

/// One percentage per layout, named as in [`Layouts`]; `None` (`null`) where the layout
/// cannot be projected.
#[derive(Debug, Serialize)]
pub struct LayoutPercents {
    pub shipped: f64,
    pub all_linked: f64,
    pub opt_0_only: Option<f64>,
    pub levels_0_1: Option<f64>,
    pub split_0_1_2: Option<f64>,
    pub no_caches: f64,
    pub split_0_1: Option<f64>,
}

impl LayoutChanges {
    pub fn of(layouts: &Layouts) -> LayoutChanges {
        LayoutChanges {
            against_shipped: LayoutPercents::against(layouts, layouts.shipped),
            against_all_linked: LayoutPercents::against(layouts, layouts.all_linked),
        }
    }
}

impl LayoutPercents {
    fn against(l: &Layouts, reference: u64) -> LayoutPercents {
        let p = |size| percent_change(size, reference);
        LayoutPercents {
            shipped: p(l.shipped),
            all_linked: p(l.all_linked),
            opt_0_only: l.opt_0_only.map(p),
            levels_0_1: l.levels_0_1.map(p),
            split_0_1_2: l.split_0_1_2.map(p),
            no_caches: p(l.no_caches),
            split_0_1: l.split_0_1.map(p),
        }
    }
}

/// `size` against `reference` in percent; 0 when there is nothing to compare with.
fn percent_change(size: u64, reference: u64) -> f64 {
    if reference == 0 {
        return 0.0;
    }
    (size as f64 - reference as f64) * 100.0 / reference as f64
}

/// `size - reference` as a signed size with a unit: `+1.2 MiB`, `-300 B`.
fn signed_size(size: u64, reference: u64) -> String {
    let sign = if size < reference { "-" } else { "+" };
    format!("{sign}{}", human_bytes(size.abs_diff(reference)))
}

/// `stats --json`: the totals at the top level (the contract's integer keys), then the rows.
/// [`StatsRows`] writes these bytes without holding the rows.
#[derive(Debug, Serialize)]
pub struct StatsReport {
    #[serde(flatten)]
    pub total: Stats,
    /// The totals' layouts in percent (each row has its own under "items").
    pub layout_change_percent: LayoutChanges,
    pub items: Vec<ItemRow>,
    /// One message per item that could not be read (with `--keep-going`).
    pub errors: Vec<String>,
}

/// `check --json`.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// Findings that make `check` fail.
    pub problems: usize,
    pub findings: &'a [Finding],
    pub errors: Vec<String>,
    /// The layout whose groups the `not-linked` findings follow (`012`: all in one package).
    pub layout: String,
    /// Where that layout came from: `option`, `lists-dir`, `build` or `default`.
    pub layout_from: &'static str,
}

pub fn error_rows(errors: &[Error]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// Formats rows as columns: the first left-aligned, the others right-aligned.
fn table(rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    for row in rows {
        widen(&mut widths, row);
    }
    rows.iter().map(|row| table_line(row, &widths)).collect()
}

/// Makes `widths` as wide as the cells of `row`, column by column.
fn widen(widths: &mut Vec<usize>, row: &[String]) {
    if widths.len() < row.len() {
        widths.resize(row.len(), 0);
    }
    for (width, cell) in widths.iter_mut().zip(row) {
        *width = (*width).max(cell.chars().count());
    }
}

/// One line of a table whose columns are `widths` wide.
fn table_line(row: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (c, cell) in row.iter().enumerate() {
        let pad = widths[c] - cell.chars().count();
        if c == 0 {
            line.push_str(cell);
            line.push_str(&" ".repeat(pad));
        } else {
            line.push_str("  ");
            line.push_str(&" ".repeat(pad));
            line.push_str(cell);
        }
    }
    let mut line = line.trim_end().to_string();
    line.push('\n');
    line
}

fn stats_cells(name: String, s: &Stats) -> Vec<String> {
    let b = &s.bytes;
    vec![
        name,
        s.modules.to_string(),
        s.caches.to_string(),
        human_bytes(b.sources),
        human_bytes(b.level_0),
        human_bytes(b.level_1),
        // Fits: every item's and the total's byte columns were checked to add up in 64 bits.
        human_bytes(b.level_2.saturating_add(b.other_levels)),
        human_bytes(b.other_files),
        human_bytes(s.cache_bytes),
        human_bytes(s.linked_bytes),
        human_bytes(s.linkable_bytes),
    ]
}

const STATS_HEADER: [&str; 11] = [
    "ITEM",
    "MODULES",
    "CACHES",
    "SOURCES",
    "LEVEL 0",
    "LEVEL 1",
    "LEVEL 2",
    "OTHER",
    "CACHES (DISK)",
    "LINKED",
    "LINKABLE",
];

/// The form of a `stats` report.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    /// The table of [`StatsRows::write_report`].
    Text,
    /// One object, a [`StatsReport`].
    Json,
}

/// The rows of a `stats` report, set aside as they come ([`Spill`]: in a temporary file past
/// a little memory) until the totals are known: the table's columns are as wide as their
/// widest cell, and `--json` has the totals before "items". Memory stays that of one row
/// however many items there are.
pub struct StatsRows {
    format: StatsFormat,
    spill: Spill,
    count: usize,
    /// The widest cell of each column of the table so far, the header's included.
    widths: Vec<usize>,
}

impl StatsRows {
    pub fn new(format: StatsFormat) -> StatsRows {
        let mut widths = Vec::new();
        widen(&mut widths, &STATS_HEADER.map(String::from));
        StatsRows { format, spill: Spill::default(), count: 0, widths }
    }

    /// Sets the row of one more item aside: its cells for the table (each ended by a NUL,
    /// which no path holds), or its JSON object.
    pub fn push(&mut self, row: &ItemRow) -> std::io::Result<()> {
        match self.format {
            StatsFormat::Json => {
                if self.count > 0 {
                    self.spill.write_all(b",")?;
                }
                serde_json::to_writer(&mut self.spill, row)?;
            }
            StatsFormat::Text => {
                let cells = stats_cells(row.name.clone(), &row.stats);
                widen(&mut self.widths, &cells);
                for cell in cells {
                    self.spill.write_all(cell.as_bytes())?;
                    self.spill.write_all(b"\0")?;
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// How many rows were set aside.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the report: the rows set aside, the totals over them and the errors met.
    pub fn write_report(self, total: &Stats, errors: &[String], out: &mut dyn Write) -> Result<(), ReportError> {
        match self.format {
            StatsFormat::Json => self.write_json(total, errors, out),
            StatsFormat::Text => self.write_text(total, errors, out),
        }
    }

    /// The bytes `serde_json` writes for a [`StatsReport`] (totals, percentages, items,
    /// errors), with the items copied from where they were set aside.
    fn write_json(self, total: &Stats, errors: &[String], out: &mut dyn Write) -> Result<(), ReportError> {
        let head = serde_json::to_vec(&StatsHead { total, layout_change_percent: LayoutChanges::of(&total.layouts) })
            .map_err(std::io::Error::from)?;
        // The head is an object: all of it but its closing brace, then the other keys.
        out.write_all(&head[..head.len() - 1])?;
        out.write_all(b",\"items\":[")?;
        let mut rows = self.spill.into_reader().map_err(ReportError::SetAside)?;
        loop {
            let chunk = rows.fill_buf().map_err(ReportError::SetAside)?;
            if chunk.is_empty() {
                break;
            }
            out.write_all(chunk)?;
            let read = chunk.len();
            rows.consume(read);
        }
        out.write_all(b"],\"errors\":")?;
        serde_json::to_writer(&mut *out, errors).map_err(std::io::Error::from)?;
        Ok(out.write_all(b"}\n")?)
    }

    /// The human form: a row per item and a total, identical pairs, then the installed size
    /// of each layout against what is shipped now.
    fn write_text(self, t: &Stats, errors: &[String], out: &mut dyn Write) -> Result<(), ReportError> {
        let mut widths = self.widths;
        let total_row = (self.count > 1).then(|| stats_cells(format!("TOTAL ({} items)", self.count), t));
        if let Some(row) = &total_row {
            widen(&mut widths, row);
        }
        out.write_all(table_line(&STATS_HEADER.map(String::from), &widths).as_bytes())?;
        let mut rows = self.spill.into_reader().map_err(ReportError::SetAside)?;
        let mut row = Vec::with_capacity(STATS_HEADER.len());
        let mut cell = Vec::new();
        while rows.read_until(0, &mut cell).map_err(ReportError::SetAside)? > 0 {
            cell.pop(); // its NUL
            row.push(String::from_utf8_lossy(&cell).into_owned());
            cell.clear();
            if row.len() == STATS_HEADER.len() {
                out.write_all(table_line(&row, &widths).as_bytes())?;
                row.clear();
            }
        }
        if let Some(row) = &total_row {
            out.write_all(table_line(row, &widths).as_bytes())?;
        }
        for error in errors {
            writeln!(out, "error: {error}")?;
        }
        Ok(out.write_all(totals_text(t).as_bytes())?)
    }
}

/// Why a `stats` report could not be written: its rows could not be read back from where they
/// were set aside, or the output could not be written.
#[derive(Debug)]
pub enum ReportError {
    SetAside(std::io::Error),
    Output(std::io::Error),
}

impl From<std::io::Error> for ReportError {
    /// What the report writes to fails: the output.
    fn from(e: std::io::Error) -> ReportError {
        ReportError::Output(e)
    }
}

/// The start of `stats --json`: the totals and their layouts in percent.
#[derive(Serialize)]
struct StatsHead<'a> {
    #[serde(flatten)]
    total: &'a Stats,
    layout_change_percent: LayoutChanges,
}

/// The part of the human form of `stats` after the table: identical pairs and layouts.
fn totals_text(t: &Stats) -> String {
    let mut out = String::new();
    let i = &t.identical;
    out.push_str(&format!(
        "\nidentical caches (modules): 0/1 {}, 1/2 {}, 0/2 {}, all three {} (of {} modules)\n\n",
        i.pairs_0_1, i.pairs_1_2, i.pairs_0_2, i.triples, t.modules
    ));
    let l = &t.layouts;
    // Two references: the items as they are, and all levels linked in one package (the
    // status quo that distributions and Fedora's change proposal compare layouts with).
    let mut layout_rows = vec![["LAYOUT", "INSTALLED", "VS SHIPPED", "%", "VS ALL LINKED", "%"]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    for (name, size) in [
        ("as shipped", Some(l.shipped)),
        ("all levels, linked in one package", Some(l.all_linked)),
        ("level 0 only", l.opt_0_only),
        ("levels 0 and 1, linked", l.levels_0_1),
        ("levels 0 and 1, split (both installed)", l.split_0_1),
        ("split 0,1,2 (no links across)", l.split_0_1_2),
        ("no caches", Some(l.no_caches)),
    ] {
        let Some(size) = size else {
            layout_rows.push([name, "n/a", "", "", "", ""].map(String::from).to_vec());
            continue;
        };
        layout_rows.push(vec![
            name.to_string(),
            human_bytes(size),
            signed_size(size, l.shipped),
            format!("{:+.2} %", percent_change(size, l.shipped)),
            signed_size(size, l.all_linked),
            format!("{:+.2} %", percent_change(size, l.all_linked)),
        ]);
    }
    out.push_str(&table(&layout_rows));
    out.push_str("(VS ALL LINKED: against all levels in one package with identical caches linked, the status quo)\n");
    let m = &t.missing_levels;
    for (level, missing) in [(0, m.level_0), (1, m.level_1), (2, m.level_2)].into_iter().filter(|(_, n)| *n > 0) {
        out.push_str(&format!(
            "(n/a: {missing} of {} modules have no level {level} cache, so no layout with level {level} is projected; compile it to see them)\n",
            t.modules
        ));
    }
    out
}

/// The human form of `check`: one line per finding, `ITEM: PATH: KIND: DETAIL`.
pub fn check_line(f: &Finding) -> String {
    let path = quote(Path::new(OsStr::from_bytes(&f.raw_path)));
    format!("{}: {path}: {}: {}\n", f.item, f.kind.as_str(), f.detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows of differing widths, one named with bytes that are not UTF-8.
    fn rows(n: u64) -> Vec<ItemRow> {
        (0..n)
            .map(|i| {
                let mut stats = Stats { modules: i * i, caches: 3 * i, cache_bytes: i << (i % 40), ..Stats::default() };
                stats.bytes.level_0 = i * 1000;
                stats.layouts.shipped = i * 5;
                let name = format!("python3-n{}-{i}.noarch.rpm", "é".repeat((i % 7) as usize));
                ItemRow {
                    path: format!("/repo/{name}"),
                    path_bytes: (i == 3).then(|| b"/repo/\xff.rpm".to_vec()),
                    kind: ItemKind::Package,
                    layout_change_percent: LayoutChanges::of(&stats.layouts),
                    name,
                    stats,
                }
            })
            .collect()
    }

    /// The report as [`StatsRows`] writes it, and whether its rows went to a temporary file.
    fn streamed(format: StatsFormat, rows: &[ItemRow], total: &Stats, errors: &[String]) -> (String, bool) {
        let mut set_aside = StatsRows::new(format);
        for row in rows {
            set_aside.push(row).unwrap();
        }
        let on_disk = set_aside.spill.on_disk();
        let mut out = Vec::new();
        set_aside.write_report(total, errors, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), on_disk)
    }

    #[test]
    fn rows_set_aside_make_the_report_that_holding_them_makes() {
        let total = Stats { caches: 7, cache_bytes: 1 << 33, ..Stats::default() };
        let errors = vec!["/repo/bad.rpm: not an rpm package (no rpm lead)".to_string()];
        // 3,000 rows are past what stays in memory: they go through a temporary file.
        for (n, on_disk) in [(0, false), (1, false), (40, false), (3000, true)] {
            let rows = rows(n);
            let (json, json_on_disk) = streamed(StatsFormat::Json, &rows, &total, &errors);
            assert_eq!(json_on_disk, on_disk, "{n} rows");
            let (text, _) = streamed(StatsFormat::Text, &rows, &total, &errors);
            let (items, errors_kept) = (rows, errors.clone());
            let report = StatsReport {
                total: total.clone(),
                layout_change_percent: LayoutChanges::of(&total.layouts),
                items,
                errors: errors_kept,
            };
            assert_eq!(json, serde_json::to_string(&report).unwrap() + "\n", "{n} rows");
            // The table as one piece: the header, every row, a total when there are several.
            let mut table_rows = vec![STATS_HEADER.map(String::from).to_vec()];
            table_rows.extend(report.items.iter().map(|row| stats_cells(row.name.clone(), &row.stats)));
            if n > 1 {
                table_rows.push(stats_cells(format!("TOTAL ({n} items)"), &total));
            }
            let whole = table(&table_rows) + &format!("error: {}\n", errors[0]) + &totals_text(&total);
            assert_eq!(text, whole, "{n} rows");
        }
    }

    #[test]
    fn tables_align_numbers_right() {
        let rows = vec![vec!["A".to_string(), "1".into()], vec!["long name".to_string(), "100".into()]];
        assert_eq!(table(&rows), "A            1\nlong name  100\n");
    }

    #[test]
    fn changes_are_signed_and_zero_without_a_reference() {
        assert_eq!(percent_change(75, 100), -25.0);
        assert_eq!(percent_change(120, 100), 20.0);
        assert_eq!(percent_change(5, 0), 0.0);
        assert_eq!(signed_size(1, 2049), "-2.0 KiB");
        assert_eq!(signed_size(7, 7), "+0 B");
    }
}

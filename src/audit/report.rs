//! Report rendering: the aligned tables and JSON objects of `stats` and `check`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use crate::error::Error;
use crate::render::{quote, units::human_bytes};
use super::analysis::{Layouts, Stats};
use super::findings::Finding;
use super::model::{Inventory, ItemKind};

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
        let raw = inventory.location.as_os_str().as_bytes();
        ItemRow {
            name: inventory.name.clone(),
            kind: inventory.kind,
            path: inventory.location.to_string_lossy().into_owned(),
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
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..columns).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
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
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
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

/// The human form of `stats`: a row per item and a total, identical pairs, then the installed
/// size of each layout against what is shipped now.
pub fn stats_text(report: &StatsReport) -> String {
    let header = ["ITEM", "MODULES", "CACHES", "SOURCES", "LEVEL 0", "LEVEL 1", "LEVEL 2", "OTHER", "CACHES (DISK)", "LINKED", "LINKABLE"];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for item in &report.items {
        rows.push(stats_cells(item.name.clone(), &item.stats));
    }
    if report.items.len() > 1 {
        rows.push(stats_cells(format!("TOTAL ({} items)", report.items.len()), &report.total));
    }
    let mut out = table(&rows);
    for error in &report.errors {
        out.push_str(&format!("error: {error}\n"));
    }
    let t = &report.total;
    let i = &t.identical;
    out.push_str(&format!(
        "\nidentical caches (modules): 0/1 {}, 1/2 {}, 0/2 {}, all three {} (of {} modules)\n\n",
        i.pairs_0_1, i.pairs_1_2, i.pairs_0_2, i.triples, t.modules
    ));
    let l = &t.layouts;
    // Two references: the items as they are, and all levels linked in one package (the
    // status quo that distributions and Fedora's change proposal compare layouts with).
    let mut layout_rows =
        vec![["LAYOUT", "INSTALLED", "VS SHIPPED", "%", "VS ALL LINKED", "%"].iter().map(|s| s.to_string()).collect::<Vec<_>>()];
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
pub fn check_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let path = quote(Path::new(OsStr::from_bytes(&f.raw_path)));
        out.push_str(&format!("{}: {path}: {}: {}\n", f.item, f.kind.as_str(), f.detail));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

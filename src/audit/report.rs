//! Report rendering: the aligned tables and JSON objects of `stats` and `check`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

use super::analysis::Stats;
use super::findings::Finding;
use super::model::{Inventory, ItemKind};
use crate::error::Error;
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
}

impl ItemRow {
    pub fn new(inventory: &Inventory, stats: Stats) -> ItemRow {
        let raw = inventory.location.as_os_str().as_bytes();
        ItemRow {
            name: inventory.name.clone(),
            kind: inventory.kind,
            path: inventory.location.to_string_lossy().into_owned(),
            path_bytes: (!super::model::is_utf8(raw)).then(|| raw.to_vec()),
            stats,
        }
    }
}

/// `stats --json`: the totals at the top level (the contract's integer keys), then the rows.
#[derive(Debug, Serialize)]
pub struct StatsReport {
    #[serde(flatten)]
    pub total: Stats,
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
        human_bytes(b.level_2 + b.other_levels),
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
    let change = |size: u64| -> (String, String) {
        let delta = size as i128 - l.shipped as i128;
        let sign = if delta < 0 { "-" } else { "+" };
        let percent = if l.shipped == 0 { 0.0 } else { delta as f64 * 100.0 / l.shipped as f64 };
        (format!("{sign}{}", human_bytes(delta.unsigned_abs() as u64)), format!("{percent:+.2} %"))
    };
    let mut layout_rows = vec![vec!["LAYOUT".to_string(), "INSTALLED".into(), "CHANGE".into(), "%".into()]];
    for (name, size) in [
        ("as shipped", l.shipped),
        ("all levels, linked in one package", l.all_linked),
        ("level 0 only", l.opt_0_only),
        ("levels 0 and 1, linked", l.levels_0_1),
        ("split 0,1,2 (no links across)", l.split_0_1_2),
        ("no caches", l.no_caches),
    ] {
        let (delta, percent) = change(size);
        layout_rows.push(vec![name.to_string(), human_bytes(size), delta, percent]);
    }
    out.push_str(&table(&layout_rows));
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
}

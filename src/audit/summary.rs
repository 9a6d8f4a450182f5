//! The totals of a `stats` run that goes item by item (a mirror's packages): summed as each
//! row comes, with the few rows worth naming kept, so that nothing grows with the item count.

use serde::Serialize;

use super::analysis::Stats;
use super::report::{ItemRow, LayoutChanges};

/// How many of the largest items (by bytes of caches) the summary names.
pub const LARGEST_KEPT: usize = 10;

/// One of the largest items, by the bytes its caches take on disk.
#[derive(Clone, Debug, Serialize)]
pub struct LargeItem {
    pub name: String,
    pub path: String,
    pub caches: u64,
    pub cache_bytes: u64,
    /// What linking identical caches of each module inside it would save.
    pub linkable_bytes: u64,
}

/// The totals so far.
#[derive(Debug, Default)]
pub struct Summary {
    pub total: Stats,
    pub items: u64,
    /// Items that install at least one cache.
    pub items_with_caches: u64,
    /// Items that could not be read (with `--keep-going`).
    pub errors: u64,
    /// The largest items so far, largest first; at most [`LARGEST_KEPT`].
    largest: Vec<LargeItem>,
}

impl Summary {
    /// Counts one item's row in; `None` when a total no longer fits in 64 bits (the totals are
    /// then partly added: an error, never a number).
    #[must_use]
    pub fn add(&mut self, row: &ItemRow) -> Option<()> {
        let stats = &row.stats;
        self.total.checked_add(stats)?;
        self.items += 1;
        if stats.caches > 0 {
            self.items_with_caches += 1;
            self.keep_if_large(row);
        }
        Some(())
    }

    fn keep_if_large(&mut self, row: &ItemRow) {
        let bytes = row.stats.cache_bytes;
        // Ties keep the item seen first, so two runs over the same items name the same ten.
        let at = self.largest.iter().position(|kept| kept.cache_bytes < bytes).unwrap_or(self.largest.len());
        if at < LARGEST_KEPT {
            let stats = &row.stats;
            let large = LargeItem {
                name: row.name.clone(),
                path: row.path.clone(),
                caches: stats.caches,
                cache_bytes: bytes,
                linkable_bytes: stats.linkable_bytes,
            };
            self.largest.insert(at, large);
            self.largest.truncate(LARGEST_KEPT);
        }
    }

    pub fn largest(&self) -> &[LargeItem] {
        &self.largest
    }

    /// The closing record of `stats --json-lines`.
    pub fn record(&self) -> SummaryRecord<'_> {
        SummaryRecord {
            record: "summary",
            items: self.items,
            items_with_caches: self.items_with_caches,
            errors: self.errors,
            total: &self.total,
            layout_change_percent: LayoutChanges::of(&self.total.layouts),
            layout_savings: LayoutSavings::of(&self.total),
            largest: &self.largest,
        }
    }
}

/// The last line of `stats --json-lines`: the totals with the keys of `stats --json`, then
/// what the items add up to.
#[derive(Debug, Serialize)]
pub struct SummaryRecord<'a> {
    pub record: &'static str,
    pub items: u64,
    pub items_with_caches: u64,
    pub errors: u64,
    #[serde(flatten)]
    pub total: &'a Stats,
    pub layout_change_percent: LayoutChanges,
    pub layout_savings: LayoutSavings,
    pub largest: &'a [LargeItem],
}

/// Bytes each layout saves (negative: costs) against all levels linked in one package, the
/// status quo, summed over the items: what a distribution would save by moving to it. `None`
/// (JSON `null`) for a layout that needs a level some item has no cache of.
#[derive(Debug, Serialize)]
pub struct LayoutSavings {
    pub opt_0_only: Option<i128>,
    pub levels_0_1: Option<i128>,
    pub split_0_1: Option<i128>,
    pub split_0_1_2: Option<i128>,
    pub no_caches: i128,
}

impl LayoutSavings {
    fn of(total: &Stats) -> LayoutSavings {
        let l = &total.layouts;
        let saved = |size: u64| i128::from(l.all_linked) - i128::from(size);
        let projected = |size: Option<u64>| size.map(saved);
        LayoutSavings {
            opt_0_only: projected(l.opt_0_only),
            levels_0_1: projected(l.levels_0_1),
            split_0_1: projected(l.split_0_1),
            split_0_1_2: projected(l.split_0_1_2),
            no_caches: saved(l.no_caches),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::model::ItemKind;

    fn row(name: &str, caches: u64, cache_bytes: u64) -> ItemRow {
        let stats = Stats { caches, cache_bytes, ..Stats::default() };
        ItemRow {
            name: name.into(),
            kind: ItemKind::Package,
            path: format!("/repo/{name}"),
            path_bytes: None,
            layout_change_percent: LayoutChanges::of(&stats.layouts),
            stats,
        }
    }

    #[test]
    fn keeps_the_ten_largest_first_come_first_on_ties() {
        let mut summary = Summary::default();
        for i in 0..30u64 {
            summary.add(&row(&format!("p{i}"), 1, (i % 15) * 100)).unwrap();
        }
        summary.add(&row("none", 0, 0)).unwrap();
        let names: Vec<&str> = summary.largest().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["p14", "p29", "p13", "p28", "p12", "p27", "p11", "p26", "p10", "p25"]);
        assert_eq!(
            (summary.items, summary.items_with_caches, summary.total.cache_bytes),
            (31, 30, 2 * 100 * (0..15).sum::<u64>())
        );
    }
}

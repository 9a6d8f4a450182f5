//! Analysis: from an inventory to the figures of `stats` and the unlinked duplicates that
//! `check` reports, written once for trees and packages.

// Keys are inode numbers and small tuples of them, from one package or tree: the Fx hash is
// several times faster than SipHash there, and no key comes from an adversary who gains by
// collisions more than a slower run.
use rustc_hash::FxHashMap as HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::layout_sizes::LayoutSizes;
use super::model::{Content, FileRecord, Inventory, ItemKind, Storage};
use crate::error::Error;
use crate::link::classify::{classify, Level, Scheme};
use crate::link::compare::same_bytes;
use crate::link::layout::Layout;
use crate::link::plan::{verdict, Verdict};

/// The installed caches of one module (directory, scheme, stem, tag) in one inventory.
#[derive(Debug)]
pub struct ModuleCaches<'a> {
    /// The directory holding the caches, as installed.
    pub dir: &'a [u8],
    pub scheme: Scheme,
    pub stem: &'a [u8],
    pub tag: &'a [u8],
    /// (level, index into the inventory's files), lowest level first.
    pub caches: Vec<(Level, usize)>,
}

impl ModuleCaches<'_> {
    /// Where the module's source is installed: `../stem.py` for `__pycache__`, `stem.py`
    /// beside a Python 2 cache.
    pub fn source_path(&self) -> Vec<u8> {
        let dir = match self.scheme {
            Scheme::Pep3147 => super::model::split_path(self.dir).0,
            Scheme::Legacy => self.dir,
        };
        let mut path = dir.to_vec();
        path.push(b'/');
        path.extend_from_slice(self.stem);
        path.extend_from_slice(b".py");
        path
    }
}

/// Gathers the installed regular caches of an inventory into modules, in path order.
pub fn modules(inventory: &Inventory) -> Vec<ModuleCaches<'_>> {
    // (directory, scheme, stem, tag): what makes caches the same module.
    type ModuleKey<'a> = (&'a [u8], Scheme, &'a [u8], &'a [u8]);
    let mut found: Vec<(ModuleKey<'_>, Level, usize)> = Vec::new();
    for (index, file) in inventory.files.iter().enumerate() {
        if !file.is_installed_regular() {
            continue;
        }
        let (dir, name) = file.split();
        let parent = super::model::split_path(dir).1;
        if let Some(class) = classify(parent, name) {
            found.push(((dir, class.scheme, class.stem(name), class.tag(name)), class.level, index));
        }
    }
    // The files are sorted by path, so their caches come in key order but for a few
    // neighbours (`a-b` sorts before `a.` as a path, after `a` as a stem): the stable sort
    // takes such runs in one pass, where a map would compare every key on its way in.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
        .chunk_by(|a, b| a.0 == b.0)
        .map(|same_module| {
            let ((dir, scheme, stem, tag), _, _) = same_module[0];
            let mut caches: Vec<(Level, usize)> =
                same_module.iter().map(|(_, level, index)| (level.clone(), *index)).collect();
            caches.sort();
            ModuleCaches { dir, scheme, stem, tag, caches }
        })
        .collect()
}

/// Whether two files hold the same bytes: one stored copy, or equal size and then equal
/// digest (package) or equal bytes on disk (tree).
pub fn same_content(a: &FileRecord, b: &FileRecord) -> Result<bool, Error> {
    if a.storage == b.storage {
        return Ok(true);
    }
    if a.size != b.size {
        return Ok(false);
    }
    match (&a.content, &b.content) {
        (Content::Digest(x), Content::Digest(y)) => Ok(!x.is_empty() && x == y),
        (Content::OnDisk(x), Content::OnDisk(y)) => same_bytes(x, y),
        _ => Ok(false),
    }
}

/// A cache that holds the same bytes as a lower level of its module, with the same mode and
/// owner, in a separate stored copy: linking it would save `bytes`.
#[derive(Clone, Debug)]
pub struct Unlinked {
    /// Indexes into the inventory's files: the file to keep (lowest level) and the duplicate.
    pub keep: usize,
    pub duplicate: usize,
    pub bytes: u64,
}

/// Bytes per kind of file, each path counted in full (as if nothing were linked).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bytes {
    pub sources: u64,
    pub level_0: u64,
    pub level_1: u64,
    pub level_2: u64,
    /// Caches with another `opt-` suffix.
    pub other_levels: u64,
    pub other_files: u64,
}

/// Modules whose caches at two (or all three) levels hold the same bytes. A triple also
/// counts as each of its three pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Identical {
    pub pairs_0_1: u64,
    pub pairs_1_2: u64,
    pub pairs_0_2: u64,
    pub triples: u64,
}

/// Installed size (regular files, each stored copy once) under each way of shipping caches.
/// A layout that needs a level some module has no cache of is `None` (`null` in JSON): it
/// cannot be projected from these caches (Fedora compiles levels 0 and 1 only, so a size of
/// "split 0,1,2" would count level 2 as free).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layouts {
    /// As the tree or package is now.
    pub shipped: u64,
    /// One package, every identical set of caches of a module linked.
    pub all_linked: u64,
    /// Only level 0 caches.
    pub opt_0_only: Option<u64>,
    /// Levels 0 and 1 in one package, their identical pairs linked.
    pub levels_0_1: Option<u64>,
    /// Levels 0, 1 and 2 in three subpackages: nothing links across, every cache in full.
    pub split_0_1_2: Option<u64>,
    /// No caches at all.
    pub no_caches: u64,
    /// Levels 0 and 1 in two subpackages, both installed: every cache of the two levels in
    /// full (the "levels 0 and 1" of Fedora's change proposal).
    pub split_0_1: Option<u64>,
}

/// Nothing yet, and every layout projectable: the start of a sum.
impl Default for Layouts {
    fn default() -> Layouts {
        Layouts {
            shipped: 0,
            all_linked: 0,
            opt_0_only: Some(0),
            levels_0_1: Some(0),
            split_0_1_2: Some(0),
            no_caches: 0,
            split_0_1: Some(0),
        }
    }
}

/// How many modules have no cache at each level (a Python 2 module has no level 2: its `.pyo`
/// serves `-O` and `-OO`). The layouts that need such a level are not projected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MissingLevels {
    pub level_0: u64,
    pub level_1: u64,
    pub level_2: u64,
}

impl MissingLevels {
    /// The size of a layout that ships `levels`, when every module has a cache at each of them.
    fn project(&self, levels: &[u8], size: impl FnOnce() -> u64) -> Option<u64> {
        let missing = [self.level_0, self.level_1, self.level_2];
        levels.iter().all(|&l| missing[usize::from(l)] == 0).then(size)
    }
}

/// The figures of `stats` for one inventory, or summed over several.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Installed cache paths.
    pub caches: u64,
    /// Bytes of the installed caches, each stored copy once.
    pub cache_bytes: u64,
    /// Bytes that links between caches already save.
    pub linked_bytes: u64,
    /// Bytes that linking identical caches of each module (inside the package) would save.
    pub linkable_bytes: u64,
    pub modules: u64,
    /// `.py` files installed.
    pub sources: u64,
    /// Caches listed as `%ghost`: owned, not shipped, not counted above.
    pub ghost_caches: u64,
    pub bytes: Bytes,
    pub identical: Identical,
    /// Modules without a cache at each level.
    pub missing_levels: MissingLevels,
    pub layouts: Layouts,
}

impl Bytes {
    /// All the byte columns together; `None` when that does not fit in 64 bits.
    pub fn total(&self) -> Option<u64> {
        [self.sources, self.level_0, self.level_1, self.level_2, self.other_levels, self.other_files]
            .into_iter()
            .try_fold(0u64, u64::checked_add)
    }
}

impl Stats {
    /// Adds the figures of another item to these: `None` when a sum, or all byte columns of
    /// the result together, do not fit in 64 bits (the figures are then partly added: a
    /// total that does not fit is an error, never a number).
    pub fn checked_add(&mut self, o: &Stats) -> Option<()> {
        let (b, ob, i, oi, l, ol) =
            (&mut self.bytes, &o.bytes, &mut self.identical, &o.identical, &mut self.layouts, &o.layouts);
        let sums = [
            (&mut self.caches, o.caches),
            (&mut self.cache_bytes, o.cache_bytes),
            (&mut self.linked_bytes, o.linked_bytes),
            (&mut self.linkable_bytes, o.linkable_bytes),
            (&mut self.modules, o.modules),
            (&mut self.sources, o.sources),
            (&mut self.ghost_caches, o.ghost_caches),
            (&mut b.sources, ob.sources),
            (&mut b.level_0, ob.level_0),
            (&mut b.level_1, ob.level_1),
            (&mut b.level_2, ob.level_2),
            (&mut b.other_levels, ob.other_levels),
            (&mut b.other_files, ob.other_files),
            (&mut i.pairs_0_1, oi.pairs_0_1),
            (&mut i.pairs_1_2, oi.pairs_1_2),
            (&mut i.pairs_0_2, oi.pairs_0_2),
            (&mut i.triples, oi.triples),
            (&mut self.missing_levels.level_0, o.missing_levels.level_0),
            (&mut self.missing_levels.level_1, o.missing_levels.level_1),
            (&mut self.missing_levels.level_2, o.missing_levels.level_2),
            (&mut l.shipped, ol.shipped),
            (&mut l.all_linked, ol.all_linked),
            (&mut l.no_caches, ol.no_caches),
        ];
        for (sum, add) in sums {
            *sum = sum.checked_add(add)?;
        }
        // A projection one item cannot make (a level it has no cache of) is not made for the
        // total either; one that all items make must fit like every other sum.
        let projections = [
            (&mut l.opt_0_only, ol.opt_0_only),
            (&mut l.levels_0_1, ol.levels_0_1),
            (&mut l.split_0_1_2, ol.split_0_1_2),
            (&mut l.split_0_1, ol.split_0_1),
        ];
        for (sum, add) in projections {
            *sum = match (*sum, add) {
                (Some(a), Some(b)) => Some(a.checked_add(b)?),
                _ => None,
            };
        }
        self.bytes.total().map(|_| ())
    }
}

/// Everything the analysis of one inventory found.
#[derive(Debug, Default)]
pub struct Analysis {
    pub stats: Stats,
    pub unlinked: Vec<Unlinked>,
    /// Files that could not be compared (trees only: a file vanished or is unreadable).
    pub errors: Vec<Error>,
}

/// Computes the figures of one inventory.
pub fn analyse(inventory: &Inventory) -> Analysis {
    analyse_in_layout(inventory, &Layout::all_in_one())
}

/// [`analyse`], with the unlinked duplicates of `layout`: only caches of levels that ship
/// together (one group of the layout) are a duplicate of each other, as `link --layout` links
/// them. The figures of `stats` are the same for every layout.
pub fn analyse_in_layout(inventory: &Inventory, layout: &Layout) -> Analysis {
    let (sums, unlinked, errors) = sums_in_layout(inventory, layout);
    Analysis { stats: sums.finish(), unlinked, errors }
}

/// The [`Sums`] of one inventory, and the errors met: parts of one installation (`stats
/// --together`) add theirs up.
pub fn analyse_sums(inventory: &Inventory) -> (Sums, Vec<Error>) {
    let (sums, _, errors) = sums_in_layout(inventory, &Layout::all_in_one());
    (sums, errors)
}

/// The figures of `stats` that add up across the parts of an installation, and the three that
/// are differences of them, made once the parts are added up ([`Sums::finish`]): a part whose
/// hardlink set gives its names different sizes must not move the total by more than its bytes.
#[derive(Clone, Debug, Default)]
pub struct Sums {
    /// The figures, `linked_bytes`, `linkable_bytes` and `layouts.all_linked` still 0.
    pub stats: Stats,
    /// Bytes of the installed cache paths, each path counted in full.
    pub cache_path_bytes: u64,
    /// Bytes the caches take in one package with the identical caches of each module linked.
    pub all_one_package: u64,
}

impl Sums {
    /// Adds the sums of another part: `None` when one no longer fits in 64 bits.
    pub fn checked_add(&mut self, other: &Sums) -> Option<()> {
        self.stats.checked_add(&other.stats)?;
        self.cache_path_bytes = self.cache_path_bytes.checked_add(other.cache_path_bytes)?;
        self.all_one_package = self.all_one_package.checked_add(other.all_one_package)?;
        Some(())
    }

    /// The figures, with those that are differences of the sums.
    pub fn finish(self) -> Stats {
        let mut stats = self.stats;
        stats.linked_bytes = self.cache_path_bytes.saturating_sub(stats.cache_bytes);
        stats.linkable_bytes = stats.cache_bytes.saturating_sub(self.all_one_package);
        stats.layouts.all_linked = stats.layouts.shipped.saturating_sub(stats.linkable_bytes);
        stats
    }
}

/// [`analyse_in_layout`], before the figures that are differences of sums.
fn sums_in_layout(inventory: &Inventory, layout: &Layout) -> (Sums, Vec<Unlinked>, Vec<Error>) {
    let files = &inventory.files;
    let modules = modules(inventory);
    let compared = compare_modules(inventory, &modules, layout);
    let copies = StoredCopies::of(files);
    let mut analysis = Analysis { unlinked: compared.unlinked, errors: compared.errors, ..Analysis::default() };
    let stats = &mut analysis.stats;
    stats.modules = modules.len() as u64;
    stats.identical = compared.identical;

    let mut is_cache = vec![false; files.len()];
    for module in &modules {
        let lacks = |level: Level| u64::from(!module.caches.iter().any(|(l, _)| *l == level));
        stats.missing_levels.level_0 += lacks(Level::Zero);
        stats.missing_levels.level_1 += lacks(Level::One);
        if module.scheme == Scheme::Pep3147 {
            stats.missing_levels.level_2 += lacks(Level::Two);
        }
        for (level, index) in &module.caches {
            is_cache[*index] = true;
            let size = files[*index].size;
            match level {
                Level::Zero => stats.bytes.level_0 += size,
                Level::One => stats.bytes.level_1 += size,
                Level::Two => stats.bytes.level_2 += size,
                Level::Other(_) => stats.bytes.other_levels += size,
            }
        }
    }
    // Which sums each stored copy is in already: each counts once in a sum, at the size of
    // its first file (the names of one copy have one size on disk, and a package whose header
    // says otherwise must not make a layout exceed what is shipped).
    const SHIPPED: u8 = 1;
    const CACHES: u8 = 2;
    const OTHER_FILES: u8 = 4;
    let mut counted = vec![0u8; copies.size.len()];
    // A stored copy shared by a cache and another file is a cache's: counting it on both
    // sides would make a layout larger than what is shipped.
    for (_, index) in modules.iter().flat_map(|m| &m.caches) {
        counted[copies.of_file[*index]] |= OTHER_FILES;
    }
    let mut cache_path_bytes = 0;
    for (index, file) in files.iter().enumerate() {
        if file.ghost && is_cache_name(file) {
            stats.ghost_caches += 1;
        }
        if !file.is_installed_regular() {
            continue;
        }
        let copy = copies.of_file[index];
        let stored_size = copies.size[copy];
        let mut count_once = |sum: &mut u64, flag: u8| {
            if counted[copy] & flag == 0 {
                counted[copy] |= flag;
                *sum += stored_size;
            }
        };
        count_once(&mut stats.layouts.shipped, SHIPPED);
        if is_cache[index] {
            stats.caches += 1;
            cache_path_bytes += file.size;
            count_once(&mut stats.cache_bytes, CACHES);
        } else {
            if file.path.ends_with(b".py") {
                stats.sources += 1;
                stats.bytes.sources += file.size;
            } else {
                stats.bytes.other_files += file.size;
            }
            count_once(&mut stats.layouts.no_caches, OTHER_FILES);
        }
    }

    // Sizes from the stored copies (each counted once across the whole inventory, as the
    // disk and rpm count them), so that no layout can come out larger than what it is made of.
    let module_caches: Vec<&[(Level, usize)]> = modules.iter().map(|m| m.caches.as_slice()).collect();
    let mut sizes = LayoutSizes::new(&module_caches, &compared.classes, &copies.of_file, &copies.size);
    let all_one_package = sizes.packaged_bytes(&|_| Some(0));
    let no_caches = stats.layouts.no_caches;
    let mut packaged =
        |package_of: &dyn Fn(u32) -> Option<u32>| no_caches.saturating_add(sizes.packaged_bytes(package_of));
    let missing = &stats.missing_levels;
    // Packages are named by the level slot of their lowest level ([`LayoutSizes`]).
    stats.layouts.opt_0_only = missing.project(&[0], || packaged(&|slot| (slot == 0).then_some(0)));
    stats.layouts.levels_0_1 = missing.project(&[0, 1], || packaged(&|slot| (slot <= 1).then_some(0)));
    stats.layouts.split_0_1_2 = missing.project(&[0, 1, 2], || packaged(&Some));
    // Levels 0 and 1 in two subpackages, both installed: each level is a package of its own.
    stats.layouts.split_0_1 = missing.project(&[0, 1], || packaged(&|slot| (slot <= 1).then_some(slot)));
    let Analysis { stats, unlinked, errors } = analysis;
    (Sums { stats, cache_path_bytes, all_one_package }, unlinked, errors)
}

/// The stored copies of an inventory's installed regular files, numbered from 0 in the order
/// of their first file: sums and layouts then count each copy in arrays, not hash sets.
struct StoredCopies {
    /// The copy of each file (by index into the files); only installed regular files have one.
    of_file: Vec<usize>,
    /// The size of each copy: that of its first file.
    size: Vec<u64>,
}

impl StoredCopies {
    fn of(files: &[FileRecord]) -> StoredCopies {
        let mut number: HashMap<Storage, usize> = HashMap::with_capacity_and_hasher(files.len(), Default::default());
        let mut copies = StoredCopies { of_file: vec![usize::MAX; files.len()], size: Vec::with_capacity(files.len()) };
        for (index, file) in files.iter().enumerate().filter(|(_, f)| f.is_installed_regular()) {
            let next = copies.size.len();
            let copy = *number.entry(file.storage).or_insert(next);
            if copy == next {
                copies.size.push(file.size);
            }
            copies.of_file[index] = copy;
        }
        copies
    }
}

/// What comparing the caches of every module found.
#[derive(Default)]
struct Compared {
    identical: Identical,
    /// For each cache, module after module in the order of [`ModuleCaches::caches`]: the
    /// first (lowest-level) cache of its module that it could be linked to, as an index into
    /// that module's caches.
    classes: Vec<usize>,
    unlinked: Vec<Unlinked>,
    errors: Vec<Error>,
}

impl Compared {
    /// Appends what the modules after these found.
    fn extend(&mut self, next: Compared) {
        let (i, n) = (&mut self.identical, &next.identical);
        (i.pairs_0_1, i.pairs_1_2, i.pairs_0_2, i.triples) =
            (i.pairs_0_1 + n.pairs_0_1, i.pairs_1_2 + n.pairs_1_2, i.pairs_0_2 + n.pairs_0_2, i.triples + n.triples);
        self.classes.extend(next.classes);
        self.unlinked.extend(next.unlinked);
        self.errors.extend(next.errors);
    }
}

/// Compares the caches of each module. A package's caches are compared by their header
/// digests, which costs little beside reading the header, so its modules go one after the
/// other (a mirror's packages are read in parallel already); a tree's caches are read from
/// disk, where its time goes, so its modules are compared in parallel.
fn compare_modules(inventory: &Inventory, modules: &[ModuleCaches<'_>], layout: &Layout) -> Compared {
    let files = &inventory.files;
    if inventory.kind == ItemKind::Package {
        let (mut compared, mut scratch) = (Compared::default(), Scratch::default());
        compared.classes.reserve(modules.iter().map(|m| m.caches.len()).sum());
        for module in modules {
            compare_module(files, module, layout, &mut scratch, &mut compared);
        }
        return compared;
    }
    let per_module: Vec<Compared> = modules
        .par_iter()
        .map_init(Scratch::default, |scratch, module| {
            let mut compared = Compared::default();
            compare_module(files, module, layout, scratch, &mut compared);
            compared
        })
        .collect();
    per_module.into_iter().fold(Compared::default(), |mut all, next| {
        all.extend(next);
        all
    })
}

/// Buffers [`compare_module`] reuses from one module to the next.
#[derive(Default)]
struct Scratch {
    /// `n * n` flags for the `n` caches of a module: which pairs hold the same bytes.
    identical: Vec<bool>,
    /// Each cache's class inside the layout's groups.
    layout_class: Vec<usize>,
}

/// Compares the caches of one module pairwise (at most a handful per module) and appends
/// their classes, pairs and unlinked duplicates to `out`.
fn compare_module(
    files: &[FileRecord],
    module: &ModuleCaches<'_>,
    layout: &Layout,
    scratch: &mut Scratch,
    out: &mut Compared,
) {
    let caches = &module.caches;
    let n = caches.len();
    let file = |i: usize| &files[caches[i].1];
    let identical = &mut scratch.identical;
    identical.clear();
    identical.resize(n * n, false);
    for i in 0..n {
        identical[i * n + i] = true;
        for j in i + 1..n {
            match same_content(file(i), file(j)) {
                Ok(same) => (identical[i * n + j], identical[j * n + i]) = (same, same),
                Err(e) => {
                    // Counted as they are, none linkable.
                    out.classes.extend(0..n);
                    out.errors.push(e);
                    return;
                }
            }
        }
    }
    let identical = &scratch.identical;
    let linkable = |i: usize, j: usize| {
        let (a, b) = (file(i), file(j));
        a.storage == b.storage
            || matches!(verdict(a.link_traits(), b.link_traits(), || Ok(identical[i * n + j])), Ok(Verdict::Linkable))
    };
    // Each cache's class: the first (lowest-level) cache it could be linked to; and the same
    // inside the layout's groups, for the duplicates (levels of different groups ship in
    // different subpackages and are kept apart on purpose).
    out.classes.extend((0..n).map(|i| (0..=i).find(|&j| linkable(j, i)).unwrap_or(i)));
    let group = |i: usize| layout.group_of(&caches[i].0);
    let ship_together = |j: usize, i: usize| group(j).is_some() && group(j) == group(i);
    let layout_class = &mut scratch.layout_class;
    layout_class.clear();
    layout_class
        .extend((0..n).map(|i| (0..=i).find(|&j| j == i || (ship_together(j, i) && linkable(j, i))).unwrap_or(i)));
    for i in 0..n {
        // The first name of a stored copy in its class is the duplicate; more names of that
        // copy are linked to it already.
        let first_copy_in_class =
            !(0..i).any(|k| layout_class[k] == layout_class[i] && file(k).storage == file(i).storage);
        if first_copy_in_class && layout_class[i] != i {
            out.unlinked.push(Unlinked {
                keep: caches[layout_class[i]].1,
                duplicate: caches[i].1,
                bytes: file(i).size,
            });
        }
    }
    let at = |level: &Level| caches.iter().position(|(l, _)| l == level);
    let (zero, one, two) = (at(&Level::Zero), at(&Level::One), at(&Level::Two));
    let same = |a: Option<usize>, b: Option<usize>| matches!((a, b), (Some(a), Some(b)) if identical[a * n + b]);
    let found = &mut out.identical;
    found.pairs_0_1 += u64::from(same(zero, one));
    found.pairs_1_2 += u64::from(same(one, two));
    found.pairs_0_2 += u64::from(same(zero, two));
    found.triples += u64::from(same(zero, one) && same(one, two));
}

fn is_cache_name(file: &FileRecord) -> bool {
    let (dir, name) = file.split();
    classify(super::model::split_path(dir).1, name).is_some()
}

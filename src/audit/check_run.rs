//! `check` over many items, a mirror's packages among them: each item is checked on its own as
//! it is read and then dropped. What only the other items settle waits in a compact index (the
//! first package to install each `.py` path, for the sources of caches in other packages; the
//! names of the packages, for bytecode subpackages without their owner), and the findings wait
//! in a temporary file until they can be written in order. Memory grows with that index, not
//! with the packages' files or findings.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::io::Write;
use std::path::PathBuf;

use super::findings::{
    bytecode_owner, check_item, hash_stale, missing_owner, no_source, source_mismatches, timestamp_stale, Checked,
    Finding, FindingKind, ItemChecked, SourceNeed,
};
use super::model::{resolve_link, FileKind, Inventory, ItemKind, MAX_SYMLINK_HOPS};
use super::pyc::Validation;
use super::report::ReportError;
use super::{package, Plan};
use crate::error::Error;
use crate::link::layout::Layout;
use crate::render::spill::Spill;

/// A path in the packages' namespace, as a 96-bit keyed hash: the index holds no path, and an
/// entry of it takes 24 bytes (a million sources, 50 to 75 MiB with the table's free room).
/// Two paths of one run share a key with a chance of about n² / 2^97 (below 10^-17 for a
/// million sources); the keys are drawn anew for each run, so no package can be made to
/// collide.
#[derive(Clone, Copy, PartialEq, Eq)]
struct PathKey([u32; 3]);

/// A [`HashMap`] hashes a [`PathKey`] by its first 64 bits: a keyed hash already.
impl std::hash::Hash for PathKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.0[0]) << 32 | u64::from(self.0[1]));
    }
}

/// The keys of one run's path hashes (see `PathKey`): drawn anew for each run.
#[derive(Clone)]
pub struct PathKeys(RandomState, RandomState);

impl PathKeys {
    fn new() -> PathKeys {
        PathKeys(RandomState::new(), RandomState::new())
    }

    fn of(&self, path: &[u8]) -> PathKey {
        let (a, b) = (self.0.hash_one(path), self.1.hash_one(path));
        PathKey([(a >> 32) as u32, a as u32, b as u32])
    }
}

/// The hasher of a `PathKey`: the 64 bits it is given.
#[derive(Default)]
struct KeyBits(u64);

impl Hasher for KeyBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not called for a `PathKey`; anything else still hashes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap<V> = HashMap<PathKey, V, BuildHasherDefault<KeyBits>>;

/// The first package of the run to install a path as a regular file, and the source's mtime
/// and size modulo 2**32 (all that a timestamp cache is compared with).
#[derive(Clone, Copy, Debug)]
struct SourceEntry {
    item: u32,
    mtime: u32,
    size: u32,
}

/// What a package adds to the index, found by the worker that checked it.
struct IndexEntries {
    /// Its installed regular files at `.py` paths.
    sources: Vec<(PathKey, u32, u32)>,
    /// Its installed symlinks at `.py` paths, with their targets.
    links: Vec<(PathKey, Box<[u8]>)>,
}

/// One item checked on its own, as a worker hands it to [`CheckRun::add`]: its findings in the
/// form they are set aside in (a third of the memory of [`Finding`]s, as many items wait
/// in order to be added).
pub struct Judged {
    findings: Vec<u8>,
    count: usize,
    errors: Vec<Error>,
    needs: Vec<SourceNeed>,
    name: String,
    location: PathBuf,
    kind: ItemKind,
    package_name: Option<String>,
    /// The first file of a bytecode subpackage (where a `no-owner` finding is named).
    first_path: Option<Vec<u8>>,
    index: IndexEntries,
}

/// Checks one item on its own (in a worker, in parallel with others): see [`check_item`].
pub fn judge(keys: &PathKeys, inventory: &Inventory, layout: &Layout) -> Judged {
    let ItemChecked { findings: found, errors, needs } = check_item(inventory, layout);
    let mut findings = Vec::new();
    for finding in &found {
        write_finding(&mut findings, finding).expect("writing to memory");
    }
    let mut index = IndexEntries { sources: Vec::new(), links: Vec::new() };
    if inventory.kind == ItemKind::Package {
        for file in inventory.files.iter().filter(|f| f.path.ends_with(b".py")) {
            if file.is_installed_regular() {
                index.sources.push((keys.of(&file.path), file.mtime as u32, file.size as u32));
            } else if file.kind == FileKind::Symlink && !file.ghost && !file.link_target.is_empty() {
                index.links.push((keys.of(&file.path), file.link_target.clone()));
            }
        }
    }
    let package_name = inventory.package_name.clone();
    let first_path = package_name
        .as_deref()
        .and_then(bytecode_owner)
        .map(|_| inventory.files.first().map(|f| f.path.clone()).unwrap_or_default());
    Judged {
        findings,
        count: found.len(),
        errors,
        needs,
        name: inventory.name.clone(),
        location: inventory.location.clone(),
        kind: inventory.kind,
        package_name,
        first_path,
        index,
    }
}

/// Where the items of a run can be read again: at the end, a few sources of hash-based
/// caches are read from the package that has them, and a symlink that leads out of the `.py`
/// paths needs the packages' other paths.
#[derive(Clone, Copy)]
pub enum Items<'a> {
    /// The paths named on the command line, planned as [`Plan::new`] does.
    Paths(&'a [PathBuf]),
    /// Inventories in memory, item `i` at index `i`.
    Inventories(&'a [Inventory]),
}

impl Items<'_> {
    /// Hands `look(inventory)` of every package that can be read to `found(item, ...)`, in
    /// order of items.
    fn scan_packages<T: Send>(
        self,
        look: impl Fn(&Inventory) -> T + Sync,
        mut found: impl FnMut(usize, T),
    ) -> Result<(), Error> {
        match self {
            Items::Inventories(inventories) => {
                for (item, inventory) in inventories.iter().enumerate() {
                    if inventory.kind == ItemKind::Package {
                        found(item, look(inventory));
                    }
                }
                Ok(())
            }
            Items::Paths(paths) => {
                let mut item = 0;
                Plan::new(paths).run(
                    |inventory| (inventory.kind == ItemKind::Package).then(|| look(&inventory)),
                    |result| -> Result<(), Error> {
                        if let Ok(Some(looked)) = result {
                            found(item, looked);
                        }
                        item += 1;
                        Ok(())
                    },
                )
            }
        }
    }
}

/// A hash-based cache whose source is in another package (or reached through a symlink),
/// read at the end.
struct Reread {
    source_item: u32,
    source: Vec<u8>,
    cache_item: u32,
    cache: Vec<u8>,
    magic: [u8; 4],
    hash: [u8; 8],
    checked: bool,
}

/// One item of the run: what its findings are written under, and where they wait.
struct ItemEntry {
    name: String,
    location: PathBuf,
    /// Its findings in the spill: `len` bytes from `start`, `count` findings.
    start: u64,
    len: u64,
    count: u32,
}

/// What a symlinked path outside the `.py` paths is in the packages' namespace, once the
/// packages were read again for it.
#[derive(Default)]
struct Held {
    regular: Option<SourceEntry>,
    link: Option<Box<[u8]>>,
}

/// Where a source path leads in the packages' namespace.
enum Resolved {
    Found(SourceEntry),
    Missing,
    /// A path the index does not cover (not a `.py` path): the packages must be read again.
    Unknown(Vec<u8>),
}

/// A run of `check`: items are added in order ([`CheckRun::add`]) and the report is made at
/// the end ([`CheckRun::finish`]).
pub struct CheckRun<'a> {
    items_again: Items<'a>,
    keys: PathKeys,
    sources: KeyMap<SourceEntry>,
    links: KeyMap<Box<[u8]>>,
    /// Paths outside the `.py` paths that symlinks lead to.
    other_paths: HashMap<Vec<u8>, Held>,
    items: Vec<ItemEntry>,
    spill: Spill,
    written: u64,
    /// Caches whose source no package up to theirs installs at its path: settled at the end.
    pending: Vec<(u32, SourceNeed)>,
    rereads: Vec<Reread>,
    /// Findings made after their item was set aside.
    late: Vec<(u32, Finding)>,
    names: HashSet<String>,
    /// Bytecode subpackages: (item, name, first file).
    subpackages: Vec<(u32, String, Vec<u8>)>,
    /// Errors of checking, with their item.
    errors: Vec<(u32, Error)>,
}

impl<'a> CheckRun<'a> {
    pub fn new(items_again: Items<'a>) -> CheckRun<'a> {
        CheckRun {
            items_again,
            keys: PathKeys::new(),
            sources: KeyMap::default(),
            links: KeyMap::default(),
            other_paths: HashMap::new(),
            items: Vec::new(),
            spill: Spill::default(),
            written: 0,
            pending: Vec::new(),
            rereads: Vec::new(),
            late: Vec::new(),
            names: HashSet::new(),
            subpackages: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The keys the workers index paths with ([`judge`]).
    pub fn keys(&self) -> PathKeys {
        self.keys.clone()
    }

    /// Adds item number `item` (items are numbered in the order of the run, errors included,
    /// and added in that order): its package's paths join the index, the sources of its
    /// caches are looked up among the packages so far, and its findings are set aside.
    pub fn add(&mut self, item: usize, judged: Judged) -> std::io::Result<()> {
        let item = u32::try_from(item).map_err(|_| std::io::Error::other("more than 2^32 items"))?;
        let Judged { findings: set_aside, count, errors, needs, name, location, kind, package_name, first_path, index } =
            judged;
        let mut findings = Vec::new();
        self.errors.extend(errors.into_iter().map(|e| (item, e)));
        if kind == ItemKind::Package {
            for (key, mtime, size) in index.sources {
                self.sources.entry(key).or_insert(SourceEntry { item, mtime, size });
            }
            for (key, target) in index.links {
                self.links.entry(key).or_insert(target);
            }
        }
        if let Some(package_name) = package_name {
            if let Some(first_path) = first_path {
                self.subpackages.push((item, package_name.clone(), first_path));
            }
            self.names.insert(package_name);
        }
        for need in needs {
            let entry = self.sources.get(&self.keys.of(&need.source)).copied();
            match entry {
                // This package is the first to install the source: the worker's verdict holds.
                Some(entry) if entry.item == item => {
                    if let Some(Some(detail)) = need.local {
                        findings.push(at(&name, need.cache, FindingKind::Stale, detail));
                    }
                }
                // An earlier package's source: no later package can come before it.
                Some(entry) => {
                    if let Some(finding) = self.against(item, &name, need, entry) {
                        findings.push(finding);
                    }
                }
                None => self.pending.push((item, need)),
            }
        }
        let start = self.written;
        self.spill.write_all(&set_aside)?;
        self.written += set_aside.len() as u64;
        for finding in &findings {
            self.written += write_finding(&mut self.spill, finding)?;
        }
        let count = u32::try_from(count + findings.len())
            .map_err(|_| std::io::Error::other("more than 2^32 findings in one item"))?;
        // Items that could not be read have a number and no entry.
        while self.items.len() < item as usize {
            self.items.push(ItemEntry { name: String::new(), location: PathBuf::new(), start, len: 0, count: 0 });
        }
        self.items.push(ItemEntry { name, location, start, len: self.written - start, count });
        Ok(())
    }

    /// The finding of a cache of `item` whose source is `entry`: a timestamp cache is
    /// compared now, a hash-based one waits for its source's bytes ([`CheckRun::rereads`]).
    fn against(&mut self, item: u32, name: &str, need: SourceNeed, entry: SourceEntry) -> Option<Finding> {
        let header = need.header?;
        match header.validation {
            Validation::Timestamp { mtime, size } => timestamp_stale(mtime, size, entry.mtime, entry.size)
                .map(|detail| at(name, need.cache, FindingKind::Stale, detail)),
            Validation::Hash { hash, checked } => {
                self.rereads.push(Reread {
                    source_item: entry.item,
                    source: need.source,
                    cache_item: item,
                    cache: need.cache,
                    magic: header.magic,
                    hash,
                    checked,
                });
                None
            }
        }
    }

    /// Where `path` leads in the packages' namespace, as [`super::model::PathIndex::find`]
    /// follows it: a regular file first, else a symlink's target.
    fn resolve(&self, path: &[u8]) -> Resolved {
        let mut path = path.to_vec();
        for _ in 0..MAX_SYMLINK_HOPS {
            let target = if path.ends_with(b".py") {
                let key = self.keys.of(&path);
                if let Some(entry) = self.sources.get(&key) {
                    return Resolved::Found(*entry);
                }
                self.links.get(&key)
            } else {
                let Some(held) = self.other_paths.get(&path) else { return Resolved::Unknown(path) };
                if let Some(entry) = held.regular {
                    return Resolved::Found(entry);
                }
                held.link.as_ref()
            };
            let Some(target) = target else { return Resolved::Missing };
            path = resolve_link(&path, target);
        }
        Resolved::Missing
    }

    /// Settles what waited for all items (sources in later packages or behind symlinks,
    /// sources read again, owners of bytecode subpackages) and gives the report.
    pub fn finish(mut self) -> Finished {
        let pending = std::mem::take(&mut self.pending);
        let mut resolved: Vec<Option<SourceEntry>> = Vec::with_capacity(pending.len());
        loop {
            resolved.clear();
            let mut unknown: HashSet<Vec<u8>> = HashSet::new();
            for (_, need) in &pending {
                match self.resolve(&need.source) {
                    Resolved::Found(entry) => resolved.push(Some(entry)),
                    Resolved::Missing => resolved.push(None),
                    Resolved::Unknown(path) => {
                        unknown.insert(path);
                    }
                }
            }
            if unknown.is_empty() {
                break;
            }
            self.read_other_paths(unknown);
        }
        for ((item, need), entry) in pending.into_iter().zip(resolved) {
            let name = self.items[item as usize].name.clone();
            match entry {
                Some(entry) => {
                    if let Some(finding) = self.against(item, &name, need, entry) {
                        self.late.push((item, finding));
                    }
                }
                None => {
                    if need.pep3147 && !self.links.contains_key(&self.keys.of(&need.source)) {
                        let detail = no_source(&need.source);
                        self.late.push((item, at(&name, need.cache, FindingKind::NoSource, detail)));
                    }
                }
            }
        }
        self.read_sources_again();
        for (item, name, first_path) in std::mem::take(&mut self.subpackages) {
            let owner = bytecode_owner(&name).expect("kept for being a bytecode subpackage");
            if !self.names.contains(owner) {
                let finding = missing_owner(&self.items[item as usize].name, &name, owner, first_path);
                self.late.push((item, finding));
            }
        }
        // Errors in the order of their items, as when every item was checked in turn.
        self.errors.sort_by_key(|(item, _)| *item);
        let late_count = self.late.len();
        Finished {
            problems: self.items.iter().map(|i| i.count as usize).sum::<usize>() + late_count,
            errors: self.errors.into_iter().map(|(_, e)| e).collect(),
            items: self.items,
            spill: self.spill,
            late: self.late,
        }
    }

    /// Reads the packages again for the paths outside `.py` that symlinks lead to: the first
    /// package to install each as a regular file or as a symlink.
    fn read_other_paths(&mut self, wanted: HashSet<Vec<u8>>) {
        let mut held: HashMap<Vec<u8>, Held> = wanted.iter().map(|p| (p.clone(), Held::default())).collect();
        let look = |inventory: &Inventory| {
            let mut found = Vec::new();
            for file in inventory.files.iter().filter(|f| wanted.contains(&f.path)) {
                if file.is_installed_regular() {
                    let entry = (file.mtime as u32, file.size as u32);
                    found.push((file.path.clone(), Some(entry), None));
                } else if file.kind == FileKind::Symlink && !file.ghost && !file.link_target.is_empty() {
                    found.push((file.path.clone(), None, Some(file.link_target.clone())));
                }
            }
            found
        };
        let scanned = self.items_again.scan_packages(look, |item, found| {
            for (path, regular, link) in found {
                let Some(held) = held.get_mut(&path) else { continue };
                if held.regular.is_none() {
                    held.regular = regular.map(|(mtime, size)| SourceEntry { item: item as u32, mtime, size });
                }
                if held.link.is_none() {
                    held.link = link;
                }
            }
        });
        if let Err(e) = scanned {
            log::debug!("reading the packages again for paths that symlinks lead to: {e}");
        }
        self.other_paths.extend(held);
    }

    /// Reads the sources of the hash-based caches that wait for them: each package once for
    /// the caches of each item, as when each item's check read the sources it needs.
    fn read_sources_again(&mut self) {
        let mut rereads = std::mem::take(&mut self.rereads);
        rereads.sort_by_key(|r| (r.source_item, r.cache_item));
        let mut last_read: Option<(u32, Inventory)> = None;
        for group in rereads.chunk_by(|a, b| (a.source_item, a.cache_item) == (b.source_item, b.cache_item)) {
            let (source_item, cache_item) = (group[0].source_item, group[0].cache_item);
            let inventory = match self.items_again {
                Items::Inventories(inventories) => &inventories[source_item as usize],
                Items::Paths(_) => {
                    if last_read.as_ref().is_none_or(|(item, _)| *item != source_item) {
                        match package::inventory(&self.items[source_item as usize].location) {
                            Ok(inventory) => last_read = Some((source_item, inventory)),
                            Err(e) => {
                                self.errors.push((cache_item, e));
                                continue;
                            }
                        }
                    }
                    &last_read.as_ref().expect("read just now").1
                }
            };
            let file_of = |path: &[u8]| {
                let files = &inventory.files;
                let from = files.partition_point(|f| f.path.as_slice() < path);
                (from..files.len()).take_while(|&i| files[i].path == path).find(|&i| files[i].is_installed_regular())
            };
            let found: Vec<(&Reread, usize)> =
                group.iter().filter_map(|r| file_of(&r.source).map(|f| (r, f))).collect();
            let wanted: Vec<usize> = found.iter().map(|(_, f)| *f).collect();
            let checks = found.iter().map(|(r, f)| (*f, (r.magic, r.hash)));
            match source_mismatches(inventory, checks, &wanted) {
                Ok(mismatches) => {
                    for (r, f) in &found {
                        let storage = inventory.files[*f].storage;
                        if mismatches.get(&storage).is_some_and(|bad| bad.contains(&(r.magic, r.hash))) {
                            let name = &self.items[cache_item as usize].name;
                            let finding = at(name, r.cache.clone(), FindingKind::Stale, hash_stale(r.checked));
                            self.late.push((cache_item, finding));
                        }
                    }
                }
                Err(e) => self.errors.push((cache_item, e)),
            }
        }
    }
}

/// A finding of item `name` at the installed path `raw_path`.
fn at(name: &str, raw_path: Vec<u8>, kind: FindingKind, detail: String) -> Finding {
    let path = String::from_utf8_lossy(&raw_path).into_owned();
    Finding { item: name.to_string(), path, kind, detail, raw_path }
}

/// The kinds, by the byte a finding is set aside with.
const KINDS: [FindingKind; 7] = [
    FindingKind::NotLinked,
    FindingKind::Stale,
    FindingKind::BadHeader,
    FindingKind::BuildRoot,
    FindingKind::NoSource,
    FindingKind::MixedInvalidation,
    FindingKind::NoOwner,
];

/// Sets a finding aside (its item is that of its chunk): kind, then path and detail, each
/// after its length. Returns the bytes written.
fn write_finding(out: &mut impl std::io::Write, finding: &Finding) -> std::io::Result<u64> {
    let kind = KINDS.iter().position(|k| *k == finding.kind).expect("every kind is listed") as u8;
    let (path, detail) = (&finding.raw_path, finding.detail.as_bytes());
    out.write_all(&[kind])?;
    out.write_all(&(path.len() as u64).to_le_bytes())?;
    out.write_all(path)?;
    out.write_all(&(detail.len() as u64).to_le_bytes())?;
    out.write_all(detail)?;
    Ok(17 + path.len() as u64 + detail.len() as u64)
}

/// Reads a finding set aside by [`write_finding`] from the start of `bytes`, for item `name`;
/// returns it and the bytes it took.
fn read_finding(bytes: &[u8], name: &str) -> std::io::Result<(Finding, usize)> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a finding set aside is cut short");
    let length = |at: usize| -> std::io::Result<usize> {
        let field = bytes.get(at..at + 8).ok_or_else(bad)?;
        usize::try_from(u64::from_le_bytes(field.try_into().expect("8 bytes"))).map_err(|_| bad())
    };
    let kind = *KINDS.get(usize::from(*bytes.first().ok_or_else(bad)?)).ok_or_else(bad)?;
    let path_len = length(1)?;
    let path = bytes.get(9..9 + path_len).ok_or_else(bad)?.to_vec();
    let detail_len = length(9 + path_len)?;
    let detail_at = 17 + path_len;
    let detail = bytes.get(detail_at..detail_at + detail_len).ok_or_else(bad)?;
    let detail = String::from_utf8(detail.to_vec()).map_err(|_| bad())?;
    Ok((at(name, path, kind, detail), detail_at + detail_len))
}

/// A run of `check` at its end: how many findings, the errors, and the findings, to be
/// handed out in order ([`Finished::for_each_finding`]).
pub struct Finished {
    /// Findings that make `check` fail.
    pub problems: usize,
    /// Errors of checking (reading the items is the caller's), in the order of their items.
    pub errors: Vec<Error>,
    items: Vec<ItemEntry>,
    spill: Spill,
    late: Vec<(u32, Finding)>,
}

impl Finished {
    /// Hands every finding to `each`, in the order of item name, path and kind (items of one
    /// name in the order they were checked).
    pub fn for_each_finding(self, mut each: impl FnMut(&Finding) -> std::io::Result<()>) -> Result<(), ReportError> {
        let Finished { items, spill, mut late, .. } = self;
        let ranges = spill.into_ranges().map_err(ReportError::SetAside)?;
        late.sort_by_key(|(item, _)| *item);
        let mut order: Vec<usize> = (0..items.len()).filter(|&i| items[i].count > 0 || has_late(&late, i)).collect();
        order.sort_by(|&a, &b| items[a].name.cmp(&items[b].name));
        for same_name in order.chunk_by(|&a, &b| items[a].name == items[b].name) {
            let mut findings: Vec<(usize, Finding)> = Vec::new();
            for &item in same_name {
                let entry = &items[item];
                let len = usize::try_from(entry.len)
                    .map_err(|_| ReportError::SetAside(std::io::ErrorKind::OutOfMemory.into()))?;
                let bytes = ranges.read(entry.start, len).map_err(ReportError::SetAside)?;
                let mut offset = 0;
                for _ in 0..entry.count {
                    let (finding, used) = read_finding(&bytes[offset..], &entry.name).map_err(ReportError::SetAside)?;
                    offset += used;
                    findings.push((item, finding));
                }
            }
            for &item in same_name {
                let from = late.partition_point(|(i, _)| (*i as usize) < item);
                for (_, finding) in late[from..].iter().take_while(|(i, _)| *i as usize == item) {
                    findings.push((item, finding.clone()));
                }
            }
            // Stable: findings of one path and kind keep the order of their items, and inside
            // an item the order they were found in.
            findings
                .sort_by(|(a_item, a), (b_item, b)| (&a.raw_path, a.kind, a_item).cmp(&(&b.raw_path, b.kind, b_item)));
            for (_, finding) in &findings {
                each(finding).map_err(ReportError::Output)?;
            }
        }
        Ok(())
    }
}

/// Whether item `item` has findings made at the end (`late` sorted by item).
fn has_late(late: &[(u32, Finding)], item: usize) -> bool {
    let from = late.partition_point(|(i, _)| (*i as usize) < item);
    late.get(from).is_some_and(|(i, _)| *i as usize == item)
}

/// Checks every inventory; sources are looked up across all packages of the run (a split
/// package ships caches and sources in different subpackages), and inside each tree.
pub fn check(inventories: &[Inventory]) -> Checked {
    check_in_layout(inventories, &Layout::all_in_one())
}

/// [`check`] for a split build: identical caches of levels that `layout` ships in different
/// subpackages are not a `not-linked` finding.
pub fn check_in_layout(inventories: &[Inventory], layout: &Layout) -> Checked {
    use rayon::prelude::*;
    let mut run = CheckRun::new(Items::Inventories(inventories));
    let keys = run.keys();
    let judged: Vec<Judged> = inventories.par_iter().map(|inventory| judge(&keys, inventory, layout)).collect();
    for (item, judged) in judged.into_iter().enumerate() {
        run.add(item, judged).expect("findings set aside in memory or a temporary file");
    }
    let mut finished = run.finish();
    let errors = std::mem::take(&mut finished.errors);
    let mut findings = Vec::with_capacity(finished.problems);
    finished
        .for_each_finding(|finding| {
            findings.push(finding.clone());
            Ok(())
        })
        .expect("findings read back from memory or a temporary file");
    Checked { findings, errors }
}

//! The link engine: walk, classify, group, plan and apply, one directory at a time in parallel.
//!
//! `link`, `compile` and `split --link` run it; it reports counts and events and prints nothing
//! itself. Its parts, in the order data flows through them: [`walk`] finds cache files,
//! [`classify`] parses their names, [`group`] gathers the caches of one module (and
//! [`compare`] their bytes), [`plan`] decides what to link (pure, within the groups of a
//! [`layout`]), [`apply`] makes the links atomically. The audit reuses the same parts.

pub mod apply;
pub mod classify;
pub mod compare;
pub mod group;
pub mod layout;
pub mod plan;
pub mod walk;

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{AtFlags, FileType};
use serde::Serialize;

use crate::error::Error;
use crate::link::apply::{
    entries_unremovable, link_atomically, remove_stale_temp, separate_atomically, take_own_ctimes,
};
use crate::link::compare::same_bytes_at;
use crate::link::group::{group_dir, CacheEntry, DirCaches, Identity, InspectedCache, Module};
use crate::link::layout::Layout;
use crate::link::plan::{plan_module, ModulePlan};
use crate::link::walk::{visit_dirs, Listing};
use crate::render::quote;

#[derive(Clone, Debug, Default)]
pub struct LinkOptions {
    /// Directories to work on, already checked by [`crate::link::walk::check_roots`].
    pub roots: Vec<PathBuf>,
    pub layout: Layout,
    pub dry_run: bool,
    /// Report each link as an [`Event::Link`] (for `--dry-run` output or `-v`); the counts need
    /// none, and a quiet run over 100,000 caches should not hold 100,000 pairs of paths.
    pub link_events: bool,
    /// Where `layout` applies; elsewhere every level is one group. A split links its own
    /// caches in the layout's groups (each group ships in its own subpackage) and the caches
    /// it leaves to other packages as an unsplit build does, so that a package the split does
    /// not touch keeps its links (`compileall --hardlink-dupes` made some across levels).
    pub layout_scope: Option<LayoutScope>,
}

/// Which caches a link's layout applies to: `applies(path)` for a module's first cache on disk.
#[derive(Clone)]
pub struct LayoutScope(pub std::sync::Arc<dyn Fn(&std::path::Path) -> bool + Send + Sync>);

impl std::fmt::Debug for LayoutScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayoutScope(..)")
    }
}

impl LinkOptions {
    /// The layout for `module` of `listing`: `layout` where [`LinkOptions::layout_scope`] takes
    /// in its first cache (or there is no scope), all levels in one group elsewhere.
    fn layout_of(&self, listing: &Listing, module: &Module) -> Cow<'_, Layout> {
        let applies = match (&self.layout_scope, module.caches.first()) {
            (Some(scope), Some(first)) => (scope.0)(&listing.path.join(OsStr::from_bytes(first.name.to_bytes()))),
            _ => true,
        };
        if applies {
            Cow::Borrowed(&self.layout)
        } else {
            Cow::Owned(Layout::all_in_one())
        }
    }
}

/// What a run did (or, with `--dry-run`, would do). Serialized as `link --json`.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct LinkReport {
    /// Cache files found.
    pub scanned: u64,
    /// Modules (directory, stem, tag) found.
    pub groups: u64,
    /// Links made (or planned with `--dry-run`).
    pub linked: u64,
    pub bytes_saved: u64,
    /// Warnings: files or directories that could not be inspected or linked.
    pub errors: u64,
    /// Caches that were already links of their kept file.
    pub already_linked: u64,
    /// Identical caches left apart because their mode or owner differ.
    pub identical_not_linked: u64,
    /// Symlinks, directories and other non-regular files with a cache name, left as they are.
    pub non_regular: u64,
    /// Temporary names of an interrupted earlier run that were removed.
    pub stale_temps_removed: u64,
    /// Caches given an inode of their own because they were linked to a cache of another
    /// layout group (another subpackage).
    pub separated: u64,
    pub dry_run: bool,
}

/// One decision or problem, reported in a deterministic order after the parallel work.
#[derive(Debug)]
pub enum Event {
    Link {
        keep: PathBuf,
        dup: PathBuf,
        bytes: u64,
    },
    IdenticalNotLinked {
        a: PathBuf,
        b: PathBuf,
    },
    StaleTempRemoved(PathBuf),
    /// A cache linked across layout groups was (or would be) given an inode of its own.
    Separated(PathBuf),
    Warning(Error),
}

impl Event {
    /// Logs the event for a person: warnings always, decisions with `-v`.
    pub fn log(&self) {
        match self {
            Event::Link { keep, dup, bytes } => log::info!("linked {} => {} ({bytes} bytes)", quote(dup), quote(keep)),
            Event::IdenticalNotLinked { a, b } => {
                log::info!("{}: identical to {} but mode or owner differ; not linked", quote(b), quote(a))
            }
            Event::StaleTempRemoved(path) => {
                log::info!("{}: removed a temporary name left by an interrupted run", quote(path))
            }
            Event::Separated(path) => log::info!("{}: separated from its links in other layout groups", quote(path)),
            Event::Warning(e) => log::warn!("{e}"),
        }
    }
}

/// Runs `link` and hands every event to `on_event` in path order.
pub fn link(options: &LinkOptions, mut on_event: impl FnMut(&Event)) -> LinkReport {
    let walk = visit_dirs(&options.roots, |listing| {
        let found = group_dir(listing);
        (!found.is_empty()).then(|| process_dir(listing, &found, options))
    });
    let mut report = LinkReport { dry_run: options.dry_run, ..LinkReport::default() };
    for error in walk.errors {
        report.errors += 1;
        on_event(&Event::Warning(error));
    }
    for (_, outcome) in walk.dirs {
        report += &outcome.counts;
        for event in &outcome.events {
            if matches!(event, Event::Warning(_)) {
                report.errors += 1;
            }
            on_event(event);
        }
    }
    report
}

/// The counts and events of one directory.
#[derive(Default)]
struct DirOutcome {
    counts: LinkReport,
    events: Vec<Event>,
}

impl std::ops::AddAssign<&LinkReport> for LinkReport {
    fn add_assign(&mut self, other: &LinkReport) {
        self.scanned += other.scanned;
        self.groups += other.groups;
        self.linked += other.linked;
        self.bytes_saved += other.bytes_saved;
        self.errors += other.errors;
        self.already_linked += other.already_linked;
        self.identical_not_linked += other.identical_not_linked;
        self.non_regular += other.non_regular;
        self.stale_temps_removed += other.stale_temps_removed;
        self.separated += other.separated;
    }
}

fn process_dir(listing: &Listing, found: &DirCaches, options: &LinkOptions) -> DirOutcome {
    let counts = LinkReport {
        scanned: found.cache_count() as u64,
        groups: found.modules.len() as u64,
        non_regular: found.non_regular.len() as u64,
        ..LinkReport::default()
    };
    let mut outcome = DirOutcome { counts, events: Vec::new() };
    for path in &found.non_regular {
        log::debug!("{}: not a regular file; left as it is", quote(path));
    }
    // A directory where our temporary names could not be removed again is left as it is,
    // before anything is made there (each run would leave one more), when there is anything
    // to do: one warning for the directory.
    if let Some(flag) = entries_unremovable(listing.fd()) {
        if !found.stale_temps.is_empty() || found.modules.iter().any(|m| has_work(listing, m, options)) {
            let path = listing.path.clone();
            outcome.events.push(Event::Warning(Error::UnremovableEntries { path, flag }));
        }
        return outcome;
    }
    if !options.dry_run && !found.stale_temps.is_empty() {
        let caches = inspect_entries(listing, found.modules.iter().flat_map(|m| &m.caches)).unwrap_or_default();
        for path in &found.stale_temps {
            match remove_stale_temp(listing.fd(), path, &caches) {
                Ok(true) => {
                    outcome.counts.stale_temps_removed += 1;
                    outcome.events.push(Event::StaleTempRemoved(path.clone()));
                }
                Ok(false) => log::info!("{}: named like a temporary of ours but not one; left alone", quote(path)),
                Err(e) => outcome.events.push(Event::Warning(e)),
            }
        }
    }
    for module in &found.modules {
        process_module(listing, module, options, &mut outcome);
    }
    outcome
}

fn process_module(listing: &Listing, module: &Module, options: &LinkOptions, outcome: &mut DirOutcome) {
    if module.caches.len() < 2 || crate::interrupt::requested().is_some() {
        return; // nothing to link with, and no need to stat it; or stopping
    }
    let plan = match plan_and_separate(listing, module, options, outcome) {
        Ok(plan) => plan,
        Err(Error::Interrupted(_)) => return, // the exit status says it
        Err(e) => {
            outcome.events.push(Event::Warning(e));
            return;
        }
    };
    outcome.counts.already_linked += plan.already_linked as u64;
    outcome.counts.identical_not_linked += plan.metadata_differs.len() as u64;
    for &(a, b) in &plan.metadata_differs {
        let (a, b) = (plan.caches[a].path.clone(), plan.caches[b].path.clone());
        outcome.events.push(Event::IdenticalNotLinked { a, b });
    }
    let applied = if options.dry_run { plan.links.len() } else { apply_plan(listing, &plan, &mut outcome.events) };
    for link in plan.links[..applied].iter().filter(|_| options.link_events) {
        let (keep, dup) = (&plan.caches[link.keep], &plan.caches[link.dup]);
        outcome.events.push(Event::Link { keep: keep.path.clone(), dup: dup.path.clone(), bytes: dup.id.size });
    }
    outcome.counts.linked += applied as u64;
    outcome.counts.bytes_saved +=
        if applied == plan.links.len() { plan.bytes_saved } else { plan.bytes_freed(applied) };
}

/// Whether planning the module finds a link or a separation to make (a module that cannot
/// be inspected has none).
fn has_work(listing: &Listing, module: &Module, options: &LinkOptions) -> bool {
    let same_bytes = |a: &InspectedCache, b: &InspectedCache| same_bytes_at(listing.fd(), a, b);
    module.caches.len() >= 2
        && inspect(listing, module)
            .and_then(|caches| plan_module(caches, &options.layout_of(listing, module), same_bytes))
            .is_ok_and(|plan| !plan.links.is_empty() || !plan.separate.is_empty())
}

/// Plans the module. When the plan first separates caches linked across layout groups (so that
/// no hardlink set crosses a subpackage), a real run makes those copies and plans again on what
/// is now on disk; a dry run keeps the plan, which already links as if they were made. The
/// first failure leaves the rest of the module alone.
fn plan_and_separate(
    listing: &Listing,
    module: &Module,
    options: &LinkOptions,
    outcome: &mut DirOutcome,
) -> Result<ModulePlan, Error> {
    let same_bytes = |a: &InspectedCache, b: &InspectedCache| same_bytes_at(listing.fd(), a, b);
    let layout = options.layout_of(listing, module);
    let plan = plan_module(inspect(listing, module)?, &layout, same_bytes)?;
    if plan.separate.is_empty() {
        return Ok(plan);
    }
    let mut caches = plan.caches.clone();
    for &i in &plan.separate {
        if crate::interrupt::requested().is_some() {
            return Err(Error::Interrupted(plan.caches[i].path.clone()));
        }
        if !options.dry_run {
            let mut warnings = Vec::new();
            let separated = separate_atomically(listing.fd(), &caches[i], &mut warnings);
            outcome.events.extend(warnings.into_iter().map(Event::Warning));
            separated?;
            let touched = caches[i].id.clone();
            take_own_ctimes(listing.fd(), &mut caches, &[touched]);
        }
        outcome.counts.separated += 1;
        outcome.events.push(Event::Separated(plan.caches[i].path.clone()));
    }
    if options.dry_run {
        return Ok(plan);
    }
    plan_module(inspect(listing, module)?, &layout, same_bytes)
}

/// Applies the links in order and returns how many were made. The first failure stops the
/// module: what was linked so far is correct, the rest stays as it was.
fn apply_plan(listing: &Listing, plan: &ModulePlan, events: &mut Vec<Event>) -> usize {
    let mut caches = plan.caches.clone();
    for (n, link) in plan.links.iter().enumerate() {
        if crate::interrupt::requested().is_some() {
            return n; // stopping: the rest of the module stays as it was
        }
        let mut warnings = Vec::new();
        let linked = link_atomically(listing.fd(), &caches[link.keep], &caches[link.dup], &mut warnings);
        events.extend(warnings.into_iter().map(Event::Warning));
        if let Err(failure) = linked {
            events.push(Event::Warning(failure));
            return n;
        }
        let touched = [caches[link.keep].id.clone(), caches[link.dup].id.clone()];
        take_own_ctimes(listing.fd(), &mut caches, &touched);
    }
    plan.links.len()
}

/// `lstat`s the caches of a module, relative to the open directory. A name that is no longer a
/// regular file is dropped.
fn inspect(listing: &Listing, module: &Module) -> Result<Vec<InspectedCache>, Error> {
    inspect_entries(listing, &module.caches)
}

fn inspect_entries<'a>(
    listing: &Listing,
    entries: impl IntoIterator<Item = &'a CacheEntry>,
) -> Result<Vec<InspectedCache>, Error> {
    let mut caches = Vec::new();
    for CacheEntry { name, level } in entries {
        let path = listing.path.join(OsStr::from_bytes(name.to_bytes()));
        let stat = rustix::fs::statat(listing.fd(), name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::io(&path, e.into()))?;
        if FileType::from_raw_mode(stat.st_mode as _) == FileType::RegularFile {
            caches.push(InspectedCache {
                path,
                name: name.clone(),
                level: level.clone(),
                id: Identity::of_stat(&stat),
            });
        }
    }
    Ok(caches)
}

//! Audit: what a tree or a set of built packages spends on bytecode, and what is wrong with it.
//!
//! A directory and an `.rpm` file both become one [`model::Inventory`]: a list of installed
//! paths with size, storage identity (inode or rpm hardlink set), content identity (bytes on
//! disk or the header's file digest), mode, owner, mtime and `%ghost`. Everything after that,
//! [`analysis`] for `stats` and [`findings`] for `check`, is written once against that model.
//! Only `check` reads package payloads ([`package::read_payload_files`]); `stats` reads headers.
//! `check` and `stats --together` judge all items at once ([`load`]); `stats` handles each item
//! as it is read and drops it ([`Plan::run`]), so that a mirror's packages fit in memory.

pub mod analysis;
pub mod findings;
pub mod layout_sizes;
pub mod model;
pub mod package;
pub mod pyc;
pub mod report;
pub mod summary;
pub mod rpm_header;
pub mod tree;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::Error;
use model::Inventory;

/// What loading the named paths gave: the inventories in the order they were named (a
/// directory's packages after it, by path), and every error met on the way.
#[derive(Debug, Default)]
pub struct Loaded {
    pub inventories: Vec<Inventory>,
    pub errors: Vec<Error>,
}

/// Reads every named path: a directory is walked (its `.rpm` packages become items of their
/// own), any other file is read as a package. Packages are read in parallel.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let per_path: Vec<Loaded> = paths.par_iter().map(|path| load_one(path)).collect();
    let mut loaded = Loaded::default();
    for one in per_path {
        loaded.inventories.extend(one.inventories);
        loaded.errors.extend(one.errors);
    }
    loaded
}

/// [`load`], for a command: without `keep_going` the first error ends the run (exit 2, one
/// line naming the item); with it, errors are kept for the report.
pub fn load_for_command(paths: &[PathBuf], keep_going: bool) -> Result<Loaded, Error> {
    let loaded = load(paths);
    match loaded.errors.first() {
        Some(_) if !keep_going => Err(loaded.errors.into_iter().next().expect("checked: not empty")),
        _ => Ok(loaded),
    }
}

/// What a run over the named paths will read, in order: the directories walked (each one's
/// tree read already, as an item of its own), the packages not yet read.
pub struct Plan {
    steps: Vec<Step>,
    /// How many items [`Plan::run`] hands on: trees, packages and errors.
    pub items: usize,
}

enum Step {
    /// A tree, or an error met while listing the paths.
    Ready(Result<Inventory, Error>),
    Package(PathBuf),
}

/// How many packages are read at once, per worker thread: enough to keep every core busy
/// across packages of different sizes, few enough that memory stays that many packages.
const PACKAGES_IN_FLIGHT_PER_THREAD: usize = 8;

impl Plan {
    /// Lists the named paths: a directory is walked (its tree and its `.rpm` files), any other
    /// path is a package, read later.
    pub fn new(paths: &[PathBuf]) -> Plan {
        let mut steps = Vec::new();
        for path in paths {
            match std::fs::metadata(path) {
                Err(e) => steps.push(Step::Ready(Err(Error::io(path, e)))),
                Ok(meta) if !meta.is_dir() => steps.push(Step::Package(path.clone())),
                Ok(_) => {
                    let tree::Scanned { tree, packages, errors } = tree::inventory(path);
                    steps.extend(errors.into_iter().map(|e| Step::Ready(Err(e))));
                    steps.extend(tree::tree_item(tree, !packages.is_empty()).map(Step::Ready));
                    steps.extend(packages.into_iter().map(Step::Package));
                }
            }
        }
        Plan { items: steps.len(), steps }
    }

    /// Hands every item, in the order [`load`] gives them, through `judge` (in parallel) to
    /// `on_item` (in order, on this thread). Packages are read a few per thread at a time
    /// and each inventory is dropped once judged: memory is that of the largest packages, not
    /// of all of them. `on_item` returning an error stops the run with it.
    pub fn run<T: Send, E>(
        self,
        judge: impl Fn(Inventory) -> T + Sync,
        mut on_item: impl FnMut(Result<T, Error>) -> Result<(), E>,
    ) -> Result<(), E> {
        let in_flight = PACKAGES_IN_FLIGHT_PER_THREAD * rayon::current_num_threads();
        let mut batch: Vec<PathBuf> = Vec::with_capacity(in_flight);
        let flush = |batch: &mut Vec<PathBuf>, on_item: &mut dyn FnMut(Result<T, Error>) -> Result<(), E>| {
            let judged: Vec<Result<T, Error>> = batch.par_iter().map(|p| package::inventory(p).map(&judge)).collect();
            batch.clear();
            judged.into_iter().try_for_each(on_item)
        };
        for step in self.steps {
            match step {
                Step::Package(path) => {
                    batch.push(path);
                    if batch.len() == in_flight {
                        flush(&mut batch, &mut on_item)?;
                    }
                }
                Step::Ready(item) => {
                    flush(&mut batch, &mut on_item)?;
                    on_item(item.map(&judge))?;
                }
            }
        }
        flush(&mut batch, &mut on_item)
    }
}

fn load_one(path: &Path) -> Loaded {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Loaded { inventories: Vec::new(), errors: vec![Error::io(path, e)] },
    };
    if !meta.is_dir() {
        return match package::inventory(path) {
            Ok(inventory) => Loaded { inventories: vec![inventory], errors: Vec::new() },
            Err(e) => Loaded { inventories: Vec::new(), errors: vec![e] },
        };
    }
    let tree::Scanned { tree, packages, errors } = tree::inventory(path);
    let mut loaded = Loaded { inventories: Vec::new(), errors };
    match tree::tree_item(tree, !packages.is_empty()) {
        Some(Ok(tree)) => loaded.inventories.push(tree),
        Some(Err(e)) => loaded.errors.push(e),
        None => {}
    }
    let packages: Vec<Result<Inventory, Error>> = packages.par_iter().map(|p| package::inventory(p)).collect();
    for package in packages {
        match package {
            Ok(inventory) => loaded.inventories.push(inventory),
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}

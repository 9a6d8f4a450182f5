//! Audit: what a tree or a set of built packages spends on bytecode, and what is wrong with it.
//!
//! A directory and an `.rpm` file both become one [`model::Inventory`]: a list of installed
//! paths with size, storage identity (inode or rpm hardlink set), content identity (bytes on
//! disk or the header's file digest), mode, owner, mtime and `%ghost`. Everything after that,
//! [`analysis`] for `stats` and [`findings`] for `check`, is written once against that model.
//! Only `check` reads package payloads ([`package::read_cache_facts`]); `stats` reads headers.

pub mod analysis;
pub mod findings;
pub mod model;
pub mod package;
pub mod pyc;
pub mod report;
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
    let scanned = tree::inventory(path);
    let mut loaded = Loaded { inventories: Vec::new(), errors: scanned.errors };
    if !scanned.tree.files.is_empty() || scanned.packages.is_empty() {
        loaded.inventories.push(scanned.tree);
    }
    let packages: Vec<Result<Inventory, Error>> = scanned.packages.par_iter().map(|p| package::inventory(p)).collect();
    for package in packages {
        match package {
            Ok(inventory) => loaded.inventories.push(inventory),
            Err(e) => loaded.errors.push(e),
        }
    }
    loaded
}

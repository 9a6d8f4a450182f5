//! Findings of `check`: caches that cost bytes for nothing or that Python will not use.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::Error;
use crate::link::classify::Scheme;
use crate::render::quote;
use super::analysis::{analyse, modules};
use super::model::{Inventory, ItemKind, PathIndex, Storage};
use super::pyc::{parse_header, source_hash_matches, Validation};
use super::{package, tree};

/// What is wrong with one cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Same bytes, mode and owner as a lower level of its module, stored separately.
    NotLinked,
    /// The header does not match the source (mtime, size or hash): Python ignores the cache
    /// and compiles again (or, for unchecked-hash caches, runs outdated code).
    Stale,
    /// The header is not one Python accepts.
    BadHeader,
    /// The cache records the build root in its paths (compiled without `-s`/`-p`).
    BuildRoot,
    /// A `__pycache__` cache without its `../stem.py`: Python never uses it.
    NoSource,
    /// The levels of one module are compiled in different invalidation modes (timestamp and
    /// hash-based): their headers differ, so they never hold the same bytes and never link.
    MixedInvalidation,
    /// A bytecode subpackage (`OWNER-bytecode-opt-<levels>`) whose owner is not among the
    /// packages checked: it requires a package the build did not make, so it would not install.
    NoOwner,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::NotLinked => "not-linked",
            FindingKind::Stale => "stale",
            FindingKind::BadHeader => "bad-header",
            FindingKind::BuildRoot => "build-root",
            FindingKind::NoSource => "no-source",
            FindingKind::MixedInvalidation => "mixed-invalidation",
            FindingKind::NoOwner => "no-owner",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The tree or package.
    pub item: String,
    /// The cache, as installed (lossy UTF-8 for JSON; quoted in text output).
    pub path: String,
    pub kind: FindingKind,
    pub detail: String,
    /// The exact bytes, in JSON as `path_bytes` only when `path` could not hold them.
    #[serde(rename = "path_bytes", skip_serializing_if = "super::model::is_utf8")]
    pub raw_path: Vec<u8>,
}

/// The findings and the errors of checking a set of inventories.
#[derive(Debug, Default)]
pub struct Checked {
    pub findings: Vec<Finding>,
    pub errors: Vec<Error>,
}

/// What the first bytes and the whole content of a cache say.
#[derive(Clone, Debug)]
struct CacheFacts {
    header: Vec<u8>,
    build_root: Option<String>,
}

const HEADER_BYTES: usize = 16;
/// What rpmbuild's default build root path contains (`%{_topdir}/BUILDROOT/NEVRA`).
const PACKAGE_BUILD_ROOT_MARKER: &[u8] = b"/BUILDROOT/";

/// Checks every inventory; sources are looked up across all packages of the run (a split
/// package ships caches and sources in different subpackages), and inside each tree.
pub fn check(inventories: &[Inventory]) -> Checked {
    let index = PathIndex::new(inventories);
    let per_item: Vec<Checked> = (0..inventories.len()).into_par_iter().map(|i| check_one(inventories, &index, i)).collect();
    let mut checked = Checked::default();
    for one in per_item {
        checked.findings.extend(one.findings);
        checked.errors.extend(one.errors);
    }
    checked.findings.extend(missing_owners(inventories));
    checked.findings.sort_by(|a, b| (&a.item, &a.raw_path, a.kind).cmp(&(&b.item, &b.raw_path, b.kind)));
    checked
}

/// The owner a bytecode subpackage's name says: `python3-foo` for
/// `python3-foo-bytecode-opt-0` or `python3-foo-bytecode-opt-1-2`.
pub fn bytecode_owner(name: &str) -> Option<&str> {
    let (owner, levels) = name.rsplit_once("-bytecode-opt-")?;
    let levels_ok = levels.split('-').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    (!owner.is_empty() && levels_ok).then_some(owner)
}

/// A finding for each bytecode subpackage whose owner is not among the packages checked (a
/// wrong `%py_bytecode_split -n` makes one that requires a package the build did not make),
/// named at its first file.
fn missing_owners(inventories: &[Inventory]) -> Vec<Finding> {
    let names: HashSet<&str> = inventories.iter().filter_map(|i| i.package_name.as_deref()).collect();
    let mut findings = Vec::new();
    for inventory in inventories {
        let Some(name) = inventory.package_name.as_deref() else { continue };
        let Some(owner) = bytecode_owner(name).filter(|owner| !names.contains(owner)) else { continue };
        let raw_path = inventory.files.first().map(|f| f.path.clone()).unwrap_or_default();
        findings.push(Finding {
            item: inventory.name.clone(),
            path: String::from_utf8_lossy(&raw_path).into_owned(),
            kind: FindingKind::NoOwner,
            detail: format!(
                "{name} is a bytecode subpackage of {owner}, which is not among the packages checked: it requires a package the build did not make and would not install (give all packages of the build; %py_bytecode_split -n names the owner)"
            ),
            raw_path,
        });
    }
    findings
}

/// A cache's magic number (the hash key) and the source hash its header records.
type MagicAndHash = ([u8; 4], [u8; 8]);
/// A hash-based cache to verify: (cache, source item, source, magic, recorded hash, checked
/// by Python).
type HashCheck = (usize, usize, usize, [u8; 4], [u8; 8], bool);

fn check_one(inventories: &[Inventory], index: &PathIndex<'_>, item: usize) -> Checked {
    let inventory = &inventories[item];
    let files = &inventory.files;
    let mut checked = Checked::default();
    let finding = |file: usize, kind: FindingKind, detail: String| {
        let raw_path = files[file].path.clone();
        let path = String::from_utf8_lossy(&raw_path).into_owned();
        Finding { item: inventory.name.clone(), path, kind, detail, raw_path }
    };

    let analysis = analyse(inventory);
    checked.errors.extend(analysis.errors);
    for unlinked in &analysis.unlinked {
        let keep = quote(Path::new(OsStr::from_bytes(&files[unlinked.keep].path)));
        let detail = format!("same bytes as {keep} but not linked ({} bytes)", unlinked.bytes);
        checked.findings.push(finding(unlinked.duplicate, FindingKind::NotLinked, detail));
    }

    let modules = modules(inventory);
    let cache_indexes: Vec<usize> = modules.iter().flat_map(|m| m.caches.iter().map(|(_, i)| *i)).collect();
    let facts = match cache_facts(inventory, &cache_indexes) {
        Ok(facts) => facts,
        Err(e) => {
            checked.errors.push(e);
            return checked;
        }
    };
    // Hash-based caches: their sources are read afterwards, from whichever item has them.
    let mut hash_checks: Vec<HashCheck> = Vec::new();
    for module in &modules {
        let source_path = module.source_path();
        let source = index.find(item, &source_path);
        // The invalidation mode of each level with a readable header, lowest level first.
        let mut modes: Vec<(usize, bool)> = Vec::new();
        for (_, cache) in &module.caches {
            // A source linked to a file outside the items checked (Debian's sitecustomize.py
            // points into /etc) is there for Python; only its staleness cannot be seen.
            if source.is_none() && module.scheme == Scheme::Pep3147 && !index.is_symlink(item, &source_path) {
                let detail = format!("no source {}: Python never uses it", quote(Path::new(OsStr::from_bytes(&source_path))));
                checked.findings.push(finding(*cache, FindingKind::NoSource, detail));
            }
            let Some(fact) = facts.get(&files[*cache].storage) else { continue };
            if let Some(marker) = &fact.build_root {
                checked.findings.push(finding(*cache, FindingKind::BuildRoot, format!("records the build root {marker}")));
            }
            let header = match parse_header(module.scheme, module.tag, &fact.header) {
                Ok(header) => header,
                Err(problem) => {
                    checked.findings.push(finding(*cache, FindingKind::BadHeader, format!("{problem}: Python rejects it")));
                    continue;
                }
            };
            modes.push((*cache, matches!(header.validation, Validation::Hash { .. })));
            let Some((source_item, source_file)) = source else { continue };
            let source_record = &inventories[source_item].files[source_file];
            match header.validation {
                Validation::Timestamp { mtime, size } => {
                    let want_mtime = source_record.mtime as u32; // Python compares modulo 2**32
                    let want_size = source_record.size as u32;
                    if mtime != want_mtime || size.is_some_and(|s| s != want_size) {
                        let recorded = size.map_or(String::new(), |s| format!(" and size {s}"));
                        let detail = format!(
                            "records source mtime {mtime}{recorded}, the source has mtime {want_mtime} and size {want_size}: Python ignores and rewrites it"
                        );
                        checked.findings.push(finding(*cache, FindingKind::Stale, detail));
                    }
                }
                Validation::Hash { hash, checked: checked_hash } => {
                    hash_checks.push((*cache, source_item, source_file, header.magic, hash, checked_hash));
                }
            }
        }
        if let Some(&(first, first_is_hash)) = modes.first() {
            if let Some(&(other, _)) = modes.iter().find(|(_, is_hash)| *is_hash != first_is_hash) {
                let mode = |is_hash: bool| if is_hash { "hash-based" } else { "timestamp" };
                let detail = format!(
                    "a {} cache while {} is a {} cache: levels in different invalidation modes never hold the same bytes, so they can never be linked (compile every level with brp-pyc compile)",
                    mode(!first_is_hash),
                    quote(Path::new(OsStr::from_bytes(&files[first].path))),
                    mode(first_is_hash)
                );
                checked.findings.push(finding(other, FindingKind::MixedInvalidation, detail));
            }
        }
    }
    // Each item that holds sources is read once, for all the caches whose sources it has (a
    // split package ships the caches in subpackages and the sources in the main package).
    let mut source_items: Vec<usize> = hash_checks.iter().map(|c| c.1).collect();
    source_items.sort_unstable();
    source_items.dedup();
    for source_item in source_items {
        let checks: Vec<&HashCheck> = hash_checks.iter().filter(|c| c.1 == source_item).collect();
        let source_files = &inventories[source_item].files;
        let wanted: Vec<usize> = checks.iter().map(|c| c.2).collect();
        // The magic numbers (hash keys) each source is checked with; usually one.
        let mut keys: HashMap<Storage, Vec<MagicAndHash>> = HashMap::new();
        for &&(_, _, source, magic, hash, _) in &checks {
            keys.entry(source_files[source].storage).or_default().push((magic, hash));
        }
        let verdicts = with_contents(&inventories[source_item], &wanted, |storage, content| {
            keys.get(&storage).map_or(Vec::new(), |keys| {
                keys.iter().filter(|(magic, hash)| !source_hash_matches(*magic, content, *hash)).copied().collect()
            })
        });
        match verdicts {
            Ok(mismatches) => {
                for &&(cache, _, source, magic, hash, checked_hash) in &checks {
                    let Some(bad) = mismatches.get(&source_files[source].storage) else { continue };
                    if bad.contains(&(magic, hash)) {
                        let consequence = if checked_hash {
                            "Python ignores and rewrites it"
                        } else {
                            "unchecked-hash: Python runs it although the source changed"
                        };
                        let detail = format!("source hash does not match the source: {consequence}");
                        checked.findings.push(finding(cache, FindingKind::Stale, detail));
                    }
                }
            }
            Err(e) => checked.errors.push(e),
        }
    }
    checked
}

/// The header and build-root facts of the given caches, per stored copy.
fn cache_facts(inventory: &Inventory, caches: &[usize]) -> Result<HashMap<Storage, CacheFacts>, Error> {
    let markers: Vec<Vec<u8>> = match inventory.kind {
        ItemKind::Tree => tree::build_root_markers(&inventory.location),
        ItemKind::Package => vec![PACKAGE_BUILD_ROOT_MARKER.to_vec()],
    };
    with_contents(inventory, caches, |_, content| CacheFacts {
        header: content[..content.len().min(HEADER_BYTES)].to_vec(),
        build_root: markers.iter().find(|m| contains(content, m)).map(|m| quote(Path::new(OsStr::from_bytes(m)))),
    })
}

/// Applies `digest` to the content of each stored copy among the given files (indexes into
/// the inventory), without keeping the contents: read from disk in parallel for a tree, from
/// one pass over the payload for a package (where one member of a hardlink set carries it).
fn with_contents<T: Send>(
    inventory: &Inventory,
    wanted: &[usize],
    digest: impl Fn(Storage, &[u8]) -> T + Sync,
) -> Result<HashMap<Storage, T>, Error> {
    let files = &inventory.files;
    let mut seen = HashSet::new();
    let unique: Vec<usize> = wanted.iter().copied().filter(|&i| seen.insert(files[i].storage)).collect();
    match inventory.kind {
        ItemKind::Tree => unique
            .par_iter()
            .filter_map(|&i| tree::disk_path(&files[i]).map(|p| (i, p)))
            .map(|(i, path)| {
                let content = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                Ok((files[i].storage, digest(files[i].storage, &content)))
            })
            .collect(),
        ItemKind::Package => {
            let paths: HashSet<Vec<u8>> = files
                .iter()
                .filter(|f| f.is_installed_regular() && seen.contains(&f.storage))
                .map(|f| f.path.clone())
                .collect();
            let mut by_storage = HashMap::new();
            package::read_payload_files(&inventory.location, &paths, |path, content| {
                if let Ok(i) = files.binary_search_by(|f| f.path.as_slice().cmp(path)) {
                    let storage = files[i].storage;
                    by_storage.entry(storage).or_insert_with(|| digest(storage, content));
                }
            })?;
            Ok(by_storage)
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytecode_owner_is_read_from_the_name() {
        assert_eq!(bytecode_owner("python3-foo-bytecode-opt-0"), Some("python3-foo"));
        assert_eq!(bytecode_owner("python3-foo-bytecode-opt-1-2"), Some("python3-foo"));
        assert_eq!(bytecode_owner("python3-foo"), None);
        assert_eq!(bytecode_owner("python3-foo-bytecode-opt-"), None);
        assert_eq!(bytecode_owner("python3-foo-bytecode-opt-x"), None);
        assert_eq!(bytecode_owner("-bytecode-opt-0"), None);
    }
}

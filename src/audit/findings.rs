//! Findings of `check`: caches that cost bytes for nothing or that Python will not use.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::analysis::{analyse_in_layout, modules};
use super::model::{Inventory, ItemKind, PathIndex, Storage};
use super::pyc::{parse_header, Header, SourceHasher, Validation};
use super::{payload, tree};
use crate::error::Error;
use crate::link::classify::Scheme;
use crate::link::layout::Layout;
use crate::render::quote;

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

impl Finding {
    fn at(item: &str, raw_path: Vec<u8>, kind: FindingKind, detail: String) -> Finding {
        let path = String::from_utf8_lossy(&raw_path).into_owned();
        Finding { item: item.to_string(), path, kind, detail, raw_path }
    }
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

/// The owner a bytecode subpackage's name says: `python3-foo` for
/// `python3-foo-bytecode-opt-0` or `python3-foo-bytecode-opt-1-2`.
pub fn bytecode_owner(name: &str) -> Option<&str> {
    let (owner, levels) = name.rsplit_once("-bytecode-opt-")?;
    let levels_ok = levels.split('-').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    (!owner.is_empty() && levels_ok).then_some(owner)
}

/// The finding for a bytecode subpackage named `name` whose owner is not among the packages
/// checked (a wrong `%py_bytecode_split -n` makes one that requires a package the build did
/// not make), named at `first_path`, its first file.
pub(super) fn missing_owner(item: &str, name: &str, owner: &str, first_path: Vec<u8>) -> Finding {
    Finding::at(
        item,
        first_path,
        FindingKind::NoOwner,
        format!(
            "{name} is a bytecode subpackage of {owner}, which is not among the packages checked: it requires a package the build did not make and would not install (give all packages of the build; %py_bytecode_split -n names the owner)"
        ),
    )
}

/// A cache's magic number (the hash key) and the source hash its header records.
pub(super) type MagicAndHash = ([u8; 4], [u8; 8]);

/// A cache whose findings depend on its source (`no-source`, `stale`). A tree settles these
/// itself; a package's source may be in any package of the run (the first to install the
/// path), which only the run knows.
#[derive(Debug)]
pub struct SourceNeed {
    /// The cache, as installed.
    pub cache: Vec<u8>,
    /// Where its source is installed.
    pub source: Vec<u8>,
    /// A `__pycache__` cache, which Python never uses without its source (a Python 2 cache
    /// without its source is not named).
    pub pep3147: bool,
    /// The cache's header, when it could be read and Python accepts it.
    pub header: Option<Header>,
    /// The verdict against the item's own regular file at `source`, when it has one: the
    /// detail of a `stale` finding, or `None` when the cache matches it.
    pub local: Option<Option<String>>,
}

/// What checking one item on its own found.
#[derive(Debug, Default)]
pub struct ItemChecked {
    /// Findings that no other item changes.
    pub findings: Vec<Finding>,
    pub errors: Vec<Error>,
    /// A package's caches whose source the run looks up among all packages (empty for a tree).
    pub needs: Vec<SourceNeed>,
}

/// The detail of a `stale` finding for a timestamp cache that records `mtime` (and `size`)
/// while its source has `want_mtime` and `want_size` (modulo 2**32, as Python compares them);
/// `None` when they match.
pub(super) fn timestamp_stale(mtime: u32, size: Option<u32>, want_mtime: u32, want_size: u32) -> Option<String> {
    if mtime == want_mtime && size.is_none_or(|s| s == want_size) {
        return None;
    }
    let recorded = size.map_or(String::new(), |s| format!(" and size {s}"));
    Some(format!(
        "records source mtime {mtime}{recorded}, the source has mtime {want_mtime} and size {want_size}: Python ignores and rewrites it"
    ))
}

/// The detail of a `stale` finding for a hash-based cache whose hash does not match its source.
pub(super) fn hash_stale(checked_hash: bool) -> String {
    let consequence = if checked_hash {
        "Python ignores and rewrites it"
    } else {
        "unchecked-hash: Python runs it although the source changed"
    };
    format!("source hash does not match the source: {consequence}")
}

/// The detail of a `no-source` finding.
pub(super) fn no_source(source: &[u8]) -> String {
    format!("no source {}: Python never uses it", quote(Path::new(OsStr::from_bytes(source))))
}

/// Checks one item on its own: every finding that needs no other item, and for a package the
/// caches whose source the run has to look up ([`ItemChecked::needs`]), each with its verdict
/// against the package's own file at the source's path.
pub fn check_item(inventory: &Inventory, layout: &Layout) -> ItemChecked {
    let files = &inventory.files;
    let mut checked = ItemChecked::default();
    let finding = |file: usize, kind: FindingKind, detail: String| {
        Finding::at(&inventory.name, files[file].path.clone(), kind, detail)
    };

    let analysis = analyse_in_layout(inventory, layout);
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
    // A tree is a namespace of its own: its sources are found here, following its symlinks.
    // A package's are in the namespace of all packages, where an earlier package's file at
    // the same path comes first: here only its own regular file is seen.
    let index = PathIndex::new(std::slice::from_ref(inventory));
    let tree = inventory.kind == ItemKind::Tree;
    // The file each need's source is in this item, if any.
    let mut sources: Vec<Option<usize>> = Vec::new();
    for module in &modules {
        let source_path = module.source_path();
        let source = if tree { index.find(0, &source_path) } else { index.regular(0, &source_path) };
        // The invalidation mode of each level with a readable header, lowest level first.
        let mut modes: Vec<(usize, bool)> = Vec::new();
        for (_, cache) in &module.caches {
            let mut need = SourceNeed {
                cache: files[*cache].path.clone(),
                source: source_path.clone(),
                pep3147: module.scheme == Scheme::Pep3147,
                header: None,
                local: None,
            };
            if let Some(fact) = facts.get(&files[*cache].storage) {
                if let Some(marker) = &fact.build_root {
                    checked.findings.push(finding(
                        *cache,
                        FindingKind::BuildRoot,
                        format!("records the build root {marker}"),
                    ));
                }
                match parse_header(module.scheme, module.tag, &fact.header) {
                    Ok(header) => {
                        modes.push((*cache, matches!(header.validation, Validation::Hash { .. })));
                        need.header = Some(header);
                    }
                    Err(problem) => checked.findings.push(finding(
                        *cache,
                        FindingKind::BadHeader,
                        format!("{problem}: Python rejects it"),
                    )),
                }
            }
            checked.needs.push(need);
            sources.push(source.map(|(_, file)| file));
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
    // The verdicts against the item's own sources; hash-based caches need the sources' bytes,
    // read in one pass over all of them.
    let mut hash_checks: Vec<(usize, usize, [u8; 4], [u8; 8])> = Vec::new();
    for (n, (need, source)) in checked.needs.iter_mut().zip(&sources).enumerate() {
        let Some(source) = *source else { continue };
        need.local = Some(None);
        let Some(header) = &need.header else { continue };
        match header.validation {
            Validation::Timestamp { mtime, size } => {
                let record = &files[source];
                // Python compares modulo 2**32.
                need.local = Some(timestamp_stale(mtime, size, record.mtime as u32, record.size as u32));
            }
            Validation::Hash { hash, .. } => hash_checks.push((n, source, header.magic, hash)),
        }
    }
    if !hash_checks.is_empty() {
        let wanted: Vec<usize> = hash_checks.iter().map(|c| c.1).collect();
        match source_mismatches(
            inventory,
            hash_checks.iter().map(|&(_, source, magic, hash)| (source, (magic, hash))),
            &wanted,
        ) {
            Ok(mismatches) => {
                for &(n, source, magic, hash) in &hash_checks {
                    let bad = mismatches.get(&files[source].storage).is_some_and(|bad| bad.contains(&(magic, hash)));
                    if bad {
                        let Some(Validation::Hash { checked: checked_hash, .. }) =
                            checked.needs[n].header.as_ref().map(|h| &h.validation)
                        else {
                            continue;
                        };
                        checked.needs[n].local = Some(Some(hash_stale(*checked_hash)));
                    }
                }
            }
            Err(e) => {
                checked.errors.push(e);
                // Unread, as a source read by no one: no verdict.
                for &(n, ..) in &hash_checks {
                    checked.needs[n].local = Some(None);
                }
            }
        }
    }
    if tree {
        for (need, source) in std::mem::take(&mut checked.needs).into_iter().zip(&sources) {
            let kind_detail = match (source, need.local) {
                (None, _) if need.pep3147 && !index.is_symlink(0, &need.source) => {
                    Some((FindingKind::NoSource, no_source(&need.source)))
                }
                (Some(_), Some(Some(detail))) => Some((FindingKind::Stale, detail)),
                _ => None,
            };
            if let Some((kind, detail)) = kind_detail {
                checked.findings.push(Finding::at(&inventory.name, need.cache, kind, detail));
            }
        }
    }
    checked
}

/// Which (magic, hash) pairs recorded for the given sources of `inventory` do not match
/// their bytes, per stored copy: `checks` gives each source file with one pair, `wanted` the
/// source files to read. Each stored copy is read once for all its pairs (usually one).
pub(super) fn source_mismatches(
    inventory: &Inventory,
    checks: impl Iterator<Item = (usize, MagicAndHash)>,
    wanted: &[usize],
) -> Result<HashMap<Storage, Vec<MagicAndHash>>, Error> {
    let mut keys: HashMap<Storage, Vec<MagicAndHash>> = HashMap::new();
    for (source, pair) in checks {
        keys.entry(inventory.files[source].storage).or_default().push(pair);
    }
    with_contents(inventory, wanted, |storage| SourceScan::new(keys.get(&storage)))
}

/// The header and build-root facts of the given caches, per stored copy.
fn cache_facts(inventory: &Inventory, caches: &[usize]) -> Result<HashMap<Storage, CacheFacts>, Error> {
    let markers: Vec<Vec<u8>> = match inventory.kind {
        ItemKind::Tree => tree::build_root_markers(&inventory.location),
        ItemKind::Package => vec![PACKAGE_BUILD_ROOT_MARKER.to_vec()],
    };
    with_contents(inventory, caches, |_| CacheScan {
        header: Vec::new(),
        markers: &markers,
        found: None,
        tail: Vec::new(),
    })
}

/// What `check` learns from the bytes of a file, fed in chunks: no file is ever held whole.
trait Scan {
    type Facts: Send;
    /// Takes the next chunk; false once the rest of the file cannot change the facts.
    fn feed(&mut self, chunk: &[u8]) -> bool;
    fn finish(self) -> Self::Facts;
}

/// A cache's header, and the first build root marker anywhere in it. Without markers (an
/// installed tree) only the header is read.
struct CacheScan<'m> {
    header: Vec<u8>,
    markers: &'m [Vec<u8>],
    found: Option<usize>,
    /// The last bytes seen, one fewer than the longest marker: a marker across two chunks.
    tail: Vec<u8>,
}

impl Scan for CacheScan<'_> {
    type Facts = CacheFacts;

    fn feed(&mut self, chunk: &[u8]) -> bool {
        let missing = HEADER_BYTES - self.header.len();
        self.header.extend_from_slice(&chunk[..missing.min(chunk.len())]);
        if self.found.is_none() && !self.markers.is_empty() {
            let mut window = std::mem::take(&mut self.tail);
            window.extend_from_slice(chunk);
            self.found = self.markers.iter().position(|m| contains(&window, m));
            let keep = self.markers.iter().map(Vec::len).max().unwrap_or(1) - 1;
            self.tail = window.split_off(window.len().saturating_sub(keep));
        }
        self.header.len() < HEADER_BYTES || (self.found.is_none() && !self.markers.is_empty())
    }

    fn finish(self) -> CacheFacts {
        let build_root = self.found.map(|m| quote(Path::new(OsStr::from_bytes(&self.markers[m]))));
        CacheFacts { header: self.header, build_root }
    }
}

/// The source hashes of one source under the magic numbers its caches record: which of the
/// recorded (magic, hash) pairs do not match.
struct SourceScan {
    expected: Vec<MagicAndHash>,
    hashers: Vec<([u8; 4], SourceHasher)>,
}

impl SourceScan {
    fn new(expected: Option<&Vec<MagicAndHash>>) -> SourceScan {
        let expected = expected.cloned().unwrap_or_default();
        let mut hashers: Vec<([u8; 4], SourceHasher)> = Vec::new();
        for (magic, _) in &expected {
            if !hashers.iter().any(|(m, _)| m == magic) {
                hashers.push((*magic, SourceHasher::new(*magic)));
            }
        }
        SourceScan { expected, hashers }
    }
}

impl Scan for SourceScan {
    type Facts = Vec<MagicAndHash>;

    fn feed(&mut self, chunk: &[u8]) -> bool {
        self.hashers.iter_mut().for_each(|(_, hasher)| hasher.update(chunk));
        !self.hashers.is_empty()
    }

    fn finish(self) -> Vec<MagicAndHash> {
        let matches = |magic: &[u8; 4], hash: [u8; 8]| self.hashers.iter().any(|(m, h)| m == magic && h.matches(hash));
        self.expected.iter().filter(|(magic, hash)| !matches(magic, *hash)).copied().collect()
    }
}

/// How much of a file is read at a time.
const CHUNK: usize = 64 * 1024;

thread_local! {
    /// One buffer per thread: a fresh one per file would cost more than reading 100,000 caches.
    static BUFFER: std::cell::RefCell<Box<[u8]>> = std::cell::RefCell::new(vec![0; CHUNK].into_boxed_slice());
}

/// Feeds `reader` to `scan` chunk by chunk until it ends or the scan has all it needs.
fn scan_reader<S: Scan>(reader: &mut dyn Read, mut scan: S) -> std::io::Result<S::Facts> {
    BUFFER.with(|buffer| {
        let buffer = &mut *buffer.borrow_mut();
        loop {
            let n = match reader.read(buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if !scan.feed(&buffer[..n]) {
                break;
            }
        }
        Ok(scan.finish())
    })
}

/// Runs a scan (made by `start`) over the content of each stored copy among the given files
/// (indexes into the inventory): read from disk in parallel for a tree, never past the size
/// the walk saw, and from one pass over the payload for a package (where one member of a
/// hardlink set carries it).
fn with_contents<S: Scan>(
    inventory: &Inventory,
    wanted: &[usize],
    start: impl Fn(Storage) -> S + Sync,
) -> Result<HashMap<Storage, S::Facts>, Error> {
    let files = &inventory.files;
    let mut seen = HashSet::new();
    let unique: Vec<usize> = wanted.iter().copied().filter(|&i| seen.insert(files[i].storage)).collect();
    match inventory.kind {
        ItemKind::Tree => unique
            .par_iter()
            .filter_map(|&i| tree::disk_path(&files[i]).map(|p| (i, p)))
            .map(|(i, path)| {
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                let facts = scan_reader(&mut file.take(files[i].size), start(files[i].storage))
                    .map_err(|e| Error::io(path, e))?;
                Ok((files[i].storage, facts))
            })
            .collect(),
        ItemKind::Package => {
            let paths: HashSet<Vec<u8>> = files
                .iter()
                .filter(|f| f.is_installed_regular() && seen.contains(&f.storage))
                .map(|f| f.path.clone())
                .collect();
            let mut by_storage = HashMap::new();
            payload::read_payload_files(&inventory.location, &paths, |path, entry| {
                let Ok(i) = files.binary_search_by(|f| f.path.as_slice().cmp(path)) else { return Ok(()) };
                let storage = files[i].storage;
                if let std::collections::hash_map::Entry::Vacant(slot) = by_storage.entry(storage) {
                    slot.insert(scan_reader(entry, start(storage))?);
                }
                Ok(())
            })?;
            Ok(by_storage)
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    // memmem, not a comparison at every offset: every byte of every cache passes here.
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_root_marker_is_found_across_chunks_of_any_size() {
        let markers = vec![b"/BUILDROOT/".to_vec(), b"/tmp/root".to_vec()];
        let mut content = b"\xa7\x0d\x0d\x0a\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        content.extend_from_slice(&[b'x'; 100]);
        content.extend_from_slice(b"/tmp/root/usr/lib");
        for piece in [1, 2, 5, 16, 17, 120, 1000] {
            let mut scan = CacheScan { header: Vec::new(), markers: &markers, found: None, tail: Vec::new() };
            let wants_more: Vec<bool> = content.chunks(piece).map(|chunk| scan.feed(chunk)).collect();
            assert_eq!(wants_more.last(), Some(&false), "pieces of {piece}: done once the marker is seen");
            let facts = scan.finish();
            assert_eq!(facts.header, content[..HEADER_BYTES], "pieces of {piece}");
            assert_eq!(facts.build_root.as_deref(), Some("/tmp/root"), "pieces of {piece}");
        }
        let mut header_only = CacheScan { header: Vec::new(), markers: &[], found: None, tail: Vec::new() };
        assert!(
            header_only.feed(&content[..10]) && !header_only.feed(&content[10..20]),
            "without markers, the header is all"
        );
        assert_eq!(header_only.finish().build_root, None);
    }

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

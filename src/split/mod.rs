//! Split: decide which installed cache paths go to which `%files` list, so that each layout
//! group's caches ship in a subpackage of their own while the main package owns every cache of
//! every level as `%ghost` (Fedora's "Optional Bytecode Cache").
//!
//! The lists are computed from the build root as it is (the caches that exist) and from the
//! sources (the caches Python may write at run time), then rendered by [`crate::render`].
//! Before that, the brp step may compile the levels the layout names and the caches lack
//! ([`missing_levels`]) and take the bytecode entries of `%{pyproject_files}` over
//! ([`pyproject`]).

pub mod missing_levels;
pub mod owner_list;
pub mod pyproject;
pub mod recorded;
pub mod spec_part;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::Error;
use crate::link::classify::{cache_file_name, Level, Scheme, PYCACHE};
use crate::link::group::{group_dir, source_stems, CacheEntry, DirCaches};
use crate::link::layout::{Layout, RECORD_NAME};
use crate::link::plan::cross_group_links;
use crate::link::walk::visit_dirs;
use crate::link::{link, Event, LayoutScope, LinkOptions};
use crate::render::rpm_files::{escape_absent_path, escape_path, has_glob_chars, RpmSyntax};
use crate::replace::replace_file;
use crate::split::missing_levels::{compile_missing, find_missing};
use crate::split::pyproject::{PyprojectBytecode, TakeOver};
use crate::split::spec_part::{Declaration, DeclaredGroup};

/// The levels every module gets `%ghost` entries for: the ones CPython writes.
const GHOST_LEVELS: [Level; 3] = [Level::Zero, Level::One, Level::Two];

#[derive(Clone, Debug)]
pub struct SplitOptions {
    /// Directories to scan, already checked by [`crate::link::walk::check_roots`].
    pub roots: Vec<PathBuf>,
    /// The prefix removed to get installed paths; `None`: each root is its own build root.
    pub build_root: Option<PathBuf>,
    pub layout: Layout,
    /// Whether the main package lists caches as `%ghost` (`--ghost all`).
    pub ghosts: bool,
    pub filter: PathFilter,
    /// The bytecode entries taken over from `%{pyproject_files}`: then the main package's list
    /// owns exactly the directories and caches they named.
    pub pyproject: Option<PyprojectBytecode>,
    /// Installed directories whose whole content the owner's list (`bytecode-owner.files`)
    /// lists, caches as `%ghost`.
    pub own: Vec<PathBuf>,
    /// Globs of caches a `%py_bytecode_owns` line took over from its macro: the owner's list
    /// lists what they match (every level of each source beside them) as `%ghost`.
    pub taken_globs: Vec<String>,
}

/// `--include`/`--exclude`: globs on installed paths. A glob that matches a directory covers
/// everything below it; with no include every path is included; an exclude always wins.
#[derive(Clone, Debug, Default)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl PathFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<PathFilter, Error> {
        Ok(PathFilter { include: glob_set(include)?, exclude: glob_set(exclude)? })
    }

    /// Whether any path is left out: an include or an exclude was given.
    pub fn is_restricted(&self) -> bool {
        self.include.is_some() || self.exclude.is_some()
    }

    pub fn accepts(&self, installed: &Path) -> bool {
        let hit = |set: &GlobSet| installed.ancestors().any(|p| set.is_match(p));
        self.include.as_ref().is_none_or(hit) && !self.exclude.as_ref().is_some_and(hit)
    }
}

fn glob_set(globs: &[String]) -> Result<Option<GlobSet>, Error> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        let glob = GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::Glob(glob.clone(), e.to_string()))?;
        set.add(glob);
    }
    set.build().map(Some).map_err(|e| Error::Glob(globs.join(" "), e.to_string()))
}

/// The content of the lists, as installed paths (bytes, so any name survives until rendering).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileLists {
    /// `__pycache__` directories, owned by the main package.
    pub dirs: BTreeSet<Vec<u8>>,
    /// Every cache of every level of every module with a source, and every real cache.
    pub ghosts: BTreeSet<Vec<u8>>,
    /// Real caches per layout group, in layout order, labelled `0`, `1-2`, `0-1-2`, ...
    pub groups: Vec<(String, BTreeSet<Vec<u8>>)>,
    /// Real caches of levels that no layout group names: owned only as `%ghost`.
    pub unassigned: BTreeSet<Vec<u8>>,
    /// Pairs of caches that are one inode but ship in different subpackages: rpm stores such a
    /// set in full in each package (something linked before the layout was known).
    pub cross_links: Vec<(PathBuf, PathBuf)>,
}

/// What one directory contributes: its Python sources and its caches.
struct DirScan {
    sources: Vec<Box<[u8]>>,
    caches: DirCaches,
    /// Per module, per cache: the stored copy (device, inode) of caches that have other links
    /// (the only ones a link across layout groups can concern), so that such links are reported.
    linked_copies: Vec<Vec<Option<(u64, u64)>>>,
}

/// The work of the brp step before the lists (`split --compile-missing --link`): compile the
/// layout's levels that the caches beside a source lack, then link inside the layout's groups.
#[derive(Debug, Default)]
pub struct BrpStep<'a> {
    pub compile_missing: bool,
    /// The interpreter for a cache tag whose `pythonX.Y` is not on `$PATH` (`%__python3`).
    pub python: Option<&'a Path>,
    pub link: bool,
}

/// What a whole split wrote, for the caller's report.
#[derive(Debug)]
pub struct SplitOutcome {
    pub lists: FileLists,
    pub rendered: Vec<RenderedList>,
}

/// The whole split, in an order that keeps every failure harmless: the brp step's compiling
/// and linking, then the lists planned (taking the bytecode entries of `pyproject_files` and
/// its named copies over, when they exist), rendered for `syntax` and written to `output_dir`;
/// with `declaration`, the spec part that declares the subpackages, and the owner's `%dir` and
/// `%ghost` entries go into the pyproject lists themselves. The pyproject lists are rewritten
/// last (each original kept as `pyproject-files[-NAME].orig`), so a failed run leaves them as
/// they were and a second run still finds their entries.
pub fn split_build(
    mut options: SplitOptions,
    step: &BrpStep<'_>,
    pyproject_files: Option<&Path>,
    output_dir: &Path,
    syntax: RpmSyntax,
    declaration: Option<&Declaration>,
) -> Result<SplitOutcome, Error> {
    if let Some(declaration) = declaration {
        declaration.validate()?;
    }
    let real_root = options.build_root.clone().unwrap_or_else(|| options.roots[0].clone());
    run_brp_step(&options, step, &real_root)?;
    let accepts = |installed: &[u8]| options.filter.accepts(Path::new(OsStr::from_bytes(installed)));
    let pyproject_lists = pyproject_files.map(crate::split::pyproject::lists_at).transpose()?.unwrap_or_default();
    let (takeovers, covered) = read_takeovers(&pyproject_lists, output_dir, &accepts)?;
    options.pyproject = (!takeovers.is_empty()).then_some(covered);
    let lists = plan_lists(&options)?;
    let mut rendered = render_lists(&lists, syntax, &real_root)?;
    let mut renderer = ListRenderer::new(syntax, &real_root);
    if !options.own.is_empty() || !options.taken_globs.is_empty() {
        let taken = glob_set(&options.taken_globs)?;
        let text = owner_list::render(&options.own, &real_root, &lists, taken.as_ref(), &mut renderer)?;
        rendered.push(RenderedList { file_name: owner_list::OWNER_LIST_NAME.into(), text });
    }
    // Every line is rendered before anything is written: a name that cannot be listed leaves
    // no list, spec part or rewritten pyproject list behind.
    let mut owned_texts = Vec::with_capacity(takeovers.len());
    for (_, _, takeover) in &takeovers {
        owned_texts.push(match declaration {
            // The owner's list is the pyproject list itself: it owns what its entries named.
            Some(_) => renderer.owned_entries(
                takeover.bytecode.dirs.iter().filter(|d| accepts(d)),
                lists.ghosts.iter().chain(&lists.unassigned).filter(|p| takeover.bytecode.covers(p)),
            )?,
            None => String::new(),
        });
    }
    let part = match declaration {
        Some(declaration) => {
            let groups =
                declared_groups(&options.layout, &lists, declaration, |label| output_dir.join(group_list_name(label)));
            Some((declaration, spec_part::render(declaration, &groups)?, groups.len()))
        }
        None => None,
    };
    write_lists(output_dir, &rendered)?;
    // For `check` on the build root, which must not report the levels the layout keeps apart.
    let record = RenderedList { file_name: RECORD_NAME.into(), text: format!("{}\n", options.layout) };
    write_lists(output_dir, std::slice::from_ref(&record))?;
    if let Some((declaration, text, count)) = part {
        let path = spec_part::write(declaration, &text)?;
        log::info!("{}: declares {count} subpackages of {}", path.display(), declaration.owner);
    }
    for ((list, saved, takeover), owned) in takeovers.iter().zip(&owned_texts) {
        takeover.commit(list, saved, owned)?;
    }
    Ok(SplitOutcome { lists, rendered })
}

/// The brp step's work before any list: compile the levels the layout names and the caches
/// lack, then link inside the layout's groups.
fn run_brp_step(options: &SplitOptions, step: &BrpStep<'_>, real_root: &Path) -> Result<(), Error> {
    if step.compile_missing {
        let accepts = |cache: &Path| {
            let installed = cache.strip_prefix(real_root).map(|rel| Path::new("/").join(rel));
            installed.is_ok_and(|p| options.filter.accepts(&p))
        };
        let missing = find_missing(&options.roots, &options.layout, accepts)?;
        compile_missing(&missing, real_root, &options.layout, step.python)?;
    }
    if step.link {
        // The split's caches link inside the layout's groups; those it leaves to other
        // packages (or that --include/--exclude keep out) as an unsplit build links them.
        let layout_scope = options.filter.is_restricted().then(|| {
            let (filter, real_root) = (options.filter.clone(), real_root.to_path_buf());
            LayoutScope(std::sync::Arc::new(move |cache: &Path| {
                let installed = cache.strip_prefix(&real_root).map(|rel| Path::new("/").join(rel));
                installed.is_ok_and(|p| filter.accepts(&p))
            }))
        });
        let link_options = LinkOptions {
            roots: options.roots.clone(),
            layout: options.layout.clone(),
            dry_run: false,
            link_events: false,
            layout_scope,
        };
        let report = link(&link_options, Event::log);
        log::info!("linked {} caches inside the groups of layout {}", report.linked, options.layout);
    }
    Ok(())
}

/// The pyproject lists the `%files` lines of one package name, and the declaration of that
/// package's subpackages.
#[derive(Clone, Debug)]
pub struct OwnerLists {
    pub declaration: Declaration,
    /// Each list and the name of its saved original, as [`pyproject::lists_at`] gives them.
    pub lists: Vec<(PathBuf, String)>,
}

/// Whether `owner` can name the files of its lists and spec part: an rpm package name made of
/// letters, digits and `._+-` (rpm allows more; those go unsplit).
pub fn is_file_name_safe(owner: &str) -> bool {
    !owner.is_empty()
        && !owner.starts_with('.')
        && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

/// A split with one set of subpackages per owner: the named copies of `%pyproject_save_files
/// -D` whose `%files` lines belong to different packages. Each owner's subpackages ship the
/// caches its lists' globs name and its lists own them as `%ghost`; its group lists are
/// `OWNER-bytecode-opt-LEVELS.files` and its part `brp-pyc-bytecode-OWNER.specpart`. As in
/// [`split_build`], everything is rendered before anything is written, the lists last.
pub fn split_build_per_owner(
    options: SplitOptions,
    step: &BrpStep<'_>,
    owners: &[OwnerLists],
    output_dir: &Path,
    syntax: RpmSyntax,
) -> Result<Vec<SplitOutcome>, Error> {
    for owner in owners {
        owner.declaration.validate()?;
        if !is_file_name_safe(&owner.declaration.owner) {
            return Err(Error::BadOwner { owner: owner.declaration.owner.clone(), evr: String::new() });
        }
    }
    let real_root = options.build_root.clone().unwrap_or_else(|| options.roots[0].clone());
    run_brp_step(&options, step, &real_root)?;
    let accepts = |installed: &[u8]| options.filter.accepts(Path::new(OsStr::from_bytes(installed)));
    let mut read = Vec::with_capacity(owners.len());
    let mut all = PyprojectBytecode::default();
    for owner in owners {
        let (takeovers, covered) = read_takeovers(&owner.lists, output_dir, &accepts)?;
        all.dirs.extend(covered.dirs.iter().cloned());
        all.caches.extend(covered.caches.iter().cloned());
        read.push((owner, takeovers, covered));
    }
    // One walk of the tree for all owners; each takes the part its own lists cover.
    let mut planning = options.clone();
    planning.pyproject = Some(all);
    let planned = plan_lists(&planning)?;
    let mut renderer = ListRenderer::new(syntax, &real_root);
    let mut outcomes = Vec::with_capacity(owners.len());
    let mut parts = Vec::with_capacity(owners.len());
    let mut commits = Vec::new();
    for (owner, takeovers, covered) in read {
        let declaration = &owner.declaration;
        let lists = planned.covered_by(&covered, &real_root);
        let mut rendered = render_lists(&lists, syntax, &real_root)?;
        for list in &mut rendered {
            list.file_name = format!("{}-{}", declaration.owner, list.file_name);
        }
        for (list, saved, takeover) in takeovers {
            let owned = renderer.owned_entries(
                takeover.bytecode.dirs.iter().filter(|d| accepts(d)),
                lists.ghosts.iter().chain(&lists.unassigned).filter(|p| takeover.bytecode.covers(p)),
            )?;
            commits.push((list, saved, takeover, owned));
        }
        let groups = declared_groups(&options.layout, &lists, declaration, |label| {
            output_dir.join(format!("{}-{}", declaration.owner, group_list_name(label)))
        });
        let part = spec_part::render(declaration, &groups)?;
        let count = groups.len();
        parts.push((declaration, part, count));
        outcomes.push(SplitOutcome { lists, rendered });
    }
    for outcome in &outcomes {
        write_lists(output_dir, &outcome.rendered)?;
    }
    let record = RenderedList { file_name: RECORD_NAME.into(), text: format!("{}\n", options.layout) };
    write_lists(output_dir, std::slice::from_ref(&record))?;
    for (declaration, text, count) in parts {
        let name = format!("brp-pyc-bytecode-{}.specpart", declaration.owner);
        let path = spec_part::write_as(declaration, &text, &name)?;
        log::info!("{}: declares {count} subpackages of {}", path.display(), declaration.owner);
    }
    for (list, saved, takeover, owned) in &commits {
        takeover.commit(list, saved, owned)?;
    }
    Ok(outcomes)
}

/// A pyproject list read for taking over: its path, where its original is kept, its entries.
type ReadList = (PathBuf, PathBuf, TakeOver);

/// The pyproject lists `lists` (each with the name of its saved original) read for taking
/// over, and the bytecode entries they name together.
fn read_takeovers(
    lists: &[(PathBuf, String)],
    output_dir: &Path,
    accepts: &dyn Fn(&[u8]) -> bool,
) -> Result<(Vec<ReadList>, PyprojectBytecode), Error> {
    let mut takeovers = Vec::with_capacity(lists.len());
    let mut covered = PyprojectBytecode::default();
    for (list, saved_name) in lists {
        let saved = output_dir.join(saved_name);
        let takeover = crate::split::pyproject::read(list, &saved, accepts)?;
        covered.dirs.extend(takeover.bytecode.dirs.iter().cloned());
        covered.caches.extend(takeover.bytecode.caches.iter().cloned());
        takeovers.push((list.clone(), saved, takeover));
    }
    Ok((takeovers, covered))
}

/// The layout groups of `lists` that have caches, each with its list at `list_of(label)`, for
/// the spec part of `declaration` (an empty group declares no subpackage).
fn declared_groups<'a>(
    layout: &Layout,
    lists: &'a FileLists,
    declaration: &Declaration,
    list_of: impl Fn(&str) -> PathBuf,
) -> Vec<DeclaredGroup<'a>> {
    layout
        .groups()
        .into_iter()
        .zip(&lists.groups)
        .filter(|(_, (label, caches))| {
            let empty = caches.is_empty();
            if empty {
                log::info!("{}: no caches, not declared", declaration.subpackage(label));
            }
            !empty
        })
        .map(|(levels, (label, caches))| DeclaredGroup { levels, label: label.clone(), list: list_of(label), caches })
        .collect()
}

impl FileLists {
    /// The part of these lists that the pyproject entries `covered` name: one owner's share
    /// of lists planned for several (`real_root` turns the cross links' paths into installed
    /// ones).
    fn covered_by(&self, covered: &PyprojectBytecode, real_root: &Path) -> FileLists {
        let keep = |paths: &BTreeSet<Vec<u8>>| paths.iter().filter(|p| covered.covers(p)).cloned().collect();
        FileLists {
            dirs: self.dirs.intersection(&covered.dirs).cloned().collect(),
            ghosts: keep(&self.ghosts),
            groups: self.groups.iter().map(|(label, caches)| (label.clone(), keep(caches))).collect(),
            unassigned: keep(&self.unassigned),
            cross_links: self
                .cross_links
                .iter()
                .filter(|(a, _)| {
                    let installed = a.strip_prefix(real_root).map(|rel| Path::new("/").join(rel));
                    installed.is_ok_and(|p| covered.covers(p.as_os_str().as_bytes()))
                })
                .cloned()
                .collect(),
        }
    }
}

/// Computes the lists for the trees in `options`.
pub fn plan_lists(options: &SplitOptions) -> Result<FileLists, Error> {
    let walk = visit_dirs(&options.roots, |listing| {
        let sources = source_stems(listing);
        let caches = group_dir(listing);
        let linked_copies = caches
            .modules
            .iter()
            .map(|m| {
                m.caches
                    .iter()
                    .map(|c| {
                        let stat =
                            rustix::fs::statat(listing.fd(), &c.name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
                        (stat.st_nlink > 1).then_some((stat.st_dev as u64, stat.st_ino as u64))
                    })
                    .collect()
            })
            .collect();
        (!sources.is_empty() || !caches.modules.is_empty()).then_some(DirScan { sources, caches, linked_copies })
    });
    if let Some(error) = walk.errors.into_iter().next() {
        return Err(error); // a list that silently misses a directory would ship a broken package
    }
    let by_path: HashMap<&Path, &DirScan> = walk.dirs.iter().map(|(p, s)| (p.as_path(), s)).collect();
    let mut lists = FileLists {
        groups: options.layout.groups().iter().map(|g| (group_label(g), BTreeSet::new())).collect(),
        ..FileLists::default()
    };
    for (dir, scan) in &walk.dirs {
        if scan.caches.modules.is_empty() {
            continue;
        }
        let installed_dir = installed(dir, options)?;
        let in_pycache = dir.file_name().is_some_and(|n| n.as_bytes() == PYCACHE);
        let sources: &[Box<[u8]>] = if in_pycache {
            dir.parent().and_then(|parent| by_path.get(parent)).map_or(&[], |s| &s.sources)
        } else {
            &scan.sources
        };
        let mut listed_here = false;
        let mut tags = BTreeSet::new();
        for (module, copies) in scan.caches.modules.iter().zip(&scan.linked_copies) {
            tags.insert((module.scheme, module.tag.clone()));
            let stored: Vec<_> = module.caches.iter().zip(copies).map(|(c, copy)| (&c.level, *copy)).collect();
            for (home, sharer) in cross_group_links(&stored, &options.layout) {
                let (home, sharer) = (&module.caches[home], &module.caches[sharer]);
                // Caches the split leaves to another package ship together there.
                let split = |c: &CacheEntry| options.filter.accepts(&installed_dir.join(c.name_os()));
                if split(home) || split(sharer) {
                    lists.cross_links.push((dir.join(home.name_os()), dir.join(sharer.name_os())));
                }
            }
            for cache in &module.caches {
                let path = installed_dir.join(cache.name_os());
                if !options.filter.accepts(&path) {
                    continue;
                }
                listed_here = true;
                let bytes = path.into_os_string().into_vec();
                if options.ghosts {
                    lists.ghosts.insert(bytes.clone());
                }
                match options.layout.group_of(&cache.level) {
                    Some(g) => lists.groups[g].1.insert(bytes),
                    None => lists.unassigned.insert(bytes),
                };
            }
        }
        // The caches Python may write at run time: every level of every source, per tag seen.
        if options.ghosts {
            for (scheme, tag) in &tags {
                for stem in sources {
                    for level in levels_of(*scheme) {
                        let name = cache_file_name(*scheme, stem, tag, level);
                        let path = installed_dir.join(OsStr::from_bytes(&name));
                        if options.filter.accepts(&path) {
                            listed_here = true;
                            lists.ghosts.insert(path.into_os_string().into_vec());
                        }
                    }
                }
            }
        }
        // A __pycache__ whose parent another package owns (site-packages, the interpreter's
        // library directory) is that package's: owning it would make two owners.
        let shared_parent =
            installed_dir.parent().and_then(Path::file_name).is_some_and(|n| is_shared_dir(n.as_bytes()));
        if in_pycache && listed_here && !shared_parent {
            lists.dirs.insert(installed_dir.into_os_string().into_vec());
        }
    }
    if let Some(pyproject) = &options.pyproject {
        lists.dirs = pyproject
            .dirs
            .iter()
            .filter(|d| options.filter.accepts(Path::new(OsStr::from_bytes(d))))
            .cloned()
            .collect();
        lists.ghosts.retain(|path| pyproject.covers(path));
    }
    Ok(lists)
}

/// Directories that hold the modules of many packages: `site-packages`, `dist-packages`, and
/// an interpreter's library directory (`python3.13`, `python3.13t`, `python2.7`).
fn is_shared_dir(name: &[u8]) -> bool {
    let interpreter_lib = name.strip_prefix(b"python").is_some_and(|v| {
        let v = v.strip_suffix(b"t").unwrap_or(v);
        let mut parts = v.splitn(2, |&b| b == b'.');
        let all_digits = |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
        all_digits(parts.next()) && all_digits(parts.next())
    });
    name == b"site-packages" || name == b"dist-packages" || interpreter_lib
}

fn levels_of(scheme: Scheme) -> &'static [Level] {
    match scheme {
        Scheme::Pep3147 => &GHOST_LEVELS,
        Scheme::Legacy => &GHOST_LEVELS[..2], // .pyc and .pyo
    }
}

/// `0`, `1-2`, `0-1-2`: the part of a list's file name that names its levels.
pub fn group_label(levels: &[u8]) -> String {
    levels.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("-")
}

/// The file name of a layout group's list: `bytecode-opt-0.files`, `bytecode-opt-1-2.files`.
pub fn group_list_name(label: &str) -> String {
    format!("bytecode-opt-{label}.files")
}

/// The installed path of a directory: the build root removed, `/` in front.
fn installed(dir: &Path, options: &SplitOptions) -> Result<PathBuf, Error> {
    let root = match &options.build_root {
        Some(root) => root.as_path(),
        None => {
            options.roots.iter().filter(|r| dir.starts_with(r)).max_by_key(|r| r.as_os_str().len()).map_or(dir, |r| r)
        }
    };
    let rel = dir
        .strip_prefix(root)
        .map_err(|_| Error::OutsideBuildRoot { path: dir.to_path_buf(), root: root.to_path_buf() })?;
    Ok(Path::new("/").join(rel))
}

/// One rendered list: its file name and its lines.
#[derive(Debug, PartialEq, Eq)]
pub struct RenderedList {
    pub file_name: String,
    pub text: String,
}

/// Renders the lists for `syntax`. `real_root` is the build root on disk, for the check that a
/// legacy glob matches only its own file. Fails on the first path the rpm cannot hold.
pub fn render_lists(lists: &FileLists, syntax: RpmSyntax, real_root: &Path) -> Result<Vec<RenderedList>, Error> {
    let mut renderer = ListRenderer::new(syntax, real_root);
    let ghost = renderer.owned_entries(lists.dirs.iter(), lists.ghosts.iter().chain(&lists.unassigned))?;
    let mut rendered = vec![RenderedList { file_name: GHOST_LIST_NAME.into(), text: ghost }];
    for (label, paths) in &lists.groups {
        let mut text = String::new();
        for path in paths {
            text.push_str(&renderer.line("", path)?);
        }
        rendered.push(RenderedList { file_name: group_list_name(label), text });
    }
    Ok(rendered)
}

/// The file name of the main package's list (`%py_bytecode_ghost_files`).
pub const GHOST_LIST_NAME: &str = "bytecode-ghost.files";

/// The longest line rpm reads whole from a `%files -f` list: it reads lists with
/// `fgets(buf, BUFSIZ)` (8,192 on glibc, `build/files.cc` from rpm 4.18 to 6.1), so the rest of
/// a longer line would be parsed as a line of its own, which a name could fill with directives.
pub const MAX_LIST_LINE: usize = 8191;

/// Writes `%files` lines for one rpm syntax, checking each name against the build root.
pub struct ListRenderer<'a> {
    syntax: RpmSyntax,
    checker: LegacyGlobCheck<'a>,
}

impl<'a> ListRenderer<'a> {
    pub fn new(syntax: RpmSyntax, real_root: &'a Path) -> ListRenderer<'a> {
        ListRenderer { syntax, checker: LegacyGlobCheck { root: real_root, listings: HashMap::new() } }
    }

    /// One line: `directive` (`%dir `, `%ghost ` or nothing) and the escaped path.
    pub fn line(&mut self, directive: &str, path: &[u8]) -> Result<String, Error> {
        let rpm = match self.syntax {
            RpmSyntax::V419 => "rpm 4.19 and later",
            RpmSyntax::Legacy => "rpm before 4.19",
        };
        let unlistable = |why: String| Error::Unlistable { path: PathBuf::from(OsStr::from_bytes(path)), rpm, why };
        // rpm 4.19 and later undo escapes through a glob match only, which a name absent from
        // the build root (a %ghost of a level not compiled) never has: it is written as a glob
        // that must match nothing else, like every name for rpm before 4.19.
        let absent = self.syntax == RpmSyntax::V419 && !self.checker.exists(path);
        let escaped = if absent { escape_absent_path(path) } else { escape_path(path, self.syntax) };
        let escaped = escaped.map_err(|e| unlistable(e.to_string()))?;
        if (self.syntax == RpmSyntax::Legacy || absent) && has_glob_chars(path) {
            self.checker.check(path).map_err(unlistable)?;
        }
        let line = format!("{directive}{escaped}");
        if line.len() > MAX_LIST_LINE {
            return Err(unlistable(format!(
                "its line of {} bytes is longer than the {MAX_LIST_LINE} rpm reads as one line of a %files list",
                line.len()
            )));
        }
        Ok(line + "\n")
    }

    /// What the owner of the caches lists: `%dir` for `dirs`, `%ghost` for `ghosts`, sorted by
    /// path.
    pub fn owned_entries<'p>(
        &mut self,
        dirs: impl Iterator<Item = &'p Vec<u8>>,
        ghosts: impl Iterator<Item = &'p Vec<u8>>,
    ) -> Result<String, Error> {
        let mut entries: BTreeMap<&[u8], &str> = BTreeMap::new();
        for dir in dirs {
            entries.insert(dir, "%dir ");
        }
        for path in ghosts {
            entries.insert(path, "%ghost ");
        }
        let mut text = String::new();
        for (path, directive) in entries {
            text.push_str(&self.line(directive, path)?);
        }
        Ok(text)
    }
}

/// rpm before 4.19 globs every entry, quoted or not, and has no escape (and rpm 4.19 and later
/// cannot escape a name absent from the build root): a name with glob characters is right only
/// if, in each directory along its path, its pattern matches no other entry (checked against
/// the build root, as rpm will see it).
struct LegacyGlobCheck<'a> {
    root: &'a Path,
    listings: HashMap<PathBuf, Vec<Vec<u8>>>,
}

impl LegacyGlobCheck<'_> {
    /// Whether the installed path names anything in the build root (a dangling symlink too).
    fn exists(&self, installed: &[u8]) -> bool {
        let rel = installed.strip_prefix(b"/").unwrap_or(installed);
        std::fs::symlink_metadata(self.root.join(OsStr::from_bytes(rel))).is_ok()
    }

    fn check(&mut self, installed: &[u8]) -> Result<(), String> {
        let mut dir = self.root.to_path_buf();
        for component in Path::new(OsStr::from_bytes(installed)).components().skip(1) {
            let name = component.as_os_str().as_bytes();
            if has_glob_chars(name) {
                let pattern = std::str::from_utf8(name).map_err(|_| "not UTF-8".to_string())?;
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|_| "glob characters that rpm would misread".to_string())?
                    .compile_matcher();
                let siblings = self.listings.entry(dir.clone()).or_insert_with(|| list_names(&dir));
                if let Some(other) =
                    siblings.iter().find(|s| s.as_slice() != name && glob.is_match(OsStr::from_bytes(s)))
                {
                    return Err(format!("glob characters that would also take {}", String::from_utf8_lossy(other)));
                }
            }
            dir.push(component);
        }
        Ok(())
    }
}

fn list_names(dir: &Path) -> Vec<Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name().into_vec()).collect())
        .unwrap_or_default()
}

/// Writes the lists into `output_dir`, each through a temporary file renamed into place, so a
/// reader never sees half a list.
pub fn write_lists(output_dir: &Path, lists: &[RenderedList]) -> Result<(), Error> {
    std::fs::create_dir_all(output_dir).map_err(|e| Error::io(output_dir, e))?;
    for list in lists {
        replace_file(&output_dir.join(&list.file_name), list.text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists planned once for two owners share out by the pyproject entries each owner's list
    /// named: every cache and `__pycache__` to the owner whose glob covers it, none to both.
    #[test]
    fn lists_planned_for_several_owners_share_out_by_what_each_list_names() {
        let cache =
            |module: &str, level: &str| format!("/s/{module}/__pycache__/m.cpython-314{level}.pyc").into_bytes();
        let covering = |module: &str| PyprojectBytecode {
            dirs: [format!("/s/{module}/__pycache__").into_bytes()].into(),
            caches: [(format!("/s/{module}/__pycache__").into_bytes(), b"m.cpython-314".to_vec())].into(),
        };
        let all: BTreeSet<Vec<u8>> = ["foo", "bar"].iter().flat_map(|m| ["", ".opt-1"].map(|l| cache(m, l))).collect();
        let planned = FileLists {
            dirs: [b"/s/foo/__pycache__".to_vec(), b"/s/bar/__pycache__".to_vec()].into(),
            ghosts: all.clone(),
            groups: vec![
                ("0".into(), [cache("foo", ""), cache("bar", "")].into()),
                ("1".into(), [cache("foo", ".opt-1"), cache("bar", ".opt-1")].into()),
            ],
            unassigned: BTreeSet::new(),
            cross_links: vec![(PathBuf::from("/root/s/bar/__pycache__/m.cpython-314.pyc"), PathBuf::from("/root/s/x"))],
        };
        let foo = planned.covered_by(&covering("foo"), Path::new("/root"));
        let bar = planned.covered_by(&covering("bar"), Path::new("/root"));
        assert_eq!(foo.dirs, [b"/s/foo/__pycache__".to_vec()].into());
        assert_eq!(foo.ghosts, [cache("foo", ""), cache("foo", ".opt-1")].into());
        assert_eq!(foo.groups[0].1, [cache("foo", "")].into());
        assert_eq!(bar.groups[1].1, [cache("bar", ".opt-1")].into());
        assert!(foo.cross_links.is_empty() && bar.cross_links.len() == 1);
        assert!(foo.ghosts.is_disjoint(&bar.ghosts));
    }

    /// Owners name files (`OWNER-bytecode-opt-0.files`, `brp-pyc-bytecode-OWNER.specpart`):
    /// nothing that leaves the directory or hides the file.
    #[test]
    fn an_owner_names_a_file_only_with_plain_characters() {
        for good in ["python3-foo", "python3.13-foo_bar", "c++-tools", "A1"] {
            assert!(is_file_name_safe(good), "{good}");
        }
        for bad in ["", ".hidden", "..", "a/b", "../x", "a b", "a%b", "caf\u{e9}", "a\nb"] {
            assert!(!is_file_name_safe(bad), "{bad:?}");
        }
    }

    fn tree(files: &[&[u8]]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let path = dir.path().join(OsStr::from_bytes(f));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"").unwrap();
        }
        dir
    }

    fn options(root: &Path, layout: &str) -> SplitOptions {
        SplitOptions {
            roots: vec![root.to_path_buf()],
            build_root: None,
            layout: layout.parse().unwrap(),
            ghosts: true,
            filter: PathFilter::default(),
            pyproject: None,
            own: Vec::new(),
            taken_globs: Vec::new(),
        }
    }

    fn strings(set: &BTreeSet<Vec<u8>>) -> Vec<String> {
        set.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect()
    }

    #[test]
    fn ghosts_every_level_of_every_source_and_groups_real_caches() {
        let root = tree(&[
            b"p/a.py",
            b"p/b.py",
            b"p/__pycache__/a.cpython-311.pyc",
            b"p/__pycache__/a.cpython-311.opt-2.pyc",
            b"p/__pycache__/orphan.cpython-311.pyc",
            b"q/nocache.py",
        ]);
        let lists = plan_lists(&options(root.path(), "0,12")).unwrap();
        assert_eq!(strings(&lists.dirs), ["/p/__pycache__"]);
        let ghosts = strings(&lists.ghosts);
        assert_eq!(ghosts.len(), 7, "{ghosts:?}");
        assert!(ghosts.contains(&"/p/__pycache__/b.cpython-311.opt-1.pyc".to_string()), "not compiled, still owned");
        assert!(ghosts.contains(&"/p/__pycache__/orphan.cpython-311.pyc".to_string()), "every real cache is owned");
        assert_eq!(lists.groups[0].0, "0");
        assert_eq!(
            strings(&lists.groups[0].1),
            ["/p/__pycache__/a.cpython-311.pyc", "/p/__pycache__/orphan.cpython-311.pyc"]
        );
        assert_eq!(lists.groups[1].0, "1-2");
        assert_eq!(strings(&lists.groups[1].1), ["/p/__pycache__/a.cpython-311.opt-2.pyc"]);
    }

    #[test]
    fn links_across_layout_groups_are_reported() {
        let root = tree(&[b"p/a.py", b"p/__pycache__/a.cpython-311.pyc"]);
        let cache = root.path().join("p/__pycache__");
        std::fs::hard_link(cache.join("a.cpython-311.pyc"), cache.join("a.cpython-311.opt-1.pyc")).unwrap();
        std::fs::write(cache.join("a.cpython-311.opt-2.pyc"), b"").unwrap();
        let split = plan_lists(&options(root.path(), "0,1,2")).unwrap();
        assert_eq!(split.cross_links, [(cache.join("a.cpython-311.pyc"), cache.join("a.cpython-311.opt-1.pyc"))]);
        assert!(plan_lists(&options(root.path(), "01,2")).unwrap().cross_links.is_empty());
    }

    #[test]
    fn shared_directories_keep_their_pycache_and_pyproject_decides_what_is_owned() {
        let root = tree(&[
            b"usr/lib/python3.11/site-packages/top.py",
            b"usr/lib/python3.11/site-packages/__pycache__/top.cpython-311.pyc",
            b"usr/lib/python3.11/site-packages/foo/a.py",
            b"usr/lib/python3.11/site-packages/foo/__pycache__/a.cpython-311.pyc",
            b"usr/lib/python3.11/__pycache__/std.cpython-311.pyc",
            b"usr/lib/python3.11/std.py",
            b"usr/share/x/m.py",
            b"usr/share/x/__pycache__/m.cpython-311.pyc",
        ]);
        let lists = plan_lists(&options(root.path(), "0,1,2")).unwrap();
        assert_eq!(
            strings(&lists.dirs),
            ["/usr/lib/python3.11/site-packages/foo/__pycache__", "/usr/share/x/__pycache__"]
        );
        let mut opts = options(root.path(), "0,1,2");
        opts.pyproject = Some(
            crate::split::pyproject::parse(
                "%dir /usr/lib/python3.11/site-packages/foo/__pycache__\n\
             /usr/lib/python3.11/site-packages/foo/__pycache__/a.cpython-311{,.opt-?}.pyc\n\
             /usr/lib/python3.11/site-packages/__pycache__/top.cpython-311{,.opt-?}.pyc\n",
                &|_| true,
            )
            .bytecode,
        );
        let lists = plan_lists(&opts).unwrap();
        assert_eq!(strings(&lists.dirs), ["/usr/lib/python3.11/site-packages/foo/__pycache__"]);
        let ghosts = strings(&lists.ghosts);
        assert_eq!(ghosts.len(), 6, "{ghosts:?}");
        assert!(ghosts
            .iter()
            .all(|g| g.contains("/site-packages/foo/__pycache__/a.") || g.contains("/site-packages/__pycache__/top.")));
        assert_eq!(lists.groups[0].1.len(), 4, "the subpackages still ship every real cache");
        assert!(is_shared_dir(b"python3.13t") && is_shared_dir(b"dist-packages") && !is_shared_dir(b"python-foo"));
    }

    #[test]
    fn python2_caches_beside_sources() {
        let root = tree(&[b"lib/m.py", b"lib/m.pyc", b"lib/n.py"]);
        let lists = plan_lists(&options(root.path(), "0,1")).unwrap();
        assert!(lists.dirs.is_empty());
        assert_eq!(strings(&lists.ghosts), ["/lib/m.pyc", "/lib/m.pyo", "/lib/n.pyc", "/lib/n.pyo"]);
        assert_eq!(strings(&lists.groups[0].1), ["/lib/m.pyc"]);
    }

    #[test]
    fn filters_and_ghost_none() {
        let root =
            tree(&[b"a/x.py", b"a/__pycache__/x.cpython-311.pyc", b"b/y.py", b"b/__pycache__/y.cpython-311.pyc"]);
        let mut opts = options(root.path(), "012");
        opts.filter = PathFilter::new(&["/a".into()], &[]).unwrap();
        let lists = plan_lists(&opts).unwrap();
        assert_eq!(strings(&lists.dirs), ["/a/__pycache__"]);
        assert!(strings(&lists.ghosts).iter().all(|p| p.starts_with("/a/")));
        opts.filter = PathFilter::new(&[], &["/a/**".into()]).unwrap();
        opts.ghosts = false;
        let lists = plan_lists(&opts).unwrap();
        assert!(lists.ghosts.is_empty());
        assert_eq!(strings(&lists.groups[0].1), ["/b/__pycache__/y.cpython-311.pyc"]);
    }

    #[test]
    fn legacy_glob_that_would_match_a_sibling_is_refused() {
        let root =
            tree(&[b"p/m*.py", b"p/mod.py", b"p/__pycache__/m*.cpython-311.pyc", b"p/__pycache__/mod.cpython-311.pyc"]);
        let lists = plan_lists(&options(root.path(), "0,1,2")).unwrap();
        let err = render_lists(&lists, RpmSyntax::Legacy, root.path()).unwrap_err();
        assert!(err.to_string().contains("m*.cpython-311"), "{err}");
        assert!(render_lists(&lists, RpmSyntax::V419, root.path()).is_ok());
        let alone = tree(&[b"p/[x]*.py", b"p/__pycache__/[x]*.cpython-311.pyc"]);
        let lists = plan_lists(&options(alone.path(), "0,1,2")).unwrap();
        let rendered = render_lists(&lists, RpmSyntax::Legacy, alone.path()).unwrap();
        assert!(rendered[1].text.contains("/p/__pycache__/[x]*.cpython-311.pyc\n"));
    }

    /// rpm 4.19+ records an absent `%ghost` as its text: written unescaped (spaces aside), and
    /// refused when that glob would take a file that is there.
    #[test]
    fn v419_absent_ghosts_are_written_unescaped_and_must_match_nothing() {
        let root = tree(&[b"p/[x] y.py", b"p/__pycache__/[x] y.cpython-311.pyc"]);
        let lists = plan_lists(&options(root.path(), "0,1,2")).unwrap();
        let rendered = render_lists(&lists, RpmSyntax::V419, root.path()).unwrap();
        let ghosts = &rendered[0].text;
        assert!(ghosts.contains("%ghost /p/__pycache__/\\[x\\]\\ y.cpython-311.pyc\n"), "present: escaped\n{ghosts}");
        assert!(ghosts.contains("%ghost /p/__pycache__/[x]\\ y.cpython-311.opt-1.pyc\n"), "absent: as it is\n{ghosts}");

        let root = tree(&[b"p/m*.py", b"p/mod.py", b"p/__pycache__/mod.cpython-311.opt-1.pyc"]);
        let lists = plan_lists(&options(root.path(), "0,1,2")).unwrap();
        let err = render_lists(&lists, RpmSyntax::V419, root.path()).unwrap_err();
        assert!(
            err.to_string().contains("m*.cpython-311.opt-1.pyc") && err.to_string().contains("would also take"),
            "{err}"
        );
    }
}

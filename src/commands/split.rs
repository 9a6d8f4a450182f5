//! `brp-pyc split`: write the `%files` fragments of split bytecode subpackages.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cli::{GhostEntries, LinkArgs, SplitArgs};
use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::link::walk::check_roots;
use crate::render::quote;
use crate::render::rpm_files::{EscapeChoice, RpmSyntax};
use crate::split::owner_list::OWNER_LIST_NAME;
use crate::split::recorded::{owner_lists, Recorded};
use crate::split::spec_part::{is_package_name, Declaration};
use crate::split::{
    is_file_name_safe, split_build, split_build_per_owner, BrpStep, FileLists, OwnerLists, PathFilter, SplitOptions,
    SplitOutcome,
};

/// The `split` subcommand: options from the command line, warnings and a summary to the log.
pub fn run(args: &SplitArgs) -> Result<ExitCode, Error> {
    let Some(paths) = crate::build_root::roots_or_build_root(&args.paths) else {
        log::info!("RPM_BUILD_ROOT is unset or /: nothing to do");
        return Ok(ExitCode::Success);
    };
    let recorded = Recorded::from_env();
    let taken = taken_over(args, &recorded)?;
    let lists =
        owner_lists(args.pyproject_files.as_deref(), !args.own.is_empty() || !taken.is_empty(), &args.output_dir);
    let per_owner = owners_of_named_copies(args, &recorded)?;
    // What the spec's %files sections say, when the split declares the subpackages itself
    // (a spec that declares them lists what it wants) or follows a %py_bytecode_owns line:
    // None where the macros had too much.
    let (by_hand, left_alone) = if args.declare.is_some() || !taken.is_empty() {
        (recorded.by_hand(&lists), recorded.left_alone(&lists))
    } else {
        (Some(Vec::new()), Some(Vec::new()))
    };
    if !taken.is_empty() && left_alone.is_none() {
        // Without what the other lines list, their caches would ship in the subpackages too.
        return Err(Error::TakenOver("what the spec's other %files lines list was not recorded".into()));
    }
    if args.if_pyproject {
        let why = match (&by_hand, &left_alone) {
            // The unsplit build ships those caches in the owner: split, rpm would list them twice.
            (Some(lines), _) if !lines.is_empty() => {
                Some(format!("the owner's %files section lists caches by hand ({})", lines[0]))
            }
            (None, _) | (_, None) => Some("the spec's %files sections list more than brp-pyc can follow".to_string()),
            _ => why_pyproject_split_does_not_apply(args, &recorded, per_owner.is_some())?,
        };
        if let Some(why) = why {
            // The distribution's switch: the build log says what it did with every package.
            eprintln!("brp-pyc: not split (the distribution's switch): {why}; the caches are linked");
            let link = LinkArgs {
                dry_run: false,
                json: false,
                layout: args.unsplit_layout.clone(),
                strict: false,
                paths: args.paths.clone(),
            };
            return crate::commands::link::run(&link);
        }
    }
    match &by_hand {
        Some(lines) if !lines.is_empty() => log::warn!(
            "the owner's %files section lists caches by hand ({}): rpm will say they are listed twice",
            lines[0]
        ),
        None => log::warn!("the spec's %files sections list more than brp-pyc can follow: not checked"),
        _ => {}
    }
    // Checked before anything changes: a build that cannot declare its subpackages fails
    // with the tree as it was.
    let per_owner = match per_owner {
        Some(owners) => Some(
            owners
                .into_iter()
                .map(|(owner, lists)| Ok(OwnerLists { declaration: declaration(args, &owner)?, lists }))
                .collect::<Result<Vec<_>, Error>>()?,
        ),
        None => None,
    };
    let owner = match per_owner {
        Some(_) => None,
        None => args.declare.as_ref().map(|guess| owner_of_lists(args, guess, &recorded, &lists)),
    };
    let declaration = owner.as_ref().map(|owner| declaration(args, owner)).transpose()?;
    let roots = check_roots(&paths)?;
    let build_root = args.build_root.clone().or_else(|| {
        let env = std::env::var_os("RPM_BUILD_ROOT").map(PathBuf::from)?;
        roots.iter().all(|r| r.starts_with(&env)).then_some(env)
    });
    // A %py_bytecode_owns line restricts the split to the caches its lines listed and the
    // directories given to %py_bytecode_split.
    let include = if taken.is_empty() {
        args.include.clone()
    } else {
        let mut include = taken.covered();
        for dir in &args.own {
            // A glob matches text: a name that is not UTF-8 would match nothing, silently.
            let dir = dir.to_str().ok_or_else(|| Error::Glob(dir.display().to_string(), "not UTF-8".into()))?;
            include.push(dir.to_string());
        }
        include
    };
    let filter = PathFilter::new(&include, &excludes(args, left_alone.as_deref().unwrap_or_default()))?;
    let syntax = match args.rpm_escape {
        EscapeChoice::Fixed(syntax) => syntax,
        EscapeChoice::Auto => installed_rpm_syntax()?,
    };
    let options = SplitOptions {
        build_root,
        layout: args.layout.clone(),
        ghosts: args.ghost == GhostEntries::All,
        filter,
        roots,
        pyproject: None,
        own: args.own.iter().cloned().chain(taken.dirs.iter().map(PathBuf::from)).collect(),
        taken_globs: taken.globs.clone(),
    };
    let step = BrpStep { compile_missing: args.compile_missing, python: args.python.as_deref(), link: args.link };
    if let Some(owners) = per_owner {
        let outcomes = split_build_per_owner(options, &step, &owners, &args.output_dir, syntax)?;
        let mut said = Vec::with_capacity(owners.len());
        for (owner, outcome) in owners.iter().zip(&outcomes) {
            report(args, outcome);
            let declared = declared_subpackages(&owner.declaration, &outcome.lists);
            said.push(format!("the caches of {} go to {declared}", owner.declaration.owner));
        }
        if args.if_pyproject {
            eprintln!("brp-pyc: split (the distribution's switch): {}", said.join("; "));
        }
        return Ok(ExitCode::Success);
    }
    let outcome =
        split_build(options, &step, args.pyproject_files.as_deref(), &args.output_dir, syntax, declaration.as_ref())?;
    report(args, &outcome);
    if let (true, Some(declaration)) = (args.if_pyproject, &declaration) {
        eprintln!(
            "brp-pyc: split (the distribution's switch): the caches of {} go to {}",
            declaration.owner,
            declared_subpackages(declaration, &outcome.lists)
        );
    }
    Ok(ExitCode::Success)
}

/// What the `%py_bytecode_owns` line of the owner's section took over from its macro: the
/// directories whose trees the owner's list now lists, and the cache globs whose matches it
/// lists as `%ghost`.
#[derive(Debug, Default)]
struct TakenOver {
    dirs: Vec<String>,
    globs: Vec<String>,
}

impl TakenOver {
    fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.globs.is_empty()
    }

    /// The installed paths whose caches the split ships, as globs: the directories (their
    /// names taken literally) and the cache globs.
    fn covered(&self) -> Vec<String> {
        self.dirs.iter().map(|d| globset::escape(d)).chain(self.globs.iter().cloned()).collect()
    }
}

/// What the `%py_bytecode_owns` line of the section that names the owner's list took over
/// (rpm parsed the whole spec before `%install`: the run of `%py_bytecode_split` there and the
/// brp step both know it). An owner's list named by no `%files` line would leave the taken
/// directories unpackaged: an error saying so, as is a record too large to follow.
fn taken_over(args: &SplitArgs, recorded: &Recorded) -> Result<TakenOver, Error> {
    let lists = [args.output_dir.join(OWNER_LIST_NAME)];
    let (Some(dirs), Some(globs)) = (recorded.taken_dirs(&lists), recorded.taken_globs(&lists)) else {
        return Err(Error::TakenOver("it took over more lines than the environment can hand on".into()));
    };
    let taken = TakenOver { dirs, globs };
    if taken.is_empty() {
        return Ok(taken);
    }
    if recorded.owner_of(&lists[0]).is_none() {
        return Err(Error::TakenOver(
            "no %files line names %{py_bytecode_owner_files} with -f: the section with %py_bytecode_owns must".into(),
        ));
    }
    if !args.include.is_empty() {
        return Err(Error::TakenOver("it chooses the caches of the split: -i/--include cannot narrow them".into()));
    }
    let pyproject = args.pyproject_files.as_deref().map(crate::split::pyproject::lists_at).transpose()?;
    if pyproject.is_some_and(|lists| !lists.is_empty()) {
        return Err(Error::TakenOver(
            "the spec has %pyproject_save_files lists too, and the split takes over one kind of list".into(),
        ));
    }
    log::info!(
        "%py_bytecode_owns: {} directories and {} cache globs of the owner's section split",
        taken.dirs.len(),
        taken.globs.len()
    );
    Ok(taken)
}

/// The warnings and the summary of one split to the log.
fn report(args: &SplitArgs, outcome: &SplitOutcome) {
    let SplitOutcome { lists, rendered } = outcome;
    let layout = &args.layout;
    if !lists.unassigned.is_empty() {
        log::warn!(
            "{} caches have levels that layout {layout} does not name; they are listed only as %ghost",
            lists.unassigned.len()
        );
    }
    for (a, b) in &lists.cross_links {
        log::warn!(
            "{} and {} are one inode but ship in different subpackages of layout {layout}; rpm will store it in each (link with the same layout before splitting)",
            quote(a),
            quote(b),
        );
    }
    for list in rendered {
        log::info!("{}: {} lines", list.file_name, list.text.lines().count());
    }
}

/// The subpackages a split declared, for the build log's line.
fn declared_subpackages(declaration: &Declaration, lists: &FileLists) -> String {
    let declared: Vec<String> = lists
        .groups
        .iter()
        .filter(|(_, caches)| !caches.is_empty())
        .map(|(label, _)| declaration.subpackage(label))
        .collect();
    if declared.is_empty() {
        "no subpackage: there are none".to_string()
    } else {
        declared.join(", ")
    }
}

/// Pyproject lists, each with the name of its saved original ([`crate::split::pyproject::lists_at`]).
type ListsAndOriginals = Vec<(PathBuf, String)>;

/// The named copies of the pyproject list grouped by owner, when they are to split into one
/// set of subpackages per owner: `--owner-from-lists` with `--declare` and no `--own`, no base
/// list (only `%pyproject_save_files -D` calls), every copy named by the `%files` line of a
/// package, at least two such packages, each name one that can name files, and no cache named
/// by the copies of two of them (it would ship in both, and either's removal would delete it).
/// `None` otherwise: one owner (with a warning saying why, when there were several).
fn owners_of_named_copies(
    args: &SplitArgs,
    recorded: &Recorded,
) -> Result<Option<Vec<(String, ListsAndOriginals)>>, Error> {
    let Some(file) = args.pyproject_files.as_deref().filter(|f| !f.as_os_str().is_empty()) else { return Ok(None) };
    if !args.owner_from_lists || args.declare.is_none() {
        return Ok(None);
    }
    let lists = crate::split::pyproject::lists_at(file)?;
    if lists.is_empty() || lists.iter().any(|(list, _)| list == file) {
        return Ok(None);
    }
    let mut owners: BTreeMap<String, ListsAndOriginals> = BTreeMap::new();
    for (list, saved) in lists {
        let Some(owner) = recorded.owner_of(&list) else { return Ok(None) };
        owners.entry(owner.to_string()).or_default().push((list, saved));
    }
    if owners.len() < 2 {
        return Ok(None);
    }
    let names = owners.keys().cloned().collect::<Vec<_>>().join(", ");
    let one_owner = |why: String| {
        log::warn!("the named copies of the pyproject list are named by the %files lines of {names}: {why}");
        Ok(None)
    };
    if !args.own.is_empty() {
        return one_owner("with directories of its own (--own) the split has one owner".to_string());
    }
    if let Some(bad) = owners.keys().find(|o| !is_file_name_safe(o)) {
        return one_owner(format!("{bad:?} is not a name of letters, digits and ._+- that can name the lists"));
    }
    let mut named_by: BTreeMap<(Vec<u8>, Vec<u8>), String> = BTreeMap::new();
    for (owner, lists) in &owners {
        for (list, saved) in lists {
            let takeover = crate::split::pyproject::read(list, &args.output_dir.join(saved), &|_| true)?;
            for cache in takeover.bytecode.caches {
                match named_by.insert(cache, owner.clone()) {
                    Some(other) if other != *owner => {
                        return one_owner(format!("the copies of {other} and {owner} name the same caches"));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(Some(owners.into_iter().collect()))
}

/// Why `--if-pyproject` does not split, if it does not: it splits when the base pyproject
/// list exists and the rpm reads spec parts. `%pyproject_save_files` without `-D` writes the
/// base list and a named copy per distribution of its package; with `-D NAME` only that copy,
/// which may be one of several packages of the spec, whose owners are not known.
fn why_pyproject_split_does_not_apply(
    args: &SplitArgs,
    recorded: &Recorded,
    per_owner: bool,
) -> Result<Option<String>, Error> {
    let file = args.pyproject_files.as_deref().filter(|f| !f.as_os_str().is_empty());
    let lists: Vec<PathBuf> = match file {
        Some(file) => crate::split::pyproject::lists_at(file)?.into_iter().map(|(list, _)| list).collect(),
        None => Vec::new(),
    };
    if lists.is_empty() {
        return Ok(Some("no %pyproject_save_files list".to_string()));
    }
    if !per_owner && !lists.iter().any(|list| Some(list.as_path()) == file) {
        // Only named copies (-D): each owner gets its set of subpackages (`per_owner`), or one
        // package's %files lines name them all; otherwise whose caches they are is not known.
        let owners = recorded.owners_of(&lists);
        let all_named = lists.iter().all(|l| recorded.owner_of(l).is_some());
        if owners.len() != 1 || !all_named {
            let whose = if owners.is_empty() {
                "whose owners no %files line names".to_string()
            } else if owners.len() > 1 && all_named {
                let names = owners.into_iter().collect::<Vec<_>>().join(", ");
                format!("named by the %files lines of {names}, which it cannot split apart (the warning says why)")
            } else {
                format!("named by the %files lines of {}", owners.into_iter().collect::<Vec<_>>().join(", "))
            };
            return Ok(Some(format!("%pyproject_save_files -D wrote only named copies of its list, {whose}")));
        }
    }
    let owner = args.declare.as_deref().unwrap_or_default();
    Ok(match declaration(args, owner) {
        Ok(_) => None,
        Err(Error::NoSpecParts { rpm, .. }) => Some(format!("{rpm} reads no spec parts")),
        Err(e) => Some(e.to_string()),
    })
}

/// The owner the subpackages require: `guess` (`--declare`), unless `--owner-from-lists`
/// and rpm recorded which package's `%files` line names one of `lists`. Lists named by the
/// lines of several packages keep the base pyproject list's owner (or the guess), with a
/// warning: one set of subpackages has one owner.
fn owner_of_lists(args: &SplitArgs, guess: &str, recorded: &Recorded, lists: &[PathBuf]) -> String {
    if !args.owner_from_lists {
        return guess.to_string();
    }
    let owners = recorded.owners_of(lists);
    let owner = match owners.len() {
        0 => return guess.to_string(),
        1 => owners.into_iter().next().unwrap_or_default(),
        _ => {
            let base = args.pyproject_files.as_deref().and_then(|l| recorded.owner_of(l)).unwrap_or(guess).to_string();
            let all: Vec<String> = owners.into_iter().collect();
            log::warn!("the lists are named by the %files lines of {}: the subpackages require {base}", all.join(", "));
            base
        }
    };
    if !is_package_name(&owner) {
        log::warn!(
            "the %files line of the owner's list names {owner:?}, not a package name: the subpackages require {guess}"
        );
        return guess.to_string();
    }
    if owner != guess {
        log::info!("the owner's list is named by the %files line of {owner}, not {guess}");
    }
    owner
}

/// `--exclude` and `left_alone`, the paths whose caches the spec leaves to another package or
/// to the owner's own lines (a directory given as `DIR/` counts as `DIR`), each a glob the split
/// can use (one it cannot is named in a warning and left out).
fn excludes(args: &SplitArgs, left_alone: &[String]) -> Vec<String> {
    let mut excludes = args.exclude.clone();
    for path in left_alone {
        let path = match path.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        if PathFilter::new(&[], &[path.to_string()]).is_ok() {
            log::info!("{path}: listed by another package or by the owner's own line: its caches are left to it");
            excludes.push(path.to_string());
        } else {
            log::warn!("{path}: listed in %files, but not a glob brp-pyc reads: its caches may ship twice");
        }
    }
    excludes
}

/// What `--declare` declares, or the error of an rpm that reads no spec parts.
fn declaration(args: &SplitArgs, owner: &str) -> Result<Declaration, Error> {
    let dir = args.spec_parts_dir.clone().or_else(|| std::env::var_os("RPM_SPECPARTS_DIR"));
    let Some(spec_parts_dir) = dir.filter(|d| !d.is_empty()).map(PathBuf::from) else {
        let rpm = installed_rpm_version().map_or_else(|_| "this rpm".to_string(), |v| format!("rpm {v}"));
        return Err(Error::NoSpecParts { rpm, owner: owner.to_string() });
    };
    Ok(Declaration {
        spec_parts_dir,
        owner: owner.to_string(),
        owner_evr: args.owner_evr.clone().unwrap_or_default(),
        noarch: args.noarch,
        default_levels: args.default_installed.0.clone(),
    })
}

/// `rpm --version` of the installed rpm: `4.18.0` from `RPM version 4.18.0`.
fn installed_rpm_version() -> Result<String, Error> {
    let rpm = std::path::Path::new("rpm");
    let out = std::process::Command::new(rpm).arg("--version").output().map_err(|e| Error::io(rpm, e))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .last()
        .map(str::to_string)
        .ok_or_else(|| Error::io(rpm, std::io::Error::other(format!("unexpected version output {text:?}"))))
}

/// The syntax of the installed rpm, as `--rpm-escape auto` asks it.
fn installed_rpm_syntax() -> Result<RpmSyntax, Error> {
    let version = installed_rpm_version()?;
    RpmSyntax::for_version(&version).ok_or_else(|| {
        Error::io(std::path::Path::new("rpm"), std::io::Error::other(format!("unexpected version {version:?}")))
    })
}

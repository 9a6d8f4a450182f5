//! `brp-pyc split`: write the `%files` fragments of split bytecode subpackages.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::commands::link::{link, Event, LinkOptions};

use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::layout::Layout;
use crate::missing_levels::{compile_missing, find_missing};
use crate::render::quote;
use crate::render::rpm_files::{EscapeChoice, RpmSyntax};
use crate::split::{plan_lists, render_lists, write_lists, PathFilter, SplitOptions};
use crate::walk::check_roots;

#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// Where to write bytecode-ghost.files and the bytecode-opt-<levels>.files lists.
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,

    /// Which levels ship together, one subpackage per group: 0,1,2 (default), 0,12 or 012.
    #[arg(long, value_name = "L", default_value = "0,1,2")]
    pub layout: Layout,

    /// The %files syntax to write: of the installed rpm (auto), of rpm 4.19 and later, or of
    /// older rpm (legacy). A name the chosen rpm cannot hold is an error naming it.
    #[arg(long, value_name = "SYNTAX", default_value = "auto")]
    pub rpm_escape: EscapeChoice,

    /// Only paths (as installed) matching this glob, or below a directory matching it.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Leave out paths matching this glob, or below a directory matching it.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// all: the main package owns every cache of every level as %ghost; none: only the
    /// __pycache__ directories (then erasing a subpackage removes its caches; see README).
    #[arg(long, value_name = "WHICH", default_value = "all", value_parser = ["all", "none"])]
    pub ghost: String,

    /// The prefix to remove from paths. Default: $RPM_BUILD_ROOT, else each PATH itself.
    #[arg(long, value_name = "DIR")]
    pub build_root: Option<PathBuf>,

    /// First link identical caches inside each group of the layout (and give a cache linked
    /// across groups an inode of its own), as `link --layout` does.
    #[arg(long)]
    pub link: bool,

    /// First compile the layout's levels that the caches beside a source lack, with the
    /// interpreter of their cache tag: pythonX.Y from $PATH for cpython-XY, else --python.
    #[arg(long)]
    pub compile_missing: bool,

    /// The interpreter for --compile-missing when pythonX.Y is not there (%__python3).
    #[arg(long, value_name = "INTERPRETER")]
    pub python: Option<PathBuf>,

    /// The %{pyproject_files} list of %pyproject_save_files: its __pycache__ directories and
    /// cache globs are removed from it and the main package's list owns exactly those, as
    /// %ghost. A FILE that does not exist is ignored.
    #[arg(long, value_name = "FILE")]
    pub pyproject_files: Option<PathBuf>,

    /// Directories to scan. Default: $RPM_BUILD_ROOT; when that is unset or /, do nothing.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: &SplitArgs) -> Result<ExitCode, Error> {
    let Some(paths) = crate::cli::roots_or_build_root(&args.paths) else {
        log::info!("RPM_BUILD_ROOT is unset or /: nothing to do");
        return Ok(ExitCode::Success);
    };
    let roots = check_roots(&paths)?;
    let build_root = args.build_root.clone().or_else(|| {
        let env = std::env::var_os("RPM_BUILD_ROOT").map(PathBuf::from)?;
        roots.iter().all(|r| r.starts_with(&env)).then_some(env)
    });
    let filter = PathFilter::new(&args.include, &args.exclude)?;
    let syntax = match args.rpm_escape {
        EscapeChoice::Fixed(syntax) => syntax,
        EscapeChoice::Auto => installed_rpm_syntax()?,
    };
    let real_root = build_root.clone().unwrap_or_else(|| roots[0].clone());
    if args.compile_missing {
        let accepts = |cache: &Path| {
            let installed = cache.strip_prefix(&real_root).map(|rel| Path::new("/").join(rel));
            installed.is_ok_and(|p| filter.accepts(&p))
        };
        let missing = find_missing(&roots, &args.layout, accepts)?;
        compile_missing(&missing, &real_root, &args.layout, args.python.as_deref())?;
    }
    if args.link {
        let link_options = LinkOptions { roots: roots.clone(), layout: args.layout.clone(), dry_run: false, link_events: false };
        let report = link(&link_options, Event::log);
        log::info!("linked {} caches inside the groups of layout {}", report.linked, args.layout);
    }
    // The list is rewritten only once the lists are written, so a failed run leaves it as it was.
    let pyproject_files = args.pyproject_files.as_deref().filter(|f| f.exists());
    let saved_pyproject = args.output_dir.join("pyproject-files.orig");
    let accepts = |installed: &[u8]| filter.accepts(Path::new(std::ffi::OsStr::from_bytes(installed)));
    let pyproject = pyproject_files.map(|file| crate::pyproject::read(file, &saved_pyproject, &accepts)).transpose()?;
    let options = SplitOptions {
        build_root: build_root.clone(),
        layout: args.layout.clone(),
        ghosts: args.ghost == "all",
        filter,
        roots,
        pyproject: pyproject.as_ref().map(|p| p.bytecode.clone()),
    };
    let lists = plan_lists(&options)?;
    if !lists.unassigned.is_empty() {
        log::warn!(
            "{} caches have levels that layout {} does not name; they are listed only as %ghost",
            lists.unassigned.len(),
            options.layout
        );
    }
    for (a, b) in &lists.cross_links {
        log::warn!(
            "{} and {} are one inode but ship in different subpackages of layout {}; rpm will store it in each (link with the same layout before splitting)",
            quote(a),
            quote(b),
            options.layout
        );
    }
    let rendered = render_lists(&lists, syntax, &real_root)?;
    write_lists(&args.output_dir, &rendered)?;
    if let (Some(file), Some(pyproject)) = (pyproject_files, &pyproject) {
        pyproject.commit(file, &saved_pyproject)?;
    }
    for list in &rendered {
        log::info!("{}: {} lines", list.file_name, list.text.lines().count());
    }
    Ok(ExitCode::Success)
}

/// Asks the installed rpm for its version, as `--rpm-escape auto` does.
fn installed_rpm_syntax() -> Result<RpmSyntax, Error> {
    let rpm = std::path::Path::new("rpm");
    let out = std::process::Command::new(rpm).arg("--version").output().map_err(|e| Error::io(rpm, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    RpmSyntax::for_version(&text)
        .ok_or_else(|| Error::io(rpm, std::io::Error::other(format!("unexpected version output {text:?}"))))
}

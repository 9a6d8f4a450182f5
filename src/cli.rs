//! The command line: clap definitions (their doc comments are the help text) and logging
//! setup. [`crate::commands`] runs what was parsed; nothing in the library depends on this.
// The doc comments below are the help text of a terminal (and of the man pages), written as
// users read it there: `<levels>` and `[epoch:]` are placeholders, not HTML or links.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::link::layout::Layout;
use crate::render::rpm_files::EscapeChoice;

/// The Python bytecode step of an RPM build: hardlink byte-identical caches of the
/// optimization levels of each module, safely and fast.
#[derive(Debug, Parser)]
#[command(name = "brp-pyc", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Log each decision (-v) or more (-vv); RUST_LOG works too. Quiet by default.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hardlink byte-identical caches of one module across optimization levels.
    ///
    /// The drop-in replacement of brp-python-hardlink. In each __pycache__ directory, the caches
    /// of one module and cache tag that hold the same bytes become links to the lowest level.
    /// Per-file problems are warnings naming the path; the files concerned stay as they were.
    Link(LinkArgs),

    /// Write %files fragments that ship each level's caches in optional subpackages.
    ///
    /// bytecode-ghost.files lists every __pycache__ as %dir and the caches of every level of
    /// every module as %ghost, for the main package; bytecode-opt-<levels>.files lists the real
    /// caches of each layout group, for its subpackage.
    Split(Box<SplitArgs>),

    /// Byte-compile Python sources with the target interpreter, then link identical levels.
    ///
    /// The backend of %py_byte_compile and brp-python-bytecompile, for any Python version.
    Compile(CompileArgs),

    /// Report the bytes at stake in a tree or in built .rpm packages.
    Stats(StatsArgs),

    /// Exit 1 when a tree or package leaves bytes on the table or ships broken caches.
    Check(CheckArgs),

    /// Write the man pages (brp-pyc.1, brp-pyc-link.1, ...) into DIR; used by `make install`.
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Print what would be linked; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object with the counts (scanned, groups, linked, bytes_saved, errors, ...).
    #[arg(long)]
    pub json: bool,

    /// Link only inside these groups of levels, e.g. 0,1,2 or 0,12 or 012, so that no link
    /// crosses a subpackage boundary. Default: all levels together.
    #[arg(long, value_name = "L")]
    pub layout: Option<Layout>,

    /// Exit with status 2 after finishing if any warning was printed.
    #[arg(long)]
    pub strict: bool,

    /// Directories to work on. Default: $RPM_BUILD_ROOT; when that is unset or /, do nothing.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Sets up `log` for a command-line run: warnings always, decisions with `-v`, and `RUST_LOG`
/// on top. Messages read `brp-pyc: warning: PATH: what`.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("RUST_LOG")
        .format(|buf, record| {
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            writeln!(buf, "brp-pyc: {level}: {}", record.args())
        })
        .init();
}

/// What `split --ghost` lists as `%ghost` in the main package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GhostEntries {
    /// Every cache of every level of every module with a source.
    All,
    /// None: only the `__pycache__` directories.
    None,
}

#[derive(Debug, Args)]
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
    /// __pycache__ directories (then erasing a subpackage removes its caches; see docs/packagers.md).
    #[arg(long, value_name = "WHICH", value_enum, default_value_t = GhostEntries::All)]
    pub ghost: GhostEntries,

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
    /// cache globs are removed from it (and from each named copy FILE-NAME that
    /// %pyproject_save_files -D NAME wrote) and the main package's list owns exactly those, as
    /// %ghost; with --declare the lists themselves own them. A FILE that does not exist is
    /// ignored.
    #[arg(long, value_name = "FILE")]
    pub pyproject_files: Option<PathBuf>,

    /// Also write bytecode-owner.files for the main package: this installed directory, every
    /// directory and file below it (caches that ship in a subpackage left out) and its caches
    /// as %ghost; it replaces a spec's `%{python3_sitelib}/foo/` line. Repeat for several.
    #[arg(long, value_name = "DIR")]
    pub own: Vec<PathBuf>,

    /// The distribution-wide switch: split only when the --pyproject-files list itself exists
    /// (%pyproject_save_files without -D, whose packages' owners are not known) and spec parts
    /// can be read (--declare); otherwise only link, as `brp-pyc link` does.
    #[arg(long, requires = "declare")]
    pub if_pyproject: bool,

    /// With --if-pyproject: the layout the caches are linked in when the split does not apply
    /// (default: all levels together, as `brp-pyc link`).
    #[arg(long, value_name = "LAYOUT", requires = "if_pyproject")]
    pub unsplit_layout: Option<Layout>,

    /// Declare one subpackage per layout group, OWNER-bytecode-opt-<levels>, in a spec part
    /// (rpm 4.19 and later read *.specpart files written during %install), each requiring
    /// OWNER, the package that ships the sources and owns the caches as %ghost.
    #[arg(long, value_name = "OWNER", requires = "owner_evr")]
    pub declare: Option<String>,

    /// OWNER is a guess: the package whose %files line names the owner's list (the
    /// --pyproject-files list, else bytecode-owner.files with --own, else
    /// bytecode-ghost.files), as brp-pyc's rpm macros recorded it in $BRP_PYC_LIST_OWNERS
    /// while rpm parsed the spec, takes its place where there is one.
    #[arg(long, requires = "declare")]
    pub owner_from_lists: bool,

    /// OWNER's [epoch:]version-release, which the declared subpackages require exactly.
    #[arg(long, value_name = "EVR")]
    pub owner_evr: Option<String>,

    /// Where rpm reads spec parts (%{specpartsdir}). Default: $RPM_SPECPARTS_DIR; empty or
    /// unset: this rpm reads none, and --declare fails naming the rpm version.
    #[arg(long, value_name = "DIR", value_parser = clap::value_parser!(std::ffi::OsString))]
    pub spec_parts_dir: Option<std::ffi::OsString>,

    /// The declared subpackages are BuildArch: noarch (the spec's target is noarch).
    #[arg(long)]
    pub noarch: bool,

    /// The groups that dnf installs with OWNER by default (Supplements: OWNER): those holding
    /// any of these levels, e.g. 0 or 0,1, or none.
    #[arg(long, value_name = "LEVELS", default_value = "0", value_parser = parse_levels)]
    pub default_installed: DefaultLevels,

    /// Directories to scan. Default: $RPM_BUILD_ROOT; when that is unset or /, do nothing.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// The levels of `split --default-installed`.
#[derive(Clone, Debug)]
pub struct DefaultLevels(pub Vec<u8>);

fn parse_levels(text: &str) -> Result<DefaultLevels, String> {
    if text == "none" {
        return Ok(DefaultLevels(Vec::new()));
    }
    text.split(',')
        .map(|level| match level.trim() {
            "0" => Ok(0),
            "1" => Ok(1),
            "2" => Ok(2),
            other => Err(format!("{other:?} is not a level (0, 1 or 2) nor none")),
        })
        .collect::<Result<Vec<u8>, String>>()
        .map(DefaultLevels)
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The interpreter whose caches to write (a path, or a name looked up in $PATH). Required
    /// with PATH; without PATH, /usr/bin/pythonX.Y is used for each usr/lib{,64}/pythonX.Y of
    /// the build root and this one only when that is missing and the versions agree.
    #[arg(long, value_name = "INTERPRETER")]
    pub python: Option<PathBuf>,

    /// Optimization level to write caches for (0, 1 or 2); repeat for several, or separate them
    /// with commas (-o 0,1,2). Default: 0 and 1, as %py_byte_compile.
    #[arg(short = 'o', value_name = "LEVEL", value_delimiter = ',', value_parser = clap::value_parser!(u8).range(0..=2))]
    pub levels: Vec<u8>,

    /// Compile with N worker processes (Python 3.5+). Default: the number of CPUs.
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,

    /// Link only inside these groups of levels, as `link --layout` does.
    #[arg(long, value_name = "L")]
    pub layout: Option<Layout>,

    /// Sources that fail to compile (syntax errors) are warnings and the exit status is 0,
    /// as with %_python_bytecompile_errors_terminate_build 0. Default: they fail the run.
    #[arg(long)]
    pub keep_going: bool,

    /// Files or trees to compile. Below $RPM_BUILD_ROOT the caches record the installed path.
    /// Default: each usr/lib{,64}/pythonX.Y of $RPM_BUILD_ROOT; when that is unset or /, do
    /// nothing.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one JSON object: the totals (caches, cache_bytes, linked_bytes, linkable_bytes,
    /// bytes, identical, layouts, layout_change_percent, ...) and one row per item under "items".
    #[arg(long, conflicts_with = "json_lines")]
    pub json: bool,

    /// Print one JSON object per line as each item is read, for runs over many packages (a
    /// mirror): {"record":"item",...} with the keys of an "items" row of --json, {"record":
    /// "error",...} for an item that cannot be read (with --keep-going), and last
    /// {"record":"summary",...}: the totals with the keys of --json, items, items_with_caches,
    /// layout_savings (bytes each layout saves against all levels linked in one package) and
    /// the ten items whose caches take most ("largest"). Memory stays that of the largest
    /// packages, whatever their number.
    #[arg(long)]
    pub json_lines: bool,

    /// Count all items as one installation (the subpackages of one split build): modules,
    /// identical caches and the size of each layout across them, in one row.
    #[arg(long)]
    pub together: bool,

    #[command(flatten)]
    pub inputs: AuditInputs,
}

/// What `stats` and `check` read.
#[derive(Debug, Args)]
pub struct AuditInputs {
    /// Report an item that cannot be read as an error row and go on with the others (the exit
    /// status is still 2).
    #[arg(long)]
    pub keep_going: bool,

    /// Directories (walked as a build root; `.rpm` files inside are read as packages) and
    /// `.rpm` packages. Give all the subpackages of one build together.
    #[arg(value_name = "PATH|PACKAGE.rpm", required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object: "problems" (a count), "findings" (item, path, kind, detail, and
    /// path_bytes when the path is not UTF-8), "errors", and "layout" with "layout_from"
    /// (option, lists-dir, build or default).
    #[arg(long)]
    pub json: bool,

    /// The layout the caches ship in, e.g. 0,1,2 or 0,12: identical caches of levels in
    /// different groups (subpackages) are not `not-linked`. Default: the layout
    /// `%py_bytecode_split` recorded, found through rpmbuild's environment when checking the
    /// build root inside a build; else all levels in one package.
    #[arg(long, value_name = "L", conflicts_with = "lists_dir")]
    pub layout: Option<Layout>,

    /// Take the layout that `split` recorded in its list directory DIR (`%{_brp_pyc_lists_dir}`).
    #[arg(long, value_name = "DIR")]
    pub lists_dir: Option<PathBuf>,

    #[command(flatten)]
    pub inputs: AuditInputs,
}

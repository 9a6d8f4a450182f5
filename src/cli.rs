//! The command line: clap definitions (their doc comments are the help text), logging setup
//! and the dispatch to [`crate::commands`].

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::layout::Layout;

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
    Split(crate::commands::split::SplitArgs),

    /// Byte-compile Python sources with the target interpreter, then link identical levels.
    ///
    /// The backend of %py_byte_compile and brp-python-bytecompile, for any Python version.
    Compile(crate::commands::compile::CompileArgs),

    /// Report the bytes at stake in a tree or in built .rpm packages.
    Stats(crate::commands::stats::StatsArgs),

    /// Exit 1 when a tree or package leaves bytes on the table or ships broken caches.
    Check(crate::commands::check::CheckArgs),

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

/// The directories to work on: the explicit paths, or `$RPM_BUILD_ROOT` under the rules of a
/// brp script (unset, empty or `/`: `None`, which means change nothing and succeed).
pub fn roots_or_build_root(paths: &[PathBuf]) -> Option<Vec<PathBuf>> {
    if !paths.is_empty() {
        return Some(paths.to_vec());
    }
    let root = std::env::var_os("RPM_BUILD_ROOT")?;
    let is_system_root = !root.is_empty() && root.as_encoded_bytes().iter().all(|&b| b == b'/');
    if root.is_empty() || is_system_root {
        return None;
    }
    Some(vec![PathBuf::from(root)])
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

/// Sizes the worker pool: link(2) and rename(2) sleep on filesystem journals and directory
/// locks, so more workers than cores keep the cores busy (4 per core measured 1.6x faster than
/// 1 per core on ext4). `RAYON_NUM_THREADS` still decides when set.
fn configure_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores * 4).clamp(4, 64);
    // Fails only if a pool exists already (a library caller made one): keep theirs.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    configure_threads();
    match cli.command {
        Command::Link(args) => crate::commands::link::run(&args),
        Command::Split(args) => crate::commands::split::run(&args),
        Command::Compile(args) => crate::commands::compile::run(&args),
        Command::Stats(args) => crate::commands::stats::run(&args),
        Command::Check(args) => crate::commands::check::run(&args),
        Command::Manpages { dir } => crate::render::manpages::write_manpages(&dir).map(|()| ExitCode::Success),
    }
}

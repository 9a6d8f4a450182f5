//! The subcommands: each turns parsed arguments into library calls and results into output.
//! This is the only layer that knows both the command line ([`crate::cli`]) and the library.

pub mod check;
pub mod compile;
pub mod link;
pub mod manpages;
pub mod progress;
pub mod split;
pub mod stats;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::exit_codes::ExitCode;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    configure_threads(&cli.command);
    match cli.command {
        Command::Link(args) => link::run(&args),
        Command::Split(args) => split::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Manpages { dir } => manpages::write_manpages(&dir).map(|()| ExitCode::Success),
    }
}

/// Sizes the worker pool for the work at hand. `link`, `split` and `compile` wait on the
/// filesystem: link(2) and rename(2) sleep on journals and directory locks, so more workers
/// than cores keep the cores busy (4 per core measured 1.6x faster than 1 per core on ext4).
/// `stats` and `check` compare bytes and parse headers, CPU-bound: one worker per core.
/// `RAYON_NUM_THREADS` still decides when set.
fn configure_threads(command: &Command) {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match command {
        Command::Link(_) | Command::Split(_) | Command::Compile(_) => (cores * 4).clamp(4, 64),
        Command::Stats(_) | Command::Check(_) | Command::Manpages { .. } => cores,
    };
    // Fails only if a pool exists already (a library caller made one): keep theirs.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
}

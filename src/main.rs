//! The brp-pyc binary: parse the command line, run, map the result to an exit status.

use clap::Parser;

use brp_pyc::cli::{init_logging, Cli};
use brp_pyc::commands::run;
use brp_pyc::exit_codes::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("brp-pyc: error: {err}");
            ExitCode::Fatal.into()
        }
    }
}

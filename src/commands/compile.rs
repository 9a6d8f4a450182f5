//! `brp-pyc compile`: placeholder until the compile issue lands; every call is refused.

use crate::error::Error;
use crate::exit_codes::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CompileArgs {}

pub fn run(_args: &CompileArgs) -> Result<ExitCode, Error> {
    Err(Error::Unsupported("brp-pyc compile is not built yet"))
}

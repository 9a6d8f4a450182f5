//! `brp-pyc check`: placeholder until the check issue lands; every call is refused.

use crate::error::Error;
use crate::exit_codes::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {}

pub fn run(_args: &CheckArgs) -> Result<ExitCode, Error> {
    Err(Error::Unsupported("brp-pyc check is not built yet"))
}

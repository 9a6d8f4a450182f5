//! `brp-pyc split`: placeholder until the split issue lands; every call is refused.

use crate::error::Error;
use crate::exit_codes::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SplitArgs {}

pub fn run(_args: &SplitArgs) -> Result<ExitCode, Error> {
    Err(Error::Unsupported("brp-pyc split is not built yet"))
}

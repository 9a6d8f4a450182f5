//! `brp-pyc stats`: placeholder until the stats issue lands; every call is refused.

use crate::error::Error;
use crate::exit_codes::ExitCode;

#[derive(Debug, clap::Args)]
pub struct StatsArgs {}

pub fn run(_args: &StatsArgs) -> Result<ExitCode, Error> {
    Err(Error::Unsupported("brp-pyc stats is not built yet"))
}

//! Exit statuses: the contract that rpmbuild, macros and CI scripts rely on.

/// How a run of brp-pyc ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The work is done (per-file warnings included, unless `--strict`).
    Success,
    /// `check` found something to fix.
    Problems,
    /// Bad usage or a fatal error; also `--strict` with warnings.
    Fatal,
    /// Stopped by this signal (SIGINT, SIGTERM) between two operations: 128 + its number,
    /// as a shell reports a process killed by it.
    Interrupted(i32),
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(match code {
            ExitCode::Success => 0,
            ExitCode::Problems => 1,
            ExitCode::Fatal => 2,
            ExitCode::Interrupted(signal) => u8::try_from(128 + signal).unwrap_or(255),
        })
    }
}

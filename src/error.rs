//! The library's one error type: every variant names the path it is about.

use std::path::{Path, PathBuf};

use crate::render::quote::quote;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", quote(path))]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{}: not a directory", quote(.0))]
    NotADirectory(PathBuf),

    #[error("{}: not linked to {}: {source}", quote(dup), quote(keep))]
    Link { dup: PathBuf, keep: PathBuf, source: std::io::Error },

    #[error("{}: changed since it was inspected; left as it was", quote(.0))]
    Changed(PathBuf),

    #[error(
        "{}: replaced by another process while it was being linked; that file is now named {}: {source}",
        quote(path),
        quote(temp)
    )]
    Displaced { path: PathBuf, temp: PathBuf, source: std::io::Error },

    #[error("{}: temporary name not removed: {source}", quote(path))]
    TempLeft { path: PathBuf, source: std::io::Error },

    /// A directory whose entries cannot be removed (`chattr +a` or `+i`): the temporary names
    /// a link or copy makes there would stay.
    #[error(
        "{}: {flag} directory: left as it was: the temporary names a link makes there could not be removed",
        quote(path)
    )]
    UnremovableEntries { path: PathBuf, flag: &'static str },

    #[error("{}: left as it was: the run was stopped", quote(.0))]
    Interrupted(PathBuf),

    #[error("{}: cannot be listed for {rpm}: {why}", quote(path))]
    Unlistable { path: PathBuf, rpm: &'static str, why: String },

    #[error("{}: not below the build root {}", quote(path), quote(root))]
    OutsideBuildRoot { path: PathBuf, root: PathBuf },

    #[error("invalid glob {0:?}: {1}")]
    Glob(String, String),

    #[error("invalid layout {0:?}: {1}")]
    Layout(String, &'static str),

    /// A file named as a package that cannot be read as one (not rpm, truncated, corrupt).
    #[error("{}: {reason}", quote(path))]
    Package { path: PathBuf, reason: String },

    #[error("{}: {reason}", quote(path))]
    Interpreter { path: PathBuf, reason: String },

    #[error("{}: {count} source file(s) not byte-compiled (the interpreter's messages are above)", quote(path))]
    CompileFailed { path: PathBuf, count: usize },

    /// A layout level that no interpreter on this machine can write for a cache tag.
    #[error("{}: level(s) {levels} of cache tag {tag} are missing and no interpreter writes that tag ({tried}); install {install} (BuildRequires: {install}) or leave the level(s) out of the layout", quote(path))]
    MissingInterpreter { path: PathBuf, tag: String, levels: String, tried: String, install: String },

    /// A size no real file has (a sparse file, say), or sizes whose sum does not fit in 64
    /// bits: named, never read.
    #[error("{}: {reason}", quote(path))]
    Size { path: PathBuf, reason: String },

    /// Declaring the subpackages asked of an rpm that reads no spec parts (before 4.19).
    #[error("{rpm} reads no spec parts (rpm 4.19 and later do), so the bytecode subpackages of {owner} cannot be declared by brp-pyc: declare them in the spec (%package -n {owner}-bytecode-opt-0 ... and %files -n {owner}-bytecode-opt-0 -f %py_bytecode_files 0, one per layout group, as brp-pyc's docs/packagers.md shows) or build with rpm 4.19 or later")]
    NoSpecParts { rpm: String, owner: String },

    #[error("owner {owner:?} at {evr:?}: not a package name and [epoch:]version-release that a spec part can declare (%py_bytecode_split -n NAME)")]
    BadOwner { owner: String, evr: String },

    /// The rows of a report could not be set aside in a temporary file until its end.
    #[error("{}: the report's rows could not be set aside in a temporary file there: {source}", quote(dir))]
    SetAside { dir: PathBuf, source: std::io::Error },

    #[error("{}: --python INTERPRETER is required to compile it", quote(.0))]
    NoInterpreter(PathBuf),

    /// What `%py_bytecode_owns` recorded cannot be followed.
    #[error("%py_bytecode_owns: {0}")]
    TakenOver(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// Writing the output failed (a full disk, say).
    pub fn stdout(source: std::io::Error) -> Error {
        Error::io(Path::new("<stdout>"), source)
    }
}

/// What a write to stdout means to the run, decided here for every subcommand: a reader that
/// stopped early (`| head`) is a clean end, as for any filter, and the command still ends
/// with its own status; any other failure (a full disk) is an error.
pub fn stdout_written(result: std::io::Result<()>) -> Result<(), Error> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Error::stdout),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

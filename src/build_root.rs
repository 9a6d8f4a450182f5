//! The build root as a brp script sees it: `$RPM_BUILD_ROOT`, and the rule that unset, empty
//! or `/` means "change nothing and succeed".

use std::path::PathBuf;

/// The directories to work on: the explicit paths, or `$RPM_BUILD_ROOT` under the rules of a
/// brp script (unset, empty or `/`: `None`, which means change nothing and succeed).
pub fn roots_or_build_root(paths: &[PathBuf]) -> Option<Vec<PathBuf>> {
    if !paths.is_empty() {
        return Some(paths.to_vec());
    }
    build_root().map(|root| vec![root])
}

/// `$RPM_BUILD_ROOT` unless unset, empty or `/`, as given.
pub fn build_root() -> Option<PathBuf> {
    let root = std::env::var_os("RPM_BUILD_ROOT")?;
    let is_system_root = !root.is_empty() && root.as_encoded_bytes().iter().all(|&b| b == b'/');
    (!root.is_empty() && !is_system_root).then(|| PathBuf::from(root))
}

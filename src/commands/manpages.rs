//! The hidden `manpages` command: man pages generated from the command-line definition, so
//! they never drift from `--help`.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;

/// Writes `brp-pyc.1` and `brp-pyc-<subcommand>.1` for each visible subcommand into `dir`.
pub fn write_manpages(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let top = Cli::command();
    let mut pages = vec![("brp-pyc".to_string(), top.clone())];
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("brp-pyc-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, command) in pages {
        let mut roff = Vec::new();
        let path = dir.join(format!("{name}.1"));
        clap_mangen::Man::new(command).render(&mut roff).map_err(|e| Error::io(&path, e))?;
        std::fs::write(&path, roff).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

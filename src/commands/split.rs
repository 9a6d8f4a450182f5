//! `brp-pyc split`: write the `%files` fragments of split bytecode subpackages.

use std::path::PathBuf;

use crate::cli::{GhostEntries, SplitArgs};
use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::render::quote;
use crate::render::rpm_files::{EscapeChoice, RpmSyntax};
use crate::split::{plan_lists, render_lists, write_lists, PathFilter, SplitOptions};
use crate::walk::check_roots;


pub fn run(args: &SplitArgs) -> Result<ExitCode, Error> {
    let Some(paths) = crate::build_root::roots_or_build_root(&args.paths) else {
        log::info!("RPM_BUILD_ROOT is unset or /: nothing to do");
        return Ok(ExitCode::Success);
    };
    let roots = check_roots(&paths)?;
    let build_root = args.build_root.clone().or_else(|| {
        let env = std::env::var_os("RPM_BUILD_ROOT").map(PathBuf::from)?;
        roots.iter().all(|r| r.starts_with(&env)).then_some(env)
    });
    let options = SplitOptions {
        build_root: build_root.clone(),
        layout: args.layout.clone(),
        ghosts: args.ghost == GhostEntries::All,
        filter: PathFilter::new(&args.include, &args.exclude)?,
        roots,
    };
    let syntax = match args.rpm_escape {
        EscapeChoice::Fixed(syntax) => syntax,
        EscapeChoice::Auto => installed_rpm_syntax()?,
    };
    let lists = plan_lists(&options)?;
    if !lists.unassigned.is_empty() {
        log::warn!(
            "{} caches have levels that layout {} does not name; they are listed only as %ghost",
            lists.unassigned.len(),
            options.layout
        );
    }
    for (a, b) in &lists.cross_links {
        log::warn!(
            "{} and {} are one inode but ship in different subpackages of layout {}; rpm will store it in each (link with the same layout before splitting)",
            quote(a),
            quote(b),
            options.layout
        );
    }
    let real_root = build_root.unwrap_or_else(|| options.roots[0].clone());
    let rendered = render_lists(&lists, syntax, &real_root)?;
    write_lists(&args.output_dir, &rendered)?;
    for list in &rendered {
        log::info!("{}: {} lines", list.file_name, list.text.lines().count());
    }
    Ok(ExitCode::Success)
}

/// Asks the installed rpm for its version, as `--rpm-escape auto` does.
fn installed_rpm_syntax() -> Result<RpmSyntax, Error> {
    let rpm = std::path::Path::new("rpm");
    let out = std::process::Command::new(rpm).arg("--version").output().map_err(|e| Error::io(rpm, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    RpmSyntax::for_version(&text)
        .ok_or_else(|| Error::io(rpm, std::io::Error::other(format!("unexpected version output {text:?}"))))
}

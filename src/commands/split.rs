//! `brp-pyc split`: write the `%files` fragments of split bytecode subpackages.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cli::{GhostEntries, SplitArgs};
use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::link::{link, Event, LinkOptions};
use crate::missing_levels::{compile_missing, find_missing};
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
    let filter = PathFilter::new(&args.include, &args.exclude)?;
    let syntax = match args.rpm_escape {
        EscapeChoice::Fixed(syntax) => syntax,
        EscapeChoice::Auto => installed_rpm_syntax()?,
    };
    let real_root = build_root.clone().unwrap_or_else(|| roots[0].clone());
    if args.compile_missing {
        let accepts = |cache: &Path| {
            let installed = cache.strip_prefix(&real_root).map(|rel| Path::new("/").join(rel));
            installed.is_ok_and(|p| filter.accepts(&p))
        };
        let missing = find_missing(&roots, &args.layout, accepts)?;
        compile_missing(&missing, &real_root, &args.layout, args.python.as_deref())?;
    }
    if args.link {
        let link_options = LinkOptions { roots: roots.clone(), layout: args.layout.clone(), dry_run: false, link_events: false };
        let report = link(&link_options, Event::log);
        log::info!("linked {} caches inside the groups of layout {}", report.linked, args.layout);
    }
    // The list is rewritten only once the lists are written, so a failed run leaves it as it was.
    let pyproject_files = args.pyproject_files.as_deref().filter(|f| f.exists());
    let saved_pyproject = args.output_dir.join("pyproject-files.orig");
    let accepts = |installed: &[u8]| filter.accepts(Path::new(std::ffi::OsStr::from_bytes(installed)));
    let pyproject = pyproject_files.map(|file| crate::pyproject::read(file, &saved_pyproject, &accepts)).transpose()?;
    let options = SplitOptions {
        build_root: build_root.clone(),
        layout: args.layout.clone(),
        ghosts: args.ghost == GhostEntries::All,
        filter,
        roots,
        pyproject: pyproject.as_ref().map(|p| p.bytecode.clone()),
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
    let rendered = render_lists(&lists, syntax, &real_root)?;
    write_lists(&args.output_dir, &rendered)?;
    if let (Some(file), Some(pyproject)) = (pyproject_files, &pyproject) {
        pyproject.commit(file, &saved_pyproject)?;
    }
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

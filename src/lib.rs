//! brp-pyc: the Python bytecode step of an RPM build.
//!
//! Data flows one way: [`walk`] finds cache files, [`classify`] parses their names,
//! [`group`] gathers the caches of one module, [`plan`] decides what to link (pure),
//! [`apply`] makes the links atomically, and [`render`] writes what people and programs read.
//! [`link`] runs that flow over trees; [`compile`], [`split`] and [`audit`] build on the same
//! parts. [`cli`] parses the command line and [`commands`] turns it into library calls: no
//! library module imports either of them.

pub mod apply;
pub mod audit;
pub mod build_root;
pub mod classify;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod compile;
pub mod error;
pub mod exit_codes;
pub mod group;
pub mod interrupt;
pub mod layout;
pub mod link;
pub mod missing_levels;
pub mod plan;
pub mod pyproject;
pub mod render;
pub mod split;
pub mod walk;

pub use error::{Error, Result};

//! brp-pyc: the Python bytecode step of an RPM build.
//!
//! Data flows one way: [`walk`] finds cache files, [`classify`] parses their names,
//! [`group`] gathers the caches of one module, [`plan`] decides what to link (pure),
//! [`apply`] makes the links atomically, and [`render`] writes what people and programs read.
//! [`commands`] wires these into the subcommands that [`cli`] parses.

pub mod apply;
pub mod audit;
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
pub mod plan;
pub mod render;
pub mod split;
pub mod walk;

pub use error::{Error, Result};

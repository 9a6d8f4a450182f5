//! brp-pyc: the Python bytecode step of an RPM build.
//!
//! Three jobs, one folder each, over one engine. Data flows one way through the link engine
//! ([`link`]): walk finds cache files, classify parses their names, group gathers the caches of
//! one module, plan decides what to link (pure), apply makes the links atomically, and
//! [`render`] writes what people and programs read. [`compile`] drives interpreters and then
//! the engine; [`split`] (the `%files` lists of split bytecode) builds on both; [`audit`] turns
//! trees and packages into one inventory for `stats` and `check`, judged by the engine's rule.
//! Shared below them all: [`error`], [`render`], [`replace`], [`interrupt`], [`build_root`],
//! [`exit_codes`]. [`cli`] parses the command line and [`commands`] turns it into library
//! calls: no library module imports either of them.

pub mod audit;
pub mod build_root;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod error;
pub mod exit_codes;
pub mod interrupt;
pub mod link;
pub mod render;
pub mod replace;
pub mod split;

pub use error::{Error, Result};

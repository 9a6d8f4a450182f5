//! The subcommands: each turns parsed arguments into library calls and output.

pub mod check;
pub mod compile;
pub mod link;
pub mod split;
pub mod stats;

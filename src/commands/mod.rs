//! The subcommands: each turns parsed arguments into library calls and output.

pub mod link;

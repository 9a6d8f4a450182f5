//! Render: what people and programs read, from paths in messages to reports and file lists.

pub mod quote;
pub mod rpm_files;
pub mod spill;
pub mod units;

pub use quote::quote;

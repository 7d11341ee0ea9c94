//! The command line's commands.

pub mod bench;
pub mod check;
pub mod sim;

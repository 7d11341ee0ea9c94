//! The command line's commands.

pub mod amd;
pub mod bench;
pub mod call;
pub mod check;
pub mod demo;
pub mod dial;
pub mod leads;
pub mod report;
pub mod serve;
pub mod sim;

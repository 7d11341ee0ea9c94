//! The simulator: the same scheduler, on a virtual clock, against a simulated population of
//! callees, operators with shifts, and a stream of arriving leads. A simulated day takes well
//! under a second, and the same seed gives the same day.

pub mod compare;
pub mod config;
pub mod kpi;
pub mod phones;
mod run;

pub use config::{SimConfig, SimConfigError};
pub use kpi::{Percentiles, Record, SimReport};
pub use run::{Sink, events, run};

#[cfg(test)]
mod tests;

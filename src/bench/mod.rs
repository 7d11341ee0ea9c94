//! Benchmarks run by `predial bench ...`: each measures one part of predial on this machine and
//! reports figures as JSON (see docs/benchmarks.md for the figures and how they compare).

pub mod alloc;
pub mod amd;
pub mod cps;
pub mod scheduler;

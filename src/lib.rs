//! predial: a SIP predictive dialer engine. This package holds the shells around the pure
//! dialing core (`predial-core`): config files, benchmarks, and (as they land) the engine, SIP,
//! media, storage and API. The `predial` binary is its command line.

pub mod bench;
pub mod config;
pub mod engine;
pub mod media;
pub mod sip;
pub mod trunks;

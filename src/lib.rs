//! predial: a SIP predictive dialer engine. This package holds the shells around the pure
//! dialing core (`predial-core`): config files, the engine, SIP, media, storage, the API and
//! benchmarks. The `predial` binary is its command line.

pub mod api;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod digest;
pub mod dispositions;
pub mod engine;
pub mod feed;
pub mod happenings;
pub mod inbound;
pub mod leads;
pub mod media;
#[cfg(test)]
mod module_deps;
pub mod registrar;
pub mod reports;
pub mod sip;
pub mod store;
pub mod trunks;
pub mod webhooks;

//! Media: RTP legs, G.711, prompts, recording, relay between legs, DTMF. The answering-machine
//! detector itself is pure and lives in the core (`predial_core::amd`).

pub mod amd;
pub mod dtmf;
pub mod g711;
pub mod leg;
pub mod phrases;
pub mod ports;
pub mod prompt;
pub mod recorder;
pub mod rtp;

//! Inbound calls' settings and what happens around them outside the engine's loop: the numbers
//! and queues of `sip-profiles/inbound.toml`, missed calls turned into callback leads, and the
//! order status the bot reads out (from the store or the integrator's endpoint).

pub mod burst;
pub mod config;
pub mod email;
pub mod missed;
pub mod status;

pub use config::{InboundConfig, NumberRoute, QueueConfig, Target};
pub use missed::{MissedCall, MissedReason};
pub use status::OrderInfo;

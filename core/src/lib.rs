//! The pure dialing core of predial.
//!
//! It decides who is called when, and it does nothing else: it owns no socket, task, clock or
//! database. It is driven one way only:
//!
//! - [`Scheduler::handle`]`(now, event)` for every input (a lead arrived, an attempt was answered
//!   or ended, an operator became free, time passed);
//! - [`Scheduler::poll_action`] until it returns `None` (dial this lead, bridge that call...);
//! - [`Scheduler::poll_timeout`] for the next instant it wants to be woken.
//!
//! The engine (`src/engine/` in the `predial` package) feeds it the real clock and carries out
//! its actions over SIP; the simulator ([`sim`]) feeds it a virtual clock and a simulated
//! population, so both run the very same decisions.

pub mod acd;
pub mod amd;
pub mod dialer;
pub mod pacing;
pub mod sim;
pub mod time;

pub use dialer::{Action, Event, EventError, Scheduler};
pub use time::Timestamp;

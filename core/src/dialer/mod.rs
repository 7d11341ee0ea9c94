//! Who is called when: leads, campaign policy, the callee's time zone and quiet hours, duplicate
//! checks, and the scheduler that turns all of it into dial actions.

pub mod calendar;
pub mod dedup;
pub mod destinations;
pub mod event;
pub mod lead;
pub mod phone;
pub mod policy;
pub mod priority;
pub mod zones;

mod attempt;
mod attempts;
mod inbound;
mod intake;
mod operators;
mod pace;
mod quiet;
mod ready;
mod scheduler;
mod table;
mod wheel;

pub use destinations::{Destinations, NumberType, Refusal};
pub use event::{Action, AttemptId, CampaignRun, Event, EventError, Stats, TimerKind, Wakeup};
pub use lead::{CampaignId, History, LeadId, LeadState, NewLead, Outcome};
pub use phone::{Phone, PhoneError, Region};
pub use policy::{CampaignKind, CampaignPolicy, PolicyError, PriorityVariant};
pub use scheduler::{LeadView, Scheduler};
pub use zones::{TzId, ZoneSource, ZoneTable};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod pacing_tests;

#[cfg(test)]
mod inbound_tests;

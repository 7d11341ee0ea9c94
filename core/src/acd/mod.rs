//! Automatic call distribution: operators, their states and skills, and who gets an answered
//! call (the one waiting longest among those taking the campaign); inbound queues.

mod operators;
pub(crate) mod queue;

pub use operators::{OperatorId, OperatorState};
pub(crate) use operators::{Operators, Previewed};
pub use queue::{Distribution, QueueFigures, QueueId, QueuePolicy};

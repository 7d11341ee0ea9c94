//! Automatic call distribution: operators, their states and skills, and who gets an answered
//! call (the one waiting longest among those taking the campaign).

mod operators;

pub use operators::{OperatorId, OperatorState};
pub(crate) use operators::{Operators, Previewed};

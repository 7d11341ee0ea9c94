//! Automatic call distribution: operators, their states and skills, and who gets an answered
//! call (the one waiting longest among those taking the campaign).

mod operators;

pub(crate) use operators::Operators;
pub use operators::{OperatorId, OperatorState};

//! How many calls to place now. This release dials progressively: one call per free operator,
//! placed for that operator, never more than the trunks' channels. Preview, power and predictive
//! modes plug in here: each is a rule that turns the live figures (ready operators, calls in
//! flight, answer rate, handle time, abandon budget) into a number of calls to launch.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacingMode {
    /// One call per free operator, dialled for that operator: no call is ever answered without
    /// its operator (no abandoned calls), at the cost of the operator waiting while it rings.
    #[default]
    Progressive,
}

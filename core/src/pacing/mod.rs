//! How many calls to place now.
//!
//! - **preview**: the operator sees the lead first and says when to dial.
//! - **progressive**: one call per free operator, dialled for that operator: no abandoned calls,
//!   at the cost of the operator waiting while it rings.
//! - **power**: a fixed number of calls per free operator.
//! - **predictive**: calls placed ahead of operators becoming free, from live measurements, so
//!   that answers arrive as operators free up, with the abandon rate held under the regulator's
//!   cap (`planner.rs`, `budget.rs`).
//! - **vicidial**: the reference the predictive pacer is measured against: VICIdial's
//!   ADAPT_TAPERED dial level (`vicidial.rs`). For comparison, not for production.

mod budget;
mod planner;
mod stats;
pub mod vicidial;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dialer::calendar::TimeOfDay;
use crate::time::span;

pub use budget::{AbandonAudit, AbandonBudget, PastCalls};
pub use planner::{Agent, Plan, Planner, Snapshot};
pub use stats::LiveStats;
pub use vicidial::VicidialAdapt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacingMode {
    Preview,
    #[default]
    Progressive,
    Power,
    Predictive,
    /// VICIdial's ADAPT_TAPERED, as a reference for comparisons.
    Vicidial,
}

impl PacingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PacingMode::Preview => "preview",
            PacingMode::Progressive => "progressive",
            PacingMode::Power => "power",
            PacingMode::Predictive => "predictive",
            PacingMode::Vicidial => "vicidial",
        }
    }

    /// Whether calls are dialled for a given operator (or placed ahead of any operator).
    pub fn is_operator_bound(self) -> bool {
        matches!(self, PacingMode::Preview | PacingMode::Progressive)
    }
}

/// Whose rules the abandon rate is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regulator {
    /// US FTC Telemarketing Sales Rule: abandoned / answered by a person, per campaign, over
    /// 30 days.
    #[default]
    Ftc,
    /// UK Ofcom: over 24 hours, with the estimated answering-machine false positives (people
    /// taken for machines and hung up on) counted as abandoned.
    Ofcom,
}

impl Regulator {
    pub fn as_str(self) -> &'static str {
        match self {
            Regulator::Ftc => "ftc",
            Regulator::Ofcom => "ofcom",
        }
    }

    pub fn window(self) -> Duration {
        match self {
            Regulator::Ftc => Duration::from_secs(30 * 86_400),
            Regulator::Ofcom => Duration::from_secs(86_400),
        }
    }
}

/// A campaign's pacing settings (`[campaign.pacing]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingPolicy {
    /// Power mode: calls per free operator.
    pub power_ratio: f64,
    /// Never more calls ringing than this many per operator at work (predictive, power).
    pub max_ratio: f64,
    pub regulator: Regulator,
    /// The abandon rate the regulator allows (0.03 = 3%).
    pub abandon_cap: f64,
    /// The abandon rate the pacer aims at, below the cap so that noise does not break it.
    pub abandon_target: f64,
    /// How long an answered call may wait for an operator before it hears the abandoned-call
    /// message (the regulators' 2 seconds).
    #[serde(with = "span")]
    pub abandon_after: Duration,
    /// Share of calls answering-machine detection hangs up on that were people (Ofcom counts
    /// them as abandoned).
    pub amd_false_positive_rate: f64,
    /// After an abandoned call, do not dial the number again for this long (Ofcom: 72h).
    #[serde(with = "span")]
    pub abandon_lockout: Duration,
    /// Fewer operators at work than this: dial progressively (too few to predict for).
    pub min_operators: u32,
    /// Dial progressively until this many calls have been seen on the campaign.
    pub warmup_calls: u32,
    /// The VICIdial reference's end of day (its adaptive_latest_server_time), in the campaign's
    /// zone: over the drop limit, its dial level is cut by the time left until then.
    pub vicidial_day_end: TimeOfDay,
    /// A fixed safety margin for the predictive planner instead of the abandon controller's.
    /// It ignores the abandon cap: for experiments only.
    pub danger_fixed_margin: Option<f64>,
}

impl Default for PacingPolicy {
    fn default() -> Self {
        PacingPolicy {
            power_ratio: 2.0,
            max_ratio: 5.0,
            regulator: Regulator::Ftc,
            abandon_cap: 0.03,
            abandon_target: 0.025,
            abandon_after: Duration::from_secs(2),
            amd_false_positive_rate: 0.0,
            abandon_lockout: Duration::ZERO,
            min_operators: 4,
            warmup_calls: 60,
            vicidial_day_end: TimeOfDay::hm(21, 0),
            danger_fixed_margin: None,
        }
    }
}

impl PacingPolicy {
    /// Problems as (field under `pacing.`, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(self.power_ratio >= 1.0 && self.power_ratio <= 10.0) {
            out.push((
                "power_ratio",
                "use 1 to 10 calls per free operator".to_string(),
            ));
        }
        if !(self.max_ratio >= 1.0 && self.max_ratio <= 20.0) {
            out.push(("max_ratio", "use 1 to 20 calls per operator".to_string()));
        }
        if !(self.abandon_cap > 0.0 && self.abandon_cap <= 0.2) {
            out.push((
                "abandon_cap",
                "a fraction above 0 and at most 0.2 (0.03 is 3%)".to_string(),
            ));
        }
        if !(self.abandon_target > 0.0 && self.abandon_target <= self.abandon_cap) {
            out.push((
                "abandon_target",
                "a fraction above 0 and not above abandon_cap".to_string(),
            ));
        }
        if self.abandon_after > Duration::from_secs(2) {
            out.push((
                "abandon_after",
                "at most 2s: regulators count a longer wait as abandoned".to_string(),
            ));
        }
        if !(0.0..=1.0).contains(&self.amd_false_positive_rate) {
            out.push((
                "amd_false_positive_rate",
                "a fraction from 0 to 1".to_string(),
            ));
        }
        if self.abandon_lockout > Duration::from_secs(30 * 86_400) {
            out.push((
                "abandon_lockout",
                "at most 30d (Ofcom asks for 72h)".to_string(),
            ));
        }
        out
    }
}

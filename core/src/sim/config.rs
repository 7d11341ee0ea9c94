//! What a simulated day looks like: when it starts and how long it runs, the campaign, the
//! operators and their shifts, the callees (how they answer, how long they talk) and the stream
//! of leads (how many an hour, over a daily curve, growing or not). Every field has a default,
//! so a config file only says what differs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dialer::calendar::TimeOfDay;
use crate::dialer::policy::CampaignPolicy;
use crate::time::{Timestamp, span};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// When the simulated day starts (UTC).
    pub start: Timestamp,
    pub hours: f64,
    pub seed: u64,
    /// Calls the trunks carry at once; 0 means no limit.
    pub channels: u32,
    pub campaign: CampaignPolicy,
    pub operators: OperatorsConfig,
    pub population: Population,
    pub arrivals: Arrivals,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            // A Tuesday, 08:00 in Moscow: Kaliningrad still asleep, Kamchatka nearly done.
            start: Timestamp::parse_rfc3339("2026-12-01T05:00:00Z").expect("a valid constant"),
            hours: 8.0,
            seed: 1,
            channels: 0,
            campaign: CampaignPolicy::default(),
            operators: OperatorsConfig::default(),
            population: Population::default(),
            arrivals: Arrivals::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorsConfig {
    pub count: u32,
    /// Working hours in the campaign's zone, every day (`"09:00-21:00"`); none means logged in
    /// for the whole run.
    pub shift: Option<Shift>,
}

impl Default for OperatorsConfig {
    fn default() -> Self {
        OperatorsConfig {
            count: 10,
            shift: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shift {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl TryFrom<String> for Shift {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("`{s}` is not a shift like 09:00-21:00"))?;
        let shift = Shift {
            start: a.parse()?,
            end: b.parse()?,
        };
        if shift.start == shift.end {
            return Err(format!(
                "`{s}`: a shift must not start and end at the same time"
            ));
        }
        Ok(shift)
    }
}

impl From<Shift> for String {
    fn from(s: Shift) -> String {
        format!("{}-{}", s.start, s.end)
    }
}

/// How callees behave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Population {
    /// Share of attempts a live person answers.
    pub answer_rate: f64,
    /// Share of attempts an answering machine answers.
    pub machine_rate: f64,
    /// Of the attempts nobody answers: share busy...
    pub busy_share: f64,
    /// ...and share unreachable (switched off, out of coverage); the rest ring out.
    pub unreachable_share: f64,
    /// Share of leads whose number turns out not to exist (404 from the network).
    pub dead_number_rate: f64,
    /// Share of leads that never answer (fake orders).
    pub fake_rate: f64,
    /// Time to answer (median; lognormal), capped by the ring timeout.
    #[serde(with = "span")]
    pub answer_after: Duration,
    /// How long the dialer lets a call ring before giving up.
    #[serde(with = "span")]
    pub ring_timeout: Duration,
    /// Conversation length: lognormal with this median and shape.
    #[serde(with = "span")]
    pub talk_median: Duration,
    pub talk_sigma: f64,
    /// Answering-machine detection is on: live answers reach the dialer `amd_delay` after they
    /// pick up, and machines are hung up on then.
    pub amd: bool,
    /// Time answering-machine detection takes to decide.
    #[serde(with = "span")]
    pub amd_delay: Duration,
    /// Length of the abandoned-call message.
    #[serde(with = "span")]
    pub abandon_message: Duration,
    /// Share of conversations that end with "call me back later".
    pub callback_rate: f64,
    /// Preview dialing: how long an operator looks at a lead before dialling it.
    #[serde(with = "span")]
    pub preview_think: Duration,
}

impl Default for Population {
    fn default() -> Self {
        Population {
            answer_rate: 0.5,
            machine_rate: 0.0,
            busy_share: 0.3,
            unreachable_share: 0.2,
            dead_number_rate: 0.01,
            fake_rate: 0.05,
            answer_after: Duration::from_secs(8),
            ring_timeout: Duration::from_secs(25),
            talk_median: Duration::from_secs(90),
            talk_sigma: 0.5,
            amd: false,
            amd_delay: Duration::from_secs(3),
            abandon_message: Duration::from_secs(5),
            callback_rate: 0.08,
            preview_think: Duration::from_secs(5),
        }
    }
}

/// The stream of leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Arrivals {
    /// Mean leads per hour over a day; 0 means 12 per operator.
    pub leads_per_hour: f64,
    /// Relative arrival rate for each hour of the day in the campaign's zone (24 values).
    pub daily_curve: Vec<f64>,
    /// The rate grows linearly to `growth` times over `growth_hours` (seed 000: traffic doubled in
    /// two days over the New Year), then stays.
    pub growth: f64,
    pub growth_hours: f64,
    /// Share of submissions with an impossible phone number (invalid traffic).
    pub invalid_share: f64,
    /// Share of submissions that repeat a recent lead (double clicks, re-orders).
    pub duplicate_share: f64,
    /// Leads waiting when the run starts (arrived overnight).
    pub backlog: u32,
}

/// Orders per hour of the day of a Russian web shop, Moscow time: quiet at night, busy from late
/// morning to evening.
pub const ECOMMERCE_CURVE: [f64; 24] = [
    0.35, 0.2, 0.12, 0.08, 0.08, 0.12, 0.3, 0.6, 0.95, 1.25, 1.4, 1.45, 1.45, 1.45, 1.4, 1.4, 1.4,
    1.45, 1.5, 1.55, 1.55, 1.45, 1.1, 0.7,
];

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals {
            leads_per_hour: 0.0,
            daily_curve: ECOMMERCE_CURVE.to_vec(),
            growth: 1.0,
            growth_hours: 48.0,
            invalid_share: 0.03,
            duplicate_share: 0.05,
            backlog: 0,
        }
    }
}

/// A setting out of range: `field` is its path in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfigError {
    pub field: String,
    pub message: String,
}

impl SimConfig {
    /// The "traffic doubles in two days" run of seed 000: three days, operators 09:00-21:00,
    /// arrivals growing to twice the first day's rate over 48 hours.
    pub fn doubling(mut self) -> SimConfig {
        self.hours = 72.0;
        self.arrivals.growth = 2.0;
        self.arrivals.growth_hours = 48.0;
        if self.operators.shift.is_none() {
            self.operators.shift = Some(Shift {
                start: TimeOfDay::hm(9, 0),
                end: TimeOfDay::hm(21, 0),
            });
        }
        self
    }

    pub fn validate(&self) -> Result<(), Vec<SimConfigError>> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: &str| {
            errors.push(SimConfigError {
                field: field.into(),
                message: message.into(),
            })
        };
        if !(self.hours > 0.0 && self.hours <= 24.0 * 31.0) {
            bad("hours", "use more than 0 and at most 744 (31 days)");
        }
        if self.operators.count == 0 || self.operators.count > 100_000 {
            bad("operators.count", "use 1 to 100000 operators");
        }
        let p = &self.population;
        for (field, v) in [
            ("population.answer_rate", p.answer_rate),
            ("population.machine_rate", p.machine_rate),
            ("population.busy_share", p.busy_share),
            ("population.unreachable_share", p.unreachable_share),
            ("population.dead_number_rate", p.dead_number_rate),
            ("population.fake_rate", p.fake_rate),
            ("population.callback_rate", p.callback_rate),
            ("arrivals.invalid_share", self.arrivals.invalid_share),
            ("arrivals.duplicate_share", self.arrivals.duplicate_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bad(field, "a share is a fraction from 0 to 1 (0.25, not 25)");
            }
        }
        if p.answer_rate + p.machine_rate > 1.0 {
            bad(
                "population.machine_rate",
                "answer_rate + machine_rate must not exceed 1",
            );
        }
        if p.busy_share + p.unreachable_share > 1.0 {
            bad(
                "population.unreachable_share",
                "busy_share + unreachable_share must not exceed 1",
            );
        }
        if p.ring_timeout < Duration::from_secs(5) {
            bad("population.ring_timeout", "at least 5s");
        }
        if !(p.talk_sigma >= 0.0 && p.talk_sigma <= 3.0) {
            bad("population.talk_sigma", "use 0 to 3 (0.5 is typical)");
        }
        if p.talk_median < Duration::from_secs(1) {
            bad("population.talk_median", "at least 1s");
        }
        let a = &self.arrivals;
        if !(a.leads_per_hour >= 0.0 && a.leads_per_hour <= 1_000_000.0) {
            bad(
                "arrivals.leads_per_hour",
                "use 0 (12 per operator) to 1000000",
            );
        }
        if a.daily_curve.len() != 24
            || a.daily_curve.iter().any(|w| !w.is_finite() || *w < 0.0)
            || a.daily_curve.iter().sum::<f64>() <= 0.0
        {
            bad(
                "arrivals.daily_curve",
                "give 24 weights, one per hour, not all zero",
            );
        }
        let growth_ok = a.growth > 0.0 && a.growth <= 100.0 && a.growth_hours > 0.0;
        if !growth_ok {
            bad(
                "arrivals.growth",
                "growth from 0 to 100 times over a positive number of hours",
            );
        }
        if let Err(errs) = self.campaign.clone().validate() {
            errors.extend(errs.into_iter().map(|e| SimConfigError {
                field: format!("campaign.{}", e.field),
                message: e.message,
            }));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Leads per hour, defaulting to 12 per operator.
    pub fn leads_per_hour(&self) -> f64 {
        if self.arrivals.leads_per_hour > 0.0 {
            self.arrivals.leads_per_hour
        } else {
            12.0 * f64::from(self.operators.count)
        }
    }
}

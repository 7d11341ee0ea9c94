//! A campaign's dialing policy: how often and how soon to call a lead, in which order, when not
//! to call, and which leads are duplicates. Every default is explained in `docs/defaults.md`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::amd::AmdSettings;
use thiserror::Error;

use super::calendar::QuietHours;
use super::destinations::Destinations;
use super::lead::Outcome;
use super::phone::Region;
use super::zones::TzId;
use crate::pacing::{PacingMode, PacingPolicy};
use crate::time::span;

/// The order in which due leads are called (seed 001's two variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum PriorityVariant {
    /// (1) new leads, (2) leads with one attempt, (3) callbacks at the time agreed in the last
    /// conversation, (4) re-dials of leads never reached.
    One,
    /// New leads first, then fewest attempts first.
    Two,
}

impl TryFrom<u8> for PriorityVariant {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(PriorityVariant::One),
            2 => Ok(PriorityVariant::Two),
            _ => Err(format!("priority must be 1 or 2, not {v}")),
        }
    }
}

impl From<PriorityVariant> for u8 {
    fn from(v: PriorityVariant) -> u8 {
        match v {
            PriorityVariant::One => 1,
            PriorityVariant::Two => 2,
        }
    }
}

/// How duplicates are caught on the way in (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupPolicy {
    pub rule: DedupRule,
    /// Rule B: a lead whose phone was seen within this window is a duplicate.
    /// Rule A: how long order ids are remembered.
    #[serde(with = "span")]
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DedupRule {
    /// The lead carries an order id and a phone: the same order id from the same phone is a
    /// duplicate; a new order from a known phone is a new lead.
    A,
    /// Only a phone: the same phone within the window is a duplicate; older is a new lead.
    B,
}

impl Default for DedupPolicy {
    fn default() -> Self {
        DedupPolicy {
            rule: DedupRule::B,
            window: Duration::from_secs(24 * 3600),
        }
    }
}

/// Back-off before the next attempt, per outcome of the last one. Each is a ladder indexed by
/// the number of attempts made so far (`["15m", "30m", "1h"]`: 15 minutes after the first
/// attempt, 30 after the second, an hour after every later one); one value means always that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backoff {
    #[serde(with = "span::list")]
    pub busy: Vec<Duration>,
    #[serde(with = "span::list")]
    pub no_answer: Vec<Duration>,
    /// Unreachable, switched off, congestion (SIP 503 and other 5xx), declined.
    #[serde(with = "span::list")]
    pub unreachable: Vec<Duration>,
    #[serde(with = "span::list")]
    pub answering_machine: Vec<Duration>,
    /// Answered with no free operator: the callee heard the abandoned-call message.
    #[serde(with = "span::list")]
    pub abandoned: Vec<Duration>,
    /// The call failed on our side (trunk down): not the callee's doing, so retry soon.
    #[serde(with = "span::list")]
    pub trunk_failure: Vec<Duration>,
}

fn mins(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|m| Duration::from_secs(m * 60)).collect()
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            busy: mins(&[10, 20, 30]),
            no_answer: mins(&[20, 40, 60, 120]),
            unreachable: mins(&[30, 60, 120]),
            answering_machine: mins(&[120, 240]),
            abandoned: mins(&[30]),
            trunk_failure: mins(&[1]),
        }
    }
}

impl Backoff {
    /// The wait after an attempt that ended with `outcome`, when `attempts` have been made.
    /// `None` for outcomes that are not retried by back-off (contact, invalid number).
    pub fn after(&self, outcome: Outcome, attempts: u8) -> Option<Duration> {
        let ladder = match outcome {
            Outcome::Busy => &self.busy,
            Outcome::NoAnswer => &self.no_answer,
            Outcome::Unreachable | Outcome::Rejected => &self.unreachable,
            Outcome::AnsweringMachine => &self.answering_machine,
            Outcome::Abandoned => &self.abandoned,
            Outcome::TrunkFailure => &self.trunk_failure,
            Outcome::Contact | Outcome::InvalidNumber => return None,
        };
        let i = usize::from(attempts.saturating_sub(1)).min(ladder.len().saturating_sub(1));
        ladder.get(i).copied()
    }

    fn ladders(&self) -> [(&'static str, &Vec<Duration>); 6] {
        [
            ("busy", &self.busy),
            ("no_answer", &self.no_answer),
            ("unreachable", &self.unreachable),
            ("answering_machine", &self.answering_machine),
            ("abandoned", &self.abandoned),
            ("trunk_failure", &self.trunk_failure),
        ]
    }
}

/// Everything a campaign decides about dialing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignPolicy {
    /// Country of numbers written without `+` (`8 916 ...` is Russian).
    pub country: Option<Region>,
    /// The zone of callees whose number does not tell (Russian mobiles), IANA name.
    pub time_zone: String,
    /// Attempts per lead, 5 to 10 (seed 001).
    pub max_attempts: u8,
    /// A new lead gets its first attempt within this time of arrival (of the end of the callee's
    /// quiet hours, when it arrives during them).
    #[serde(with = "span")]
    pub first_attempt_sla: Duration,
    pub priority: PriorityVariant,
    /// How long a call may ring before it is cancelled and counted as no answer.
    #[serde(with = "span")]
    pub ring_timeout: Duration,
    pub backoff: Backoff,
    pub quiet_hours: QuietHours,
    /// Leads held back by quiet hours are released over this time after they end, in the order
    /// they were held, instead of all at once.
    #[serde(with = "span")]
    pub morning_spread: Duration,
    pub dedup: DedupPolicy,
    /// Time an operator has after a call to enter its result before the next call.
    #[serde(with = "span")]
    pub wrap_up: Duration,
    pub mode: PacingMode,
    /// Settings of the paced modes (predictive, power): abandon cap and target, regulator,
    /// ratios.
    pub pacing: PacingPolicy,
    /// Answering-machine detection on answered calls: off without this table (fresh web leads
    /// answer in person); `[campaign.amd]` turns it on, with the defaults of docs/media.md (Asterisk's, but 3 words and a beep detector).
    pub amd: Option<AmdSettings>,
    /// What the campaign's calls are for: operators (the default), or a bot's pickup reminder.
    pub kind: CampaignKind,
    /// A pickup reminder is repeated this long after the last one reached the callee, until
    /// the lead is cancelled (collected) or its `until` passes.
    #[serde(with = "span")]
    pub remind_every: Duration,
    /// Reminder calls at once (they need no operator).
    pub bot_channels: u32,
    /// Where the campaign may call: prefixes, number types, calls per number a day.
    pub destinations: Destinations,
}

/// What a campaign's calls are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Answered calls go to operators.
    #[default]
    Operators,
    /// A bot calls while a parcel waits at a pickup point: an answered call hears the
    /// reminder (the point and the storage deadline) and ends; the lead is called again every
    /// `remind_every` until it is cancelled (collected) or its `until` passes.
    PickupReminder,
}

impl Default for CampaignPolicy {
    fn default() -> Self {
        CampaignPolicy {
            country: Some("RU".parse().expect("RU is a country")),
            time_zone: "Europe/Moscow".into(),
            max_attempts: 7,
            first_attempt_sla: Duration::from_secs(15 * 60),
            priority: PriorityVariant::One,
            ring_timeout: Duration::from_secs(25),
            backoff: Backoff::default(),
            quiet_hours: QuietHours::default(),
            morning_spread: Duration::from_secs(5 * 60),
            dedup: DedupPolicy::default(),
            wrap_up: Duration::from_secs(10),
            mode: PacingMode::Progressive,
            pacing: PacingPolicy::default(),
            amd: None,
            kind: CampaignKind::Operators,
            remind_every: Duration::from_secs(24 * 3600),
            bot_channels: 10,
            destinations: Destinations::default(),
        }
    }
}

/// A policy setting that is out of range. `field` is the setting's path as written in a config
/// file (`backoff.busy`), so the shell can point at its line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A checked policy, with its zone looked up: what the scheduler runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPolicy {
    pub policy: CampaignPolicy,
    pub default_tz: TzId,
}

impl CampaignPolicy {
    /// Checks every setting; returns all problems, not just the first.
    pub fn validate(self) -> Result<ValidPolicy, Vec<PolicyError>> {
        let mut errors = Vec::new();
        if !(5..=10).contains(&self.max_attempts) {
            errors.push(err(
                "max_attempts",
                format!(
                    "{} is out of range: use 5 to 10 attempts per lead",
                    self.max_attempts
                ),
            ));
        }
        if self.remind_every < Duration::from_secs(3600) {
            errors.push(err(
                "remind_every",
                "at least 1h between reminders (default 1d)",
            ));
        }
        if !(1..=1000).contains(&self.bot_channels) {
            errors.push(err("bot_channels", "use 1 to 1000 calls at once"));
        }
        let default_tz = TzId::from_name(&self.time_zone);
        if default_tz.is_none() {
            errors.push(err(
                "time_zone",
                format!(
                    "`{}` is not an IANA time zone; write it like Europe/Moscow",
                    self.time_zone
                ),
            ));
        }
        if self.first_attempt_sla < Duration::from_secs(10)
            || self.first_attempt_sla > Duration::from_secs(24 * 3600)
        {
            errors.push(err(
                "first_attempt_sla",
                "use a time from 10s to 24h (default 15m)",
            ));
        }
        if self.ring_timeout < Duration::from_secs(15)
            || self.ring_timeout > Duration::from_secs(180)
        {
            errors.push(err(
                "ring_timeout",
                "use a time from 15s to 3m (default 25s): shorter cuts off people reaching for the phone",
            ));
        }
        for (name, ladder) in self.backoff.ladders() {
            let field = format!("backoff.{name}");
            if ladder.is_empty() {
                errors.push(err(&field, "give at least one wait, like \"15m\""));
            }
            if ladder.len() > 10 {
                errors.push(err(&field, "at most 10 waits (one per attempt)"));
            }
            if ladder
                .iter()
                .any(|d| *d < Duration::from_secs(1) || *d > Duration::from_secs(30 * 86_400))
            {
                errors.push(err(&field, "each wait must be from 1s to 30d"));
            }
        }
        if self.morning_spread > Duration::from_secs(3600) {
            errors.push(err(
                "morning_spread",
                "at most 1h: the morning queue should go out in minutes",
            ));
        }
        if self.dedup.window < Duration::from_secs(60)
            || self.dedup.window > Duration::from_secs(400 * 86_400)
        {
            errors.push(err("dedup.window", "use a time from 1m to 400d"));
        }
        if self.wrap_up > Duration::from_secs(600) {
            errors.push(err("wrap_up", "at most 10m"));
        }
        if let Some(amd) = &self.amd {
            for (field, message) in amd.problems() {
                errors.push(err(&format!("amd.{field}"), message));
            }
        }
        for (field, message) in self.destinations.problems(self.country) {
            errors.push(err(&format!("destinations.{field}"), message));
        }
        for (field, message) in self.pacing.problems() {
            errors.push(err(&format!("pacing.{field}"), message));
        }
        match (errors.is_empty(), default_tz) {
            (true, Some(default_tz)) => Ok(ValidPolicy {
                policy: self,
                default_tz,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let p = CampaignPolicy::default().validate().unwrap();
        assert_eq!(p.default_tz.name(), "Europe/Moscow");
        assert_eq!(p.policy.max_attempts, 7);
    }

    #[test]
    fn every_bad_setting_is_reported() {
        let p = CampaignPolicy {
            max_attempts: 12,
            time_zone: "Moscow".into(),
            backoff: Backoff {
                busy: vec![],
                ..Backoff::default()
            },
            ..CampaignPolicy::default()
        };
        let errors = p.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["max_attempts", "time_zone", "backoff.busy"]);
        assert!(errors[0].to_string().contains("5 to 10"));
    }

    #[test]
    fn backoff_ladder_is_indexed_by_attempts() {
        let b = Backoff::default();
        assert_eq!(
            b.after(Outcome::NoAnswer, 1),
            Some(Duration::from_secs(20 * 60))
        );
        assert_eq!(
            b.after(Outcome::NoAnswer, 2),
            Some(Duration::from_secs(40 * 60))
        );
        assert_eq!(
            b.after(Outcome::NoAnswer, 9),
            Some(Duration::from_secs(120 * 60))
        );
        assert_eq!(
            b.after(Outcome::Abandoned, 3),
            Some(Duration::from_secs(30 * 60))
        );
        assert_eq!(b.after(Outcome::Contact, 1), None);
        assert_eq!(
            b.after(Outcome::Rejected, 1),
            b.after(Outcome::Unreachable, 1)
        );
    }

    #[test]
    fn priority_reads_as_a_number() {
        assert_eq!(PriorityVariant::try_from(2), Ok(PriorityVariant::Two));
        assert!(PriorityVariant::try_from(3).is_err());
    }
}

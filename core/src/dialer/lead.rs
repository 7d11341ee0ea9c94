//! Leads: a shop's order to call back, the outcomes of its attempts, and where it stands.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A lead's id, given by whoever stores leads (the database, the simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LeadId(pub u64);

/// A campaign's id (a "line" of seed 000: confirmation, delivery, pickup reminders...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CampaignId(pub u32);

impl fmt::Display for LeadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A lead as it arrives from a shop. The phone is as the shop wrote it; the core normalises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLead {
    pub id: LeadId,
    pub campaign: CampaignId,
    pub phone: String,
    /// The shop's order id (required by dedup rule A).
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub items: Vec<String>,
    /// Order total in the shop's currency, in minor units (kopecks).
    #[serde(default)]
    pub sum_minor: Option<i64>,
    /// The callee's IANA zone, when the shop knows it better than the number does.
    #[serde(default)]
    pub time_zone: Option<String>,
    pub created_at: Timestamp,
    /// The lead is not called after this (a pickup reminder's storage deadline).
    #[serde(default)]
    pub until: Option<Timestamp>,
}

impl NewLead {
    /// A lead with just the fields the dialer needs.
    pub fn new(id: u64, campaign: u32, phone: &str, created_at: Timestamp) -> NewLead {
        NewLead {
            id: LeadId(id),
            campaign: CampaignId(campaign),
            phone: phone.to_string(),
            order_id: None,
            name: None,
            items: Vec::new(),
            sum_minor: None,
            time_zone: None,
            until: None,
            created_at,
        }
    }
}

/// Where a lead stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadState {
    /// Arrived, never dialled yet: waiting in its campaign's queue.
    Queued,
    /// Waiting for its next attempt (a retry, a callback, or the end of quiet hours).
    Scheduled,
    /// An attempt is in progress.
    Dialing,
    /// Reached (or found to be a wrong number): nothing more to dial.
    Done,
    /// All attempts used without reaching anyone.
    Exhausted,
    /// Withdrawn by the shop.
    Cancelled,
    /// Its number is one the campaign may not call (its destination policy changed since the
    /// lead came in): closed without a call.
    Refused,
}

impl LeadState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            LeadState::Done | LeadState::Exhausted | LeadState::Cancelled | LeadState::Refused
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LeadState::Queued => "queued",
            LeadState::Scheduled => "scheduled",
            LeadState::Dialing => "dialing",
            LeadState::Done => "done",
            LeadState::Exhausted => "exhausted",
            LeadState::Cancelled => "cancelled",
            LeadState::Refused => "refused",
        }
    }
}

/// How an attempt ended, as the SIP side maps it (`src/sip/outcome.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Outcome {
    /// A live person answered and talked to an operator.
    Contact = 1,
    /// 486 / 600.
    Busy = 2,
    /// Rang out: ring timeout, 480, 408.
    NoAnswer = 3,
    /// Switched off, out of coverage, congestion: 503 and other 5xx.
    Unreachable = 4,
    /// Answering machine detected.
    AnsweringMachine = 5,
    /// Answered, but no operator was free: the callee heard the abandoned-call message.
    Abandoned = 6,
    /// The number does not exist: 404, 484, 604. The lead is closed.
    InvalidNumber = 7,
    /// Declined by the callee: 603.
    Rejected = 8,
    /// Failed on our side before reaching the callee's network (trunk down, auth failed).
    TrunkFailure = 9,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Contact,
        Outcome::Busy,
        Outcome::NoAnswer,
        Outcome::Unreachable,
        Outcome::AnsweringMachine,
        Outcome::Abandoned,
        Outcome::InvalidNumber,
        Outcome::Rejected,
        Outcome::TrunkFailure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Contact => "contact",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no_answer",
            Outcome::Unreachable => "unreachable",
            Outcome::AnsweringMachine => "answering_machine",
            Outcome::Abandoned => "abandoned",
            Outcome::InvalidNumber => "invalid_number",
            Outcome::Rejected => "rejected",
            Outcome::TrunkFailure => "trunk_failure",
        }
    }

    fn from_code(code: u64) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| *o as u64 == code)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcomes of a lead's attempts, oldest first, packed 4 bits each into one word (at most
/// 10 attempts per lead, so 40 bits; 8 bytes per lead instead of a vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct History(u64);

impl History {
    pub const CAPACITY: usize = 16;

    /// Appends an outcome; past 16 the oldest are kept and later ones dropped.
    pub fn push(&mut self, o: Outcome) {
        let n = self.len();
        if n < Self::CAPACITY {
            self.0 |= (o as u64) << (4 * n);
        }
    }

    pub fn len(&self) -> usize {
        if self.0 == 0 {
            0
        } else {
            (64 - self.0.leading_zeros() as usize).div_ceil(4)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = Outcome> + '_ {
        (0..self.len()).filter_map(|i| Outcome::from_code((self.0 >> (4 * i)) & 0xF))
    }

    pub fn last(&self) -> Option<Outcome> {
        self.len()
            .checked_sub(1)
            .and_then(|i| Outcome::from_code((self.0 >> (4 * i)) & 0xF))
    }

    /// Whether any attempt reached a live person.
    pub fn ever_reached(&self) -> bool {
        self.iter().any(|o| o == Outcome::Contact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_packs_outcomes_in_order() {
        let mut h = History::default();
        assert!(h.is_empty());
        assert_eq!(h.last(), None);
        let seq = [
            Outcome::Busy,
            Outcome::NoAnswer,
            Outcome::TrunkFailure,
            Outcome::Contact,
        ];
        for o in seq {
            h.push(o);
        }
        assert_eq!(h.len(), 4);
        assert_eq!(h.iter().collect::<Vec<_>>(), seq);
        assert_eq!(h.last(), Some(Outcome::Contact));
        assert!(h.ever_reached());
        for _ in 0..20 {
            h.push(Outcome::Busy);
        }
        assert_eq!(h.len(), History::CAPACITY);
    }
}

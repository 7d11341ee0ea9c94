//! The figures a simulated day is judged by, and what the simulator writes for each event.

use serde::Serialize;

use crate::dialer::lead::LeadId;
use crate::dialer::phone::Phone;
use crate::time::Timestamp;

/// One line of the event log (`predial sim --events FILE`).
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub at: Timestamp,
    /// `lead_added`, `dial` or `outcome`.
    pub event: &'static str,
    pub lead: LeadId,
    pub phone: Phone,
    /// The attempt's number for this lead, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u8>,
    /// The callee's zone the scheduler used (IANA name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<&'static str>,
    /// The priority class the dial was taken from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
}

/// Percentiles of a distribution, nearest-rank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(values: &mut [f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            values[i]
        };
        Percentiles {
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// The result of a simulated run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimReport {
    /// Leads accepted into the campaign.
    pub leads_in: u64,
    /// Dial attempts placed.
    pub attempts: u64,
    /// Attempts that reached a live person who talked to an operator.
    pub contacts: u64,
    /// contacts / attempts.
    pub contact_rate: f64,
    /// From a lead becoming dialable (arrival, or the end of its callee's quiet hours) to its first
    /// dial, over the leads dialled.
    pub first_dial_latency_s: Percentiles,
    /// Leads not dialled within the first-attempt SLA of becoming dialable (including leads still
    /// waiting at the end whose SLA had passed).
    pub sla_misses: u64,
    /// Dials placed in the callee's quiet hours, checked independently of the scheduler: must be 0.
    pub quiet_hour_violations: u64,
    /// attempts / leads_in.
    pub attempts_per_lead: f64,
    /// (talk + wrap-up) / logged-in time, over all operators.
    pub agent_occupancy: f64,

    /// Submissions, accepted or not.
    pub leads_submitted: u64,
    /// Refused for an impossible number (invalid traffic).
    pub leads_invalid: u64,
    /// Refused as duplicates.
    pub leads_duplicate: u64,
    /// Refused by the campaign's destination policy (a country or number type not called).
    pub leads_destination_refused: u64,
    /// Leads that reached an operator at least once.
    pub leads_contacted: u64,
    /// leads_contacted / leads_in.
    pub lead_contact_rate: f64,
    /// Leads closed: reached (or a dead number), all attempts used.
    pub leads_done: u64,
    pub leads_exhausted: u64,
    /// Leads still waiting at the end.
    pub leads_pending: u64,
    /// Answered with no operator free.
    pub abandoned: u64,
    /// abandoned / calls answered by a live person.
    pub abandon_rate: f64,
    /// Conversations per logged-in operator hour.
    pub calls_per_agent_hour: f64,
    /// Times a lead's dial was held back by its callee's quiet hours.
    pub held_by_quiet_hours: u64,
    /// Distinct callee zones and UTC offsets (at the start) among the leads.
    pub callee_zones: u64,
    pub callee_utc_offsets: u64,
    pub agents: u32,
    pub hours: f64,
    pub seed: u64,
    pub start: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
        assert_eq!(Percentiles::of(&mut [3.0]).p50, 3.0);
    }
}

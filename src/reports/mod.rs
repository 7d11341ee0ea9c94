//! The numbers the business watches (MISSION.md), over the leads that arrived in a period,
//! grouped by date, hour, campaign, operator group or operator:
//!
//! - contact rate: leads reached (a live answer) / leads dialled;
//! - approve rate: leads approved (confirmed or upsell) / leads received, all of them; and
//!   without invalid traffic: / leads received less duplicates, impossible numbers, fakes and
//!   wrong numbers;
//! - share of duplicates, and of fakes (impossible numbers and leads the operator marked fake);
//! - average check (the approved orders' sums) and upsell rate (upsells / approved);
//! - time from lead to first attempt and to confirmation (median and p90);
//! - calls accepted and missed per operator.

use std::collections::{BTreeMap, HashMap};

use chrono::TimeZone;
use serde::Serialize;

use crate::store::reports::Facts;

/// What rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Date,
    Hour,
    Campaign,
    Group,
    Operator,
}

#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

fn spread(mut v: Vec<f64>) -> Spread {
    if v.is_empty() {
        return Spread::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Spread {
        median: Some(at(0.5)),
        p90: Some(at(0.9)),
    }
}

/// One row of the report.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Row {
    /// The group: `2026-11-28`, `2026-11-28 14:00`, a campaign, an operator group or login
    /// (empty: not handled by an operator).
    pub group: String,
    /// Leads received: stored, duplicates and impossible numbers.
    pub received: u64,
    pub leads: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub fakes: u64,
    pub wrong_numbers: u64,
    /// Leads with at least one attempt, and those reached.
    pub dialled: u64,
    pub contacted: u64,
    pub contact_rate: Option<f64>,
    pub approved: u64,
    pub approve_rate: Option<f64>,
    pub approve_rate_valid: Option<f64>,
    pub duplicates_share: Option<f64>,
    pub fakes_share: Option<f64>,
    pub average_check_minor: Option<f64>,
    pub upsells: u64,
    pub upsell_rate: Option<f64>,
    pub lead_to_first_attempt_s: Spread,
    pub lead_to_confirm_s: Spread,
    pub calls_accepted: u64,
    pub calls_missed: u64,
    /// Leads whose number the campaign's destination policy does not call (premium rate,
    /// another country, a refused range): never dialled, and not counted as valid.
    pub destination_refused: u64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[derive(Default)]
struct Acc {
    row: Row,
    first_attempt: Vec<f64>,
    to_confirm: Vec<f64>,
    sums: Vec<f64>,
}

/// Inbound queue calls that rang operators, in the accepted and missed figures: by the
/// operator, their group, the day or hour of the ring, or (by campaign) the queue.
fn count_offers(
    facts: &Facts,
    by: By,
    when: &dyn Fn(i64, bool) -> String,
    groups: &HashMap<&str, &str>,
    acc: &mut BTreeMap<String, Acc>,
) {
    for o in &facts.offers {
        let key = match by {
            By::Date => when(o.at_ms, false),
            By::Hour => when(o.at_ms, true),
            By::Campaign => o.queue.clone(),
            By::Operator => o.operator.clone(),
            By::Group => groups
                .get(o.operator.as_str())
                .copied()
                .unwrap_or("")
                .to_string(),
        };
        let row = &mut acc.entry(key).or_default().row;
        if o.accepted {
            row.calls_accepted += 1;
        } else {
            row.calls_missed += 1;
        }
    }
}

/// The report's rows (sorted by group) and the totals row.
pub fn compute(facts: &Facts, by: By, tz: chrono_tz::Tz) -> (Vec<Row>, Row) {
    let when = |ms: i64, hour: bool| -> String {
        let t = tz
            .timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(|| tz.timestamp_millis_opt(0).unwrap());
        if hour {
            t.format("%Y-%m-%d %H:00").to_string()
        } else {
            t.format("%Y-%m-%d").to_string()
        }
    };
    let groups: HashMap<&str, &str> = facts
        .groups
        .iter()
        .map(|(login, g)| (login.as_str(), g.as_deref().unwrap_or("")))
        .collect();
    // Who handled a lead: its last disposition's operator, else its last bridged call's.
    let mut handler: HashMap<i64, &str> = HashMap::new();
    for a in &facts.attempts {
        if let (true, Some(op)) = (a.bridged, a.operator.as_deref()) {
            handler.insert(a.lead, op);
        }
    }
    for d in &facts.dispositions {
        if let Some(op) = d.operator.as_deref() {
            handler.insert(d.lead, op);
        }
    }
    let lead_group = |id: i64, campaign: &str, created: i64| -> String {
        match by {
            By::Date => when(created, false),
            By::Hour => when(created, true),
            By::Campaign => campaign.to_string(),
            By::Operator => handler.get(&id).copied().unwrap_or("").to_string(),
            By::Group => handler
                .get(&id)
                .and_then(|op| groups.get(op).copied())
                .unwrap_or("")
                .to_string(),
        }
    };
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    let mut key_of: HashMap<i64, String> = HashMap::new();
    for l in &facts.leads {
        let key = lead_group(l.id, &l.campaign, l.created_ms);
        let a = acc.entry(key.clone()).or_default();
        a.row.leads += 1;
        a.row.received += 1;
        key_of.insert(l.id, key);
    }
    for r in &facts.rejected {
        let key = match by {
            By::Date => when(r.created_ms, false),
            By::Hour => when(r.created_ms, true),
            By::Campaign => r.campaign.clone(),
            By::Operator | By::Group => String::new(),
        };
        let a = acc.entry(key).or_default();
        a.row.received += 1;
        if r.reason == "duplicate" {
            a.row.duplicates += 1;
        } else if r.reason == "destination_refused" {
            a.row.destination_refused += 1;
        } else {
            a.row.invalid += 1;
        }
    }
    let created: HashMap<i64, i64> = facts.leads.iter().map(|l| (l.id, l.created_ms)).collect();
    let lead_sum: HashMap<i64, Option<i64>> =
        facts.leads.iter().map(|l| (l.id, l.sum_minor)).collect();
    // Per lead: first attempt, reached, wrong number.
    let mut first: HashMap<i64, i64> = HashMap::new();
    let mut reached: HashMap<i64, bool> = HashMap::new();
    let mut wrong: HashMap<i64, bool> = HashMap::new();
    let mut op_calls: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for a in &facts.attempts {
        first.entry(a.lead).or_insert(a.started_ms);
        let live = a.bridged || a.outcome.as_deref() == Some("contact");
        *reached.entry(a.lead).or_default() |= live;
        if a.outcome.as_deref() == Some("invalid_number") {
            wrong.insert(a.lead, true);
        }
        if let Some(op) = &a.operator {
            let e = op_calls.entry(op.clone()).or_default();
            if a.bridged {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    // Per lead: its final disposition.
    let mut last: HashMap<i64, &crate::store::reports::DispositionFacts> = HashMap::new();
    let mut confirmed_at: HashMap<i64, i64> = HashMap::new();
    for d in &facts.dispositions {
        last.insert(d.lead, d);
        if matches!(d.kind.as_str(), "confirmed" | "upsell") {
            confirmed_at.entry(d.lead).or_insert(d.created_ms);
        }
    }
    for (lead, key) in &key_of {
        let a = acc.get_mut(key).expect("made above");
        let t0 = created[lead];
        if let Some(f) = first.get(lead) {
            a.row.dialled += 1;
            a.first_attempt.push((f - t0) as f64 / 1000.0);
        }
        if reached.get(lead).copied().unwrap_or(false) {
            a.row.contacted += 1;
        }
        let kind = last.get(lead).map(|d| d.kind.as_str());
        if wrong.contains_key(lead) || kind == Some("wrong_number") {
            a.row.wrong_numbers += 1;
        }
        if kind == Some("fake") {
            a.row.fakes += 1;
        }
        if matches!(kind, Some("confirmed" | "upsell")) {
            a.row.approved += 1;
            if kind == Some("upsell") {
                a.row.upsells += 1;
            }
            let sum = last[lead].sum_minor.or(lead_sum[lead]);
            if let Some(s) = sum {
                a.sums.push(s as f64);
            }
            if let Some(c) = confirmed_at.get(lead) {
                a.to_confirm.push((c - t0) as f64 / 1000.0);
            }
        }
    }
    if by == By::Operator {
        for (op, (accepted, missed)) in op_calls {
            let a = acc.entry(op).or_default();
            a.row.calls_accepted += accepted;
            a.row.calls_missed += missed;
        }
    } else {
        for a in &facts.attempts {
            if a.operator.is_none() {
                continue;
            }
            if let Some(key) = key_of.get(&a.lead) {
                let r = &mut acc.get_mut(key).expect("made above").row;
                if a.bridged {
                    r.calls_accepted += 1;
                } else {
                    r.calls_missed += 1;
                }
            }
        }
    }
    count_offers(facts, by, &when, &groups, &mut acc);
    let mut total = Acc::default();
    total.row.group = "total".into();
    let mut rows = Vec::new();
    for (group, mut a) in acc {
        a.row.group = group;
        let t = &mut total.row;
        t.received += a.row.received;
        t.leads += a.row.leads;
        t.duplicates += a.row.duplicates;
        t.invalid += a.row.invalid;
        t.fakes += a.row.fakes;
        t.wrong_numbers += a.row.wrong_numbers;
        t.dialled += a.row.dialled;
        t.contacted += a.row.contacted;
        t.approved += a.row.approved;
        t.upsells += a.row.upsells;
        t.calls_accepted += a.row.calls_accepted;
        t.calls_missed += a.row.calls_missed;
        t.destination_refused += a.row.destination_refused;
        total.first_attempt.extend(&a.first_attempt);
        total.to_confirm.extend(&a.to_confirm);
        total.sums.extend(&a.sums);
        rows.push(finish(a));
    }
    (rows, finish(total))
}

fn finish(a: Acc) -> Row {
    let mut r = a.row;
    r.contact_rate = ratio(r.contacted, r.dialled);
    r.approve_rate = ratio(r.approved, r.received);
    let valid = r.received.saturating_sub(
        r.duplicates + r.invalid + r.fakes + r.wrong_numbers + r.destination_refused,
    );
    r.approve_rate_valid = ratio(r.approved, valid);
    r.duplicates_share = ratio(r.duplicates, r.received);
    r.fakes_share = ratio(r.invalid + r.fakes, r.received);
    r.upsell_rate = ratio(r.upsells, r.approved);
    r.average_check_minor =
        (!a.sums.is_empty()).then(|| a.sums.iter().sum::<f64>() / a.sums.len() as f64);
    r.lead_to_first_attempt_s = spread(a.first_attempt);
    r.lead_to_confirm_s = spread(a.to_confirm);
    r
}

/// The rows as CSV (a header, then one line per row, the totals last).
pub fn csv(rows: &[Row], total: &Row) -> String {
    let mut out = String::from(
        "group,received,leads,duplicates,invalid,fakes,wrong_numbers,dialled,contacted,contact_rate,\
         approved,approve_rate,approve_rate_valid,duplicates_share,fakes_share,average_check_minor,\
         upsells,upsell_rate,lead_to_first_attempt_median_s,lead_to_first_attempt_p90_s,\
         lead_to_confirm_median_s,lead_to_confirm_p90_s,calls_accepted,calls_missed,destination_refused\n",
    );
    let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    for r in rows.iter().chain(std::iter::once(total)) {
        let group = if r.group.contains([',', '"']) {
            format!("\"{}\"", r.group.replace('"', "\"\""))
        } else {
            r.group.clone()
        };
        out += &format!(
            "{group},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.received,
            r.leads,
            r.duplicates,
            r.invalid,
            r.fakes,
            r.wrong_numbers,
            r.dialled,
            r.contacted,
            f(r.contact_rate),
            r.approved,
            f(r.approve_rate),
            f(r.approve_rate_valid),
            f(r.duplicates_share),
            f(r.fakes_share),
            f(r.average_check_minor),
            r.upsells,
            f(r.upsell_rate),
            f(r.lead_to_first_attempt_s.median),
            f(r.lead_to_first_attempt_s.p90),
            f(r.lead_to_confirm_s.median),
            f(r.lead_to_confirm_s.p90),
            r.calls_accepted,
            r.calls_missed,
            r.destination_refused,
        );
    }
    out
}

/// Why a report's time was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}`: give a date (2026-11-28) or a time (2026-11-28T10:00:00Z)")]
    NotATime(String),
    #[error("`{text}`: no midnight in {tz}")]
    NoMidnight { text: String, tz: chrono_tz::Tz },
}

/// `2026-11-28` or an RFC 3339 time -> UTC milliseconds; a date is midnight in `tz`.
pub fn parse_time(text: &str, tz: chrono_tz::Tz) -> Result<i64, TimeError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| TimeError::NotATime(text.into()))?;
    let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| TimeError::NoMidnight {
            text: text.into(),
            tz,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reports::*;

    #[test]
    fn the_kpis_of_a_small_day() {
        let h = 3_600_000;
        let mut f = Facts::default();
        for id in 1..=4 {
            f.leads.push(LeadFacts {
                id,
                campaign: "shop".into(),
                created_ms: id * h,
                sum_minor: Some(1000),
            });
        }
        f.rejected.push(RejectedFacts {
            campaign: "shop".into(),
            created_ms: h,
            reason: "duplicate".into(),
        });
        f.rejected.push(RejectedFacts {
            campaign: "shop".into(),
            created_ms: h,
            reason: "invalid_phone".into(),
        });
        // Leads 1-3 dialled 60 s after arrival; 1 and 2 reached by operator ann, 3 busy.
        for (lead, bridged, outcome) in [
            (1, true, "contact"),
            (2, true, "contact"),
            (3, false, "busy"),
        ] {
            f.attempts.push(AttemptFacts {
                lead,
                started_ms: lead * h + 60_000,
                answered: bridged,
                bridged,
                outcome: Some(outcome.into()),
                operator: bridged.then(|| "ann".into()),
            });
        }
        f.dispositions.push(DispositionFacts {
            lead: 1,
            kind: "upsell".into(),
            sum_minor: Some(3000),
            created_ms: h + 120_000,
            operator: Some("ann".into()),
        });
        f.dispositions.push(DispositionFacts {
            lead: 2,
            kind: "fake".into(),
            sum_minor: None,
            created_ms: 2 * h + 120_000,
            operator: Some("ann".into()),
        });
        f.groups.push(("ann".into(), Some("day".into())));
        let (rows, total) = compute(&f, By::Campaign, chrono_tz::UTC);
        assert_eq!(rows.len(), 1);
        let r = &total;
        assert_eq!((r.received, r.leads, r.duplicates, r.invalid), (6, 4, 1, 1));
        assert_eq!((r.dialled, r.contacted), (3, 2));
        assert_eq!(r.contact_rate, Some(2.0 / 3.0));
        assert_eq!((r.approved, r.upsells, r.fakes), (1, 1, 1));
        assert_eq!(r.approve_rate, Some(1.0 / 6.0));
        // Valid: 6 received - 1 duplicate - 1 invalid - 1 fake.
        assert_eq!(r.approve_rate_valid, Some(1.0 / 3.0));
        assert_eq!(r.fakes_share, Some(2.0 / 6.0));
        assert_eq!(r.average_check_minor, Some(3000.0));
        assert_eq!(r.lead_to_first_attempt_s.median, Some(60.0));
        assert_eq!(r.lead_to_confirm_s.median, Some(120.0));
        assert_eq!(r.calls_accepted, 2);

        let (rows, _) = compute(&f, By::Operator, chrono_tz::UTC);
        let ann = rows.iter().find(|r| r.group == "ann").unwrap();
        assert_eq!((ann.leads, ann.approved, ann.calls_accepted), (2, 1, 2));
        let (rows, _) = compute(&f, By::Hour, chrono_tz::UTC);
        assert_eq!(rows[0].group, "1970-01-01 01:00");
        assert_eq!(rows[0].received, 3);
        let (rows, _) = compute(&f, By::Group, chrono_tz::UTC);
        assert!(rows.iter().any(|r| r.group == "day" && r.leads == 2));
        assert!(csv(&rows, &total).lines().count() == rows.len() + 2);
    }

    #[test]
    fn dates_are_midnights_of_the_zone() {
        let msk: chrono_tz::Tz = "Europe/Moscow".parse().unwrap();
        assert_eq!(
            parse_time("2026-11-28", msk).unwrap(),
            parse_time("2026-11-27T21:00:00Z", msk).unwrap()
        );
        assert!(parse_time("yesterday", msk).is_err());
    }
}

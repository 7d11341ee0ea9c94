//! Where a campaign may call, whatever made the lead (the shop, an import, a missed call, a
//! callback agreed with an operator, a pickup reminder): numbers starting with an allowed prefix
//! (by default the campaign's own country's code), never a number type that costs the caller
//! money or lands outside any country (premium rate, shared cost, personal numbers, satellite
//! and international networks) unless allowed, never a range the admin lists as revenue-share,
//! and at most so many calls to one number a day across all campaigns.
//!
//! This is what stops callback toll fraud: a stranger who leaves a missed call from a
//! premium-rate number, or a shop form filled with one, gets no call back.

use std::fmt;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::phone::{Phone, Region};
use crate::time::Timestamp;

/// A campaign's destination policy (`destinations = { allow = ["+7"], allow_types = [] }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Destinations {
    /// E.164 prefixes a number must start with (`+7`, `+7495`, `+375`). Empty: the code of the
    /// campaign's `country`.
    pub allow: Vec<String>,
    /// Number types called although they are refused by default.
    pub allow_types: Vec<NumberType>,
    /// E.164 prefixes never called, whatever else allows them: the revenue-share ranges a
    /// carrier or a fraud list warns of (`+37069`, `+5399`).
    pub refuse: Vec<String>,
    /// Calls one number may get in a day (UTC), counted across every campaign; a lead over it
    /// waits for the next day.
    pub calls_per_number_per_day: u32,
}

impl Default for Destinations {
    fn default() -> Self {
        Destinations {
            allow: Vec::new(),
            allow_types: Vec::new(),
            refuse: Vec::new(),
            calls_per_number_per_day: 10,
        }
    }
}

/// The number types refused unless a campaign allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberType {
    /// The caller pays a premium (+7 809, +44 9, +1 900; the international +979).
    PremiumRate,
    /// The caller pays part of the cost (ranges libphonenumber marks so; the international +808).
    SharedCost,
    /// A number that follows a person, billed above a normal call (+44 70).
    PersonalNumber,
    /// Satellite phones and international networks outside any country (+870 Inmarsat,
    /// +881 satellite, +882 and +883 international networks): expensive, and a favourite of
    /// revenue-share fraud.
    #[serde(alias = "satellite")]
    InternationalNetwork,
}

impl NumberType {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::PersonalNumber => "personal_number",
            NumberType::InternationalNetwork => "international_network",
        }
    }

    fn words(self) -> &'static str {
        match self {
            NumberType::PremiumRate => "a premium-rate number",
            NumberType::SharedCost => "a shared-cost number",
            NumberType::PersonalNumber => "a personal number",
            NumberType::InternationalNetwork => "a satellite or international-network number",
        }
    }

    /// The type of a number, when it is one of the refused ones: by libphonenumber's patterns
    /// for its country (read from the digits directly, not through the crate's parser, which
    /// mangles some national numbers), or by its non-geographic calling code.
    pub fn of(phone: Phone) -> Option<NumberType> {
        let digits = phone.digit_string();
        let (code, national) = split_code(&digits)?;
        match code {
            870 | 881 | 882 | 883 => return Some(NumberType::InternationalNetwork),
            979 => return Some(NumberType::PremiumRate),
            808 => return Some(NumberType::SharedCost),
            _ => {}
        }
        let metas = phonenumber::metadata::DATABASE.by_code(&code)?;
        metas.iter().find_map(|meta| {
            let d = meta.descriptors();
            let is = |t: Option<&phonenumber::metadata::Descriptor>| {
                t.is_some_and(|t| t.is_match(national))
            };
            if !d.general().is_match(national) {
                None
            } else if is(d.premium_rate()) {
                Some(NumberType::PremiumRate)
            } else if is(d.shared_cost()) {
                Some(NumberType::SharedCost)
            } else if is(d.personal_number()) {
                Some(NumberType::PersonalNumber)
            } else {
                None
            }
        })
    }
}

/// The calling code and national number of E.164 digits (codes are prefix-free).
fn split_code(digits: &str) -> Option<(u16, &str)> {
    (1..=3).filter(|&n| n < digits.len()).find_map(|n| {
        let code: u16 = digits[..n].parse().ok()?;
        phonenumber::metadata::DATABASE
            .region(&code)
            .map(|_| (code, &digits[n..]))
            .or_else(|| {
                matches!(code, 870 | 881 | 882 | 883 | 979 | 808).then_some((code, &digits[n..]))
            })
    })
}

/// Why a number is not called: the rule that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It starts with none of the allowed prefixes (they are listed).
    NotAllowed { allowed: Vec<String> },
    /// It is of a type the campaign does not call.
    Type(NumberType),
    /// It is in a range listed under `refuse`.
    Listed { prefix: String },
}

impl Refusal {
    /// The rule, as a stable word for the API, the import report and the KPIs.
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::NotAllowed { .. } => "allow",
            Refusal::Type(t) => t.as_str(),
            Refusal::Listed { .. } => "refuse",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAllowed { allowed } => write!(
                f,
                "the campaign calls only numbers starting with {} (destinations.allow)",
                allowed.join(", ")
            ),
            Refusal::Type(t) => write!(
                f,
                "{} is not called unless the campaign allows it (destinations.allow_types = [\"{}\"])",
                t.words(),
                t.as_str()
            ),
            Refusal::Listed { prefix } => write!(
                f,
                "{prefix} is a refused range (destinations.refuse): revenue-share numbers are never called"
            ),
        }
    }
}

impl Destinations {
    /// Whether the campaign may call `phone`; `country` is the campaign's, whose code is
    /// allowed when `allow` is empty.
    pub fn judge(&self, phone: Phone, country: Option<Region>) -> Result<(), Refusal> {
        let digits = phone.digit_string();
        if let Some(prefix) = self
            .refuse
            .iter()
            .find(|p| digits.starts_with(p.trim_start_matches('+')))
        {
            return Err(Refusal::Listed {
                prefix: prefix.clone(),
            });
        }
        let allowed = self.allowed(country);
        if !allowed
            .iter()
            .any(|p| digits.starts_with(p.trim_start_matches('+')))
        {
            return Err(Refusal::NotAllowed { allowed });
        }
        match NumberType::of(phone) {
            Some(t) if !self.allow_types.contains(&t) => Err(Refusal::Type(t)),
            _ => Ok(()),
        }
    }

    /// The allowed prefixes: as written, or the country's code.
    fn allowed(&self, country: Option<Region>) -> Vec<String> {
        if !self.allow.is_empty() {
            return self.allow.clone();
        }
        country
            .and_then(|r| phonenumber::metadata::DATABASE.by_id(r.to_string().as_str()))
            .map(|m| vec![format!("+{}", m.country_code())])
            .unwrap_or_default()
    }

    /// What is wrong with the settings: (field under `destinations`, what to do).
    pub fn problems(&self, country: Option<Region>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let prefix_ok = |p: &str| {
            p.strip_prefix('+').is_some_and(|d| {
                (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
            })
        };
        for (field, list) in [("allow", &self.allow), ("refuse", &self.refuse)] {
            if let Some(bad) = list.iter().find(|p| !prefix_ok(p)) {
                out.push((
                    field.to_string(),
                    format!("`{bad}` is not an E.164 prefix: write + and digits, like \"+7\" or \"+7495\""),
                ));
            }
        }
        if self.allow.is_empty() && country.is_none() {
            out.push((
                "allow".to_string(),
                "the campaign has no country: list the prefixes it may call, like [\"+7\"]"
                    .to_string(),
            ));
        }
        if !(1..=100).contains(&self.calls_per_number_per_day) {
            out.push((
                "calls_per_number_per_day".to_string(),
                "use 1 to 100 calls (default 10)".to_string(),
            ));
        }
        out
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Calls placed to each number today (the UTC day), across campaigns: 16 bytes a number
/// called today, forgotten when the day is over, so a day of a million numbers dialled costs
/// some 20 MB.
#[derive(Debug, Default)]
pub(crate) struct CallsPerNumber {
    /// Number -> (day, calls that day).
    calls: FxHashMap<u64, (i64, u32)>,
    day: i64,
}

impl CallsPerNumber {
    /// When `phone` may be called again under `cap` calls a day: `None` if now.
    pub(crate) fn next_free(
        &mut self,
        phone: Phone,
        cap: u32,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let today = now.millis().div_euclid(DAY_MS);
        let &(day, n) = self.calls.get(&phone.digits())?;
        (day == today && n >= cap).then(|| Timestamp::from_millis((today + 1) * DAY_MS))
    }

    /// A call placed to `phone` now.
    pub(crate) fn record(&mut self, phone: Phone, now: Timestamp) {
        self.add(phone, 1, now);
    }

    /// `calls` placed to `phone`, counted as today's.
    pub(crate) fn add(&mut self, phone: Phone, calls: u32, now: Timestamp) {
        if calls == 0 {
            return;
        }
        let today = now.millis().div_euclid(DAY_MS);
        if today != self.day {
            // A new day: yesterday's counts go.
            self.calls.retain(|_, (day, _)| *day == today);
            self.day = today;
        }
        let e = self.calls.entry(phone.digits()).or_insert((today, 0));
        if e.0 != today {
            *e = (today, 0);
        }
        e.1 = e.1.saturating_add(calls);
    }

    #[cfg(test)]
    pub(crate) fn numbers(&self) -> usize {
        self.calls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru() -> Option<Region> {
        Some("RU".parse().unwrap())
    }

    fn phone(e164: &str) -> Phone {
        Phone::from_e164(e164).unwrap()
    }

    #[test]
    fn by_default_only_the_campaign_s_country_is_called() {
        let d = Destinations::default();
        assert_eq!(d.judge(phone("+79161234567"), ru()), Ok(()));
        assert_eq!(d.judge(phone("+74951234567"), ru()), Ok(()));
        let err = d.judge(phone("+375291234567"), ru()).unwrap_err();
        assert_eq!(err.rule(), "allow");
        assert!(err.to_string().contains("+7"), "{err}");
    }

    #[test]
    fn premium_rate_and_satellite_numbers_are_refused_unless_allowed() {
        let d = Destinations {
            allow: vec!["+7".into(), "+44".into(), "+881".into()],
            ..Destinations::default()
        };
        // Russia's 809 range is premium rate in libphonenumber's metadata.
        let premium = phone("+78091234567");
        assert_eq!(
            d.judge(premium, ru()),
            Err(Refusal::Type(NumberType::PremiumRate))
        );
        assert_eq!(
            d.judge(phone("+447012345678"), ru()),
            Err(Refusal::Type(NumberType::PersonalNumber))
        );
        assert_eq!(
            d.judge(phone("+881612345678"), ru()),
            Err(Refusal::Type(NumberType::InternationalNetwork))
        );
        let lenient = Destinations {
            allow_types: vec![NumberType::PremiumRate],
            ..d.clone()
        };
        assert_eq!(lenient.judge(premium, ru()), Ok(()));
    }

    #[test]
    fn a_listed_range_is_refused_even_when_its_country_is_allowed() {
        let d = Destinations {
            refuse: vec!["+7495111".into()],
            ..Destinations::default()
        };
        let err = d.judge(phone("+74951110009"), ru()).unwrap_err();
        assert_eq!(err.rule(), "refuse");
        assert_eq!(d.judge(phone("+74952220009"), ru()), Ok(()));
    }

    #[test]
    fn bad_settings_are_named() {
        let d = Destinations {
            allow: vec!["7".into()],
            calls_per_number_per_day: 0,
            ..Destinations::default()
        };
        let fields: Vec<String> = d.problems(ru()).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["allow", "calls_per_number_per_day"]);
        assert_eq!(Destinations::default().problems(None)[0].0, "allow");
    }

    #[test]
    fn a_number_gets_at_most_its_calls_a_day() {
        let mut calls = CallsPerNumber::default();
        let p = phone("+79161234567");
        // 09:00 UTC on some day.
        let t0 = Timestamp::from_millis(20_000 * DAY_MS + 9 * 3600 * 1000);
        assert_eq!(calls.next_free(p, 2, t0), None);
        calls.record(p, t0);
        calls.record(p, t0.plus_millis(60_000));
        let later = t0.plus_millis(120_000);
        let midnight = Timestamp::from_millis(20_001 * DAY_MS);
        assert_eq!(calls.next_free(p, 2, later), Some(midnight));
        assert_eq!(calls.next_free(p, 3, later), None);
        // The next day it may be called again, and yesterday's numbers are forgotten.
        assert_eq!(calls.next_free(p, 2, midnight), None);
        calls.record(phone("+79161234568"), midnight);
        assert_eq!(calls.numbers(), 1);
    }
}

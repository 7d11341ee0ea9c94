//! Phone numbers: what a web shop sends (`8 (916) 123-45-67`, `+7 916 1234567`, `89161234567`)
//! normalised to E.164 with libphonenumber's rules (the `phonenumber` crate), or rejected with
//! the reason. A rejected number is "invalid traffic": counted, never dialled.

use std::fmt;
use std::str::FromStr;

use phonenumber::country;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::time::serde_as_text;

/// A normalised E.164 number, kept as its digits in one integer (`+79161234567` is
/// `79161234567`). E.164 numbers have at most 15 digits and never start with 0, so the integer is
/// lossless and 8 bytes: the scheduler keeps millions of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Phone(u64);

/// Why a number was refused. The text says what is wrong with the number as sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("`{0}` is not a phone number")]
    NotANumber(String),
    #[error("`{0}` has no country code (+7, +375, ...) and the campaign has no default country")]
    NoCountry(String),
    #[error("`{0}` has an unknown country code")]
    UnknownCountryCode(String),
    #[error("`{0}` is too short to be a phone number")]
    TooShort(String),
    #[error("`{0}` is too long to be a phone number")]
    TooLong(String),
    #[error("`{0}` is not a possible number in {1}")]
    NotPossible(String, String),
}

impl Phone {
    /// The largest E.164 number (15 digits).
    const MAX: u64 = 999_999_999_999_999;

    /// Normalises what a shop sent. `region` is the campaign's default country, used for numbers
    /// written without `+` (`8 916 123-45-67` in Russia). The number must be a valid number of
    /// its country by libphonenumber's metadata (right length and a range in use), which is what
    /// catches typed-in fakes like `+7 000 000-00-00`.
    pub fn parse(raw: &str, region: Option<Region>) -> Result<Phone, PhoneError> {
        let text = raw.trim();
        if text.is_empty() || !text.chars().any(|c| c.is_ascii_digit()) {
            return Err(PhoneError::NotANumber(raw.to_string()));
        }
        let parsed = phonenumber::parse(region.map(|r| r.0), text);
        if parsed.is_err()
            && let Some(p) = plain_reading(text, region)
        {
            return Ok(p);
        }
        let number = parsed.map_err(|e| {
            use phonenumber::ParseError as P;
            match e {
                P::InvalidCountryCode if region.is_none() && !text.starts_with('+') => {
                    PhoneError::NoCountry(raw.to_string())
                }
                P::InvalidCountryCode => PhoneError::UnknownCountryCode(raw.to_string()),
                P::TooShortAfterIdd | P::TooShortNsn => PhoneError::TooShort(raw.to_string()),
                P::TooLong => PhoneError::TooLong(raw.to_string()),
                _ => PhoneError::NotANumber(raw.to_string()),
            }
        })?;
        if !phonenumber::is_valid(&number) {
            return plain_reading(text, region).ok_or_else(|| {
                let country = number
                    .country()
                    .id()
                    .map(|id| id.as_ref().to_string())
                    .unwrap_or_else(|| format!("+{}", number.code().value()));
                PhoneError::NotPossible(raw.to_string(), country)
            });
        }
        let national = number.national();
        let digits = format!(
            "{}{}{}",
            number.code().value(),
            "0".repeat(usize::from(national.zeros())),
            national.value()
        );
        Phone::from_e164_digits(&digits).ok_or_else(|| PhoneError::TooLong(raw.to_string()))
    }

    /// Reads a number already in E.164 (`+79161234567` or `79161234567`) without validating it
    /// against the numbering plan: for numbers that were validated when they came in (the store,
    /// the simulator's generator).
    pub fn from_e164(text: &str) -> Option<Phone> {
        Phone::from_e164_digits(text.strip_prefix('+').unwrap_or(text))
    }

    fn from_e164_digits(digits: &str) -> Option<Phone> {
        if digits.is_empty()
            || digits.len() > 15
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        (n <= Phone::MAX).then_some(Phone(n))
    }

    /// The digits as one integer (`79161234567`).
    pub const fn digits(self) -> u64 {
        self.0
    }

    /// The digits as text, without `+`: what prefix tables and SIP Request-URIs use.
    pub fn digit_string(self) -> String {
        self.0.to_string()
    }

    /// Masked for logs: `+7916*****67`. Phone numbers are personal data.
    pub fn masked(self) -> String {
        let d = self.digit_string();
        let keep_head = d.len().min(4);
        let keep_tail = if d.len() > 8 { 2 } else { 0 };
        let hidden = d.len() - keep_head - keep_tail;
        format!(
            "+{}{}{}",
            &d[..keep_head],
            "*".repeat(hidden),
            &d[d.len() - keep_tail..]
        )
    }
}

/// Reads a number the plain way, for the numbers the `phonenumber` crate (0.3.10) mangles
/// (its bug #76, open upstream).
///
/// The crate strips the national prefix from the national number again and again, whether the
/// number was written with its country code or not: `+7 812 123-45-67` (St Petersburg) loses the
/// 8 of its area code and becomes an invalid 9-digit number, and so does every Russian area code
/// from 811 to 879 (St Petersburg, Kazan, Samara, Krasnodar, Rostov...). So, when the crate's
/// reading is not a valid number: take the digits; with `+` (or the international prefix 00, or
/// 810 from Russia) they are a country code and a national number; otherwise they are a national
/// number of the campaign's country, perhaps with its national prefix (`8 812 ...`) or its
/// country code without `+` (`7 812 ...`). Each reading is checked against libphonenumber's
/// patterns for the country (the crate's metadata, which is right); the first valid one wins.
fn plain_reading(text: &str, region: Option<Region>) -> Option<Phone> {
    use phonenumber::metadata::DATABASE;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let mut readings: Vec<(u16, &str)> = Vec::new();
    let international = |d: &'_ str| -> Option<(u16, usize)> {
        // Country codes are prefix-free: the first one that exists is the one.
        (1..=3).filter(|&n| n < d.len()).find_map(|n| {
            let code: u16 = d[..n].parse().ok()?;
            DATABASE.region(&code).map(|_| (code, n))
        })
    };
    let idd_rest = if text.starts_with('+') {
        Some(digits.as_str())
    } else {
        ["00", "810"]
            .iter()
            .find_map(|idd| digits.strip_prefix(idd))
    };
    if let Some(rest) = idd_rest
        && let Some((code, n)) = international(rest)
    {
        readings.push((code, &rest[n..]));
    }
    if !text.starts_with('+')
        && let Some(meta) = region.and_then(|r| DATABASE.by_id(r.0.as_ref()))
    {
        let code = meta.country_code();
        if let Some(prefix) = meta.national_prefix()
            && let Some(rest) = digits.strip_prefix(prefix)
        {
            readings.push((code, rest));
        }
        readings.push((code, &digits));
        if let Some(rest) = digits.strip_prefix(code.to_string().as_str()) {
            readings.push((code, rest));
        }
    }
    readings
        .into_iter()
        .find(|(code, national)| is_valid_national(*code, national))
        .and_then(|(code, national)| Phone::from_e164_digits(&format!("{code}{national}")))
}

/// Whether `national` is a valid number of some country with calling code `code`, by
/// libphonenumber's patterns.
fn is_valid_national(code: u16, national: &str) -> bool {
    let Some(metas) = phonenumber::metadata::DATABASE.by_code(&code) else {
        return false;
    };
    metas.iter().any(|meta| {
        let d = meta.descriptors();
        d.general().is_match(national)
            && [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .any(|t| t.is_match(national))
    })
}

impl fmt::Display for Phone {
    /// E.164: `+79161234567`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.0)
    }
}

impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A country, by its two-letter ISO code (`RU`, `KZ`, `BY`), as libphonenumber knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(country::Id);

impl FromStr for Region {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        country::Id::from_str(&s.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| format!("`{s}` is not a two-letter country code like RU, KZ or BY"))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

serde_as_text!(Region);

#[cfg(test)]
mod tests {
    use super::*;

    fn ru() -> Option<Region> {
        Some("RU".parse().unwrap())
    }

    #[test]
    fn russian_ways_of_writing_a_number_normalise_to_one() {
        for raw in [
            "+7 916 123-45-67",
            "8 (916) 123-45-67",
            "89161234567",
            "+79161234567",
            "7 916 1234567",
            " 8-916-123-45-67 ",
        ] {
            let p = Phone::parse(raw, ru()).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(p.to_string(), "+79161234567", "{raw}");
        }
    }

    #[test]
    fn area_codes_starting_with_8_keep_their_8() {
        // St Petersburg, Samara, Kazan, Krasnodar, Rostov, Nizhny Novgorod, Volgograd.
        for code in ["812", "846", "843", "861", "863", "831", "8442"] {
            let national = format!("{code}{}", &"1234567"[..10 - code.len()]);
            for raw in [
                format!("+7{national}"),
                format!("8{national}"),
                format!("+7 ({code}) {}", &national[code.len()..]),
                format!("7{national}"),
            ] {
                let p = Phone::parse(&raw, ru()).unwrap_or_else(|e| panic!("{raw}: {e}"));
                assert_eq!(p.to_string(), format!("+7{national}"), "{raw}");
            }
            let p = Phone::parse(&format!("+7{national}"), None).unwrap();
            assert_eq!(p.to_string(), format!("+7{national}"));
        }
        // The cases of the crate's bug #76: toll-free 8-800 in Russia and Belarus.
        assert_eq!(
            Phone::parse("+78005553535", ru()).unwrap().to_string(),
            "+78005553535"
        );
        assert_eq!(
            Phone::parse("88005553535", ru()).unwrap().to_string(),
            "+78005553535"
        );
        let by = Some("BY".parse().unwrap());
        assert_eq!(
            Phone::parse("+375800111111", by).unwrap().to_string(),
            "+375800111111"
        );
    }

    #[test]
    fn every_russian_area_code_in_the_zone_table_gives_valid_numbers() {
        let text = include_str!("../../data/tz-curated.tsv");
        for line in text
            .lines()
            .filter(|l| ["73", "74", "78"].iter().any(|p| l.starts_with(p)))
        {
            let prefix = line.split('\t').next().unwrap();
            let n = format!("+{prefix}{}", &"2345678901"[..11 - prefix.len()]);
            assert!(Phone::parse(&n, None).is_ok(), "{n} ({line})");
        }
    }

    #[test]
    fn other_countries_and_leading_zeros_survive() {
        let by = Phone::parse("+375 29 123-45-67", ru()).unwrap();
        assert_eq!(by.to_string(), "+375291234567");
        // Italian fixed lines keep their leading 0 after the country code.
        let it = Phone::parse("+39 06 6982 1234", None).unwrap();
        assert_eq!(it.to_string(), "+390669821234");
        assert_eq!(Phone::from_e164("+390669821234"), Some(it));
    }

    #[test]
    fn impossible_numbers_are_refused_with_a_reason() {
        assert!(matches!(
            Phone::parse("", ru()),
            Err(PhoneError::NotANumber(_))
        ));
        assert!(matches!(
            Phone::parse("call me", ru()),
            Err(PhoneError::NotANumber(_))
        ));
        assert!(Phone::parse("123", ru()).is_err());
        assert!(Phone::parse("+7 000 000-00-00", ru()).is_err());
        assert!(Phone::parse("9161234567", None).is_err());
        let e = Phone::parse("+7 916 123-45-67-89-01", ru())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "`+7 916 123-45-67-89-01` is not a possible number in RU");
    }

    #[test]
    fn masking_hides_the_middle() {
        let p = Phone::from_e164("+79161234567").unwrap();
        assert_eq!(p.masked(), "+7916*****67");
        assert_eq!(Phone::from_e164("+1234").unwrap().masked(), "+1234");
    }

    #[test]
    fn e164_reader_refuses_junk() {
        assert_eq!(Phone::from_e164(""), None);
        assert_eq!(Phone::from_e164("+0123"), None);
        assert_eq!(Phone::from_e164("+7916abc"), None);
        assert_eq!(Phone::from_e164("+1234567890123456"), None);
    }

    proptest::proptest! {
        /// Whatever a web form sends, the parser answers without panicking, and what it accepts
        /// reads back as the same number.
        #[test]
        fn any_text_is_answered(raw in "\\PC{0,40}", digits in "[+]?[0-9 ()-]{0,20}") {
            for text in [raw.as_str(), digits.as_str()] {
                if let Ok(p) = Phone::parse(text, ru()) {
                    proptest::prop_assert_eq!(Phone::parse(&p.to_string(), None), Ok(p));
                }
            }
        }
    }

    #[test]
    fn regions_parse() {
        assert_eq!("ru".parse::<Region>().unwrap().to_string(), "RU");
        assert!("Russia".parse::<Region>().is_err());
    }
}

//! Which time zone a callee lives in, from their number.
//!
//! Quiet hours are the callee's, so every lead needs a zone. In order: the zone the shop sent with
//! the lead; else the longest matching prefix of the number in the shipped prefix table
//! (`core/data/tz-prefixes.tsv`, see `docs/time-zones.md` for where it comes from and how to
//! extend it); else the campaign's default zone. A prefix whose numbers span several zones (all
//! Russian mobile numbers, `+79`) gives no answer and falls back to the campaign's zone.

use std::fmt;
use std::sync::OnceLock;

use chrono_tz::{TZ_VARIANTS, Tz};
use rustc_hash::FxHashMap;

use super::phone::Phone;

/// A time zone, as an index into chrono-tz's list of IANA zones (2 bytes per lead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TzId(u16);

impl TzId {
    /// Looks up an IANA name (`Europe/Moscow`, `Asia/Yekaterinburg`).
    pub fn from_name(name: &str) -> Option<TzId> {
        let tz: Tz = name.trim().parse().ok()?;
        Some(TzId::of(tz))
    }

    pub fn of(tz: Tz) -> TzId {
        // chrono-tz's `Tz` is a fieldless enum whose discriminants follow TZ_VARIANTS.
        let index = tz as usize;
        debug_assert_eq!(TZ_VARIANTS[index], tz);
        TzId(u16::try_from(index).expect("chrono-tz has fewer than 65536 zones"))
    }

    pub fn tz(self) -> Tz {
        TZ_VARIANTS[usize::from(self.0)]
    }

    pub fn name(self) -> &'static str {
        self.tz().name()
    }
}

impl fmt::Display for TzId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a lead's zone came from: shown in logs and events so an admin can see why a number was
/// called when it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// Sent with the lead.
    Lead,
    /// Found by the number's prefix.
    Prefix,
    /// The campaign's default zone (no prefix, or a prefix spanning several zones).
    CampaignDefault,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    One(TzId),
    /// The prefix's numbers are in several zones: do not guess.
    Several,
}

/// The prefix table: E.164 prefixes (country code and area code) to zones.
pub struct ZoneTable {
    /// Keyed by the prefix's digits as an integer. E.164 prefixes never start with 0, so the
    /// integer identifies the digit string.
    entries: FxHashMap<u64, Entry>,
    longest: u32,
}

/// The shipped table, parsed once.
static BUILTIN: OnceLock<ZoneTable> = OnceLock::new();
const BUILTIN_TEXT: &str = include_str!("../../data/tz-prefixes.tsv");

/// A line of a prefix table that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub line: usize,
    pub message: String,
}

impl ZoneTable {
    /// The table shipped with predial.
    pub fn builtin() -> &'static ZoneTable {
        BUILTIN.get_or_init(|| {
            ZoneTable::parse(BUILTIN_TEXT)
                .expect("the shipped tz-prefixes.tsv is checked by a unit test")
        })
    }

    /// Reads a table: one `PREFIX<TAB>ZONE[,ZONE...]` per line, `#` starts a comment. The prefix
    /// is the number's leading E.164 digits, without `+`.
    pub fn parse(text: &str) -> Result<ZoneTable, TableError> {
        let mut entries = FxHashMap::default();
        let mut longest = 0;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| TableError {
                line: line_no,
                message,
            };
            let mut cols = line.split_whitespace();
            let (Some(prefix), Some(zones)) = (cols.next(), cols.next()) else {
                return Err(err(format!("expected `PREFIX<TAB>ZONE`, got `{line}`")));
            };
            if prefix.is_empty()
                || prefix.len() > 15
                || prefix.starts_with('0')
                || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(err(format!(
                    "`{prefix}` is not an E.164 prefix (digits, not starting with 0)"
                )));
            }
            let mut ids = Vec::new();
            for name in zones.split(',') {
                let id = TzId::from_name(name)
                    .ok_or_else(|| err(format!("`{name}` is not an IANA time zone")))?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            let entry = match ids.as_slice() {
                [one] => Entry::One(*one),
                _ => Entry::Several,
            };
            let key: u64 = prefix
                .parse()
                .map_err(|_| err(format!("`{prefix}`: too long")))?;
            if entries.insert(key, entry).is_some() {
                return Err(err(format!("prefix {prefix} is listed twice")));
            }
            longest = longest.max(prefix.len() as u32);
        }
        Ok(ZoneTable { entries, longest })
    }

    /// The zone of a number by its longest listed prefix; `None` when no prefix is listed or the
    /// longest one spans several zones.
    pub fn lookup(&self, phone: Phone) -> Option<TzId> {
        let n = phone.digits();
        let len = n.checked_ilog10().map_or(1, |l| l + 1);
        let mut cut = len.min(self.longest);
        while cut > 0 {
            let prefix = n / 10u64.pow(len - cut);
            match self.entries.get(&prefix) {
                Some(Entry::One(tz)) => return Some(*tz),
                Some(Entry::Several) => return None,
                None => cut -= 1,
            }
        }
        None
    }

    /// The zone to use for a callee: the lead's own, else by prefix, else the campaign's.
    pub fn resolve(
        &self,
        phone: Phone,
        explicit: Option<TzId>,
        campaign_default: TzId,
    ) -> (TzId, ZoneSource) {
        if let Some(tz) = explicit {
            return (tz, ZoneSource::Lead);
        }
        match self.lookup(phone) {
            Some(tz) => (tz, ZoneSource::Prefix),
            None => (campaign_default, ZoneSource::CampaignDefault),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(e164: &str) -> Option<&'static str> {
        ZoneTable::builtin()
            .lookup(Phone::from_e164(e164).unwrap())
            .map(TzId::name)
    }

    #[test]
    fn the_shipped_table_parses() {
        let t = ZoneTable::parse(BUILTIN_TEXT)
            .unwrap_or_else(|e| panic!("line {}: {}", e.line, e.message));
        assert!(t.len() > 1000, "{} prefixes", t.len());
    }

    #[test]
    fn russian_regions_resolve_to_their_zones() {
        assert_eq!(zone("+74951234567"), Some("Europe/Moscow"));
        assert_eq!(zone("+78121234567"), Some("Europe/Moscow"));
        assert_eq!(zone("+74012123456"), Some("Europe/Kaliningrad"));
        assert_eq!(zone("+78462123456"), Some("Europe/Samara"));
        assert_eq!(zone("+73432123456"), Some("Asia/Yekaterinburg"));
        assert_eq!(zone("+73812123456"), Some("Asia/Omsk"));
        assert_eq!(zone("+73832123456"), Some("Asia/Novosibirsk"));
        assert_eq!(zone("+73912123456"), Some("Asia/Krasnoyarsk"));
        assert_eq!(zone("+73952123456"), Some("Asia/Irkutsk"));
        assert_eq!(zone("+74112123456"), Some("Asia/Yakutsk"));
        assert_eq!(zone("+74232123456"), Some("Asia/Vladivostok"));
        assert_eq!(zone("+74132123456"), Some("Asia/Magadan"));
        assert_eq!(zone("+74152123456"), Some("Asia/Kamchatka"));
    }

    #[test]
    fn cis_countries_resolve() {
        assert_eq!(zone("+375291234567"), Some("Europe/Minsk"));
        assert_eq!(zone("+998901234567"), Some("Asia/Tashkent"));
        assert_eq!(zone("+996555123456"), Some("Asia/Bishkek"));
        assert_eq!(zone("+374771234567"), Some("Asia/Yerevan"));
        assert_eq!(zone("+995555123456"), Some("Asia/Tbilisi"));
        assert_eq!(zone("+994501234567"), Some("Asia/Baku"));
    }

    #[test]
    fn russian_mobiles_resolve_by_their_range_s_home_region() {
        assert_eq!(zone("+79161234567"), Some("Europe/Moscow"));
        assert_eq!(zone("+79139001234"), Some("Asia/Novosibirsk"));
        assert_eq!(zone("+79120031234"), Some("Europe/Samara"));
    }

    #[test]
    fn nationwide_mobile_ranges_are_ambiguous_and_fall_back() {
        let t = ZoneTable::builtin();
        // +7 954 101: a range assigned to all of Russia.
        let mobile = Phone::from_e164("+79541011234").unwrap();
        assert_eq!(t.lookup(mobile), None);
        let moscow = TzId::from_name("Europe/Moscow").unwrap();
        let omsk = TzId::from_name("Asia/Omsk").unwrap();
        assert_eq!(
            t.resolve(mobile, None, omsk),
            (omsk, ZoneSource::CampaignDefault)
        );
        assert_eq!(
            t.resolve(mobile, Some(moscow), omsk),
            (moscow, ZoneSource::Lead)
        );
    }

    #[test]
    fn bad_tables_name_the_line() {
        let e = ZoneTable::parse("# ok\n7\tEurope/Moscow\n74\tMars/Olympus\n")
            .err()
            .unwrap();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("Mars/Olympus"));
        assert_eq!(ZoneTable::parse("07\tEurope/Moscow").err().unwrap().line, 1);
        assert_eq!(
            ZoneTable::parse("7\tEurope/Moscow\n7\tEurope/Moscow")
                .err()
                .unwrap()
                .line,
            2
        );
    }

    #[test]
    fn tz_ids_round_trip() {
        for tz in chrono_tz::TZ_VARIANTS {
            assert_eq!(TzId::of(tz).tz(), tz);
        }
        assert_eq!(TzId::from_name("Asia/Omsk").unwrap().name(), "Asia/Omsk");
        assert_eq!(TzId::from_name("Nowhere/Land"), None);
    }
}

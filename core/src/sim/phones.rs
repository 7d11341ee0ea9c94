//! Phone numbers of simulated buyers, spread as a Russia-wide shop's buyers are: mostly Russian
//! mobiles (all regions, so all eleven zones), some landlines by area code, and the CIS.

use rand::{Rng, RngExt};

use crate::dialer::phone::Phone;

/// (number start, digits to add, weight).
const TEMPLATES: &[(&str, u32, u32)] = &[
    // Russian mobiles, any DEF code: the registry table finds each range's region.
    ("79", 9, 700),
    // Russian landlines across the zones.
    ("7401", 7, 6),  // Kaliningrad UTC+2
    ("7495", 7, 40), // Moscow UTC+3
    ("7812", 7, 20), // St Petersburg UTC+3
    ("7846", 7, 8),  // Samara UTC+4
    ("7343", 7, 10), // Yekaterinburg UTC+5
    ("7381", 7, 5),  // Omsk UTC+6
    ("7383", 7, 8),  // Novosibirsk UTC+7
    ("7391", 7, 5),  // Krasnoyarsk UTC+7
    ("7395", 7, 5),  // Irkutsk UTC+8
    ("7411", 7, 2),  // Yakutsk UTC+9
    ("7423", 7, 4),  // Vladivostok UTC+10
    ("7413", 7, 1),  // Magadan UTC+11
    ("7415", 7, 1),  // Kamchatka UTC+12
    // The CIS.
    ("7701", 7, 15),  // Kazakhstan mobile UTC+5
    ("7747", 7, 8),   // Kazakhstan mobile
    ("37529", 7, 20), // Belarus UTC+3
    ("99890", 7, 15), // Uzbekistan UTC+5
    ("996555", 6, 6), // Kyrgyzstan UTC+6
    ("37477", 6, 5),  // Armenia UTC+4
    ("995555", 6, 5), // Georgia UTC+4
    ("99450", 7, 6),  // Azerbaijan UTC+4
    ("99292", 7, 4),  // Tajikistan UTC+5
    ("37369", 6, 4),  // Moldova UTC+2/+3
];

/// The calling codes of the simulated buyers' countries (`+7`, `+375`, ...).
pub(crate) fn country_prefixes() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (start, _, _) in TEMPLATES {
        let code = (1..=3)
            .map(|n| &start[..n])
            .find(|c| {
                c.parse::<u16>()
                    .is_ok_and(|c| phonenumber::metadata::DATABASE.region(&c).is_some())
            })
            .unwrap_or(start);
        let code = format!("+{code}");
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

/// Impossible numbers as people type them into order forms.
const JUNK: &[&str] = &[
    "+7 000 000-00-00",
    "12345",
    "8 (999) 00",
    "nope",
    "+7 (916) 12",
    "0000000000",
    "+999 123",
];

/// A valid number drawn from the mix.
pub fn random_phone(rng: &mut impl Rng) -> Phone {
    let total: u32 = TEMPLATES.iter().map(|t| t.2).sum();
    loop {
        let mut pick = rng.random_range(0..total);
        let &(start, digits, _) = TEMPLATES
            .iter()
            .find(|t| {
                if pick < t.2 {
                    true
                } else {
                    pick -= t.2;
                    false
                }
            })
            .expect("pick < total");
        let mut text = format!("+{start}");
        for _ in 0..digits {
            text.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        // Some random digits make a number the numbering plan has not assigned: draw again.
        if let Ok(p) = Phone::parse(&text, None) {
            return p;
        }
    }
}

/// An impossible number, as a careless buyer or a bot would type it.
pub fn junk_phone(rng: &mut impl Rng) -> &'static str {
    JUNK[rng.random_range(0..JUNK.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialer::zones::ZoneTable;
    use rand::SeedableRng;
    use std::collections::BTreeSet;

    #[test]
    fn numbers_span_many_offsets() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let t = ZoneTable::builtin();
        let zones: BTreeSet<&str> = (0..2000)
            .filter_map(|_| t.lookup(random_phone(&mut rng)))
            .map(|z| z.name())
            .collect();
        assert!(zones.len() >= 15, "{zones:?}");
        for j in JUNK {
            assert!(
                Phone::parse(j, Some("RU".parse().unwrap())).is_err(),
                "{j} should be refused"
            );
        }
    }
}

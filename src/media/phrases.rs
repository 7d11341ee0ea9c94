//! What predial says, built from the prompts of `sounds/<lang>/`: the abandoned-call message,
//! the estimated wait, an order's status, and numbers said the way people say them (in
//! Russian with the right forms: "одна тысяча", "две минуты", "пять минут").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::prompt::{self, Audio, PromptError};

/// A language predial has prompts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }
}

/// An order's status, as the order-status bot says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Accepted,
    Shipped,
    AtPickupPoint,
    Collected,
    Unknown,
}

/// The prompt names that say `n`.
pub fn number(n: u64, lang: Lang) -> Vec<String> {
    if n >= 1_000_000 {
        // Long numbers digit by digit.
        return n.to_string().chars().map(|d| format!("n{d}")).collect();
    }
    let mut out = Vec::new();
    let thousands = n / 1000;
    let rest = n % 1000;
    if thousands > 0 {
        match lang {
            Lang::En => {
                out.extend(below_thousand(thousands, lang, false));
                out.push("thousand".into());
            }
            Lang::Ru => {
                out.extend(below_thousand(thousands, lang, true));
                out.push(format!("thousand-{}", ru_form(thousands)));
            }
        }
    }
    if rest > 0 || thousands == 0 {
        out.extend(below_thousand(rest, lang, false));
    }
    out
}

/// 0-999; `feminine` for Russian thousands ("одна", "две").
fn below_thousand(n: u64, lang: Lang, feminine: bool) -> Vec<String> {
    let mut out = Vec::new();
    let hundreds = n / 100;
    let rest = n % 100;
    if hundreds > 0 {
        match lang {
            Lang::En => {
                out.push(format!("n{hundreds}"));
                out.push("hundred".into());
            }
            Lang::Ru => out.push(format!("n{hundreds}00")),
        }
    }
    if rest == 0 {
        if hundreds == 0 {
            out.push("n0".into());
        }
        return out;
    }
    let unit = |u: u64| -> String {
        if lang == Lang::Ru && feminine && (u == 1 || u == 2) {
            format!("n{u}f")
        } else {
            format!("n{u}")
        }
    };
    if rest < 20 {
        out.push(unit(rest));
    } else {
        out.push(format!("n{}0", rest / 10));
        if !rest.is_multiple_of(10) {
            out.push(unit(rest % 10));
        }
    }
    out
}

/// Russian plural form after a number: 1 (одна минута), 2 (две минуты), 5 (пять минут).
pub fn ru_form(n: u64) -> u8 {
    let (last, two) = (n % 10, n % 100);
    if (11..=14).contains(&two) {
        5
    } else if last == 1 {
        1
    } else if (2..=4).contains(&last) {
        2
    } else {
        5
    }
}

/// "Your call will be answered in about N minutes".
pub fn estimated_wait(minutes: u64, lang: Lang) -> Vec<String> {
    let minutes = minutes.max(1);
    let mut out = vec!["wait-about".to_string()];
    match lang {
        Lang::En => {
            out.extend(number(minutes, lang));
            out.push(if minutes == 1 { "minute-1" } else { "minute-5" }.into());
        }
        Lang::Ru => {
            // "через одну минуту / две минуты" are feminine.
            let mut n = number(minutes, lang);
            if let Some(last) = n.last_mut()
                && (last == "n1" || last == "n2")
                && minutes % 100 / 10 != 1
            {
                *last = if last == "n1" {
                    "n1f".into()
                } else {
                    "n2f".into()
                };
            }
            out.extend(n);
            out.push(format!("minute-{}", ru_form(minutes)));
        }
    }
    out
}

/// What a waiting caller hears: "You are number N in line. Your call will be answered in
/// about M minutes" (the wait rounded up to a minute).
pub fn queue_position(position: u32, wait_ms: u64, lang: Lang) -> Vec<String> {
    let mut out = vec!["position".to_string()];
    out.extend(number(u64::from(position.max(1)), lang));
    if lang == Lang::En {
        out.push("in-line".into());
    }
    out.extend(estimated_wait(wait_ms.div_ceil(60_000), lang));
    out
}

/// "Your order is waiting for you at the pickup point number N. It will be kept until the D of
/// MONTH. Please collect it in time."
pub fn pickup_reminder(point: Option<u64>, until: Option<(u32, u32)>, lang: Lang) -> Vec<String> {
    let mut out = vec!["pickup-reminder".to_string()];
    if let Some(p) = point {
        out.extend(number(p, lang));
    }
    if let Some((day, month)) = until.filter(|(d, m)| (1..=31).contains(d) && (1..=12).contains(m))
    {
        out.push("pickup-until".into());
        out.extend(number(u64::from(day), lang));
        out.push(format!("month-{month}"));
    }
    out.push("pickup-end".into());
    out
}

/// The message a callee hears when no operator was free: the company, the apology, and the
/// number to call back (digit by digit), when given.
pub fn abandoned(callback: Option<&str>, _lang: Lang) -> Vec<String> {
    let mut out = vec!["company".to_string(), "abandoned".to_string()];
    if let Some(number) = callback {
        let digits: Vec<String> = number
            .chars()
            .filter(char::is_ascii_digit)
            .map(|d| format!("n{d}"))
            .collect();
        if !digits.is_empty() {
            out.push("call-us".into());
            out.extend(digits);
        }
    }
    out
}

/// "Your order number 1234 is at the pickup point." The number is left out when the order has
/// none that can be said.
pub fn order_status(order: Option<u64>, status: OrderStatus, lang: Lang) -> Vec<String> {
    let mut out = vec!["order".to_string()];
    if let Some(order) = order {
        out.extend(number(order, lang));
    }
    out.push(
        match status {
            OrderStatus::Accepted => "status-accepted",
            OrderStatus::Shipped => "status-shipped",
            OrderStatus::AtPickupPoint => "status-pickup",
            OrderStatus::Collected => "status-collected",
            OrderStatus::Unknown => "status-unknown",
        }
        .into(),
    );
    out
}

/// The prompts of one folder (`sounds/`), read once and kept.
#[derive(Debug, Clone)]
pub struct Prompts {
    dir: PathBuf,
    cache: Arc<Mutex<HashMap<(Lang, String), Audio>>>,
}

impl Prompts {
    pub fn new(dir: &Path) -> Prompts {
        Prompts {
            dir: dir.to_path_buf(),
            cache: Arc::default(),
        }
    }

    /// The folder shipped with predial: `sounds/` here, else beside the sources it was built
    /// from.
    pub fn shipped() -> Prompts {
        let here = PathBuf::from("sounds");
        if here.join("en").is_dir() {
            Prompts::new(&here)
        } else {
            Prompts::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds"))
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The audio of one prompt (`sounds/<lang>/<name>.wav`, or `sounds/<name>.wav` for
    /// language-free ones like `music/hold`).
    pub fn get(&self, lang: Lang, name: &str) -> Result<Audio, PromptError> {
        let key = (lang, name.to_string());
        if let Some(a) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(a);
        }
        let in_lang = self.dir.join(lang.code()).join(format!("{name}.wav"));
        let path = if in_lang.exists() {
            in_lang
        } else {
            self.dir.join(format!("{name}.wav"))
        };
        let audio = prompt::load(&path)?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, audio.clone());
        }
        Ok(audio)
    }

    /// The audio of a sequence of prompts.
    pub fn sequence(&self, lang: Lang, names: &[String]) -> Result<Vec<Audio>, PromptError> {
        names.iter().map(|n| self.get(lang, n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_english() {
        assert_eq!(number(0, Lang::En), ["n0"]);
        assert_eq!(number(15, Lang::En), ["n15"]);
        assert_eq!(number(42, Lang::En), ["n40", "n2"]);
        assert_eq!(
            number(1234, Lang::En),
            ["n1", "thousand", "n2", "hundred", "n30", "n4"]
        );
        assert_eq!(number(2000, Lang::En), ["n2", "thousand"]);
        assert_eq!(number(12_345_678, Lang::En).len(), 8);
    }

    #[test]
    fn numbers_in_russian() {
        assert_eq!(
            number(1234, Lang::Ru),
            ["n1f", "thousand-1", "n200", "n30", "n4"]
        );
        assert_eq!(number(2001, Lang::Ru), ["n2f", "thousand-2", "n1"]);
        assert_eq!(number(5000, Lang::Ru), ["n5", "thousand-5"]);
        assert_eq!(number(11_000, Lang::Ru), ["n11", "thousand-5"]);
        assert_eq!(number(21_000, Lang::Ru), ["n20", "n1f", "thousand-1"]);
        assert_eq!(
            estimated_wait(2, Lang::Ru),
            ["wait-about", "n2f", "minute-2"]
        );
        assert_eq!(
            estimated_wait(5, Lang::Ru),
            ["wait-about", "n5", "minute-5"]
        );
        assert_eq!(
            estimated_wait(12, Lang::Ru),
            ["wait-about", "n12", "minute-5"]
        );
    }

    #[test]
    fn every_phrase_has_its_prompts_shipped() {
        let p = Prompts::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds"));
        for lang in [Lang::En, Lang::Ru] {
            let mut names = abandoned(Some("+7 (495) 123-45-67"), lang);
            names.extend(estimated_wait(3, lang));
            for n in [
                0,
                7,
                19,
                20,
                99,
                100,
                999,
                1001,
                21_345,
                999_999,
                123_456_789,
            ] {
                names.extend(number(n, lang));
            }
            for s in [
                OrderStatus::Accepted,
                OrderStatus::Shipped,
                OrderStatus::AtPickupPoint,
                OrderStatus::Collected,
                OrderStatus::Unknown,
            ] {
                names.extend(order_status(Some(1234), s, lang));
            }
            names.extend(["hold".to_string(), "promo".into(), "goodbye".into()]);
            names.extend(queue_position(3, 150_000, lang));
            for m in 1..=12 {
                names.extend(pickup_reminder(Some(12), Some((21, m)), lang));
            }
            names.extend(
                ["press-1-callback", "callback-promised", "press-0", "closed"].map(String::from),
            );
            let audio = p.sequence(lang, &names).unwrap();
            assert!(audio.iter().all(|a| !a.samples.is_empty()));
        }
        assert!(p.get(Lang::En, "music/hold").unwrap().duration_ms() >= 10_000);
    }
}

//! `sip-profiles/inbound.toml`: the inbound numbers (DIDs) and where they go (a queue or the
//! order-status bot), the queues, and the bot.
//!
//! ```toml
//! [[queue]]
//! name = "shop"                     # operators with the skill "shop" serve it
//! distribution = "longest_idle"     # or round_robin, fewest_calls
//! ring_timeout = "15s"              # an operator's phone rings this long, then the next one
//! max_wait = "5m"                   # then the caller is offered a callback (press 1)
//! announce_every = "30s"            # position and estimated wait, then hold music
//! promo = true                      # the promo prompt between announcements
//! service_level = "20s"             # answered within this counts for the service level
//! wrap_up = "5s"
//! handle_time = "2m"                # a first guess of a call's length, learned from calls
//! hold_back_outbound_at = 1         # callers waiting from which paced outbound dialling holds back
//! callback_campaign = "callbacks"   # missed calls become callback leads here
//! hours = "09:00-21:00"             # working hours (outside: a missed call at once)
//! time_zone = "Europe/Moscow"
//!
//! [[number]]
//! number = "74951234567"            # the number called (Request-URI user); "*" any
//! trunk = "customer"                # only calls from this trunk (default: any trunk)
//! queue = "shop"                    # or: bot = "order_status"
//!
//! [bot]
//! queue = "shop"                    # where 0 (or an unknown number) goes
//! status_url = "http://shop.example/api/order-status?phone={phone}"   # optional
//!
//! [missed_burst]                    # missed calls too fast to be people make no callbacks
//! calls = 5                         # from one number range (less its last 3 digits) within
//! window = "1m"                     # this time; or `total = 60` from all numbers together
//! calm = "10m"                      # callbacks resume this long after the burst's last call
//!
//! [email]                           # optional: missed calls by e-mail too
//! relay = "smtp.shop.example:587"
//! security = "starttls"             # or none, tls
//! user = "predial"
//! password = "..."
//! from = "predial@shop.example"
//! to = ["callcenter@shop.example"]
//! ```

use std::path::Path;
use std::time::Duration;

use predial_core::acd::{Distribution, QueuePolicy};
use predial_core::time::span;
use serde::Deserialize;

use crate::config::{ConfigError, ConfigErrors, ConfigFile};

pub const FILE: &str = crate::config::INBOUND_FILE;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueFile {
    name: String,
    #[serde(default)]
    distribution: Distribution,
    #[serde(with = "span", default = "d15")]
    ring_timeout: Duration,
    #[serde(with = "span", default = "d300")]
    max_wait: Duration,
    #[serde(with = "span", default = "d30")]
    announce_every: Duration,
    #[serde(default = "yes")]
    promo: bool,
    #[serde(with = "span", default = "d20")]
    service_level: Duration,
    #[serde(with = "span", default = "d5")]
    wrap_up: Duration,
    #[serde(with = "span", default = "d120")]
    handle_time: Duration,
    #[serde(default = "one")]
    hold_back_outbound_at: u32,
    #[serde(default)]
    callback_campaign: Option<String>,
    #[serde(default)]
    hours: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

fn d5() -> Duration {
    Duration::from_secs(5)
}
fn d15() -> Duration {
    Duration::from_secs(15)
}
fn d20() -> Duration {
    Duration::from_secs(20)
}
fn d30() -> Duration {
    Duration::from_secs(30)
}
fn d120() -> Duration {
    Duration::from_secs(120)
}
fn d300() -> Duration {
    Duration::from_secs(300)
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberFile {
    number: String,
    #[serde(default)]
    trunk: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    bot: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BotFile {
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    status_url: Option<String>,
    #[serde(with = "span", default = "d2")]
    timeout: Duration,
}

fn d2() -> Duration {
    Duration::from_secs(2)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InboundFile {
    #[serde(default)]
    queue: Vec<QueueFile>,
    #[serde(default)]
    number: Vec<NumberFile>,
    #[serde(default)]
    bot: Option<BotFile>,
    #[serde(default)]
    email: Option<super::email::EmailConfig>,
    #[serde(default)]
    missed_burst: super::burst::BurstSettings,
}

/// Working hours, in a time zone: minutes since midnight, open..close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hours {
    pub open_min: u32,
    pub close_min: u32,
    pub tz: chrono_tz::Tz,
}

impl Hours {
    pub fn parse(text: &str, tz: chrono_tz::Tz) -> Option<Hours> {
        let (a, b) = text.split_once('-')?;
        let min = |t: &str| -> Option<u32> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
        };
        let (open_min, close_min) = (min(a)?, min(b)?);
        (open_min < close_min).then_some(Hours {
            open_min,
            close_min,
            tz,
        })
    }

    /// Whether `at` falls within the hours (in their zone).
    pub fn open_at(&self, at: chrono::DateTime<chrono::Utc>) -> bool {
        use chrono::Timelike;
        let local = at.with_timezone(&self.tz);
        let m = local.hour() * 60 + local.minute();
        (self.open_min..self.close_min).contains(&m)
    }
}

/// A queue as configured.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub name: String,
    pub policy: QueuePolicy,
    pub ring_timeout: Duration,
    pub promo: bool,
    pub callback_campaign: Option<String>,
    pub hours: Option<Hours>,
    /// The zone of `hours`, and of the dates and times told of missed calls.
    pub time_zone: chrono_tz::Tz,
}

/// Where an inbound number goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Queue(String),
    /// The order-status bot.
    Bot,
}

#[derive(Debug, Clone)]
pub struct NumberRoute {
    /// The number called, digits only ("*": any).
    pub number: String,
    pub trunk: Option<String>,
    pub target: Target,
}

#[derive(Debug, Clone, Default)]
pub struct BotConfig {
    /// Where 0 (or a number with no open order) goes.
    pub queue: Option<String>,
    /// The integrator's status endpoint; `{phone}` is replaced by the caller's E.164 number
    /// (without +). None: the status is read from the store.
    pub status_url: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct InboundConfig {
    pub queues: Vec<QueueConfig>,
    pub numbers: Vec<NumberRoute>,
    pub bot: BotConfig,
    /// Missed calls by e-mail too, through this relay.
    pub email: Option<super::email::EmailConfig>,
    /// When missed calls come too fast to be people, they stop making callbacks.
    pub missed_burst: super::burst::BurstSettings,
}

/// Digits only: `+7 (495) 123-45-67` → `74951234567`.
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

impl InboundConfig {
    /// Where a call to `number` from `trunk` goes: the first route that matches.
    pub fn route(&self, number: &str, trunk: &str) -> Option<&NumberRoute> {
        let called = digits(number);
        self.numbers.iter().find(|r| {
            (r.number == "*" || r.number == called) && r.trunk.as_deref().is_none_or(|t| t == trunk)
        })
    }

    pub fn queue(&self, name: &str) -> Option<(usize, &QueueConfig)> {
        self.queues.iter().enumerate().find(|(_, q)| q.name == name)
    }
}

/// The line of the `n`-th `[[table]]` header.
fn nth_header(text: &str, table: &str, n: usize) -> usize {
    let head = format!("[[{table}]]");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim().replace(' ', "") == head)
        .nth(n)
        .map_or(1, |(i, _)| i + 1)
}

/// Reads `DIR/inbound.toml` (none: no inbound numbers; trunks' calls are refused).
pub fn load(dir: &Path) -> Result<InboundConfig, ConfigErrors> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Ok(InboundConfig::default());
    }
    let file = ConfigFile::read(&path).map_err(|e| ConfigErrors(vec![e]))?;
    let parsed: InboundFile = file.parse().map_err(|e| ConfigErrors(vec![e]))?;
    let mut errors = Vec::new();
    let err = |table: &str, i: usize, field: &str, message: String| ConfigError {
        file: path.clone(),
        line: nth_header(&file.text, table, i),
        field: format!("{table}[{i}].{field}"),
        message,
    };
    let mut out = InboundConfig::default();
    for (i, q) in parsed.queue.into_iter().enumerate() {
        if q.name.is_empty() || out.queue(&q.name).is_some() {
            errors.push(err(
                "queue",
                i,
                "name",
                format!("`{}`: give each queue its own name", q.name),
            ));
        }
        let policy = QueuePolicy {
            distribution: q.distribution,
            max_wait: q.max_wait,
            announce_every: q.announce_every,
            service_level: q.service_level,
            wrap_up: q.wrap_up,
            handle_time: q.handle_time,
            hold_back_outbound_at: q.hold_back_outbound_at,
        };
        if let Err(e) = policy.check() {
            let (field, message) = e.split_once(": ").unwrap_or(("", &e));
            errors.push(err("queue", i, field, message.to_string()));
        }
        if !(Duration::from_secs(3)..=Duration::from_secs(120)).contains(&q.ring_timeout) {
            errors.push(err(
                "queue",
                i,
                "ring_timeout",
                "3 seconds to 2 minutes".into(),
            ));
        }
        let tz = match q.time_zone.as_deref() {
            None => chrono_tz::Europe::Moscow,
            Some(name) => match name.parse::<chrono_tz::Tz>() {
                Ok(tz) => tz,
                Err(_) => {
                    errors.push(err(
                        "queue",
                        i,
                        "time_zone",
                        format!("`{name}` is not an IANA time zone (write it like Europe/Moscow)"),
                    ));
                    chrono_tz::Europe::Moscow
                }
            },
        };
        let hours = match q.hours.as_deref() {
            None => None,
            Some(text) => {
                let h = Hours::parse(text, tz);
                if h.is_none() {
                    errors.push(err(
                        "queue",
                        i,
                        "hours",
                        format!("`{text}`: write the opening and closing times like 09:00-21:00"),
                    ));
                }
                h
            }
        };
        out.queues.push(QueueConfig {
            name: q.name,
            policy,
            ring_timeout: q.ring_timeout,
            promo: q.promo,
            callback_campaign: q.callback_campaign,
            hours,
            time_zone: tz,
        });
    }
    for (i, n) in parsed.number.into_iter().enumerate() {
        let number = if n.number.trim() == "*" {
            "*".to_string()
        } else {
            digits(&n.number)
        };
        if number.is_empty() {
            errors.push(err(
                "number",
                i,
                "number",
                "the number called, digits (or \"*\" for any)".into(),
            ));
        }
        let target = match (n.queue, n.bot) {
            (Some(q), None) => {
                if out.queue(&q).is_none() {
                    errors.push(err(
                        "number",
                        i,
                        "queue",
                        format!("`{q}`: no [[queue]] of that name in this file"),
                    ));
                }
                Target::Queue(q)
            }
            (None, Some(b)) if b == "order_status" => Target::Bot,
            (None, Some(b)) => {
                errors.push(err(
                    "number",
                    i,
                    "bot",
                    format!("`{b}`: the bot is \"order_status\""),
                ));
                Target::Bot
            }
            _ => {
                errors.push(err(
                    "number",
                    i,
                    "queue",
                    "give either queue = \"NAME\" or bot = \"order_status\"".into(),
                ));
                continue;
            }
        };
        out.numbers.push(NumberRoute {
            number,
            trunk: n.trunk,
            target,
        });
    }
    let bot = parsed.bot.unwrap_or_default();
    if let Some(q) = &bot.queue
        && out.queue(q).is_none()
    {
        errors.push(ConfigError {
            file: path.clone(),
            line: crate::config::find_line(&file.text, "bot.queue").unwrap_or(1),
            field: "bot.queue".into(),
            message: format!("`{q}`: no [[queue]] of that name in this file"),
        });
    }
    if let Some(url) = &bot.status_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        errors.push(ConfigError {
            file: path.clone(),
            line: crate::config::find_line(&file.text, "bot.status_url").unwrap_or(1),
            field: "bot.status_url".into(),
            message: "an http:// or https:// address ({phone} is replaced by the caller's number)"
                .into(),
        });
    }
    if let Some(email) = &parsed.email {
        for (field, message) in email.check() {
            errors.push(ConfigError {
                file: path.clone(),
                line: crate::config::find_line(&file.text, &format!("email.{field}"))
                    .or_else(|| crate::config::find_line(&file.text, "email"))
                    .unwrap_or(1),
                field: format!("email.{field}"),
                message,
            });
        }
    }
    for (field, message) in parsed.missed_burst.problems() {
        errors.push(ConfigError {
            file: path.clone(),
            line: crate::config::find_line(&file.text, &format!("missed_burst.{field}"))
                .or_else(|| crate::config::find_line(&file.text, "missed_burst"))
                .unwrap_or(1),
            field: format!("missed_burst.{field}"),
            message,
        });
    }
    out.missed_burst = parsed.missed_burst;
    out.email = parsed.email;
    out.bot = BotConfig {
        queue: bot.queue,
        status_url: bot.status_url,
        timeout: bot.timeout,
    };
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempdir::Dir, Result<InboundConfig, ConfigErrors>) {
        let dir = tempdir::Dir::new();
        std::fs::write(dir.0.join(FILE), text).unwrap();
        let r = load(&dir.0);
        (dir, r)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "predial-inbound-{}-{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_nanos()
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn numbers_route_to_queues_and_the_bot() {
        let (_d, r) = write(
            "[[queue]]\nname = \"shop\"\nhours = \"09:00-21:00\"\n\n[[number]]\nnumber = \"+7 495 123-45-67\"\nqueue = \"shop\"\n\n[[number]]\nnumber = \"*\"\ntrunk = \"own\"\nbot = \"order_status\"\n",
        );
        let c = r.unwrap();
        assert_eq!(
            c.route("74951234567", "customer").unwrap().target,
            Target::Queue("shop".into())
        );
        assert_eq!(c.route("100", "own").unwrap().target, Target::Bot);
        assert!(c.route("100", "customer").is_none());
        let h = c.queues[0].hours.unwrap();
        use chrono::TimeZone;
        // 06:30 UTC is 09:30 in Moscow.
        assert!(h.open_at(chrono::Utc.with_ymd_and_hms(2026, 12, 1, 6, 30, 0).unwrap()));
        assert!(
            !h.open_at(
                chrono::Utc
                    .with_ymd_and_hms(2026, 12, 1, 18, 30, 0)
                    .unwrap()
            )
        );
    }

    #[test]
    fn mistakes_name_the_line_and_the_field() {
        let (_d, r) = write(
            "[[queue]]\nname = \"shop\"\n\n[[queue]]\nname = \"b\"\nhours = \"9 to 5\"\nmax_wait = \"0s\"\n\n[[number]]\nnumber = \"1\"\nqueue = \"nope\"\n\n[email]\nrelay = \"smtp\"\nfrom = \"p@shop.example\"\nto = [\"nobody\"]\n",
        );
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("inbound.toml:14: email.relay: `smtp`: HOST:PORT"),
            "{e}"
        );
        assert!(e.contains("inbound.toml:16: email.to: `nobody`"), "{e}");
        assert!(e.contains("inbound.toml:4: queue[1].hours"), "{e}");
        assert!(e.contains("inbound.toml:4: queue[1].max_wait"), "{e}");
        assert!(e.contains("inbound.toml:9: number[0].queue: `nope`"), "{e}");
    }
}

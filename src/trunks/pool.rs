//! The trunks in use: which one a call takes, their limits and their health.
//!
//! - Order: the customer's lines first, ours as backup, then by `order`.
//! - Limits: channels (calls at once) and calls per second (a token bucket) per trunk.
//! - Health: a trunk is set aside (failing) after `failing_after` trunk failures in a row (503
//!   before ringing, no response, refused credentials), or when its registration is lost or its
//!   OPTIONS go unanswered. It is tried again after a hold-off that doubles (30 s to 5 min).
//!   While every trunk is failing, calls still try the one whose hold-off ends first: a dialer
//!   with one trunk must keep trying it.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::profile::TrunkProfile;

const HOLD_OFF_MIN: Duration = Duration::from_secs(30);
const HOLD_OFF_MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrunkState {
    /// Carrying calls.
    Up,
    /// Waiting for its first registration.
    Registering,
    /// Set aside after failures, registration loss or unanswered OPTIONS.
    Failing,
    /// Taken out of use by its profile (`enabled = false`).
    Disabled,
}

/// Calls per second, as a token bucket (bursts up to one second's worth).
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Bucket {
        Bucket {
            rate,
            tokens: rate.max(1.0),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(self.rate.max(1.0));
        self.last = now;
    }

    /// Takes a token, or says when one will be there.
    fn take(&mut self, now: Instant) -> Result<(), Instant> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Trunk {
    pub profile: TrunkProfile,
    pub state: TrunkState,
    pub in_use: u32,
    bucket: Bucket,
    failures_in_a_row: u32,
    hold_off: Duration,
    until: Instant,
    pub calls: u64,
    /// Why it is failing, in words for the admin (cleared when it works again).
    pub problem: Option<String>,
}

/// Which trunk a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Trunk(usize),
    /// Every usable trunk is at its calls-per-second limit: try again then.
    Wait(Instant),
    /// Every trunk is full (or there is none): no channel free.
    Full,
}

pub struct TrunkPool {
    pub trunks: Vec<Trunk>,
}

impl TrunkPool {
    pub fn new(mut profiles: Vec<TrunkProfile>, now: Instant) -> TrunkPool {
        profiles.sort_by(|a, b| (a.owner, a.order, &a.name).cmp(&(b.owner, b.order, &b.name)));
        let trunks = profiles
            .into_iter()
            .map(|p| Trunk {
                state: if !p.enabled {
                    TrunkState::Disabled
                } else if p.registration.is_some() {
                    TrunkState::Registering
                } else {
                    TrunkState::Up
                },
                in_use: 0,
                bucket: Bucket::new(p.cps, now),
                failures_in_a_row: 0,
                hold_off: HOLD_OFF_MIN,
                until: now,
                calls: 0,
                problem: None,
                profile: p,
            })
            .collect();
        TrunkPool { trunks }
    }

    fn usable(t: &Trunk, now: Instant) -> bool {
        t.state == TrunkState::Up || (t.state == TrunkState::Failing && now >= t.until)
    }

    /// The trunk for the next call, skipping `tried` (trunks this call already failed on).
    pub fn pick(&mut self, now: Instant, tried: &[usize]) -> Pick {
        let mut wait: Option<Instant> = None;
        let candidates: Vec<usize> = (0..self.trunks.len())
            .filter(|i| !tried.contains(i))
            .filter(|&i| self.trunks[i].in_use < self.trunks[i].profile.channels)
            .collect();
        // Healthy trunks first, in order; then, when none is healthy, the failing trunk whose
        // hold-off ends first (one trunk alone must keep being tried).
        let mut order: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| Self::usable(&self.trunks[i], now))
            .collect();
        if order.is_empty() {
            let mut failing: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&i| self.trunks[i].state == TrunkState::Failing)
                .collect();
            failing.sort_by_key(|&i| self.trunks[i].until);
            order = failing.into_iter().take(1).collect();
        }
        for i in order {
            match self.trunks[i].bucket.take(now) {
                Ok(()) => {
                    let t = &mut self.trunks[i];
                    t.in_use += 1;
                    t.calls += 1;
                    return Pick::Trunk(i);
                }
                Err(at) => wait = Some(wait.map_or(at, |w| w.min(at))),
            }
        }
        wait.map_or(Pick::Full, Pick::Wait)
    }

    /// A call on trunk `i` ended.
    pub fn release(&mut self, i: usize) {
        if let Some(t) = self.trunks.get_mut(i) {
            t.in_use = t.in_use.saturating_sub(1);
        }
    }

    /// The trunk carried a call to the callee (whatever the callee said).
    pub fn worked(&mut self, i: usize) {
        let t = &mut self.trunks[i];
        if t.state == TrunkState::Disabled {
            return;
        }
        t.failures_in_a_row = 0;
        if t.state == TrunkState::Failing {
            t.state = TrunkState::Up;
            t.hold_off = HOLD_OFF_MIN;
            t.problem = None;
        }
    }

    /// The trunk failed a call (`why`, for the admin); after `failing_after` in a row it is set
    /// aside. Returns whether this set it aside.
    pub fn failed(&mut self, i: usize, now: Instant, why: &str) -> bool {
        let t = &mut self.trunks[i];
        if t.state == TrunkState::Disabled {
            return false;
        }
        t.failures_in_a_row += 1;
        t.problem = Some(why.to_string());
        let was = t.state;
        if t.failures_in_a_row >= t.profile.failing_after || t.state == TrunkState::Failing {
            Self::set_aside(t, now);
        }
        was != TrunkState::Failing && t.state == TrunkState::Failing
    }

    fn set_aside(t: &mut Trunk, now: Instant) {
        if t.state == TrunkState::Failing {
            t.hold_off = (t.hold_off * 2).min(HOLD_OFF_MAX);
        }
        t.state = TrunkState::Failing;
        t.until = now + t.hold_off;
    }

    /// Its registration (or OPTIONS) succeeded: up again.
    pub fn reachable(&mut self, i: usize) {
        let t = &mut self.trunks[i];
        if t.state == TrunkState::Disabled {
            return;
        }
        t.state = TrunkState::Up;
        t.failures_in_a_row = 0;
        t.hold_off = HOLD_OFF_MIN;
        t.problem = None;
    }

    /// Its registration (or OPTIONS, or a TLS handshake) failed, for the reason given: set
    /// aside, unless it is already and its hold-off still runs.
    pub fn unreachable(&mut self, i: usize, why: String, now: Instant) {
        let t = &mut self.trunks[i];
        if t.state == TrunkState::Disabled {
            return;
        }
        t.problem = Some(why);
        if t.state != TrunkState::Failing || now >= t.until {
            Self::set_aside(t, now);
        }
    }

    /// Channels free on the trunks calls can take now: what the dialing core may use.
    pub fn free_channels(&self, now: Instant) -> u32 {
        let usable: Vec<&Trunk> = self
            .trunks
            .iter()
            .filter(|t| Self::usable(t, now))
            .collect();
        let list = if usable.is_empty() {
            // One failing trunk is still tried (see `pick`).
            self.trunks
                .iter()
                .filter(|t| t.state == TrunkState::Failing)
                .min_by_key(|t| t.until)
                .into_iter()
                .collect()
        } else {
            usable
        };
        list.iter()
            .map(|t| t.profile.channels.saturating_sub(t.in_use))
            .sum()
    }

    /// Calls in progress, all trunks.
    pub fn in_use(&self) -> u32 {
        self.trunks.iter().map(|t| t.in_use).sum()
    }
}

/// A trunk profile for tests: `channels` lines at `cps` calls a second, on 127.0.0.1:5060.
#[cfg(test)]
pub(crate) fn test_profile(name: &str, owner: &str, channels: u32, cps: f64) -> TrunkProfile {
    toml::from_str(&format!(
        "name = \"{name}\"\nowner = \"{owner}\"\naddress = \"127.0.0.1:5060\"\nchannels = {channels}\ncps = {cps}\ncaller_id = \"+74951234567\"\n"
    ))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::test_profile as profile;
    use super::*;

    #[test]
    fn the_customer_s_lines_go_first_then_ours_when_full() {
        let now = Instant::now();
        let mut pool = TrunkPool::new(
            vec![
                profile("ours", "own", 5, 100.0),
                profile("theirs", "customer", 2, 100.0),
            ],
            now,
        );
        assert_eq!(pool.trunks[0].profile.name, "theirs");
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
        assert_eq!(
            pool.pick(now, &[]),
            Pick::Trunk(1),
            "customer line full: ours"
        );
        assert_eq!(pool.free_channels(now), 4);
        pool.release(0);
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
    }

    #[test]
    fn calls_per_second_are_paced() {
        let now = Instant::now();
        let mut pool = TrunkPool::new(vec![profile("t", "own", 100, 2.0)], now);
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
        let Pick::Wait(at) = pool.pick(now, &[]) else {
            panic!("should wait")
        };
        assert!(at > now && at <= now + Duration::from_millis(500));
        assert_eq!(pool.pick(at, &[]), Pick::Trunk(0));
    }

    #[test]
    fn failures_set_a_trunk_aside_and_calls_move_on() {
        let now = Instant::now();
        let mut pool = TrunkPool::new(
            vec![
                profile("a", "customer", 10, 100.0),
                profile("b", "own", 10, 100.0),
            ],
            now,
        );
        for _ in 0..3 {
            assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
            pool.release(0);
            pool.failed(0, now, "503");
        }
        assert_eq!(pool.trunks[0].state, TrunkState::Failing);
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(1));
        // A call that failed on b is not sent to b again: a is failing but tried as last resort.
        assert_eq!(pool.pick(now, &[1]), Pick::Trunk(0));
        // After the hold-off a is tried again, and one success brings it back.
        let later = now + Duration::from_secs(31);
        assert_eq!(pool.pick(later, &[]), Pick::Trunk(0));
        pool.worked(0);
        assert_eq!(pool.trunks[0].state, TrunkState::Up);
    }

    #[test]
    fn a_disabled_trunk_is_never_used() {
        let now = Instant::now();
        let mut off = profile("off", "customer", 10, 100.0);
        off.enabled = false;
        let mut pool = TrunkPool::new(vec![off, profile("on", "own", 1, 100.0)], now);
        assert_eq!(pool.trunks[0].state, TrunkState::Disabled);
        assert_eq!(pool.free_channels(now), 1);
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(1));
        assert_eq!(pool.pick(now, &[]), Pick::Full);
        pool.reachable(0);
        assert_eq!(pool.trunks[0].state, TrunkState::Disabled);
    }

    #[test]
    fn a_lone_failing_trunk_is_still_tried() {
        let now = Instant::now();
        let mut pool = TrunkPool::new(vec![profile("a", "customer", 10, 100.0)], now);
        pool.unreachable(0, "no answer".into(), now);
        assert_eq!(pool.trunks[0].state, TrunkState::Failing);
        assert_eq!(pool.free_channels(now), 10);
        assert_eq!(pool.pick(now, &[]), Pick::Trunk(0));
    }
}

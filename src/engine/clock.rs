//! The engine's one clock. Wall time is read once, when the clock is made; from then on it is
//! carried forward by the monotonic clock, so a step of the system clock (NTP, an operator's
//! `date -s`) moves no timer, no quiet-hours decision and no stored time by surprise. Each turn
//! of the engine's loop reads it once (`Engine::now`): everything decided in a turn is decided
//! at the same instant.

use std::time::{Duration, Instant};

use chrono::Utc;
use predial_core::Timestamp;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: Timestamp,
    mono: Instant,
}

impl Clock {
    /// A clock anchored to the system's wall time now.
    pub fn system() -> Clock {
        Clock::anchored(Timestamp::from_utc(Utc::now()), Instant::now())
    }

    /// A clock whose `mono` instant is wall time `wall` (tests give their own).
    pub fn anchored(wall: Timestamp, mono: Instant) -> Clock {
        Clock { wall, mono }
    }

    /// The wall time of a monotonic instant.
    pub fn at(&self, instant: Instant) -> Timestamp {
        match instant.checked_duration_since(self.mono) {
            Some(ahead) => self.wall.plus(ahead),
            None => self
                .wall
                .plus_millis(-(self.mono.duration_since(instant).as_millis() as i64)),
        }
    }

    /// The monotonic instant of a wall time.
    pub fn instant(&self, at: Timestamp) -> Instant {
        let ms = at.millis() - self.wall.millis();
        if ms >= 0 {
            self.mono + Duration::from_millis(ms as u64)
        } else {
            self.mono
                .checked_sub(Duration::from_millis(ms.unsigned_abs()))
                .unwrap_or(self.mono)
        }
    }

    /// Wall time now, as this clock carries it.
    pub fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }
}

/// The process's clock, anchored at its first use.
pub fn process() -> &'static Clock {
    static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(Clock::system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_follows_the_monotonic_clock_from_its_anchor() {
        let t0 = Instant::now();
        let wall = Timestamp::from_millis(1_800_000_000_000);
        let c = Clock::anchored(wall, t0);
        assert_eq!(c.at(t0), wall);
        let later = t0 + Duration::from_millis(1_500);
        assert_eq!(c.at(later).millis(), wall.millis() + 1_500);
        assert_eq!(c.instant(c.at(later)), later);
        assert_eq!(c.instant(wall), t0);
    }

    #[test]
    fn the_process_clock_is_anchored_once() {
        let a = process();
        let b = process();
        assert_eq!(a.wall, b.wall);
        assert!(b.now() >= a.wall);
    }
}

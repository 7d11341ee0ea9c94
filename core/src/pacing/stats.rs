//! What the predictive pacer learns as it dials: how often a call reaches a live person, how long
//! that takes, and how long conversations last. Counts decay slowly (half-life of a few thousand
//! calls), so the figures follow the day; priors keep the first minutes sane.

use std::time::Duration;

/// Seconds covered by the answer-delay histogram (dial to live answer, one-second bins).
pub const DELAY_BINS: usize = 64;

/// Events after which an old observation weighs half.
const HALF_LIFE: f64 = 3000.0;

#[derive(Debug, Clone)]
pub struct LiveStats {
    /// Calls whose fate is known (answered by a person, or ended without).
    resolved: f64,
    live: f64,
    /// Live answers by delay from dial, in seconds.
    delay: [f64; DELAY_BINS],
    /// delay_cum[s] = share of live answers within s seconds (kept up to date).
    delay_cum: [f64; DELAY_BINS + 1],
    /// Calls that ended without a live answer (busy, unreachable, a machine, ringing out), by
    /// how long after the dial they ended; and its cumulative share.
    ended: [f64; DELAY_BINS],
    ended_cum: [f64; DELAY_BINS + 1],
    /// Conversations: a lognormal fit (weighted mean and variance of ln seconds).
    talk_w: f64,
    talk_mean: f64,
    talk_m2: f64,
    /// Calls seen since the campaign started (not decayed), for the warm-up.
    pub calls_seen: u64,
    /// The weight of a new observation. Instead of shrinking every count on every call (the
    /// decay), new observations weigh more and more; counts are rescaled when it grows large.
    scale: f64,
    /// The cumulative shares need recomputing (done before planning, not on every call).
    dirty: bool,
}

/// The standard normal distribution function (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

impl Default for LiveStats {
    fn default() -> Self {
        // Priors: 30% live answers, answered around 10 s after the dial, 90 s conversations.
        let mut delay = [0.0; DELAY_BINS];
        let (mu, sigma) = (10f64.ln(), 0.45);
        for (s, bin) in delay.iter_mut().enumerate().skip(1) {
            let cdf = |x: f64| normal_cdf((x.ln() - mu) / sigma);
            *bin = 5.0 * (cdf(s as f64 + 1.0) - cdf(s as f64));
        }
        // Prior for calls ending unanswered: some fail at once (busy, unreachable), the rest
        // ring out at 25 s.
        let mut ended = [0.0; DELAY_BINS];
        ended[2] = 5.0;
        ended[3] = 3.0;
        ended[25] = 6.0;
        let mut stats = LiveStats {
            resolved: 20.0,
            live: 6.0,
            delay,
            delay_cum: [0.0; DELAY_BINS + 1],
            ended,
            ended_cum: [0.0; DELAY_BINS + 1],
            talk_w: 5.0,
            talk_mean: 90f64.ln(),
            talk_m2: 5.0 * 0.6 * 0.6,
            calls_seen: 0,
            scale: 1.0,
            dirty: false,
        };
        stats.cumulate();
        stats
    }
}

impl LiveStats {
    fn cumulate(&mut self) {
        for (bins, cum) in [
            (&self.delay, &mut self.delay_cum),
            (&self.ended, &mut self.ended_cum),
        ] {
            let total: f64 = bins.iter().sum::<f64>().max(1e-9);
            let mut sum = 0.0;
            cum[0] = 0.0;
            for (s, b) in bins.iter().enumerate() {
                sum += b;
                cum[s + 1] = sum / total;
            }
        }
    }

    fn cdf(cum: &[f64; DELAY_BINS + 1], t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let whole = t as usize;
        if whole >= DELAY_BINS {
            return 1.0;
        }
        let (lo, hi) = (cum[whole], cum[whole + 1]);
        lo + (hi - lo) * (t - whole as f64)
    }

    /// Makes the next observation weigh a little more than the last (the slow decay), and
    /// rescales every count when the weights grow large.
    fn next_weight(&mut self) -> f64 {
        self.scale /= 1.0 - std::f64::consts::LN_2 / HALF_LIFE;
        if self.scale > 1e100 {
            let k = 1.0 / self.scale;
            self.resolved *= k;
            self.live *= k;
            for b in self.delay.iter_mut().chain(self.ended.iter_mut()) {
                *b *= k;
            }
            self.scale = 1.0;
        }
        self.calls_seen += 1;
        self.dirty = true;
        self.scale
    }

    /// A live person answered, `delay` after the dial.
    pub fn answered(&mut self, delay: Duration) {
        let w = self.next_weight();
        self.resolved += w;
        self.live += w;
        let bin = (delay.as_secs_f64() as usize).min(DELAY_BINS - 1);
        self.delay[bin] += w;
    }

    /// A call ended without reaching a live person, `after` the dial.
    pub fn unanswered(&mut self, after: Duration) {
        let w = self.next_weight();
        self.resolved += w;
        let bin = (after.as_secs_f64() as usize).min(DELAY_BINS - 1);
        self.ended[bin] += w;
    }

    /// Brings the derived figures up to date (before planning).
    pub fn refresh(&mut self) {
        if self.dirty {
            self.cumulate();
            self.dirty = false;
        }
    }

    /// For a call still ringing `rung` seconds after the dial: the probability that a live
    /// person answers within the next `more` seconds. Calls that end unanswered leave the
    /// ringing ones (busy at 2 s, unreachable at 3 s...), so the survivors are likelier to be
    /// answered than a fresh dial.
    pub fn answer_within(&self, rung: f64, more: f64) -> f64 {
        let p = self.live_rate();
        let d0 = Self::cdf(&self.delay_cum, rung);
        let alive = p * (1.0 - d0) + (1.0 - p) * (1.0 - Self::cdf(&self.ended_cum, rung));
        if alive <= 1e-9 {
            return 0.0;
        }
        (p * (Self::cdf(&self.delay_cum, rung + more) - d0) / alive).clamp(0.0, 1.0)
    }

    /// A conversation lasted `talk`.
    pub fn talked(&mut self, talk: Duration) {
        let x = talk.as_secs_f64().max(1.0).ln();
        let keep = 1.0 - std::f64::consts::LN_2 / (HALF_LIFE / 4.0);
        self.talk_w *= keep;
        self.talk_m2 *= keep;
        self.talk_w += 1.0;
        let d = x - self.talk_mean;
        self.talk_mean += d / self.talk_w;
        self.talk_m2 += d * (x - self.talk_mean);
    }

    /// Share of dials a live person answers.
    pub fn live_rate(&self) -> f64 {
        (self.live / self.resolved).clamp(0.001, 1.0)
    }

    /// Of the live answers, the share that came within `t` seconds of the dial.
    pub fn delay_cdf(&self, t: f64) -> f64 {
        Self::cdf(&self.delay_cum, t)
    }

    /// Seconds by which nearly every live answer has come.
    pub fn delay_horizon(&self) -> f64 {
        self.delay_cum
            .iter()
            .position(|&c| c >= 0.995)
            .unwrap_or(DELAY_BINS) as f64
    }

    /// Probability that a conversation that has lasted `elapsed` seconds ends within `more`.
    pub fn talk_ends_within(&self, elapsed: f64, more: f64) -> f64 {
        if more <= 0.0 {
            return 0.0;
        }
        let sigma = (self.talk_m2 / self.talk_w).sqrt().max(0.05);
        let survival = |x: f64| 1.0 - normal_cdf((x.max(0.5).ln() - self.talk_mean) / sigma);
        let s_now = survival(elapsed);
        if s_now < 1e-9 {
            // Far past a typical call: assume it ends soon.
            return (more / 30.0).min(1.0);
        }
        ((s_now - survival(elapsed + more)) / s_now).clamp(0.0, 1.0)
    }

    /// Median conversation, seconds.
    pub fn talk_median(&self) -> f64 {
        self.talk_mean.exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_is_right() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-1.0) - 0.158_655).abs() < 1e-5);
    }

    #[test]
    fn learns_the_answer_rate_and_delays() {
        let mut s = LiveStats::default();
        for i in 0..4000 {
            if i % 4 == 0 {
                s.answered(Duration::from_secs(6));
            } else {
                s.unanswered(Duration::from_secs(25));
            }
        }
        s.refresh();
        assert!((s.live_rate() - 0.25).abs() < 0.01, "{}", s.live_rate());
        assert!(s.delay_cdf(6.0) < 0.2 && s.delay_cdf(7.0) > 0.8);
        assert!(s.delay_horizon() <= 20.0);
    }

    #[test]
    fn residual_talk_time() {
        let mut s = LiveStats::default();
        for k in 0..2000 {
            s.talked(Duration::from_secs(60 + (k % 61)));
        }
        assert!((s.talk_median() - 88.0).abs() < 8.0, "{}", s.talk_median());
        // A call just started rarely ends in 5 s; one at 120 s likely ends within a minute.
        assert!(s.talk_ends_within(0.0, 5.0) < 0.05);
        assert!(s.talk_ends_within(120.0, 60.0) > 0.5);
        assert_eq!(s.talk_ends_within(30.0, 0.0), 0.0);
    }
}

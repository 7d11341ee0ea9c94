//! Routing: which trunk carries each dial, and what a call's end means for its trunk. Pure: it
//! takes the time it is given and says what to do as commands (`poll_command`); the engine
//! sends the INVITEs. A dial waits here for a trunk's calls-per-second token
//! (`poll_timeout`); a call a trunk failed before it rang moves to the next trunk; a trunk
//! that keeps failing is set aside (`TrunkPool`).

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use predial_core::dialer::{AttemptId, Outcome};

use super::calls::PendingDial;
use crate::sip::{CallEnd, Ending, TrunkVerdict, classify};
use crate::trunks::{Pick, TrunkPool};

/// What routing asks the engine to do.
#[derive(Debug)]
pub(crate) enum RouteCommand {
    /// Send the INVITE for `dial` through trunk `trunk` (its channel is taken).
    Place { dial: PendingDial, trunk: usize },
    /// No trunk has a channel free: the attempt ends as a failure on our side.
    NotPlaced(PendingDial),
    /// Trunk `trunk` failed calls enough to be set aside: calls go to the next trunk in order.
    SetAside { trunk: usize, why: String },
    /// Trunk `failed` failed `attempt` before it rang: it goes to the next trunk.
    NextTrunk { attempt: AttemptId, failed: usize },
}

/// How a call on a trunk ended, as the engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallEnded {
    pub end: CallEnd,
    /// Answered by an answering machine (the detector said so).
    pub machine: bool,
    /// Answered and abandoned (no operator in time).
    pub abandoned: bool,
}

/// The attempt's outcome, when the call's end is the attempt's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finished {
    pub outcome: Outcome,
    /// The final SIP status, when there was one.
    pub sip_code: Option<i64>,
}

pub(crate) struct Routing {
    pub pool: TrunkPool,
    /// Dials waiting for a calls-per-second token: (when, attempt).
    waiting: BTreeMap<(Instant, u64), PendingDial>,
    commands: VecDeque<RouteCommand>,
}

impl Routing {
    pub fn new(pool: TrunkPool) -> Routing {
        Routing {
            pool,
            waiting: BTreeMap::new(),
            commands: VecDeque::new(),
        }
    }

    /// A dial to place now, or as soon as a trunk can take it.
    pub fn dial(&mut self, now: Instant, dial: PendingDial) {
        match self.pool.pick(now, &dial.tried) {
            Pick::Trunk(trunk) => self.commands.push_back(RouteCommand::Place { dial, trunk }),
            Pick::Wait(at) => {
                self.waiting.insert((at, dial.attempt.0), dial);
            }
            Pick::Full => self.commands.push_back(RouteCommand::NotPlaced(dial)),
        }
    }

    /// Time passed: dials whose token is due are placed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.waiting.first_entry() {
            let at = entry.key().0;
            if at > now {
                break;
            }
            let mut dial = entry.remove();
            // Waiting for the trunk's calls-per-second token is no lag of ours.
            dial.due = dial.due.max(at);
            self.dial(now, dial);
        }
    }

    /// When the next waiting dial's token is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.waiting.keys().next().map(|(at, _)| *at)
    }

    pub fn poll_command(&mut self) -> Option<RouteCommand> {
        self.commands.pop_front()
    }

    /// Dials waiting for a token, taken back (the engine stops).
    pub fn take_waiting(&mut self) -> Vec<PendingDial> {
        std::mem::take(&mut self.waiting).into_values().collect()
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// A call on `trunk` ended: its channel is free, the trunk's health follows what happened,
    /// and the attempt is finished, unless the trunk failed it before it rang and another trunk
    /// is left to try (then a `NextTrunk` and a `Place` or `NotPlaced` follow).
    pub fn ended(
        &mut self,
        now: Instant,
        dial: &PendingDial,
        trunk: usize,
        how: CallEnded,
    ) -> Option<Finished> {
        self.pool.release(trunk);
        let (ending, rang) = match how.end {
            CallEnd::NotAnswered { ending, rang } => (ending, rang),
            CallEnd::HungUpByUs | CallEnd::HungUpByThem => {
                self.pool.worked(trunk);
                let outcome = if how.machine {
                    Outcome::AnsweringMachine
                } else if how.abandoned {
                    Outcome::Abandoned
                } else {
                    Outcome::Contact
                };
                return Some(Finished {
                    outcome,
                    sip_code: None,
                });
            }
        };
        let sip_code = match ending {
            Ending::Status(code) => Some(i64::from(code)),
            _ => None,
        };
        let (outcome, verdict) = classify(ending, rang);
        match verdict {
            TrunkVerdict::Fine => self.pool.worked(trunk),
            TrunkVerdict::Failing => {
                let why = trouble(ending, &self.pool.trunks[trunk].profile.name);
                if self.pool.failed(trunk, now, &why) {
                    self.commands
                        .push_back(RouteCommand::SetAside { trunk, why });
                }
                // Before ringing, the callee never heard it: try the next trunk.
                let mut next = dial.clone();
                next.tried.push(trunk);
                if !rang && next.tried.len() < self.pool.trunks.len() {
                    self.commands.push_back(RouteCommand::NextTrunk {
                        attempt: next.attempt,
                        failed: trunk,
                    });
                    self.dial(now, next);
                    return None;
                }
            }
        }
        Some(Finished { outcome, sip_code })
    }
}

/// What a trunk's failure of a call means, for the admin reading the log or the trunk's state.
fn trouble(ending: Ending, trunk: &str) -> String {
    match ending {
        Ending::Status(code @ (401 | 407)) => format!(
            "the trunk refused our credentials ({code} after we answered its challenge): check user and password under [auth] in trunk `{trunk}`'s profile"
        ),
        Ending::Status(403) => format!(
            "the trunk refused our calls (403 Forbidden): check user and password under [auth] in trunk `{trunk}`'s profile, and that the trunk accepts calls from this address"
        ),
        Ending::Status(503) => {
            "the trunk is overloaded or down (503 Service Unavailable)".to_string()
        }
        Ending::Status(code) => format!("the trunk failed the call ({code})"),
        Ending::NoResponse => {
            "no response from the trunk (timeout): check its address and that it is up".to_string()
        }
        Ending::LocalFailure => {
            format!("the call could not be sent: check the address of trunk `{trunk}`")
        }
        Ending::RingTimeout => "rang out".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use predial_core::dialer::{LeadId, Phone};

    use super::*;
    use crate::trunks::TrunkState;
    use crate::trunks::pool::test_profile as profile;

    fn dial(n: u64, now: Instant) -> PendingDial {
        PendingDial {
            attempt: AttemptId(n),
            lead: LeadId(n),
            campaign: 1,
            phone: Phone::parse("+74951110000", None).unwrap(),
            tried: Vec::new(),
            due: now,
        }
    }

    fn commands(r: &mut Routing) -> Vec<RouteCommand> {
        std::iter::from_fn(|| r.poll_command()).collect()
    }

    fn placed(c: &[RouteCommand]) -> Vec<(u64, usize)> {
        c.iter()
            .filter_map(|c| match c {
                RouteCommand::Place { dial, trunk } => Some((dial.attempt.0, *trunk)),
                _ => None,
            })
            .collect()
    }

    fn ended(end: CallEnd) -> CallEnded {
        CallEnded {
            end,
            machine: false,
            abandoned: false,
        }
    }

    fn failed_before_ringing(code: u16) -> CallEnded {
        ended(CallEnd::NotAnswered {
            ending: Ending::Status(code),
            rang: false,
        })
    }

    #[test]
    fn a_trunk_that_fails_mid_campaign_is_set_aside_and_its_calls_go_to_the_next() {
        let t0 = Instant::now();
        let pool = TrunkPool::new(
            vec![
                profile("theirs", "customer", 10, 100.0),
                profile("ours", "own", 10, 100.0),
            ],
            t0,
        );
        let mut r = Routing::new(pool);
        // Calls go out through the customer's trunk and are answered.
        r.dial(t0, dial(1, t0));
        assert_eq!(placed(&commands(&mut r)), [(1, 0)]);
        let d = dial(1, t0);
        let f = r.ended(t0, &d, 0, ended(CallEnd::HungUpByThem));
        assert_eq!(f.map(|f| f.outcome), Some(Outcome::Contact));
        // Then it starts refusing calls with 503 before they ring: each moves to our trunk.
        let failing_after = r.pool.trunks[0].profile.failing_after;
        for n in 0..u64::from(failing_after) {
            let at = t0 + Duration::from_secs(n + 1);
            r.dial(at, dial(10 + n, at));
            assert_eq!(placed(&commands(&mut r)), [(10 + n, 0)]);
            let d = dial(10 + n, at);
            assert_eq!(r.ended(at, &d, 0, failed_before_ringing(503)), None);
            let c = commands(&mut r);
            assert!(
                c.iter()
                    .any(|c| matches!(c, RouteCommand::NextTrunk { failed: 0, .. })),
                "{c:?}"
            );
            assert_eq!(
                placed(&c),
                [(10 + n, 1)],
                "the same call, on the next trunk"
            );
            let moved = match c.last() {
                Some(RouteCommand::Place { dial, .. }) => dial.clone(),
                other => panic!("{other:?}"),
            };
            let f = r.ended(at, &moved, 1, ended(CallEnd::HungUpByThem));
            assert_eq!(f.map(|f| f.outcome), Some(Outcome::Contact));
            if n + 1 == u64::from(failing_after) {
                assert!(
                    c.iter()
                        .any(|c| matches!(c, RouteCommand::SetAside { trunk: 0, .. })),
                    "set aside after {failing_after} failures in a row: {c:?}"
                );
            }
        }
        assert_eq!(r.pool.trunks[0].state, TrunkState::Failing);
        // New calls go straight to our trunk while the customer's is set aside.
        let at = t0 + Duration::from_secs(20);
        r.dial(at, dial(99, at));
        assert_eq!(placed(&commands(&mut r)), [(99, 1)]);
    }

    #[test]
    fn a_call_that_rang_out_or_failed_after_ringing_is_the_callee_s_not_the_trunk_s() {
        let t0 = Instant::now();
        let pool = TrunkPool::new(
            vec![
                profile("a", "customer", 10, 100.0),
                profile("b", "own", 10, 100.0),
            ],
            t0,
        );
        let mut r = Routing::new(pool);
        r.dial(t0, dial(1, t0));
        commands(&mut r);
        let rang_out = ended(CallEnd::NotAnswered {
            ending: Ending::RingTimeout,
            rang: true,
        });
        let f = r.ended(t0, &dial(1, t0), 0, rang_out).unwrap();
        assert_eq!((f.outcome, f.sip_code), (Outcome::NoAnswer, None));
        // A failure after ringing is not moved: the callee heard the phone already.
        r.dial(t0, dial(2, t0));
        commands(&mut r);
        let late = ended(CallEnd::NotAnswered {
            ending: Ending::NoResponse,
            rang: true,
        });
        assert_eq!(
            r.ended(t0, &dial(2, t0), 0, late).map(|f| f.outcome),
            Some(Outcome::NoAnswer)
        );
        assert!(placed(&commands(&mut r)).is_empty());
        // Busy is the callee's answer: the trunk worked.
        r.dial(t0, dial(3, t0));
        commands(&mut r);
        let busy = failed_before_ringing(486);
        let f = r.ended(t0, &dial(3, t0), 0, busy).unwrap();
        assert_eq!((f.outcome, f.sip_code), (Outcome::Busy, Some(486)));
        assert_eq!(r.pool.trunks[0].state, TrunkState::Up);
        assert_eq!(r.pool.in_use(), 0, "every channel given back");
    }

    #[test]
    fn dials_wait_for_the_trunk_s_calls_per_second_and_a_full_trunk_refuses() {
        let t0 = Instant::now();
        let mut r = Routing::new(TrunkPool::new(vec![profile("t", "own", 2, 1.0)], t0));
        r.dial(t0, dial(1, t0));
        r.dial(t0, dial(2, t0));
        assert_eq!(placed(&commands(&mut r)), [(1, 0)], "one token per second");
        let due = r
            .poll_timeout()
            .expect("the second dial waits for its token");
        assert!(due > t0 && due <= t0 + Duration::from_secs(1));
        r.handle_timeout(due - Duration::from_millis(1));
        assert!(commands(&mut r).is_empty(), "not before its token");
        r.handle_timeout(due);
        let c = commands(&mut r);
        assert_eq!(placed(&c), [(2, 0)]);
        match &c[0] {
            RouteCommand::Place { dial, .. } => assert_eq!(dial.due, due, "waiting is no lag"),
            other => panic!("{other:?}"),
        }
        // Both channels taken: the next dial is not placed.
        let later = t0 + Duration::from_secs(5);
        r.dial(later, dial(3, later));
        assert!(matches!(commands(&mut r)[..], [RouteCommand::NotPlaced(_)]));
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_single_trunk_that_fails_is_still_tried_and_the_attempt_ends() {
        let t0 = Instant::now();
        let mut r = Routing::new(TrunkPool::new(vec![profile("only", "own", 5, 100.0)], t0));
        r.dial(t0, dial(1, t0));
        commands(&mut r);
        let f = r
            .ended(t0, &dial(1, t0), 0, failed_before_ringing(403))
            .unwrap();
        assert_eq!((f.outcome, f.sip_code), (Outcome::TrunkFailure, Some(403)));
        assert!(
            placed(&commands(&mut r)).is_empty(),
            "no other trunk to move to"
        );
    }
}

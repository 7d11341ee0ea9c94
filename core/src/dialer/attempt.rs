//! Call attempts in progress. Each is a state holding only its own data, replaced on each
//! transition (ringing → connected, or waiting for an operator → connected or abandoned →
//! ended), in a slab of reused slots named by index and generation, so an id from an ended call
//! never reaches a newer one.

use super::event::AttemptId;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Dialled at `dialed_at`, not answered yet; placed for `operator` (progressive or preview
    /// dialing) if any.
    Ringing {
        lead: u32,
        campaign: u16,
        operator: Option<u32>,
        dialed_at: Timestamp,
    },
    /// A live person answered at `answered_at` and waits for an operator. `counted`: the
    /// answer is in the pacer's books already (it reached an operator who did not pick up).
    Waiting {
        lead: u32,
        campaign: u16,
        answered_at: Timestamp,
        counted: bool,
    },
    /// A live person answered at `answered_at` and is given to `operator` since `since`.
    Connected {
        lead: u32,
        campaign: u16,
        operator: u32,
        since: Timestamp,
        answered_at: Timestamp,
    },
    /// Answered with no operator free in time: the abandoned-call message is playing.
    Abandoned { lead: u32, campaign: u16 },
    /// Answered in a reminder campaign: the bot's message is playing (no operator).
    Reminded { lead: u32, campaign: u16 },
}

impl Attempt {
    pub fn lead(&self) -> u32 {
        match *self {
            Attempt::Ringing { lead, .. }
            | Attempt::Waiting { lead, .. }
            | Attempt::Connected { lead, .. }
            | Attempt::Abandoned { lead, .. }
            | Attempt::Reminded { lead, .. } => lead,
        }
    }

    pub fn campaign(&self) -> u16 {
        match *self {
            Attempt::Ringing { campaign, .. }
            | Attempt::Waiting { campaign, .. }
            | Attempt::Connected { campaign, .. }
            | Attempt::Abandoned { campaign, .. }
            | Attempt::Reminded { campaign, .. } => campaign,
        }
    }
}

#[derive(Default)]
pub(crate) struct Attempts {
    slots: Vec<(u32, Option<Attempt>)>,
    free: Vec<u32>,
}

fn split(id: AttemptId) -> (usize, u32) {
    ((id.0 as u32) as usize, (id.0 >> 32) as u32)
}

impl Attempts {
    /// A new attempt, ringing.
    pub fn start(&mut self, attempt: Attempt) -> AttemptId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push((0, None));
                u32::try_from(self.slots.len() - 1).expect("fewer than 4 billion calls at once")
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.0 = slot.0.wrapping_add(1);
        slot.1 = Some(attempt);
        AttemptId(u64::from(index) | (u64::from(slot.0) << 32))
    }

    /// The state of an attempt in progress.
    pub fn get(&self, id: AttemptId) -> Option<Attempt> {
        let (i, generation) = split(id);
        match self.slots.get(i) {
            Some(&(g, state)) if g == generation => state,
            _ => None,
        }
    }

    /// Moves an attempt in progress to its next state.
    pub fn set(&mut self, id: AttemptId, next: Attempt) {
        let (i, generation) = split(id);
        if let Some(slot) = self.slots.get_mut(i)
            && slot.0 == generation
            && slot.1.is_some()
        {
            slot.1 = Some(next);
        }
    }

    /// Attempts in progress.
    pub fn live(&self) -> impl Iterator<Item = Attempt> + '_ {
        self.slots.iter().filter_map(|s| s.1)
    }

    /// Ends an attempt, giving back its last state.
    pub fn end(&mut self, id: AttemptId) -> Option<Attempt> {
        let (i, generation) = split(id);
        let slot = self.slots.get_mut(i).filter(|s| s.0 == generation)?;
        let last = slot.1.take()?;
        self.free.push(i as u32);
        Some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ringing(lead: u32) -> Attempt {
        Attempt::Ringing {
            lead,
            campaign: 0,
            operator: None,
            dialed_at: Timestamp::MIN,
        }
    }

    #[test]
    fn ids_of_ended_attempts_do_not_reach_new_ones() {
        let mut a = Attempts::default();
        let first = a.start(ringing(1));
        assert_eq!(a.end(first).map(|s| s.lead()), Some(1));
        let second = a.start(ringing(2));
        assert_ne!(first, second);
        assert_eq!(a.get(first), None);
        assert_eq!(a.end(first), None);
        a.set(
            first,
            Attempt::Abandoned {
                lead: 9,
                campaign: 9,
            },
        );
        assert_eq!(a.get(second).map(|s| s.lead()), Some(2));
        assert_eq!(a.live().count(), 1);
    }
}

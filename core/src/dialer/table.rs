//! The scheduler's lead table: a compact record per lead in one vector, slots reused, and a map
//! from the lead's id to its slot. Queues hold "entries": a slot index with the slot's
//! generation, so an entry left behind by a rescheduled or cancelled lead is recognised as
//! stale and dropped where it comes out, instead of being searched for and removed.

use rustc_hash::FxHashMap;

use super::lead::{History, LeadId, LeadState};
use super::phone::Phone;
use crate::time::Timestamp;

/// Flags of a lead.
pub(crate) const CALLBACK: u8 = 1;
/// A callback was agreed during the attempt in progress (applied when it ends).
pub(crate) const CALLBACK_FRESH: u8 = 2;
/// Its number has (or had) another lead held: its calls are counted per number.
pub(crate) const SHARED: u8 = 4;
/// Its number left a missed inbound call: its next attempt comes before every other lead's.
pub(crate) const FIRST: u8 = 8;

/// A due time, in whole seconds since 2020-01-01 UTC (rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DueSecond(u32);

const EPOCH_2020_S: i64 = 1_577_836_800;

impl DueSecond {
    pub fn of(t: Timestamp) -> DueSecond {
        DueSecond(u32::try_from((t.secs_ceil() - EPOCH_2020_S).max(0)).unwrap_or(u32::MAX))
    }

    pub fn time(self) -> Timestamp {
        Timestamp::from_secs(EPOCH_2020_S + i64::from(self.0))
    }

    /// Seconds since the Unix epoch, as the wheel counts.
    pub fn unix_secs(self) -> u64 {
        (EPOCH_2020_S + i64::from(self.0)) as u64
    }
}

/// What the scheduler keeps per lead: 48 bytes. The order's details (name, items, sum) stay
/// with the store and the API; dialing decisions do not need them.
#[derive(Debug, Clone)]
pub(crate) struct LeadSlot {
    pub id: LeadId,
    pub phone: Phone,
    /// When the next attempt is due (or the agreed callback time), in whole seconds since
    /// 2020-01-01 UTC: 4 bytes instead of 8, good until 2156.
    pub due: DueSecond,
    pub history: History,
    pub generation: u32,
    pub campaign: u16,
    /// The (campaign, callee zone) slot for quiet hours.
    pub zone: u16,
    pub attempts: u8,
    pub state: LeadState,
    pub flags: u8,
}

impl LeadSlot {
    /// The state of a lead waiting for its next attempt: new until it has been called (a
    /// pickup reminder's next round starts its attempts again, but it was called).
    pub fn waiting_state(&self) -> LeadState {
        if self.attempts == 0 && self.history.is_empty() {
            LeadState::Queued
        } else {
            LeadState::Scheduled
        }
    }
}

#[derive(Default)]
pub(crate) struct LeadTable {
    slots: Vec<LeadSlot>,
    free: Vec<u32>,
    by_id: FxHashMap<LeadId, u32>,
}

pub(crate) fn entry(index: u32, generation: u32) -> u64 {
    u64::from(index) | (u64::from(generation) << 32)
}

impl LeadTable {
    pub fn find(&self, id: LeadId) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    pub fn insert(&mut self, mut slot: LeadSlot) -> u32 {
        let id = slot.id;
        let index = match self.free.pop() {
            Some(i) => {
                slot.generation = self.slots[i as usize].generation.wrapping_add(1);
                self.slots[i as usize] = slot;
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("fewer than 4 billion leads held");
                self.slots.push(slot);
                i
            }
        };
        self.by_id.insert(id, index);
        index
    }

    /// Forgets a lead; its entries still in queues become stale.
    pub fn remove(&mut self, index: u32) {
        let s = &mut self.slots[index as usize];
        s.generation = s.generation.wrapping_add(1);
        let id = s.id;
        self.by_id.remove(&id);
        self.free.push(index);
    }

    pub fn get(&self, index: u32) -> &LeadSlot {
        &self.slots[index as usize]
    }

    pub fn get_mut(&mut self, index: u32) -> &mut LeadSlot {
        &mut self.slots[index as usize]
    }

    /// A new entry for a slot, to put in a queue. Every entry made before is stale from now on,
    /// so a lead is live in one queue at most.
    pub fn fresh_entry(&mut self, index: u32) -> u64 {
        let s = &mut self.slots[index as usize];
        s.generation = s.generation.wrapping_add(1);
        entry(index, s.generation)
    }

    /// The slot an entry points to, if the entry is not stale.
    pub fn resolve(&self, entry: u64) -> Option<u32> {
        let index = entry as u32;
        let generation = (entry >> 32) as u32;
        let s = self.slots.get(index as usize)?;
        (s.generation == generation).then_some(index)
    }

    /// Leads held (live ones, including closed leads not yet retired).
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_takes_40_bytes() {
        assert_eq!(std::mem::size_of::<LeadSlot>(), 40);
    }

    #[test]
    fn due_seconds_round_up() {
        let t = Timestamp::parse_rfc3339("2026-12-01T09:00:00.250Z").unwrap();
        assert_eq!(
            DueSecond::of(t).time(),
            Timestamp::parse_rfc3339("2026-12-01T09:00:01Z").unwrap()
        );
        assert_eq!(
            DueSecond::of(Timestamp::from_secs(0)).time().secs(),
            EPOCH_2020_S
        );
    }
}

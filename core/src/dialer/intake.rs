//! Campaigns and leads coming in: a campaign configured, a lead added (normalised, checked for
//! duplicates, given its callee's zone), cancelled, or given a callback time.

use super::dedup::DedupVerdict;
use super::event::EventError;
use super::lead::{CampaignId, History, LeadId, LeadState, NewLead};
use super::phone::Phone;
use super::policy::CampaignPolicy;
use super::priority;
use super::ready::ReadyQueues;
use std::collections::VecDeque;

use super::scheduler::{Campaign, CampaignPacing, Scheduler};
use super::table::{CALLBACK, CALLBACK_FRESH, DueSecond, FIRST, LeadSlot};
use super::zones::TzId;
use crate::time::Timestamp;

impl Scheduler {
    pub(crate) fn save_campaign(
        &mut self,
        id: CampaignId,
        policy: CampaignPolicy,
    ) -> Result<(), EventError> {
        let policy = policy.validate().map_err(EventError::InvalidPolicy)?;
        self.dedup.keep_at_least(policy.policy.dedup.window);
        let classes = priority::class_count(policy.policy.priority);
        let policy_mode = policy.policy.mode;
        match self.campaign_index.get(&id).copied() {
            None => {
                let c = u16::try_from(self.campaigns.len()).expect("fewer than 65536 campaigns");
                self.campaigns.push(Campaign {
                    id,
                    policy,
                    running: true,
                    ready: ReadyQueues::new(classes),
                    in_flight: 0,
                    operators: Vec::new(),
                    waiting: VecDeque::new(),
                    pacing: CampaignPacing {
                        effective: policy_mode,
                        ..CampaignPacing::default()
                    },
                    rejudge: false,
                });
                self.campaign_index.insert(id, c);
            }
            Some(c) => {
                let quiet = policy.policy.quiet_hours;
                let camp = &mut self.campaigns[usize::from(c)];
                camp.rejudge |= camp.policy.policy.destinations != policy.policy.destinations
                    || camp.policy.policy.country != policy.policy.country;
                camp.policy = policy;
                // A new mode takes effect now (paced modes settle at their next plan).
                camp.pacing.effective = policy_mode;
                camp.pacing.allowance = 0;
                camp.pacing.planned_at = None;
                self.quiet.set_quiet(c, quiet, self.now);
                // Re-file the due leads under the (possibly new) priority variant, and re-check
                // their zones against the (possibly new) quiet hours.
                let entries = camp.ready.reshape(classes);
                for e in entries {
                    if let Some(i) = self.leads.resolve(e) {
                        self.make_due(i);
                    }
                }
            }
        }
        if self.pacing_due.is_none() && self.any_paced() {
            self.pacing_due = Some(super::pace::first_tick(self.now));
        }
        self.dial_check = true;
        Ok(())
    }

    /// A new lead, or (`restored`: attempts made, their outcomes, when the next is due) one read
    /// back from the store.
    pub(crate) fn add_lead(
        &mut self,
        now: Timestamp,
        lead: NewLead,
        restored: Option<(u8, History, Timestamp)>,
    ) -> Result<(), EventError> {
        let c = self.campaign(lead.campaign)?;
        if self.leads.find(lead.id).is_some() {
            return Err(EventError::LeadIdInUse(lead.id));
        }
        let policy = &self.campaigns[usize::from(c)].policy;
        // A restored lead's number was normalised when it arrived: E.164 is read directly.
        let stored = restored
            .is_some()
            .then(|| Phone::from_e164(&lead.phone))
            .flatten();
        let phone =
            match stored.map_or_else(|| Phone::parse(&lead.phone, policy.policy.country), Ok) {
                Ok(p) => p,
                Err(e) => {
                    self.stats.invalid += 1;
                    return Err(EventError::InvalidPhone(e));
                }
            };
        // Judged on the way in. A lead read back from the store that the policy (changed since
        // it came in) refuses is taken and closed at once, so the store hears it.
        let refused = policy
            .policy
            .destinations
            .judge(phone, policy.policy.country)
            .err();
        if let (None, Some(refusal)) = (&restored, &refused) {
            self.stats.destination_refused += 1;
            return Err(EventError::DestinationRefused {
                phone,
                refusal: refusal.clone(),
            });
        }
        let explicit_tz = match lead.time_zone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(
                TzId::from_name(name)
                    .ok_or_else(|| EventError::InvalidTimeZone(name.to_string()))?,
            ),
        };
        let (tz, _source) = self.zones.resolve(phone, explicit_tz, policy.default_tz);
        let dedup = policy.policy.dedup;
        if let Some((attempts, _, _)) = restored
            && attempts >= policy.policy.max_attempts
        {
            return Err(EventError::NoAttemptsLeft(lead.id, attempts));
        }
        let seen_at = if restored.is_some() {
            lead.created_at.min(now)
        } else {
            now
        };
        match self.dedup.admit(
            seen_at,
            &dedup,
            lead.campaign.0,
            phone.digits(),
            lead.order_id.as_deref(),
            lead.id,
        ) {
            DedupVerdict::New => {}
            DedupVerdict::Duplicate(of) => {
                self.stats.duplicates += 1;
                return Err(EventError::Duplicate { duplicate_of: of });
            }
            DedupVerdict::MissingOrderId => return Err(EventError::MissingOrderId),
        }
        let quiet = policy.policy.quiet_hours;
        let zone = self.quiet.slot_for(c, tz, quiet);
        let (attempts, history, due) = restored.unwrap_or((0, History::default(), now));
        let i = self.leads.insert(LeadSlot {
            id: lead.id,
            phone,
            due: DueSecond::of(now),
            history,
            generation: 0,
            campaign: c,
            zone,
            attempts,
            state: LeadState::Queued,
            flags: 0,
        });
        self.stats.leads_in += 1;
        self.note_number(i);
        if let Some(until) = lead.until {
            self.until.insert(lead.id, until);
        }
        if refused.is_some() {
            self.close(i, LeadState::Refused);
        } else if restored.is_some() {
            self.schedule(i, due);
        } else {
            self.make_due(i);
        }
        Ok(())
    }

    fn live_lead(&self, id: LeadId) -> Result<u32, EventError> {
        self.leads.find(id).ok_or(EventError::UnknownLead(id))
    }

    pub(crate) fn cancel_lead(&mut self, id: LeadId) -> Result<(), EventError> {
        let i = self.live_lead(id)?;
        match self.leads.get(i).state {
            s if s.is_final() => Err(EventError::LeadClosed(id, s.as_str())),
            // The call in progress goes on; the lead is closed when it ends.
            LeadState::Dialing => {
                self.leads.get_mut(i).state = LeadState::Cancelled;
                Ok(())
            }
            _ => {
                self.close(i, LeadState::Cancelled);
                Ok(())
            }
        }
    }

    pub(crate) fn agree_callback(
        &mut self,
        now: Timestamp,
        id: LeadId,
        at: Timestamp,
    ) -> Result<(), EventError> {
        let i = self.live_lead(id)?;
        let max = self.campaigns[usize::from(self.leads.get(i).campaign)]
            .policy
            .policy
            .max_attempts;
        let lead = self.leads.get(i);
        if lead.attempts >= max {
            return Err(EventError::NoAttemptsLeft(id, max));
        }
        let at = at.max(now);
        match lead.state {
            LeadState::Cancelled | LeadState::Exhausted | LeadState::Refused => {
                Err(EventError::LeadClosed(id, lead.state.as_str()))
            }
            LeadState::Dialing => {
                // Applied when the call ends.
                let lead = self.leads.get_mut(i);
                lead.flags |= CALLBACK | CALLBACK_FRESH;
                lead.due = DueSecond::of(at);
                Ok(())
            }
            // Waiting, or just done (the operator entered the result in wrap-up): reopen.
            LeadState::Queued | LeadState::Scheduled | LeadState::Done => {
                if lead.state == LeadState::Done {
                    self.stats.done = self.stats.done.saturating_sub(1);
                }
                self.leads.get_mut(i).flags |= CALLBACK;
                self.schedule(i, at);
                Ok(())
            }
        }
    }

    /// A missed call of the lead's number: a callback now, ahead of the campaign's other leads.
    pub(crate) fn missed_callback(&mut self, now: Timestamp, id: LeadId) -> Result<(), EventError> {
        let i = self.live_lead(id)?;
        // Set before the callback is filed: a lead due at once goes straight to its line.
        let had = self.leads.get(i).flags & FIRST;
        self.leads.get_mut(i).flags |= FIRST;
        let agreed = self.agree_callback(now, id, now);
        if agreed.is_err() {
            let lead = self.leads.get_mut(i);
            lead.flags = (lead.flags & !FIRST) | had;
        }
        agreed
    }
}

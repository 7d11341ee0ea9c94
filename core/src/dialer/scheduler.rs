//! The scheduler: the core's state machine. It is handed events and the time, and it says which
//! calls to place and when it wants to be woken. See the crate docs for how it is driven.
//!
//! Where a lead waits:
//! - not due yet (a retry, a callback): in the timing wheel;
//! - due, but its callee is in quiet hours: held in its (campaign, zone) slot until morning;
//! - due and dialable: in its campaign's ready queues, by priority class.
//!
//! Nothing here scans all leads: every step touches only the leads it moves.

use std::collections::{BTreeSet, VecDeque};

use rustc_hash::FxHashMap;

use super::destinations::CallsPerNumber;
use super::table::SHARED;

use super::attempt::Attempts;
use super::dedup::Dedup;
use super::event::{Action, AttemptId, CampaignRun, Event, EventError, Stats, TimerKind, Wakeup};
use super::lead::{CampaignId, History, LeadId, LeadState};
use super::phone::Phone;
use super::policy::ValidPolicy;
use super::priority;
use super::quiet::ZoneSlots;
use super::ready::ReadyQueues;
use super::table::{CALLBACK, DueSecond, FIRST, LeadTable};
use super::wheel::Wheel;
use super::zones::{TzId, ZoneTable};
use crate::acd::queue::{InboundCall, Queue};
use crate::acd::{OperatorState, Operators, QueueId};
use crate::pacing::{AbandonBudget, LiveStats, PacingMode, VicidialAdapt};
use crate::time::Timestamp;

/// How long a closed lead stays in memory, so a callback entered during wrap-up can reopen it.
pub(crate) const RETIRE_AFTER_MS: i64 = 3_600_000;

pub(crate) struct Campaign {
    pub id: CampaignId,
    pub policy: ValidPolicy,
    pub running: bool,
    pub ready: ReadyQueues,
    /// Attempts in progress.
    pub in_flight: u32,
    /// Operators whose first skill is this campaign (their work is planned here).
    pub operators: Vec<u32>,
    /// Answered calls waiting for an operator, oldest first (entries may be stale).
    pub waiting: VecDeque<AttemptId>,
    pub pacing: CampaignPacing,
    /// The destination policy changed after leads came in: each is judged again when it comes
    /// due (until then every lead held was judged on its way in).
    pub rejudge: bool,
}

/// A campaign's pacing state: what it has learned and what it plans.
#[derive(Default)]
pub(crate) struct CampaignPacing {
    pub stats: LiveStats,
    pub budget: AbandonBudget,
    pub vicidial: VicidialAdapt,
    /// The mode in force: the campaign's, or progressive while warming up, with too few
    /// operators, or at the abandon cap.
    pub effective: PacingMode,
    /// Unbound calls still to place from the last plan.
    pub allowance: u32,
    pub planned_at: Option<Timestamp>,
}

/// What the scheduler knows of one lead, for the API and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadView {
    pub id: LeadId,
    pub campaign: CampaignId,
    pub phone: Phone,
    pub tz: TzId,
    pub state: LeadState,
    pub attempts: u8,
    pub history: History,
    /// When the next attempt is due, for a scheduled lead.
    pub due: Option<Timestamp>,
    pub callback: bool,
}

pub struct Scheduler {
    pub(crate) now: Timestamp,
    pub(crate) zones: &'static ZoneTable,
    pub(crate) campaigns: Vec<Campaign>,
    pub(crate) campaign_index: FxHashMap<CampaignId, u16>,
    pub(crate) leads: LeadTable,
    pub(crate) dedup: Dedup,
    pub(crate) wheel: Wheel,
    pub(crate) quiet: ZoneSlots,
    pub(crate) attempts: Attempts,
    pub(crate) operators: Operators,
    pub(crate) pending: VecDeque<Action>,
    /// Closed leads waiting to be forgotten: (when, entry).
    pub(crate) retiring: VecDeque<(Timestamp, u64)>,
    pub(crate) channel_limit: u32,
    pub(crate) active_calls: u32,
    /// Something changed that may allow a dial (a lead became ready, an operator free...).
    pub(crate) dial_check: bool,
    pub(crate) stats: Stats,
    /// Answered calls waiting for an operator, by the instant they are abandoned.
    pub(crate) answer_waits: BTreeSet<(Timestamp, AttemptId)>,
    /// The next pacing tick (once a second while a paced campaign has operators at work).
    pub(crate) pacing_due: Option<Timestamp>,
    /// Inbound queues, and their index by id.
    pub(crate) queues: Vec<Queue>,
    pub(crate) queue_index: FxHashMap<QueueId, u16>,
    /// Inbound calls in progress.
    pub(crate) inbound: FxHashMap<AttemptId, InboundCall>,
    /// Waiting callers' next announcement or end of wait: (when, call).
    pub(crate) queue_timers: BTreeSet<(Timestamp, AttemptId)>,
    /// Leads not called after a time (pickup reminders' storage deadlines).
    pub(crate) until: FxHashMap<LeadId, Timestamp>,
    /// Calls placed today to each number whose calls are counted, for the daily caps.
    pub(crate) calls_per_number: CallsPerNumber,
    /// Leads held per number, and the first of them: who shares a number.
    pub(crate) leads_per_number: FxHashMap<u64, (u16, u32)>,
    scratch: Vec<u64>,
    scratch_ops: Vec<u32>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new()
    }
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler {
            now: Timestamp::MIN,
            zones: ZoneTable::builtin(),
            campaigns: Vec::new(),
            campaign_index: FxHashMap::default(),
            leads: LeadTable::default(),
            dedup: Dedup::default(),
            wheel: Wheel::default(),
            quiet: ZoneSlots::default(),
            attempts: Attempts::default(),
            operators: Operators::default(),
            pending: VecDeque::new(),
            retiring: VecDeque::new(),
            channel_limit: u32::MAX,
            active_calls: 0,
            dial_check: false,
            stats: Stats::default(),
            answer_waits: BTreeSet::new(),
            pacing_due: None,
            queues: Vec::new(),
            queue_index: FxHashMap::default(),
            inbound: FxHashMap::default(),
            queue_timers: BTreeSet::new(),
            until: FxHashMap::default(),
            calls_per_number: CallsPerNumber::default(),
            leads_per_number: FxHashMap::default(),
            scratch: Vec::new(),
            scratch_ops: Vec::new(),
        }
    }

    /// Uses another prefix table than the shipped one.
    pub fn with_zone_table(mut self, table: &'static ZoneTable) -> Scheduler {
        self.zones = table;
        self
    }

    /// Feeds one event at `now`. A `now` earlier than one seen before is taken as the latest
    /// seen: time never steps back. A refused event changes nothing.
    pub fn handle(&mut self, now: Timestamp, event: Event) -> Result<(), EventError> {
        self.advance(now);
        let now = self.now;
        match event {
            Event::Tick => Ok(()),
            Event::CampaignSaved { campaign, policy } => self.save_campaign(campaign, *policy),
            Event::CampaignRun { campaign, run } => {
                let c = self.campaign(campaign)?;
                self.campaigns[usize::from(c)].running = run == CampaignRun::Running;
                self.dial_check = true;
                Ok(())
            }
            Event::ChannelLimit { channels } => {
                self.channel_limit = channels;
                self.dial_check = true;
                Ok(())
            }
            Event::LeadAdded(lead) => self.add_lead(now, *lead, None),
            Event::LeadRestored {
                lead,
                attempts,
                history,
                due,
            } => self.add_lead(now, *lead, Some((attempts, history, due))),
            Event::AbandonHistoryRestored { campaign, history } => {
                let c = self.campaign(campaign)?;
                let camp = &mut self.campaigns[usize::from(c)];
                camp.pacing
                    .budget
                    .restore(now, &history, &camp.policy.policy.pacing);
                camp.pacing.planned_at = None;
                Ok(())
            }
            Event::LeadCancelled { lead } => self.cancel_lead(lead),
            Event::CallbackAgreed { lead, at } => self.agree_callback(now, lead, at),
            Event::MissedCallback { lead } => self.missed_callback(now, lead),
            Event::AttemptAnswered { attempt } => self.answered(attempt),
            Event::AttemptFinished { attempt, outcome } => self.finished(now, attempt, outcome),
            Event::BridgeFailed { attempt } if attempt.is_inbound() => {
                self.inbound_bridge_failed(attempt)
            }
            Event::BridgeFailed { attempt } => self.bridge_failed(attempt),
            Event::QueueSaved { queue, policy } => self.save_queue(queue, *policy),
            Event::OperatorQueues { operator, queues } => self.operator_queues(operator, &queues),
            Event::InboundQueued { call, queue } => self.inbound_queued(call, queue),
            Event::InboundEnded { call } => self.inbound_ended(call),
            Event::OperatorLogin {
                operator,
                campaigns,
            } => self.login(operator, &campaigns),
            Event::OperatorReady { operator } => self.operator_ready(operator),
            Event::OperatorPaused { operator } => self.operator_away(operator, false),
            Event::OperatorLogout { operator } => self.operator_away(operator, true),
            Event::PreviewDial { operator } => self.preview_dial(operator),
            Event::PreviewSkip { operator } => self.preview_skip(operator),
        }
    }

    /// The next thing to do, or `None` when there is nothing to do until the next event or
    /// wake-up. Dial decisions are made here, one per call, so the cost of a decision is paid
    /// only for calls that are placed.
    pub fn poll_action(&mut self) -> Option<Action> {
        if let Some(a) = self.pending.pop_front() {
            return Some(a);
        }
        if !self.dial_check {
            return None;
        }
        let dial = self.next_dial();
        if dial.is_none() {
            self.dial_check = false;
            // Looking for a dial may have closed leads on the way (refused, past their
            // `until`): those are said now, not at some later poll.
            return self.pending.pop_front();
        }
        dial
    }

    /// The next instant the scheduler wants to be woken (with `Event::Tick`), and why.
    pub fn poll_timeout(&self) -> Option<Wakeup> {
        let mut best: Option<Wakeup> = None;
        let mut offer = |at: Option<Timestamp>, why: TimerKind| {
            if let Some(at) = at
                && best.is_none_or(|b| at < b.at)
            {
                best = Some(Wakeup { at, why });
            }
        };
        offer(
            self.wheel
                .next_deadline()
                .map(|s| Timestamp::from_secs(s as i64)),
            TimerKind::RetryDue,
        );
        offer(self.quiet.next_timer(), TimerKind::QuietHoursEnd);
        offer(self.operators.next_wrap_end(), TimerKind::WrapUpEnd);
        offer(
            self.answer_waits.first().map(|&(t, _)| t),
            TimerKind::AnswerWait,
        );
        offer(self.pacing_due, TimerKind::Pacing);
        offer(self.queue_timers.first().map(|&(t, _)| t), TimerKind::Queue);
        best
    }

    /// Moves the clock to `now` and runs every timer due by then.
    fn advance(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        // Leads whose retry or callback is due.
        let mut due = std::mem::take(&mut self.scratch);
        self.wheel
            .advance(now.secs().max(0) as u64, |e| due.push(e));
        for e in due.drain(..) {
            if let Some(i) = self.leads.resolve(e) {
                self.make_due(i);
            }
        }
        // Leads held by quiet hours whose morning has come.
        let campaigns = &self.campaigns;
        self.quiet.release(
            now,
            |c| campaigns[usize::from(c)].policy.policy.morning_spread,
            &mut due,
        );
        for e in due.drain(..) {
            if let Some(i) = self.leads.resolve(e) {
                self.push_ready(i);
            }
        }
        self.scratch = due;
        // Wrap-ups that ended.
        let mut freed = std::mem::take(&mut self.scratch_ops);
        self.operators.end_wrap_ups(now, &mut freed);
        for op in freed.drain(..) {
            self.dial_check = true;
            let id = self.operators.slots[op as usize].id;
            self.pending.push_back(Action::OperatorState {
                operator: id,
                state: OperatorState::Ready,
            });
            self.operator_freed(op);
        }
        self.scratch_ops = freed;
        // Answered calls that waited too long for an operator.
        while let Some(&(at, attempt)) = self.answer_waits.first() {
            if at > now {
                break;
            }
            self.answer_waits.pop_first();
            self.abandon_waiting(attempt);
        }
        // Waiting callers' announcements, and those who waited the longest allowed.
        self.queue_timers_due(now);
        // Pacing: once a second while paced campaigns have operators at work.
        if self.pacing_due.is_some_and(|t| t <= now) {
            self.pacing_tick();
        }
        // Closed leads kept long enough.
        while let Some(&(at, e)) = self.retiring.front() {
            if at > now {
                break;
            }
            self.retiring.pop_front();
            if let Some(i) = self.leads.resolve(e)
                && self.leads.get(i).state.is_final()
            {
                self.forget_lead(i);
            }
        }
    }

    pub(crate) fn campaign(&self, id: CampaignId) -> Result<u16, EventError> {
        self.campaign_index
            .get(&id)
            .copied()
            .ok_or(EventError::UnknownCampaign(id))
    }

    /// Puts a lead in the wheel until `at` (or straight on to due, if `at` has come).
    pub(crate) fn schedule(&mut self, i: u32, at: Timestamp) {
        let lead = self.leads.get_mut(i);
        lead.due = DueSecond::of(at);
        lead.state = lead.waiting_state();
        let e = self.leads.fresh_entry(i);
        let when = DueSecond::of(at).unix_secs();
        if self.wheel.insert(when, e).is_err() {
            self.make_due(i);
        }
    }

    /// A lead's time has come: ready, or held if its callee is in quiet hours.
    pub(crate) fn make_due(&mut self, i: u32) {
        let zone = self.leads.get(i).zone;
        if self.quiet.is_open(zone, self.now) {
            self.push_ready(i);
        } else {
            self.hold(i);
        }
    }

    fn hold(&mut self, i: u32) {
        let zone = self.leads.get(i).zone;
        let e = self.leads.fresh_entry(i);
        self.quiet.hold(zone, e, self.now);
        self.stats.held_by_quiet_hours += 1;
    }

    pub(crate) fn push_ready(&mut self, i: u32) {
        let lead = self.leads.get(i);
        let c = usize::from(lead.campaign);
        let class = priority::class_of(
            self.campaigns[c].policy.policy.priority,
            lead.attempts,
            lead.flags & CALLBACK != 0,
        );
        let first = lead.flags & FIRST != 0;
        let e = self.leads.fresh_entry(i);
        if first {
            self.campaigns[c].ready.push_first(class, e);
        } else {
            self.campaigns[c].ready.push(class, e);
        }
        self.dial_check = true;
    }

    /// The next dialable lead of a campaign (highest class, oldest first). On the way, a lead
    /// the campaign's destination policy refuses is closed, one whose number had its calls for
    /// the day waits, and one found in a zone that has gone quiet is held for the morning.
    pub(crate) fn pop_dialable(&mut self, c: u16) -> Option<(u32, u8)> {
        loop {
            let (class, e) = self.campaigns[usize::from(c)].ready.pop()?;
            let Some(i) = self.leads.resolve(e) else {
                continue;
            };
            let phone = self.leads.get(i).phone;
            let camp = &self.campaigns[usize::from(c)];
            let policy = &camp.policy.policy;
            if camp.rejudge && policy.destinations.judge(phone, policy.country).is_err() {
                self.close(i, LeadState::Refused);
                continue;
            }
            let cap = policy.destinations.calls_per_number_per_day;
            let counted = self.counted_per_number(i, cap, policy.max_attempts);
            if counted && let Some(at) = self.calls_per_number.next_free(phone, cap, self.now) {
                self.stats.held_by_daily_cap += 1;
                // A second on, so the wheel never takes it as due already.
                self.schedule(i, at.plus_millis(1000));
                continue;
            }
            let zone = self.leads.get(i).zone;
            if self.quiet.is_open(zone, self.now) {
                return Some((i, class));
            }
            self.hold(i);
        }
    }

    /// Marks a lead closed; it is forgotten after a while (or at once when cancelled).
    pub(crate) fn close(&mut self, i: u32, state: LeadState) {
        let lead = self.leads.get_mut(i);
        lead.state = state;
        lead.flags &= SHARED;
        let id = lead.id;
        self.until.remove(&id);
        match state {
            LeadState::Done => self.stats.done += 1,
            LeadState::Exhausted => self.stats.exhausted += 1,
            LeadState::Cancelled => self.stats.cancelled += 1,
            LeadState::Refused => self.stats.refused += 1,
            _ => {}
        }
        self.pending
            .push_back(Action::LeadClosed { lead: id, state });
        if state == LeadState::Cancelled {
            self.forget_lead(i);
        } else {
            let e = self.leads.fresh_entry(i);
            self.retiring
                .push_back((self.now.plus_millis(RETIRE_AFTER_MS), e));
        }
    }

    /// Removes a lead from the table, and from the count of its number's leads.
    fn forget_lead(&mut self, i: u32) {
        let digits = self.leads.get(i).phone.digits();
        if let Some(n) = self.leads_per_number.get_mut(&digits) {
            n.0 = n.0.saturating_sub(1);
            if n.0 == 0 {
                self.leads_per_number.remove(&digits);
            }
        }
        self.leads.remove(i);
    }

    /// Notes lead `i` under its number; when the number has another lead held, both are
    /// marked `SHARED` (their calls are counted per number from then on).
    pub(crate) fn note_number(&mut self, i: u32) {
        let digits = self.leads.get(i).phone.digits();
        let n = self.leads_per_number.entry(digits).or_insert((0, i));
        n.0 = n.0.saturating_add(1);
        if n.0 > 1 {
            let first = n.1;
            self.leads.get_mut(i).flags |= SHARED;
            if first != i && self.leads.get(first).phone.digits() == digits {
                let lead = self.leads.get(first);
                let policy = &self.campaigns[usize::from(lead.campaign)].policy.policy;
                let counted =
                    policy.destinations.calls_per_number_per_day < u32::from(policy.max_attempts);
                let (phone, made, was_shared) = (lead.phone, lead.attempts, lead.flags & SHARED);
                self.leads.get_mut(first).flags |= SHARED;
                if was_shared == 0 && !counted {
                    // Its calls were not counted until now: all it made count as today's
                    // (more than the truth, never less).
                    self.calls_per_number.add(phone, u32::from(made), self.now);
                }
            }
        }
    }

    /// Whether lead `i`'s calls are counted per number: it shares its number, or its
    /// campaign allows fewer calls a day than attempts.
    fn counted_per_number(&self, i: u32, cap: u32, max_attempts: u8) -> bool {
        self.leads.get(i).flags & SHARED != 0 || cap < u32::from(max_attempts)
    }

    // ----- read-only views -----

    /// The time the scheduler is at (the latest `now` it was handed).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A lead, while the scheduler holds it (closed leads are kept an hour).
    pub fn lead(&self, id: LeadId) -> Option<LeadView> {
        let i = self.leads.find(id)?;
        let l = self.leads.get(i);
        let zone = self.quiet.get(l.zone);
        Some(LeadView {
            id: l.id,
            campaign: self.campaigns[usize::from(l.campaign)].id,
            phone: l.phone,
            tz: zone.tz,
            state: l.state,
            attempts: l.attempts,
            history: l.history,
            due: matches!(l.state, LeadState::Queued | LeadState::Scheduled)
                .then_some(l.due.time()),
            callback: l.flags & CALLBACK != 0,
        })
    }

    /// Leads held in memory (waiting, dialling, or recently closed).
    pub fn leads_held(&self) -> usize {
        self.leads.len()
    }

    /// Leads due and waiting for a free operator, in all campaigns (stale entries included).
    pub fn ready_len(&self) -> usize {
        self.campaigns.iter().map(|c| c.ready.len()).sum()
    }

    /// Leads waiting for a retry or a callback (stale entries included).
    pub fn waiting_len(&self) -> usize {
        self.wheel.len()
    }

    /// Leads held back by quiet hours now.
    pub fn held_len(&self) -> usize {
        self.quiet.held()
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> u32 {
        self.active_calls
    }

    /// Operators in a state.
    pub fn operators_in(&self, state: OperatorState) -> usize {
        self.operators.count(state)
    }

    /// A campaign's pacing mode in force now (a predictive campaign dials progressively while it
    /// learns, with too few operators, or at the abandon cap).
    pub fn pacing_mode(&self, campaign: CampaignId) -> Option<PacingMode> {
        let c = self.campaign_index.get(&campaign)?;
        Some(self.campaigns[usize::from(*c)].pacing.effective)
    }

    /// A campaign's abandon figures over the regulator's window: (live answers, abandoned, rate).
    pub fn abandon_window(&self, campaign: CampaignId) -> Option<(u64, u64, f64)> {
        let c = self.campaign_index.get(&campaign)?;
        let camp = &self.campaigns[usize::from(*c)];
        Some(
            camp.pacing
                .budget
                .window(self.now, &camp.policy.policy.pacing),
        )
    }

    /// For each class of a campaign, the leads that are due and dialable now. Used by the
    /// property tests to check the priority invariant; it walks the queues, so it is slow.
    pub fn dialable_by_class(&mut self, campaign: CampaignId) -> Vec<Vec<LeadId>> {
        let Ok(c) = self.campaign(campaign) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let now = self.now;
        let classes = self.campaigns[usize::from(c)].ready.class_len();
        for class in 0..classes {
            let entries: Vec<u64> = self.campaigns[usize::from(c)].ready.class(class).collect();
            let mut ids = Vec::new();
            for e in entries {
                if let Some(i) = self.leads.resolve(e) {
                    let lead = self.leads.get(i);
                    let (id, zone) = (lead.id, lead.zone);
                    if self.quiet.is_open(zone, now) {
                        ids.push(id);
                    }
                }
            }
            out.push(ids);
        }
        out
    }
}

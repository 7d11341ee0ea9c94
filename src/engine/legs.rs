//! The media side of the engine's calls: what the answering-machine detector says, recording a
//! bridged call, the abandoned-call message, digits, and closing it all when the call ends.

use super::tell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predial_core::amd::Verdict;
use predial_core::dialer::{AttemptId, Event};
use tracing::{debug, info, warn};

use super::calls::LiveCall;
use super::{Engine, Note};
use crate::media::leg::{Command, Event as LegEvent};
use crate::media::phrases;
use crate::media::prompt::{Audio, Player};
use crate::media::recorder::{CallKind, Recorder, RecordingName, Side};
use crate::store::journal::Entry;

/// The tag of the abandoned-call message among the prompts a leg plays.
const ABANDON_MESSAGE: u32 = 1;
/// The tag of the hold music played while an operator is being connected.
const HOLD_MUSIC: u32 = 2;
/// The tag of a pickup reminder (the call ends when it has been played).
const REMINDER: u32 = 3;

/// Plays a call's last message (the call is hung up when its `Played` comes back); returns
/// when to hang up at the latest, should it not (its length and two seconds).
pub(super) fn play_last(leg: &crate::media::leg::Leg, audio: Vec<Audio>, tag: u32) -> Duration {
    let player = Player::new(audio, false);
    let limit = Duration::from_millis(player.duration_ms() + 2_000);
    leg.command(Command::Play { player, tag });
    limit
}

/// Writes a call's recording (the leg holds the other handle until it closes: the file is
/// written from here); where it went.
pub(super) fn finish_recording(rec: &Mutex<Recorder>) -> Option<std::path::PathBuf> {
    let finished = rec
        .lock()
        .ok()
        .map(|mut r| std::mem::replace(&mut *r, Recorder::detached()).finish());
    match finished {
        Some(Ok((path, length))) => {
            info!(path = %path.display(), seconds = length.as_secs_f64(), "recording written");
            Some(path)
        }
        Some(Err(e)) => {
            warn!(error = %e, "the recording could not be written");
            None
        }
        None => None,
    }
}

/// What a pickup reminder says of a lead's parcel.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reminder {
    /// The pickup point (its digits are said as a number).
    pub point: Option<String>,
    /// Until when it is kept.
    pub until_ms: Option<i64>,
    pub time_zone: Option<String>,
}

impl Engine {
    /// A media leg's event; `tag` names whose leg it is.
    pub(super) fn on_leg(&mut self, tag: u64, event: LegEvent) {
        let attempt = match super::party::Party::of_tag(tag) {
            super::party::Party::Operator(attempt) => return self.on_operator_leg(attempt, event),
            super::party::Party::Caller(call) => return self.on_inbound_leg(call, event),
            super::party::Party::Callee(attempt) => attempt,
        };
        match event {
            LegEvent::Machine(d) => {
                let Some(call) = self.calls.get_mut(&attempt) else {
                    return;
                };
                if !call.detecting {
                    return;
                }
                call.detecting = false;
                info!(attempt = %attempt, verdict = ?d.verdict, cause = ?d.cause, after_ms = d.after_ms, "answering-machine detection");
                if d.verdict == Verdict::Machine {
                    call.machine = true;
                    call.control.hang_up();
                } else {
                    // A person (or not sure: treated as one) goes to an operator.
                    self.person_answered(attempt);
                }
            }
            LegEvent::Digit(d) => {
                if let Some(call) = self.calls.get(&attempt) {
                    debug!(attempt = %attempt, digit = %d.digit, "DTMF");
                    self.lead_media
                        .entry(call.dial.lead)
                        .or_default()
                        .digits
                        .push(d.digit);
                }
            }
            LegEvent::Played { tag, .. } if tag == ABANDON_MESSAGE || tag == REMINDER => {
                if let Some(call) = self.calls.get(&attempt) {
                    call.control.hang_up();
                }
            }
            LegEvent::Closed(stats) => {
                if let Some(lead) = self.closing.remove(&attempt) {
                    let m = self.lead_media.entry(lead).or_default();
                    m.rtp_sent += stats.sent;
                    m.rtp_received += stats.received;
                }
            }
            LegEvent::Played { .. } => {}
        }
    }

    /// A person answered: the core hears of it, and the callee hears the hold music until an
    /// operator is on the line (never silence).
    pub(super) fn person_answered(&mut self, attempt: AttemptId) {
        if let Some(call) = self.calls.get_mut(&attempt) {
            call.person_at = Some(Instant::now());
            if self.config.softphones.is_some()
                && let Some(leg) = &call.leg
            {
                let cfg = &self.config.media;
                if let Ok(audio) = cfg.prompts.get(cfg.lang, "hold") {
                    leg.command(Command::Play {
                        player: Player::new(vec![audio], true),
                        tag: HOLD_MUSIC,
                    });
                }
            }
        }
        tell(
            &mut self.scheduler,
            self.now,
            Event::AttemptAnswered { attempt },
        );
    }

    /// A pickup reminder answered: the point and the storage deadline are said, then the call
    /// ends (at the latest when the message's time is up).
    pub(super) fn remind(&mut self, attempt: AttemptId, lead: predial_core::dialer::LeadId) {
        if !self.calls.contains_key(&attempt) {
            return;
        }
        let r = self.reminders.get(&lead).cloned().unwrap_or_default();
        let point = r.point.as_deref().and_then(|p| {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        });
        let until = r.until_ms.and_then(|ms| {
            use chrono::Datelike;
            let tz: chrono_tz::Tz = r
                .time_zone
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(chrono_tz::Europe::Moscow);
            let t = chrono::DateTime::from_timestamp_millis(ms)?.with_timezone(&tz);
            Some((t.day(), t.month()))
        });
        let names = phrases::pickup_reminder(point, until, self.config.media.lang);
        info!(attempt = %attempt, lead = %lead, "pickup reminder");
        self.say_last(attempt, &names, REMINDER, "the pickup reminder");
    }

    /// Records a call being bridged (when recordings are configured), named by its attempt id
    /// and the time (never by anything the callee's side sent).
    pub(super) fn record(&mut self, attempt: AttemptId) {
        let Some(dir) = self.config.media.recordings.clone() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&attempt) else {
            return;
        };
        let Some(leg) = &call.leg else {
            return;
        };
        let name = RecordingName::new(CallKind::Outbound, attempt.0, std::time::SystemTime::now());
        match Recorder::create(&dir, &name, Instant::now()) {
            Ok(r) => {
                let r = Arc::new(Mutex::new(r));
                leg.command(Command::Record {
                    recorder: r.clone(),
                    side: Side::Callee,
                });
                call.recorder = Some(r);
            }
            Err(e) => warn!(attempt = %attempt, error = %e, "cannot record the call"),
        }
    }

    /// Plays the abandoned-call message, then hangs up (at the latest when its time is up).
    /// Whether the message began (it cannot without the call's media or the prompts).
    pub(super) fn abandon(&mut self, attempt: AttemptId) -> bool {
        let Some(call) = self.calls.get_mut(&attempt) else {
            return false;
        };
        call.abandoned = true;
        let cfg = &self.config.media;
        let names = phrases::abandoned(cfg.callback_number.as_deref(), cfg.lang);
        self.say_last(
            attempt,
            &names,
            ABANDON_MESSAGE,
            "the abandoned-call message",
        )
    }

    /// The core abandoned an answered call (no operator in time): the callee hears the
    /// abandoned-call message, then the call ends; the abandon log gets the regulator's record
    /// of it, written once (the hang-up is the attempt's end in the call record).
    pub(super) fn abandoned_call(
        &mut self,
        attempt: AttemptId,
        audit: &predial_core::pacing::AbandonAudit,
    ) {
        info!(lead = %audit.lead, waited_ms = audit.waited_ms, "abandoned: no operator free");
        let caller_id = self.calls.get(&attempt).map(|c| {
            self.routing.pool.trunks[c.trunk]
                .profile
                .caller_id_for(audit.campaign.0)
                .to_string()
        });
        let message_ms = self.abandon(attempt).then(|| self.now.millis());
        self.journal(attempt, |row, campaign| {
            Entry::Abandoned(Box::new(crate::store::abandons::NewAbandon {
                attempt: row,
                lead: audit.lead.0 as i64,
                campaign,
                phone: audit.phone.to_string(),
                caller_id,
                answered_ms: audit.answered_at.millis(),
                abandoned_ms: audit.at.millis(),
                message_ms,
                waited_ms: audit.waited_ms,
                regulator: audit.regulator.as_str().into(),
                answered_in_window: audit.answered_in_window as i64,
                abandoned_in_window: audit.abandoned_in_window as i64,
                window_rate: audit.window_rate,
            }))
        });
    }

    /// Says a call's last message, then hangs up: when it has been played (`tag` comes back),
    /// or at the latest when its time is up. `what` names it in the warning when it cannot be
    /// played (then the call is hung up at once).
    /// Whether it began.
    fn say_last(&mut self, attempt: AttemptId, names: &[String], tag: u32, what: &str) -> bool {
        let cfg = &self.config.media;
        let message = cfg.prompts.sequence(cfg.lang, names);
        let Some(call) = self.calls.get(&attempt) else {
            return false;
        };
        let limit = match (&call.leg, message) {
            (Some(leg), Ok(audio)) => play_last(leg, audio, tag),
            (_, Err(e)) => {
                warn!(error = %e, "{what} cannot be played");
                call.control.hang_up();
                return false;
            }
            (None, _) => {
                call.control.hang_up();
                return false;
            }
        };
        self.note_later(limit, Note::LastMessageDone(attempt));
        true
    }

    /// `note` comes to the engine's loop `after` from now (a timer of the engine's table).
    pub(super) fn note_later(&mut self, after: Duration, note: Note) {
        self.timers.after(Instant::now(), after, note);
    }

    /// A call ended: its leg closes, its recording is written and listed with its lead.
    pub(super) fn finish_media(&mut self, call: &LiveCall) {
        if let Some(leg) = &call.leg {
            leg.command(Command::Close);
            self.closing.insert(call.dial.attempt, call.dial.lead);
        }
        let Some(rec) = &call.recorder else { return };
        if let Some(path) = finish_recording(rec) {
            self.lead_media
                .entry(call.dial.lead)
                .or_default()
                .recordings
                .push(path.display().to_string());
        }
    }
}

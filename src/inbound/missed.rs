//! Missed inbound calls become callbacks: a lead with top priority in the queue's callback
//! campaign (made and started if missing), unless the number has an open lead already (then that lead is
//! made a callback), and a row in `missed_calls` that is marked recovered when the callback
//! reaches the caller. The integrator's notification (`call.missed`) is queued by the engine.

use std::sync::Arc;

use predial_core::dialer::{LeadId, Phone};
use tokio::sync::{Mutex, mpsc};
use tracing::{info, warn};

use super::burst::{Burst, BurstGuard, BurstSettings};
use crate::feed::Feed;
use crate::leads::intake::{FlushError, Intake, LeadIn, Source, Verdict};
use crate::store::{Store, StoreError};

/// Why an inbound call was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedReason {
    /// The caller hung up while waiting in the queue.
    AbandonedInQueue,
    /// The call came outside the queue's working hours.
    AfterHours,
    /// The caller waited the longest allowed and did not choose a callback.
    MaxWait,
    /// The caller waited the longest allowed and pressed 1 for a callback.
    CallbackAsked,
}

impl MissedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            MissedReason::AbandonedInQueue => "abandoned_in_queue",
            MissedReason::AfterHours => "after_hours",
            MissedReason::MaxWait => "max_wait",
            MissedReason::CallbackAsked => "callback_asked",
        }
    }
}

/// A missed call, as the engine reports it.
#[derive(Debug, Clone)]
pub struct MissedCall {
    /// The caller's number as the trunk sent it.
    pub phone: String,
    pub queue: String,
    pub reason: MissedReason,
    pub waited_ms: u64,
    pub at_ms: i64,
    /// Where the callback lead goes (None: no callback lead, the notification only).
    pub campaign: Option<String>,
    /// The queue's zone, for the date and time said in the e-mail.
    pub time_zone: chrono_tz::Tz,
}

/// The caller's number in E.164, when it reads as one: as sent, else as an international
/// number without its `+` (what trunks usually send), else as a number of the campaigns'
/// default country (RU).
pub fn e164(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    Phone::parse(phone, None)
        .or_else(|_| Phone::parse(&format!("+{digits}"), None))
        .or_else(|_| Phone::parse(phone, "RU".parse().ok()))
        .ok()
        .map(|p| p.to_string())
}

/// Takes missed calls for as long as the engine sends them.
pub async fn handle_forever(
    store: Store,
    intake: Arc<Mutex<Intake>>,
    feed: mpsc::UnboundedSender<Feed>,
    email: Option<super::email::EmailConfig>,
    burst: BurstSettings,
    mut missed: mpsc::UnboundedReceiver<MissedCall>,
) {
    let mut guard = BurstGuard::new(burst);
    while let Some(mut m) = missed.recv().await {
        match guard.note(&m.phone, m.at_ms) {
            Burst::Calm => {}
            Burst::Started { range } => {
                warn!(%range, queue = %m.queue, "missed calls are bursting: no callbacks from this range until it calms down");
                metrics::counter!("predial_missed_call_bursts_total").increment(1);
                if let Some(email) = &email {
                    let (subject, body) = burst_letter(&range, &m);
                    let email = email.clone();
                    tokio::spawn(async move { super::email::send(&email, &subject, body).await });
                }
                m.campaign = None;
            }
            Burst::Ongoing { .. } => m.campaign = None,
        }
        if m.campaign.is_none() {
            metrics::counter!("predial_missed_callbacks_withheld_total").increment(1);
        }
        let lead = match handle(&store, &intake, &feed, &m).await {
            Ok(lead) => lead,
            Err(e) => {
                warn!(queue = %m.queue, reason = m.reason.as_str(), error = %e, "a missed call could not be stored");
                None
            }
        };
        if let Some(email) = &email {
            let (subject, body) = letter(&m, lead);
            let email = email.clone();
            tokio::spawn(async move { super::email::send(&email, &subject, body).await });
        }
    }
}

/// The alert of a burst of missed calls: subject and text.
fn burst_letter(range: &str, m: &MissedCall) -> (String, String) {
    let subject = format!("Alert: missed calls bursting from {range}");
    let body = format!(
        "Missed calls from {range} are coming faster than people call (queue {}).\n\n\
         They are stored and notified as usual, but make no callbacks until the range has been \
         calm for a while: calling back a burst of numbers is how callback toll fraud earns.\n\
         Check the missed calls (GET /v1/missed-calls) before calling any of them.\n",
        m.queue
    );
    (subject, body)
}

/// The missed call's e-mail: subject and text.
fn letter(m: &MissedCall, lead: Option<i64>) -> (String, String) {
    let phone = e164(&m.phone).unwrap_or_else(|| m.phone.clone());
    let at = chrono::DateTime::from_timestamp_millis(m.at_ms)
        .unwrap_or_default()
        .with_timezone(&m.time_zone);
    let why = match m.reason {
        MissedReason::AbandonedInQueue => "hung up while waiting in the queue",
        MissedReason::AfterHours => "called outside working hours",
        MissedReason::MaxWait => "waited the longest allowed and did not ask for a callback",
        MissedReason::CallbackAsked => "waited the longest allowed and asked to be called back",
    };
    let subject = format!("Missed call from {phone} ({})", m.queue);
    let mut body = format!(
        "Missed call: the caller {why}.\n\nNumber:  {phone}\nDate:    {}\nTime:    {} ({})\nQueue:   {}\nReason:  {}\nWaited:  {} s\n",
        at.format("%Y-%m-%d"),
        at.format("%H:%M:%S"),
        m.time_zone.name(),
        m.queue,
        m.reason.as_str(),
        m.waited_ms / 1000,
    );
    match lead {
        Some(id) => body += &format!("\nCallback: lead {id} is called back first.\n"),
        None => body += "\nNo callback lead was made (no callback campaign for this queue).\n",
    }
    (subject, body)
}

/// Why a missed call was not made a callback lead.
#[derive(Debug, thiserror::Error)]
enum MissedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Flush(#[from] FlushError),
}

async fn handle(
    store: &Store,
    intake: &Arc<Mutex<Intake>>,
    feed: &mpsc::UnboundedSender<Feed>,
    m: &MissedCall,
) -> Result<Option<i64>, MissedError> {
    let phone = e164(&m.phone);
    let mut lead_id = None;
    if let (Some(campaign), Some(phone)) = (&m.campaign, &phone) {
        // The number's open lead, in any campaign, becomes the callback.
        let open = store
            .find_leads(Some(phone), None, 20)
            .await?
            .into_iter()
            .find(|l| l.closed_ms.is_none());
        lead_id = match open {
            Some(l) => {
                let _ = feed.send(Feed::Callback(LeadId(l.id as u64)));
                Some(l.id)
            }
            None => {
                let mut intake = intake.lock().await;
                let (_, made) = intake.ensure_campaign(campaign).await?;
                if made {
                    // Made for the callbacks: they are to be dialled.
                    store.set_campaign_state(campaign, "running").await?;
                    info!(%campaign, "callback campaign made and started");
                }
                let verdict = intake.take(
                    LeadIn {
                        phone: phone.clone(),
                        order_id: None,
                        campaign: Some(campaign.clone()),
                        name: None,
                        items: None,
                        sum_minor: None,
                        time_zone: None,
                        pickup_point: None,
                        keep_until: None,
                    },
                    Source::Callback,
                    crate::store::now_ms(),
                );
                let flush = intake.start_flush();
                drop(intake);
                flush.wait().await?;
                match verdict {
                    Verdict::Accepted { id, .. } => Some(id),
                    Verdict::Duplicate { duplicate_of, .. } => {
                        let _ = feed.send(Feed::Callback(LeadId(duplicate_of as u64)));
                        Some(duplicate_of)
                    }
                    Verdict::Invalid { message, .. } => {
                        warn!(%message, "no callback lead for a missed call");
                        None
                    }
                }
            }
        };
    }
    let id = store
        .add_missed_call(&crate::store::missed::MissedCall {
            id: 0,
            phone: phone.unwrap_or_else(|| m.phone.clone()),
            queue: m.queue.clone(),
            reason: m.reason.as_str().into(),
            waited_ms: m.waited_ms as i64,
            at_ms: m.at_ms,
            lead_id,
            recovered_ms: None,
        })
        .await?;
    info!(missed = id, queue = %m.queue, reason = m.reason.as_str(), lead = ?lead_id, "missed call: callback lead");
    Ok(lead_id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn callers_numbers_read_as_trunks_send_them() {
        assert_eq!(super::e164("79161234567").as_deref(), Some("+79161234567"));
        assert_eq!(super::e164("+79161234567").as_deref(), Some("+79161234567"));
        assert_eq!(super::e164("89161234567").as_deref(), Some("+79161234567"));
        assert_eq!(super::e164("anonymous"), None);
    }
}

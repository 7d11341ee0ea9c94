//! The engine as a service (`predial serve`, `predial demo`): the campaigns and open leads of
//! the store, operators on softphones registered to our registrar, and a feeder that hands the
//! engine what arrives in the store while it runs (new leads, cancellations, campaigns made or
//! changed). Nothing slow runs in the engine's loop: the feeder reads the store on its own task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use predial_core::dialer::{CampaignId, LeadId};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::media::MediaConfig;
use super::{Engine, EngineConfig, Feed, LiveFigures, OperatorAccount, RunReport, Softphones};
use crate::registrar::Registrar;
use crate::sip::{SipError, SipOptions};
use crate::store::journal::Journal;
use crate::store::{Store, StoreError};
use crate::trunks::TrunkProfile;

/// How often the feeder looks at the store.
const FEED_EVERY: Duration = Duration::from_millis(200);

pub struct ServiceConfig {
    pub store: Store,
    pub trunks: Vec<TrunkProfile>,
    pub registrar: Arc<Mutex<Registrar>>,
    /// Operators: login and skills (campaign names; empty: every campaign).
    pub operators: Vec<(String, Vec<String>)>,
    pub sip: SipOptions,
    pub media: MediaConfig,
    pub answer_timeout: Duration,
    /// A callback keyed on the phone is agreed for this long after the key.
    pub dtmf_callback_after: Duration,
    pub events: Option<tokio::sync::broadcast::Sender<crate::happenings::Happening>>,
    /// Inbound numbers, queues and the bot.
    pub inbound: Arc<crate::inbound::InboundConfig>,
    /// The API's lead intake, which callback leads of missed calls go through (none: the
    /// service opens its own).
    pub intake: Option<Arc<tokio::sync::Mutex<crate::leads::intake::Intake>>>,
}

/// Why the engine did not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sip(#[from] SipError),
    /// The engine's task ended without its report.
    #[error(transparent)]
    Engine(#[from] tokio::task::JoinError),
}

/// A running engine.
pub struct Service {
    pub sip_addr: std::net::SocketAddr,
    /// Tells the running engine of changes (operators set ready or paused by the API).
    pub feed: mpsc::UnboundedSender<Feed>,
    pub figures: watch::Receiver<LiveFigures>,
    stop: watch::Sender<bool>,
    done: JoinHandle<RunReport>,
    feeder: JoinHandle<()>,
    missed: JoinHandle<()>,
    journal: Journal,
}

impl Service {
    pub async fn start(cfg: ServiceConfig) -> Result<Service, ServiceError> {
        let store = cfg.store.clone();
        let (journal, recovered) = store.open_journal().await?;
        if recovered.interrupted_attempts > 0 {
            warn!(
                attempts = recovered.interrupted_attempts,
                "attempts left open by an earlier run were closed as interrupted; their leads are dialled again"
            );
        }
        let mut campaigns = store.campaigns().await?;
        if campaigns.is_empty() {
            store
                .ensure_campaign(crate::store::campaigns::DEFAULT)
                .await?;
            campaigns = store.campaigns().await?;
        }
        let ids: HashMap<String, CampaignId> = campaigns
            .iter()
            .map(|c| (c.name.clone(), CampaignId(c.id as u32)))
            .collect();
        let accounts = cfg
            .operators
            .iter()
            .map(|(login, skills)| {
                let campaigns = skills
                    .iter()
                    .filter_map(|s| {
                        let id = ids.get(s).copied();
                        if id.is_none() && cfg.inbound.queue(s).is_none() {
                            warn!(operator = %login, skill = %s, "no campaign or queue of that name: skill ignored");
                        }
                        id
                    })
                    .collect();
                OperatorAccount {
                    login: login.clone(),
                    skills: skills.clone(),
                    campaigns,
                }
            })
            .collect();
        let (missed_tx, missed_rx) = mpsc::unbounded_channel();
        let config = EngineConfig {
            sip: cfg.sip,
            trunks: cfg.trunks,
            campaigns: campaigns
                .iter()
                .map(|c| (CampaignId(c.id as u32), c.policy.clone()))
                .collect(),
            operators: 0,
            talk: Duration::ZERO,
            softphones: Some(Softphones {
                registrar: cfg.registrar,
                accounts,
                answer_timeout: cfg.answer_timeout,
                callback_after: cfg.dtmf_callback_after,
            }),
            deadline: Duration::from_secs(10 * 365 * 86_400),
            keep_running: true,
            media: cfg.media,
            journal: Some(journal.clone()),
            store: Some(store.clone()),
            events: cfg.events,
            inbound: super::InboundSetup {
                config: cfg.inbound.clone(),
                missed: Some(missed_tx),
            },
        };
        let mut engine = Engine::start(config).await?;
        let mut newest = 0;
        let mut restored = 0;
        for c in &campaigns {
            let open = store.open_leads(c.id).await?;
            let restored_here = open.len();
            newest = open.iter().map(|l| l.id).max().unwrap_or(0).max(newest);
            restored += open.len();
            let (_, refused) = engine.restore_leads(CampaignId(c.id as u32), open);
            for (phone, why) in refused {
                warn!(%phone, %why, "a stored lead the engine cannot take");
            }
            if let Some((answered, abandoned, rate)) = engine
                .restore_abandon_window(&store, CampaignId(c.id as u32))
                .await?
                && answered > 0
            {
                info!(campaign = %c.name, answered, abandoned, rate, "the abandon-rate window was read back from the store");
            }
            if c.state != "running" {
                if restored_here > 0 {
                    warn!(
                        campaign = %c.name,
                        leads = restored_here,
                        "the campaign is {} with open leads: POST /v1/campaigns/{}/start dials them",
                        c.state,
                        c.name
                    );
                }
                super::tell(
                    &mut engine.scheduler,
                    engine.now,
                    predial_core::dialer::Event::CampaignRun {
                        campaign: CampaignId(c.id as u32),
                        run: predial_core::dialer::CampaignRun::Paused,
                    },
                );
            }
        }
        info!(
            leads = restored,
            campaigns = campaigns.len(),
            "the engine took the store's open leads"
        );
        let (feed_tx, feed_rx) = mpsc::unbounded_channel();
        engine.take_leads(feed_rx);
        let (stop, stop_rx) = watch::channel(false);
        engine.stop_on(stop_rx);
        let figures = engine.figures();
        let sip_addr = engine.sip_addr();
        let known = campaigns
            .iter()
            .map(|c| (c.id, (policy_text(&c.policy), c.state.clone())))
            .collect();
        let intake = match cfg.intake {
            Some(i) => i,
            None => Arc::new(tokio::sync::Mutex::new(
                crate::leads::intake::Intake::open(store.clone()).await?.0,
            )),
        };
        let missed = tokio::spawn(crate::inbound::missed::handle_forever(
            store.clone(),
            intake,
            feed_tx.clone(),
            cfg.inbound.email.clone(),
            cfg.inbound.missed_burst,
            missed_rx,
        ));
        let feeder = tokio::spawn(feed(
            store,
            feed_tx.clone(),
            newest,
            known,
            journal.webhooks.clone(),
        ));
        let done = tokio::spawn(engine.run(Vec::new(), Vec::new()));
        Ok(Service {
            sip_addr,
            feed: feed_tx,
            figures,
            stop,
            done,
            feeder,
            missed,
            journal,
        })
    }

    /// Stops the engine (calls in progress are hung up) and waits until what it wrote is
    /// stored.
    pub async fn stop(self) -> Result<RunReport, ServiceError> {
        let _ = self.stop.send(true);
        let report = self.done.await?;
        self.feeder.abort();
        // The engine is gone: the missed calls it reported are stored, then the task ends.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.missed).await;
        self.journal.sync().await;
        Ok(report)
    }
}

fn policy_text(p: &predial_core::dialer::CampaignPolicy) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

/// Hands the engine what arrives in the store: leads after `newest`, cancellations, campaigns
/// made or changed (`known`: each campaign's policy and state as the engine has them).
async fn feed(
    store: Store,
    tx: mpsc::UnboundedSender<Feed>,
    mut newest: i64,
    mut known: HashMap<i64, (String, String)>,
    webhooks: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut cancelled_since = crate::store::now_ms();
    // Campaigns told about (paused with leads arriving): told once.
    let mut told: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut campaigns_checked = std::time::Instant::now();
    loop {
        tokio::time::sleep(FEED_EVERY).await;
        if tx.is_closed() {
            return;
        }
        if campaigns_checked.elapsed() >= Duration::from_secs(2) {
            campaigns_checked = std::time::Instant::now();
            if let Ok(config) = store.webhook_config().await {
                webhooks.store(config.is_some(), std::sync::atomic::Ordering::Relaxed);
            }
            if let Ok(list) = store.campaigns().await {
                for c in list {
                    let now = (policy_text(&c.policy), c.state.clone());
                    if known.get(&c.id) != Some(&now) {
                        info!(campaign = %c.name, state = %c.state, "campaign made or changed: the engine takes it");
                        let _ = tx.send(Feed::Campaign(
                            CampaignId(c.id as u32),
                            Box::new(c.policy.clone()),
                            c.state == "running",
                        ));
                        known.insert(c.id, now);
                    }
                }
            }
        }
        // Leads of campaigns made meanwhile come after their campaign (checked above).
        match store.open_leads_after(newest, 5_000).await {
            Ok(leads) => {
                for (campaign, lead) in leads {
                    if !known.contains_key(&campaign) {
                        break;
                    }
                    newest = newest.max(lead.id);
                    if known
                        .get(&campaign)
                        .is_some_and(|(_, state)| state != "running")
                        && told.insert(campaign)
                    {
                        info!(
                            campaign,
                            "leads arrive for a campaign that is not running: they wait until it is started (POST /v1/campaigns/NAME/start)"
                        );
                    }
                    let _ = tx.send(Feed::Lead(CampaignId(campaign as u32), lead));
                }
            }
            Err(e) => warn!(error = %e, "cannot read new leads from the store"),
        }
        let checked_at = crate::store::now_ms();
        if let Ok(ids) = store.cancelled_since(cancelled_since).await {
            for id in ids {
                let _ = tx.send(Feed::Cancelled(LeadId(id as u64)));
            }
            cancelled_since = checked_at;
        }
    }
}

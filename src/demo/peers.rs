//! The demo's peers, in-process and over real SIP and RTP on loopback: a carrier answering as a
//! population of callees would (a realistic mix of outcomes, a voice on the line), and
//! softphones for the operators (they register with digest auth, auto-answer, talk for a
//! while, key in the call's result, hang up; with `--missed-calls` one of them now and then
//! misses a call and dials `*1` to get ready again).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::DemoError;
use crate::engine::media::{MediaConfig, MediaPool};
use crate::media::leg::{Command, Leg};
use crate::media::prompt::Player;
use crate::sip::sdp;
use crate::sip::{
    Credentials, IncomingCall, Outbound, RegisterTo, Registered, Secret, SipAgent, SipOptions,
    Transport,
};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A small deterministic random source (the demo needs variety, not secrecy).
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(seed | 1)
    }

    pub fn roll(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [lo, hi).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.roll() % (hi - lo).max(1)
    }
}

/// A peer's media: its ports and prompts.
struct PeerMedia {
    pool: Mutex<MediaPool>,
}

impl PeerMedia {
    fn new(ports: (u16, u16)) -> Result<Arc<PeerMedia>, DemoError> {
        // Nobody listens to the peers' leg events.
        let (tx, _rx) = mpsc::unbounded_channel();
        let config = MediaConfig {
            ports,
            lang: crate::media::phrases::Lang::En,
            ..MediaConfig::default()
        };
        let pool = MediaPool::new(config, LOOPBACK, tx).map_err(DemoError::PeerPorts)?;
        Ok(Arc::new(PeerMedia {
            pool: Mutex::new(pool),
        }))
    }

    /// Answers an offer: our SDP answer, and the leg playing `prompt` (looped).
    fn answer(&self, id: u64, offer: &[u8], prompt: &str) -> Option<(Vec<u8>, Leg, u16)> {
        let mut pool = self.pool.lock().ok()?;
        let theirs = sdp::parse_answer(offer).ok()?;
        let codec = theirs.payload_types.iter().find_map(|pt| match pt {
            0 => Some("PCMU"),
            8 => Some("PCMA"),
            _ => None,
        })?;
        let reserved = pool.reserve().ok()?;
        let port = reserved.port;
        let answer = sdp::offer_codecs(id, SocketAddr::new(LOOPBACK, port), &[codec]);
        let leg = pool
            .start(id, reserved, offer, &[codec.to_string()], None)
            .ok()?;
        let cfg = &pool.config;
        if let Ok(audio) = cfg.prompts.get(crate::media::phrases::Lang::En, prompt) {
            leg.command(Command::Play {
                player: Player::new(vec![audio], true),
                tag: 0,
            });
        }
        Some((answer, leg, port))
    }

    fn release(&self, port: u16) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.release(port);
        }
    }
}

/// The demo carrier: answers calls as a population of callees. A number's last digit picks
/// its fate: 0-4 answer after ringing 1-4 s (9: and hang up themselves after 5-10 s), 5 is
/// busy, 6-7 ring until the dialer gives up, 8 does not exist.
pub struct Carrier {
    pub agent: SipAgent,
}

impl Carrier {
    pub async fn start(ports: (u16, u16)) -> Result<Carrier, DemoError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<IncomingCall>();
        let agent = SipAgent::start(SipOptions {
            listen: SocketAddr::new(LOOPBACK, 0),
            user_agent: "predial-demo-carrier".into(),
            incoming: Some(tx),
            ..SipOptions::default()
        })
        .await?;
        let media = PeerMedia::new(ports)?;
        tokio::spawn(async move {
            let mut dice = Dice::new(0x5eed_ca11);
            let mut n = 0u64;
            while let Some(call) = rx.recv().await {
                n += 1;
                let seed = dice.roll();
                tokio::spawn(callee(call, media.clone(), n, seed));
            }
        });
        Ok(Carrier { agent })
    }

    pub fn addr(&self) -> SocketAddr {
        self.agent.local_addr()
    }
}

async fn callee(mut call: IncomingCall, media: Arc<PeerMedia>, id: u64, seed: u64) {
    let mut dice = Dice::new(seed);
    let last = call
        .to
        .chars()
        .rev()
        .find(|c| c.is_ascii_digit())
        .unwrap_or('0');
    let wait = |ms: u64| tokio::time::sleep(Duration::from_millis(ms));
    match last {
        '5' => {
            wait(400).await;
            call.call.refuse(486, "Busy Here");
        }
        '8' => {
            wait(200).await;
            call.call.refuse(404, "Not Found");
        }
        '6' | '7' => {
            call.call.ringing();
            // Until the dialer cancels (bounded).
            let _ = tokio::time::timeout(Duration::from_secs(120), &mut call.ended).await;
        }
        _ => {
            call.call.ringing();
            tokio::select! {
                _ = wait(dice.between(1_000, 4_000)) => {}
                _ = &mut call.ended => return,
            }
            let Some((answer, leg, port)) = media.answer(id, &call.offer, "promo") else {
                call.call.refuse(488, "Not Acceptable Here");
                return;
            };
            call.call.answer(answer);
            // A callee who hangs up first, or stays until the operator does (bounded).
            let talk = if last == '9' {
                Duration::from_millis(dice.between(5_000, 10_000))
            } else {
                Duration::from_secs(300)
            };
            tokio::select! {
                _ = tokio::time::sleep(talk) => call.call.hang_up(),
                _ = &mut call.ended => {}
            }
            drop(leg);
            media.release(port);
        }
    }
}

/// A demo operator's softphone.
pub struct Softphone {
    pub login: String,
    pub agent: Arc<SipAgent>,
    _registered: Registered,
}

/// How a demo operator behaves.
#[derive(Debug, Clone, Copy)]
pub struct Habits {
    /// Talk time per call, seconds (lo, hi).
    pub talk_s: (u64, u64),
    /// Misses one call in this many (0: never), then dials *1 a few seconds later.
    pub misses_one_in: u64,
}

impl Softphone {
    pub async fn start(
        login: &str,
        password: &str,
        registrar: SocketAddr,
        ports: (u16, u16),
        habits: Habits,
        seed: u64,
    ) -> Result<Softphone, DemoError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<IncomingCall>();
        let agent = Arc::new(
            SipAgent::start(SipOptions {
                listen: SocketAddr::new(LOOPBACK, 0),
                user_agent: "predial-demo-softphone".into(),
                incoming: Some(tx),
                ..SipOptions::default()
            })
            .await?,
        );
        let credentials = Credentials {
            user: login.to_string(),
            secret: Secret::Password(password.to_string()),
        };
        let registered = agent.keep_registered(
            RegisterTo {
                registrar: registrar.to_string(),
                credentials: credentials.clone(),
                transport: Transport::Udp,
                expires: Duration::from_secs(300),
            },
            |_| {},
        )?;
        let media = PeerMedia::new(ports)?;
        let phone = agent.clone();
        let login_owned = login.to_string();
        tokio::spawn(async move {
            let mut dice = Dice::new(seed);
            let mut n = 0u64;
            while let Some(call) = rx.recv().await {
                n += 1;
                if habits.misses_one_in > 0 && n.is_multiple_of(habits.misses_one_in) {
                    // Away from the desk: the phone rings out; back a few seconds later with *1.
                    let (phone, credentials) = (phone.clone(), credentials.clone());
                    tokio::spawn(async move {
                        let mut call = call;
                        let _ =
                            tokio::time::timeout(Duration::from_secs(30), &mut call.ended).await;
                        tokio::time::sleep(Duration::from_secs(4)).await;
                        feature_code(&phone, "*1", registrar, credentials).await;
                    });
                    continue;
                }
                let talk = Duration::from_secs(dice.between(habits.talk_s.0, habits.talk_s.1));
                let result = match dice.between(0, 10) {
                    0..=5 => '1',
                    6 => '2',
                    7 => '3',
                    _ => '4',
                };
                let media = media.clone();
                let id = n | (u64::from(seed as u16) << 32);
                let login = login_owned.clone();
                tokio::spawn(async move {
                    operator_call(call, media, id, talk, result).await;
                    tracing::debug!(operator = %login, "demo call done");
                });
            }
        });
        Ok(Softphone {
            login: login.to_string(),
            agent,
            _registered: registered,
        })
    }
}

/// Auto-answers, talks, keys in the result, hangs up.
async fn operator_call(
    mut call: IncomingCall,
    media: Arc<PeerMedia>,
    id: u64,
    talk: Duration,
    result: char,
) {
    let Some((answer, leg, port)) = media.answer(id, &call.offer, "company") else {
        call.call.refuse(488, "Not Acceptable Here");
        return;
    };
    call.call.answer(answer);
    tokio::select! {
        _ = tokio::time::sleep(talk) => {
            leg.command(Command::SendDigits(result.to_string()));
            tokio::time::sleep(Duration::from_millis(600)).await;
            call.call.hang_up();
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut call.ended).await;
        }
        _ = &mut call.ended => {}
    }
    drop(leg);
    media.release(port);
}

/// Dials a feature code (`*1`, `*2`) to predial, answering its digest challenge.
pub async fn feature_code(
    phone: &SipAgent,
    code: &str,
    registrar: SocketAddr,
    credentials: Credentials,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let ours = phone.local_addr();
    let _control = phone.call(
        Outbound {
            id: 0,
            lead: 0,
            trunk: "feature code".into(),
            request_uri: format!("sip:{code}@{registrar}"),
            from_user: credentials.user.clone(),
            from_host: registrar.ip().to_string(),
            credential: Some(credentials),
            next_hop: Some(registrar),
            flow: None,
            transport: Transport::Udp,
            ring_timeout: Duration::from_secs(5),
            sdp_offer: sdp::offer(0, SocketAddr::new(ours.ip(), 9)),
            headers: Vec::new(),
        },
        tx,
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(u) = rx.recv().await {
            if matches!(u.event, crate::sip::CallEvent::Ended(_)) {
                break;
            }
        }
    })
    .await;
}

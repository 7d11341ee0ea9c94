//! Media for the engine's calls: an RTP port for each call's SDP offer, the leg started when
//! the call is answered (codec and telephone-events from the SDP answer), prompts, recordings.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::media::g711::Codec;
use crate::media::leg::{Event, Leg, LegParams};
use crate::media::phrases::{Lang, Prompts};
use crate::media::ports::{PortsError, RtpPorts};
use crate::sip::sdp;

/// The telephone-event payload type of our offers.
pub const OUR_EVENTS: u8 = 101;

/// Media settings of a run.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// RTP ports (even ones) calls take, first and last.
    pub ports: (u16, u16),
    /// Where bridged calls are recorded (none: not recorded).
    pub recordings: Option<PathBuf>,
    /// Recordings older than this are deleted (at start and every hour).
    pub keep_recordings: Duration,
    pub prompts: Prompts,
    pub lang: Lang,
    /// The number the abandoned-call message gives to call back.
    pub callback_number: Option<String>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            ports: (20_000, 29_998),
            recordings: None,
            keep_recordings: Duration::from_secs(30 * 86_400),
            prompts: Prompts::shipped(),
            lang: Lang::Ru,
            callback_number: None,
        }
    }
}

/// Why an answered call's media did not start.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error(transparent)]
    Answer(#[from] sdp::SdpError),
    #[error("the answer refuses the audio stream (port 0)")]
    AudioRefused,
    #[error("the answer has no codec we offered")]
    NoCodec,
    #[error("{0}")]
    Socket(std::io::Error),
}

/// Ports, and the legs' events.
pub struct MediaPool {
    pub config: MediaConfig,
    ip: IpAddr,
    ports: RtpPorts,
    pub events_tx: mpsc::UnboundedSender<(u64, Event)>,
}

/// A port taken for a call's offer, with its socket.
pub struct Reserved {
    pub port: u16,
    pub socket: std::net::UdpSocket,
}

impl MediaPool {
    pub fn new(
        config: MediaConfig,
        ip: IpAddr,
        events_tx: mpsc::UnboundedSender<(u64, Event)>,
    ) -> Result<MediaPool, PortsError> {
        // A port comes back into use 10 s after its call: late packets of the old call fall
        // into nothing.
        let ports = RtpPorts::new(
            config.ports.0,
            config.ports.1,
            Duration::from_secs(10),
            Instant::now(),
        )?;
        Ok(MediaPool {
            config,
            ip,
            ports,
            events_tx,
        })
    }

    /// A port for an offer.
    pub fn reserve(&mut self) -> Result<Reserved, PortsError> {
        let (port, socket) = self.ports.bind(self.ip, Instant::now())?;
        Ok(Reserved { port, socket })
    }

    pub fn release(&mut self, port: u16) {
        self.ports.release(port, Instant::now());
    }

    /// The SDP offer for a reserved port, of `codecs` (PCMU, PCMA).
    pub fn offer(&self, session: u64, r: &Reserved, codecs: &[String]) -> Vec<u8> {
        sdp::offer_codecs(session, SocketAddr::new(self.ip, r.port), codecs)
    }

    /// Starts the leg of an answered call: the codec is the answer's first we offered.
    pub fn start(
        &self,
        id: u64,
        r: Reserved,
        answer: &[u8],
        offered: &[String],
        signalling: Option<IpAddr>,
    ) -> Result<Leg, LegError> {
        let a = sdp::parse_answer(answer)?;
        let remote = a.rtp.ok_or(LegError::AudioRefused)?;
        let codec = a
            .payload_types
            .iter()
            .filter_map(|&pt| Codec::from_payload_type(pt))
            .find(|c| offered.iter().any(|o| o.eq_ignore_ascii_case(c.name())))
            .ok_or(LegError::NoCodec)?;
        let mut allowed = vec![remote.ip()];
        allowed.extend(signalling.filter(|ip| *ip != remote.ip()));
        Leg::start(
            r.socket,
            LegParams {
                codec,
                peer_events: a.telephone_event,
                our_events: OUR_EVENTS,
                remote,
                allowed,
            },
            id,
            self.events_tx.clone(),
        )
        .map_err(LegError::Socket)
    }

    pub fn prompts(&self) -> &Prompts {
        &self.config.prompts
    }
}

//! A media leg: one call's RTP socket and the task that serves it.
//!
//! The task receives the peer's RTP and, as told: relays it to another leg (a bridge), records
//! it, feeds it to the answering-machine detector, reports DTMF digits; and it plays prompts to
//! the peer in 20 ms packets. What leaves the leg is one continuous stream (`rtp::OutStream`).
//!
//! Symmetric RTP: packets are taken only from the peer's IP addresses (the SDP's and the
//! signalling's), and the leg sends to the source the peer really sends from once three packets
//! in a row came from it (a NAT in between) - never to a stranger ("RTP bleed").

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predial_core::amd::{Amd, AmdSettings, Decision};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use super::dtmf::{self, Digit, DtmfReceiver};
use super::g711::Codec;
use super::prompt::{FRAME, Player};
use super::recorder::{Recorder, Side};
use super::rtp::{self, Incoming, OutStream};

/// Packets in a row from a new source before the leg sends there.
const PROBATION: u32 = 3;

/// What a leg is set up with (from the SDP offer and answer).
#[derive(Debug, Clone)]
pub struct LegParams {
    pub codec: Codec,
    /// The payload type of telephone-events the peer uses (its SDP), and ours (our SDP).
    pub peer_events: Option<u8>,
    pub our_events: u8,
    /// Where the peer said to send RTP.
    pub remote: SocketAddr,
    /// Addresses RTP is accepted from (the SDP's, the signalling's).
    pub allowed: Vec<IpAddr>,
}

/// The sending half of a leg, which a bridged leg relays into.
#[derive(Debug)]
pub struct LegOut {
    /// The leg's socket, as the standard library's (non-blocking): a send is always tried by
    /// the kernel. tokio's `try_send_to` says "would block" until its reactor has first seen
    /// the socket writable, which on a busy machine dropped the first packets of a call (a
    /// prompt's first frame and digits sent at once).
    socket: std::net::UdpSocket,
    state: Mutex<OutState>,
}

#[derive(Debug)]
struct OutState {
    stream: OutStream,
    remote: SocketAddr,
    codec: Codec,
    events: u8,
    buf: Vec<u8>,
    samples: Vec<i16>,
    payload: Vec<u8>,
    sent: u64,
}

impl LegOut {
    /// Sends a packet of another leg to this leg's peer (transcoding when the codecs differ).
    fn relay(&self, packet: &Incoming<'_>, from: Codec, from_events: &[u8]) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        let st = &mut *st;
        if from_events.contains(&packet.payload_type) {
            let pt = st.events;
            st.stream.relay(packet, pt, &mut st.buf);
        } else if from == st.codec {
            let pt = st.codec.payload_type();
            st.stream.relay(packet, pt, &mut st.buf);
        } else {
            from.decode_into(packet.payload, &mut st.samples);
            st.codec.encode_into(&st.samples, &mut st.payload);
            let converted = Incoming {
                payload: &st.payload,
                ..*packet
            };
            let pt = st.codec.payload_type();
            st.stream.relay(&converted, pt, &mut st.buf);
        }
        self.send(st)
    }

    /// Sends one 20 ms frame of our own audio from `source` (a prompt).
    fn frame(&self, source: u32, samples: &[i16]) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        let st = &mut *st;
        st.codec.encode_into(samples, &mut st.payload);
        let pt = st.codec.payload_type();
        st.stream
            .next(source, pt, &st.payload, samples.len() as u32, &mut st.buf);
        self.send(st)
    }

    /// Sends a digit as telephone-events (RFC 4733).
    fn digit(&self, digit: char) -> bool {
        let Some(packets) = dtmf::packets(digit, 100, 10) else {
            return false;
        };
        let Ok(mut st) = self.state.lock() else {
            return false;
        };
        let st = &mut *st;
        let ts = st.stream.now_ts();
        let pt = st.events;
        for (marker, payload) in packets {
            st.stream.event(pt, marker, ts, &payload, &mut st.buf);
            self.send(st);
        }
        st.stream.skip(800);
        true
    }

    /// Sends the packet in `st.buf`; counts it when the kernel took it.
    fn send(&self, st: &mut OutState) -> bool {
        let sent = self.socket.send_to(&st.buf, st.remote).is_ok();
        st.sent += u64::from(sent);
        sent
    }

    fn set_remote(&self, remote: SocketAddr) {
        if let Ok(mut st) = self.state.lock() {
            st.remote = remote;
        }
    }

    /// The address this leg sends to now.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.state.lock().ok().map(|s| s.remote)
    }
}

/// What a leg is told to do.
pub enum Command {
    /// Play prompts; `tag` comes back in `Event::Played`. Replaces what was playing.
    Play {
        player: Player,
        tag: u32,
    },
    StopPlaying,
    /// Relay what arrives to that leg (and keep relaying until `Unbridge`).
    Bridge(Arc<LegOut>),
    Unbridge,
    /// Record what arrives on `side`; what this leg plays goes on the other side.
    Record {
        recorder: Arc<Mutex<Recorder>>,
        side: Side,
    },
    /// Run the answering-machine detector on what arrives.
    DetectMachine(AmdSettings),
    SendDigits(String),
    Close,
}

/// What a leg reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A sequence of prompts finished (or was replaced).
    Played {
        tag: u32,
        finished: bool,
    },
    Digit(Digit),
    Machine(Decision),
    Closed(LegStats),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    pub received: u64,
    pub sent: u64,
    pub relayed: u64,
    /// Packets from addresses that are not the peer's.
    pub foreign: u64,
    /// Gaps in the peer's sequence numbers.
    pub lost: u64,
}

/// A leg: its socket's address, the handle to command it, and its sending half.
pub struct Leg {
    pub local: SocketAddr,
    pub out: Arc<LegOut>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Leg {
    /// Starts serving `socket` (bound already, from the port range) for a peer; events go to
    /// `events` tagged with `id`.
    pub fn start(
        socket: std::net::UdpSocket,
        params: LegParams,
        id: u64,
        events: mpsc::UnboundedSender<(u64, Event)>,
    ) -> std::io::Result<Leg> {
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        let sender = socket.try_clone()?;
        let socket = Arc::new(UdpSocket::from_std(socket)?);
        let ssrc = rand_u32(id, local.port());
        let out = Arc::new(LegOut {
            socket: sender,
            state: Mutex::new(OutState {
                stream: OutStream::new(ssrc, (ssrc >> 16) as u16, ssrc.rotate_left(7)),
                remote: params.remote,
                codec: params.codec,
                events: params.peer_events.unwrap_or(params.our_events),
                buf: Vec::with_capacity(200),
                samples: Vec::with_capacity(FRAME),
                payload: Vec::with_capacity(FRAME),
                sent: 0,
            }),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(serve(socket, out.clone(), params, id, rx, events));
        Ok(Leg {
            local,
            out,
            commands: tx,
        })
    }

    pub fn command(&self, c: Command) {
        let _ = self.commands.send(c);
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close);
    }
}

/// A per-leg SSRC, spread over the 32 bits (no clock, no OS randomness needed).
fn rand_u32(id: u64, port: u16) -> u32 {
    let mut x = id ^ (u64::from(port) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x as u32
}

struct Serving {
    params: LegParams,
    out: Arc<LegOut>,
    stats: LegStats,
    /// A new source on probation: address, SSRC, packets seen in a row.
    candidate: Option<(SocketAddr, u32, u32)>,
    latched: Option<SocketAddr>,
    last_seq: Option<u16>,
    bridge: Option<Arc<LegOut>>,
    recorder: Option<(Arc<Mutex<Recorder>>, Side)>,
    amd: Option<Amd>,
    dtmf: DtmfReceiver,
    player: Option<(Player, u32)>,
    samples: Vec<i16>,
    events: mpsc::UnboundedSender<(u64, Event)>,
    id: u64,
}

async fn serve(
    socket: Arc<UdpSocket>,
    out: Arc<LegOut>,
    params: LegParams,
    id: u64,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<(u64, Event)>,
) {
    let mut s = Serving {
        params,
        out,
        stats: LegStats::default(),
        candidate: None,
        latched: None,
        last_seq: None,
        bridge: None,
        recorder: None,
        amd: None,
        dtmf: DtmfReceiver::default(),
        player: None,
        samples: Vec::with_capacity(FRAME),
        events,
        id,
    };
    let mut buf = vec![0u8; 2048];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => s.packet(&buf[..n], from),
                Err(e) => debug!(error = %e, "RTP receive failed"),
            },
            _ = tick.tick(), if s.player.is_some() => s.play(),
            c = commands.recv() => match c {
                None | Some(Command::Close) => break,
                Some(c) => {
                    if matches!(c, Command::Play { .. }) {
                        // The first frame goes now, the next 20 ms later.
                        tick.reset();
                    }
                    s.command(c);
                }
            },
        }
    }
    if let Some(d) = s.dtmf.flush() {
        let _ = s.events.send((s.id, Event::Digit(d)));
    }
    s.stats.sent = s.out.state.lock().map_or(0, |st| st.sent);
    // Let go of the recording before saying so: whoever hears `Closed` may finish it.
    s.recorder = None;
    s.bridge = None;
    let _ = s.events.send((s.id, Event::Closed(s.stats)));
}

impl Serving {
    fn packet(&mut self, data: &[u8], from: SocketAddr) {
        if !self.params.allowed.contains(&from.ip()) {
            self.stats.foreign += 1;
            return;
        }
        let Some(p) = rtp::parse(data) else { return };
        self.stats.received += 1;
        self.latch(from, p.ssrc);
        if let Some(last) = self.last_seq {
            let gap = p.sequence.wrapping_sub(last);
            if (2..1000).contains(&gap) {
                self.stats.lost += u64::from(gap - 1);
            }
        }
        self.last_seq = Some(p.sequence);
        let our = self.params.our_events;
        let events = [our, self.params.peer_events.unwrap_or(our)];
        if events.contains(&p.payload_type) {
            if let Some(d) = self.dtmf.packet(p.timestamp, p.payload) {
                let _ = self.events.send((self.id, Event::Digit(d)));
            }
            if let Some(b) = &self.bridge
                && b.relay(&p, self.params.codec, &events)
            {
                self.stats.relayed += 1;
            }
            return;
        }
        let Some(codec) = Codec::from_payload_type(p.payload_type) else {
            return;
        };
        if let Some(b) = &self.bridge
            && b.relay(&p, codec, &[])
        {
            self.stats.relayed += 1;
        }
        if self.recorder.is_none() && self.amd.is_none() {
            return;
        }
        codec.decode_into(p.payload, &mut self.samples);
        if let Some((rec, side)) = &self.recorder
            && let Ok(mut r) = rec.lock()
        {
            r.push(*side, p.ssrc, p.timestamp, &self.samples, Instant::now());
        }
        if let Some(amd) = &mut self.amd {
            let mut decided = None;
            for frame in self.samples.chunks(FRAME) {
                decided = decided.or(amd.frame(frame));
            }
            if let Some(d) = decided {
                self.amd = None;
                let _ = self.events.send((self.id, Event::Machine(d)));
            }
        }
    }

    /// Symmetric RTP: follow the peer to the address it really sends from, after probation.
    fn latch(&mut self, from: SocketAddr, ssrc: u32) {
        let current = self.latched.unwrap_or(self.params.remote);
        if from == current {
            self.candidate = None;
            if self.latched.is_none() {
                self.latched = Some(from);
            }
            return;
        }
        let seen = match self.candidate {
            Some((addr, s, n)) if addr == from && s == ssrc => n + 1,
            _ => 1,
        };
        self.candidate = Some((from, ssrc, seen));
        if seen >= PROBATION {
            debug!(from = %current, to = %from, "RTP latched to where the peer sends from");
            self.latched = Some(from);
            self.candidate = None;
            self.out.set_remote(from);
        }
    }

    fn play(&mut self) {
        let Some((player, tag)) = &mut self.player else {
            return;
        };
        match player.next_frame() {
            Some(frame) => {
                let source = 0x5052_0000 | (*tag & 0xFFFF);
                self.out.frame(source, &frame);
                if let Some((rec, side)) = &self.recorder
                    && let Ok(mut r) = rec.lock()
                {
                    let other = match side {
                        Side::Callee => Side::Operator,
                        Side::Operator => Side::Callee,
                    };
                    let ts = self.out.state.lock().map_or(0, |st| st.stream.now_ts());
                    r.push(other, source, ts, &frame, Instant::now());
                }
            }
            None => {
                let tag = *tag;
                self.player = None;
                let _ = self.events.send((
                    self.id,
                    Event::Played {
                        tag,
                        finished: true,
                    },
                ));
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Play { player, tag } => {
                if let Some((_, old)) = self.player.replace((player, tag)) {
                    let _ = self.events.send((
                        self.id,
                        Event::Played {
                            tag: old,
                            finished: false,
                        },
                    ));
                }
                // The first frame now, the rest on the 20 ms tick.
                self.play();
            }
            Command::StopPlaying => {
                if let Some((_, tag)) = self.player.take() {
                    let _ = self.events.send((
                        self.id,
                        Event::Played {
                            tag,
                            finished: false,
                        },
                    ));
                }
            }
            Command::Bridge(to) => self.bridge = Some(to),
            Command::Unbridge => self.bridge = None,
            Command::Record { recorder, side } => self.recorder = Some((recorder, side)),
            Command::DetectMachine(settings) => self.amd = Some(Amd::new(settings)),
            Command::SendDigits(digits) => {
                for d in digits.chars() {
                    self.out.digit(d);
                }
            }
            Command::Close => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::prompt::Audio;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn socket() -> std::net::UdpSocket {
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    async fn recv(s: &UdpSocket) -> Vec<u8> {
        let mut buf = [0u8; 1500];
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
            .await
            .expect("a packet in time")
            .unwrap();
        buf[..n].to_vec()
    }

    fn params(remote: SocketAddr, codec: Codec) -> LegParams {
        LegParams {
            codec,
            peer_events: Some(101),
            our_events: 101,
            remote,
            allowed: vec![remote.ip()],
        }
    }

    #[test]
    fn a_bridge_relays_both_ways_and_transcodes() {
        rt().block_on(async {
            let a_peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b_peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let a = Leg::start(
                socket(),
                params(a_peer.local_addr().unwrap(), Codec::Pcmu),
                1,
                tx.clone(),
            )
            .unwrap();
            let b = Leg::start(
                socket(),
                params(b_peer.local_addr().unwrap(), Codec::Pcma),
                2,
                tx,
            )
            .unwrap();
            a.command(Command::Bridge(b.out.clone()));
            b.command(Command::Bridge(a.out.clone()));
            tokio::task::yield_now().await;
            // The callee (PCMU) talks: the operator's side gets A-law, in a stream of its own.
            let mut src = OutStream::new(77, 1, 1);
            let mut pkt = Vec::new();
            let loud = Codec::Pcmu.encode(8000);
            for _ in 0..3 {
                src.next(1, 0, &[loud; 160], 160, &mut pkt);
                a_peer.send_to(&pkt, a.local).await.unwrap();
                let got = recv(&b_peer).await;
                let p = rtp::parse(&got).unwrap();
                assert_eq!(p.payload_type, 8);
                assert_ne!(p.ssrc, 77);
                let v = Codec::Pcma.decode(p.payload[0]);
                assert!((7500..=8500).contains(&v), "{v}");
            }
            // And back.
            let mut src = OutStream::new(88, 1, 1);
            src.next(1, 8, &[Codec::Pcma.encode(-4000); 160], 160, &mut pkt);
            b_peer.send_to(&pkt, b.local).await.unwrap();
            let p = recv(&a_peer).await;
            assert_eq!(rtp::parse(&p).unwrap().payload_type, 0);
            // A stranger's packets are dropped (the next packet through shows it was read).
            let stranger = UdpSocket::bind("127.0.0.2:0").await.unwrap();
            stranger.send_to(&pkt, a.local).await.unwrap();
            let mut src = OutStream::new(77, 9, 9);
            src.next(1, 0, &[loud; 160], 160, &mut pkt);
            a_peer.send_to(&pkt, a.local).await.unwrap();
            recv(&b_peer).await;
            drop(a);
            drop(b);
            let mut closed = Vec::new();
            while closed.len() < 2 {
                if let Some((id, Event::Closed(st))) = rx.recv().await {
                    closed.push((id, st));
                }
            }
            closed.sort_by_key(|c| c.0);
            assert_eq!(closed[0].1.received, 4);
            assert_eq!(closed[0].1.relayed, 4);
            assert_eq!(closed[0].1.foreign, 1);
            assert_eq!(closed[1].1.relayed, 1);
        });
    }

    #[test]
    fn the_leg_follows_the_peer_after_probation_and_plays_prompts() {
        rt().block_on(async {
            let sdp_says = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let really = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let (tx, mut rx) = mpsc::unbounded_channel();
            let leg = Leg::start(
                socket(),
                params(sdp_says.local_addr().unwrap(), Codec::Pcmu),
                1,
                tx,
            )
            .unwrap();
            let mut src = OutStream::new(5, 1, 1);
            let mut pkt = Vec::new();
            for i in 0..3 {
                src.next(1, 0, &[0xFF; 160], 160, &mut pkt);
                really.send_to(&pkt, leg.local).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                let expected = if i < 2 {
                    sdp_says.local_addr().unwrap()
                } else {
                    really.local_addr().unwrap()
                };
                assert_eq!(leg.out.remote(), Some(expected), "after {} packets", i + 1);
            }
            // A prompt of 3 frames goes to the latched address, 20 ms apart, then "played".
            let audio = Audio {
                name: "t".into(),
                samples: vec![1000i16; 480].into(),
            };
            leg.command(Command::Play {
                player: Player::new(vec![audio], false),
                tag: 7,
            });
            let started = Instant::now();
            let mut seqs = Vec::new();
            for _ in 0..3 {
                let p = recv(&really).await;
                seqs.push(rtp::parse(&p).unwrap().sequence);
            }
            assert!(started.elapsed() >= Duration::from_millis(35));
            assert_eq!(seqs[1], seqs[0].wrapping_add(1));
            assert_eq!(seqs[2], seqs[0].wrapping_add(2));
            loop {
                match rx.recv().await {
                    Some((
                        1,
                        Event::Played {
                            tag: 7,
                            finished: true,
                        },
                    )) => break,
                    Some(_) => continue,
                    None => panic!("no played event"),
                }
            }
            // DTMF sent and heard: digits in, digits out.
            leg.command(Command::SendDigits("5".into()));
            let mut rx_dtmf = DtmfReceiver::default();
            let mut heard = None;
            while heard.is_none() {
                let p = recv(&really).await;
                let p = rtp::parse(&p).unwrap();
                assert_eq!(p.payload_type, 101);
                heard = rx_dtmf.packet(p.timestamp, p.payload);
            }
            assert_eq!(heard.unwrap().digit, '5');
            for (m, payload) in dtmf::packets('#', 120, 10).unwrap() {
                let mut out = OutStream::new(5, 100, 5000);
                out.event(101, m, 5000, &payload, &mut pkt);
                really.send_to(&pkt, leg.local).await.unwrap();
            }
            loop {
                match rx.recv().await {
                    Some((1, Event::Digit(d))) => {
                        assert_eq!(d.digit, '#');
                        break;
                    }
                    Some(_) => continue,
                    None => panic!("no digit"),
                }
            }
        });
    }
}

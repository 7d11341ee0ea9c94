//! `predial bench relay`: N bridged calls relayed (and recorded) on loopback, the way the engine
//! bridges a callee and an operator: two media legs per call, each relaying into the other.
//!
//! The callers and operators are simulated by a second process (`predial bench relay-peers`,
//! started by this one) so that the CPU measured is the relay's alone: each of its 2N endpoints
//! sends a 20 ms G.711 packet every 20 ms to its leg, stamped with the time it was sent, and
//! counts what arrives from the other side and how late.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::media::g711::Codec;
use crate::media::leg::{Command, Event, Leg, LegParams};
use crate::media::recorder::{CallKind, Recorder, RecordingName, Side};
use crate::media::rtp::{self, OutStream};

/// What stops the relay benchmark: its two processes, their sockets and the talk between them.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("no stdin")]
    NoStdin,
    #[error("no stdout")]
    NoStdout,
    #[error("the relay stopped")]
    RelayStopped,
    #[error("expected go, got {0}")]
    NotGo(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Address(#[from] std::net::AddrParseError),
    #[error(transparent)]
    Report(#[from] serde_json::Error),
    #[error(transparent)]
    Record(#[from] crate::media::recorder::RecordError),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default)]
pub struct Micros {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RelayBench {
    pub calls: usize,
    pub seconds: f64,
    pub recorded: bool,
    /// Packets the simulated callers and operators sent (both ways).
    pub packets_sent: u64,
    /// Of those, not delivered to the other side.
    pub packets_lost: u64,
    pub loss_ratio: f64,
    /// The relay's CPU while the calls ran, % of one core.
    pub cpu_percent: f64,
    pub cpu_us_per_call_second: f64,
    /// Sent by an endpoint to received by the other, through the relay (an upper bound on what
    /// the relay adds: it includes both endpoints' scheduling).
    pub added_latency_us: Micros,
    /// The same two endpoints' send-to-receive time over loopback without the relay.
    pub direct_latency_us: Micros,
}

/// What the peers' process reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeersReport {
    pub sent: u64,
    pub received: u64,
    pub latency_us: Micros,
    pub direct_latency_us: Micros,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// CPU time of this process (user + system).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name (which may hold spaces): state, ppid, ... utime is the 12th field
    // from there, stime the 13th (proc(5): fields 14 and 15).
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let mut f = after.split_whitespace().skip(11);
    let utime: u64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    let stime: u64 = f.next().and_then(|x| x.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros((utime + stime) * 1_000_000 / hz)
}

fn percentiles(mut v: Vec<u32>) -> Micros {
    if v.is_empty() {
        return Micros::default();
    }
    v.sort_unstable();
    let at = |q: f64| f64::from(v[((v.len() - 1) as f64 * q).round() as usize]);
    Micros {
        p50: at(0.5),
        p99: at(0.99),
        max: f64::from(*v.last().unwrap_or(&0)),
    }
}

/// The relay side: legs in pairs, bridged, talking to the peers' process.
pub fn run(calls: usize, seconds: f64, record: bool) -> Result<RelayBench, RelayError> {
    let exe = std::env::current_exe()?;
    let mut child = Process::new(exe)
        .args([
            "bench",
            "relay-peers",
            "--calls",
            &calls.to_string(),
            "--seconds",
        ])
        .arg(seconds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut to_child = child.stdin.take().ok_or(RelayError::NoStdin)?;
    let mut from_child = BufReader::new(child.stdout.take().ok_or(RelayError::NoStdout)?);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let record_dir = std::env::temp_dir().join(format!("predial-relay-{}", std::process::id()));
    let dir = record_dir.clone();
    let result = runtime.block_on(async move {
        let record_dir = dir;
        // 1. Our legs' sockets; their addresses go to the peers, theirs come back.
        let mut sockets = Vec::with_capacity(2 * calls);
        for _ in 0..2 * calls {
            sockets.push(std::net::UdpSocket::bind("127.0.0.1:0")?);
        }
        for s in &sockets {
            writeln!(to_child, "{}", s.local_addr()?)?;
        }
        to_child.flush()?;
        let mut peers = Vec::with_capacity(2 * calls);
        for _ in 0..2 * calls {
            let mut line = String::new();
            from_child.read_line(&mut line)?;
            peers.push(line.trim().parse::<SocketAddr>()?);
        }
        // 2. Legs, bridged in pairs (and recorded).
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut legs = Vec::with_capacity(2 * calls);
        for (i, (socket, peer)) in sockets.into_iter().zip(&peers).enumerate() {
            let params = LegParams {
                codec: Codec::Pcmu,
                peer_events: Some(101),
                our_events: 101,
                remote: *peer,
                allowed: vec![peer.ip()],
            };
            legs.push(Leg::start(socket, params, i as u64, tx.clone())?);
        }
        for pair in legs.chunks(2) {
            pair[0].command(Command::Bridge(pair[1].out.clone()));
            pair[1].command(Command::Bridge(pair[0].out.clone()));
        }
        if record {
            let now = Instant::now();
            for (i, pair) in legs.chunks(2).enumerate() {
                let rec = Arc::new(Mutex::new(Recorder::create(
                    &record_dir,
                    &RecordingName::new(CallKind::Test, i as u64, std::time::SystemTime::now()),
                    now,
                )?));
                pair[0].command(Command::Record {
                    recorder: rec.clone(),
                    side: Side::Callee,
                });
                pair[1].command(Command::Record {
                    recorder: rec,
                    side: Side::Operator,
                });
            }
        }
        // 3. Go; measure our CPU while the peers talk.
        writeln!(to_child, "go")?;
        to_child.flush()?;
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        // The peers' report comes when they are done: read it off the runtime's threads.
        let report: PeersReport = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            from_child.read_line(&mut line)?;
            Ok::<_, RelayError>(serde_json::from_str(line.trim())?)
        })
        .await??;
        let wall = t0.elapsed();
        let cpu = cpu_time().saturating_sub(cpu0);
        drop(legs);
        let mut closed = 0;
        while closed < 2 * calls {
            match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
                Ok(Some((_, Event::Closed(_)))) => closed += 1,
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        Ok::<_, RelayError>((report, wall, cpu))
    });
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&record_dir);
    let (report, wall, cpu) = result?;
    let cpu_percent = cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9) * 100.0;
    Ok(RelayBench {
        calls,
        seconds,
        recorded: record,
        packets_sent: report.sent,
        packets_lost: report.sent.saturating_sub(report.received),
        loss_ratio: if report.sent == 0 {
            0.0
        } else {
            report.sent.saturating_sub(report.received) as f64 / report.sent as f64
        },
        cpu_percent,
        cpu_us_per_call_second: cpu.as_secs_f64() * 1e6
            / (calls as f64 * wall.as_secs_f64()).max(1e-9),
        added_latency_us: report.latency_us,
        direct_latency_us: report.direct_latency_us,
    })
}

/// The peers' process: reads the relay's leg addresses on stdin, answers with its own, waits
/// for "go", talks for `seconds`, and prints one JSON `PeersReport`.
///
/// Every caller and operator shares one socket (symmetric RTP: the legs answer where packets
/// come from), served with batched system calls (sendmmsg, recvmmsg) by two plain threads, so
/// that the load costs as little as can be and the relay is what is measured.
pub fn peers(calls: usize, seconds: f64) -> Result<(), RelayError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut legs = Vec::with_capacity(2 * calls);
    for _ in 0..2 * calls {
        let line = lines.next().ok_or(RelayError::RelayStopped)??;
        legs.push(line.trim().parse::<SocketAddr>()?);
    }
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    {
        let s = socket2::SockRef::from(&socket);
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
    }
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut out = std::io::stdout().lock();
    for _ in 0..2 * calls {
        writeln!(out, "{}", socket.local_addr()?)?;
    }
    out.flush()?;
    let go = lines.next().ok_or(RelayError::RelayStopped)??;
    if go.trim() != "go" {
        return Err(RelayError::NotGo(go));
    }
    let direct = direct_latency()?;

    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let socket = socket.try_clone()?;
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut lat = Vec::with_capacity(1 << 20);
            let mut received = 0u64;
            let mut batch = mmsg::Batch::new(64, 512);
            while !stop.load(Ordering::Relaxed) {
                for p in batch.recv(&socket) {
                    if let Some(p) = rtp::parse(p)
                        && p.payload.len() >= 8
                    {
                        let sent = u64::from_be_bytes(p.payload[..8].try_into().unwrap_or([0; 8]));
                        lat.push(
                            (now_ns().saturating_sub(sent) / 1000).min(u64::from(u32::MAX)) as u32,
                        );
                        received += 1;
                    }
                }
            }
            (received, lat)
        })
    };
    // Every endpoint sends a packet every 20 ms, for `seconds`, spread over the 20 ms as real
    // calls are: each millisecond, the endpoints of one twentieth.
    let mut streams: Vec<OutStream> = (0..2 * calls as u32)
        .map(|i| OutStream::new(0x1000_0000 + i, i as u16, i.wrapping_mul(7919)))
        .collect();
    let mut payload = [0xFFu8; 160];
    let mut pkt = Vec::with_capacity(200);
    let mut sent = 0u64;
    let mut batch = mmsg::SendBatch::new(64);
    let rounds = (seconds * 50.0).round() as u64;
    let start = Instant::now();
    for round in 0..rounds * 20 {
        let due = start + Duration::from_millis(round);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let slot = (round % 20) as usize;
        for i in (slot..2 * calls).step_by(20) {
            payload[..8].copy_from_slice(&now_ns().to_be_bytes());
            streams[i].next(1, 0, &payload, 160, &mut pkt);
            if batch.push(&pkt, legs[i]) {
                sent += batch.flush(&socket);
            }
        }
        sent += batch.flush(&socket);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (received, all) = receiver.join().unwrap_or_default();
    let report = PeersReport {
        sent,
        received,
        latency_us: percentiles(all),
        direct_latency_us: direct,
    };
    writeln!(out, "{}", serde_json::to_string(&report)?)?;
    out.flush()?;
    Ok(())
}

/// Send-to-receive time between two loopback sockets, without the relay (200 packets).
fn direct_latency() -> std::io::Result<Micros> {
    let a = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let b = std::net::UdpSocket::bind("127.0.0.1:0")?;
    b.set_read_timeout(Some(Duration::from_millis(100)))?;
    let to = b.local_addr()?;
    let mut lat = Vec::new();
    let mut buf = [0u8; 64];
    for _ in 0..200 {
        a.send_to(&now_ns().to_be_bytes(), to)?;
        if let Ok((n, _)) = b.recv_from(&mut buf)
            && n >= 8
        {
            let sent = u64::from_be_bytes(buf[..8].try_into().unwrap_or([0; 8]));
            lat.push((now_ns().saturating_sub(sent) / 1000) as u32);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(percentiles(lat))
}

/// sendmmsg / recvmmsg over a std UDP socket (Linux), for the load generator.
mod mmsg {
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;

    fn sockaddr(a: SocketAddr) -> Option<libc::sockaddr_in> {
        let SocketAddr::V4(v4) = a else { return None };
        Some(libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        })
    }

    /// Packets waiting to go, each with its destination.
    pub struct SendBatch {
        cap: usize,
        data: Vec<Vec<u8>>,
        addrs: Vec<libc::sockaddr_in>,
    }

    impl SendBatch {
        pub fn new(cap: usize) -> SendBatch {
            SendBatch {
                cap,
                data: Vec::with_capacity(cap),
                addrs: Vec::with_capacity(cap),
            }
        }

        /// Queues a packet; true when the batch is full.
        pub fn push(&mut self, packet: &[u8], to: SocketAddr) -> bool {
            if let Some(a) = sockaddr(to) {
                self.data.push(packet.to_vec());
                self.addrs.push(a);
            }
            self.data.len() >= self.cap
        }

        /// Sends what is queued; returns how many went.
        pub fn flush(&mut self, socket: &UdpSocket) -> u64 {
            let n = self.data.len();
            if n == 0 {
                return 0;
            }
            let mut iovs: Vec<libc::iovec> = self
                .data
                .iter_mut()
                .map(|d| libc::iovec {
                    iov_base: d.as_mut_ptr().cast(),
                    iov_len: d.len(),
                })
                .collect();
            // SAFETY: msghdr is plain data; every pointer set below points into `iovs` and
            // `self.addrs`, which outlive the sendmmsg call and are not moved during it.
            let mut msgs: Vec<libc::mmsghdr> = (0..n)
                .map(|i| {
                    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                    h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
                    h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                    h.msg_iov = &mut iovs[i];
                    h.msg_iovlen = 1;
                    libc::mmsghdr {
                        msg_hdr: h,
                        msg_len: 0,
                    }
                })
                .collect();
            let mut done = 0usize;
            while done < n {
                // SAFETY: `msgs[done..]` holds `n - done` initialised headers (see above).
                let r = unsafe {
                    libc::sendmmsg(
                        socket.as_raw_fd(),
                        msgs[done..].as_mut_ptr(),
                        (n - done) as libc::c_uint,
                        0,
                    )
                };
                if r <= 0 {
                    break;
                }
                done += r as usize;
            }
            self.data.clear();
            self.addrs.clear();
            done as u64
        }
    }

    /// Buffers for receiving up to `count` datagrams at once.
    pub struct Batch {
        bufs: Vec<Vec<u8>>,
        lens: Vec<usize>,
    }

    impl Batch {
        pub fn new(count: usize, size: usize) -> Batch {
            Batch {
                bufs: vec![vec![0u8; size]; count],
                lens: vec![0; count],
            }
        }

        /// Waits (up to the socket's read timeout) and returns the datagrams that arrived.
        pub fn recv(&mut self, socket: &UdpSocket) -> impl Iterator<Item = &[u8]> {
            let mut iovs: Vec<libc::iovec> = self
                .bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.as_mut_ptr().cast(),
                    iov_len: b.len(),
                })
                .collect();
            // SAFETY: as in `SendBatch::flush`: pointers into `iovs`, alive for the call.
            let mut msgs: Vec<libc::mmsghdr> = iovs
                .iter_mut()
                .map(|iov| {
                    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
                    h.msg_iov = iov;
                    h.msg_iovlen = 1;
                    libc::mmsghdr {
                        msg_hdr: h,
                        msg_len: 0,
                    }
                })
                .collect();
            // SAFETY: `msgs` holds `len` initialised headers whose buffers are `self.bufs`.
            let r = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    msgs.len() as libc::c_uint,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            let got = if r > 0 { r as usize } else { 0 };
            for (i, m) in msgs.iter().take(got).enumerate() {
                self.lens[i] = m.msg_len as usize;
            }
            self.bufs
                .iter()
                .zip(&self.lens)
                .take(got)
                .map(|(b, &l)| &b[..l.min(b.len())])
        }
    }
}

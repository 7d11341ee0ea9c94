//! Real SIP peers for the tests: SIPp and kamailio from Debian's packages, started on loopback
//! ports of their own, and stopped (SIGTERM, then SIGKILL) when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The folder of the SIPp scenarios and the kamailio config.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Runs a SIPp client scenario once against `target`, its fields from one CSV line
/// (`a;b;c`); true when SIPp saw what the scenario expects.
pub fn sipp_once(scenario_file: &str, target: SocketAddr, fields: &str) -> bool {
    sipp_client(
        scenario_file,
        target,
        free_port(),
        &[fields.to_string()],
        10,
    )
}

/// Runs a SIPp client scenario against `target` from `local_port`, one call per CSV line of
/// fields (`a;b;c`), ten calls a second, all at once if they last; true when SIPp saw every
/// call go as the scenario expects (within `timeout_s`).
pub fn sipp_client(
    scenario_file: &str,
    target: SocketAddr,
    local_port: u16,
    lines: &[String],
    timeout_s: u32,
) -> bool {
    sipp_client_with(scenario_file, target, local_port, lines, timeout_s, &[])
}

/// The same, with more SIPp options (`-cid_str ...`).
pub fn sipp_client_with(
    scenario_file: &str,
    target: SocketAddr,
    local_port: u16,
    lines: &[String],
    timeout_s: u32,
    extra: &[&str],
) -> bool {
    need("sipp", "sip-tester");
    let csv = std::env::temp_dir().join(format!(
        "predial-sipp-{}-{}.csv",
        std::process::id(),
        free_port()
    ));
    std::fs::write(&csv, format!("SEQUENTIAL\n{}\n", lines.join("\n"))).expect("a CSV file");
    let n = lines.len().to_string();
    let status = Command::new("sipp")
        .arg("-sf")
        .arg(scenario(scenario_file))
        .arg("-inf")
        .arg(&csv)
        .arg(target.to_string())
        .args(["-i", "127.0.0.1", "-p", &local_port.to_string()])
        .args(["-mp", &free_ports(4).to_string()])
        .args(["-m", &n, "-l", &n, "-r", "10", "-nostdin"])
        .args(["-timeout", &format!("{timeout_s}s")])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp runs");
    let _ = std::fs::remove_file(&csv);
    status.success()
}

/// A port free on 127.0.0.1 for both UDP and TCP. It is picked below the kernel's ephemeral
/// range (32768 and up), so no outgoing connection of another test takes it between the pick
/// and its bind, and never twice in one test run.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `n` consecutive ports free on 127.0.0.1 (UDP and TCP), never handed out twice by
/// this process. The ports lie between predial's RTP range (20000-29998 by default, taken
/// lowest first by every predial a test starts) and the kernel's ephemeral ports (32768 up).
/// SIPp's media port needs four: RTP and RTCP for audio, and video two above.
pub fn free_ports(n: u32) -> u16 {
    const FIRST: u32 = 30_000;
    const SPAN: u32 = 2_700;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let at = NEXT.fetch_add(n, Ordering::Relaxed);
        let first = FIRST + (start + at) % SPAN;
        if first + n > FIRST + SPAN {
            continue;
        }
        let free = (first..first + n).all(|p| {
            let p = p as u16;
            UdpSocket::bind(("127.0.0.1", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
        });
        if free {
            return first as u16;
        }
    }
    panic!(
        "no {n} free ports on 127.0.0.1 from {FIRST} to {}",
        FIRST + SPAN
    )
}

/// Fails with what to do when a tool the tests need is missing.
pub fn need(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "`{tool}` is not installed: run the tests with ./dev test, which installs the Debian package {package}"
    );
}

pub struct Peer {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Peer {
    /// A SIPp UAS running `scenario` on a free port.
    pub fn sipp_uas(scenario_file: &str, extra: &[&str]) -> Peer {
        need("sipp", "sip-tester");
        let port = free_port();
        let media = free_ports(4);
        let log =
            std::env::temp_dir().join(format!("predial-sipp-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log).expect("a log file");
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(scenario(scenario_file))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-mp",
                &media.to_string(),
                "-nostdin",
                "-aa",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("sipp starts");
        let peer = Peer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        if extra.windows(2).any(|w| w == ["-t", "t1"]) {
            peer.wait_listening_tcp();
        } else {
            peer.wait_listening();
        }
        peer
    }

    /// Waits (bounded) until the peer's TCP port is taken.
    fn wait_listening_tcp(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpListener::bind(self.addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the peer did not start listening on TCP {}; see {}",
            self.addr,
            self.log.display()
        );
    }

    /// kamailio as a registrar on `port` (a free one when `None`), from
    /// `kamailio-registrar.cfg` with its port and folders made this test's own.
    pub fn kamailio(port: Option<u16>) -> Peer {
        Peer::kamailio_with(port, None)
    }

    /// kamailio that also takes TLS on `tls_port`, with a certificate for 127.0.0.1 signed by a
    /// test CA of its own: `<folder of the log>/ca.crt`.
    pub fn kamailio_tls(tls_port: u16) -> Peer {
        Peer::kamailio_with(None, Some(tls_port))
    }

    fn kamailio_with(port: Option<u16>, tls_port: Option<u16>) -> Peer {
        need("kamailio", "kamailio");
        let port = port.unwrap_or_else(free_port);
        let dir = std::env::temp_dir().join(format!("predial-kam-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for kamailio");
        let mut cfg = std::fs::read_to_string(scenario("kamailio-registrar.cfg"))
            .expect("the kamailio config")
            .replace("5070", &port.to_string())
            .replace("/tmp/kam", &dir.to_string_lossy());
        if let Some(tls_port) = tls_port {
            need("openssl", "openssl");
            assert!(
                std::path::Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so").exists()
                    || Command::new("sh")
                        .arg("-c")
                        .arg("ls /usr/lib/*/kamailio/modules/tls.so")
                        .output()
                        .is_ok_and(|o| o.status.success()),
                "kamailio's TLS module is missing: run the tests with ./dev test, which installs kamailio-tls-modules"
            );
            make_test_certificates(&dir);
            let d = dir.to_string_lossy();
            std::fs::write(
                dir.join("tls.cfg"),
                format!(
                    "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\nprivate_key = {d}/server.key\ncertificate = {d}/server.crt\n\n[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                ),
            )
            .expect("tls.cfg");
            cfg = cfg
                .replace(
                    "tcp_connection_lifetime=",
                    &format!("enable_tls=yes\nlisten=tls:127.0.0.1:{tls_port}\ntcp_connection_lifetime="),
                )
                .replace(
                    "loadmodule \"kex.so\"",
                    &format!("loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{d}/tls.cfg\")\nloadmodule \"kex.so\""),
                );
        }
        let cfg_file = dir.join("kamailio.cfg");
        std::fs::write(&cfg_file, cfg).expect("the kamailio config is written");
        let log = dir.join("kamailio.log");
        let out = std::fs::File::create(&log).expect("a log file");
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(&cfg_file)
            .args(["-DD", "-E", "-Y"])
            .arg(&dir)
            .arg("-w")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("kamailio starts");
        let peer = Peer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        peer.wait_listening();
        if let Some(tls_port) = tls_port {
            peer.wait_accepting(tls_port);
        }
        peer
    }

    /// Waits (bounded) until the peer accepts TCP connections on `port` of 127.0.0.1.
    fn wait_accepting(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the peer does not accept connections on 127.0.0.1:{port}; see {}",
            self.log.display()
        );
    }

    /// The test CA's certificate (kamailio started by `kamailio_tls`).
    pub fn test_ca(&self) -> PathBuf {
        self.log.with_file_name("ca.crt")
    }

    /// kamailio's registered contacts (`kamcmd ul.dump`): the lines naming an address.
    pub fn kamailio_contacts(&self) -> Vec<String> {
        let ctl = self.log.with_file_name("kamailio_ctl");
        let out = Command::new("kamcmd")
            .arg("-s")
            .arg(format!("unix:{}", ctl.display()))
            .arg("ul.dump")
            .stdin(Stdio::null())
            .output();
        let Ok(out) = out else { return Vec::new() };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("Address:"))
            .map(|l| l.trim().to_string())
            .collect()
    }

    /// Waits (bounded) until the peer answers an OPTIONS on its port... SIPp UAS scenarios
    /// ignore OPTIONS, so this waits until its UDP port is taken instead.
    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if UdpSocket::bind(self.addr).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the peer did not start listening on {}; see {}",
            self.addr,
            self.log.display()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Peer {
    /// Stops the peer (SIGTERM, then SIGKILL after 5 s), and waits (bounded) until its port is
    /// free again: kamailio's children may hold it a moment after the main process is gone,
    /// and a peer restarted on the same port must not find it taken.
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut exited = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && UdpSocket::bind(self.addr).is_err() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the peer and returns its whole log (SIPp prints its final counters on exit).
    pub fn finish(mut self) -> String {
        self.stop();
        self.log_text()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
        if let Some(dir) = self.log.parent().filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("predial-kam-"))
        }) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A test CA and a certificate for 127.0.0.1 signed by it, in `dir` (openssl): `ca.crt`,
/// `server.crt`, `server.key`.
pub fn make_test_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("san.ext");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=predial test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

/// Runs `predial dial --data DATA --json` (with `extra` flags, and a campaign with no quiet
/// hours) on `leads` (CSV lines) through one trunk to `peer`, written as
/// `DATA/profiles/sipp.toml`; fails the test if it fails.
pub fn dial_into(
    data: &std::path::Path,
    peer: &Peer,
    leads: &str,
    extra: &[&str],
) -> std::process::Output {
    let profiles = data.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("sipp.toml"),
        format!(
            "name = \"sipp\"\nowner = \"own\"\naddress = \"{}\"\nchannels = 5\ncps = 10\ncaller_id = \"+74951234567\"\n",
            peer.addr
        ),
    )
    .unwrap();
    let file = data.join("leads.csv");
    std::fs::write(&file, leads).unwrap();
    // No quiet hours: the test's callees are dialled whatever the time of day the test runs.
    let campaign = data.join("campaign.toml");
    std::fs::write(
        &campaign,
        "[campaign]\nquiet_hours = { start = \"00:00\", end = \"00:00\" }\n",
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut args = vec![
        "dial",
        "--data",
        data.to_str().unwrap(),
        "--leads",
        file.to_str().unwrap(),
        "--campaign",
        campaign.to_str().unwrap(),
        "--profiles",
        profiles.to_str().unwrap(),
        "--sip-listen",
        &listen,
        "--json",
    ];
    args.extend(extra);
    let out = super::predial(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

//! Real SIP peers for the tests: SIPp and kamailio from Debian's packages, started on loopback
//! ports of their own, and stopped (SIGTERM, then SIGKILL) when dropped.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The folder of the SIPp scenarios and the kamailio config.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A free UDP port on 127.0.0.1 (and, usually, the same TCP port is free too).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
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
        let media = free_port();
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
        peer.wait_listening();
        peer
    }

    /// Waits (bounded) until the peer answers an OPTIONS on its port... SIPp UAS scenarios
    /// ignore OPTIONS, so this waits until its UDP port is taken instead.
    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
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

impl Drop for Peer {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.log);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

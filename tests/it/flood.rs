//! Floods at the SIP edge of a running `predial serve`, from one loopback address that is no
//! trunk's: a burst of OPTIONS over UDP far past the per-source rate is cut short (counted,
//! unanswered) and predial still answers once the burst is over; connections past the
//! per-source cap (set to 32 here) are closed at once while the first ones stay usable.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::api::{Server, temp_dir};

fn options(n: u32, from: std::net::SocketAddr, proto: &str) -> String {
    format!(
        "OPTIONS sip:predial@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{proto} {from};branch=z9hG4bKflood{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:flood@127.0.0.1>;tag=f{n}\r\nTo: <sip:predial@127.0.0.1>\r\n\
         Call-ID: flood-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn metric(server: &Server, name: &str) -> f64 {
    let (_, text) = server.try_call("GET", "/metrics", None, None).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn one_source_flooding_is_cut_short_and_predial_goes_on() {
    let data = temp_dir("flood");
    let profiles = data.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("operators.toml"),
        "[[operator]]\nlogin = \"2301\"\npassword = \"op-2301-pass-long\"\n",
    )
    .unwrap();
    let server = Server::start_with(
        &data,
        None,
        &[
            "--profiles",
            profiles.to_str().unwrap(),
            "--sip-connections-per-source",
            "32",
        ],
    );
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = s.local_addr().unwrap();
    for n in 0..2000 {
        let _ = s.send_to(options(n, me, "UDP").as_bytes(), server.sip);
    }
    // Counted as predial reads them (bounded wait).
    let until = Instant::now() + Duration::from_secs(10);
    let mut limited = 0.0;
    while limited < 1000.0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        limited = metric(&server, "predial_sip_rate_limited_total");
    }
    assert!(
        limited >= 1000.0,
        "most of the burst was dropped: {limited}"
    );
    // The bucket refills: a little later one OPTIONS is answered again.
    std::thread::sleep(Duration::from_millis(1500));
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while s.recv_from(&mut buf).is_ok() {}
    let mut answered = false;
    let until = Instant::now() + Duration::from_secs(5);
    while !answered && Instant::now() < until {
        s.send_to(options(9999, me, "UDP").as_bytes(), server.sip)
            .unwrap();
        answered = s
            .recv_from(&mut buf)
            .is_ok_and(|(n, _)| buf[..n].starts_with(b"SIP/2.0 200"));
    }
    assert!(answered, "predial answers again after the burst");

    // Connections: the first 32 are kept, the next ones closed at once.
    let mut kept = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut c = TcpStream::connect(server.sip).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut one = [0u8; 1];
        match c.read(&mut one) {
            Ok(0) => refused += 1,
            _ => kept.push(c),
        }
    }
    assert!(
        refused >= 8,
        "connections past the cap are closed: {refused}"
    );
    assert!(
        metric(&server, "predial_sip_connections_refused_total") >= 8.0,
        "and counted"
    );
    let c = &mut kept[0];
    let from = c.local_addr().unwrap();
    c.write_all(options(1, from, "TCP").as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = c.read(&mut buf).unwrap_or(0);
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "a kept connection works: {}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(kept);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

//! Attacks on the SIP edge that must fail, against a running `predial serve`: a stranger's
//! INVITE that names the trunk's address in its Via (`received`, `rport`, sent-by) is not the
//! trunk's call, over UDP, TCP and WebSocket. The trunk lives at 127.0.0.3, the forger at 127.0.0.1: two
//! loopback addresses, so the transport's real source tells them apart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::api::temp_dir;
use super::inbound::{profiles_with_trunk, serve};
use super::peers::free_port;

const TRUNK_IP: &str = "127.0.0.3";

fn invite(proto: &str, via_host: &str, n: u32, target: SocketAddr) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:74951234599@{target} SIP/2.0\r\n\
         Via: SIP/2.0/{proto} {via_host};branch=z9hG4bKforged{n};received={TRUNK_IP};rport=5060\r\n\
         Max-Forwards: 70\r\nFrom: <sip:+79160000001@{TRUNK_IP}>;tag=f{n}\r\n\
         To: <sip:74951234599@{target}>\r\nCall-ID: forged-{n}@{TRUNK_IP}\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:+79160000001@{via_host}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// The first final status (or 180/183) a request gets; `None` within 5 s.
fn status_of(text: &str) -> Option<u16> {
    text.split("\r\n\r\n")
        .filter_map(|m| m.strip_prefix("SIP/2.0 "))
        .filter_map(|m| m.get(..3)?.parse().ok())
        .find(|c: &u16| *c != 100)
}

fn over_udp(bind: &str, target: SocketAddr, msg: &str) -> Option<u16> {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.send_to(msg.as_bytes(), target).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 8192];
    while Instant::now() < until {
        if let Ok((n, _)) = s.recv_from(&mut buf)
            && let Some(code) = status_of(&String::from_utf8_lossy(&buf[..n]))
        {
            return Some(code);
        }
    }
    None
}

fn over_tcp(target: SocketAddr, msg: impl Fn(SocketAddr) -> String) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(2)).unwrap();
    let msg = msg(s.local_addr().unwrap());
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(msg.as_bytes()).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    let (mut got, mut buf) = (String::new(), [0u8; 8192]);
    while Instant::now() < until {
        if let Ok(n) = s.read(&mut buf) {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            if let Some(code) = status_of(&got) {
                return Some(code);
            }
        }
    }
    None
}

#[test]
fn a_forged_via_never_makes_a_stranger_the_trunk() {
    let data = temp_dir("edge-via");
    let dir = profiles_with_trunk(
        &data,
        &format!("{TRUNK_IP}:5060"),
        &[],
        "[[queue]]\nname = \"shop\"\n\n[[number]]\nnumber = \"*\"\nbot = \"order_status\"\n\n\
         [bot]\nqueue = \"shop\"\n",
    );
    let ws = format!("127.0.0.1:{}", free_port());
    let server = serve(&data, &dir, "35000-35098", &["--ws-listen", &ws]);
    let target = server.sip;
    // Forged over UDP: the Via names the forger's own address and says received=<trunk>; then
    // a sent-by of the trunk itself, with no received at all (`rport` so the answer comes back
    // to the forger's port, RFC 3581).
    let forger = free_port();
    let own = format!("127.0.0.1:{forger}");
    assert_eq!(
        over_udp(&own, target, &invite("UDP", &own, 1, target)),
        Some(407)
    );
    let as_trunk = format!("{TRUNK_IP}:5060");
    let forged_sent_by = invite("UDP", &as_trunk, 2, target)
        .replace(&format!(";received={TRUNK_IP};rport=5060"), ";rport");
    assert_eq!(over_udp(&own, target, &forged_sent_by), Some(407));
    // Forged over TCP.
    let tcp = over_tcp(target, |me| invite("TCP", &me.to_string(), 3, target));
    assert_eq!(tcp, Some(407));
    // Forged over WebSocket (the trunk's address in `received`, a sent-by of its own).
    let mut socket = super::operators::ws_client(&ws);
    let me = socket.get_ref().local_addr().unwrap();
    socket
        .send(tungstenite::Message::Text(
            invite("WS", &me.to_string(), 5, target).into(),
        ))
        .unwrap();
    let answer = super::operators::final_answer(&mut socket);
    assert!(answer.starts_with("SIP/2.0 407"), "{answer}");
    // The trunk itself, from its real address, is taken (the bot answers).
    let real = format!("{TRUNK_IP}:5060");
    let answer = over_udp(&real, target, &invite("UDP", &real, 4, target));
    assert!(matches!(answer, Some(180 | 183 | 200)), "{answer:?}");
}

#[test]
fn a_trunk_that_must_prove_its_calls_is_challenged_even_from_its_address() {
    let data = temp_dir("edge-trunk-auth");
    let dir = profiles_with_trunk(
        &data,
        "127.0.0.4:5060",
        &[],
        "[[queue]]\nname = \"shop\"\n\n[[number]]\nnumber = \"*\"\nbot = \"order_status\"\n\n\
         [bot]\nqueue = \"shop\"\n",
    );
    let carrier = dir.join("carrier.toml");
    let mut profile = std::fs::read_to_string(&carrier).unwrap();
    profile += "\n[inbound_auth]\nuser = \"carrier-in\"\npassword = \"carrier-secret-1\"\n";
    std::fs::write(&carrier, profile).unwrap();
    let server = serve(&data, &dir, "35100-35198", &[]);
    let target = server.sip;
    // Its own trunk address: the other test's trunk runs beside it.
    let real = "127.0.0.4:5060".to_string();
    let s = UdpSocket::bind(&real).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let exchange = |msg: &str| -> String {
        s.send_to(msg.as_bytes(), target).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 8192];
        while Instant::now() < until {
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if status_of(&text).is_some() {
                    return text;
                }
            }
        }
        String::new()
    };
    let plain =
        invite("UDP", &real, 10, target).replace(&format!(";received={TRUNK_IP};rport=5060"), "");
    let challenge = exchange(&plain);
    assert_eq!(status_of(&challenge), Some(407), "{challenge}");
    let uri = format!("sip:74951234599@{target}");
    let wrong = plain.replace(
        "Content-Type:",
        &format!(
            "{}Content-Type:",
            super::operators::answer(
                &challenge,
                "Proxy-Authorization",
                "carrier-in",
                "a-guess-123",
                "INVITE",
                &uri
            )
        ),
    );
    let wrong = wrong.replace("forged10", "forged11");
    assert_eq!(status_of(&exchange(&wrong)), Some(403));
    let challenge = exchange(&plain.replace("forged10", "forged12"));
    let right = plain.replace("forged10", "forged13").replace(
        "Content-Type:",
        &format!(
            "{}Content-Type:",
            super::operators::answer(
                &challenge,
                "Proxy-Authorization",
                "carrier-in",
                "carrier-secret-1",
                "INVITE",
                &uri
            )
        ),
    );
    let answer = exchange(&right);
    assert!(
        matches!(status_of(&answer), Some(180 | 183 | 200)),
        "the proven call is the trunk's: {answer}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

//! Attacks on the operators' registrar that must fail, against a running `predial serve`: a
//! REGISTER and an INVITE whose digest answers were captured and sent again (from the same
//! address with a new transaction, and from another address), and a password brute force with
//! SIPVicious's `svcrack`, which is throttled until it gives up without the password.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::api::{Server, temp_dir};
use super::peers::need;

const LOGIN: &str = "2201";
const PASSWORD: &str = "op-2201-pass-long";

/// A request from `from` (its own Via), with `extra` headers; its branch and CSeq are `n`.
fn request(method: &str, uri: &str, from: SocketAddr, n: u32, extra: &str) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKreplay{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{LOGIN}@127.0.0.1>;tag=r{n}\r\n\
         To: <sip:{LOGIN}@127.0.0.1>\r\nCall-ID: replay-{method}-{n}@{from}\r\n\
         CSeq: {n} {method}\r\nContact: <sip:{LOGIN}@{from}>\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

/// Sends `msg` from `socket` and returns the first answer that is not 100 (status, text).
fn exchange(socket: &UdpSocket, to: SocketAddr, msg: &str) -> (u16, String) {
    socket.send_to(msg.as_bytes(), to).unwrap();
    let mut buf = [0u8; 8192];
    for _ in 0..20 {
        let Ok((n, _)) = socket.recv_from(&mut buf) else {
            break;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let code = text.get(8..11).and_then(|c| c.parse().ok()).unwrap_or(0);
        if code != 100 {
            return (code, text);
        }
    }
    (0, String::new())
}

/// The digest answer (MD5) to the challenge in `answer` (`WWW-` or `Proxy-Authenticate`).
fn digest(answer: &str, method: &str, uri: &str, header: &str) -> String {
    super::operators::answer(answer, header, LOGIN, PASSWORD, method, uri)
}

fn server(name: &str) -> (std::path::PathBuf, Server) {
    let data = temp_dir(name);
    let profiles = data.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("operators.toml"),
        format!("[[operator]]\nlogin = \"{LOGIN}\"\npassword = \"{PASSWORD}\"\n"),
    )
    .unwrap();
    let server = Server::start_with(&data, None, &["--profiles", profiles.to_str().unwrap()]);
    (data, server)
}

fn socket(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    s
}

#[test]
fn a_replayed_register_or_invite_authorization_gets_a_fresh_challenge() {
    let (data, server) = server("replay");
    let to = server.sip;
    let phone = socket("127.0.0.1");
    let me = phone.local_addr().unwrap();
    let uri = format!("sip:{to}");
    let (code, challenge) = exchange(&phone, to, &request("REGISTER", &uri, me, 1, ""));
    assert_eq!(code, 401, "{challenge}");
    let auth = digest(&challenge, "REGISTER", &uri, "Authorization");
    let (code, ok) = exchange(&phone, to, &request("REGISTER", &uri, me, 2, &auth));
    assert_eq!(code, 200, "the phone registers: {ok}");
    // The captured REGISTER sent again in a new transaction: not taken, a fresh challenge.
    let (code, replay) = exchange(&phone, to, &request("REGISTER", &uri, me, 3, &auth));
    assert_eq!(code, 401, "{replay}");
    assert!(replay.contains("stale=true"), "{replay}");
    // From another address, steering the binding there: the nonce is not that address's.
    let thief = socket("127.0.0.2");
    let elsewhere = thief.local_addr().unwrap();
    let (code, stolen) = exchange(&thief, to, &request("REGISTER", &uri, elsewhere, 4, &auth));
    assert_eq!(code, 401, "{stolen}");

    // An operator's call: challenged, answered once (a feature code), replayed: challenged.
    let call_uri = format!("sip:*2@{to}");
    let invite = |n, extra: &str| {
        request("INVITE", &call_uri, me, n, extra).replace(
            "Content-Length: 0",
            "Content-Type: application/sdp\r\nContent-Length: 0",
        )
    };
    let (code, challenge) = exchange(&phone, to, &invite(5, ""));
    assert_eq!(code, 407, "{challenge}");
    let auth = digest(&challenge, "INVITE", &call_uri, "Proxy-Authorization");
    let (first, answer) = exchange(&phone, to, &invite(6, &auth));
    assert_ne!(first, 407, "the first answer is taken: {answer}");
    let (code, replay) = exchange(&phone, to, &invite(7, &auth));
    assert_eq!(code, 407, "the replayed authorization is not: {replay}");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn svcrack_is_throttled_and_never_finds_the_password() {
    need("svcrack", "sipvicious");
    let (data, server) = server("svcrack");
    // Forty guesses, the right password last.
    let dictionary = data.join("guesses.txt");
    let mut words: Vec<String> = (0..40).map(|i| format!("guess-{i:03}")).collect();
    words.push(PASSWORD.to_string());
    std::fs::write(&dictionary, words.join("\n") + "\n").unwrap();
    // svcrack keeps trying while it is refused: it is stopped after 30 s at the latest.
    let said_file = data.join("svcrack.out");
    let mut child = Command::new("svcrack")
        .args(["-u", LOGIN, "-d"])
        .arg(&dictionary)
        .args(["-p", &server.sip.port().to_string()])
        // Its own port on 127.0.0.1 (by default it takes 5060 on every address, which other
        // tests' trunks use).
        .args([
            "-b",
            "127.0.0.1",
            "-P",
            &super::peers::free_port().to_string(),
        ])
        .arg("127.0.0.1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&said_file).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("svcrack runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let said = std::fs::read_to_string(&said_file).unwrap_or_default();
    assert!(!said.contains(PASSWORD), "svcrack found it: {said}");
    let log = std::fs::read_to_string(data.join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("refused from this address for 5 minutes"),
        "the guesses were blocked: {log}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

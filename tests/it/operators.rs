//! Operators on real softphones: baresip registers to `predial serve` with digest auth and
//! auto-answers; SIPp plays the buyers; a campaign's answered calls are bridged to the operator,
//! recorded both ways, and the operator goes through on call and wrap-up. Strangers' calls are
//! refused and never reach a trunk.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Server, temp_dir};
use super::peers::{Peer, free_port, need};

/// baresip as operator `login`, auto-answering, its microphone a 440 Hz tone (a WAV file).
pub struct Baresip {
    child: Child,
    dir: std::path::PathBuf,
    /// Its control port (ctrl_tcp: netstring JSON commands).
    ctrl: u16,
}

impl Baresip {
    pub fn start(dir: &Path, login: &str, password: &str, registrar: SocketAddr) -> Baresip {
        Baresip::start_answering(dir, login, password, registrar, "auto")
    }

    /// `answermode`: `auto` (answers at once) or `manual` (rings until the caller gives up).
    pub fn start_answering(
        dir: &Path,
        login: &str,
        password: &str,
        registrar: SocketAddr,
        answermode: &str,
    ) -> Baresip {
        Baresip::start_over(dir, login, password, registrar, answermode, "udp", "")
    }

    /// Registers over `transport` (udp, tcp, tls), with `config` added to its config file.
    pub fn start_over(
        dir: &Path,
        login: &str,
        password: &str,
        registrar: SocketAddr,
        answermode: &str,
        transport: &str,
        config: &str,
    ) -> Baresip {
        need("baresip", "baresip");
        std::fs::create_dir_all(dir).unwrap();
        // The microphone: two minutes of a 440 Hz tone (aufile ends the call at the file's end).
        let mic = dir.join("mic.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&mic, spec).unwrap();
        for i in 0..8000 * 120 {
            let x = (i as f64 * 440.0 * std::f64::consts::TAU / 8000.0).sin();
            w.write_sample((x * 8000.0) as i16).unwrap();
        }
        w.finalize().unwrap();
        // SIP on UDP and TCP, and TLS one port above.
        let sip = super::peers::free_ports(2);
        // Each baresip of this test process its own ports.
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let rtp = 37_000 + (NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 50) * 20;
        let ctrl = free_port();
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\nnet_interface 127.0.0.1\nsip_listen 127.0.0.1:{sip}\n\
                 call_local_timeout 120\ncall_max_calls 4\naudio_player alsa,null\n\
                 audio_source aufile,{mic}\naudio_alert alsa,null\nausrc_srate 8000\n\
                 auplay_srate 8000\nausrc_channels 1\nauplay_channels 1\naudio_level no\n\
                 rtp_ports {rtp}-{rtp_last}\nrtp_timeout 60\nrtcp_mux no\n\
                 module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n\
                 module alsa.so\nmodule ctrl_tcp.so\nmodule_tmp uuid.so\nmodule_tmp account.so\n\
                 module_app menu.so\nctrl_tcp_listen 127.0.0.1:{ctrl}\n{config}",
                mic = mic.display(),
                rtp_last = rtp + 18,
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{login}@{registrar};transport={transport}>;auth_pass={password};answermode={answermode};regint=60;audio_codecs=PCMU,PCMA\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            .args(["-t", "300"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip starts");
        Baresip {
            child,
            dir: dir.to_path_buf(),
            ctrl,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// Keys `digits` on the call in progress (RFC 4733), as the operator would on the keypad;
    /// waits (bounded) for baresip to have the call established first.
    pub fn key(&self, digits: &str) {
        let until = Instant::now() + Duration::from_secs(15);
        while !self.log().contains("Call established") {
            assert!(Instant::now() < until, "baresip has a call: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        let command = json!({"command": "sndcode", "params": digits, "token": "key"}).to_string();
        let mut ctrl = TcpStream::connect(("127.0.0.1", self.ctrl)).expect("baresip's ctrl_tcp");
        write!(ctrl, "{}:{command},", command.len()).unwrap();
        ctrl.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        while !answer.ends_with(b",") {
            match ctrl.read(&mut buf) {
                Ok(n) if n > 0 => answer.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.contains("\"ok\":true"),
            "baresip keyed {digits}: {answer}; {}",
            self.log()
        );
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        // SIGTERM: it unregisters, then exits.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        for _ in 0..60 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A profiles folder in `data`: a trunk to `trunk` (SIPp) and `operators` as operators.toml.
/// A profile folder: the SIPp trunk at `trunk` (10 channels, 5 calls a second) and
/// `operators.toml`.
pub(super) fn profiles(data: &Path, trunk: SocketAddr, operators: &str) -> std::path::PathBuf {
    let dir = data.join("profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sipp.toml"),
        format!(
            "name = \"sipp\"\nowner = \"own\"\naddress = \"{trunk}\"\nchannels = 10\ncps = 5\ncaller_id = \"+74951234567\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("operators.toml"), operators).unwrap();
    dir
}

/// An operator's state in the store, as the API lists it.
pub fn state_of(server: &Server, login: &str) -> Value {
    let (_, v) = server.call("GET", "/v1/operators", None);
    v["operators"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["login"] == login).cloned())
        .map(|o| o["state"].clone())
        .unwrap_or(Value::Null)
}

/// The RMS of one channel of a stereo recording (0 left: the callee, 1 right: the operator).
fn rms(path: &Path, channel: usize) -> f64 {
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().channels, 2, "a stereo recording");
    let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let ch: Vec<f64> = samples
        .chunks(2)
        .map(|c| f64::from(c[channel]) / 32768.0)
        .collect();
    (ch.iter().map(|x| x * x).sum::<f64>() / ch.len().max(1) as f64).sqrt()
}

#[test]
fn a_baresip_operator_takes_the_campaign_s_answered_calls() {
    let data = temp_dir("operators");
    let callees = Peer::sipp_uas("uas-talk-bye.xml", &[]);
    let profiles = profiles(
        &data,
        callees.addr,
        "[[operator]]\nlogin = \"2001\"\nname = \"Vera\"\ngroup = \"day\"\npassword = \"op-2001-pass\"\n",
    );
    let server = Server::start_with(
        &data,
        None,
        &[
            "--profiles",
            profiles.to_str().unwrap(),
            "--rtp-ports",
            "36000-36998",
            "--lang",
            "en",
        ],
    );
    // The live stream of events, to see the operator's states change.
    let mut events = TcpStream::connect(server.addr()).unwrap();
    events
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        events,
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        server.token()
    )
    .unwrap();

    let phone = Baresip::start(&data.join("baresip"), "2001", "op-2001-pass", server.sip);
    let until = Instant::now() + Duration::from_secs(15);
    while state_of(&server, "2001") != "ready" {
        assert!(
            Instant::now() < until,
            "baresip registered and its operator is ready: {}",
            phone.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A campaign of three buyers, dialled through SIPp; each talks 7 s and hangs up.
    let (status, v) = server.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "shop", "policy": {
            "quiet_hours": {"start": "00:00", "end": "00:00"},
            "wrap_up": "2s"
        }})),
    );
    assert_eq!(status, 201, "{v}");
    let mut leads = Vec::new();
    for (i, phone) in ["+74951110000", "+74951110001", "+74951110002"]
        .iter()
        .enumerate()
    {
        let (status, v) = server.call(
            "POST",
            "/v1/leads",
            Some(json!({"phone": phone, "order_id": format!("A-{i}"), "campaign": "shop"})),
        );
        assert!(status == 201 || status == 200, "{v}");
        leads.push(v["id"].as_i64().expect("the lead's id"));
    }
    let (status, v) = server.call("POST", "/v1/campaigns/shop/start", None);
    assert_eq!(status, 200, "{v}");

    // Every lead ends done: its buyer talked to the operator.
    let until = Instant::now() + Duration::from_secs(90);
    let mut seen = String::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Ok(n) = events.read(&mut buf) {
            seen += &String::from_utf8_lossy(&buf[..n]);
        }
        let states: Vec<Value> = leads
            .iter()
            .map(|id| server.call("GET", &format!("/v1/leads/{id}"), None).1["state"].clone())
            .collect();
        if states.iter().all(|s| s == "done") {
            break;
        }
        assert!(
            Instant::now() < until,
            "leads {states:?}; baresip: {}\npredial: {}",
            phone.log(),
            std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The operator went ready → on call → wrap-up → ready, once per call (the last wrap-up
    // ends 2 s after the last call).
    let states = |seen: &str| -> Vec<String> {
        seen.lines()
            .filter(|l| l.starts_with("data:") && l.contains("\"login\":\"2001\""))
            .filter_map(|l| l.split("\"state\":\"").nth(1))
            .filter_map(|s| s.split('"').next())
            .map(str::to_string)
            .collect()
    };
    let calls = |states: &[String]| {
        states
            .windows(3)
            .filter(|w| w[0] == "on_call" && w[1] == "wrap_up" && w[2] == "ready")
            .count()
    };
    let until = Instant::now() + Duration::from_secs(10);
    while calls(&states(&seen)) < 3 && Instant::now() < until {
        if let Ok(n) = events.read(&mut buf) {
            seen += &String::from_utf8_lossy(&buf[..n]);
        }
    }
    let states = states(&seen);
    assert_eq!(calls(&states), 3, "the operator's states: {states:?}");
    assert!(
        states.iter().position(|s| s == "ready") < states.iter().position(|s| s == "on_call"),
        "ready before the first call: {states:?}"
    );

    // Each call is recorded both ways: the buyer's speech left, the operator's tone right.
    let dir = data.join("recordings");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        let (left, right) = (rms(f, 0), rms(f, 1));
        assert!(
            left > 0.01,
            "{}: the buyer's side is heard ({left})",
            f.display()
        );
        assert!(
            right > 0.01,
            "{}: the operator's side is heard ({right})",
            f.display()
        );
    }
    // The attempts name the operator.
    for id in &leads {
        let (_, v) = server.call("GET", &format!("/v1/leads/{id}"), None);
        assert_eq!(v["state"], "done", "{v}");
    }
    drop(phone);
    server.stop();
    let _ = callees.finish();
    let _ = std::fs::remove_dir_all(&data);
}

/// Runs SIPp's INVITE scenario that expects a refusal at `predial`, with these credentials.
fn sipp_invite_refused(predial: SocketAddr, user: &str, password: &str, to: &str) -> bool {
    sipp_invite("uac-invite-refused.xml", predial, user, password, to)
}

/// Runs a SIPp INVITE scenario (challenged, then answered with these credentials) once; true
/// when SIPp saw what the scenario expects.
fn sipp_invite(
    scenario_file: &str,
    predial: SocketAddr,
    user: &str,
    password: &str,
    to: &str,
) -> bool {
    super::peers::sipp_once(scenario_file, predial, &format!("{user};{password};{to}"))
}

#[test]
fn calls_from_strangers_and_softphones_never_reach_a_trunk() {
    need("sipp", "sip-tester");
    let data = temp_dir("tollfraud");
    let trunk = Peer::sipp_uas("uas-population.xml", &[]);
    let profiles = profiles(
        &data,
        trunk.addr,
        "[[operator]]\nlogin = \"2002\"\npassword = \"op-2002-pass\"\n",
    );
    let server = Server::start_with(&data, None, &["--profiles", profiles.to_str().unwrap()]);
    // No credentials: challenged (407), then a wrong password: 403.
    assert!(sipp_invite_refused(
        server.sip,
        "nobody",
        "guess-1",
        "+74951110000"
    ));
    // An operator with the right password calling an outside number: 403 as well.
    assert!(sipp_invite_refused(
        server.sip,
        "2002",
        "op-2002-pass",
        "+74951110000"
    ));
    std::thread::sleep(Duration::from_millis(300));
    server.stop();
    // Nothing came to the trunk.
    let log = trunk.finish();
    // SIPp's last screen: the INVITE line of its message table counts what it received.
    let invites = log
        .lines()
        .rev()
        .find(|l| l.contains("> INVITE"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<u32>().ok());
    assert_eq!(invites, Some(0), "the trunk saw no call: {log}");
    let _ = std::fs::remove_dir_all(&data);
}

/// A SIP-over-WebSocket client (RFC 7118: the `sip` subprotocol) to predial at `ws`; reads
/// wait at most 5 s.
pub(super) fn ws_client(ws: &str) -> tungstenite::WebSocket<TcpStream> {
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{ws}/")).unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let stream = TcpStream::connect(ws).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (socket, _) = tungstenite::client(request, stream).expect("a WebSocket handshake");
    socket
}

/// The next final response over the WebSocket.
pub(super) fn final_answer<S: Read + Write>(socket: &mut tungstenite::WebSocket<S>) -> String {
    loop {
        let text = match socket.read() {
            Ok(tungstenite::Message::Text(t)) => t.to_string(),
            Ok(tungstenite::Message::Binary(b)) => String::from_utf8_lossy(&b).into_owned(),
            Ok(_) => continue,
            Err(e) => panic!("no answer over the WebSocket: {e}"),
        };
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

/// MD5 digest, hex.
/// The answer to a digest challenge (MD5, qop auth) for `method` and `uri`, as the header
/// `header` (Authorization or Proxy-Authorization).
pub(super) fn answer(
    challenge: &str,
    header: &str,
    login: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> String {
    assert!(
        challenge.starts_with("SIP/2.0 401") || challenge.starts_with("SIP/2.0 407"),
        "a challenge: {challenge}"
    );
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a nonce");
    let ha1 = md5_hex(&format!("{login}:predial:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    format!(
        "{header}: Digest username=\"{login}\", realm=\"predial\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n"
    )
}

pub(super) fn md5_hex(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_softphone_registers_over_websocket() {
    let data = temp_dir("ws");
    let ws_port = free_port();
    let ws = format!("127.0.0.1:{ws_port}");
    let server = Server::start_with(&data, None, &["--ws-listen", &ws]);
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "web1", "password": "browser-pass-1"})),
    );
    assert_eq!(status, 201, "{v}");
    // A browser phone's REGISTER (RFC 7118): WebSocket with the `sip` subprotocol.
    let mut socket = ws_client(&ws);
    let register = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:web1@127.0.0.1>;tag=wst1\r\nTo: <sip:web1@127.0.0.1>\r\n\
             Call-ID: ws-register-1\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:web1@df7jal23ls0d.invalid;transport=ws>;expires=300\r\n{auth}\
             User-Agent: test-browser-phone\r\nContent-Length: 0\r\n\r\n"
        )
    };
    socket
        .send(tungstenite::Message::text(register(1, "")))
        .unwrap();
    let challenge = final_answer(&mut socket);
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a nonce")
        .to_string();
    let ha1 = md5_hex("web1:predial:browser-pass-1");
    let ha2 = md5_hex("REGISTER:sip:127.0.0.1");
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    let auth = format!(
        "Authorization: Digest username=\"web1\", realm=\"predial\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n"
    );
    socket
        .send(tungstenite::Message::text(register(2, &auth)))
        .unwrap();
    let ok = final_answer(&mut socket);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    // Registered: the operator is logged in, ready.
    let until = Instant::now() + Duration::from_secs(5);
    while state_of(&server, "web1") != "ready" {
        assert!(Instant::now() < until, "web1 is ready after registering");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = socket.close(None);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn feature_codes_set_the_operator_paused_and_ready() {
    need("sipp", "sip-tester");
    let data = temp_dir("codes");
    let server = Server::start(&data, None);
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "2003", "password": "op-2003-pass"})),
    );
    assert_eq!(status, 201, "{v}");
    assert!(super::api::sipp_register(
        "uac-register.xml",
        server.sip,
        "2003",
        "op-2003-pass"
    ));
    let wait_for = |state: &str| {
        let until = Instant::now() + Duration::from_secs(5);
        while state_of(&server, "2003") != state {
            assert!(
                Instant::now() < until,
                "2003 is {state}: {}",
                state_of(&server, "2003")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("ready");
    assert!(sipp_invite(
        "uac-feature-code.xml",
        server.sip,
        "2003",
        "op-2003-pass",
        "*2"
    ));
    wait_for("paused");
    assert!(sipp_invite(
        "uac-feature-code.xml",
        server.sip,
        "2003",
        "op-2003-pass",
        "*1"
    ));
    wait_for("ready");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

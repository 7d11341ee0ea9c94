//! SIP over TLS and WebSocket over TLS against `predial serve`, with a certificate for 127.0.0.1
//! signed by a test CA made with openssl: softphones (baresip, and rustls clients that check the
//! certificate) register with digest auth over both, a
//! feature code is dialled over TLS, the conformance layer answers on both, a new certificate
//! is taken on SIGHUP (and a bad one is not), and a certificate that cannot be read stops the
//! start with the file's name.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;

use super::api::{Server, temp_dir};
use super::operators::{answer, final_answer, state_of};
use super::peers::{free_port, make_test_certificates, need};

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A `predial serve` with SIP over TLS and WebSocket over TLS, its certificate in `dir`.
struct TlsServer {
    server: Server,
    sips: SocketAddr,
    wss: SocketAddr,
    dir: PathBuf,
    client: Arc<rustls::ClientConfig>,
}

impl TlsServer {
    fn start(tag: &str) -> TlsServer {
        need("openssl", "openssl");
        let dir = temp_dir(tag);
        make_test_certificates(&dir);
        let sips = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let wss = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let server = Server::start_with(
            &dir,
            None,
            &[
                "--sips-listen",
                &sips.to_string(),
                "--wss-listen",
                &wss.to_string(),
                "--tls-cert",
                dir.join("server.crt").to_str().unwrap(),
                "--tls-key",
                dir.join("server.key").to_str().unwrap(),
            ],
        );
        let client = client_config(&dir.join("ca.crt"));
        TlsServer {
            server,
            sips,
            wss,
            dir,
            client,
        }
    }

    fn operator(&self, login: &str, password: &str) {
        let (status, v) = self.server.call(
            "POST",
            "/v1/operators",
            Some(json!({"login": login, "password": password})),
        );
        assert_eq!(status, 201, "{v}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    fn stop(self) {
        self.server.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS client trusting only the test CA.
fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS connection to `addr` (the certificate checked for 127.0.0.1), its handshake done;
/// reads wait at most 5 s.
fn tls_connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> TlsStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let connection = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("a TLS handshake with a certificate the test CA signed");
    }
    stream
}

/// The certificate a TLS connection was served (DER).
fn served(stream: &TlsStream) -> Vec<u8> {
    stream.conn.peer_certificates().expect("a certificate")[0].to_vec()
}

/// The first certificate of a PEM file (DER).
fn file_cert(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_slice(&std::fs::read(path).unwrap())
        .unwrap()
        .to_vec()
}

/// The next final response on a SIP stream (headers, then Content-Length's body).
fn read_final(stream: &mut impl Read) -> String {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                other => panic!(
                    "no answer over TLS ({other:?}): {}",
                    String::from_utf8_lossy(&head)
                ),
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let length = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                let name = name.trim().to_ascii_lowercase();
                (name == "content-length" || name == "l").then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0usize);
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).unwrap();
        if !text.starts_with("SIP/2.0 1") {
            return text + &String::from_utf8_lossy(&body);
        }
    }
}

/// A REGISTER of `login` sent over `transport` (TLS or WSS); `auth` is an Authorization line.
fn register(transport: &str, login: &str, cseq: u32, auth: &str) -> String {
    let lower = transport.to_ascii_lowercase();
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} phone.invalid;branch=z9hG4bK{lower}{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{login}@127.0.0.1>;tag={lower}t1\r\nTo: <sip:{login}@127.0.0.1>\r\n\
         Call-ID: {lower}-register-{login}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{login}@phone.invalid;transport={lower}>;expires=300\r\n{auth}\
         User-Agent: test-phone\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A WebSocket (subprotocol `sip`) over a TLS connection to `addr`.
fn wss_client(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
) -> (tungstenite::WebSocket<TlsStream>, Vec<u8>) {
    let stream = tls_connect(addr, config);
    let cert = served(&stream);
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("wss://{addr}/"))
            .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (socket, response) = tungstenite::client(request, stream).expect("a WebSocket handshake");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip")
    );
    (socket, cert)
}

/// Waits (bounded) until the operator is in `state`.
fn wait_state(server: &Server, login: &str, state: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    while state_of(server, login) != state {
        assert!(
            Instant::now() < until,
            "{login} is {state}: {}",
            state_of(server, login)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An INVITE from `login` to a feature code over TLS, with `auth` (a Proxy-Authorization line).
fn invite(login: &str, code: &str, cseq: u32, auth: &str) -> String {
    let sdp = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    format!(
        "INVITE sip:{code}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS phone.invalid;branch=z9hG4bKinv{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{login}@127.0.0.1>;tag=inv1\r\nTo: <sip:{code}@127.0.0.1>\r\n\
         Call-ID: tls-code-{login}-{cseq}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:{login}@phone.invalid;transport=tls>\r\n{auth}\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

#[test]
fn a_softphone_registers_and_dials_over_tls() {
    let t = TlsServer::start("tls-register");
    t.operator("3001", "tls-pass-3001");
    let mut phone = tls_connect(t.sips, &t.client);
    assert_eq!(served(&phone), file_cert(&t.dir.join("server.crt")));
    phone
        .write_all(register("TLS", "3001", 1, "").as_bytes())
        .unwrap();
    let challenge = read_final(&mut phone);
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    assert!(
        challenge.contains("Via: SIP/2.0/TLS phone.invalid"),
        "{challenge}"
    );
    let auth = answer(
        &challenge,
        "Authorization",
        "3001",
        "tls-pass-3001",
        "REGISTER",
        "sip:127.0.0.1",
    );
    phone
        .write_all(register("TLS", "3001", 2, &auth).as_bytes())
        .unwrap();
    let ok = read_final(&mut phone);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    wait_state(&t.server, "3001", "ready");
    // A call from the phone over the same connection: challenged (407), then taken as the
    // operator's (the feature code *2 pauses them).
    phone
        .write_all(invite("3001", "*2", 1, "").as_bytes())
        .unwrap();
    let challenge = read_final(&mut phone);
    assert!(challenge.starts_with("SIP/2.0 407"), "{challenge}");
    let auth = answer(
        &challenge,
        "Proxy-Authorization",
        "3001",
        "tls-pass-3001",
        "INVITE",
        "sip:*2@127.0.0.1",
    );
    phone
        .write_all(invite("3001", "*2", 2, &auth).as_bytes())
        .unwrap();
    let paused = read_final(&mut phone);
    assert!(paused.starts_with("SIP/2.0 603"), "{paused}");
    wait_state(&t.server, "3001", "paused");
    // The conformance layer sees TLS frames: a request of another SIP version gets 505.
    phone
        .write_all(
            b"OPTIONS sip:t@127.0.0.1 SIP/7.0\r\nVia: SIP/2.0/TLS x.invalid;branch=z9hG4bKv7\r\n\
              Max-Forwards: 70\r\nFrom: <sip:t@x.invalid>;tag=1\r\nTo: <sip:t@127.0.0.1>\r\n\
              Call-ID: tls-version-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
    let version = read_final(&mut phone);
    assert!(version.starts_with("SIP/2.0 505 "), "{version}");
    t.stop();
}

#[test]
fn baresip_registers_over_tls() {
    let t = TlsServer::start("tls-baresip");
    t.operator("3003", "tls-pass-3003");
    // baresip 1.0 connects over TLS and answers the digest challenge; it does not check the
    // server's certificate against sip_cafile (the tests above check it with rustls).
    let ca = format!("sip_cafile {}\n", t.dir.join("ca.crt").display());
    let phone = super::operators::Baresip::start_over(
        &t.dir.join("baresip"),
        "3003",
        "tls-pass-3003",
        t.sips,
        "auto",
        "tls",
        &ca,
    );
    let until = Instant::now() + Duration::from_secs(15);
    while state_of(&t.server, "3003") != "ready" {
        assert!(
            Instant::now() < until,
            "baresip registered over TLS: {}",
            phone.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(phone.log().contains("{0/TLS/v4} 200 OK"), "{}", phone.log());
    drop(phone);
    t.stop();
}

#[test]
fn a_browser_phone_registers_over_wss() {
    let t = TlsServer::start("tls-wss");
    t.operator("web2", "wss-pass-2");
    let (mut socket, cert) = wss_client(t.wss, &t.client);
    assert_eq!(cert, file_cert(&t.dir.join("server.crt")));
    socket
        .send(tungstenite::Message::text(register("WSS", "web2", 1, "")))
        .unwrap();
    let challenge = final_answer(&mut socket);
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let auth = answer(
        &challenge,
        "Authorization",
        "web2",
        "wss-pass-2",
        "REGISTER",
        "sip:127.0.0.1",
    );
    socket
        .send(tungstenite::Message::text(register(
            "WSS", "web2", 2, &auth,
        )))
        .unwrap();
    let ok = final_answer(&mut socket);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    wait_state(&t.server, "web2", "ready");
    // The conformance layer sees wss messages too.
    socket
        .send(tungstenite::Message::text(
            "OPTIONS sip:t@127.0.0.1 SIP/7.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bKw7\r\n\
             Max-Forwards: 70\r\nFrom: <sip:t@x.invalid>;tag=1\r\nTo: <sip:t@127.0.0.1>\r\n\
             Call-ID: wss-version-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
    let version = final_answer(&mut socket);
    assert!(version.starts_with("SIP/2.0 505 "), "{version}");
    let _ = socket.close(None);
    t.stop();
}

/// A new certificate for 127.0.0.1 from the test CA in `dir`: `NAME.crt`, `NAME.key`.
fn sign_new_certificate(dir: &Path, name: &str) {
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
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        &crt,
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

/// Sends SIGHUP to the serve process.
fn hangup(server: &Server) {
    let pid = i32::try_from(server.pid()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

#[test]
fn a_new_certificate_is_taken_on_sighup_and_a_bad_one_is_not() {
    let t = TlsServer::start("tls-reload");
    t.operator("3002", "tls-pass-3002");
    let first = file_cert(&t.dir.join("server.crt"));
    let mut old = tls_connect(t.sips, &t.client);
    assert_eq!(served(&old), first);
    old.write_all(register("TLS", "3002", 1, "").as_bytes())
        .unwrap();
    let challenge = read_final(&mut old);

    // The files replaced as certbot does (a new pair moved in), then SIGHUP.
    sign_new_certificate(&t.dir, "next");
    std::fs::rename(t.dir.join("next.key"), t.dir.join("server.key")).unwrap();
    std::fs::rename(t.dir.join("next.crt"), t.dir.join("server.crt")).unwrap();
    let second = file_cert(&t.dir.join("server.crt"));
    assert_ne!(first, second);
    hangup(&t.server);
    let until = Instant::now() + Duration::from_secs(10);
    while served(&tls_connect(t.sips, &t.client)) != second {
        assert!(
            Instant::now() < until,
            "the new certificate is served: {}",
            t.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, wss_cert) = wss_client(t.wss, &t.client);
    assert_eq!(wss_cert, second, "wss serves the new certificate too");
    // The connection opened before goes on: it registers with the challenge it was given.
    let auth = answer(
        &challenge,
        "Authorization",
        "3002",
        "tls-pass-3002",
        "REGISTER",
        "sip:127.0.0.1",
    );
    old.write_all(register("TLS", "3002", 2, &auth).as_bytes())
        .unwrap();
    let ok = read_final(&mut old);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");

    // A key that is not a key: the certificate in use stays, and the log says why.
    std::fs::write(t.dir.join("server.key"), "not a key\n").unwrap();
    hangup(&t.server);
    let until = Instant::now() + Duration::from_secs(10);
    while !t.log().contains("kept the TLS certificate in use") {
        assert!(
            Instant::now() < until,
            "the bad pair is refused: {}",
            t.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        t.log().contains("server.key: no private key in it"),
        "{}",
        t.log()
    );
    assert_eq!(served(&tls_connect(t.sips, &t.client)), second);
    t.stop();
}

/// Runs `predial serve ARGS` expecting it to stop at start (bounded); its stderr.
fn fails_at_start(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_predial"))
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("predial serve {args:?} did not stop at start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn a_certificate_that_cannot_be_used_stops_the_start_with_its_name() {
    need("openssl", "openssl");
    let dir = temp_dir("tls-bad");
    make_test_certificates(&dir);
    let data = dir.join("data");
    let sips = format!("127.0.0.1:{}", free_port());
    let http = format!("127.0.0.1:{}", free_port());
    let base = [
        "--data",
        data.to_str().unwrap(),
        "--http",
        &http,
        "--sips-listen",
        &sips,
    ];
    let key = dir.join("server.key");
    let key = key.to_str().unwrap();
    let missing = dir.join("missing.crt");
    let missing = missing.to_str().unwrap();
    let err = fails_at_start(&[&base[..], &["--tls-cert", missing, "--tls-key", key]].concat());
    assert!(
        err.contains(&format!("--tls-cert: {missing}: cannot read")),
        "{err}"
    );
    // The CA's key is not the certificate's.
    let ca_key = dir.join("ca.key");
    let cert = dir.join("server.crt");
    let err = fails_at_start(
        &[
            &base[..],
            &[
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                ca_key.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(
        err.contains("ca.key does not go with") && err.contains("server.crt"),
        "{err}"
    );
    let err = fails_at_start(&base);
    assert!(
        err.contains("--sips-listen: SIP over TLS needs a certificate: give --tls-cert"),
        "{err}"
    );
    // From the config file: the file and line of the setting.
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[serve]\nwss_listen = \"{sips}\"\ntls_cert = \"{missing}\"\ntls_key = \"{key}\"\n"
        ),
    )
    .unwrap();
    let err = fails_at_start(&[
        "--config",
        config.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--http",
        &http,
    ]);
    assert!(
        err.contains(&format!(
            "{}:3: serve.tls_cert: {missing}: cannot read",
            config.display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_connection_that_never_finishes_its_handshake_is_closed() {
    let t = TlsServer::start("tls-silent");
    for addr in [t.sips, t.wss] {
        let mut silent = TcpStream::connect(addr).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut byte = [0u8; 1];
        // A signal to the test process (another test's child ending) may interrupt the wait:
        // wait again, a bounded number of times.
        let mut tries = 0;
        let got = loop {
            match silent.read(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && tries < 100 => tries += 1,
                other => break other,
            }
        };
        match got {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("{addr}: predial closes a connection with no handshake: {other:?}"),
        }
    }
    assert!(t.log().contains("TLS handshake timed out"), "{}", t.log());
    t.stop();
}

#[test]
fn a_caller_rings_a_browser_phone_down_the_wss_connection_it_registered_on() {
    need("openssl", "openssl");
    let dir = temp_dir("tls-flow");
    make_test_certificates(&dir);
    // A trunk at 127.0.0.5 whose callers queue for the operators with the skill "shop".
    let profiles = super::inbound::profiles_with_trunk(
        &dir,
        "127.0.0.5:5060",
        &[],
        "[[queue]]\nname = \"shop\"\nring_timeout = \"10s\"\n\n[[number]]\nnumber = \"*\"\nqueue = \"shop\"\n",
    );
    let wss = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = super::inbound::serve(
        &dir,
        &profiles,
        "35200-35298",
        &[
            "--wss-listen",
            &wss.to_string(),
            "--tls-cert",
            dir.join("server.crt").to_str().unwrap(),
            "--tls-key",
            dir.join("server.key").to_str().unwrap(),
        ],
    );
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "web9", "password": "wss-pass-9", "skills": ["shop"]})),
    );
    assert_eq!(status, 201, "{v}");
    let client = client_config(&dir.join("ca.crt"));
    let (mut phone, _) = wss_client(wss, &client);
    phone
        .send(tungstenite::Message::text(register("WSS", "web9", 1, "")))
        .unwrap();
    let challenge = final_answer(&mut phone);
    let auth = answer(
        &challenge,
        "Authorization",
        "web9",
        "wss-pass-9",
        "REGISTER",
        "sip:127.0.0.1",
    );
    phone
        .send(tungstenite::Message::text(register(
            "WSS", "web9", 2, &auth,
        )))
        .unwrap();
    let ok = final_answer(&mut phone);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    wait_state(&server, "web9", "ready");
    // A caller through the trunk: predial rings the operator's phone.
    let trunk = std::net::UdpSocket::bind("127.0.0.5:5060").unwrap();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.5\r\ns=-\r\nc=IN IP4 127.0.0.5\r\nt=0 0\r\n\
               m=audio 40100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let invite = format!(
        "INVITE sip:74951234500@{0} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.5:5060;branch=z9hG4bKflow1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:79160007777@127.0.0.5>;tag=c1\r\nTo: <sip:74951234500@{0}>\r\n\
         Call-ID: flow-caller-1@127.0.0.5\r\nCSeq: 1 INVITE\r\nContact: <sip:79160007777@127.0.0.5:5060>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {1}\r\n\r\n{sdp}",
        server.sip,
        sdp.len()
    );
    trunk.send_to(invite.as_bytes(), server.sip).unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    let rung = loop {
        assert!(
            Instant::now() < until,
            "no INVITE reached the phone: {}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        );
        match phone.read() {
            Ok(tungstenite::Message::Text(t)) if t.starts_with("INVITE ") => break t.to_string(),
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => panic!("the phone's connection: {e}"),
        }
    };
    assert!(rung.contains("SIP/2.0/WSS"), "sent over wss: {rung}");
    drop(phone);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

//! Registering to a trunk's registrar (kamailio): digest auth, refresh before expiry, and
//! registering again after the registrar restarts and forgets us.

use std::time::Duration;

use predial::sip::{Credentials, RegisterTo, RegistrationState, Secret, SipAgent, SipOptions};
use tokio::sync::mpsc;

use super::peers::{Peer, free_port};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn agent() -> SipAgent {
    let listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    SipAgent::start(SipOptions {
        listen,
        ..SipOptions::default()
    })
    .await
    .expect("SIP starts")
}

/// Waits (bounded) for the next registration report.
async fn next(
    rx: &mut mpsc::UnboundedReceiver<RegistrationState>,
    within: Duration,
) -> RegistrationState {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("a registration report in time")
        .expect("reports")
}

/// Waits (bounded) until kamailio lists a contact on `port`.
async fn registered_at(kam: &Peer, port: u16, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if kam
            .kamailio_contacts()
            .iter()
            .any(|c| c.contains(&format!(":{port}")))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

#[test]
fn registers_refreshes_and_registers_again_after_the_registrar_restarts() {
    runtime().block_on(async {
        let kam = Peer::kamailio(None);
        let port = kam.addr.port();
        let sip = agent().await;
        let our_port = sip.local_addr().port();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _reg = sip
            .keep_registered(
                RegisterTo {
                    registrar: kam.addr.to_string(),
                    transport: Default::default(),
                    credentials: Credentials {
                        user: "predial".into(),
                        secret: Secret::Password("secret".into()),
                    },
                    expires: Duration::from_secs(30),
                },
                move |s| {
                    let _ = tx.send(s);
                },
            )
            .unwrap();
        // Registered (after kamailio's 401 challenge), and kamailio lists us.
        assert_eq!(
            next(&mut rx, Duration::from_secs(10)).await,
            RegistrationState::Registered { expires: 30 }
        );
        assert!(
            registered_at(&kam, our_port, Duration::from_secs(5)).await,
            "{}",
            kam.log_text()
        );

        // kamailio restarts and forgets every registration (memory only).
        drop(kam);
        let kam = Peer::kamailio(Some(port));
        assert!(
            kam.kamailio_contacts().is_empty(),
            "a fresh registrar knows nobody"
        );

        // The refresh, due before the 30 s expire, registers us again (a REGISTER that went out
        // while kamailio was down may fail first and be tried again).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match next(&mut rx, left).await {
                RegistrationState::Registered { expires } => {
                    assert_eq!(expires, 30);
                    break;
                }
                other => eprintln!("while kamailio restarted: {other:?}"),
            }
        }
        assert!(
            registered_at(&kam, our_port, Duration::from_secs(5)).await,
            "{}",
            kam.log_text()
        );
    });
}

#[test]
fn registers_with_an_ha1_instead_of_the_password() {
    runtime().block_on(async {
        let kam = Peer::kamailio(None);
        let sip = agent().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _reg = sip
            .keep_registered(
                RegisterTo {
                    registrar: kam.addr.to_string(),
                    transport: Default::default(),
                    credentials: Credentials {
                        user: "predial".into(),
                        // MD5("predial:127.0.0.1:secret"): kamailio's realm is the To domain.
                        secret: Secret::Ha1("8bfb8aa5ecd43aa5822792ad09f366df".into()),
                    },
                    expires: Duration::from_secs(60),
                },
                move |s| {
                    let _ = tx.send(s);
                },
            )
            .unwrap();
        assert_eq!(
            next(&mut rx, Duration::from_secs(10)).await,
            RegistrationState::Registered { expires: 60 }
        );
        let port = sip.local_addr().port();
        assert!(registered_at(&kam, port, Duration::from_secs(5)).await);
    });
}

#[test]
fn a_registrar_that_refuses_our_password_is_reported_and_retried() {
    runtime().block_on(async {
        let kam = Peer::kamailio(None);
        let sip = agent().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _reg = sip
            .keep_registered(
                RegisterTo {
                    registrar: kam.addr.to_string(),
                    transport: Default::default(),
                    credentials: Credentials {
                        user: "predial".into(),
                        secret: Secret::Password("wrong".into()),
                    },
                    expires: Duration::from_secs(60),
                },
                move |s| {
                    let _ = tx.send(s);
                },
            )
            .unwrap();
        assert_eq!(
            next(&mut rx, Duration::from_secs(10)).await,
            RegistrationState::Rejected { status: 403 }
        );
        // Tried again after a back-off, refused again.
        assert_eq!(
            next(&mut rx, Duration::from_secs(10)).await,
            RegistrationState::Rejected { status: 403 }
        );
        assert!(kam.kamailio_contacts().is_empty());
    });
}

/// Runs `predial dial` with one trunk registering to `kam` over `transport`; one lead to a
/// number nobody registered (kamailio answers 404).
fn dial_through_registrar(kam: &Peer, transport: &str) -> serde_json::Value {
    dial_through(
        kam,
        &kam.addr.to_string(),
        &format!("transport = \"{transport}\"\n"),
        transport,
    )
}

/// Runs `predial dial` with one trunk at `address` with `settings` registering to it.
fn dial_through(kam: &Peer, address: &str, settings: &str, label: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!(
        "predial-reg-dial-{}-{}-{label}",
        std::process::id(),
        kam.addr.port()
    ));
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    std::fs::write(
        dir.join("profiles/pbx.toml"),
        format!(
            "name = \"pbx\"\nowner = \"customer\"\naddress = \"{address}\"\nchannels = 5\ncps = 5\ncaller_id = \"+74951234567\"\nkeepalive = \"5s\"\n{settings}\n[auth]\nuser = \"predial\"\npassword = \"secret\"\n\n[registration]\nexpires = \"60s\"\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("campaign.toml"),
        "[campaign]\nquiet_hours = { start = \"00:00\", end = \"00:00\" }\n",
    )
    .unwrap();
    std::fs::write(dir.join("leads.csv"), "+74951110009\n").unwrap();
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let listen = format!("127.0.0.1:{}", free_port());
    let out = super::predial(&[
        "dial",
        "--leads",
        &p("leads.csv"),
        "--profiles",
        &p("profiles"),
        "--campaign",
        &p("campaign.toml"),
        "--sip-listen",
        &listen,
        "--timeout-s",
        "30",
        "--json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = kam;
    if out.status.success() {
        super::json(&out)
    } else {
        // Not finished in time: the report is still one JSON object.
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str(text.trim()).unwrap_or_else(|_| {
            panic!("no report: {text} {}", String::from_utf8_lossy(&out.stderr))
        })
    }
}

#[test]
fn a_tls_trunk_registers_and_carries_calls_when_its_certificate_is_trusted() {
    let tls_port = free_port();
    let kam = Peer::kamailio_tls(tls_port);
    let address = format!("127.0.0.1:{tls_port}");
    let trusted = format!(
        "transport = \"tls\"\n[tls]\nca = \"{}\"\n",
        kam.test_ca().display()
    );
    let report = dial_through(&kam, &address, &trusted, "tls");
    assert_eq!(report["trunks"][0]["state"], "up", "{report}");
    assert_eq!(
        report["leads"][0]["outcomes"][0], "invalid_number",
        "{report}"
    );
    // "up" needs the REGISTER answered 200: on this port kamailio speaks only TLS.
}

#[test]
fn a_tls_trunk_with_an_untrusted_certificate_is_failing() {
    let tls_port = free_port();
    let kam = Peer::kamailio_tls(tls_port);
    let address = format!("127.0.0.1:{tls_port}");
    // The test CA is not given: the system's store does not know it.
    let report = dial_through(&kam, &address, "transport = \"tls\"\n", "tls-untrusted");
    let trunk = &report["trunks"][0];
    assert_eq!(trunk["state"], "failing", "{report}");
    let problem = trunk["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("TLS") && problem.contains("[tls] ca"),
        "the problem says what to do: {problem}"
    );
    assert_eq!(report["finished"], false, "{report}");
}

#[test]
fn a_registered_trunk_carries_calls_through_the_registrar() {
    let kam = Peer::kamailio(None);
    for transport in ["udp", "tcp"] {
        let report = dial_through_registrar(&kam, transport);
        // Calls wait for the registration, then go through the PBX.
        assert_eq!(report["trunks"][0]["state"], "up", "{transport}: {report}");
        assert_eq!(
            report["trunks"][0]["registered"], true,
            "{transport}: {report}"
        );
        assert_eq!(
            report["leads"][0]["outcomes"][0], "invalid_number",
            "{transport}: {report}"
        );
    }
}

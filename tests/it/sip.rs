//! The SIP user agent against real peers (SIPp).

use std::time::Duration;

use predial::sip::{CallEnd, CallEvent, CallUpdate, Ending, Outbound, SipAgent, SipOptions, sdp};
use tokio::sync::mpsc;

use super::peers::Peer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn call_to(id: u64, number: &str, peer: &Peer, ring_timeout: Duration) -> Outbound {
    Outbound {
        id,
        lead: id,
        trunk: "sipp".into(),
        request_uri: format!("sip:{number}@{}", peer.addr),
        from_user: "74951234567".into(),
        from_host: "predial.test".into(),
        credential: None,
        next_hop: None,
        flow: None,
        transport: Default::default(),
        ring_timeout,
        sdp_offer: sdp::offer(id, "127.0.0.1:40000".parse().unwrap()),
        headers: Vec::new(),
    }
}

/// Places calls and collects each one's updates until it ends (bounded).
async fn run(
    agent: &SipAgent,
    calls: Vec<Outbound>,
    hang_up_after: Duration,
) -> Vec<Vec<CallEvent>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<CallUpdate>();
    let n = calls.len();
    let mut controls = Vec::new();
    for c in calls {
        controls.push(agent.call(c, tx.clone()));
    }
    let mut events: Vec<Vec<CallEvent>> = vec![Vec::new(); n];
    let mut ended = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while ended < n {
        let u = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("calls end in time")
            .expect("updates");
        let i = u.id as usize;
        if matches!(u.event, CallEvent::Answered { .. }) {
            let c = controls[i].clone();
            tokio::spawn(async move {
                tokio::time::sleep(hang_up_after).await;
                c.hang_up();
            });
        }
        if matches!(u.event, CallEvent::Ended(_)) {
            ended += 1;
        }
        events[i].push(u.event);
    }
    events
}

fn end_of(events: &[CallEvent]) -> CallEnd {
    match events.last() {
        Some(CallEvent::Ended(e)) => e.clone(),
        other => panic!("no end: {other:?}"),
    }
}

/// Each last digit makes SIPp's callee population answer in its own way.
#[test]
fn sipp_callees_answer_busy_ring_out_fail_as_told() {
    let peer = Peer::sipp_uas("uas-population.xml", &[]);
    let rt = runtime();
    rt.block_on(async {
        let agent = SipAgent::start(SipOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..SipOptions::default()
        })
        .await
        .expect("the agent starts");
        let numbers = [
            "79000000000",
            "79000000003",
            "79000000005",
            "79000000006",
            "79000000007",
            "79000000008",
        ];
        let calls = numbers
            .iter()
            .enumerate()
            .map(|(i, n)| call_to(i as u64, n, &peer, Duration::from_secs(4)))
            .collect();
        let events = run(&agent, calls, Duration::from_millis(500)).await;
        // ..0: rings, answered, we hang up.
        assert!(events[0].contains(&CallEvent::Ringing), "{:?}", events[0]);
        assert!(
            events[0]
                .iter()
                .any(|e| matches!(e, CallEvent::Answered { .. }))
        );
        assert_eq!(end_of(&events[0]), CallEnd::HungUpByUs);
        // The answer carries SIPp's SDP.
        let sdp_answer = events[0]
            .iter()
            .find_map(|e| match e {
                CallEvent::Answered { sdp, .. } => Some(sdp.clone()),
                _ => None,
            })
            .unwrap();
        assert!(sdp::parse_answer(&sdp_answer).unwrap().rtp.is_some());
        // ..3: the callee hangs up after 3 s... but we hang up at 0.5 s first.
        assert!(matches!(
            end_of(&events[1]),
            CallEnd::HungUpByUs | CallEnd::HungUpByThem
        ));
        assert_eq!(
            end_of(&events[2]),
            CallEnd::NotAnswered {
                ending: Ending::Status(486),
                rang: false
            }
        );
        assert_eq!(
            end_of(&events[3]),
            CallEnd::NotAnswered {
                ending: Ending::RingTimeout,
                rang: true
            }
        );
        assert_eq!(
            end_of(&events[4]),
            CallEnd::NotAnswered {
                ending: Ending::Status(404),
                rang: false
            }
        );
        assert_eq!(
            end_of(&events[5]),
            CallEnd::NotAnswered {
                ending: Ending::Status(503),
                rang: false
            }
        );
        assert_eq!(agent.dialogs(), 0, "no dialog left behind");
    });
    let log = peer.log_text();
    drop(peer);
    let _ = log;
}

/// The callee hangs up first.
#[test]
fn a_callee_hanging_up_ends_the_call() {
    let peer = Peer::sipp_uas("uas-population.xml", &[]);
    runtime().block_on(async {
        let agent = SipAgent::start(SipOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..SipOptions::default()
        })
        .await
        .unwrap();
        let events = run(
            &agent,
            vec![call_to(0, "79000000003", &peer, Duration::from_secs(10))],
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(end_of(&events[0]), CallEnd::HungUpByThem);
        assert_eq!(agent.dialogs(), 0);
    });
}

/// Sends `data` to `to` from a fresh UDP socket and returns the first reply, if any (bounded).
fn exchange(to: std::net::SocketAddr, data: &[u8]) -> Option<String> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    s.send_to(data, to).unwrap();
    let mut buf = [0u8; 4096];
    s.recv_from(&mut buf)
        .ok()
        .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn request(method: &str, cseq: &str, content_length: &str, port: u16) -> String {
    format!(
        "{method} sip:predial@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-screen-{method}-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@127.0.0.1>;tag=p1\r\n\
         To: <sip:predial@127.0.0.1>\r\n\
         Call-ID: screen-{method}-{cseq}@127.0.0.1\r\n\
         CSeq: {cseq}\r\n\
         Content-Length: {content_length}\r\n\r\n"
    )
}

#[test]
fn bad_messages_get_4xx_or_are_dropped_and_the_agent_keeps_working() {
    runtime().block_on(async {
        let listen = format!("127.0.0.1:{}", super::peers::free_port());
        let agent = SipAgent::start(SipOptions {
            listen: listen.parse().unwrap(),
            ..SipOptions::default()
        })
        .await
        .unwrap();
        let to = agent.local_addr();
        let probe = move |data: Vec<u8>| tokio::task::spawn_blocking(move || exchange(to, &data));
        // CSeq names another method: 400, on the request's own transaction.
        let reply = probe(request("OPTIONS", "1 BYE", "0", 9).into_bytes())
            .await
            .unwrap();
        let reply = reply.expect("an answer");
        assert!(reply.starts_with("SIP/2.0 400"), "{reply}");
        assert!(
            reply.contains("branch=z9hG4bK-screen-OPTIONS-1 BYE"),
            "{reply}"
        );
        // A datagram shorter than its Content-Length: 400.
        let reply = probe(request("OPTIONS", "2 OPTIONS", "300", 9).into_bytes())
            .await
            .unwrap();
        assert!(reply.expect("an answer").starts_with("SIP/2.0 400"));
        // Garbage, and a message without Via: nothing comes back.
        assert_eq!(
            probe(b"\x00\x01garbage\r\n\r\n".to_vec()).await.unwrap(),
            None
        );
        let no_via: String = request("OPTIONS", "3 OPTIONS", "0", 9)
            .lines()
            .filter(|l| !l.starts_with("Via:"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        assert_eq!(probe(no_via.into_bytes()).await.unwrap(), None);
        // And a good OPTIONS still gets 200.
        let reply = probe(request("OPTIONS", "4 OPTIONS", "0", 9).into_bytes())
            .await
            .unwrap();
        assert!(reply.expect("an answer").starts_with("SIP/2.0 200"));
        agent.shutdown();
    });
}

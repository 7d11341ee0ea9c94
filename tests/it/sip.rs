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
        request_uri: format!("sip:{number}@{}", peer.addr),
        from_user: "74951234567".into(),
        from_host: "predial.test".into(),
        credential: None,
        next_hop: None,
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

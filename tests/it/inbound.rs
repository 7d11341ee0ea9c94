//! Inbound calls against real peers: SIPp UACs call the shop through a trunk, baresip
//! operators answer. Calls are spread evenly; a waiting caller hears the queue (RTP from predial
//! while no operator is free); a caller who hangs up while waiting produces the `call.missed`
//! webhook and a callback lead; the order-status bot answers a known number without an
//! operator.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Server, temp_dir};
use super::operators::{Baresip, state_of};
use super::peers::free_port;
use super::webhooks::Receiver;

const SECRET: &str = "a-secret-of-the-shop-0123456789";

/// A profiles folder: the `carrier` trunk, whose calls come from SIPp's `trunk_port`, these
/// operators (password `op-LOGIN-pass`), and `inbound` as inbound.toml.
fn inbound_profiles(data: &Path, trunk_port: u16, operators: &[&str], inbound: &str) -> PathBuf {
    profiles_with_trunk(data, &format!("127.0.0.1:{trunk_port}"), operators, inbound)
}

/// The same, with the `carrier` trunk at `trunk_address` (`host:port`).
pub(super) fn profiles_with_trunk(
    data: &Path,
    trunk_address: &str,
    operators: &[&str],
    inbound: &str,
) -> PathBuf {
    let dir = data.join("profiles");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("carrier.toml"),
        format!(
            "name = \"carrier\"\nowner = \"customer\"\naddress = \"{trunk_address}\"\nchannels = 10\ncps = 5\ncaller_id = \"+74951234567\"\n"
        ),
    )
    .unwrap();
    let ops: String = operators
        .iter()
        .map(|l| format!("[[operator]]\nlogin = \"{l}\"\npassword = \"op-{l}-pass\"\n\n"))
        .collect();
    std::fs::write(dir.join("operators.toml"), ops).unwrap();
    std::fs::write(dir.join("inbound.toml"), inbound).unwrap();
    dir
}

/// `predial serve` on `profiles`, English prompts, RTP on `rtp_ports`; more flags in `extra`.
pub(super) fn serve(data: &Path, profiles: &Path, rtp_ports: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "--profiles",
        profiles.to_str().unwrap(),
        "--rtp-ports",
        rtp_ports,
        "--lang",
        "en",
    ];
    args.extend_from_slice(extra);
    Server::start_with(data, None, &args)
}

/// What arrives on a caller's RTP port: (seconds since `start`, whether the payload is sound).
fn listen(socket: UdpSocket, start: Instant, until: Instant) -> Arc<Mutex<Vec<(f64, bool)>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while Instant::now() < until {
            if let Ok(n) = socket.recv(&mut buf) {
                // PCMU silence is 0xFF (and 0x7F); speech and music are anything else.
                let sound = n > 12
                    && buf[12..n]
                        .iter()
                        .filter(|&&b| b != 0xff && b != 0x7f)
                        .count()
                        > (n - 12) / 4;
                g.lock()
                    .unwrap()
                    .push((start.elapsed().as_secs_f64(), sound));
            }
        }
    });
    got
}

/// Runs SIPp callers from `port` (the trunk's), one per CSV line; true when all went well.
fn sipp_callers(scenario_file: &str, target: SocketAddr, port: u16, lines: &[String]) -> bool {
    super::peers::sipp_client(scenario_file, target, port, lines, 90)
}

/// baresip operators (auto-answering, password `op-LOGIN-pass`), once all are ready.
fn ready_operators(server: &Server, data: &Path, logins: &[&str]) -> Vec<Baresip> {
    let phones: Vec<Baresip> = logins
        .iter()
        .map(|l| {
            Baresip::start(
                &data.join(format!("baresip-{l}")),
                l,
                &format!("op-{l}-pass"),
                server.sip,
            )
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(20);
    while logins.iter().any(|l| state_of(server, l) != "ready") {
        assert!(
            Instant::now() < until,
            "the operators registered and are ready: {}",
            phones[0].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    phones
}

/// Calls each baresip answered (its log says so once per call).
/// A webhook receiver on `port`, and the service told to deliver there, signed with `SECRET`.
pub(super) fn webhooks_to(server: &Server, port: u16) -> Receiver {
    let receiver = Receiver::start(port, SECRET, 0);
    let (status, v) = server.call(
        "PUT",
        "/v1/webhook",
        Some(json!({"url": format!("http://127.0.0.1:{port}/hooks"), "secret": SECRET})),
    );
    assert_eq!(status, 200, "{v}");
    receiver
}

fn answered(phone: &Baresip) -> usize {
    phone.log().matches("Call established").count()
}

#[test]
fn callers_are_spread_evenly_hear_the_queue_and_missed_ones_become_callbacks() {
    let data = temp_dir("inbound");
    let trunk_port = free_port();
    let profiles = inbound_profiles(
        &data,
        trunk_port,
        &["2101", "2102", "2103"],
        "[[queue]]\nname = \"shop\"\nring_timeout = \"10s\"\nmax_wait = \"2m\"\n\
         announce_every = \"10s\"\nwrap_up = \"1s\"\nhandle_time = \"10s\"\n\
         callback_campaign = \"callbacks\"\n\n\
         [[number]]\nnumber = \"74951234500\"\ntrunk = \"carrier\"\nqueue = \"shop\"\n\n\
         [[number]]\nnumber = \"74951234599\"\nbot = \"order_status\"\n\n\
         [bot]\nqueue = \"shop\"\n",
    );
    let hooks = free_port();
    let server = serve(
        &data,
        &profiles,
        "38000-38998",
        &[
            "--webhook-retry-s",
            "0.2",
            "--webhook-allow-http",
            "--webhook-allow-private",
        ],
    );
    let receiver = webhooks_to(&server, hooks);
    // The callback campaign exists (paused: nothing is dialled back during the test).
    let (status, v) = server.call("POST", "/v1/campaigns", Some(json!({"name": "callbacks"})));
    assert_eq!(status, 201, "{v}");

    let phones = ready_operators(&server, &data, &["2101", "2102", "2103"]);

    // Ten buyers call at once: three talk 4 s, three wait and talk until 14 s, three wait
    // longer and talk until 24 s; the tenth gives up after 3 s in the queue.
    let start = Instant::now();
    let mut sockets = Vec::new();
    let mut lines = Vec::new();
    for (i, stay) in [4, 4, 4, 14, 14, 14, 24, 24, 24, 3].iter().enumerate() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        lines.push(format!(
            "791600000{:02};74951234500;{port};{}",
            i + 1,
            stay * 1000
        ));
        sockets.push(socket);
    }
    let heard: Vec<_> = sockets
        .into_iter()
        .map(|s| listen(s, start, start + Duration::from_secs(40)))
        .collect();
    // Their Call-IDs climb out of the recordings folder: `../../x-N@...`.
    let ok = super::peers::sipp_client_with(
        "uac-inbound.xml",
        server.sip,
        trunk_port,
        &lines,
        90,
        &["-cid_str", "../../x-%u@%s"],
    );
    assert!(
        ok,
        "every caller's call went through; predial: {}",
        std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
    );

    // Spread evenly: each operator answered three calls (their logs may lag the callers').
    let until = Instant::now() + Duration::from_secs(10);
    while phones.iter().map(answered).sum::<usize>() < 9 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let counts: Vec<usize> = phones.iter().map(answered).collect();
    assert_eq!(counts, vec![3, 3, 3], "calls answered by each operator");

    // The seventh caller waited ~15 s: before any operator was free for them they heard the
    // queue (announcement, hold music), not silence.
    let waiting: Vec<(f64, bool)> = heard[6]
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|(t, _)| *t < 12.0)
        .collect();
    let sound = waiting.iter().filter(|(_, s)| *s).count();
    assert!(
        waiting.len() > 400 && sound > 200,
        "the waiting caller got {} RTP packets in their first 12 s, {sound} with sound",
        waiting.len()
    );

    // The queue's figures: nine answered, one abandoned.
    let (_, q) = server.call("GET", "/v1/queues", None);
    let shop = &q["queues"][0];
    assert_eq!(shop["name"], "shop", "{q}");
    assert_eq!(shop["answered"], 9, "{q}");
    assert_eq!(shop["abandoned"], 1, "{q}");
    assert_eq!(shop["waiting"], 0, "{q}");

    // The tenth caller hung up in the queue: the CRM hears of it, and a callback lead waits
    // in the callback campaign.
    let got = receiver.wait_for(1);
    let missed: Vec<&Value> = got
        .iter()
        .filter(|(event, _, _)| event == "call.missed")
        .map(|(_, _, body)| body)
        .collect();
    assert_eq!(missed.len(), 1, "{got:?}");
    assert_eq!(missed[0]["data"]["phone"], "+79160000010", "{}", missed[0]);
    assert_eq!(missed[0]["data"]["reason"], "abandoned_in_queue");
    assert_eq!(missed[0]["data"]["queue"], "shop");
    let until = Instant::now() + Duration::from_secs(10);
    let lead = loop {
        let (_, v) = server.call("GET", "/v1/leads?phone=%2B79160000010", None);
        if let Some(l) = v["leads"].as_array().and_then(|a| a.first()).cloned() {
            break l;
        }
        assert!(Instant::now() < until, "no callback lead: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(lead["campaign"], "callbacks", "{lead}");
    assert_eq!(lead["source"], "callback", "{lead}");
    let (_, m) = server.call("GET", "/v1/missed-calls", None);
    assert_eq!(m["figures"]["missed"], 1, "{m}");
    assert_eq!(m["missed_calls"][0]["lead_id"], lead["id"], "{m}");

    // The bot: a buyer with an order calls the status number; the bot reads the status out and
    // hangs up after a while, no operator involved.
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234567", "order_id": "4321"})),
    );
    assert_eq!(status, 201, "{v}");
    let before: Vec<usize> = phones.iter().map(answered).collect();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let bot_start = Instant::now();
    let heard = listen(socket, bot_start, bot_start + Duration::from_secs(40));
    let ok = sipp_callers(
        "uac-inbound-until-bye.xml",
        server.sip,
        trunk_port,
        &[format!("79161234567;74951234599;{port}")],
    );
    assert!(ok, "the bot answered and hung up by itself");
    let after: Vec<usize> = phones.iter().map(answered).collect();
    assert_eq!(before, after, "no operator took the bot's call");
    let sound = heard.lock().unwrap().iter().filter(|(_, s)| *s).count();
    assert!(sound > 100, "the bot spoke ({sound} packets with sound)");
    let (_, metrics) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert!(
        metrics.contains("predial_bot_served_total 1"),
        "the bot's call counted as served: {}",
        metrics
            .lines()
            .filter(|l| l.contains("bot"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    drop(phones);
    server.stop();
    drop(receiver);
    // The nine bridged calls are recorded under names predial made, inside its folder, private;
    // nothing was written where the callers' Call-IDs pointed.
    let names = recording_names(&data.join("recordings"));
    assert_eq!(names.len(), 9, "{names:?}");
    for n in &names {
        let (stamp, rest) = n.split_at(15);
        assert!(
            stamp.bytes().filter(u8::is_ascii_digit).count() == 14
                && rest.starts_with("-in-")
                && rest.ends_with(".wav"),
            "a name of predial's: {n}"
        );
    }
    for dir in [data.clone(), data.parent().unwrap().to_path_buf()] {
        let escaped = recording_names(&dir)
            .into_iter()
            .filter(|n| n.starts_with("x-"))
            .collect::<Vec<_>>();
        assert!(escaped.is_empty(), "{}: {escaped:?}", dir.display());
    }
    let _ = std::fs::remove_dir_all(&data);
}

/// The names of the WAV files in `dir`.
fn recording_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".wav"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_pickup_reminder_is_said_by_the_bot_and_the_lead_waits_for_the_next_day() {
    let data = temp_dir("pickup");
    let callee = super::peers::Peer::sipp_uas("uas-media.xml", &[]);
    // The carrier trunk leads to the SIPp callee; no inbound numbers, no operators.
    let dir = inbound_profiles(&data, callee.addr.port(), &[], "");
    let server = serve(&data, &dir, "39000-39998", &[]);
    // A reminder campaign: no operator anywhere.
    let (status, v) = server.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "pickup", "policy": {
            "kind": "pickup_reminder",
            "quiet_hours": {"start": "00:00", "end": "00:00"}
        }})),
    );
    assert_eq!(status, 201, "{v}");
    let until = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+74951110003", "campaign": "pickup",
            "pickup_point": "17", "keep_until": until})),
    );
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+74951110004", "campaign": "pickup", "keep_until": "someday"})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("keep_until")),
        "{v}"
    );
    assert_eq!(
        server.call("POST", "/v1/campaigns/pickup/start", None).0,
        200
    );

    // The callee answers, hears the reminder, predial hangs up; the lead waits for tomorrow.
    let deadline = Instant::now() + Duration::from_secs(60);
    let lead = loop {
        let (_, v) = server.call("GET", &format!("/v1/leads/{id}"), None);
        if v["state"] == "scheduled" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the reminder was said and the lead rescheduled: {v}\n{}",
            std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        lead["attempts"], 0,
        "a reminder heard starts a new round: {lead}"
    );
    assert_eq!(lead["pickup_point"], "17", "{lead}");
    assert!(lead["keep_until_ms"].as_i64().is_some(), "{lead}");
    let log = std::fs::read_to_string(data.join("serve.log")).unwrap_or_default();
    assert!(log.contains("pickup reminder"), "{log}");
    server.stop();
    let _ = callee.finish();
    let _ = std::fs::remove_dir_all(&data);
}

/// A missed call whose callback reached the caller counts as recovered, on both databases.
fn missed_calls_are_marked_recovered(database: Option<&str>) {
    let data = temp_dir("missed");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = predial::store::Store::open(database, &data).await.unwrap();
        let (journal, _) = store.open_journal().await.unwrap();
        let now = predial::store::now_ms();
        for (lead, phone) in [(41, "+79160000041"), (42, "+79160000042")] {
            store
                .add_missed_call(&predial::store::missed::MissedCall {
                    id: 0,
                    phone: phone.into(),
                    queue: "shop".into(),
                    reason: "abandoned_in_queue".into(),
                    waited_ms: 12_000,
                    at_ms: now,
                    lead_id: Some(lead),
                    recovered_ms: None,
                })
                .await
                .unwrap();
        }
        journal.write(predial::store::journal::Entry::MissedRecovered {
            lead: predial_core::dialer::LeadId(41),
            at_ms: now + 60_000,
        });
        journal.sync().await;
        let f = store.missed_figures(now - 1).await.unwrap();
        assert_eq!((f.missed, f.recovered), (2, 1));
        assert_eq!(f.recovered_share, 0.5);
        let list = store.missed_calls(now - 1, 10).await.unwrap();
        let recovered: Vec<Option<i64>> = list.iter().map(|m| m.recovered_ms).collect();
        assert_eq!(recovered, vec![None, Some(now + 60_000)], "newest first");
        store.close().await;
    });
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn missed_calls_are_marked_recovered_in_sqlite() {
    missed_calls_are_marked_recovered(None);
}

#[test]
fn missed_calls_are_marked_recovered_in_postgres() {
    let db = super::api::PgDatabase::new("missed");
    missed_calls_are_marked_recovered(Some(&db.url));
}

/// A minimal SMTP relay on loopback: it takes every message (no TLS, no auth) and keeps its
/// text. Stops by itself after a minute.
fn smtp_relay() -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let m = mails.clone();
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            let Ok((conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut out = conn.try_clone().unwrap();
            let mut lines = BufReader::new(conn);
            let _ = out.write_all(b"220 relay ESMTP\r\n");
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                let cmd = line.trim_end().to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                    b"250 relay\r\n"
                } else if cmd.starts_with("DATA") {
                    let _ = out.write_all(b"354 go on\r\n");
                    let mut text = String::new();
                    let mut l = String::new();
                    while lines.read_line(&mut l).is_ok_and(|n| n > 0) {
                        if l == ".\r\n" {
                            break;
                        }
                        text += &l;
                        l.clear();
                    }
                    m.lock().unwrap().push(text);
                    b"250 queued\r\n"
                } else if cmd.starts_with("QUIT") {
                    let _ = out.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 ok\r\n"
                };
                let _ = out.write_all(reply);
                line.clear();
            }
        }
    });
    (port, mails)
}

#[test]
fn a_caller_past_the_longest_wait_presses_1_and_one_after_hours_is_called_back() {
    let data = temp_dir("inbound-offer");
    let trunk_port = free_port();
    // Working hours that exclude now (in UTC): an hour from now to two hours from now.
    let h = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%H")
        .to_string();
    let h: u32 = h.parse().unwrap();
    let hours = if h < 23 {
        format!("{h:02}:00-{:02}:00", h + 1)
    } else {
        "00:30-01:00".to_string()
    };
    let (smtp, mails) = smtp_relay();
    let dir = inbound_profiles(
        &data,
        trunk_port,
        &[],
        &format!(
            "[[queue]]\nname = \"shop\"\nmax_wait = \"6s\"\nannounce_every = \"5s\"\n\
             callback_campaign = \"callbacks\"\n\n\
             [[queue]]\nname = \"day\"\nhours = \"{hours}\"\ntime_zone = \"UTC\"\n\
             callback_campaign = \"callbacks\"\n\n\
             [[number]]\nnumber = \"100\"\nqueue = \"shop\"\n\n\
             [[number]]\nnumber = \"300\"\nqueue = \"day\"\n\n\
             [email]\nrelay = \"127.0.0.1:{smtp}\"\nsecurity = \"none\"\n\
             from = \"predial@shop.example\"\nto = [\"callcenter@shop.example\"]\n"
        ),
    );
    let server = serve(&data, &dir, "39200-39598", &[]);
    // The callback campaign exists, paused: nothing is dialled back during the test.
    let (status, v) = server.call("POST", "/v1/campaigns", Some(json!({"name": "callbacks"})));
    assert_eq!(status, 201, "{v}");
    // Nobody serves the queue: after 6 s the caller is offered a callback, presses 1 at 9 s
    // and predial says goodbye and hangs up.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let ok = sipp_callers(
        "uac-inbound-press-1.xml",
        server.sip,
        trunk_port,
        &[format!("79160000444;100;{port};9000")],
    );
    assert!(
        ok,
        "the caller pressed 1 and predial hung up: {}",
        std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
    );
    // After hours: the caller hears that the shop is closed, and predial hangs up.
    let ok = sipp_callers(
        "uac-inbound-until-bye.xml",
        server.sip,
        trunk_port,
        &[format!("79160000555;300;{port}")],
    );
    assert!(ok, "the after-hours caller was told and hung up on");
    let until = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let (_, m) = server.call("GET", "/v1/missed-calls", None);
        if m["figures"]["missed"] == 2 || Instant::now() > until {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let reasons: Vec<(&str, &str)> = m["missed_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["phone"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("+79160000555", "after_hours"),
            ("+79160000444", "callback_asked")
        ],
        "{m}"
    );
    for phone in ["%2B79160000444", "%2B79160000555"] {
        let (_, v) = server.call("GET", &format!("/v1/leads?phone={phone}"), None);
        assert_eq!(v["leads"][0]["campaign"], "callbacks", "{v}");
    }
    let (_, q) = server.call("GET", "/v1/queues", None);
    assert_eq!(q["queues"][0]["timed_out"], 1, "{q}");
    // The supervisors' mailbox got both, through the SMTP relay.
    let until = Instant::now() + Duration::from_secs(10);
    while mails.lock().unwrap().len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let all = mails.join("\n");
    for text in [
        "Subject: Missed call from +79160000444 (shop)",
        "Subject: Missed call from +79160000555 (day)",
        "Reason:  callback_asked",
        "Reason:  after_hours",
        "To: callcenter@shop.example",
    ] {
        assert!(all.contains(text), "`{text}` in {all}");
    }
    drop(socket);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn an_operator_who_does_not_answer_is_paused_the_caller_goes_to_the_next_and_the_reports_count_both()
 {
    let data = temp_dir("inbound-ring");
    let trunk_port = free_port();
    let dir = inbound_profiles(
        &data,
        trunk_port,
        &["2201", "2202"],
        "[[queue]]\nname = \"shop\"\nring_timeout = \"3s\"\n\n[[number]]\nnumber = \"100\"\nqueue = \"shop\"\n",
    );
    let server = serve(&data, &dir, "39600-39998", &[]);
    // 2201 is ready first (the longest idle: the first rung) but never picks up.
    let away = Baresip::start_answering(
        &data.join("baresip-2201"),
        "2201",
        "op-2201-pass",
        server.sip,
        "manual",
    );
    let until = Instant::now() + Duration::from_secs(20);
    while state_of(&server, "2201") != "ready" {
        assert!(Instant::now() < until, "2201 ready: {}", away.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let there = Baresip::start(
        &data.join("baresip-2202"),
        "2202",
        "op-2202-pass",
        server.sip,
    );
    while state_of(&server, "2202") != "ready" {
        assert!(Instant::now() < until, "2202 ready: {}", there.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let ok = sipp_callers(
        "uac-inbound.xml",
        server.sip,
        trunk_port,
        &[format!("79160000777;100;{port};10000")],
    );
    assert!(
        ok,
        "the caller's call went through: {}",
        std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
    );
    // 2201's phone rang (and was given up on after 3 s); 2202 answered; 2201 is paused.
    assert!(
        away.log().contains("Incoming call") || away.log().contains("incoming call"),
        "2201's phone rang: {}",
        away.log()
    );
    assert_eq!(answered(&away), 0, "{}", away.log());
    assert_eq!(answered(&there), 1, "{}", there.log());
    assert_eq!(state_of(&server, "2201"), "paused");
    let (_, q) = server.call("GET", "/v1/queues", None);
    assert_eq!(q["queues"][0]["answered"], 1, "{q}");
    // The reports count the call for both operators: missed by 2201, accepted by 2202.
    let day = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%d");
    let path = format!(
        "/v1/reports/kpis?from={}&to={}&by=operator&tz=UTC",
        day(-1),
        day(1)
    );
    let figures = |login: &str, v: &Value| {
        v["rows"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["group"] == login))
            .map(|r| (r["calls_accepted"].clone(), r["calls_missed"].clone()))
    };
    let until = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let (status, v) = server.call("GET", &path, None);
        assert_eq!(status, 200, "{v}");
        if figures("2201", &v).is_some() && figures("2202", &v).is_some() {
            break v;
        }
        assert!(Instant::now() < until, "both operators in the report: {v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        figures("2201", &report),
        Some((json!(0), json!(1))),
        "{report}"
    );
    assert_eq!(
        figures("2202", &report),
        Some((json!(1), json!(0))),
        "{report}"
    );
    assert_eq!(report["total"]["calls_accepted"], 1, "{report}");
    assert_eq!(report["total"]["calls_missed"], 1, "{report}");
    drop(away);
    drop(there);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_power_campaign_holds_back_while_callers_wait_for_its_operators() {
    let data = temp_dir("inbound-blend");
    let callees = super::peers::Peer::sipp_uas("uas-talk-bye.xml", &[]);
    let uac_port = free_port();
    // The campaign exists before the service starts, so operators' skills can name it.
    let leads = data.join("leads.csv");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        &leads,
        "phone\n+74951110000\n+74951110001\n+74951110002\n+74951110003\n+74951110004\n",
    )
    .unwrap();
    let out = super::predial(&[
        "leads",
        "import",
        leads.to_str().unwrap(),
        "--campaign",
        "blend",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One trunk: out to the SIPp callees, and in from the SIPp callers' port.
    let dir = inbound_profiles(
        &data,
        callees.addr.port(),
        &[],
        "[[queue]]\nname = \"shop\"\nhold_back_outbound_at = 1\n\n\
         [[number]]\nnumber = \"100\"\nqueue = \"shop\"\n",
    );
    let trunk = std::fs::read_to_string(dir.join("carrier.toml")).unwrap();
    std::fs::write(
        dir.join("carrier.toml"),
        format!("{trunk}inbound_from = [\"127.0.0.1:{uac_port}\"]\n"),
    )
    .unwrap();
    // 2301 and 2302 take the queue and the campaign; 2303 the campaign only.
    std::fs::write(
        dir.join("operators.toml"),
        "[[operator]]\nlogin = \"2301\"\npassword = \"op-2301-pass\"\nskills = [\"shop\", \"blend\"]\n\n\
         [[operator]]\nlogin = \"2302\"\npassword = \"op-2302-pass\"\nskills = [\"shop\", \"blend\"]\n\n\
         [[operator]]\nlogin = \"2303\"\npassword = \"op-2303-pass\"\nskills = [\"blend\"]\n",
    )
    .unwrap();
    let server = serve(&data, &dir, "39000-39598", &[]);
    let (status, v) = server.call(
        "PUT",
        "/v1/campaigns/blend/policy",
        Some(
            json!({"mode": "power", "quiet_hours": {"start": "00:00", "end": "00:00"},
            "pacing": {"power_ratio": 2.0}}),
        ),
    );
    assert_eq!(status, 200, "{v}");
    let phones = ready_operators(&server, &data, &["2301", "2302", "2303"]);
    // Three callers: two are with 2301 and 2302, the third waits; all leave after 12 s.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let target = server.sip;
    let callers = std::thread::spawn(move || {
        sipp_callers(
            "uac-inbound.xml",
            target,
            uac_port,
            &(1..=3)
                .map(|i| format!("79160000{i:03};100;{port};12000"))
                .collect::<Vec<_>>(),
        )
    });
    // Outbound attempts, as stored before each INVITE leaves (persist before act).
    let attempts = |server: &Server| -> i64 {
        let (_, v) = server.call("GET", "/v1/trunks", None);
        v["trunks"][0]["last_hour"]["calls"].as_i64().unwrap_or(0)
    };
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, q) = server.call("GET", "/v1/queues", None);
        if q["queues"][0]["waiting"] == 1 {
            break;
        }
        assert!(Instant::now() < until, "a caller waits: {q}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The campaign starts while the caller waits: 2303 is ready, but nothing is dialled.
    assert_eq!(
        server.call("POST", "/v1/campaigns/blend/start", None).0,
        200
    );
    std::thread::sleep(Duration::from_secs(6));
    let (_, q) = server.call("GET", "/v1/queues", None);
    assert_eq!(q["queues"][0]["waiting"], 1, "still waiting: {q}");
    assert_eq!(
        attempts(&server),
        0,
        "no outbound call while a caller waits"
    );
    // The callers leave; the campaign dials.
    assert!(callers.join().unwrap(), "the callers' calls went through");
    let until = Instant::now() + Duration::from_secs(20);
    while attempts(&server) == 0 {
        assert!(
            Instant::now() < until,
            "the campaign dials once nobody waits: {}",
            std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(phones);
    server.stop();
    let _ = callees.finish();
    let _ = std::fs::remove_dir_all(&data);
}

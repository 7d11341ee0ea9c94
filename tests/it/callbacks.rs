//! Callbacks through `predial serve` with real peers: one agreed at the desk
//! (`POST /v1/dispositions`) and one keyed on the operator's phone are both dialled at their
//! time, not before; a result keyed on the phone is stored and notified as the desk's is; a
//! missed call's callback is the first call out, ahead of the leads waiting, in both priority
//! variants.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Server, temp_dir};
use super::inbound::{profiles_with_trunk, serve};
use super::operators::{Baresip, state_of};
use super::peers::{Peer, free_port};

/// Runs `f` on the store of `data` (the server's SQLite, read alongside it).
fn with_store<T>(data: &Path, f: impl AsyncFnOnce(&predial::store::Store) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = predial::store::Store::open(None, data).await.unwrap();
        let out = f(&store).await;
        store.close().await;
        out
    })
}

/// The lead's attempts' start times (ms), oldest first.
fn attempt_starts(data: &Path, lead: i64) -> Vec<i64> {
    with_store(data, async |s| {
        let a = s.attempts_of(lead).await.unwrap();
        a.into_iter().map(|(_, started, _)| started).collect()
    })
}

fn dispositions(data: &Path, lead: i64) -> Vec<predial::store::dispositions::NewDisposition> {
    with_store(data, async |s| s.dispositions_of(lead).await.unwrap())
}

/// Waits (bounded) until `ok` holds, polling; panics with `what` and the server's log.
fn wait_until(data: &Path, secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(
            Instant::now() < until,
            "{what}; predial: {}",
            std::fs::read_to_string(data.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn add_lead(server: &Server, phone: &str, order: &str, campaign: &str) -> i64 {
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": phone, "order_id": order, "campaign": campaign})),
    );
    assert!(status == 201 || status == 200, "{v}");
    v["id"].as_i64().expect("the lead's id")
}

fn make_campaign(server: &Server, name: &str, priority: u8) {
    let (status, v) = server.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": name, "policy": {
            "quiet_hours": {"start": "00:00", "end": "00:00"},
            "wrap_up": "1s",
            "priority": priority
        }})),
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = server.call("POST", &format!("/v1/campaigns/{name}/start"), None);
    assert_eq!(status, 200, "{v}");
}

fn ready_operator(server: &Server, data: &Path, login: &str) -> Baresip {
    let phone = Baresip::start(
        &data.join(format!("baresip-{login}")),
        login,
        &format!("op-{login}-pass"),
        server.sip,
    );
    // Ready, or already given a call.
    wait_until(data, 20, "the operator logged in", || {
        let s = state_of(server, login);
        ["ready", "reserved", "on_call", "wrap_up"]
            .iter()
            .any(|w| s == *w)
    });
    phone
}

/// The `alert` webhooks received for a lead.
fn alerts_of(got: &[(String, String, Value)], lead: i64) -> Vec<Value> {
    got.iter()
        .filter(|(event, _, body)| event == "alert" && body["data"]["lead"] == lead)
        .map(|(_, _, body)| body.clone())
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[test]
fn callbacks_from_the_desk_and_the_phone_are_dialled_at_their_time_and_stored_alike() {
    let data = temp_dir("callbacks");
    let callees = Peer::sipp_uas("uas-talk-bye.xml", &[]);
    let dir = profiles_with_trunk(&data, &callees.addr.to_string(), &["2301"], "");
    let hooks = free_port();
    let server = serve(
        &data,
        &dir,
        "35400-35598",
        &[
            "--dtmf-callback-after-s",
            "6",
            "--webhook-retry-s",
            "0.2",
            "--webhook-allow-http",
            "--webhook-allow-private",
        ],
    );
    let receiver = super::inbound::webhooks_to(&server, hooks);
    let phone = ready_operator(&server, &data, "2301");
    make_campaign(&server, "shop", 1);
    let keyed = add_lead(&server, "+74951110100", "K-1", "shop");

    // The first call: the operator keys a complaint (7), then a callback (3).
    wait_until(&data, 30, "the first call reaches the operator", || {
        state_of(&server, "2301") == "on_call"
    });
    phone.key("7");
    wait_until(&data, 10, "the keyed complaint is stored", || {
        dispositions(&data, keyed).len() == 1
    });
    phone.key("3");
    wait_until(&data, 10, "the keyed callback is stored", || {
        dispositions(&data, keyed).len() == 2
    });
    let keyed_at = dispositions(&data, keyed)[1]
        .callback_ms
        .expect("a keyed callback has its time");

    // The second lead's call ends without a key; the desk enters a complaint and a callback.
    let desk = add_lead(&server, "+74951110101", "D-1", "shop");
    wait_until(&data, 40, "the second lead was called", || {
        server.call("GET", &format!("/v1/leads/{desk}"), None).1["state"] == "done"
    });
    let (status, v) = server.call(
        "POST",
        "/v1/dispositions",
        Some(json!({"lead": desk, "operator": "2301", "kind": "complaint"})),
    );
    assert_eq!(status, 201, "{v}");
    let desk_at = predial::store::now_ms() + 6_000;
    let at = chrono::DateTime::from_timestamp_millis(desk_at)
        .unwrap()
        .to_rfc3339();
    let (status, v) = server.call(
        "POST",
        "/v1/dispositions",
        Some(json!({"lead": desk, "operator": "2301", "kind": "callback", "callback_at": at})),
    );
    assert_eq!(status, 201, "{v}");

    // Both leads are called again: at their callback's time, not before, not left waiting.
    for (lead, at) in [(keyed, keyed_at), (desk, desk_at)] {
        wait_until(&data, 40, "the callback is dialled", || {
            attempt_starts(&data, lead).len() == 2
        });
        let second = attempt_starts(&data, lead)[1];
        assert!(
            second >= at,
            "lead {lead}: called back at {second}, agreed for {at}"
        );
    }

    // The same rows: the keyed result as the desk's (the note says how it came).
    let (k, d) = (dispositions(&data, keyed), dispositions(&data, desk));
    for (k, d) in k.iter().zip(&d) {
        assert_eq!(k.kind, d.kind);
        assert_eq!(k.operator.as_deref(), Some("2301"));
        assert_eq!(k.operator, d.operator);
        assert_eq!((&k.items, k.sum_minor), (&d.items, d.sum_minor));
        assert_eq!(k.callback_ms.is_some(), d.callback_ms.is_some());
        assert!(k.attempt.is_some(), "a keyed result names its attempt");
    }
    // The same alert: event, body and data fields.
    let got = receiver.wait_for(2);
    let (ka, da) = (alerts_of(&got, keyed), alerts_of(&got, desk));
    assert_eq!((ka.len(), da.len()), (1, 1), "{got:?}");
    assert_eq!(keys(&ka[0]), keys(&da[0]));
    assert_eq!(keys(&ka[0]["data"]), keys(&da[0]["data"]));
    for field in ["alert", "kind", "operator"] {
        assert_eq!(ka[0]["data"][field], da[0]["data"][field], "{field}");
    }
    assert_eq!(ka[0]["data"]["alert"], "complaint");
    assert_eq!(ka[0]["data"]["order_id"], "K-1");
    drop(phone);
    server.stop();
    let _ = callees.finish();
    let _ = std::fs::remove_dir_all(&data);
}

/// A missed call (after hours) while three leads wait for the campaign's only operator; the
/// operator comes: the first call out is the missed caller's.
fn missed_callback_is_the_first_call(priority: u8, rtp: &str) {
    let data = temp_dir("missed-first");
    let callees = Peer::sipp_uas("uas-talk-bye.xml", &[]);
    let caller_port = free_port();
    // Working hours that exclude now (UTC), so a call is missed at once.
    let h: u32 = (chrono::Utc::now() + chrono::Duration::hours(2))
        .format("%H")
        .to_string()
        .parse()
        .unwrap();
    let hours = if h < 23 {
        format!("{h:02}:00-{:02}:00", h + 1)
    } else {
        "00:30-01:00".to_string()
    };
    let dir = profiles_with_trunk(
        &data,
        &callees.addr.to_string(),
        &["2311"],
        &format!(
            "[[queue]]\nname = \"day\"\nhours = \"{hours}\"\ntime_zone = \"UTC\"\n\
             callback_campaign = \"shop\"\n\n[[number]]\nnumber = \"300\"\nqueue = \"day\"\n"
        ),
    );
    let carrier = dir.join("carrier.toml");
    let profile = std::fs::read_to_string(&carrier).unwrap();
    std::fs::write(
        &carrier,
        format!("{profile}inbound_from = [\"127.0.0.1:{caller_port}\"]\n"),
    )
    .unwrap();
    let server = serve(&data, &dir, rtp, &[]);
    make_campaign(&server, "shop", priority);
    let waiting: Vec<i64> = (0..3)
        .map(|i| {
            add_lead(
                &server,
                &format!("+7495111020{i}"),
                &format!("W-{i}"),
                "shop",
            )
        })
        .collect();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let ok = super::peers::sipp_client(
        "uac-inbound-until-bye.xml",
        server.sip,
        caller_port,
        &[format!("79160000555;300;{port}")],
        60,
    );
    assert!(ok, "the caller was told the shop is closed");
    let mut callback = None;
    wait_until(&data, 20, "the missed call made a callback lead", || {
        let (_, v) = server.call("GET", "/v1/missed-calls", None);
        callback = v["missed_calls"][0]["lead_id"].as_i64();
        callback.is_some()
    });
    let callback = callback.unwrap();
    assert!(!waiting.contains(&callback));
    let phone = ready_operator(&server, &data, "2311");
    let mut all = waiting.clone();
    all.push(callback);
    let mut first = Vec::new();
    wait_until(&data, 30, "a lead is dialled", || {
        first = all
            .iter()
            .copied()
            .filter(|l| !attempt_starts(&data, *l).is_empty())
            .collect();
        !first.is_empty()
    });
    assert_eq!(first, [callback], "priority {priority}: the first call out");
    drop(phone);
    server.stop();
    let _ = callees.finish();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_missed_calls_callback_is_the_first_call_out_in_priority_variant_1() {
    missed_callback_is_the_first_call(1, "35600-35798");
}

#[test]
fn a_missed_calls_callback_is_the_first_call_out_in_priority_variant_2() {
    missed_callback_is_the_first_call(2, "35800-35998");
}

//! Callback toll fraud that must fail, against a running `predial serve`: a stranger leaves
//! missed calls (after hours, so each is missed at once) from a premium-rate number, and a
//! burst of them from one number range. The missed calls are stored and reported; none of
//! them becomes a lead, so nothing dials them back.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::temp_dir;
use super::inbound::{profiles_with_trunk, serve};
use super::peers::{free_port, sipp_client};

/// Working hours that exclude now (UTC): from an hour from now to two hours from now.
fn hours_closed_now() -> String {
    let h: u32 = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%H")
        .to_string()
        .parse()
        .unwrap();
    if h < 23 {
        format!("{h:02}:00-{:02}:00", h + 1)
    } else {
        "00:30-01:00".to_string()
    }
}

#[test]
fn missed_calls_from_a_premium_number_or_in_a_burst_make_no_callbacks() {
    let data = temp_dir("fraud");
    let trunk_port = free_port();
    let inbound = format!(
        "[[queue]]\nname = \"day\"\nhours = \"{}\"\ntime_zone = \"UTC\"\n\
         callback_campaign = \"callbacks\"\n\n\
         [[number]]\nnumber = \"300\"\nqueue = \"day\"\n\n\
         [missed_burst]\ncalls = 3\nwindow = \"10m\"\n",
        hours_closed_now()
    );
    let dir = profiles_with_trunk(&data, &format!("127.0.0.1:{trunk_port}"), &[], &inbound);
    let server = serve(&data, &dir, "37000-37198", &[]);
    let (status, v) = server.call("POST", "/v1/campaigns", Some(json!({"name": "callbacks"})));
    assert_eq!(status, 201, "{v}");
    let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rtp.local_addr().unwrap().port();
    // One premium-rate caller, then four callers of one block of numbers.
    let callers = [
        "78091234567",
        "79160001001",
        "79160001002",
        "79160001003",
        "79160001004",
    ];
    for caller in callers {
        let ok = sipp_client(
            "uac-inbound-until-bye.xml",
            server.sip,
            trunk_port,
            &[format!("{caller};300;{port}")],
            20,
        );
        assert!(ok, "{caller} was told the shop is closed and hung up on");
    }
    let until = Instant::now() + Duration::from_secs(15);
    let missed = loop {
        let (_, m) = server.call("GET", "/v1/missed-calls", None);
        if m["missed_calls"].as_array().map_or(0, Vec::len) == callers.len()
            || Instant::now() > until
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let lead_of = |phone: &str| -> Value {
        missed["missed_calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["phone"] == phone)
            .unwrap_or_else(|| panic!("{phone} is a missed call: {missed}"))["lead_id"]
            .clone()
    };
    // Stored and reported, but no callback lead for the premium number...
    assert_eq!(lead_of("+78091234567"), Value::Null, "{missed}");
    // ... nor for the block's calls from the third on (a burst), while the first two got one.
    let with_lead = callers[1..]
        .iter()
        .filter(|c| !lead_of(&format!("+{c}")).is_null())
        .count();
    assert_eq!(with_lead, 2, "{missed}");
    let (_, v) = server.call("GET", "/v1/leads?phone=%2B78091234567", None);
    assert_eq!(v["leads"], json!([]), "no lead, so nothing to dial: {v}");
    let log = std::fs::read_to_string(data.join("serve.log")).unwrap_or_default();
    assert!(
        log.contains("missed calls are bursting"),
        "the alert: {log}"
    );
    let (_, metrics) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert!(
        metrics.contains("predial_missed_call_bursts_total 1"),
        "{metrics}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

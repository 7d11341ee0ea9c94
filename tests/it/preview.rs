//! Preview dialing through `predial serve`: a baresip operator is shown a lead and nothing is
//! dialled until they choose; the lead they skip goes back untouched, the one they accept is
//! dialled (SIPp answers) and bridged to them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Server, temp_dir};
use super::operators::{Baresip, state_of};
use super::peers::Peer;

/// Waits (bounded) until `f` gives a value.
fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lead(server: &Server, id: i64) -> Value {
    server.call("GET", &format!("/v1/leads/{id}"), None).1
}

#[test]
fn a_preview_lead_is_dialled_only_when_its_operator_accepts_it() {
    let data = temp_dir("preview");
    let callees = Peer::sipp_uas("uas-talk-bye.xml", &[]);
    let profiles = super::operators::profiles(
        &data,
        callees.addr,
        "[[operator]]\nlogin = \"2001\"\nname = \"Vera\"\npassword = \"op-2001-pass\"\n",
    );
    let server = Server::start_with(
        &data,
        None,
        &[
            "--profiles",
            profiles.to_str().unwrap(),
            "--rtp-ports",
            "35300-35398",
            "--lang",
            "en",
        ],
    );
    // Asked before anyone is shown anything: nothing to accept.
    let (status, v) = server.call("GET", "/v1/operators/2001/preview", None);
    assert_eq!(status, 404, "{v}");

    let phone = Baresip::start(&data.join("baresip"), "2001", "op-2001-pass", server.sip);
    wait_for("the operator ready", 20, || {
        (state_of(&server, "2001") == "ready").then_some(())
    });

    let (status, v) = server.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "vip", "policy": {
            "mode": "preview",
            "quiet_hours": {"start": "00:00", "end": "00:00"},
            "wrap_up": "1s"
        }})),
    );
    assert_eq!(status, 201, "{v}");
    let mut leads = Vec::new();
    for (i, number) in ["+74951110000", "+74951110001"].iter().enumerate() {
        let (status, v) = server.call(
            "POST",
            "/v1/leads",
            Some(json!({"phone": number, "order_id": format!("V-{i}"), "campaign": "vip"})),
        );
        assert!(status == 201 || status == 200, "{v}");
        leads.push(v["id"].as_i64().expect("the lead's id"));
    }
    let (status, v) = server.call("POST", "/v1/campaigns/vip/start", None);
    assert_eq!(status, 200, "{v}");

    // The operator is shown a lead, and reserved for it.
    let first = wait_for("a lead shown", 20, || {
        let (status, v) = server.call("GET", "/v1/operators/2001/preview", None);
        (status == 200).then_some(v)
    });
    assert_eq!(first["status"], "shown", "{first}");
    assert_eq!(first["campaign"], "vip", "{first}");
    let shown = first["lead"].as_i64().unwrap();
    assert!(leads.contains(&shown), "{first}");
    let other = *leads.iter().find(|&&l| l != shown).unwrap();
    wait_for("the operator reserved", 10, || {
        (state_of(&server, "2001") == "reserved").then_some(())
    });

    // Choosing for a lead not shown, or an unknown action, is refused and changes nothing.
    let (status, v) = server.call(
        "POST",
        "/v1/operators/2001/preview",
        Some(json!({"lead": other, "action": "accept"})),
    );
    assert_eq!(status, 409, "{v}");
    let (status, v) = server.call(
        "POST",
        "/v1/operators/2001/preview",
        Some(json!({"lead": shown, "action": "dial"})),
    );
    assert_eq!((status, v["field"].as_str()), (422, Some("action")), "{v}");
    // Shown, not dialled: no attempt while the operator looks at it.
    assert_eq!(lead(&server, shown)["attempts"], 0);

    // Skipped: the lead goes back untouched, and the other one is shown.
    let (status, v) = server.call(
        "POST",
        "/v1/operators/2001/preview",
        Some(json!({"lead": shown, "action": "skip"})),
    );
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("skipped")),
        "{v}"
    );
    let second = wait_for("the other lead shown", 20, || {
        let (status, v) = server.call("GET", "/v1/operators/2001/preview", None);
        (status == 200 && v["lead"] != json!(shown)).then_some(v)
    });
    assert_eq!(second["lead"], json!(other), "{second}");
    assert_eq!(
        lead(&server, shown)["attempts"],
        0,
        "a skipped lead is not dialled"
    );
    assert_eq!(lead(&server, other)["attempts"], 0, "shown, not dialled");

    // Accepted: dialled, answered by SIPp, talked with the operator.
    let (status, v) = server.call(
        "POST",
        "/v1/operators/2001/preview",
        Some(json!({"lead": other, "action": "accept"})),
    );
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("accepted")),
        "{v}"
    );
    let done = wait_for("the accepted lead done", 60, || {
        let v = lead(&server, other);
        (v["state"] == "done").then_some(v)
    });
    assert_eq!(done["attempts"], 1, "{done}");
    let (_, audit) = server.call("GET", "/v1/audit", None);
    assert!(audit.to_string().contains("operator.preview"), "{audit}");
    drop(phone);
    server.stop();
    let _ = callees.finish();
    let _ = std::fs::remove_dir_all(&data);
}

//! `predial demo`: the newcomer's first command, run for a while, prints its figures.

use super::{json, predial};

#[test]
fn the_demo_dials_answers_bridges_and_reports() {
    let out = predial(&[
        "demo",
        "--duration",
        "25",
        "--leads",
        "30",
        "--operators",
        "3",
        "--json",
    ]);
    let v = json(&out);
    for key in [
        "leads",
        "calls",
        "answered",
        "bridged",
        "abandoned",
        "abandon_rate",
        "operators",
    ] {
        assert!(v[key].is_number(), "{key}: {v}");
    }
    for key in ["answer_to_bridge_ms", "dial_lag_ms"] {
        assert!(v[key]["p50"].is_number(), "{key}: {v}");
        assert!(v[key]["p99"].is_number(), "{key}: {v}");
    }
    assert_eq!(v["leads"], 30, "{v}");
    assert_eq!(v["operators"], 3, "{v}");
    assert!(v["calls"].as_u64().unwrap() >= 3, "{v}");
    // Over real SIP and RTP: answered calls reach the softphones, are recorded, and the
    // operators key in results.
    let bridged = v["bridged"].as_u64().unwrap();
    assert!(bridged >= 1, "{v}");
    assert!(v["answered"].as_u64().unwrap() >= bridged, "{v}");
    assert!(v["recordings"].as_u64().unwrap() >= 1, "{v}");
    // The operators keyed in results (DTMF) on the calls they finished.
    let results: u64 = v["results"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!(results >= 1, "{v}");
    let rate = v["abandon_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate), "{v}");
    assert!(
        v["answer_to_bridge_ms"]["p50"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert!(
        v["dial_lag_ms"]["p99"].as_f64().unwrap() >= v["dial_lag_ms"]["p50"].as_f64().unwrap(),
        "{v}"
    );
}

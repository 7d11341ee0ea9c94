//! `predial sim`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::{json, predial};

#[test]
fn the_json_report_has_every_kpi() {
    let v = json(&predial(&[
        "sim",
        "--agents",
        "10",
        "--answer-rate",
        "0.5",
        "--hours",
        "8",
        "--seed",
        "1",
        "--json",
    ]));
    for key in [
        "leads_in",
        "attempts",
        "contacts",
        "contact_rate",
        "sla_misses",
        "quiet_hour_violations",
        "attempts_per_lead",
        "agent_occupancy",
    ] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
    for p in ["p50", "p95", "p99", "max"] {
        assert!(
            v["first_dial_latency_s"][p].is_number(),
            "first_dial_latency_s.{p}"
        );
    }
    assert_eq!(v["quiet_hour_violations"], 0);
    let rate = v["contact_rate"].as_f64().unwrap();
    assert!(rate > 0.0 && rate < 1.0, "a fraction: {rate}");
    let occupancy = v["agent_occupancy"].as_f64().unwrap();
    assert!(occupancy > 0.0 && occupancy < 1.0);
    let l = &v["first_dial_latency_s"];
    assert!(l["p50"].as_f64() <= l["p95"].as_f64() && l["p95"].as_f64() <= l["p99"].as_f64());
}

#[test]
fn the_same_seed_prints_the_same_day() {
    let args = [
        "sim", "--agents", "4", "--hours", "3", "--seed", "11", "--json",
    ];
    assert_eq!(predial(&args).stdout, predial(&args).stdout);
}

#[test]
fn the_table_is_readable() {
    let out = predial(&["sim", "--agents", "3", "--hours", "2"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "leads in",
        "attempts",
        "contacts",
        "first dial latency",
        "SLA misses",
        "quiet-hour violations",
        "agent occupancy",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
}

/// The event log, checked on its own: every dial outside the callee's 22:00-10:00, attempts
/// counted from 1 and never more than the campaign's 7, callees in many zones.
#[test]
fn the_event_log_is_complete_and_respects_quiet_hours() {
    let dir = std::env::temp_dir().join(format!("predial-sim-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.ndjson");
    let report = json(&predial(&[
        "sim",
        "--agents",
        "8",
        "--hours",
        "24",
        "--seed",
        "5",
        "--json",
        "--events",
        file.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut attempts: BTreeMap<u64, u64> = BTreeMap::new();
    let mut offsets = BTreeSet::new();
    let (mut added, mut dials, mut outcomes) = (0u64, 0u64, 0u64);
    for (n, line) in text.lines().enumerate() {
        let e: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("line {}: {err}: {line}", n + 1));
        let at: DateTime<Utc> = e["at"].as_str().unwrap().parse().expect("RFC 3339 time");
        let lead = e["lead"].as_u64().expect("lead id");
        let phone = e["phone"].as_str().unwrap();
        assert!(
            phone.starts_with('+') && phone[1..].bytes().all(|b| b.is_ascii_digit()),
            "E.164: {phone}"
        );
        match e["event"].as_str().unwrap() {
            "lead_added" => added += 1,
            "dial" => {
                dials += 1;
                let tz: Tz = e["tz"].as_str().unwrap().parse().expect("IANA zone");
                let local = tz.from_utc_datetime(&at.naive_utc());
                assert!(
                    (10..22).contains(&local.hour()),
                    "dial at {local} local ({tz}): {line}"
                );
                offsets.insert(
                    tz.offset_from_utc_datetime(&at.naive_utc())
                        .fix()
                        .local_minus_utc(),
                );
                let n = attempts.entry(lead).or_default();
                *n += 1;
                assert_eq!(
                    e["attempt"].as_u64(),
                    Some(*n),
                    "attempts count from 1: {line}"
                );
                assert!(*n <= 7);
            }
            "outcome" => {
                outcomes += 1;
                assert!(e["outcome"].is_string());
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(added, report["leads_in"].as_u64().unwrap());
    assert_eq!(dials, report["attempts"].as_u64().unwrap());
    assert!(outcomes > 0 && outcomes <= dials);
    assert!(
        offsets.len() >= 5,
        "callees in {} UTC offsets",
        offsets.len()
    );
}

#[test]
fn bad_flags_and_files_say_what_is_wrong() {
    let out = predial(&["sim", "--answer-rate", "50", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--answer-rate") && err.contains("fraction"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let dir = std::env::temp_dir().join(format!("predial-sim-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("day.toml");
    std::fs::write(
        &file,
        "hours = 4\n\n[campaign]\nmax_attempts = 12\n\n[population]\nanswer_rate = 0.4\n",
    )
    .unwrap();
    let out = predial(&["sim", "--config", file.to_str().unwrap()]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("day.toml:4: campaign.max_attempts:"), "{err}");

    std::fs::write(&file, "hours = 4\n[population]\nanswer_rat = 0.4\n").unwrap();
    let err =
        String::from_utf8(predial(&["sim", "--config", file.to_str().unwrap()]).stderr).unwrap();
    assert!(
        err.contains("day.toml:3:") && err.contains("answer_rat"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_config_file_sets_the_day_and_flags_override_it() {
    let dir = std::env::temp_dir().join(format!("predial-sim-ok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("day.toml");
    std::fs::write(
        &file,
        "hours = 2\nseed = 3\n\n[operators]\ncount = 2\n\n[campaign]\npriority = 2\nquiet_hours = { start = \"21:00\", end = \"09:00\" }\n",
    )
    .unwrap();
    let v = json(&predial(&[
        "sim",
        "--config",
        file.to_str().unwrap(),
        "--agents",
        "5",
        "--json",
    ]));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(v["agents"], 5);
    assert_eq!(v["hours"], 2.0);
    assert_eq!(v["seed"], 3);
}

#[test]
fn the_documented_example_config_runs() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sim-example.toml");
    let v = json(&predial(&[
        "sim", "--config", example, "--hours", "3", "--json",
    ]));
    assert_eq!(v["agents"], 25);
    assert_eq!(v["quiet_hour_violations"], 0);
}

/// `--compare` runs each pacer on the same days and reports them side by side.
#[test]
fn pacers_compare_on_the_same_days() {
    let v = json(&predial(&[
        "sim",
        "--compare",
        "progressive,vicidial,predictive",
        "--agents",
        "10",
        "--answer-rate",
        "0.5",
        "--seeds",
        "2",
        "--hours",
        "2",
        "--json",
    ]));
    let pacers = v["pacers"].as_object().expect("pacers");
    assert_eq!(pacers.len(), 3);
    for (name, p) in pacers {
        for (key, sub) in [
            ("occupancy", ["mean", "min"]),
            ("abandon_rate", ["mean", "max"]),
            ("first_dial_latency_s", ["p50", "p99"]),
        ] {
            for s in sub {
                assert!(p[key][s].is_number(), "{name}.{key}.{s}: {p}");
            }
        }
        assert!(p["calls_per_agent_hour"].as_f64().unwrap() > 0.0);
        let occupancy = p["occupancy"]["mean"].as_f64().unwrap();
        assert!(occupancy > 0.3 && occupancy < 1.0, "{name}: {occupancy}");
    }
    assert_eq!(
        pacers["progressive"]["abandon_rate"]["max"], 0.0,
        "progressive never abandons"
    );
    let predictive = pacers["predictive"]["occupancy"]["mean"].as_f64().unwrap();
    let progressive = pacers["progressive"]["occupancy"]["mean"].as_f64().unwrap();
    assert!(
        predictive > progressive,
        "predictive {predictive} vs progressive {progressive}"
    );
    assert!(
        pacers["predictive"]["abandon_rate"]["max"]
            .as_f64()
            .unwrap()
            <= 0.03
    );
}

/// A paced day writes each abandoned call's audit record.
#[test]
fn abandoned_calls_are_logged_for_the_regulator() {
    let dir = std::env::temp_dir().join(format!("predial-abandon-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("abandons.ndjson");
    let v = json(&predial(&[
        "sim",
        "--mode",
        "power",
        "--agents",
        "10",
        "--answer-rate",
        "0.5",
        "--hours",
        "2",
        "--leads-per-hour",
        "600",
        "--json",
        "--abandon-log",
        log.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let abandoned = v["abandoned"].as_u64().unwrap();
    assert!(
        abandoned > 0,
        "power dialing at 2 calls per operator abandons some: {v}"
    );
    assert_eq!(text.lines().count() as u64, abandoned);
    for line in text.lines() {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(a["waited_ms"].as_i64().unwrap() <= 2000, "{line}");
        for key in ["at", "answered_at", "phone", "regulator"] {
            assert!(a[key].is_string(), "{key}: {line}");
        }
        for key in [
            "lead",
            "campaign",
            "answered_in_window",
            "abandoned_in_window",
            "window_rate",
        ] {
            assert!(a[key].is_number(), "{key}: {line}");
        }
    }
}

#[test]
fn unknown_pacers_are_refused() {
    let out = predial(&["sim", "--compare", "progressive,turbo", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("turbo"));
}

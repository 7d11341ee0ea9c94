//! `predial bench ...` (small sizes: the figures themselves are in docs/benchmarks.md).

use super::{json, predial};

#[test]
fn bench_scheduler_reports_its_figures() {
    let v = json(&predial(&[
        "bench",
        "scheduler",
        "--leads",
        "20000",
        "--operators",
        "100",
        "--ticks",
        "120",
        "--json",
    ]));
    assert_eq!(v["leads"], 20000);
    for key in ["decisions_per_s", "handle_ns_per_event", "bytes_per_lead"] {
        assert!(v[key].as_f64().unwrap() > 0.0, "{key}: {v}");
    }
    assert!(v["tick_us"]["p50"].is_number() && v["tick_us"]["p99"].is_number());
}

#[test]
fn bench_scheduler_refuses_nonsense() {
    let out = predial(&["bench", "scheduler", "--leads", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--leads"));
}

#[test]
fn bench_cps_reports_its_figures_against_sipp() {
    super::peers::need("sipp", "sip-tester");
    let port = super::peers::free_port();
    let mut uas = std::process::Command::new("sipp")
        .args([
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-nostdin",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sipp starts");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let target = format!("127.0.0.1:{port}");
    let out = predial(&[
        "bench",
        "cps",
        "--target",
        &target,
        "--calls",
        "200",
        "--rate",
        "100",
        "--hold-ms",
        "300",
        "--json",
    ]);
    let _ = std::process::Command::new("kill")
        .arg(uas.id().to_string())
        .status();
    let _ = uas.wait();
    let v = json(&out);
    assert_eq!(v["calls"], 200, "{v}");
    assert_eq!(v["completed"], 200, "{v}");
    assert_eq!(v["failed"], 0, "{v}");
    assert!(v["cps"].as_f64().unwrap() > 0.0, "{v}");
    let p50 = v["setup_ms"]["p50"].as_f64().unwrap();
    let p99 = v["setup_ms"]["p99"].as_f64().unwrap();
    assert!(p50 > 0.0 && p99 >= p50, "{v}");
    // 100 calls a second, each up 0.3 s or more: at least 30 up at once.
    assert!(v["concurrent_max"].as_u64().unwrap() >= 30, "{v}");
}

#[test]
fn bench_cps_refuses_nonsense() {
    let out = predial(&["bench", "cps", "--target", "nowhere", "--calls", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--target"));
}

#[test]
fn bench_amd_meets_its_goals_on_the_shipped_set() {
    let v = json(&predial(&["bench", "amd", "--json"]));
    assert_eq!(v["samples"], 200, "{v}");
    assert!(v["accuracy"].as_f64().unwrap() >= 0.9, "{v}");
    assert!(v["human_as_machine"].as_f64().unwrap() <= 0.02, "{v}");
    assert!(v["median_decision_ms"].as_f64().unwrap() <= 2500.0, "{v}");
    // Asterisk's own defaults take the longer human answers for machines.
    let asterisk = json(&predial(&[
        "bench",
        "amd",
        "--max-words",
        "2",
        "--beep-ms",
        "0",
        "--json",
    ]));
    assert!(
        asterisk["human_as_machine"].as_f64().unwrap() > 0.02,
        "{asterisk}"
    );
}

#[test]
fn bench_relay_reports_its_figures() {
    let v = json(&predial(&[
        "bench",
        "relay",
        "--calls",
        "20",
        "--seconds",
        "1",
        "--json",
    ]));
    assert_eq!(v["calls"], 20, "{v}");
    // 20 calls, 2 sides, 50 packets a second each.
    assert_eq!(v["packets_sent"], 2000, "{v}");
    assert_eq!(v["packets_lost"], 0, "{v}");
    assert_eq!(v["loss_ratio"], 0.0, "{v}");
    assert!(v["cpu_percent"].as_f64().unwrap() >= 0.0, "{v}");
    let lat = &v["added_latency_us"];
    assert!(
        lat["p50"].as_f64().unwrap() > 0.0
            && lat["p99"].as_f64().unwrap() >= lat["p50"].as_f64().unwrap(),
        "{v}"
    );
}

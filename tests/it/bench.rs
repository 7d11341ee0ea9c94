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

//! `predial amd`: answering-machine detection on recordings.

use super::{json, predial};

fn set_file(name: &str) -> String {
    format!("{}/benches/amd/set/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_hello_is_a_human_and_a_greeting_a_machine() {
    let human = set_file("h001-en-none.wav");
    let machine = set_file("m101-en-none.wav");
    let v = json(&predial(&["amd", &human, &machine, "--json"]));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["file"], human);
    assert_eq!(results[0]["verdict"], "human", "{v}");
    assert_eq!(results[1]["verdict"], "machine", "{v}");
    for r in results {
        assert!(r["decision_ms"].as_u64().unwrap() > 0, "{v}");
    }
}

#[test]
fn settings_are_flags_and_checked() {
    // With an analysis time shorter than any decision: not sure.
    let v = json(&predial(&[
        "amd",
        &set_file("m101-en-none.wav"),
        "--total-analysis-ms",
        "200",
        "--json",
    ]));
    assert_eq!(v["results"][0]["verdict"], "notsure", "{v}");
    assert_eq!(v["results"][0]["decision_ms"], 200, "{v}");
    let bad = predial(&[
        "amd",
        &set_file("h001-en-none.wav"),
        "--silence-threshold",
        "0",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--silence-threshold"));
    let missing = predial(&["amd", "/nonexistent.wav"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.wav"));
}

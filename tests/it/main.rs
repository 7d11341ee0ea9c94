//! predial's integration tests: one test binary, a module per part. They run the `predial`
//! binary as a user would.

mod abandons;
mod amd;
mod api;
mod bench;
mod callbacks;
mod check;
mod demo;
mod dial;
mod edge;
mod flood;
mod fraud;
mod http_edge;
mod inbound;
mod media;
mod operators;
mod peers;
mod preview;
mod register;
mod replay;
mod sim;
mod sip;
mod tls;
mod torture;
mod webhooks;

use std::process::{Command, Output};

/// Runs `predial ARGS...`, with no stdin.
pub fn predial(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_predial"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the predial binary runs")
}

/// The one JSON object a `--json` command prints on stdout.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8 output");
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one line of JSON: {text}"
    );
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("valid JSON");
    assert!(v.is_object(), "a JSON object: {text}");
    v
}

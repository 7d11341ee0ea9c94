//! The 49 torture messages of RFC 4475 against a running `predial serve`, over UDP, TCP and
//! WebSocket: each judged as the RFC says, and a valid OPTIONS still answered 200 after each.

use super::api::{Server, temp_dir};
use super::operators::{final_answer, ws_client};
use super::peers::free_port;
use super::{json, predial};

#[test]
fn every_torture_message_is_judged_as_the_rfc_says_over_udp_and_tcp() {
    let data = temp_dir("torture");
    let server = Server::start(&data, None);
    let sip = server.sip.to_string();
    let out = json(&predial(&[
        "bench",
        "torture",
        "--target",
        &sip,
        "--transport",
        "both",
        "--wait-ms",
        "2000",
        "--json",
    ]));
    for transport in ["udp", "tcp"] {
        let run = &out[transport];
        let wrong: Vec<String> = run["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["agrees"] != true || m["options_after"] != 200)
            .map(|m| m.to_string())
            .collect();
        assert!(wrong.is_empty(), "{transport}: {wrong:#?}");
        assert_eq!(run["agree"], 49, "{transport}");
        assert_eq!(run["options_alive"], 49, "{transport}");
    }
    let (status, metrics) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert_eq!(status, 200);
    for reason in [
        "bad_version",
        "uri_in_brackets",
        "unterminated_quote",
        "several_values",
    ] {
        assert!(
            metrics.contains(&format!("predial_sip_refused_total{{reason=\"{reason}\"}}")),
            "{reason}: {metrics}"
        );
    }
}

#[test]
fn a_torture_message_over_websocket_gets_its_code() {
    let data = temp_dir("torture-ws");
    let ws = format!("127.0.0.1:{}", free_port());
    let _server = Server::start_with(&data, None, &["--ws-listen", &ws]);
    let mut socket = ws_client(&ws);
    let mut ask = |text: String| -> String {
        socket.send(tungstenite::Message::text(text)).unwrap();
        final_answer(&mut socket)
    };
    let head = "Via: SIP/2.0/WS x.invalid;branch=z9hG4bKtorture1\r\nMax-Forwards: 70\r\n\
                From: <sip:t@x.invalid>;tag=1\r\nTo: <sip:t@127.0.0.1>\r\nCall-ID: ws-torture-1\r\n";
    let version = ask(format!(
        "OPTIONS sip:t@127.0.0.1 SIP/7.0\r\n{head}CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(version.starts_with("SIP/2.0 505 "), "{version}");
    let brackets = ask(format!(
        "OPTIONS <sip:t@127.0.0.1> SIP/2.0\r\n{head}CSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(
        brackets.starts_with("SIP/2.0 400 ") && brackets.contains("Warning: 399"),
        "{brackets}"
    );
    let folded = ask(format!(
        "OPTIONS sip:t@127.0.0.1 SIP/2.0\r\n{head}CSeq:\r\n 3 OPTIONS\r\nl: 0\r\n\r\n"
    ));
    assert!(folded.starts_with("SIP/2.0 200 "), "{folded}");
}

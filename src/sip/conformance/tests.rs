use super::torture::{MESSAGES, Rfc};
use super::*;
use proptest::prelude::*;
use rsipstack::sip::SipMessage;

/// What predial does with each torture message, over a datagram, as the RFC allows it.
#[test]
fn every_torture_message_is_judged_as_rfc_4475_says() {
    let mut wrong = Vec::new();
    for t in MESSAGES {
        let verdict = judge(t.bytes, Framing::Datagram);
        let ok = match (&t.rfc, &verdict) {
            (Rfc::Process | Rfc::Response, Judgement::Pass(bytes)) => {
                match SipMessage::try_from(bytes.as_slice()) {
                    // What is handed on is in its final spelling: judged again, it stays as it is.
                    Ok(_) => judge(bytes, Framing::Stream) == Judgement::Pass(bytes.clone()),
                    Err(e) => {
                        wrong.push(format!(
                            "{}: the stack cannot read what is handed on: {e}",
                            t.name
                        ));
                        continue;
                    }
                }
            }
            (Rfc::Refuse { codes, .. }, Judgement::Answer { status, .. }) => codes.contains(status),
            (Rfc::Refuse { lenient: true, .. }, Judgement::Pass(_)) => true,
            // The registrar's own challenge, not the layer's: handed on.
            (Rfc::Refuse { codes: [401], .. }, Judgement::Pass(_)) => true,
            (Rfc::Drop, Judgement::Drop(_)) => true,
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "{} ({}): RFC {:?}, predial {:?}",
                t.name,
                t.section,
                t.rfc,
                short(&verdict)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(MESSAGES.len(), 49);
}

/// The invalid messages the RFC says to refuse are refused, none let through (the one lenient
/// pass is a Date with a time zone predial never reads).
#[test]
fn invalid_requests_are_refused_not_passed() {
    for t in MESSAGES {
        if let Rfc::Refuse { codes, .. } = t.rfc {
            match judge(t.bytes, Framing::Datagram) {
                Judgement::Answer { status, bytes, .. } => {
                    assert!(codes.contains(&status), "{}: {status}", t.name);
                    let answer = SipMessage::try_from(bytes.as_slice())
                        .unwrap_or_else(|e| panic!("{}: our answer must parse: {e}", t.name));
                    let text = answer.to_string();
                    assert!(text.contains("Warning: 399 predial"), "{text}");
                }
                Judgement::Pass(_) => {
                    assert!(t.name == "baddate" || codes == [401], "{} passed", t.name)
                }
                Judgement::Drop(why) => panic!("{}: dropped ({why:?}), not answered", t.name),
            }
        }
    }
}

#[test]
fn a_datagram_s_trailing_octets_are_cut_and_a_stream_s_framing_is_kept() {
    let dblreq = MESSAGES.iter().find(|t| t.name == "dblreq").unwrap();
    let Judgement::Pass(bytes) = judge(dblreq.bytes, Framing::Datagram) else {
        panic!("passes")
    };
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.starts_with("REGISTER ") && !text.contains("INVITE"),
        "{text}"
    );
}

#[test]
fn answers_name_what_the_status_calls_for() {
    let find = |name: &str| {
        let t = MESSAGES.iter().find(|t| t.name == name).unwrap();
        match judge(t.bytes, Framing::Datagram) {
            Judgement::Answer { bytes, .. } => String::from_utf8(bytes).unwrap(),
            other => panic!("{name}: {other:?}"),
        }
    };
    assert!(find("intmeth").contains("Allow: INVITE"));
    assert!(find("bext01").contains("Unsupported: nothingSupportsThis, nothingSupportsThisEither"));
    assert!(find("invut").contains("Accept: application/sdp"));
    let badvers = find("badvers");
    assert!(
        badvers.starts_with("SIP/2.0 505 Version Not Supported\r\n"),
        "{badvers}"
    );
    assert!(
        badvers.contains("To: T. Watson <sip:t.watson@example.org>;tag=pr"),
        "{badvers}"
    );
}

#[test]
fn messages_with_nowhere_to_answer_are_dropped() {
    let msg = b"OPTIONS sip:a@b SIP/7.0\r\nCall-ID: x\r\n\r\n";
    assert_eq!(
        judge(msg, Framing::Datagram),
        Judgement::Drop(Refusal::Unanswerable)
    );
    let msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nbroken\r\n\r\n";
    assert!(matches!(
        judge(msg, Framing::Datagram),
        Judgement::Answer { status: 400, .. }
    ));
}

#[test]
fn oversized_input_gets_413() {
    let mut msg = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n".to_vec();
    for i in 0..300 {
        msg.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    msg.extend_from_slice(b"\r\n");
    assert!(matches!(
        judge(&msg, Framing::Datagram),
        Judgement::Answer { status: 413, .. }
    ));
}

const INVITE: &str = "INVITE sip:+74951110000@127.0.0.1:5060 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n\
    Max-Forwards: 70\r\n\
    From: <sip:a@127.0.0.1>;tag=1\r\n\
    To: <sip:+74951110000@127.0.0.1>\r\n\
    Call-ID: abc@127.0.0.1\r\n\
    CSeq: 1 INVITE\r\n\
    Content-Type: application/sdp\r\n\
    Content-Length: 4\r\n\r\n\
    v=0\n";

fn status(text: &str) -> Option<u16> {
    match judge(text.as_bytes(), Framing::Datagram) {
        Judgement::Answer { status, .. } => Some(status),
        Judgement::Pass(_) | Judgement::Drop(_) => None,
    }
}

#[test]
fn a_good_request_passes() {
    assert_eq!(status(INVITE), None);
    // Compact forms are the same headers.
    let compact = INVITE
        .replace("Via:", "v:")
        .replace("From:", "f:")
        .replace("To:", "t:")
        .replace("Call-ID:", "i:")
        .replace("Content-Length:", "l:");
    assert_eq!(status(&compact), None);
}

#[test]
fn bad_requests_get_the_right_status() {
    let with = |from: &str, to: &str| status(&INVITE.replace(from, to));
    assert_eq!(with("Content-Length: 4", "Content-Length: 40"), Some(400));
    assert_eq!(with("Content-Length: 4", "Content-Length: x"), Some(400));
    assert_eq!(with("CSeq: 1 INVITE", "CSeq: 1 BYE"), Some(400));
    assert_eq!(with("CSeq: 1 INVITE", "CSeq: x INVITE"), Some(400));
    assert_eq!(with("Call-ID: abc@127.0.0.1\r\n", ""), Some(400));
    assert_eq!(with("Max-Forwards: 70", "Max-Forwards: 0"), Some(483));
    assert_eq!(
        status(&INVITE.replacen("sip:+7", "mailto:+7", 1)),
        Some(416)
    );
    let big = INVITE.replace(
        "Content-Length: 4\r\n\r\nv=0\n",
        &format!("Content-Length: 40000\r\n\r\n{}", "a".repeat(40_000)),
    );
    assert_eq!(status(&big), Some(413));
    // An OPTIONS with Max-Forwards 0 is predial's own to answer.
    let options = INVITE
        .replace("INVITE sip", "OPTIONS sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    assert_eq!(status(&options), None);
}

#[test]
fn a_refusal_answers_the_request_s_transaction() {
    let Judgement::Answer { status, bytes, .. } = judge(
        INVITE.replace("CSeq: 1 INVITE", "CSeq: 1 BYE").as_bytes(),
        Framing::Datagram,
    ) else {
        panic!("an answer")
    };
    assert_eq!(status, 400);
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("branch=z9hG4bK-1") && text.contains("Call-ID: abc@127.0.0.1"),
        "{text}"
    );
    // Without a Via there is nowhere to answer.
    let no_via = INVITE
        .replace("Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1\r\n", "")
        .replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
    assert_eq!(
        judge(no_via.as_bytes(), Framing::Datagram),
        Judgement::Drop(Refusal::Unanswerable)
    );
}

fn short(j: &Judgement) -> String {
    match j {
        Judgement::Pass(_) => "pass".into(),
        Judgement::Answer { status, why, .. } => format!("{status} {why:?}"),
        Judgement::Drop(why) => format!("drop {why:?}"),
    }
}

proptest! {
    /// No input makes the judge panic, and what it hands on the stack can always read... or
    /// at least never crash on.
    #[test]
    fn any_bytes_are_judged(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for framing in [Framing::Datagram, Framing::Stream] {
            if let Judgement::Pass(out) = judge(&bytes, framing) {
                let _ = SipMessage::try_from(out.as_slice());
            }
        }
    }

    /// A good message with any one line mangled is judged without a panic.
    #[test]
    fn mangled_messages_are_judged(line in 0usize..10, cut in 0usize..40, junk in "[ -~]{0,20}") {
        let mut lines: Vec<String> = INVITE.split("\r\n").map(str::to_string).collect();
        let i = line % lines.len();
        let l = &mut lines[i];
        let at = l.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(l.len());
        l.replace_range(at.., &junk);
        let text = lines.join("\r\n");
        let _ = judge(text.as_bytes(), Framing::Datagram);
        let _ = judge(text.as_bytes(), Framing::Stream);
    }

    /// A torture message with one byte changed is judged without a panic.
    #[test]
    fn mangled_torture_messages_are_judged(which in 0usize..49, at in 0usize..4096, byte in any::<u8>()) {
        let mut bytes = MESSAGES[which % MESSAGES.len()].bytes.to_vec();
        let i = at % bytes.len();
        bytes[i] = byte;
        let _ = judge(&bytes, Framing::Datagram);
        let _ = judge(&bytes, Framing::Stream);
    }
}

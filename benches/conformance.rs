//! Criterion benchmarks of the SIP conformance layer: what judging a message costs, beside what
//! the SIP stack's own parse of the same bytes costs (docs/benchmarks.md).

use criterion::{Criterion, criterion_group, criterion_main};
use predial::sip::conformance::torture::MESSAGES;
use predial::sip::conformance::{Framing, judge, stack_reads};

/// A trunk's 200 OK with SDP, as predial receives one for every answered call.
const OK_WITH_SDP: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-5a1b2c3d;rport=5060;received=127.0.0.1\r\n\
From: <sip:+74951234567@127.0.0.1>;tag=8f1e2d3c\r\n\
To: <sip:79160000000@127.0.0.1:5090>;tag=10SIPpTag01\r\n\
Call-ID: 0d8e6a54-3c2f-4b1e-9d7a-1f2e3d4c5b6a\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:127.0.0.1:5090;transport=UDP>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 137\r\n\r\n\
v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 16000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn wsinv() -> &'static [u8] {
    MESSAGES
        .iter()
        .find(|t| t.name == "wsinv")
        .map(|t| t.bytes)
        .expect("wsinv is among the torture messages")
}

fn conformance(c: &mut Criterion) {
    assert!(stack_reads(OK_WITH_SDP));
    let mut g = c.benchmark_group("sip_message");
    g.bench_function("judge_200_ok_with_sdp", |b| {
        b.iter(|| judge(std::hint::black_box(OK_WITH_SDP), Framing::Datagram))
    });
    g.bench_function("stack_parse_200_ok_with_sdp", |b| {
        b.iter(|| stack_reads(std::hint::black_box(OK_WITH_SDP)))
    });
    g.bench_function("judge_wsinv", |b| {
        b.iter(|| judge(std::hint::black_box(wsinv()), Framing::Datagram))
    });
    g.bench_function("judge_all_49_torture_messages", |b| {
        b.iter(|| {
            for t in MESSAGES {
                std::hint::black_box(judge(t.bytes, Framing::Datagram));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, conformance);
criterion_main!(benches);

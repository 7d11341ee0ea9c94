//! Media against SIPp: predial plays prompts and SIPp echoes every packet back; SIPp talks and
//! presses a key, and predial records it, hears the digit and detects a machine.

use super::peers::{Peer, free_port};
use super::{json, predial};

/// A folder with one trunk profile pointing at `peer`.
fn profiles(peer: &Peer, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "predial-media-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sipp.toml"),
        format!(
            "name = \"sipp\"\nowner = \"own\"\naddress = \"{}\"\nchannels = 2\ncps = 5\ncaller_id = \"+74951234567\"\n",
            peer.addr
        ),
    )
    .unwrap();
    dir
}

/// 20 ms packets of a prompt (the last one padded).
fn frames(prompt: &str) -> u64 {
    let path = format!("{}/sounds/ru/{prompt}.wav", env!("CARGO_MANIFEST_DIR"));
    let r = hound::WavReader::open(path).unwrap();
    u64::from(r.duration()).div_ceil(160)
}

#[test]
fn predial_plays_prompts_and_digits_and_sipp_gets_every_packet() {
    let peer = Peer::sipp_uas("uas-population.xml", &["-rtp_echo"]);
    let dir = profiles(&peer, "echo");
    let listen = format!("127.0.0.1:{}", free_port());
    let v = json(&predial(&[
        "call",
        "+74951110000",
        "--profiles",
        dir.to_str().unwrap(),
        "--sip-listen",
        &listen,
        "--play",
        "abandoned",
        "--play",
        "call-us",
        "--play",
        "n5",
        "--lang",
        "ru",
        "--digits",
        "42",
        // Time for the echoes to come back even on a loaded machine (SIPp's echo lagged more
        // than the default two seconds past the prompts while other tests ran).
        "--hold-s",
        "16",
        "--json",
    ]));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(v["outcome"], "contact", "{v}");
    assert_eq!(v["codec"], "PCMU", "{v}");
    // Each prompt in 20 ms packets, each digit in 4 packets while held (100 ms) and 3 ends.
    let expected = frames("abandoned") + frames("call-us") + frames("n5") + 2 * 7;
    assert_eq!(v["rtp_sent"], expected, "{v}");
    // SIPp sent every one back (-rtp_echo): all reached it, in order, none lost.
    assert_eq!(v["rtp_received"], expected, "{v}");
    assert_eq!(v["rtp_lost"], 0, "{v}");
    assert_eq!(v["digits"], "42", "the digits came back as digits: {v}");
}

#[test]
fn what_sipp_says_is_recorded_its_key_heard_and_its_greeting_judged() {
    let peer = Peer::sipp_uas("uas-media.xml", &[]);
    let dir = profiles(&peer, "talk");
    let rec = dir.join("recordings");
    let listen = format!("127.0.0.1:{}", free_port());
    let v = json(&predial(&[
        "call",
        "+74951110000",
        "--profiles",
        dir.to_str().unwrap(),
        "--sip-listen",
        &listen,
        "--record",
        rec.to_str().unwrap(),
        "--amd",
        "--hold-s",
        "9",
        "--json",
    ]));
    assert_eq!(v["outcome"], "contact", "{v}");
    assert_eq!(v["codec"], "PCMA", "the callee's first choice: {v}");
    // g711a.pcap: 236 packets of speech, then the key (10 telephone-event packets).
    assert_eq!(v["rtp_received"], 246, "{v}");
    assert_eq!(v["digits"], "1", "{v}");
    // Seven seconds of talk without a pause: a machine's greeting.
    assert_eq!(v["amd"]["verdict"], "machine", "{v}");
    let path = v["recording"].as_str().unwrap();
    let name = std::path::Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        !name.contains(v["call_id"].as_str().unwrap())
            && name.ends_with("-call-1.wav")
            && name[..15].bytes().filter(u8::is_ascii_digit).count() == 14,
        "named by predial (time and call), never by the Call-ID: {path}"
    );
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let rms = |ch: usize| {
        let xs: Vec<f64> = s
            .iter()
            .skip(ch)
            .step_by(2)
            .map(|&x| f64::from(x))
            .collect();
        (xs.iter().map(|x| x * x).sum::<f64>() / xs.len().max(1) as f64).sqrt()
    };
    let seconds = s.len() as f64 / 2.0 / 8000.0;
    assert!((6.5..=8.0).contains(&seconds), "{seconds} s recorded");
    // Speech on the callee's side (left), nothing on the operator's (right).
    assert!(rms(0) > 500.0, "callee RMS {}", rms(0));
    assert!(rms(1) < 1.0, "operator RMS {}", rms(1));
    let _ = std::fs::remove_dir_all(&dir);
}

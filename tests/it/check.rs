//! `predial check-config`.

use super::predial;

#[test]
fn the_shipped_profiles_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sip-profiles");
    let out = predial(&["check-config", "--profiles", dir]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn every_problem_has_its_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("predial-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("a.toml"),
        "name = \"a\"\nowner = \"customer\"\naddress = \"nowhere\"\nchannels = 0\ncps = 10\ncaller_id = \"+74951234567\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.toml"),
        "name = \"a\"\nowner = \"own\"\naddress = \"127.0.0.1:5060\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("c.toml"),
        "name = \"a\"\nowner = \"own\"\naddress = \"127.0.0.1:5060\"\nchannels = 2\ncps = 1\ncaller_id = \"+74951234567\"\n",
    )
    .unwrap();
    let out = predial(&["check-config", "--profiles", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().any(|l| l.ends_with("a.toml:3: address: write it as host:port, like sip.example.com:5060 or 127.0.0.1:5062 or [::1]:5060")), "{text}");
    assert!(
        lines.iter().any(|l| l.contains("a.toml:4: channels: ")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("b.toml:") && l.contains(": channels: missing")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("c.toml:1: name: `a` is also the name of")),
        "{text}"
    );
    for l in lines {
        let mut parts = l.splitn(4, ':');
        let (file, line, field) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert!(
            file.ends_with(".toml") && line.parse::<usize>().is_ok() && !field.trim().is_empty(),
            "{l}"
        );
    }
}

#[test]
fn a_tls_trunk_s_ca_file_must_be_there() {
    let dir = std::env::temp_dir().join(format!("predial-check-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("t.toml"),
        "name = \"t\"\nowner = \"own\"\naddress = \"127.0.0.1:5061\"\ntransport = \"tls\"\nchannels = 2\ncps = 1\ncaller_id = \"+74951234567\"\n\n[tls]\nca = \"missing-ca.pem\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("u.toml"),
        "name = \"u\"\nowner = \"own\"\naddress = \"127.0.0.1:5060\"\nchannels = 2\ncps = 1\ncaller_id = \"+74951234567\"\n\n[tls]\nca = \"u.toml\"\n",
    )
    .unwrap();
    let out = predial(&["check-config", "--profiles", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("t.toml:10: tls.ca: cannot read") && l.contains("missing-ca.pem")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("u.toml:8: tls: [tls] settings apply to transport = \"tls\" only")),
        "{text}"
    );
}

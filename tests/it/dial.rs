//! `predial dial` against real SIP peers: a campaign through SIPp trunks, every lead ending as
//! the callee (SIPp) chose, with the campaign's retries; digest auth; failover between trunks.

use std::path::PathBuf;

use serde_json::Value;

use super::peers::{Peer, free_port};
use super::{json, predial};

/// Short back-offs and no quiet hours, so a campaign runs its whole course in about a minute.
const CAMPAIGN: &str = r#"
[campaign]
max_attempts = 5
ring_timeout = "15s"
quiet_hours = { start = "00:00", end = "00:00" }
wrap_up = "1s"

[campaign.backoff]
busy = ["2s"]
no_answer = ["2s"]
unreachable = ["3s", "1s"]
abandoned = ["2s"]
trunk_failure = ["1s"]
"#;

/// A folder of its own for one test's files, removed when dropped.
struct Workdir(PathBuf);

impl Workdir {
    fn new(name: &str) -> Workdir {
        let dir = std::env::temp_dir().join(format!(
            "predial-dial-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(dir.join("profiles")).unwrap();
        std::fs::write(dir.join("campaign.toml"), CAMPAIGN).unwrap();
        Workdir(dir)
    }

    fn trunk(&self, file: &str, text: &str) {
        std::fs::write(self.0.join("profiles").join(file), text).unwrap();
    }

    fn leads(&self, phones: &[&str]) {
        let text: String = phones
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{p},order-{i}\n"))
            .collect();
        std::fs::write(self.0.join("leads.csv"), text).unwrap();
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// Runs `predial dial ... --json` with these files.
    fn dial(&self, extra: &[&str]) -> std::process::Output {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut args: Vec<String> = vec!["dial".into(), "--leads".into(), self.path("leads.csv")];
        args.extend(
            [
                "--profiles",
                &self.path("profiles"),
                "--campaign",
                &self.path("campaign.toml"),
                "--sip-listen",
                &listen,
                "--json",
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        predial(&refs)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn trunk_profile(name: &str, owner: &str, peer: &Peer, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nowner = \"{owner}\"\naddress = \"{}\"\nchannels = 20\ncps = 20\ncaller_id = \"+74951234567\"\n{extra}",
        peer.addr
    )
}

/// The lead whose phone ends with `digit`.
fn lead<'a>(report: &'a Value, phone_end: &str) -> &'a Value {
    report["leads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["phone"].as_str().unwrap().ends_with(phone_end))
        .unwrap_or_else(|| panic!("no lead ending in {phone_end}: {report}"))
}

fn outcomes(l: &Value) -> Vec<&str> {
    l["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect()
}

fn trunk<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["trunks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no trunk {name}: {report}"))
}

/// The population leads and what SIPp's `uas-population.xml` does with each.
const POPULATION: &[&str] = &[
    "+74951110000", // answers, waits for our BYE
    "+74951110003", // answers, hangs up itself after 3 s
    "+74951110004", // answers after 6 s of ringing
    "+74951110005", // 486 Busy Here
    "+74951110006", // rings and never answers: our ring timeout cancels it
    "+74951110007", // 404 Not Found
    "+74951110008", // 503 Service Unavailable
];

/// Checks every population lead ended as SIPp chose, with the campaign's 5 attempts for those
/// that are retried.
fn assert_population(report: &Value) {
    let retried = |end: &str, outcome: &str| {
        let l = lead(report, end);
        assert_eq!(l["state"], "exhausted", "{l}");
        assert_eq!(l["attempts"], 5, "{l}");
        assert_eq!(outcomes(l), vec![outcome; 5], "{l}");
    };
    for end in ["0", "3", "4"] {
        let l = lead(report, end);
        assert_eq!(l["state"], "done", "{l}");
        assert_eq!(outcomes(l), ["contact"], "{l}");
    }
    retried("5", "busy");
    retried("6", "no_answer");
    retried("8", "unreachable");
    let l = lead(report, "7");
    assert_eq!(l["state"], "done", "{l}");
    assert_eq!(outcomes(l), ["invalid_number"], "{l}");
    assert_eq!(report["answered"], 3);
    assert_eq!(report["finished"], true);
}

#[test]
fn a_campaign_through_a_sipp_population_ends_as_the_callees_chose() {
    let peer = Peer::sipp_uas("uas-population.xml", &[]);
    let w = Workdir::new("population");
    w.trunk(
        "callees.toml",
        &trunk_profile("callees", "customer", &peer, ""),
    );
    w.leads(POPULATION);
    let out = w.dial(&["--talk-s", "5", "--timeout-s", "240"]);
    let report = json(&out);
    assert_population(&report);
    // 3 answered + 1 invalid + 3 leads × 5 attempts.
    assert_eq!(report["calls"], 19, "{report}");
    assert_eq!(trunk(&report, "callees")["calls"], 19);
}

#[test]
fn a_trunk_over_tcp_carries_the_calls() {
    let peer = Peer::sipp_uas("uas-population.xml", &["-t", "t1"]);
    let w = Workdir::new("tcp");
    w.trunk(
        "tcp.toml",
        &trunk_profile("tcp-trunk", "own", &peer, "transport = \"tcp\"\n"),
    );
    w.leads(&[
        "+74951110000",
        "+74951110003",
        "+74951110005",
        "+74951110007",
    ]);
    let report = json(&w.dial(&["--talk-s", "1", "--timeout-s", "60"]));
    assert_eq!(outcomes(lead(&report, "0")), ["contact"], "{report}");
    assert_eq!(outcomes(lead(&report, "3")), ["contact"], "{report}");
    assert_eq!(outcomes(lead(&report, "5")), vec!["busy"; 5], "{report}");
    assert_eq!(outcomes(lead(&report, "7")), ["invalid_number"], "{report}");
}

#[test]
fn a_trunk_that_challenges_gets_our_credentials_401() {
    let peer = Peer::sipp_uas("uas-auth.xml", &[]);
    let w = Workdir::new("auth401");
    let auth = "[auth]\nuser = \"predial\"\npassword = \"secret\"\n";
    w.trunk("t.toml", &trunk_profile("authed", "customer", &peer, auth));
    w.leads(&["+74951110000", "+74951110001", "+74951110002"]);
    let report = json(&w.dial(&["--talk-s", "1", "--timeout-s", "60"]));
    for end in ["0", "1", "2"] {
        assert_eq!(outcomes(lead(&report, end)), ["contact"], "{report}");
    }
    assert_eq!(trunk(&report, "authed")["state"], "up");
    let log = peer.log_text();
    assert!(!log.contains("403"), "SIPp refused our credentials: {log}");
}

#[test]
fn a_trunk_known_by_its_ha1_gets_the_right_answer() {
    let peer = Peer::sipp_uas("uas-auth.xml", &[]);
    let w = Workdir::new("ha1");
    // MD5("predial:predial.test:secret"): SIPp checks the answer against the password.
    let auth = "[auth]\nuser = \"predial\"\nha1 = \"8a5b7863f1e6b487513aac49ad37a24a\"\nrealm = \"predial.test\"\n";
    w.trunk("t.toml", &trunk_profile("authed", "customer", &peer, auth));
    w.leads(&["+74951110000", "+74951110001"]);
    let report = json(&w.dial(&["--talk-s", "1", "--timeout-s", "60"]));
    for end in ["0", "1"] {
        assert_eq!(outcomes(lead(&report, end)), ["contact"], "{report}");
    }
    assert!(!peer.log_text().contains("403"), "{}", peer.log_text());
}

#[test]
fn a_trunk_that_challenges_gets_our_credentials_407() {
    let peer = Peer::sipp_uas("uas-auth-407.xml", &[]);
    let w = Workdir::new("auth407");
    let auth = "[auth]\nuser = \"predial\"\npassword = \"secret\"\n";
    w.trunk("t.toml", &trunk_profile("proxy-authed", "own", &peer, auth));
    w.leads(&["+74951110000", "+74951110001"]);
    let report = json(&w.dial(&["--talk-s", "1", "--timeout-s", "60"]));
    for end in ["0", "1"] {
        assert_eq!(outcomes(lead(&report, end)), ["contact"], "{report}");
    }
    assert_eq!(trunk(&report, "proxy-authed")["state"], "up");
}

#[test]
fn a_wrong_password_marks_the_trunk_failing_with_a_clear_error() {
    let peer = Peer::sipp_uas("uas-auth.xml", &[]);
    let w = Workdir::new("badauth");
    let auth = "[auth]\nuser = \"predial\"\npassword = \"not-the-password\"\n";
    w.trunk("t.toml", &trunk_profile("authed", "customer", &peer, auth));
    w.leads(&["+74951110000"]);
    let out = w.dial(&["--timeout-s", "6"]);
    // The lead is not lost: it stays open (trunk failures do not use up attempts), and the run
    // stops at its time limit with exit status 3.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(text.trim()).unwrap();
    let t = trunk(&report, "authed");
    assert_eq!(t["state"], "failing", "{report}");
    let problem = t["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("[auth]") && problem.contains("authed"),
        "the problem says what to fix: {problem}"
    );
    let l = lead(&report, "0");
    assert!(
        !["done", "exhausted", "cancelled"].contains(&l["state"].as_str().unwrap()),
        "still open: {l}"
    );
    assert_eq!(l["attempts"], 0, "{l}");
    assert!(
        outcomes(l).iter().all(|o| *o == "trunk_failure") && !outcomes(l).is_empty(),
        "{l}"
    );
    assert_eq!(report["finished"], false);
}

#[test]
fn calls_move_to_the_next_trunk_when_the_first_answers_503() {
    let down = Peer::sipp_uas("uas-503.xml", &[]);
    let callees = Peer::sipp_uas("uas-population.xml", &[]);
    let w = Workdir::new("failover");
    w.trunk(
        "a-customer.toml",
        &trunk_profile("customer-line", "customer", &down, ""),
    );
    w.trunk(
        "b-own.toml",
        &trunk_profile("our-backup", "own", &callees, ""),
    );
    w.leads(&[
        "+74951110000",
        "+74951110001",
        "+74951110002",
        "+74951110005",
        "+74951110007",
    ]);
    let report = json(&w.dial(&["--talk-s", "2", "--timeout-s", "120"]));
    for end in ["0", "1", "2"] {
        assert_eq!(outcomes(lead(&report, end)), ["contact"], "{report}");
    }
    assert_eq!(outcomes(lead(&report, "7")), ["invalid_number"]);
    assert_eq!(outcomes(lead(&report, "5")), vec!["busy"; 5]);
    let first = trunk(&report, "customer-line");
    let backup = trunk(&report, "our-backup");
    assert_eq!(first["state"], "failing", "{report}");
    assert!(
        first["problem"].as_str().unwrap().contains("503"),
        "{report}"
    );
    assert!(first["calls"].as_u64().unwrap() >= 1, "{report}");
    assert!(
        backup["calls"].as_u64().unwrap() >= 9,
        "every call reached the callees through the backup: {report}"
    );
    drop(down);
}

#[test]
fn a_callee_s_re_invite_is_answered_and_the_call_goes_on() {
    let peer = Peer::sipp_uas("uas-reinvite.xml", &[]);
    let w = Workdir::new("reinvite");
    w.trunk("t.toml", &trunk_profile("holds", "own", &peer, ""));
    w.leads(&["+74951110000"]);
    let report = json(&w.dial(&["--talk-s", "2", "--timeout-s", "30"]));
    assert_eq!(outcomes(lead(&report, "0")), ["contact"], "{report}");
    // SIPp's final counters: the call ran its whole scenario (re-INVITE answered 200, then our
    // BYE), none failed.
    let log = peer.finish();
    let count = |label: &str| {
        log.lines()
            .rev()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    assert_eq!(count("Successful call"), Some(1), "{log}");
    assert_eq!(count("Failed call"), Some(0), "{log}");
}

impl Workdir {
    fn campaign(&self, extra: &str) {
        std::fs::write(self.0.join("campaign.toml"), format!("{CAMPAIGN}\n{extra}")).unwrap();
    }
}

#[test]
fn a_bridged_call_is_recorded_and_its_keys_heard() {
    let peer = Peer::sipp_uas("uas-media.xml", &[]);
    let w = Workdir::new("record");
    w.trunk("t.toml", &trunk_profile("talker", "own", &peer, ""));
    w.leads(&["+74951110000"]);
    let rec = w.path("recordings");
    let report = json(&w.dial(&["--talk-s", "9", "--recordings", &rec, "--timeout-s", "60"]));
    let l = lead(&report, "0");
    assert_eq!(outcomes(l), ["contact"], "{report}");
    assert_eq!(l["digits"], "1", "{report}");
    // 236 packets of speech and the key's 10.
    assert_eq!(l["rtp_received"], 246, "{report}");
    let files = l["recordings"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report}");
    let mut r = hound::WavReader::open(files[0].as_str().unwrap()).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let left: f64 = s
        .iter()
        .step_by(2)
        .map(|&x| f64::from(x).abs())
        .sum::<f64>()
        / (s.len() / 2) as f64;
    assert!(
        left > 200.0,
        "the callee's speech is in the recording (mean {left})"
    );
}

#[test]
fn with_detection_on_a_machine_never_reaches_an_operator() {
    let peer = Peer::sipp_uas("uas-media.xml", &[]);
    let w = Workdir::new("amd");
    w.trunk("t.toml", &trunk_profile("talker", "own", &peer, ""));
    w.campaign("[campaign.amd]\n");
    // The back-off after a machine, short for the test.
    let text = std::fs::read_to_string(w.0.join("campaign.toml")).unwrap();
    std::fs::write(
        w.0.join("campaign.toml"),
        text.replace(
            "trunk_failure = [\"1s\"]",
            "trunk_failure = [\"1s\"]\nanswering_machine = [\"1s\"]",
        ),
    )
    .unwrap();
    w.leads(&["+74951110000"]);
    let rec = w.path("recordings");
    let report = json(&w.dial(&["--recordings", &rec, "--timeout-s", "90"]));
    let l = lead(&report, "0");
    assert_eq!(outcomes(l), vec!["answering_machine"; 5], "{report}");
    assert_eq!(l["state"], "exhausted", "{report}");
    assert!(
        l["recordings"].as_array().unwrap().is_empty(),
        "never bridged: {report}"
    );
}

#[test]
fn an_abandoned_callee_hears_the_whole_message() {
    let peer = Peer::sipp_uas("uas-population.xml", &["-rtp_echo"]);
    let w = Workdir::new("abandon");
    w.trunk("t.toml", &trunk_profile("callees", "own", &peer, ""));
    // One operator, three calls at a time: two answered calls find nobody free.
    w.campaign("mode = \"power\"\n");
    let text = std::fs::read_to_string(w.0.join("campaign.toml")).unwrap();
    std::fs::write(
        w.0.join("campaign.toml"),
        text.replace(
            "[campaign.backoff]",
            "[campaign.pacing]\npower_ratio = 3.0\n\n[campaign.backoff]",
        )
        .replace("mode = \"power\"\n", "")
        .replace("wrap_up = \"1s\"", "wrap_up = \"1s\"\nmode = \"power\""),
    )
    .unwrap();
    w.leads(&["+74951110000", "+74951110001", "+74951110002"]);
    let data = w.path("data");
    let report = json(&w.dial(&[
        "--operators",
        "1",
        "--talk-s",
        "1",
        "--timeout-s",
        "180",
        "--data",
        &data,
    ]));
    let message_frames: u64 = ["company", "abandoned"]
        .iter()
        .map(|p| {
            let path = format!("{}/sounds/ru/{p}.wav", env!("CARGO_MANIFEST_DIR"));
            u64::from(hound::WavReader::open(path).unwrap().duration()).div_ceil(160)
        })
        .sum();
    let leads = report["leads"].as_array().unwrap();
    let abandoned: Vec<&serde_json::Value> = leads
        .iter()
        .filter(|l| outcomes(l).contains(&"abandoned"))
        .collect();
    assert!(!abandoned.is_empty(), "{report}");
    for l in abandoned {
        let times = outcomes(l).iter().filter(|o| **o == "abandoned").count() as u64;
        // The whole message each time, and SIPp echoed every packet of it.
        assert_eq!(
            l["rtp_sent"].as_u64().unwrap(),
            times * message_frames,
            "{l}"
        );
        assert_eq!(l["rtp_received"], l["rtp_sent"], "{l}");
    }
    assert_eq!(report["finished"], true, "{report}");
    // The abandon log has each with the regulator's figures.
    let rows = abandon_log_rows(&std::path::Path::new(&data).join("predial.db"));
    let abandons: u64 = leads
        .iter()
        .map(|l| outcomes(l).iter().filter(|o| **o == "abandoned").count() as u64)
        .sum();
    assert_eq!(rows.len() as u64, abandons, "{rows:?}");
    for (phone, caller_id, answered, ended, message, waited, regulator) in rows {
        assert!(phone.starts_with("+7495111000"), "{phone}");
        assert!(caller_id.is_some_and(|c| c.starts_with('+')));
        assert_eq!(ended - answered, waited);
        assert!((1_900..=2_500).contains(&waited), "{waited}");
        assert!(
            message.is_some_and(|m| m >= ended),
            "the message was played"
        );
        assert_eq!(regulator, "ftc");
    }
}

/// The abandon log of a SQLite store: (phone, caller id, answered, abandoned, message, waited,
/// regulator).
#[allow(clippy::type_complexity)]
fn abandon_log_rows(
    db: &std::path::Path,
) -> Vec<(String, Option<String>, i64, i64, Option<i64>, i64, String)> {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        let rows = sqlx::query_as(
            "SELECT phone, caller_id, answered_ms, ended_ms, message_ms, waited_ms, regulator \
             FROM abandon_log ORDER BY id",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
        rows
    })
}

/// With a store, a run killed mid-call goes on where it stopped: the attempts it left open are
/// closed as interrupted (they do not use up an attempt), the leads are dialled again, and what
/// was finished before is not.
#[test]
fn a_crash_mid_call_loses_nothing_with_a_store() {
    crash_mid_call(None);
}

#[test]
fn a_crash_mid_call_loses_nothing_with_postgres() {
    let db = super::api::PgDatabase::new("crash");
    crash_mid_call(Some(&db.url));
}

fn crash_mid_call(database: Option<&str>) {
    let sipp = Peer::sipp_uas("uas-population.xml", &[]);
    let w = Workdir::new("crash");
    w.trunk("sipp.toml", &trunk_profile("sipp", "own", &sipp, ""));
    w.leads(&["+74951110000", "+74951110007"]);
    let data = w.path("data");

    // The first run: the answered call is held 60 s by the stand-in operator; kill -9 in it.
    let listen = format!("127.0.0.1:{}", free_port());
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_predial"))
        .args([
            "dial",
            "--leads",
            &w.path("leads.csv"),
            "--profiles",
            &w.path("profiles"),
            "--campaign",
            &w.path("campaign.toml"),
            "--sip-listen",
            &listen,
            "--data",
            &data,
            "--talk-s",
            "60",
            "--json",
        ])
        .args(database.map(|d| vec!["--database", d]).unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sqlite = format!(
        "sqlite:{}?mode=ro",
        std::path::Path::new(&data).join("predial.db").display()
    );
    let url = database.map_or(sqlite, str::to_string);
    let rows = |sql: &str| -> Vec<(i64, String)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::{Connection, Row};
            let sql = sqlx::AssertSqlSafe(sql.to_string());
            if url.starts_with("postgres") {
                let Ok(mut c) = sqlx::PgConnection::connect(&url).await else {
                    return Vec::new();
                };
                let out = sqlx::query(sql)
                    .fetch_all(&mut c)
                    .await
                    .unwrap_or_default()
                    .iter()
                    .map(|r| {
                        let id = r
                            .try_get::<i64, _>(0)
                            .or_else(|_| r.try_get::<i32, _>(0).map(i64::from))
                            .unwrap_or(0);
                        (id, r.get::<Option<String>, _>(1).unwrap_or_default())
                    })
                    .collect();
                let _ = c.close().await;
                out
            } else {
                let Ok(mut c) = sqlx::SqliteConnection::connect(&url).await else {
                    return Vec::new();
                };
                let out = sqlx::query(sql)
                    .fetch_all(&mut c)
                    .await
                    .unwrap_or_default()
                    .iter()
                    .map(|r| {
                        (
                            r.get::<i64, _>(0),
                            r.get::<Option<String>, _>(1).unwrap_or_default(),
                        )
                    })
                    .collect();
                let _ = c.close().await;
                out
            }
        })
    };
    // Wait (bounded) until the answered call is bridged, as the store says.
    let mut bridged = false;
    for _ in 0..150 {
        if !rows("SELECT id, operator FROM attempts WHERE bridge_ms IS NOT NULL").is_empty() {
            bridged = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // While it runs, the engine writes the trunk's live state for the API (every 2 s).
    let mut live = serde_json::Value::Null;
    for _ in 0..40 {
        if let Some((_, v)) = rows("SELECT 1, value FROM settings WHERE name = 'trunk.sipp'").pop()
        {
            live = serde_json::from_str(&v).unwrap();
            if live["channels_in_use"] == 1 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(live["engine_running"], true, "{live}");
    assert_eq!(live["channels_in_use"], 1, "the held call: {live}");
    first.kill().unwrap();
    let _ = first.wait();
    assert!(bridged, "the first run bridged the answered call");
    let open = rows("SELECT lead_id, outcome FROM attempts WHERE end_ms IS NULL");
    assert_eq!(
        open.len(),
        1,
        "one attempt was in progress at the crash: {open:?}"
    );

    // The second run, from the store alone.
    let listen = format!("127.0.0.1:{}", free_port());
    let profiles = w.path("profiles");
    let mut args = vec![
        "dial",
        "--profiles",
        &profiles,
        "--sip-listen",
        &listen,
        "--data",
        &data,
        "--talk-s",
        "1",
        "--json",
    ];
    if let Some(d) = database {
        args.extend(["--database", d]);
    }
    let out = predial(&args);
    let report = json(&out);
    assert_eq!(report["recovered"]["interrupted_attempts"], 1, "{report}");
    let answered = lead(&report, "0000");
    assert_eq!(answered["state"], "done", "{answered}");
    assert_eq!(
        outcomes(answered),
        vec!["contact"],
        "the interrupted call is not an attempt"
    );
    assert!(
        report["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["phone"] != "+74951110007"),
        "the lead closed before the crash is not dialled again: {report}"
    );
    let attempts = rows("SELECT lead_id, outcome FROM attempts ORDER BY id");
    let of_answered: Vec<&str> = attempts
        .iter()
        .filter(|(lead, _)| *lead == 1)
        .map(|(_, o)| o.as_str())
        .collect();
    assert_eq!(of_answered, vec!["interrupted", "contact"], "{attempts:?}");
    let leads = rows("SELECT id, state FROM leads ORDER BY id");
    assert_eq!(
        leads,
        vec![(1, "done".to_string()), (2, "done".to_string())],
        "404 closes its lead as done (a wrong number)"
    );
    assert!(rows("SELECT id, outcome FROM attempts WHERE end_ms IS NULL").is_empty());
    sipp.finish();
}

//! The abandon log through `predial serve`, on SQLite and PostgreSQL: its rows cannot be
//! changed or deleted, `GET /v1/abandons` lists them as JSON and CSV, and a restart puts the
//! campaign's abandon-rate window back from what was stored.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::api::{PgDatabase, Server, temp_dir};

const HOUR_MS: i64 = 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs SQL on the store directly; the error's text when the database refuses it.
fn sql(data: &Path, database: Option<&str>, text: &str) -> Result<(), String> {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = sqlx::AssertSqlSafe(text.to_string());
    rt.block_on(async {
        match database {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                let r = sqlx::raw_sql(text).execute(&mut c).await;
                c.close().await.unwrap();
                r.map(|_| ()).map_err(|e| e.to_string())
            }
            None => {
                let url = format!("sqlite:{}", data.join("predial.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                let r = sqlx::raw_sql(text).execute(&mut c).await;
                c.close().await.unwrap();
                r.map(|_| ()).map_err(|e| e.to_string())
            }
        }
    })
}

/// A campaign's past calls, as the engine would have stored them: 40 answered by a person and
/// talked, 3 abandoned (with their abandon log rows), 2 machines, all within the last hours;
/// and one abandon of 40 days ago, out of every window.
fn past_calls(campaign: i64, now: i64) -> String {
    let mut s = String::new();
    let lead = |s: &mut String, id: i64| {
        s.push_str(&format!(
            "INSERT INTO leads (id, campaign_id, phone, source, state, attempts, created_ms, \
             closed_ms) VALUES ({id}, {campaign}, '+7916{id:07}', 'api', 'done', 1, {}, {});\n",
            now - 50 * 86_400_000,
            now - HOUR_MS
        ))
    };
    let attempt = |s: &mut String, id: i64, at: i64, outcome: &str| {
        s.push_str(&format!(
            "INSERT INTO attempts (id, lead_id, campaign_id, started_ms, answer_ms, end_ms, \
             outcome) VALUES ({id}, {id}, {campaign}, {}, {at}, {}, '{outcome}');\n",
            at - 10_000,
            at + 9_000
        ))
    };
    let abandon = |s: &mut String, id: i64, at: i64| {
        s.push_str(&format!(
            "INSERT INTO abandon_log (attempt_id, lead_id, campaign_id, answered_ms, ended_ms, \
             reason, phone, caller_id, message_ms, waited_ms, regulator, answered_in_window, \
             abandoned_in_window, window_rate) VALUES ({id}, {id}, {campaign}, {at}, {}, \
             'no operator free', '+7916{id:07}', '+74951234567', {}, 2000, 'ftc', 40, {id}, 0.05);\n",
            at + 2_000,
            at + 2_000
        ))
    };
    for id in 1..=45 {
        lead(&mut s, id);
        let at = now - 3 * HOUR_MS + id * 60_000;
        match id {
            1..=3 => {
                attempt(&mut s, id, at, "abandoned");
                abandon(&mut s, id, at);
            }
            4..=5 => attempt(&mut s, id, at, "answering_machine"),
            _ => attempt(&mut s, id, at, "contact"),
        }
    }
    lead(&mut s, 46);
    let old = now - 40 * 86_400_000;
    attempt(&mut s, 46, old, "abandoned");
    abandon(&mut s, 46, old);
    s
}

/// GET with an Accept header: (status, content type, body).
fn get_accept(server: &Server, path: &str, accept: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect_timeout(&server.addr(), Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
         Accept: {accept}\r\n\r\n",
        server.addr(),
        server.token()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let kind = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, kind, body.to_string())
}

fn abandon_log(data: &Path, database: Option<&str>) {
    let server = Server::start(data, database);
    let (status, c) = server.call("POST", "/v1/campaigns", Some(json!({"name": "shop-north"})));
    assert_eq!(status, 201, "{c}");
    let campaign = c["id"].as_i64().unwrap();
    let now = now_ms();
    sql(data, database, &past_calls(campaign, now)).unwrap();

    // Append-only, in the database itself.
    for change in [
        "UPDATE abandon_log SET phone = '+70000000000'",
        "DELETE FROM abandon_log",
    ] {
        let e = sql(data, database, change).expect_err(change);
        assert!(e.contains("append-only"), "{change}: {e}");
    }
    if database.is_some() {
        let e = sql(data, database, "TRUNCATE abandon_log").expect_err("truncate");
        assert!(e.contains("append-only"), "{e}");
    }

    // JSON: the last 30 days by default, oldest first, with the regulator's fields.
    let (status, v) = server.call("GET", "/v1/abandons?campaign=shop-north", None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["count"], 3, "{v}");
    assert_eq!(v["truncated"], false);
    let first = &v["abandons"][0];
    assert_eq!(first["phone"], "+79160000001");
    assert_eq!(first["caller_id"], "+74951234567");
    assert_eq!(first["message_played"], true);
    assert_eq!(first["waited_ms"], 2000);
    assert_eq!(first["answer_to_hang_up_ms"], 9000);
    assert_eq!(first["regulator"], "ftc");
    assert_eq!(first["window_rate"], 0.05);
    assert_eq!(first["campaign"], "shop-north");
    let answered = now - 3 * HOUR_MS + 60_000;
    assert_eq!(first["answered_at"], rfc3339(answered));
    assert_eq!(first["abandoned_at"], rfc3339(answered + 2_000));
    assert_eq!(first["hung_up_at"], rfc3339(answered + 9_000));

    // A period and a limit.
    let from = rfc3339(now - 45 * 86_400_000).replace('+', "%2B");
    let to = rfc3339(now).replace('+', "%2B");
    let path = format!("/v1/abandons?campaign=shop-north&from={from}&to={to}&limit=2");
    let (status, v) = server.call("GET", &path, None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["count"].as_i64(), v["truncated"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(v["abandons"][0]["lead"], 46, "the old one first: {v}");

    // CSV: a header row and one row per abandon.
    let (status, kind, body) = get_accept(&server, "/v1/abandons?campaign=shop-north", "text/csv");
    assert_eq!(status, 200, "{body}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 4, "{body}");
    assert!(lines[0].starts_with("id,attempt,lead,campaign,phone,caller_id,answered_at"));
    assert!(
        lines[1].contains("shop-north,+79160000001,+74951234567"),
        "{body}"
    );

    // Bad input: what is expected, on the field.
    let (status, v) = server.call(
        "GET",
        "/v1/abandons?campaign=shop-north&from=yesterday",
        None,
    );
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        (v["error"].as_str(), v["field"].as_str()),
        (Some("invalid_time"), Some("from"))
    );
    assert!(v["message"].as_str().unwrap().contains("RFC 3339"), "{v}");
    for bad in ["limit=0", "limit=10001", "limit=many"] {
        let (status, v) = server.call(
            "GET",
            &format!("/v1/abandons?campaign=shop-north&{bad}"),
            None,
        );
        assert_eq!(
            (status, v["field"].as_str()),
            (422, Some("limit")),
            "{bad}: {v}"
        );
    }
    let (status, v) = server.call("GET", "/v1/abandons", None);
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("campaign")),
        "{v}"
    );
    let (status, v) = server.call("GET", "/v1/abandons?campaign=nope", None);
    assert_eq!(
        (status, v["error"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );
    let (status, v) = server.call("GET", "/v1/abandons?campaign=shop&colour=red", None);
    assert_eq!(status, 422, "{v}");
    server.stop();

    // A restart: the campaign's window is what was stored (FTC, 30 days): 40 talked and 3
    // abandoned live answers, 3 abandoned; the abandon of 40 days ago is out of it.
    let server = Server::start(data, database);
    let (status, _) = server.call("GET", "/v1/campaigns", None);
    assert_eq!(status, 200);
    let log = std::fs::read_to_string(data.join("serve.log")).unwrap();
    assert!(
        log.contains("the abandon-rate window was read back from the store")
            && log.contains("answered=43 abandoned=3 rate=0.0697"),
        "{log}"
    );
    // The log itself is untouched by the restart.
    let (_, v) = server.call("GET", &path.replace("limit=2", "limit=10"), None);
    assert_eq!(v["count"], 4, "{v}");
    server.stop();
}

#[test]
fn the_abandon_log_on_sqlite() {
    let data = temp_dir("abandons-sqlite");
    abandon_log(&data, None);
}

#[test]
fn the_abandon_log_on_postgres() {
    let data = temp_dir("abandons-pg");
    let db = PgDatabase::new("abandons");
    abandon_log(&data, Some(&db.url));
}

#[test]
fn the_openapi_document_has_the_abandons() {
    let data = temp_dir("abandons-openapi");
    let server = Server::start(&data, None);
    let (status, doc): (u16, Value) = server.call("GET", "/openapi.json", None);
    assert_eq!(status, 200);
    let op = &doc["paths"]["/v1/abandons"]["get"];
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["campaign", "from", "to", "limit"]);
    let ok = &op["responses"]["200"]["content"];
    assert!(
        ok.get("application/json").is_some() && ok.get("text/csv").is_some(),
        "{ok}"
    );
    server.stop();
}

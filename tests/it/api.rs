//! The control API and the store, as an integrator and an admin use them: `predial serve` on
//! SQLite and on PostgreSQL (a database of the test's own on the local server), leads in one at
//! a time and in bulk, errors with their fields, tokens and scopes, a restart that remembers,
//! `predial leads import`, `predial bench ingest`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{json, predial};

/// The PostgreSQL server of this machine (trust auth).
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "predial-it-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A database of the test's own on the local PostgreSQL server, dropped at the end.
pub struct PgDatabase {
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn new(tag: &str) -> PgDatabase {
        let name = format!(
            "predial_test_{tag}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_micros()
        );
        pg(&format!("CREATE DATABASE {name}"));
        PgDatabase {
            url: predial::bench::ingest::replace_db_name(POSTGRES, &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        pg(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn pg(sql: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(POSTGRES)
            .await
            .unwrap_or_else(|e| {
                panic!("the PostgreSQL server at {POSTGRES} is needed by this test: {e}")
            });
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
}

/// `predial serve` running.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    /// Where its SIP listens (the registrar).
    pub sip: SocketAddr,
    token: String,
}

impl Server {
    pub fn start(data: &Path, database: Option<&str>) -> Server {
        Server::start_with(data, database, &[])
    }

    pub fn start_with(data: &Path, database: Option<&str>, extra: &[&str]) -> Server {
        let port = super::peers::free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let sip: SocketAddr = format!("127.0.0.1:{}", super::peers::free_port())
            .parse()
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_predial"));
        cmd.args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--http",
            &addr.to_string(),
        ])
        .env_remove("PREDIAL_ADMIN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(data.join("serve.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        );
        if let Some(db) = database {
            cmd.args(["--database", db]);
        }
        cmd.args(["--sip-listen".to_string(), sip.to_string()]);
        cmd.args(extra);
        let child = cmd.spawn().unwrap();
        let mut server = Server {
            child,
            addr,
            sip,
            token: String::new(),
        };
        for _ in 0..200 {
            if let Ok((200, _)) = server.try_call("GET", "/health", None, None) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server.token = std::fs::read_to_string(data.join("admin.token"))
            .expect("serve made the admin token")
            .trim()
            .to_string();
        server
    }

    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The serve process's id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin token.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(t) = token {
            head += &format!("Authorization: Bearer {t}\r\n");
        }
        let (kind, bytes) = body.unwrap_or(("", b""));
        if !kind.is_empty() {
            head += &format!("Content-Type: {kind}\r\n");
        }
        head += &format!("Content-Length: {}\r\n\r\n", bytes.len());
        s.write_all(head.as_bytes())?;
        s.write_all(bytes)?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// A call with the admin token; the answer's status and JSON.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = self.token.clone();
        self.call_as(&token, method, path, body)
    }

    pub fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let text = body.map(|b| b.to_string());
        let (status, answer) = self
            .try_call(
                method,
                path,
                Some(token),
                text.as_deref().map(|t| ("application/json", t.as_bytes())),
            )
            .unwrap();
        (
            status,
            serde_json::from_str(&answer).unwrap_or(Value::String(answer)),
        )
    }

    pub fn stop(mut self) {
        // SIGINT, as Ctrl-C: a clean stop.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything an integrator does, on whichever database.
fn exercise(data: &Path, database: Option<&str>) {
    let server = Server::start(data, database);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("admin.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the admin token is private");
    }

    // One lead, then the same number again (rule B: a duplicate), then impossible input.
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "8 (916) 123-45-67", "order_id": "A-1", "name": "Anna", "items": ["kettle"], "sum_minor": 249900})),
    );
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["phone"], "+79161234567");
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+7 916 123 45 67"})),
    );
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"], "duplicate");
    assert_eq!(v["duplicate_of"], id);
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+7 000 000-00-00"})),
    );
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["field"], "phone");
    assert!(v["message"].as_str().unwrap().contains("000"), "{v}");
    // Numbers the campaign's destination policy does not call: premium rate, another country.
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+7 809 123-45-67"})),
    );
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        (v["error"].as_str(), v["field"].as_str(), v["rule"].as_str()),
        (
            Some("destination_refused"),
            Some("phone"),
            Some("premium_rate")
        ),
        "{v}"
    );
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+375 29 123-45-67"})),
    );
    assert_eq!(
        (status, v["error"].as_str(), v["rule"].as_str()),
        (422, Some("destination_refused"), Some("allow")),
        "{v}"
    );
    let (status, v) = server.call("POST", "/v1/leads", Some(json!({"name": "no phone"})));
    assert_eq!((status, v["field"].as_str()), (422, Some("phone")), "{v}");
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234500", "sum_minor": "lots"})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("sum_minor")),
        "{v}"
    );
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234501", "campaign": "nope"})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("campaign")),
        "{v}"
    );
    let (status, _) = server
        .try_call("POST", "/v1/leads", None, Some(("application/json", b"{}")))
        .unwrap();
    assert_eq!(status, 401);
    let (status, v) = server.call_as("wrong", "GET", "/v1/leads/1", None);
    assert_eq!((status, v["error"].as_str()), (401, Some("unauthorized")));
    let (status, body) = server
        .try_call(
            "POST",
            "/v1/leads",
            Some(&server.token),
            Some(("text/plain", b"phone=1")),
        )
        .unwrap();
    assert_eq!(status, 415, "{body}");

    // Read it back, find it by the number written another way, by order id.
    let (status, v) = server.call("GET", &format!("/v1/leads/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(
        (v["state"].as_str(), v["name"].as_str()),
        (Some("queued"), Some("Anna"))
    );
    assert_eq!(v["items"], json!(["kettle"]));
    let (status, v) = server.call("GET", "/v1/leads?phone=%2B7%20916%20123-45-67", None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["leads"][0]["id"], id);
    let (_, v) = server.call("GET", "/v1/leads?order_id=A-1", None);
    assert_eq!(v["leads"].as_array().unwrap().len(), 1);
    let (status, _) = server.call("GET", "/v1/leads/999999", None);
    assert_eq!(status, 404);

    // A token with one scope only.
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "wallboard", "scopes": ["reports:read"]})),
    );
    assert_eq!(status, 201, "{v}");
    let reader = v["token"].as_str().unwrap().to_string();
    let (status, _) = server.call_as(&reader, "GET", &format!("/v1/leads/{id}"), None);
    assert_eq!(status, 200);
    let (status, v) = server.call_as(
        &reader,
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234502"})),
    );
    assert_eq!((status, v["error"].as_str()), (403, Some("forbidden")));
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "x", "scopes": ["everything"]})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("scopes[0]")),
        "{v}"
    );

    // Bulk, NDJSON: 1,000 lines with 10 repeats, 5 impossible numbers and a broken line.
    let mut ndjson = String::new();
    for i in 0..1000 {
        let phone = if i % 200 == 7 {
            format!("+7 000 {i:03} 00 00")
        } else if i % 100 == 50 {
            format!("+7926{:07}", i - 1)
        } else {
            format!("+7926{i:07}")
        };
        ndjson += &format!("{{\"phone\":\"{phone}\",\"order_id\":\"B-{i}\"}}\n");
    }
    ndjson += "{\"phone\": \n";
    let (status, body) = server
        .try_call(
            "POST",
            "/v1/leads:bulk",
            Some(&server.token),
            Some(("application/x-ndjson", ndjson.as_bytes())),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["received"], 1001);
    assert_eq!(v["accepted"], 985, "{v}");
    assert_eq!(v["duplicates"], 10);
    assert_eq!(v["invalid"], 6);
    let rejected = v["rejected"].as_array().unwrap();
    assert!(
        rejected
            .iter()
            .any(|r| r["index"] == 51 && r["duplicate_of"].is_i64())
    );
    assert!(
        rejected
            .iter()
            .any(|r| r["index"] == 8 && r["field"] == "phone")
    );
    assert!(rejected.iter().any(|r| r["index"] == 1001));

    // Bulk, a JSON array; one item of the wrong shape is judged alone.
    let (status, v) = server.call(
        "POST",
        "/v1/leads:bulk",
        Some(json!([{"phone": "+79031112233"}, {"phone": 5}, {"phone": "+79031112233"}])),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["duplicates"].as_u64(),
            v["invalid"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(v["rejected"][0]["index"], 2);
    assert_eq!(v["rejected"][0]["field"], "phone");

    // A campaign catching duplicates by order id (rule A), and a policy out of range.
    let (status, v) = server.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "shop-a", "policy": {"dedup": {"rule": "A", "window": "48h"}}})),
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234567", "campaign": "shop-a"})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("order_id")),
        "{v}"
    );
    let (status, _) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234567", "campaign": "shop-a", "order_id": "Z-1"})),
    );
    assert_eq!(status, 201);
    let (status, _) = server.call(
        "POST",
        "/v1/leads",
        Some(json!({"phone": "+79161234567", "campaign": "shop-a", "order_id": "Z-2"})),
    );
    assert_eq!(status, 201, "a new order from a known phone is a new lead");
    let (status, v) = server.call(
        "POST",
        "/v1/campaigns",
        Some(json!({"name": "bad", "policy": {"max_attempts": 50}})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("policy.max_attempts")),
        "{v}"
    );
    let (status, v) = server.call("POST", "/v1/campaigns/shop-a/start", None);
    assert_eq!((status, v["state"].as_str()), (200, Some("running")), "{v}");

    // Cancel: once, then it is closed.
    let (status, v) = server.call("POST", &format!("/v1/leads/{id}/cancel"), None);
    assert_eq!((status, v["state"].as_str()), (200, Some("cancelled")));
    let (status, v) = server.call("POST", &format!("/v1/leads/{id}/cancel"), None);
    assert_eq!((status, v["error"].as_str()), (409, Some("lead_closed")));

    // The document and the metrics, without a token.
    let (status, doc) = server.try_call("GET", "/openapi.json", None, None).unwrap();
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/leads:bulk"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let (status, text) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains("predial_leads_received_total{result=\"accepted\"}"),
        "{text}"
    );
    server.stop();

    // After a restart the store remembers: the lead, the duplicate check, the tokens.
    let server = Server::start(data, database);
    let (status, v) = server.call("POST", "/v1/leads", Some(json!({"phone": "+79260000001"})));
    assert_eq!((status, v["duplicate_of"].is_i64()), (409, true), "{v}");
    let (status, v) = server.call_as(&reader, "GET", &format!("/v1/leads/{id}"), None);
    assert_eq!((status, v["state"].as_str()), (200, Some("cancelled")));
    let (status, v) = server.call("POST", "/v1/leads", Some(json!({"phone": "+79169999999"})));
    assert_eq!(status, 201);
    assert!(
        v["id"].as_i64().unwrap() >= 990,
        "ids go on after the stored ones: {v}"
    );
    server.stop();
}

#[test]
fn the_api_takes_leads_into_sqlite() {
    let data = temp_dir("api-sqlite");
    exercise(&data, None);
    assert!(data.join("predial.db").exists());
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_api_takes_leads_into_postgres() {
    let db = PgDatabase::new("api");
    let data = temp_dir("api-pg");
    exercise(&data, Some(&db.url));
    assert!(!data.join("predial.db").exists(), "nothing went to SQLite");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn leads_import_counts_and_points_at_bad_lines() {
    let data = temp_dir("import");
    let file = data.join("orders.csv");
    std::fs::write(
        &file,
        "# export of 2026-11-28\n\
         order_id,name,phone,sum_minor\n\
         1001,\"Petrova, Anna\",+7 916 111-22-33,150000\n\
         1002,Ivan,8 916 111 22 34,99000\n\
         1003,Ivan again,+79161112234,99000\n\
         1004,Fake,+7 000 000 00 00,100\n\
         1005,Nobody,,100\n\
         1006,Bad sum,+79161112235,lots\n\
         1007,Premium,+7 809 123-45-67,100\n",
    )
    .unwrap();
    let d = data.to_str().unwrap();
    let f = file.to_str().unwrap();
    let out = predial(&["leads", "import", f, "--campaign", "shop", "--data", d]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad lines make the exit non-zero"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("orders.csv:6: phone:"), "{stderr}");
    assert!(stderr.contains("orders.csv:7: phone"), "{stderr}");
    assert!(stderr.contains("orders.csv:8: sum_minor"), "{stderr}");
    assert!(
        stderr.contains("orders.csv:9: phone: +78091234567 is not called: a premium-rate number"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "2 accepted, 1 duplicates, 3 invalid, 1 not called by the destination policy"
        ),
        "{stdout}"
    );

    // A clean file: exit 0, one JSON object; the numbers seen before are duplicates.
    let clean = data.join("more.ndjson");
    std::fs::write(
        &clean,
        "{\"phone\":\"+79161112233\",\"order_id\":\"1001\"}\n{\"phone\":\"+79035556677\",\"name\":\"Oleg\"}\n",
    )
    .unwrap();
    let out = predial(&[
        "leads",
        "import",
        clean.to_str().unwrap(),
        "--campaign",
        "shop",
        "--data",
        d,
        "--json",
    ]);
    let v = json(&out);
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["duplicates"].as_u64(),
            v["invalid"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );

    // The API sees what was imported.
    let server = Server::start(&data, None);
    let (status, v) = server.call("GET", "/v1/leads?phone=89035556677", None);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["leads"][0]["campaign"], "shop");
    assert_eq!(v["leads"][0]["source"], "import");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn bench_ingest_reports_its_keys_on_both_databases() {
    let v = json(&predial(&["bench", "ingest", "--leads", "3000", "--json"]));
    for key in ["leads", "leads_per_s", "duplicates", "invalid", "database"] {
        assert!(!v[key].is_null(), "{key} missing: {v}");
    }
    assert_eq!(v["database"], "sqlite");
    assert_eq!(v["leads"], 3000);
    let (dups, invalid) = (
        v["duplicates"].as_u64().unwrap(),
        v["invalid"].as_u64().unwrap(),
    );
    assert!((60..=240).contains(&dups), "about 5% duplicates: {v}");
    assert!((30..=160).contains(&invalid), "about 3% invalid: {v}");
    assert_eq!(
        v["api"]["accepted"], v["cli"]["accepted"],
        "both paths judge alike: {v}"
    );
    assert_eq!(v["api"]["rebuilt_leads"], v["api"]["accepted"]);

    let v = json(&predial(&[
        "bench",
        "ingest",
        "--leads",
        "2000",
        "--database",
        POSTGRES,
        "--via",
        "api",
        "--json",
    ]));
    assert_eq!(v["database"], "postgres");
    assert_eq!(v["api"]["leads"], 2000);
}

#[test]
fn dispositions_feed_the_reports_on_sqlite() {
    let data = temp_dir("reports");
    dispositions_feed_the_reports(&data, None);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn dispositions_feed_the_reports_on_postgres() {
    let db = PgDatabase::new("reports");
    let data = temp_dir("reports-pg");
    dispositions_feed_the_reports(&data, Some(&db.url));
    let _ = std::fs::remove_dir_all(&data);
}

fn dispositions_feed_the_reports(data: &Path, database: Option<&str>) {
    // The CRM of this test is on this machine, over http.
    let server = Server::start_with(
        data,
        database,
        &["--webhook-allow-http", "--webhook-allow-private"],
    );
    // Notifications go to a CRM that is not there: they wait in the outbox, counted.
    let (status, v) = server.call(
        "PUT",
        "/v1/webhook",
        Some(json!({"url": "http://127.0.0.1:9/crm", "alert_sum_minor": 250_000})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["alert_sum_minor"], 250_000);
    assert!(
        v["secret"].as_str().unwrap().len() >= 16,
        "a secret was made: {v}"
    );
    let mut ids = Vec::new();
    for (i, phone) in [
        "+79161110001",
        "+79161110002",
        "+79161110003",
        "+79161110004",
    ]
    .iter()
    .enumerate()
    {
        let (status, v) = server.call(
            "POST",
            "/v1/leads",
            Some(json!({"phone": phone, "order_id": format!("R-{i}"), "sum_minor": 100_000})),
        );
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    assert_eq!(
        server
            .call("POST", "/v1/leads", Some(json!({"phone": "+79161110001"})))
            .0,
        409
    );
    assert_eq!(
        server
            .call("POST", "/v1/leads", Some(json!({"phone": "+7000"})))
            .0,
        422
    );

    // What the desk may not say.
    let bad = [
        (
            json!({"lead": ids[0], "kind": "upsell", "sum_minor": 5}),
            "items",
        ),
        (
            json!({"lead": ids[0], "kind": "upsell", "items": ["a"]}),
            "sum_minor",
        ),
        (
            json!({"lead": ids[0], "kind": "callback", "callback_at": "2001-01-01T00:00:00Z"}),
            "callback_at",
        ),
        (json!({"lead": ids[0], "kind": "callback"}), "callback_at"),
        (json!({"lead": ids[0], "kind": "maybe"}), "kind"),
        (
            json!({"lead": ids[0], "kind": "confirmed", "sum_minor": -1}),
            "sum_minor",
        ),
    ];
    for (body, field) in bad {
        let (status, v) = server.call("POST", "/v1/dispositions", Some(body.clone()));
        assert_eq!(
            (status, v["field"].as_str()),
            (422, Some(field)),
            "{body}: {v}"
        );
    }
    let (status, _) = server.call(
        "POST",
        "/v1/dispositions",
        Some(json!({"lead": 999_999, "kind": "confirmed"})),
    );
    assert_eq!(status, 404);

    // What it says: confirmed, upsell, fake, a call-back tomorrow.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    for body in [
        json!({"lead": ids[0], "kind": "confirmed", "operator": "ann"}),
        json!({"lead": ids[1], "kind": "upsell", "items": ["kettle", "cups"], "sum_minor": 300_000, "operator": "ann"}),
        json!({"lead": ids[2], "kind": "fake", "operator": "bob"}),
        json!({"lead": ids[3], "kind": "callback", "callback_at": tomorrow, "operator": "bob"}),
    ] {
        let (status, v) = server.call("POST", "/v1/dispositions", Some(body));
        assert_eq!(status, 201, "{v}");
    }
    let (_, v) = server.call("GET", &format!("/v1/leads/{}", ids[1]), None);
    assert_eq!(
        (v["state"].as_str(), v["sum_minor"].as_i64()),
        (Some("done"), Some(300_000))
    );
    let (_, v) = server.call("GET", &format!("/v1/leads/{}", ids[3]), None);
    assert_eq!(v["state"], "scheduled", "a call-back reopens the lead: {v}");

    let (status, v) = server.call(
        "GET",
        "/v1/reports/kpis?from=2000-01-01&to=2100-01-01&by=campaign",
        None,
    );
    assert_eq!(status, 200, "{v}");
    let t = &v["total"];
    assert_eq!(t["received"], 6, "{t}");
    assert_eq!(
        (
            t["duplicates"].as_u64(),
            t["invalid"].as_u64(),
            t["fakes"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(t["approved"], 2);
    assert_eq!(t["upsell_rate"], 0.5);
    assert_eq!(t["average_check_minor"], 200_000.0);
    assert!((t["approve_rate"].as_f64().unwrap() - 2.0 / 6.0).abs() < 1e-9);
    assert!(
        (t["approve_rate_valid"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{t}"
    );
    assert_eq!(v["rows"][0]["group"], "default");
    let (status, csv) = server
        .try_call(
            "GET",
            "/v1/reports/kpis?from=2000-01-01&to=2100-01-01&by=operator&format=csv",
            Some(&server.token),
            None,
        )
        .unwrap();
    assert_eq!(status, 200);
    assert!(csv.starts_with("group,received,"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("ann,")), "{csv}");
    let (status, v) = server.call(
        "GET",
        "/v1/reports/kpis?from=2000-01-01&to=1999-01-01",
        None,
    );
    assert_eq!((status, v["field"].as_str()), (422, Some("to")));
    // Two confirmations and the large order's alert wait for the CRM.
    let (_, v) = server.call("GET", "/v1/webhook", None);
    assert_eq!(v["outbox"]["backlog"], 3, "{v}");
    // The campaign's queue: the call-back is the one lead still open.
    let (_, v) = server.call("GET", "/v1/campaigns/default", None);
    assert_eq!(v["open_leads"], 1, "{v}");
    server.stop();

    // The same from the command line.
    let d = data.to_str().unwrap();
    let mut args = vec![
        "report",
        "--data",
        d,
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--by",
        "operator",
        "--json",
    ];
    if let Some(db) = database {
        args.extend(["--database", db]);
    }
    let v = json(&predial(&args));
    let ann = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "ann")
        .unwrap();
    assert_eq!(ann["approved"], 2);
    let json_at = args.iter().position(|a| *a == "--json").unwrap();
    args[json_at] = "--csv";
    let out = predial(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("group,"));
}

#[test]
fn operators_events_and_recordings() {
    let data = temp_dir("ops");
    // A recorded call through SIPp first, stored in the data folder.
    let sipp = super::peers::Peer::sipp_uas("uas-population.xml", &[]);
    let rec = data.join("rec");
    super::peers::dial_into(
        &data,
        &sipp,
        "+74951110000,REC-1\n",
        &["--recordings", rec.to_str().unwrap(), "--talk-s", "1"],
    );
    let profiles = data.join("profiles");
    sipp.finish();

    let server = Server::start_with(&data, None, &["--profiles", profiles.to_str().unwrap()]);
    // The engine's first word on the trunks is written by the journal a moment after start.
    let until = Instant::now() + Duration::from_secs(10);
    let (status, v) = loop {
        let (status, v) = server.call("GET", "/v1/trunks", None);
        if v["trunks"][0]["live"]["engine_running"] == true || Instant::now() > until {
            break (status, v);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["trunks"][0]["name"], "sipp");
    assert_eq!(v["trunks"][0]["channels"], 5);
    assert_eq!(v["trunks"][0]["last_hour"]["calls"], 1, "{v}");
    assert_eq!(v["trunks"][0]["last_hour"]["answered"], 1, "{v}");
    let live = &v["trunks"][0]["live"];
    // serve runs the engine now: its word on the trunk, live.
    assert_eq!(live["state"], "up", "the engine's word on the trunk: {v}");
    assert_eq!(live["engine_running"], true, "{v}");
    // Recordings of the lead, and a ranged download.
    let (_, v) = server.call("GET", "/v1/leads?order_id=REC-1", None);
    let lead = v["leads"][0]["id"].as_i64().unwrap();
    assert_eq!(v["leads"][0]["state"], "done", "{v}");
    let (status, v) = server.call("GET", &format!("/v1/recordings?lead={lead}"), None);
    assert_eq!(status, 200, "{v}");
    let url = v["recordings"][0]["url"]
        .as_str()
        .expect("a recording")
        .to_string();
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "GET {url} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\n",
        server.token
    )
    .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 206"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: audio/wav"),
        "{text}"
    );
    assert!(text.ends_with("RIFF"), "{text}");
    assert_eq!(server.call("GET", "/v1/recordings/999999", None).0, 404);

    // The event stream sees a lead arrive and an operator pause.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        server.token
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // Operators: made with a password kept only as digests, set ready and paused.
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "ann", "name": "Anna", "group": "day", "skills": ["default"], "password": "s3cret-pass"})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["state"], "logged_out");
    assert!(
        v.get("password").is_none() && v.get("ha1_md5").is_none(),
        "{v}"
    );
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "ann", "password": "another-pass"})),
    );
    assert_eq!((status, v["field"].as_str()), (409, Some("login")));
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "b b", "password": "another-pass"})),
    );
    assert_eq!((status, v["field"].as_str()), (422, Some("login")));
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "bob", "password": "short"})),
    );
    assert_eq!((status, v["field"].as_str()), (422, Some("password")));
    assert_eq!(server.call("POST", "/v1/operators/ann/ready", None).0, 200);
    let (status, v) = server.call(
        "POST",
        "/v1/operators/ann/pause",
        Some(json!({"reason": "lunch"})),
    );
    assert_eq!(
        (status, v["state"].as_str(), v["pause_reason"].as_str()),
        (200, Some("paused"), Some("lunch"))
    );
    let (_, v) = server.call("GET", "/v1/operators", None);
    assert_eq!(v["operators"][0]["login"], "ann");
    assert_eq!(
        server.call("POST", "/v1/operators/nobody/ready", None).0,
        404
    );
    let (status, _) = server.call("POST", "/v1/leads", Some(json!({"phone": "+79167770000"})));
    assert_eq!(status, 201);

    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !(seen.contains("event: lead.accepted") && seen.contains("event: operator.state"))
        && std::time::Instant::now() < until
    {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen += &String::from_utf8_lossy(&buf[..n]),
        }
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(seen.contains("event: operator.state"), "{seen}");
    assert!(
        seen.contains("event: lead.accepted") && seen.contains("+79167770000"),
        "{seen}"
    );

    // The gauges of the queue.
    let (_, text) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert!(
        text.contains("predial_leads_open{campaign=\"default\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("predial_oldest_due_lead_lag_seconds"),
        "{text}"
    );
    assert!(
        text.contains("predial_answer_rate{window=\"1h\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("predial_abandon_rate{window=\"24h\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("predial_operators{state=\"paused\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("predial_trunk_up{trunk=\"sipp\"} 1"),
        "serve's engine has the trunk up: {text}"
    );
    drop(stream);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_event_stream_follows_calls_of_an_engine() {
    let data = temp_dir("follow");
    let server = Server::start(&data, None);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        server.token
    )
    .unwrap();

    // Another process dials through SIPp into the same store.
    let sipp = super::peers::Peer::sipp_uas("uas-population.xml", &[]);
    super::peers::dial_into(&data, &sipp, "+74951110007\n", &[]);
    sipp.finish();

    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let until = std::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains("event: call.ended") && std::time::Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen += &String::from_utf8_lossy(&buf[..n]),
        }
    }
    assert!(seen.contains("event: call.started"), "{seen}");
    assert!(seen.contains("event: call.ended"), "{seen}");
    assert!(seen.contains("invalid_number"), "{seen}");
    drop(stream);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

/// Runs SIPp's REGISTER scenario against predial's registrar once; true when SIPp saw what it
/// expected.
pub fn sipp_register(scenario: &str, registrar: SocketAddr, user: &str, password: &str) -> bool {
    super::peers::sipp_once(
        scenario,
        registrar,
        &format!("{user};{password};127.0.0.1:5999"),
    )
}

#[test]
fn softphones_register_with_digest_and_strangers_are_refused() {
    let data = temp_dir("registrar");
    // A static account too, from sip-profiles/operators.toml.
    let profiles = data.join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("operators.toml"),
        "[[operator]]\nlogin = \"1001\"\nname = \"Boris\"\ngroup = \"night\"\npassword = \"static-pass-1\"\n",
    )
    .unwrap();
    let server = Server::start_with(&data, None, &["--profiles", profiles.to_str().unwrap()]);
    assert!(sipp_register(
        "uac-register.xml",
        server.sip,
        "1001",
        "static-pass-1"
    ));
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, v) = server.call("GET", "/v1/operators", None);
        let boris = v["operators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["login"] == "1001")
            .cloned()
            .expect("the static operator is listed");
        assert_eq!(boris["group"], "night");
        if boris["state"] == "ready" || std::time::Instant::now() > until {
            assert_eq!(boris["state"], "ready", "{boris}");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, v) = server.call(
        "POST",
        "/v1/operators",
        Some(json!({"login": "ann", "password": "s3cret-pass", "skills": ["default"]})),
    );
    assert_eq!(status, 201, "{v}");

    // A wrong password and an unknown user get the same 403; the operator stays logged out.
    assert!(sipp_register(
        "uac-register-refused.xml",
        server.sip,
        "ann",
        "wrong-pass"
    ));
    assert!(sipp_register(
        "uac-register-refused.xml",
        server.sip,
        "nobody",
        "whatever1"
    ));
    std::thread::sleep(Duration::from_millis(800));
    let ann = |v: &Value| {
        v["operators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["login"] == "ann")
            .cloned()
            .unwrap()
    };
    let (_, v) = server.call("GET", "/v1/operators", None);
    assert_eq!(ann(&v)["state"], "logged_out", "{v}");

    // The right one registers (MD5 digest, as SIPp answers) and logs the operator in.
    assert!(sipp_register(
        "uac-register.xml",
        server.sip,
        "ann",
        "s3cret-pass"
    ));
    let until = std::time::Instant::now() + Duration::from_secs(5);
    let mut state = Value::Null;
    while std::time::Instant::now() < until {
        let (_, v) = server.call("GET", "/v1/operators", None);
        state = ann(&v)["state"].clone();
        if state == "ready" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        state, "ready",
        "a registered softphone logs its operator in"
    );

    // An INVITE from anyone to an outside number never reaches a trunk: refused.
    let sipp_uac = Command::new("sipp")
        .args(["-sn", "uac", "-s", "74951110000", &server.sip.to_string()])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &super::peers::free_port().to_string(),
        ])
        .args(["-m", "1", "-nostdin", "-timeout", "10s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!sipp_uac.success(), "SIPp's call was refused, not answered");

    // Five failures from one address: even the right password is refused for a while.
    for _ in 0..5 {
        sipp_register("uac-register-refused.xml", server.sip, "ann", "wrong-pass");
    }
    assert!(
        !sipp_register("uac-register.xml", server.sip, "ann", "s3cret-pass"),
        "the address is blocked"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

//! The API as it faces the Internet, against `predial serve`: bodies bounded as they stream,
//! tokens that expire and are revoked, the audit log, operators deleted and given new
//! passwords, webhook URLs checked, a `/metrics` token, connection and idle limits, and 5xx
//! answers that carry an error id but not the cause.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Server, sipp_register, temp_dir};

/// Sends `head` (and `body`, as far as the server takes it) on a new connection and reads the
/// answer until the server closes: (status, body). Write errors are ignored: a server that
/// refuses a body may close before it is all sent.
fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn ndjson(n: usize, from: usize) -> String {
    (from..from + n)
        .map(|i| format!("{{\"phone\":\"+7926{i:07}\",\"order_id\":\"E-{i}\"}}\n"))
        .collect()
}

/// The body of a chunked request, in chunks of at most 8 KiB.
fn chunked(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in data.chunks(8192) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn bodies_past_their_limit_get_413_and_the_server_goes_on() {
    let data = temp_dir("edge-bodies");
    let server = Server::start_with(
        &data,
        None,
        &["--bulk-body-limit", "65536", "--body-limit", "4096"],
    );
    let addr = server.addr();
    let token = server.token().to_string();
    let big = ndjson(2_000, 0);
    assert!(big.len() > 65536);

    // Declared too long: refused before the body is read.
    let head = format!(
        "POST /v1/leads:bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    let (status, body) = raw(addr, &head, b"");
    assert_eq!(status, 413, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "too_large", "{v}");
    assert!(v["message"].as_str().unwrap().contains("65536"), "{v}");
    assert!(v["field"].is_null(), "{v}");

    // No length declared (chunked): counted as it streams, refused past the limit.
    let head = format!(
        "POST /v1/leads:bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let (status, body) = raw(addr, &head, &chunked(big.as_bytes()));
    assert_eq!(status, 413, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "too_large", "{v}");
    assert!(v["message"].as_str().unwrap().contains("65536"), "{v}");

    // Other bodies have their own, smaller limit (a JSON array of leads counts as bulk).
    let padding = "x".repeat(5000);
    let lead = json!({"phone": "+79261111111", "name": padding}).to_string();
    let head = format!(
        "POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        lead.len()
    );
    let (status, body) = raw(addr, &head, lead.as_bytes());
    assert_eq!(status, 413, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "too_large", "{v}");
    assert!(v["message"].as_str().unwrap().contains("4096"), "{v}");
    let head = format!(
        "POST /v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let (status, body) = raw(addr, &head, &chunked(lead.as_bytes()));
    assert_eq!(status, 413, "{body}");

    // The server goes on: a bulk upload within the limit is taken whole.
    let (status, body) = server
        .try_call(
            "POST",
            "/v1/leads:bulk",
            Some(&token),
            Some(("application/x-ndjson", ndjson(100, 5_000).as_bytes())),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["accepted"], 100, "{v}");
    let (status, _) = server.try_call("GET", "/health", None, None).unwrap();
    assert_eq!(status, 200);
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn webhook_urls_must_be_public_https_unless_allowed() {
    let data = temp_dir("edge-webhook");
    let server = Server::start(&data, None);
    for url in [
        "http://127.0.0.1/",
        "https://127.0.0.1/",
        "https://10.0.0.7/crm",
        "https://[::1]/",
        "https://[fd00::1]/",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://localhost:8443/",
        "http://crm.example.com/",
        "ftp://crm.example.com/",
    ] {
        let (status, v) = server.call("PUT", "/v1/webhook", Some(json!({"url": url})));
        assert_eq!(status, 422, "{url}: {v}");
        assert_eq!(v["error"], "invalid_webhook_url", "{url}: {v}");
        assert_eq!(v["field"], "url", "{url}: {v}");
    }
    let (_, v) = server.call("GET", "/v1/webhook", None);
    assert!(v["url"].is_null(), "nothing refused was kept: {v}");

    // A public https URL is taken; the credentials in it are never shown back.
    let (status, v) = server.call(
        "PUT",
        "/v1/webhook",
        Some(json!({"url": "https://crm:pa55word@crm.example.com/hooks"})),
    );
    assert_eq!(status, 200, "{v}");
    assert!(!v.to_string().contains("pa55word"), "{v}");
    assert_eq!(v["url"], "https://***@crm.example.com/hooks");
    let (_, v) = server.call("GET", "/v1/webhook", None);
    assert_eq!(v["url"], "https://***@crm.example.com/hooks", "{v}");
    let (_, audit) = server.call("GET", "/v1/audit", None);
    assert!(!audit.to_string().contains("pa55word"), "{audit}");
    server.stop();

    // An on-site CRM: http and private addresses allowed by serve's settings.
    let server = Server::start_with(
        &data,
        None,
        &["--webhook-allow-http", "--webhook-allow-private"],
    );
    let (status, v) = server.call(
        "PUT",
        "/v1/webhook",
        Some(json!({"url": "http://127.0.0.1/"})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["url"], "http://127.0.0.1/");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_stored_webhook_url_is_judged_again_at_delivery() {
    let data = temp_dir("edge-delivery");
    let port = super::peers::free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let server = Server::start_with(
        &data,
        None,
        &["--webhook-allow-http", "--webhook-allow-private"],
    );
    let (status, v) = server.call("PUT", "/v1/webhook", Some(json!({"url": url})));
    assert_eq!(status, 200, "{v}");
    server.stop();

    // Private addresses no longer allowed: the notification is not posted, and the outbox
    // says why.
    let server = Server::start_with(
        &data,
        None,
        &["--webhook-allow-http", "--webhook-retry-s", "0.2"],
    );
    let (status, v) = server.call("POST", "/v1/leads", Some(json!({"phone": "+79161239999"})));
    assert_eq!(status, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (status, _) = server.call("POST", &format!("/v1/leads/{id}/cancel"), None);
    assert_eq!(status, 200);
    let until = Instant::now() + Duration::from_secs(10);
    let outbox = loop {
        let (_, v) = server.call("GET", "/v1/webhook", None);
        if v["outbox"]["last_error"].is_string() || Instant::now() > until {
            break v["outbox"].clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let why = outbox["last_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("refused") && why.contains("127.0.0.1"),
        "{outbox}"
    );
    assert_eq!(outbox["delivered"], 0, "{outbox}");
    assert_eq!(outbox["backlog"], 1, "{outbox}");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

/// Polls `GET path` with `token` until it answers `status` (at most 10 s); the last answer.
fn until_status(server: &Server, token: &str, path: &str, status: u16) -> (u16, Value) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (got, v) = server.call_as(token, "GET", path, None);
        if got == status || Instant::now() > until {
            return (got, v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tokens_expire_and_are_revoked_and_admin_actions_are_audited() {
    let data = temp_dir("edge-tokens");
    tokens_and_audit(&data, None);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn tokens_expire_and_are_revoked_and_admin_actions_are_audited_on_postgres() {
    let db = super::api::PgDatabase::new("edge_tokens");
    let data = temp_dir("edge-tokens-pg");
    tokens_and_audit(&data, Some(&db.url));
    let _ = std::fs::remove_dir_all(&data);
}

fn tokens_and_audit(data: &std::path::Path, database: Option<&str>) {
    let server = Server::start(data, database);
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "wallboard", "scopes": ["reports:read"], "expires_in_s": 3600})),
    );
    assert_eq!(status, 201, "{v}");
    let reader = v["token"].as_str().unwrap().to_string();
    let reader_id = v["id"].as_i64().unwrap();
    assert!(v["expires_ms"].as_i64().unwrap() > 0, "{v}");
    let (status, _) = server.call_as(&reader, "GET", "/v1/campaigns", None);
    assert_eq!(status, 200);

    // Listed without the secret, with its expiry and last use.
    let (status, v) = server.call("GET", "/v1/tokens", None);
    assert_eq!(status, 200, "{v}");
    assert!(!v.to_string().contains(&reader), "no secret listed: {v}");
    let listed = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == reader_id)
        .cloned()
        .expect("the token is listed");
    assert_eq!(listed["name"], "wallboard");
    assert_eq!(listed["scopes"], json!(["reports:read"]));
    assert_eq!(listed["expired"], false);
    assert!(listed["last_used_ms"].is_i64(), "{listed}");
    let (status, _) = server.call_as(&reader, "GET", "/v1/tokens", None);
    assert_eq!(status, 403, "listing tokens is for admins");

    // Revoked: refused at once; revoking again is 404.
    let (status, _) = server.call("DELETE", &format!("/v1/tokens/{reader_id}"), None);
    assert_eq!(status, 204);
    let (status, v) = server.call_as(&reader, "GET", "/v1/campaigns", None);
    assert_eq!(
        (status, v["error"].as_str()),
        (401, Some("unauthorized")),
        "{v}"
    );
    let (status, v) = server.call("DELETE", &format!("/v1/tokens/{reader_id}"), None);
    assert_eq!(
        (status, v["error"].as_str()),
        (404, Some("not_found")),
        "{v}"
    );

    // Bad expiries are refused with their field.
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "x", "scopes": ["leads:write"], "expires_at": "2001-01-01T00:00:00Z"})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("expires_at")),
        "{v}"
    );
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "x", "scopes": ["leads:write"], "expires_in_s": 0})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("expires_in_s")),
        "{v}"
    );

    // A token that expires in a second: refused once it has, and listed as expired.
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "short-lived", "scopes": ["reports:read"], "expires_in_s": 1})),
    );
    assert_eq!(status, 201, "{v}");
    let short_lived = v["token"].as_str().unwrap().to_string();
    let short_id = v["id"].as_i64().unwrap();
    let (status, v) = until_status(&server, &short_lived, "/v1/campaigns", 401);
    assert_eq!(status, 401, "{v}");
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    let (_, v) = server.call("GET", "/v1/tokens", None);
    let listed = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == short_id)
        .cloned()
        .unwrap();
    assert_eq!(listed["expired"], true, "{listed}");

    // Every admin action of the test, by the admin token, newest first.
    let (status, v) = server.call("POST", "/v1/campaigns", Some(json!({"name": "audited"})));
    assert_eq!(status, 201, "{v}");
    let (status, v) = server.call("GET", "/v1/audit", None);
    assert_eq!(status, 200, "{v}");
    let actions: Vec<(&str, Option<&str>)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str()))
        .collect();
    let reader_target = reader_id.to_string();
    let short_target = short_id.to_string();
    assert_eq!(
        actions,
        vec![
            ("campaign.create", Some("audited")),
            ("token.create", Some(short_target.as_str())),
            ("token.revoke", Some(reader_target.as_str())),
            ("token.create", Some(reader_target.as_str())),
        ],
        "{v}"
    );
    assert!(
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "admin" && e["at_ms"].is_i64())
    );
    server.stop();

    // After a restart the revoked token stays refused, the expired one too, and the log and
    // the expiry are kept.
    let server = Server::start(data, database);
    let (status, _) = server.call_as(&reader, "GET", "/v1/campaigns", None);
    assert_eq!(status, 401);
    let (status, v) = server.call_as(&short_lived, "GET", "/v1/campaigns", None);
    assert_eq!(status, 401, "{v}");
    let (_, v) = server.call("GET", "/v1/audit", None);
    assert_eq!(v["entries"].as_array().unwrap().len(), 4, "{v}");
    server.stop();
}

#[test]
fn operators_get_new_passwords_and_are_deleted() {
    let data = temp_dir("edge-operators");
    let server = Server::start(&data, None);
    let (status, v) = server.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "supervisor", "scopes": ["admin"]})),
    );
    assert_eq!(status, 201, "{v}");
    let supervisor = v["token"].as_str().unwrap().to_string();
    let supervisor_id = v["id"].as_i64().unwrap();
    let (status, v) = server.call_as(
        &supervisor,
        "POST",
        "/v1/operators",
        Some(json!({"login": "eve", "password": "first-pass-1"})),
    );
    assert_eq!(status, 201, "{v}");
    assert!(sipp_register(
        "uac-register.xml",
        server.sip,
        "eve",
        "first-pass-1"
    ));

    let (status, v) = server.call_as(
        &supervisor,
        "PUT",
        "/v1/operators/eve/password",
        Some(json!({"password": "short"})),
    );
    assert_eq!(
        (status, v["field"].as_str()),
        (422, Some("password")),
        "{v}"
    );
    let (status, _) = server.call_as(
        &supervisor,
        "PUT",
        "/v1/operators/eve/password",
        Some(json!({"password": "second-pass-2"})),
    );
    assert_eq!(status, 204);
    let (status, _) = server.call(
        "PUT",
        "/v1/operators/nobody/password",
        Some(json!({"password": "second-pass-2"})),
    );
    assert_eq!(status, 404);
    assert!(sipp_register(
        "uac-register-refused.xml",
        server.sip,
        "eve",
        "first-pass-1"
    ));
    assert!(sipp_register(
        "uac-register.xml",
        server.sip,
        "eve",
        "second-pass-2"
    ));

    let (status, _) = server.call_as(&supervisor, "DELETE", "/v1/operators/eve", None);
    assert_eq!(status, 204);
    let (status, _) = server.call("DELETE", "/v1/operators/eve", None);
    assert_eq!(status, 404);
    let (_, v) = server.call("GET", "/v1/operators", None);
    assert!(
        v["operators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["login"] != "eve"),
        "{v}"
    );
    assert!(sipp_register(
        "uac-register-refused.xml",
        server.sip,
        "eve",
        "second-pass-2"
    ));

    // The audit log names the token that did each.
    let (_, v) = server.call("GET", "/v1/audit?limit=10", None);
    let by_supervisor: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "supervisor" && e["token_id"] == supervisor_id)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        by_supervisor,
        vec!["operator.delete", "operator.password", "operator.create"],
        "{v}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn metrics_need_the_metrics_token_when_one_is_set() {
    let data = temp_dir("edge-metrics");
    let secret = "metrics-secret-0123456789";
    let server = Server::start_with(&data, None, &["--metrics-token", secret]);
    let (status, body) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, _) = server
        .try_call("GET", "/metrics", Some("metrics-secret-012345678"), None)
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = server
        .try_call("GET", "/metrics", Some(server.token()), None)
        .unwrap();
    assert_eq!(status, 401, "the admin token is not the metrics token");
    let (status, text) = server
        .try_call("GET", "/metrics", Some(secret), None)
        .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("predial_operators"), "{text}");
    let (status, _) = server.try_call("GET", "/health", None, None).unwrap();
    assert_eq!(status, 200, "/health stays open");
    let (status, doc) = server.try_call("GET", "/openapi.json", None, None).unwrap();
    assert_eq!(status, 200, "/openapi.json stays open");
    let doc: Value = serde_json::from_str(&doc).unwrap();
    for (path, method) in [
        ("/v1/tokens", "get"),
        ("/v1/tokens/{id}", "delete"),
        ("/v1/audit", "get"),
        ("/v1/operators/{login}", "delete"),
        ("/v1/operators/{login}/password", "put"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} {method}");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"]["properties"]["error_id"].is_object());
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn connections_past_the_cap_get_503_stalled_requests_408_and_idle_ones_are_closed() {
    let data = temp_dir("edge-conns");
    let server = Server::start_with(&data, None, &["--max-connections", "2"]);
    let addr = server.addr();
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap())
        .collect();
    let (status, body) = raw(addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", b"");
    assert_ne!(status, 200, "a third connection is not served: {body}");
    drop(held);
    let until = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    while status != 200 && Instant::now() < until {
        status = server
            .try_call("GET", "/health", None, None)
            .map_or(0, |(s, _)| s);
        if status != 200 {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_eq!(status, 200, "served again once the held connections closed");
    let (_, text) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert!(
        text.contains("predial_http_connections_refused_total"),
        "{text}"
    );
    server.stop();

    // A request whose body stalls gets 408 at the request timeout; the idle timeout, shorter,
    // does not cut it while it is in progress. A connection with nothing going on is closed.
    let server = Server::start_with(
        &data,
        None,
        &["--idle-timeout-s", "1", "--request-timeout-s", "2"],
    );
    let head = format!(
        "POST /v1/leads:bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n",
        server.token()
    );
    let (status, body) = raw(server.addr(), &head, b"{\"phone\":");
    assert_eq!(status, 408, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "timeout", "{v}");
    let mut idle = TcpStream::connect_timeout(&server.addr(), Duration::from_secs(2)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let closed = matches!(idle.read(&mut byte), Ok(0) | Err(_));
    assert!(
        closed && started.elapsed() < Duration::from_secs(20),
        "the server closed the idle connection"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_failure_inside_answers_an_error_id_and_logs_the_cause() {
    let data = temp_dir("edge-5xx");
    let server = Server::start(&data, None);
    let (status, _) = server.call("GET", "/v1/missed-calls", None);
    assert_eq!(status, 200);
    // The store fails under the service: a table it reads is dropped.
    let db = data.join("predial.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        sqlx::query("DROP TABLE missed_calls")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let (status, v) = server.call("GET", "/v1/missed-calls", None);
    assert!((500..600).contains(&status), "{status} {v}");
    let id = v["error_id"].as_str().expect("an error id").to_string();
    assert!(id.len() >= 16, "{v}");
    let text = v.to_string();
    assert!(
        !text.contains("missed_calls")
            && !text.contains("no such table")
            && !text.contains("database"),
        "nothing of the cause is answered: {v}"
    );
    let (_, again) = server.call("GET", "/v1/missed-calls", None);
    assert_ne!(again["error_id"], v["error_id"], "each failure its own id");
    server.stop();
    let log = std::fs::read_to_string(data.join("serve.log")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("the log names {id}: {log}"));
    assert!(
        line.contains("missed_calls"),
        "the log has the cause: {line}"
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn tokens_made_and_revoked_by_one_process_count_in_another_on_the_same_store() {
    let data = temp_dir("edge-two");
    let db = super::api::PgDatabase::new("edge_two");
    let one = Server::start(&data, Some(&db.url));
    let two = Server::start(&data, Some(&db.url));
    let (status, v) = one.call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "crm", "scopes": ["reports:read"]})),
    );
    assert_eq!(status, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let id = v["id"].as_i64().unwrap();
    let (status, v) = until_status(&two, &token, "/v1/campaigns", 200);
    assert_eq!(status, 200, "the other process takes the new token: {v}");
    let (status, _) = one.call("DELETE", &format!("/v1/tokens/{id}"), None);
    assert_eq!(status, 204);
    let (status, _) = one.call_as(&token, "GET", "/v1/campaigns", None);
    assert_eq!(status, 401, "refused at once where it was revoked");
    let (status, v) = until_status(&two, &token, "/v1/campaigns", 401);
    assert_eq!(status, 401, "and soon by the other: {v}");
    one.stop();
    two.stop();
    let _ = std::fs::remove_dir_all(&data);
}

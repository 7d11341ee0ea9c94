//! Webhooks against a local HTTP receiver that is down, then fails, then works: every
//! notification arrives signed, at least once, across a restart of predial; the engine's calls
//! (through SIPp) produce them too.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api::{Server, temp_dir};
use super::peers::{Peer, free_port};

/// What the receiver got: (event, delivery key, body) of each request it answered 2xx, and how
/// many it refused.
#[derive(Default)]
struct Received {
    ok: Vec<(String, String, Value)>,
    refused: usize,
    bad_signatures: usize,
}

pub struct Receiver {
    got: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Listens on `port`; the first `fail` requests get 500.
    pub fn start(port: u16, secret: &str, fail: usize) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let got = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s, secret) = (got.clone(), stop.clone(), secret.to_string());
        let seen = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(120);
            while !s.load(Ordering::Relaxed) && Instant::now() < until {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let Some((headers, body)) = read_request(&mut conn) else {
                    continue;
                };
                let n = seen.fetch_add(1, Ordering::Relaxed);
                let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
                let ts: i64 = header("x-predial-timestamp").parse().unwrap_or(0);
                let good = header("x-predial-signature")
                    == predial::webhooks::signature(&secret, ts, &body);
                let mut r = g.lock().unwrap();
                if !good {
                    r.bad_signatures += 1;
                }
                let status = if n < fail {
                    r.refused += 1;
                    "500 Internal Server Error"
                } else {
                    r.ok.push((
                        header("x-predial-event"),
                        header("x-predial-delivery"),
                        serde_json::from_slice(&body).unwrap_or(Value::Null),
                    ));
                    "200 OK"
                };
                drop(r);
                let _ = conn.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Receiver {
            got,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits (bounded) until `n` distinct notifications have arrived.
    pub fn wait_for(&self, n: usize) -> Vec<(String, String, Value)> {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self.got.lock().unwrap().ok.clone();
            let distinct: std::collections::HashSet<_> = ok.iter().map(|o| o.1.clone()).collect();
            if distinct.len() >= n || Instant::now() > until {
                return ok;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(conn: &mut std::net::TcpStream) -> Option<(HashMap<String, String>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((headers, buf[head_end..].to_vec()))
}

const SECRET: &str = "a-secret-of-the-shop-0123456789";

#[test]
fn notifications_arrive_signed_at_least_once_across_a_restart() {
    notifications(None);
}

#[test]
fn notifications_arrive_signed_at_least_once_with_postgres() {
    let db = super::api::PgDatabase::new("webhooks");
    notifications(Some(&db.url));
}

fn notifications(database: Option<&str>) {
    let data = temp_dir("webhooks");
    let port = free_port();
    let server = Server::start_with(
        &data,
        database,
        &[
            "--webhook-retry-s",
            "0.2",
            "--webhook-allow-http",
            "--webhook-allow-private",
        ],
    );
    let (status, v) = server.call(
        "PUT",
        "/v1/webhook",
        Some(json!({"url": format!("http://127.0.0.1:{port}/hooks/predial"), "secret": SECRET})),
    );
    assert_eq!(status, 200, "{v}");
    let (status, v) = server.call("PUT", "/v1/webhook", Some(json!({"url": "ftp://x"})));
    assert_eq!((status, v["field"].as_str()), (422, Some("url")), "{v}");

    // The CRM is down: two leads are cancelled, their notifications wait in the outbox.
    let mut ids = Vec::new();
    for phone in ["+79161230001", "+79161230002"] {
        let (status, v) = server.call("POST", "/v1/leads", Some(json!({"phone": phone})));
        assert_eq!(status, 201, "{v}");
        let id = v["id"].as_i64().unwrap();
        assert_eq!(
            server
                .call("POST", &format!("/v1/leads/{id}/cancel"), None)
                .0,
            200
        );
        ids.push(id);
    }
    std::thread::sleep(Duration::from_millis(800));
    let (_, v) = server.call("GET", "/v1/webhook", None);
    assert_eq!(v["outbox"]["backlog"], 2, "{v}");
    assert_eq!(v["outbox"]["delivered"], 0, "{v}");
    server.stop();

    // The engine's calls add theirs while the service is stopped.
    let sipp = Peer::sipp_uas("uas-population.xml", &[]);
    let extra = database
        .map(|db| vec!["--database", db])
        .unwrap_or_default();
    super::peers::dial_into(&data, &sipp, "+74951110007,W-1\n", &extra);
    sipp.finish();

    // The CRM comes back and fails three times more; predial restarts and delivers all four.
    let receiver = Receiver::start(port, SECRET, 3);
    let server = Server::start_with(
        &data,
        database,
        &[
            "--webhook-retry-s",
            "0.2",
            "--webhook-allow-http",
            "--webhook-allow-private",
        ],
    );
    let got = receiver.wait_for(4);
    let keys: std::collections::BTreeSet<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert!(
        keys.contains(format!("lead.closed:{}", ids[0]).as_str()),
        "{keys:?}"
    );
    assert!(
        keys.contains(format!("lead.closed:{}", ids[1]).as_str()),
        "{keys:?}"
    );
    let call = got
        .iter()
        .find(|g| g.0 == "call.ended")
        .expect("a call.ended notification");
    assert_eq!(call.2["data"]["outcome"], "invalid_number", "{}", call.2);
    assert_eq!(call.2["data"]["sip_code"], 404);
    assert_eq!(call.2["id"], call.1, "the body carries the idempotency key");
    let closed = got
        .iter()
        .find(|g| g.0 == "lead.closed" && g.2["data"]["phone"] == "+74951110007")
        .expect("the dialled lead's closing");
    assert_eq!(closed.2["data"]["state"], "done");
    assert_eq!(keys.len(), 4, "{keys:?}");
    {
        let r = receiver.got.lock().unwrap();
        assert_eq!(r.refused, 3);
        assert_eq!(
            r.bad_signatures, 0,
            "every request was signed with the secret"
        );
    }
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = server.call("GET", "/v1/webhook", None);
        if v["outbox"]["delivered"] == 4 || Instant::now() > until {
            assert_eq!(v["outbox"]["delivered"], 4, "{v}");
            assert_eq!(v["outbox"]["backlog"], 0, "{v}");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, metrics) = server.try_call("GET", "/metrics", None, None).unwrap();
    assert!(metrics.contains("predial_webhook_backlog"), "{metrics}");
    server.stop();
    let _ = std::fs::remove_dir_all(&data);
}

//! Who a request is: its bearer token looked up by SHA-256 among the admin token and the
//! stored ones, refused when unknown or expired; the token's scopes and name go with the
//! request (`Scopes`, `Caller`), and its last use is noted (in the store at most once a minute).
//! The stored tokens are read again every few seconds, so tokens made or revoked by another
//! process on the same store count here too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::{AppState, Scope, Scopes, sha256_hex};
use crate::store::tokens::StoredToken;

/// The last use is written to the store when it moved on by this much.
const TOUCH_EVERY_MS: i64 = 60_000;
/// How often the stored tokens are read again.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Counts the entries made by this process, so a reading of the store knows which came after
/// it began.
static ADDED: AtomicU64 = AtomicU64::new(0);

/// A token the service knows.
#[derive(Debug)]
pub struct TokenEntry {
    /// The stored token's id; none for the admin token.
    pub id: Option<i64>,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_ms: Option<i64>,
    /// When this process last saw it used (0: not yet).
    pub last_used_ms: AtomicI64,
    /// When that was last written to the store.
    stored_use_ms: AtomicI64,
    /// Revoked by this process: refused until the store's reading drops it.
    pub revoked: AtomicBool,
    /// Its place in the order of entries made by this process.
    added: u64,
}

impl TokenEntry {
    pub fn admin() -> TokenEntry {
        TokenEntry::new(None, "admin", vec![Scope::Admin], None, None)
    }

    pub fn new(
        id: Option<i64>,
        name: &str,
        scopes: Vec<Scope>,
        expires_ms: Option<i64>,
        last_used_ms: Option<i64>,
    ) -> TokenEntry {
        let used = last_used_ms.unwrap_or(0);
        TokenEntry {
            id,
            name: name.to_string(),
            scopes,
            expires_ms,
            last_used_ms: AtomicI64::new(used),
            stored_use_ms: AtomicI64::new(used),
            revoked: AtomicBool::new(false),
            added: ADDED.fetch_add(1, Ordering::Relaxed),
        }
    }

    pub fn stored(t: &StoredToken) -> TokenEntry {
        let scopes = t
            .scopes
            .split_whitespace()
            .filter_map(Scope::parse)
            .collect();
        TokenEntry::new(Some(t.id), &t.name, scopes, t.expires_ms, t.last_used_ms)
    }
}

/// SHA-256 (hex) of each token, with what it is.
pub type Tokens = Arc<RwLock<HashMap<String, Arc<TokenEntry>>>>;

/// Who made the request: the token's name and id (none: the admin token).
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub token_id: Option<i64>,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Middleware of `/v1/`: the bearer token known and not expired, else 401.
pub async fn authenticate(
    State(st): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token else {
        return Err(unauthorized(
            "send Authorization: Bearer TOKEN (the admin token is in DATA/admin.token)",
        ));
    };
    let entry = st
        .tokens
        .read()
        .ok()
        .and_then(|t| t.get(&sha256_hex(token)).cloned());
    let Some(entry) = entry.filter(|e| !e.revoked.load(Ordering::Relaxed)) else {
        return Err(unauthorized("the token is not known (or was revoked)"));
    };
    let now = crate::store::now_ms();
    if let Some(at) = entry.expires_ms
        && at <= now
    {
        let when = chrono::DateTime::from_timestamp_millis(at)
            .map_or_else(|| at.to_string(), |t| t.to_rfc3339());
        return Err(unauthorized(&format!(
            "the token expired at {when}: ask the admin for a new one"
        )));
    }
    note_use(&st, &entry, now);
    req.extensions_mut().insert(Scopes(entry.scopes.clone()));
    req.extensions_mut().insert(Caller {
        name: entry.name.clone(),
        token_id: entry.id,
    });
    Ok(next.run(req).await)
}

/// Notes the use in memory, and in the store when the stored one is a minute old.
fn note_use(st: &AppState, entry: &TokenEntry, now: i64) {
    entry.last_used_ms.store(now, Ordering::Relaxed);
    let Some(id) = entry.id else { return };
    let stored = entry.stored_use_ms.load(Ordering::Relaxed);
    if now - stored < TOUCH_EVERY_MS
        || entry
            .stored_use_ms
            .compare_exchange(stored, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let store = st.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.touch_api_token(id, now).await {
            tracing::warn!(token = id, error = %e, "cannot note a token's last use");
        }
    });
}

/// The tokens of a starting service: the admin's and the stored ones.
pub async fn load(
    store: &crate::store::Store,
    admin: &str,
) -> Result<Tokens, crate::store::StoreError> {
    let mut tokens = HashMap::new();
    tokens.insert(sha256_hex(admin), Arc::new(TokenEntry::admin()));
    for t in store.api_tokens().await? {
        tokens.insert(t.sha256.clone(), Arc::new(TokenEntry::stored(&t)));
    }
    Ok(Arc::new(RwLock::new(tokens)))
}

/// Reads the stored tokens again, for as long as the process runs: tokens stored by another
/// process are added, tokens deleted from the store are dropped. Entries made here after a
/// reading began are kept; a token revoked here stays refused.
pub async fn refresh_forever(store: crate::store::Store, tokens: Tokens) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let before = ADDED.load(Ordering::Relaxed);
        let stored = match store.api_tokens().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tokens again");
                continue;
            }
        };
        let Ok(mut map) = tokens.write() else { return };
        let known: std::collections::HashSet<&str> =
            stored.iter().map(|t| t.sha256.as_str()).collect();
        map.retain(|hash, e| e.id.is_none() || e.added >= before || known.contains(hash.as_str()));
        for t in &stored {
            if !map.contains_key(&t.sha256) {
                map.insert(t.sha256.clone(), Arc::new(TokenEntry::stored(t)));
            }
        }
    }
}

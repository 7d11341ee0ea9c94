//! predial's durable memory (`sqlx`): SQLite by default (a file in the data folder, WAL, nothing
//! to install), PostgreSQL with `--database postgres://...`. One schema, written once per
//! database in `migrations/sqlite/` and `migrations/postgres/`, with the same version numbers.
//!
//! Every query is written once, in SQL both databases read (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), and run on whichever pool this is by `on_pool!`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use thiserror::Error;

pub mod abandons;
pub mod audit;
pub mod campaigns;
pub mod dispositions;
pub mod folder;
pub mod journal;
pub mod leads;
pub mod missed;
pub mod operators;
pub mod recordings;
pub mod reports;
pub mod tokens;
pub mod webhooks;

/// Runs `$body` with `$p` bound to the pool, whichever database it is.
macro_rules! on_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($p) => $body,
            $crate::store::Db::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the database {0}: {1}")]
    Open(String, sqlx::Error),
    #[error("cannot bring the database's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Data(String),
}

/// The pool, of either database.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store: a pool with the schema in place.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
    /// What it is, for reports (`sqlite:PATH` or the PostgreSQL URL without its password).
    pub name: String,
}

impl Store {
    /// Opens `--database URL` when given (postgres://... or sqlite:PATH), else the SQLite file
    /// `DATA/predial.db`, and brings the schema up to date.
    pub async fn open(database: Option<&str>, data: &Path) -> Result<Store, StoreError> {
        match database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Store::open_postgres(url).await
            }
            Some(url) => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or(url.strip_prefix("sqlite:"));
                match path {
                    Some(p) => Store::open_sqlite(Path::new(p)).await,
                    None => Err(StoreError::Data(format!(
                        "--database {url}: give postgres://USER@HOST/NAME or sqlite:PATH"
                    ))),
                }
            }
            None => {
                folder::prepare(data).map_err(|e| {
                    StoreError::Data(format!(
                        "cannot create the data folder {}: {e}",
                        data.display()
                    ))
                })?;
                Store::open_sqlite(&data.join("predial.db")).await
            }
        }
    }

    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let name = format!("sqlite:{}", path.display());
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(name.clone(), e))?;
        migrator(SQLITE).run(&pool).await?;
        Ok(Store {
            db: Db::Sqlite(pool),
            name,
        })
    }

    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let name = without_password(url);
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Open(name.clone(), e))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(name.clone(), e))?;
        migrator(POSTGRES).run(&pool).await?;
        Ok(Store {
            db: Db::Postgres(pool),
            name,
        })
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(&self.db, |p| p.close().await)
    }
}

/// The migrations of one database: (version, description, SQL).
type Migrations = &'static [(i64, &'static str, &'static str)];

const SQLITE: Migrations = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "lead history",
        include_str!("../../migrations/sqlite/0002_lead_history.sql"),
    ),
    (
        3,
        "settings",
        include_str!("../../migrations/sqlite/0003_settings.sql"),
    ),
    (
        4,
        "operator state",
        include_str!("../../migrations/sqlite/0004_operator_state.sql"),
    ),
    (
        5,
        "missed calls",
        include_str!("../../migrations/sqlite/0005_missed_calls.sql"),
    ),
    (
        6,
        "pickup reminders",
        include_str!("../../migrations/sqlite/0006_pickup.sql"),
    ),
    (
        7,
        "token expiry",
        include_str!("../../migrations/sqlite/0007_token_expiry.sql"),
    ),
    (
        8,
        "audit log",
        include_str!("../../migrations/sqlite/0008_audit_log.sql"),
    ),
    (
        9,
        "abandon log",
        include_str!("../../migrations/sqlite/0009_abandon_log.sql"),
    ),
    (
        10,
        "inbound offers",
        include_str!("../../migrations/sqlite/0010_inbound_offers.sql"),
    ),
];
const POSTGRES: Migrations = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "lead history",
        include_str!("../../migrations/postgres/0002_lead_history.sql"),
    ),
    (
        3,
        "settings",
        include_str!("../../migrations/postgres/0003_settings.sql"),
    ),
    (
        4,
        "operator state",
        include_str!("../../migrations/postgres/0004_operator_state.sql"),
    ),
    (
        5,
        "missed calls",
        include_str!("../../migrations/postgres/0005_missed_calls.sql"),
    ),
    (
        6,
        "pickup reminders",
        include_str!("../../migrations/postgres/0006_pickup.sql"),
    ),
    (
        7,
        "token expiry",
        include_str!("../../migrations/postgres/0007_token_expiry.sql"),
    ),
    (
        8,
        "audit log",
        include_str!("../../migrations/postgres/0008_audit_log.sql"),
    ),
    (
        9,
        "abandon log",
        include_str!("../../migrations/postgres/0009_abandon_log.sql"),
    ),
    (
        10,
        "inbound offers",
        include_str!("../../migrations/postgres/0010_inbound_offers.sql"),
    ),
];

fn migrator(list: Migrations) -> Migrator {
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sqlx::SqlSafeStr::into_sql_str(sql),
                    false,
                )
            })
            .collect(),
    )
}

/// `postgres://user:secret@host/db` -> `postgres://user@host/db`.
fn without_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}@{host}");
    }
    url.to_string()
}

/// Now, UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_databases_have_the_same_migrations() {
        let a: Vec<_> = SQLITE.iter().map(|m| (m.0, m.1)).collect();
        let b: Vec<_> = POSTGRES.iter().map(|m| (m.0, m.1)).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn passwords_stay_out_of_reports() {
        assert_eq!(
            without_password("postgres://u:pw@127.0.0.1:5432/x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(without_password("postgres://u@h/x"), "postgres://u@h/x");
    }
}

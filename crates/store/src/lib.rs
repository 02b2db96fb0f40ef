//! npsc's database: versioned coefficient editions and an append-only audit log, on SQLite (an
//! embedded file, the default) or PostgreSQL (for shared deployments), chosen by URL.
//!
//! Brief overview:
//! - [`Store::open`]: connect, create the SQLite file if needed, apply the embedded migrations.
//! - [`editions`]: import a draft, publish, retire, list, load (hash-verified), resolve, export.
//! - [`registry`]: the enterprise registry with its status history; registry files imported
//!   as change sets.
//! - [`audit`]: the log of every write.
//! - [`check`]: the whole-database consistency check (`npsc db check`).
//! - [`runs`]: stored accounting runs, written in bulk and read back in pages by key.
//!
//! Invariants: queries are runtime-checked and written once for both backends (`$1` placeholders),
//! except a stored run's bulk rows: multi-row INSERTs with `?` on SQLite, `COPY` on PostgreSQL
//! (through a native pool; the `Any` driver has no `COPY`); every write is one transaction; published editions are immutable, enforced by the application
//! (conditional updates) and again by database triggers; only this crate knows SQL.

pub mod audit;
pub mod check;
#[cfg(test)]
mod check_tests;
mod copy;
pub mod editions;
pub mod reconciliations;
pub mod reference;
#[cfg(test)]
mod reference_tests;
pub mod registry;
#[cfg(test)]
mod registry_tests;
pub mod runs;
#[cfg(test)]
mod store_tests;
mod time;
pub mod tokens;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};

pub use time::now_utc;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://npsc.db";

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL is not a SQLite or PostgreSQL URL.
    #[error("unsupported database URL `{0}`: use `sqlite://FILE` or `postgres://…`")]
    BadUrl(String),
    /// Connecting failed.
    #[error("cannot open the database `{url}`: {source}")]
    Connect {
        /// The URL, without password.
        url: String,
        /// The cause.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the stored state (e.g. publishing a published edition).
    #[error("{0}")]
    Conflict(String),
    /// Stored data fails a check (e.g. a content hash that no longer matches).
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// A request that can never succeed (bad selector, missing revision note).
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether the error is the caller's (bad request, not found, conflict) rather than the
    /// system's.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::BadUrl(_)
                | StoreError::NotFound(_)
                | StoreError::Conflict(_)
                | StoreError::Invalid(_)
        )
    }
}

/// A connection pool to one database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// On PostgreSQL, a second (lazily connected) pool of native connections for what the
    /// `Any` driver cannot do: a stored run's bulk `COPY` ([`runs`]).
    pg: Option<sqlx::PgPool>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens (and for SQLite creates) the database at `url`, then applies pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating (for `npsc db migrate` and upgrade tests).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_url(url)?;
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|source| StoreError::Connect {
                url: redact(&url),
                source,
            })?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(std::time::Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(&url),
                source,
            })?;
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(std::time::Duration::from_secs(30))
                    .connect_lazy_with(
                        sqlx::postgres::PgConnectOptions::from_str(&url)
                            .map_err(|source| StoreError::Connect {
                                url: redact(&url),
                                source,
                            })?
                            .disable_statement_logging(),
                    ),
            ),
        };
        Ok(Store { pool, backend, pg })
    }

    /// The migrations embedded for this store's engine.
    pub(crate) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let migrator = self.migrator();
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator.run(&self.pool).await?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The native PostgreSQL pool, on PostgreSQL.
    pub(crate) fn pg(&self) -> Option<&sqlx::PgPool> {
        self.pg.as_ref()
    }

    /// Closes all connections.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(pg) = &self.pg {
            pg.close().await;
        }
    }
}

/// Accepts `sqlite://FILE`, `sqlite:FILE`, a bare file path (taken as SQLite), and
/// `postgres://` / `postgresql://` URLs. SQLite files are created on first use.
fn normalize_url(url: &str) -> Result<(Backend, String), StoreError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") || url.is_empty() {
        return Err(StoreError::BadUrl(url.to_string()));
    } else {
        url
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    let path = if path.contains("mode=") {
        path.to_string()
    } else {
        format!("{path}{separator}mode=rwc")
    };
    Ok((Backend::Sqlite, format!("sqlite://{path}")))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            normalize_url("npsc.db").unwrap(),
            (Backend::Sqlite, "sqlite://npsc.db?mode=rwc".to_string())
        );
        assert_eq!(
            normalize_url("sqlite://a/b.db").unwrap().1,
            "sqlite://a/b.db?mode=rwc"
        );
        assert_eq!(
            normalize_url("sqlite::memory:").unwrap().1,
            "sqlite://:memory:?mode=rwc"
        );
        assert_eq!(
            normalize_url("postgres://u@h/d").unwrap().0,
            Backend::Postgres
        );
        assert!(normalize_url("mysql://x").is_err());
        assert_eq!(
            redact("postgres://user:secret@host/db"),
            "postgres://user:***@host/db"
        );
    }
}

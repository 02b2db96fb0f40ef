//! npsc's HTTP service: coefficient editions served to every consumer from one place, so that
//! statistics, permit and tax offices use the same numbers.
//!
//! [`router`] builds the whole API over an [`AppState`] (tests call it without a socket);
//! [`serve`] binds it, logs with tracing and shuts down gracefully on SIGINT/SIGTERM;
//! [`serve_with`] is its accept loop, with the timeouts and the connection limit of [`Limits`]
//! (slow and abandoned clients cannot exhaust the service). Only this
//! crate knows HTTP and the JSON shapes of the API; everything else is `app`.
//!
//! Published editions are immutable, so their responses carry a strong `ETag` (the content hash)
//! and `Cache-Control: public, max-age=31536000, immutable`, and `If-None-Match` gives 304; drafts
//! and `latest` are never cached as immutable.

pub(crate) mod error;
mod metrics;
mod routes;
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use accounting::coefficient::CoefficientSet;
use app::editions::Store;
use axum::Router;

pub use error::ApiError;
pub use server::{Limits, parse_connections, parse_seconds, serve_with};

/// How the service is configured (flags and `NPSC_*` environment, resolved by the caller).
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, `127.0.0.1:8080` by default.
    pub listen: SocketAddr,
    /// Database URL; several instances may share one PostgreSQL.
    pub database: String,
    /// Log as JSON lines instead of text.
    pub json_logs: bool,
    /// Whether published editions may be read without a token.
    pub anonymous_read: bool,
    /// Largest accepted upload in bytes.
    pub upload_limit_bytes: usize,
    /// Timeouts and the connection limit.
    pub limits: Limits,
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) reference: Arc<app::Reference>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Loaded published editions by content hash: they never change, so caching them is safe.
    pub(crate) editions: Arc<Mutex<HashMap<String, Arc<CoefficientSet>>>>,
    /// Rendered coefficient pages of immutable editions and shared edition look-ups.
    pub(crate) coefficients: Arc<routes::CoefficientCache>,
    /// Whether published editions may be read without a token (default: yes).
    pub anonymous_read: bool,
    /// Largest accepted upload (default 64 MiB); larger bodies get 413.
    pub upload_limit_bytes: usize,
    /// Timeouts and the connection limit ([`Limits::default`]); the request timeouts apply to
    /// the router itself, the others to [`serve_with`].
    pub limits: Limits,
    /// Permits for the unpaged exports (a run's whole results or totals as CSV), each held
    /// while its body streams: at most [`EXPORTS_AT_ONCE`] at a time, so that many readers
    /// asking for a large run at once cannot load the database with them; the others wait
    /// (within their read timeout).
    pub(crate) exports: Arc<tokio::sync::Semaphore>,
    /// Records per page of a streamed export ([`app::runs::EXPORT_PAGE`] by default): an
    /// export holds one page and its CSV at a time.
    pub export_page: u64,
}

/// How many unpaged exports stream at once.
pub const EXPORTS_AT_ONCE: usize = 2;

impl AppState {
    /// Opens the database (creating and migrating an embedded SQLite file on first use) and
    /// loads the bundled reference data.
    pub async fn open(database: &str) -> Result<AppState, app::AppError> {
        Ok(AppState {
            store: app::editions::open(database).await?,
            reference: Arc::new(app::reference::bundled()?),
            metrics: Arc::new(metrics::Metrics::default()),
            editions: Arc::new(Mutex::new(HashMap::new())),
            coefficients: Arc::default(),
            anonymous_read: true,
            upload_limit_bytes: 64 << 20,
            limits: Limits::default(),
            exports: Arc::new(tokio::sync::Semaphore::new(EXPORTS_AT_ONCE)),
            export_page: app::runs::EXPORT_PAGE,
        })
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// The OpenAPI 3 document of API v1 (pretty JSON), as served at `/openapi.json`.
pub fn openapi_json() -> String {
    routes::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Binds `config.listen` and serves until SIGINT or SIGTERM; in-flight requests finish.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    let mut state = AppState::open(&config.database)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    state.anonymous_read = config.anonymous_read;
    state.upload_limit_bytes = config.upload_limit_bytes;
    state.limits = config.limits;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let limits = &config.limits;
    tracing::info!(
        address = %listener.local_addr()?,
        database = %redact_password(&config.database),
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        read_timeout_s = limits.read_timeout.as_secs_f64(),
        write_timeout_s = limits.write_timeout.as_secs_f64(),
        send_timeout_s = limits.send_timeout.as_secs_f64(),
        max_connections = limits.max_connections,
        "npsc service listening"
    );
    serve_with(listener, state, shutdown_signal()).await?;
    tracing::info!("npsc service stopped");
    Ok(())
}

/// A database URL fit for a log: the password of `scheme://user:password@host/…` and the value
/// of a `password=` query parameter (PostgreSQL URLs may carry either) become `***`.
pub fn redact_password(url: &str) -> String {
    let mut out = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            out = format!("{scheme}://{user}:***@{host}{path}");
        }
    }
    if let Some((base, query)) = out.split_once('?') {
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{base}?{}", query.join("&"));
    }
    out
}

/// SIGINT or SIGTERM. The handlers are installed when this is called, not when the future is
/// first polled: a signal that arrives while the accept loop is busy must not kill the process
/// the default way (no graceful shutdown, exit by signal).
fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut terminate, mut interrupt) = handlers;
            let terminate = async {
                match terminate.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = terminate => {},
                () = interrupt => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

/// Starts logging (text or JSON lines; `NPSC_LOG` or `RUST_LOG` filter, `info` by default).
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NPSC_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Configuration from the environment: `NPSC_LISTEN`, `NPSC_DATABASE_URL`, `NPSC_LOG_FORMAT`,
/// `NPSC_ANONYMOUS_READ`, `NPSC_UPLOAD_LIMIT_MB` and the limits of [`Limits::from_env`].
pub fn config_from_env() -> anyhow::Result<Config> {
    let listen = std::env::var("NPSC_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_string());
    Ok(Config {
        listen: listen
            .parse()
            .map_err(|e| anyhow::anyhow!("NPSC_LISTEN `{listen}`: {e}"))?,
        database: std::env::var("NPSC_DATABASE_URL")
            .unwrap_or_else(|_| app::editions::DEFAULT_URL.to_string()),
        json_logs: std::env::var("NPSC_LOG_FORMAT").is_ok_and(|f| f == "json"),
        anonymous_read: std::env::var("NPSC_ANONYMOUS_READ").map_or(true, |v| v != "false"),
        upload_limit_bytes: std::env::var("NPSC_UPLOAD_LIMIT_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(64)
            << 20,
        limits: Limits::from_env()?,
    })
}

/// The `npsc-service` binary: configuration from the environment, a multi-threaded runtime.
pub fn main() -> std::process::ExitCode {
    let status = match config_from_env() {
        Ok(config) => run(&config),
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::ExitCode::from(status)
}

/// Runs the service with `config` on a new multi-threaded runtime; returns the exit status
/// (0 after a graceful shutdown, 1 when it cannot start, 2 when the runtime cannot start).
pub fn run(config: &Config) -> u8 {
    init_logging(config.json_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 2;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn database_passwords_never_reach_the_log() {
        for (url, shown) in [
            (
                "postgres://npsc:s3cret@db.local:5432/npsc",
                "postgres://npsc:***@db.local:5432/npsc",
            ),
            (
                "postgres://npsc@db/npsc?sslmode=require&password=s3cret",
                "postgres://npsc@db/npsc?sslmode=require&password=***",
            ),
            ("postgres://npsc@db/npsc", "postgres://npsc@db/npsc"),
            ("sqlite://npsc.db?mode=rwc", "sqlite://npsc.db?mode=rwc"),
            ("npsc.db", "npsc.db"),
        ] {
            assert_eq!(redact_password(url), shown);
        }
    }
}

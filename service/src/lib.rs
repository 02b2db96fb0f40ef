//! npsc's HTTP service: coefficient editions served to every consumer from one place, so that
//! statistics, permit and tax offices use the same numbers.
//!
//! [`router`] builds the whole API over an [`AppState`] (tests call it without a socket);
//! [`serve`] binds it, logs with tracing and shuts down gracefully on SIGINT/SIGTERM. Only this
//! crate knows HTTP and the JSON shapes of the API; everything else is `app`.
//!
//! Published editions are immutable, so their responses carry a strong `ETag` (the content hash)
//! and `Cache-Control: public, max-age=31536000, immutable`, and `If-None-Match` gives 304; drafts
//! and `latest` are never cached as immutable.

pub(crate) mod error;
mod metrics;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use accounting::coefficient::CoefficientSet;
use app::editions::Store;
use axum::Router;

pub use error::ApiError;

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
}

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
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, database = %config.database, "npsc service listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("npsc service stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
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

/// Configuration from the environment: `NPSC_LISTEN`, `NPSC_DATABASE_URL`, `NPSC_LOG_FORMAT`.
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

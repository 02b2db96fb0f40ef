//! What the service's integration tests share: requests through `service::router` without a
//! socket, JSON and query helpers, multipart forms, the repository's files, and a fresh SQLite
//! database seeded with the excerpt and tokens. Each test file says `mod common;`.

// Every file under `tests/` is its own crate and compiles this module again; each uses a part.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use app::tokens::Role;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The content hash of `coefficients/npsc1-excerpt`.
pub(crate) const EXCERPT_HASH: &str =
    "db41f2d31052ecdaeb3bb8429c7219fd345fca37268addfa27995bd6b9b36115";
/// The set id of `coefficients/npsc1-excerpt`.
pub(crate) const EXCERPT: &str = "npsc1-excerpt";

/// The workspace root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bundled coefficient set `coefficients/npsc1-excerpt`.
pub(crate) fn excerpt() -> PathBuf {
    repo().join("coefficients/npsc1-excerpt")
}

/// The bundled synthetic sample's folder.
pub(crate) fn sample_dir() -> PathBuf {
    repo().join("datasets/sample-synthetic")
}

/// A file of the synthetic sample (`registry.csv`, `activity.csv`, …).
pub(crate) fn sample(name: &str) -> Vec<u8> {
    std::fs::read(sample_dir().join(name)).expect("sample file")
}

/// A copy of the excerpt with its table changed by `edit`, as the set folder `dir/name`.
pub(crate) fn revised(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::copy(
        excerpt().join("manifest.toml"),
        folder.join("manifest.toml"),
    )
    .expect("copy");
    let table = std::fs::read_to_string(excerpt().join("coefficients.csv")).expect("table");
    std::fs::write(folder.join("coefficients.csv"), edit(&table)).expect("write");
    folder
}

/// One request through `service::router(state).oneshot(…)`: status, headers and body (which
/// must be UTF-8).
pub(crate) async fn request(
    state: &service::AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = service::router(state.clone())
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        headers,
        String::from_utf8(bytes.to_vec()).expect("utf-8"),
    )
}

/// Like [`request`], for a body that need not be UTF-8 (a workbook): status, headers and bytes.
pub(crate) async fn request_bytes(
    state: &service::AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = service::router(state.clone())
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, bytes.to_vec())
}

/// A GET with exactly `headers` (anonymous when they carry no token).
pub(crate) async fn get(
    state: &service::AppState,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    request(state, "GET", uri, headers, Vec::new()).await
}

/// A request with a content type and, when given, a bearer token: status and body.
pub(crate) async fn send(
    state: &service::AppState,
    method: &str,
    uri: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let auth = token.map(bearer);
    let mut headers = vec![("content-type", content_type)];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let (status, _, text) = request(state, method, uri, &headers, body).await;
    (status, text)
}

/// The `authorization` header value of a token.
pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Parses a response body, saying what it was when it is not JSON.
pub(crate) fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Percent-encodes a query value or path segment (everything but unreserved ASCII).
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `content-type` of a multipart form with `boundary`.
pub(crate) fn multipart(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// A multipart form with one `text/csv` file part per `(field, file name, bytes)`.
pub(crate) fn form(boundary: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (field, name, bytes) in parts {
        out.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .into_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend(format!("--{boundary}--\r\n").into_bytes());
    out
}

/// Creates a token (by `setup`); returns its text.
pub(crate) async fn token(store: &app::editions::Store, name: &str, role: Role) -> String {
    app::tokens::create(store, name, role, "setup")
        .await
        .expect("token")
        .1
}

/// Tokens named `reader`, `officer`, `admin`, and `revoked` (an admin's, revoked).
pub(crate) async fn role_tokens(store: &app::editions::Store) -> BTreeMap<&'static str, String> {
    let mut tokens = BTreeMap::new();
    for (name, role) in [
        ("reader", Role::Reader),
        ("officer", Role::Officer),
        ("admin", Role::Admin),
        ("revoked", Role::Admin),
    ] {
        tokens.insert(name, token(store, name, role).await);
    }
    app::tokens::revoke(store, "revoked", "setup")
        .await
        .expect("revoke");
    tokens
}

/// A fresh SQLite database in a temporary directory, and a store open on it.
pub(crate) struct Db {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    pub(crate) store: app::editions::Store,
}

impl Db {
    /// An empty database.
    pub(crate) async fn empty() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("npsc.db").display());
        let store = app::editions::open(&url).await.expect("store");
        Db { dir, url, store }
    }

    /// A database with `npsc1-excerpt@1` imported and published.
    pub(crate) async fn with_excerpt() -> Db {
        let db = Db::empty().await;
        db.import(&excerpt()).await;
        db.publish("first").await;
        db
    }

    /// Imports a coefficient set folder as its set's draft (by `setup`).
    pub(crate) async fn import(&self, folder: &Path) -> app::editions::EditionInfo {
        let reference = app::reference::bundled().expect("reference");
        app::editions::import(
            &self.store,
            folder,
            &reference,
            &app::ReadOptions::default(),
            "setup",
        )
        .await
        .expect("import")
    }

    /// Publishes the draft of `npsc1-excerpt` with a revision note (by `setup`).
    pub(crate) async fn publish(&self, note: &str) -> app::editions::EditionInfo {
        let reference = app::reference::bundled().expect("reference");
        app::editions::publish(&self.store, EXCERPT, None, note, "setup", &reference)
            .await
            .expect("publish")
    }

    /// A service state of its own over this database.
    pub(crate) async fn state(&self) -> service::AppState {
        service::AppState::open(&self.url).await.expect("state")
    }
}

/// A service over [`Db::with_excerpt`] with an officer's, a reader's and an administrator's
/// token, named as the audit log and the stored runs should name them.
pub(crate) struct Served {
    pub(crate) db: Db,
    pub(crate) state: service::AppState,
    pub(crate) officer: String,
    pub(crate) reader: String,
    pub(crate) admin: String,
}

impl Served {
    pub(crate) async fn new(officer: &str, reader: &str, admin: &str) -> Served {
        let db = Db::with_excerpt().await;
        let officer = token(&db.store, officer, Role::Officer).await;
        let reader = token(&db.store, reader, Role::Reader).await;
        let admin = token(&db.store, admin, Role::Admin).await;
        let state = db.state().await;
        Served {
            db,
            state,
            officer,
            reader,
            admin,
        }
    }
}

/// Serves `state` on a real socket on a port the system chooses; abort the task to stop.
pub(crate) async fn serve(
    state: service::AppState,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        axum::serve(listener, service::router(state))
            .await
            .expect("serve");
    });
    (address, server)
}

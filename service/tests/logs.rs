//! Secrets never reach the log: every event of every crate (the service, axum, sqlx, hyper) is
//! captured at TRACE level (the store turns sqlx's statement logging off; bound values, where
//! token hashes go, are never logged anyway) while requests carrying tokens (valid, unknown, malformed, a secret
//! in a query string) are answered, through the router and through the real accept loop; no
//! token, no token secret and no query string appears in what was logged.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use app::tokens::Role;
use axum::http::StatusCode;
use common::{Db, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_query_string_is_ever_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The one test of this binary: the global subscriber sees every thread (sqlx's SQLite
    // worker threads too), not only this one.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let db = Db::with_excerpt().await;
    let reader = common::token(&db.store, "log-reader", Role::Reader).await;
    let admin = common::token(&db.store, "log-admin", Role::Admin).await;
    let revoked = common::token(&db.store, "log-revoked", Role::Reader).await;
    app::tokens::revoke(&db.store, "log-revoked", "setup")
        .await
        .expect("revoke");
    let unknown = format!("npsc_999_{}", "ab".repeat(32));
    let state = db.state().await;
    let query_secret = "QUERYSECRET4711";

    // Through the router.
    for (method, uri, token, body, expected) in [
        (
            "GET",
            "/api/v1/runs",
            Some(reader.as_str()),
            "",
            StatusCode::OK,
        ),
        (
            "POST",
            "/api/v1/sets/logged/drafts?provenance=x",
            Some(admin.as_str()),
            "table",
            StatusCode::CREATED,
        ),
        (
            "GET",
            "/api/v1/runs",
            Some(revoked.as_str()),
            "",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "GET",
            "/api/v1/runs",
            Some(unknown.as_str()),
            "",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "GET",
            &format!("/api/v1/editions?access_token={query_secret}"),
            Some(reader.as_str()),
            "",
            StatusCode::OK,
        ),
    ] {
        let body = if body == "table" {
            std::fs::read(common::excerpt().join("coefficients.csv")).expect("table")
        } else {
            Vec::new()
        };
        let (status, text) = send(&state, method, uri, token, "text/csv", body).await;
        assert_eq!(status, expected, "{method} {uri}: {text}");
    }
    // A malformed header that carries a secret.
    let (status, _, _) = common::request(
        &state,
        "GET",
        "/api/v1/runs",
        &[("authorization", &format!("Basic {admin}"))],
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Through the real accept loop (hyper, the connection task).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(service::serve_with(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream
        .write_all(
            format!(
                "GET /api/v1/runs?token={query_secret} HTTP/1.1\r\nHost: localhost\r\n\
                 Authorization: Bearer {admin}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let _ = stop.send(());
    server.await.expect("task").expect("serve");
    db.store.close().await;

    let log = captured.text();
    // The capture works: every request is there.
    assert!(log.contains("/api/v1/runs"), "{log:.2000}");
    assert!(log.contains("status=401"), "{log:.2000}");
    assert!(
        log.lines().filter(|l| l.contains(" request ")).count() >= 7,
        "{log}"
    );
    for token in [&reader, &admin, &revoked, &unknown] {
        let secret = token.rsplit('_').next().expect("secret");
        assert!(
            !log.contains(secret),
            "a token secret is in the log:\n{}",
            log.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(!log.contains(query_secret), "a query string is in the log");
}

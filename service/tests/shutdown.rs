//! Graceful shutdown of the real binary: a request that is still arriving when SIGTERM comes is
//! answered in full, new connections are refused afterwards, and the process exits 0.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_upload_finish() {
    let Db {
        dir: _dir,
        url,
        store,
    } = Db::empty().await;
    let token = common::token(&store, "uploader", app::tokens::Role::Admin).await;
    store.close().await;
    let table = std::fs::read(common::excerpt().join("coefficients.csv")).expect("table");

    let mut child = Command::new(env!("CARGO_BIN_EXE_npsc-service"))
        .env("NPSC_LISTEN", "127.0.0.1:0")
        .env("NPSC_DATABASE_URL", &url)
        .env("NPSC_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start npsc-service");
    let mut log = BufReader::new(child.stderr.take().expect("stderr"));
    // The JSON log line says where it listens (port 0: the system chose).
    let mut address = None;
    let mut line = String::new();
    while address.is_none() {
        line.clear();
        assert!(log.read_line(&mut line).expect("log") > 0, "exited early");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        address = entry["fields"]["address"].as_str().map(str::to_string);
    }
    let address = address.expect("address");

    // Headers and half of the body, then SIGTERM, then the rest.
    let mut stream = TcpStream::connect(&address).expect("connect");
    let head = format!(
        "POST /api/v1/sets/shutdown-test/drafts?provenance=test HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        table.len()
    );
    stream.write_all(head.as_bytes()).expect("head");
    let half = table.len() / 2;
    stream.write_all(&table[..half]).expect("first half");
    stream.flush().expect("flush");
    // The upload is in flight once the service counts it (the metrics request is the other
    // one): a fixed pause could signal before the connection was accepted on a slow machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !metrics(&address).contains("npsc_http_requests_in_flight 2\n") {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never showed as in flight"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the service waits for the request in flight"
    );
    stream.write_all(&table[half..]).expect("second half");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the in-flight upload is answered: {response}"
    );
    assert!(response.contains("\"status\":\"draft\""), "{response}");

    let exit = child.wait().expect("exit");
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    let mut rest = String::new();
    log.read_to_string(&mut rest).expect("log");
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(rest.contains("npsc service stopped"), "{rest}");
    assert!(
        TcpStream::connect(&address).is_err(),
        "nothing listens after the shutdown"
    );
    // The upload was stored whole.
    let store = app::editions::open(&url).await.expect("store");
    let editions = app::editions::list(&store, Some("shutdown-test"))
        .await
        .expect("list");
    assert_eq!(editions.len(), 1);
    assert_eq!(editions[0].row_count, 38);
    store.close().await;
}

/// The `/metrics` text of the service at `address`.
fn metrics(address: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect for metrics");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("metrics request");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("metrics response");
    text
}

//! Slow and abandoned clients against the real accept loop (`service::serve_with` on a loopback
//! socket, with timeouts made small): slowloris connections that send their headers byte by byte
//! or send nothing are closed after the header timeout while a normal client keeps getting its
//! answers; the connection limit holds and frees up; a client that stops reading is cut off by
//! the send timeout; an upload whose body stalls gets 503 `timeout` and stores nothing; a
//! graceful shutdown is not held up by slow clients.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Db;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The header timeout of these tests.
const HEADER_TIMEOUT: Duration = Duration::from_millis(600);

struct Server {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    db: Db,
}

impl Server {
    /// `serve_with` over the excerpt with small timeouts; `edit` adjusts the limits.
    async fn start(edit: impl FnOnce(&mut service::Limits)) -> Server {
        let db = Db::with_excerpt().await;
        let mut state = db.state().await;
        state.limits = service::Limits {
            header_timeout: HEADER_TIMEOUT,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_millis(600),
            max_connections: 256,
        };
        edit(&mut state.limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(service::serve_with(listener, state, async move {
            let _ = stopped.await;
        }));
        Server {
            address,
            stop: Some(stop),
            task,
            db,
        }
    }

    /// Shuts down gracefully; returns how long `serve_with` took to return.
    async fn stop(mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("serve_with returns after the shutdown")
            .expect("task")
            .expect("serve_with");
        let took = started.elapsed();
        self.db.store.close().await;
        took
    }
}

/// A `GET` on a fresh connection (`Connection: close`): the status and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("response");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:.200}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

/// One value of the service's `/metrics`.
async fn metric(address: SocketAddr, name: &str) -> u64 {
    let (status, text) = get(address, "/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// A slowloris client: a request line, then one byte of a never-ending header every `pace`.
/// Returns how long after connecting the server closed the connection (`None`: it was still
/// open after `give_up`).
async fn slowloris(address: SocketAddr, pace: Duration, give_up: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut bytes = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
        .iter()
        .copied()
        .chain(std::iter::repeat(b'a'));
    let mut buf = [0u8; 512];
    while started.elapsed() < give_up {
        let byte = bytes.next().unwrap_or(b'a');
        if stream.write_all(&[byte]).await.is_err() {
            return Some(started.elapsed());
        }
        // The server answers a closed connection with EOF (possibly after a 408 it writes).
        if let Ok(read) = tokio::time::timeout(pace, stream.read(&mut buf)).await {
            match read {
                Ok(0) | Err(_) => return Some(started.elapsed()),
                Ok(_) => {}
            }
        }
    }
    None
}

/// A client that connects and never sends a byte.
async fn silent(address: SocketAddr, give_up: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at((started + give_up).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_and_normal_clients_are_served_meanwhile() {
    let server = Server::start(|_| {}).await;
    let address = server.address;
    let give_up = Duration::from_secs(10);
    let mut attackers = Vec::new();
    for i in 0..60 {
        attackers.push(tokio::spawn(async move {
            if i % 3 == 0 {
                silent(address, give_up).await
            } else {
                slowloris(address, Duration::from_millis(50), give_up).await
            }
        }));
    }
    // Wait until all 60 are accepted (the metrics request is one more).
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(address, "npsc_http_connections_open").await < 61 {
        assert!(
            Instant::now() < deadline,
            "the 60 connections were never all open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A normal client is answered promptly all along (before, during and after the timeouts).
    let mut answered = 0;
    let normal_until = Instant::now() + HEADER_TIMEOUT * 3;
    while Instant::now() < normal_until {
        let asked = Instant::now();
        let (status, body) = get(
            address,
            "/api/v1/sets/npsc1-excerpt/editions/1/coefficients?per_page=5",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"total\":38"), "{body:.200}");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "a normal request took {:?}",
            asked.elapsed()
        );
        answered += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(answered >= 10, "{answered} normal requests answered");
    // Every slow connection was closed by the server, after the header timeout and well before
    // the attacker gave up.
    for (i, attacker) in attackers.into_iter().enumerate() {
        let closed = attacker
            .await
            .expect("attacker")
            .unwrap_or_else(|| panic!("connection {i} was still open after {give_up:?}"));
        assert!(
            closed >= HEADER_TIMEOUT - Duration::from_millis(50)
                && closed < HEADER_TIMEOUT + Duration::from_secs(3),
            "connection {i} closed after {closed:?}"
        );
    }
    assert!(metric(address, "npsc_http_connections_timed_out_total").await >= 60);
    assert_eq!(metric(address, "npsc_http_connections_open").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_frees_up_after_the_header_timeout() {
    let server = Server::start(|limits| limits.max_connections = 4).await;
    let address = server.address;
    let mut holders = Vec::new();
    for _ in 0..4 {
        holders.push(tokio::spawn(silent(address, Duration::from_secs(10))));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fifth client waits in the backlog until a slot is freed by the header timeout.
    let asked = Instant::now();
    let (status, text) = get(address, "/metrics").await;
    let waited = asked.elapsed();
    assert_eq!(status, 200);
    assert!(
        waited >= HEADER_TIMEOUT - Duration::from_millis(200),
        "the fifth connection was served after {waited:?}, before a slot was free"
    );
    assert!(
        waited < HEADER_TIMEOUT + Duration::from_secs(3),
        "{waited:?}"
    );
    // Never more than the limit open at once.
    let open: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("npsc_http_connections_open "))
        .and_then(|v| v.parse().ok())
        .expect("gauge");
    assert!(open <= 4, "{open} connections open");
    for holder in holders {
        assert!(
            holder.await.expect("holder").is_some(),
            "closed by the server"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_by_the_send_timeout() {
    let server = Server::start(|_| {}).await;
    let address = server.address;
    let before = metric(address, "npsc_http_connections_timed_out_total").await;
    // 20 pipelined requests for a 1.5 MB file (30 MB), a small receive buffer, nothing read.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer");
    let mut stream = socket.connect(address).await.expect("connect");
    let request = "GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(20);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("requests");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(address, "npsc_http_connections_timed_out_total").await == before {
        assert!(
            Instant::now() < deadline,
            "the stalled connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(address, "npsc_http_connections_open").await, 1);
    // Reading now ends early: the connection was closed, far from 30 MB.
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    assert!(received.len() < 20 * 1_400_000, "{} bytes", received.len());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_body_stalls_gets_a_timeout_and_stores_nothing() {
    let server = Server::start(|limits| limits.write_timeout = Duration::from_millis(700)).await;
    let address = server.address;
    let token = common::token(&server.db.store, "uploader", app::tokens::Role::Admin).await;
    let table = std::fs::read(common::excerpt().join("coefficients.csv")).expect("table");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST /api/v1/sets/stalled/drafts?provenance=test HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {token}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        table.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&table[..table.len() / 2])
        .await
        .expect("half the body");
    let started = Instant::now();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered before the test gives up")
        .expect("read");
    let waited = started.elapsed();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains("\"code\":\"timeout\""), "{response}");
    assert!(
        waited >= Duration::from_millis(600) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let editions = app::editions::list(&server.db.store, Some("stalled"))
        .await
        .expect("list");
    assert!(editions.is_empty(), "nothing stored: {editions:?}");
    // A GET is held to the read timeout, not the write timeout: it is answered.
    assert_eq!(get(address, "/healthz").await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_is_not_held_up_by_slow_clients() {
    let server = Server::start(|limits| limits.header_timeout = Duration::from_secs(30)).await;
    let address = server.address;
    let mut attackers = Vec::new();
    for i in 0..20 {
        attackers.push(tokio::spawn(async move {
            if i % 2 == 0 {
                silent(address, Duration::from_secs(20)).await
            } else {
                slowloris(address, Duration::from_millis(50), Duration::from_secs(20)).await
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(address, "npsc_http_connections_open").await < 21 {
        assert!(Instant::now() < deadline, "not all open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Idle and half-sent connections are closed at once, not after the 30 s header timeout.
    let took = server.stop().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    for attacker in attackers {
        assert!(attacker.await.expect("attacker").is_some());
    }
    assert!(
        TcpStream::connect(address).await.is_err(),
        "nothing listens"
    );
}

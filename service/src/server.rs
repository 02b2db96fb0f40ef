//! The accept loop: HTTP/1.1 connections served by hyper with the limits that keep slow and
//! abandoned clients from exhausting the service.
//!
//! `axum::serve` has no header read timeout and no connection limit, so the service runs its
//! own loop (the same shape: one task per connection, graceful shutdown):
//!
//! - at most [`Limits::max_connections`] connections at once: a permit is taken *before*
//!   `accept`, so extra clients wait in the kernel's listen backlog instead of costing a task,
//!   a buffer and a file descriptor each;
//! - [`Limits::header_timeout`]: a connection whose request head has not fully arrived that long
//!   after the server started waiting for it is closed (hyper's `header_read_timeout`; it also
//!   closes keep-alive connections that stay idle that long). This is what defeats slowloris
//!   clients that send their headers byte by byte or never finish them;
//! - [`Limits::send_timeout`]: a connection whose response cannot be written for that long (the
//!   client stopped reading) is closed ([`SendTimeout`]);
//! - the request timeouts ([`Limits::read_timeout`] for `GET`/`HEAD`, [`Limits::write_timeout`]
//!   for uploads and computations) are a middleware of the router (`routes::deadline`), so they
//!   hold for tests that call the router without a socket too.
//!
//! Graceful shutdown: when the shutdown future completes, the listener is closed at once (new
//! connections are refused), every connection finishes the request it is answering and is then
//! closed, and the loop returns when the last one is gone. Idle connections close at once; one
//! that is not answering a request a second later (a client still sending its headers) is
//! dropped, so slow clients cannot hold up a shutdown; a request being answered is bounded by
//! its request timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Sleep;

use crate::AppState;

/// Timeouts and the connection limit of the service (`npsc serve` flags, `NPSC_*` environment).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Longest wait for a request's head (request line and headers), also between the requests
    /// of a keep-alive connection: `NPSC_HEADER_TIMEOUT`, 20 s by default.
    pub header_timeout: Duration,
    /// Longest time to answer a `GET` or `HEAD` request: `NPSC_READ_TIMEOUT`, 60 s by default.
    pub read_timeout: Duration,
    /// Longest time to receive and answer any other request (uploads, publishes, accounting
    /// runs), body included: `NPSC_WRITE_TIMEOUT`, 300 s by default.
    pub write_timeout: Duration,
    /// Longest a response may wait for a client that does not read it: `NPSC_SEND_TIMEOUT`,
    /// 30 s by default.
    pub send_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog:
    /// `NPSC_MAX_CONNECTIONS`, 1024 by default (keep the open-files limit above it).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(300),
            send_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl Limits {
    /// The limits from `NPSC_HEADER_TIMEOUT`, `NPSC_READ_TIMEOUT`, `NPSC_WRITE_TIMEOUT`,
    /// `NPSC_SEND_TIMEOUT` (seconds, decimals allowed) and `NPSC_MAX_CONNECTIONS`; the defaults
    /// for those not set. A value that does not parse is an error, not a silent default.
    pub fn from_env() -> anyhow::Result<Limits> {
        let mut limits = Limits::default();
        for (name, slot) in [
            ("NPSC_HEADER_TIMEOUT", &mut limits.header_timeout),
            ("NPSC_READ_TIMEOUT", &mut limits.read_timeout),
            ("NPSC_WRITE_TIMEOUT", &mut limits.write_timeout),
            ("NPSC_SEND_TIMEOUT", &mut limits.send_timeout),
        ] {
            if let Ok(text) = std::env::var(name) {
                *slot = parse_seconds(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            }
        }
        if let Ok(text) = std::env::var("NPSC_MAX_CONNECTIONS") {
            limits.max_connections = parse_connections(&text)
                .map_err(|e| anyhow::anyhow!("NPSC_MAX_CONNECTIONS: {e}"))?;
        }
        Ok(limits)
    }
}

/// A duration in seconds, decimals allowed (`0.5`, `20`): more than 0 and at most one day.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!(
            "`{text}`: a timeout is more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A connection limit: a whole number from 1 to 1 000 000.
pub fn parse_connections(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{text}`: the connection limit is a whole number from 1 to 1000000"
        )),
    }
}

/// Serves `state` on `listener` with `state.limits` until `shutdown` completes, then shuts down
/// gracefully (see the module documentation).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let limits = state.limits;
    let metrics = state.metrics.clone();
    let service = TowerToHyperService::new(crate::router(state));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    // `true` once shutting down; every connection task holds a receiver.
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            // The shutdown first, every time: a ready connection must not starve it.
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            // The shutdown first, every time: a ready connection must not starve it.
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(SendTimeout::new(stream, limits.send_timeout));
        // Requests of this connection whose handler is running.
        let busy = Arc::new(AtomicUsize::new(0));
        let counted = {
            let service = service.clone();
            let busy = busy.clone();
            hyper::service::service_fn(move |request| {
                let guard = Busy::start(&busy);
                let answer = service.call(request);
                async move {
                    let response = answer.await;
                    drop(guard);
                    response
                }
            })
        };
        let connection = http.serve_connection(io, counted);
        let metrics = metrics.clone();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _permit = permit;
            let _open = metrics.connection();
            let mut connection = std::pin::pin!(connection);
            let stopped = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopped => {
                    // Keep-alive connections close at once; a request being answered is
                    // finished. A connection still open after a second that is not answering a
                    // request (a slow client still sending its headers) is dropped, so slow
                    // clients cannot hold up the shutdown for the header timeout.
                    connection.as_mut().graceful_shutdown();
                    loop {
                        tokio::select! {
                            result = connection.as_mut() => break result,
                            () = tokio::time::sleep(SHUTDOWN_TICK) => {
                                if busy.load(Ordering::Acquire) == 0 {
                                    break Ok(());
                                }
                            }
                        }
                    }
                }
            };
            if let Err(e) = result {
                if is_timeout(&e) {
                    metrics.connection_timed_out();
                }
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
        // Finished connections are reaped as we go, so the set stays as small as the open ones.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// How often, during a shutdown, a connection that is not answering a request is checked for
/// being dropped.
const SHUTDOWN_TICK: Duration = Duration::from_secs(1);

/// Counts a request whose handler runs until dropped (also when its connection is dropped).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Errors of one incoming connection (reset before it was accepted): try the next one.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Whether a connection ended on the header timeout or the send timeout.
fn is_timeout(e: &hyper::Error) -> bool {
    if e.is_timeout() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::TimedOut;
        }
        source = s.source();
    }
    false
}

/// A stream whose writes fail with `TimedOut` when they make no progress for `limit`: a client
/// that stops reading its response cannot hold the connection (and its buffers) forever. The
/// clock starts when a write would block and is reset by every write that goes through, so a
/// slow but steady reader is never cut off.
pub(crate) struct SendTimeout<T> {
    inner: T,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> SendTimeout<T> {
    pub(crate) fn new(inner: T, limit: Duration) -> SendTimeout<T> {
        SendTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: starts the clock if it is not running, and fails once
    /// it has run out.
    fn check_stall<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let limit = self.limit;
        let clock = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match clock.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client has not read its response for the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<R>(
        &mut self,
        result: Poll<io::Result<R>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<R>> {
        match result {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.check_stall(cx),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(result, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn seconds_and_connection_limits_parse_or_say_why_not() {
        assert_eq!(parse_seconds("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_seconds(" 0.25 "), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "NaN", "inf", "1e9", "ten", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_connections("256"), Ok(256));
        for bad in ["0", "-5", "1.5", "2000000", "many"] {
            assert!(parse_connections(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_write_that_makes_no_progress_times_out_and_progress_resets_the_clock() {
        // A 64-byte pipe nobody reads: the first 64 bytes go through, the next write stalls.
        let (client, server) = tokio::io::duplex(64);
        let mut stream = SendTimeout::new(server, Duration::from_millis(200));
        stream.write_all(&[1; 64]).await.expect("fits the pipe");
        let started = std::time::Instant::now();
        let error = stream.write_all(&[2; 64]).await.expect_err("stalls");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        drop(client);

        // A reader that takes 64 bytes every 100 ms never trips a 200 ms clock.
        let (mut client, server) = tokio::io::duplex(64);
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 64];
            let mut total = 0;
            while total < 640 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let n = client.read(&mut buf).await.expect("read");
                total += n;
            }
            total
        });
        let mut stream = SendTimeout::new(server, Duration::from_millis(200));
        stream.write_all(&[3; 640]).await.expect("a steady reader");
        assert_eq!(reader.await.expect("reader"), 640);
    }
}

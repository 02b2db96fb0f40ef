//! Request counters and latencies in the Prometheus text format, kept in memory per instance.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per method, per route: the counters of one route (looked up by `&str`, so that recording a
/// request allocates nothing once its route has been seen).
type ByRoute<T> = BTreeMap<String, BTreeMap<String, T>>;

/// Counters of one method and route.
#[derive(Clone, Default)]
struct RouteCounters {
    /// Per status: (count, total seconds).
    statuses: BTreeMap<u16, (u64, f64)>,
    latency: Histogram,
}

/// Upper bounds of the latency histogram's buckets, in seconds (`+Inf` follows).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A latency histogram: cumulative counts per bucket are computed when rendered.
#[derive(Clone, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let bucket = BUCKETS
            .iter()
            .position(|&upper| seconds <= upper)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// Counters of one instance.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Requests by method and route.
    requests: Mutex<ByRoute<RouteCounters>>,
    /// Edition payloads served (metadata or coefficients).
    pub(crate) editions_served: AtomicU64,
    /// Accounting runs submitted and stored.
    pub(crate) runs_stored: AtomicU64,
    /// Accounting runs submitted and refused (bad input; nothing stored).
    pub(crate) runs_rejected: AtomicU64,
    /// Requests whose headers have arrived and whose response is not yet made.
    in_flight: AtomicU64,
    /// Connections open now (served by `server::serve_with`).
    connections_open: AtomicU64,
    /// Connections accepted since the start.
    connections_accepted: AtomicU64,
    /// Connections closed by the header or the send timeout.
    connections_timed_out: AtomicU64,
}

/// Counts one open connection until dropped.
pub(crate) struct OpenConnection<'a>(&'a AtomicU64);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts one request in flight until dropped (also when the client goes away and the
/// request's future is dropped half-way).
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a request in flight until the guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Counts an accepted connection, open until the guard is dropped.
    pub(crate) fn connection(&self) -> OpenConnection<'_> {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(&self.connections_open)
    }

    /// Counts a connection closed by the header or the send timeout.
    pub(crate) fn connection_timed_out(&self) {
        self.connections_timed_out.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut map) = self.requests.lock() else {
            return;
        };
        if !map.contains_key(method) {
            map.insert(method.to_string(), BTreeMap::new());
        }
        let Some(routes) = map.get_mut(method) else {
            return;
        };
        if !routes.contains_key(route) {
            routes.insert(route.to_string(), RouteCounters::default());
        }
        if let Some(counters) = routes.get_mut(route) {
            let entry = counters.statuses.entry(status).or_insert((0, 0.0));
            entry.0 += 1;
            entry.1 += seconds;
            counters.latency.observe(seconds);
        }
    }

    /// The Prometheus exposition text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::from(
            "# HELP npsc_http_requests_total HTTP requests by method, route and status.\n\
             # TYPE npsc_http_requests_total counter\n",
        );
        let map = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        let routes = || {
            map.iter().flat_map(|(method, routes)| {
                routes.iter().map(move |(route, c)| (method, route, c))
            })
        };
        for (method, route, c) in routes() {
            for (status, (count, _)) in &c.statuses {
                out.push_str(&format!(
                    "npsc_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}\n"
                ));
            }
        }
        out.push_str(
            "# HELP npsc_http_request_seconds_total Total time spent answering, by method, route and status.\n\
             # TYPE npsc_http_request_seconds_total counter\n",
        );
        for (method, route, c) in routes() {
            for (status, (_, seconds)) in &c.statuses {
                out.push_str(&format!(
                    "npsc_http_request_seconds_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {seconds}\n"
                ));
            }
        }
        out.push_str(
            "# HELP npsc_http_request_duration_seconds Time to answer, by method and route.\n\
             # TYPE npsc_http_request_duration_seconds histogram\n",
        );
        for (method, route, c) in routes() {
            let h = &c.latency;
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let mut cumulative = 0;
            for (i, count) in h.counts.iter().enumerate() {
                cumulative += count;
                let le = BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
                out.push_str(&format!(
                    "npsc_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}\n"
                ));
            }
            out.push_str(&format!(
                "npsc_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 npsc_http_request_duration_seconds_count{{{labels}}} {}\n",
                h.sum, h.count
            ));
        }
        out.push_str(&format!(
            "# HELP npsc_editions_served_total Edition payloads served.\n\
             # TYPE npsc_editions_served_total counter\n\
             npsc_editions_served_total {}\n",
            self.editions_served.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP npsc_runs_total Accounting runs submitted over HTTP, by outcome.\n\
             # TYPE npsc_runs_total counter\n\
             npsc_runs_total{{outcome=\"stored\"}} {}\n\
             npsc_runs_total{{outcome=\"rejected\"}} {}\n",
            self.runs_stored.load(Ordering::Relaxed),
            self.runs_rejected.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP npsc_http_requests_in_flight Requests being answered (this one included).\n\
             # TYPE npsc_http_requests_in_flight gauge\n\
             npsc_http_requests_in_flight {}\n",
            self.in_flight.load(Ordering::Relaxed)
        ));
        out.push_str(&format!(
            "# HELP npsc_http_connections_open Connections open now.\n\
             # TYPE npsc_http_connections_open gauge\n\
             npsc_http_connections_open {}\n\
             # HELP npsc_http_connections_total Connections accepted.\n\
             # TYPE npsc_http_connections_total counter\n\
             npsc_http_connections_total {}\n\
             # HELP npsc_http_connections_timed_out_total Connections closed by the header or the send timeout.\n\
             # TYPE npsc_http_connections_timed_out_total counter\n\
             npsc_http_connections_timed_out_total {}\n",
            self.connections_open.load(Ordering::Relaxed),
            self.connections_accepted.load(Ordering::Relaxed),
            self.connections_timed_out.load(Ordering::Relaxed)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::default();
        for seconds in [0.0005, 0.003, 0.003, 0.2, 30.0] {
            m.record("GET", "/x", 200, seconds);
        }
        let text = m.render();
        for line in [
            "npsc_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.001\"} 1",
            "npsc_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.005\"} 3",
            "npsc_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.25\"} 4",
            "npsc_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"10\"} 4",
            "npsc_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"+Inf\"} 5",
            "npsc_http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 5",
            "npsc_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 5",
            "npsc_http_requests_in_flight 0",
        ] {
            assert!(text.contains(line), "missing `{line}` in\n{text}");
        }
    }

    #[test]
    fn the_in_flight_gauge_counts_live_guards() {
        let m = Metrics::default();
        let first = m.in_flight();
        let second = m.in_flight();
        assert!(m.render().contains("npsc_http_requests_in_flight 2\n"));
        drop(first);
        assert!(m.render().contains("npsc_http_requests_in_flight 1\n"));
        drop(second);
        assert!(m.render().contains("npsc_http_requests_in_flight 0\n"));
    }
}

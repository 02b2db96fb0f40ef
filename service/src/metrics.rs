//! Request counters and latencies in the Prometheus text format, kept in memory per instance.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// (method, route, status).
type RequestKey = (String, String, u16);

/// Counters of one instance.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Per request key: (count, total seconds).
    requests: Mutex<BTreeMap<RequestKey, (u64, f64)>>,
    /// Edition payloads served (metadata or coefficients).
    pub(crate) editions_served: AtomicU64,
    /// Accounting runs submitted and stored.
    pub(crate) runs_stored: AtomicU64,
    /// Accounting runs submitted and refused (bad input; nothing stored).
    pub(crate) runs_rejected: AtomicU64,
}

impl Metrics {
    pub(crate) fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut map) = self.requests.lock() {
            let entry = map
                .entry((method.to_string(), route.to_string(), status))
                .or_insert((0, 0.0));
            entry.0 += 1;
            entry.1 += seconds;
        }
    }

    /// The Prometheus exposition text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::from(
            "# HELP npsc_http_requests_total HTTP requests by method, route and status.\n\
             # TYPE npsc_http_requests_total counter\n",
        );
        let map = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        for ((method, route, status), (count, _)) in &map {
            out.push_str(&format!(
                "npsc_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}\n"
            ));
        }
        out.push_str(
            "# HELP npsc_http_request_duration_seconds_sum Total time spent answering, by route.\n\
             # TYPE npsc_http_request_duration_seconds_sum counter\n",
        );
        for ((method, route, status), (_, seconds)) in &map {
            out.push_str(&format!(
                "npsc_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {seconds}\n"
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
        out
    }
}

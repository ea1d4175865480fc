//! What the simulator received, for tests to inspect through `GET /__sim/stats`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

/// How many requests `last_requests` keeps.
pub const KEPT_REQUESTS: usize = 100;

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    /// The method as received.
    pub method: String,
    /// Path and query as received.
    pub target: String,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// `[name, value]` pairs, verbatim (values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
}

/// The body of `GET /__sim/stats`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    /// Devices actually removed by a DELETE.
    pub deletions_performed: u64,
    /// API requests received (simulator endpoints excluded).
    pub requests: u64,
    /// API requests per path as received.
    pub requests_by_path: BTreeMap<String, u64>,
    /// The last [`KEPT_REQUESTS`] API requests, oldest first.
    pub last_requests: Vec<RecordedRequest>,
}

/// Counters, shared by all connections.
#[derive(Debug, Default)]
pub struct Stats {
    deletions: AtomicU64,
    requests: AtomicU64,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    by_path: BTreeMap<String, u64>,
    last: VecDeque<RecordedRequest>,
}

impl Stats {
    fn lock(&self) -> MutexGuard<'_, Recent> {
        // Counters only: a poisoned lock still holds usable numbers.
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a request as received.
    pub fn record(&self, parts: &http::request::Parts) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request = RecordedRequest {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            version: format!("{:?}", parts.version),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        };
        let mut recent = self.lock();
        *recent
            .by_path
            .entry(parts.uri.path().to_owned())
            .or_default() += 1;
        if recent.last.len() == KEPT_REQUESTS {
            recent.last.pop_front();
        }
        recent.last.push_back(request);
    }

    /// Counts a device removal.
    pub fn count_deletion(&self) {
        self.deletions.fetch_add(1, Ordering::Relaxed);
    }

    /// Devices removed so far.
    pub fn deletions_performed(&self) -> u64 {
        self.deletions.load(Ordering::Relaxed)
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let recent = self.lock();
        StatsSnapshot {
            deletions_performed: self.deletions_performed(),
            requests: self.requests.load(Ordering::Relaxed),
            requests_by_path: recent.by_path.clone(),
            last_requests: recent.last.iter().cloned().collect(),
        }
    }
}

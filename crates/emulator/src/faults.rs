//! Faults a test can switch on: each queued fault answers the next Log Analytics query,
//! Akeyless list call or Kubernetes list in place of (or, for `PartialError`, alongside)
//! the real reply.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One injected failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer normally (to place a later fault at a given request).
    Pass,
    /// `429 Too Many Requests`, with a `Retry-After` header when `retry_after_secs` is set.
    Throttle {
        /// Seconds to put in `Retry-After`.
        retry_after_secs: Option<u64>,
    },
    /// A server error (500, 503, …).
    ServerError {
        /// HTTP status to answer with.
        status: u16,
    },
    /// Accept the request and never answer.
    Hang,
    /// Announce the full `Content-Length`, send half the body, close the connection.
    TruncatedBody,
    /// `200 OK` with half the rows and a `PartialError`, as the service does when a query
    /// fails part-way.
    PartialError,
    /// `410 Gone` (`reason: Expired`) for a Kubernetes list request that presents a
    /// continue token; a request without one is answered normally.
    ExpiredContinue,
}

/// The queue of faults still to serve.
#[derive(Debug, Default)]
pub struct Faults {
    queue: Mutex<VecDeque<Fault>>,
}

impl Faults {
    /// Queues a fault for the next query that has none yet.
    pub fn push(&self, fault: Fault) {
        self.queue.lock().expect("fault queue").push_back(fault);
    }

    /// Queues several faults, served in order.
    pub fn extend(&self, faults: impl IntoIterator<Item = Fault>) {
        self.queue.lock().expect("fault queue").extend(faults);
    }

    /// Faults not served yet.
    pub fn pending(&self) -> usize {
        self.queue.lock().expect("fault queue").len()
    }

    pub(crate) fn next(&self) -> Option<Fault> {
        self.queue.lock().expect("fault queue").pop_front()
    }
}

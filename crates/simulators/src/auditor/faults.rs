//! Run-time fault injection: the failures Auditor really produces, on demand.
//!
//! Tests and the demo use it to show that mspbridge retries a database outage (500 ServerError),
//! a busy archive service (503) and slow answers, without touching a real server. Faults are queued
//! for the next requests (one each) or set to apply to every request until cleared.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditorFault {
    /// HTTP 500 with the `ServerError` body `0x80040C0A SQL Server cannot be contacted`.
    DatabaseUnavailable,
    /// HTTP 503 with an empty body (Archive Service busy).
    ServiceBusy,
    /// HTTP 500 with an empty body, as Auditor answers corrupted JSON.
    EmptyServerError,
    /// Wait this long, then answer normally.
    Delay { millis: u64 },
}

/// The body of `POST /__simulator/faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// Faults for the next API requests, one per request, in order.
    #[serde(default)]
    pub next: Vec<AuditorFault>,
    /// A fault for every API request once `next` is used up; `null` removes it.
    #[serde(default)]
    pub always: Option<AuditorFault>,
}

#[derive(Debug, Default)]
struct FaultQueue {
    next: VecDeque<AuditorFault>,
    always: Option<AuditorFault>,
}

/// A shared handle on the simulator's faults.
#[derive(Debug, Clone, Default)]
pub struct AuditorFaults {
    queue: Arc<Mutex<FaultQueue>>,
}

impl AuditorFaults {
    /// Queues `fault` for the next API request not already claimed by a queued fault.
    pub fn push(&self, fault: AuditorFault) {
        self.lock().next.push_back(fault);
    }

    /// Queues `fault` for the next `times` requests.
    pub fn push_times(&self, fault: AuditorFault, times: usize) {
        let mut queue = self.lock();
        for _ in 0..times {
            queue.next.push_back(fault.clone());
        }
    }

    /// Applies `fault` to every API request (after the queued ones); `None` stops it.
    pub fn set_always(&self, fault: Option<AuditorFault>) {
        self.lock().always = fault;
    }

    /// Removes every queued and permanent fault.
    pub fn clear(&self) {
        let mut queue = self.lock();
        queue.next.clear();
        queue.always = None;
    }

    /// Replaces the configuration with the one of a `POST /__simulator/faults` body.
    pub fn apply(&self, request: FaultRequest) {
        let mut queue = self.lock();
        queue.next = request.next.into();
        queue.always = request.always;
    }

    /// The fault for the request being served, if any.
    pub(crate) fn take(&self) -> Option<AuditorFault> {
        let mut queue = self.lock();
        queue.next.pop_front().or_else(|| queue.always.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultQueue> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

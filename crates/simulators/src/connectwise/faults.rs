//! Run-time fault injection for the ConnectWise simulator.
//!
//! The product's retry, back-off and codebase-rediscovery paths only run when ConnectWise misbehaves, so
//! the simulator can be told, while it runs, to answer 429 with `Retry-After`, 500, 503, to answer slowly,
//! to do the work and then hold the answer back (so a client can die between a write and learning of
//! it), or to move to a new codebase. Faults are switched through the library handle (`Faults`) or over
//! HTTP (`POST`/`DELETE /__simulator/faults`), and can be limited to a number of requests, a path
//! pattern and a method.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// `429 Too Many Requests` with `Retry-After: retry_after_secs`.
    RateLimited { retry_after_secs: u64 },
    /// `500` with a `ConnectWiseApi` error body.
    ServerError {
        #[serde(default)]
        message: Option<String>,
    },
    /// `503 Service Unavailable`.
    Unavailable,
    /// Waits `millis` before answering normally, so a client with a shorter timeout times out.
    Delay { millis: u64 },
    /// Serves the request (the write is done) and then holds the answer back for `millis`: the
    /// window in which a client that dies, or times out, cannot know that its write happened.
    HoldResponse { millis: u64 },
    /// The site moved to `new_codebase` (for example `v2025_2/`): every other codebase answers 404 and
    /// `/login/companyinfo` reports the new one, until the fault is cleared.
    CodebaseChanged { new_codebase: String },
}

/// One injected fault with its scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it affects; `None` means until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Only requests whose path (full, or below `/apis/3.0`) starts with this, case-insensitively.
    /// A `*` segment stands for any one segment: `/service/tickets/*/notes` matches the notes of
    /// every ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Only requests with this HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// The members `POST /__simulator/faults` understands; anything else is a typo worth reporting.
pub(crate) const FAULT_MEMBERS: &[&str] = &[
    "kind",
    "retry_after_secs",
    "message",
    "millis",
    "new_codebase",
    "count",
    "path_prefix",
    "method",
];

impl Fault {
    fn of(kind: FaultKind) -> Fault {
        Fault {
            kind,
            count: None,
            path_prefix: None,
            method: None,
        }
    }

    /// 429 with `Retry-After: seconds`.
    pub fn rate_limited(retry_after_secs: u64) -> Fault {
        Fault::of(FaultKind::RateLimited { retry_after_secs })
    }

    /// 500 `ConnectWiseApi`.
    pub fn server_error() -> Fault {
        Fault::of(FaultKind::ServerError { message: None })
    }

    /// 503.
    pub fn unavailable() -> Fault {
        Fault::of(FaultKind::Unavailable)
    }

    /// Answers after `delay`.
    pub fn delay(delay: Duration) -> Fault {
        Fault::of(FaultKind::Delay {
            millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Serves the request, then holds the answer back for `hold`.
    pub fn hold_response(hold: Duration) -> Fault {
        Fault::of(FaultKind::HoldResponse {
            millis: u64::try_from(hold.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Moves the site to another codebase.
    pub fn codebase_changed(new_codebase: impl Into<String>) -> Fault {
        Fault::of(FaultKind::CodebaseChanged {
            new_codebase: new_codebase.into(),
        })
    }

    /// Limits the fault to the next `count` matching requests.
    pub fn times(mut self, count: u32) -> Fault {
        self.count = Some(count);
        self
    }

    /// Limits the fault to paths starting with `prefix`.
    pub fn on_path(mut self, prefix: impl Into<String>) -> Fault {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Limits the fault to one HTTP method.
    pub fn on_method(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }

    /// Problems that make the fault meaningless, named for the person who sent it.
    pub fn problem(&self) -> Option<String> {
        match &self.kind {
            FaultKind::CodebaseChanged { new_codebase } => {
                let trimmed = new_codebase.trim_matches('/');
                if trimmed.is_empty() || trimmed.contains('/') {
                    return Some(format!(
                        "new_codebase must be one path segment such as \"v2025_2/\", not {new_codebase:?}"
                    ));
                }
            }
            FaultKind::RateLimited { .. }
            | FaultKind::ServerError { .. }
            | FaultKind::Unavailable
            | FaultKind::Delay { .. }
            | FaultKind::HoldResponse { .. } => {}
        }
        if self.count == Some(0) {
            return Some(
                "count must be at least 1 (leave it out to keep the fault until cleared)".into(),
            );
        }
        None
    }

    fn applies_to(&self, method: &str, full_path: &str, api_path: Option<&str>) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = self.path_prefix.as_deref().is_none_or(|prefix| {
            path_matches(prefix, full_path) || api_path.is_some_and(|p| path_matches(prefix, p))
        });
        method_ok && path_ok
    }
}

/// Whether `path` starts with `pattern`, case-insensitively, a `*` segment of the pattern standing
/// for any one segment of the path.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let path = path.to_ascii_lowercase();
    if !pattern.split('/').any(|segment| segment == "*") {
        return path.starts_with(&pattern);
    }
    let wanted: Vec<&str> = pattern.split('/').collect();
    let given: Vec<&str> = path.split('/').collect();
    if given.len() < wanted.len() {
        return false;
    }
    let last = wanted.len() - 1;
    wanted
        .iter()
        .zip(&given)
        .enumerate()
        .all(|(index, (want, got))| {
            *want == "*" || (index == last && got.starts_with(want)) || want == got
        })
}

#[derive(Debug, Default)]
struct FaultTable {
    active: Vec<Fault>,
    new_codebase: Option<String>,
}

/// Shared handle to the simulator's fault switches; clones control the same simulator.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    table: Arc<Mutex<FaultTable>>,
    holds: Arc<HoldCounters>,
}

/// How many answers a `HoldResponse` fault is holding back now, and has held in all.
#[derive(Debug, Default)]
struct HoldCounters {
    now: AtomicU64,
    total: AtomicU64,
}

/// Counts one held answer while it lives; dropped when the answer is sent or the client is gone.
pub(crate) struct HoldGuard {
    holds: Arc<HoldCounters>,
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.holds.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Faults {
    fn table(&self) -> MutexGuard<'_, FaultTable> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a fault; faults are tried in the order they were added.
    pub fn inject(&self, fault: Fault) {
        let mut table = self.table();
        if let FaultKind::CodebaseChanged { new_codebase } = &fault.kind {
            table.new_codebase = Some(format!("{}/", new_codebase.trim_matches('/')));
        }
        table.active.push(fault);
    }

    /// Removes every fault, including a codebase change.
    pub fn clear(&self) {
        let mut table = self.table();
        table.active.clear();
        table.new_codebase = None;
    }

    /// The faults still active (with their remaining counts).
    pub fn active(&self) -> Vec<Fault> {
        self.table().active.clone()
    }

    /// How many answers are being held back right now by a `HoldResponse` fault (their writes are
    /// done, their clients do not know yet).
    pub fn holding(&self) -> u64 {
        self.holds.now.load(Ordering::SeqCst)
    }

    /// How many answers a `HoldResponse` fault has held back since the simulator started.
    pub fn held_total(&self) -> u64 {
        self.holds.total.load(Ordering::SeqCst)
    }

    /// Starts holding one answer back; counted until the guard is dropped.
    pub(crate) fn hold(&self) -> HoldGuard {
        self.holds.now.fetch_add(1, Ordering::SeqCst);
        self.holds.total.fetch_add(1, Ordering::SeqCst);
        HoldGuard {
            holds: self.holds.clone(),
        }
    }

    /// The codebase a `CodebaseChanged` fault moved the site to, with its trailing `/`.
    pub fn changed_codebase(&self) -> Option<String> {
        self.table().new_codebase.clone()
    }

    /// Picks the first fault matching the request and uses up one of its requests.
    pub(crate) fn take(
        &self,
        method: &str,
        full_path: &str,
        api_path: Option<&str>,
    ) -> Option<FaultKind> {
        let mut table = self.table();
        let index = table.active.iter().position(|fault| {
            !matches!(fault.kind, FaultKind::CodebaseChanged { .. })
                && fault.applies_to(method, full_path, api_path)
        })?;
        let fault = &mut table.active[index];
        let kind = fault.kind.clone();
        if let Some(count) = fault.count.as_mut() {
            *count = count.saturating_sub(1);
            if *count == 0 {
                table.active.remove(index);
            }
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_expire_and_scoped_faults_skip_other_requests() {
        let faults = Faults::default();
        faults.inject(
            Fault::server_error()
                .times(2)
                .on_path("/service/tickets")
                .on_method("post"),
        );
        assert_eq!(faults.take("GET", "/x", Some("/service/tickets")), None);
        assert_eq!(faults.take("POST", "/x", Some("/service/boards")), None);
        assert!(faults
            .take("POST", "/x", Some("/service/tickets"))
            .is_some());
        assert!(faults
            .take("POST", "/x", Some("/Service/Tickets/5"))
            .is_some());
        assert_eq!(faults.take("POST", "/x", Some("/service/tickets")), None);
        assert!(faults.active().is_empty());
    }

    #[test]
    fn a_star_segment_matches_any_one_segment() {
        let faults = Faults::default();
        faults.inject(
            Fault::hold_response(Duration::from_millis(5))
                .on_path("/service/tickets/*/notes")
                .on_method("POST"),
        );
        assert_eq!(faults.take("POST", "/x", Some("/service/tickets")), None);
        assert_eq!(faults.take("POST", "/x", Some("/service/tickets/7")), None);
        assert_eq!(
            faults.take("POST", "/x", Some("/service/tickets/7/Notes")),
            Some(FaultKind::HoldResponse { millis: 5 })
        );
        assert!(faults
            .take("POST", "/x", Some("/service/tickets/8/notes/"))
            .is_some());
        assert!(path_matches("/system/doc", "/system/documents"));
        assert!(!path_matches("/*/documents", "/system"));
    }

    #[test]
    fn fault_json_uses_a_kind_tag() {
        let fault: Fault =
            serde_json::from_str(r#"{"kind":"rate_limited","retry_after_secs":3,"count":1}"#)
                .unwrap();
        assert_eq!(fault, Fault::rate_limited(3).times(1));
        assert_eq!(
            Fault::codebase_changed("a/b").problem().unwrap(),
            "new_codebase must be one path segment such as \"v2025_2/\", not \"a/b\""
        );
    }
}

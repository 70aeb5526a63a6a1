//! Rule 1, intake dedup: Auditor repeats its response action (up to 200 times) until it sees exit
//! code 0, so an alert already accepted under the same (source, source alert id) within
//! `activity_record_requests.keep` is acknowledged and ignored.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Whether an incoming alert is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupDecision {
    /// Store and process it.
    Accept {
        /// Why.
        reason: String,
    },
    /// Acknowledge it and do nothing.
    Duplicate {
        /// Why.
        reason: String,
    },
}

/// Decides about an alert whose id was last accepted at `previously_accepted_at` (if ever).
/// Within `keep` (inclusive) it is a duplicate; after that the id has been forgotten and the alert
/// counts as new.
pub fn dedup(
    previously_accepted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    keep: Duration,
) -> DedupDecision {
    match previously_accepted_at {
        None => DedupDecision::Accept {
            reason: "first time this source alert id is seen".to_string(),
        },
        Some(at) if crate::clock::add(at, keep) >= now => DedupDecision::Duplicate {
            reason: format!(
                "already accepted at {} (within the {} dedup window); a source retry",
                at.to_rfc3339(),
                crate::duration::format_duration(keep)
            ),
        },
        Some(at) => DedupDecision::Accept {
            reason: format!(
                "last accepted at {}, older than the {} dedup window",
                at.to_rfc3339(),
                crate::duration::format_duration(keep)
            ),
        },
    }
}

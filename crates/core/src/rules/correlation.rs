//! Rule 5, correlation: a new ticket's description gets one `correlation_format` line per earlier
//! incident of the same key within `correlation_interval`, so the technician sees the history.
//! The window is inclusive: an incident opened exactly `correlation_interval` ago is listed.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::sub;
use crate::template::Template;

/// An earlier ticket of the same alert key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlierTicket {
    /// Its ConnectWise id.
    pub ticket_id: i64,
    /// When its incident was opened.
    pub opened_at: DateTime<Utc>,
}

/// The correlation lines for a ticket opened at `now`, oldest first. `lookup` fills the other
/// placeholders of the format (those of the alert); `%id%` is the earlier ticket's id.
pub fn lines(
    history: &[EarlierTicket],
    now: DateTime<Utc>,
    interval: Duration,
    format: &Template,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let since = sub(now, interval);
    let mut earlier: Vec<&EarlierTicket> = history
        .iter()
        .filter(|entry| entry.opened_at >= since && entry.opened_at <= now)
        .collect();
    earlier.sort_by_key(|entry| (entry.opened_at, entry.ticket_id));
    earlier.dedup_by_key(|entry| entry.ticket_id);
    earlier
        .into_iter()
        .map(|entry| {
            format.render(|name| {
                if name == crate::template::CORRELATION_PLACEHOLDER {
                    Some(entry.ticket_id.to_string())
                } else {
                    lookup(name)
                }
            })
        })
        .collect()
}

//! What a security summary report says, computed from mspbridge's own records.
//!
//! The report needs no outside system: alerts (with the activity records stored in their payloads)
//! give the counts by type and by day and the busiest accounts and systems; the ticket events the
//! engine recorded give the tickets opened, updated and reopened. Both are kept as per-client daily
//! roll-ups by the store (see [`mspbridge_store::rollup`]), so a report over days whose raw alerts
//! retention has forgotten still has every count. Everything here is counted in the
//! order the data arrives and sorted deterministically, so the same data always renders the same
//! report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use mspbridge_core::events;
use mspbridge_store::rollup::alert_counts;
use mspbridge_store::{AlertFilter, AlertState, EventFilter, RollupKind, Store, StoreError};
use serde_json::Value;

/// How many entries the top-accounts and top-systems tables show.
pub const TOP_ENTRIES: usize = 10;
/// Alerts read from the store per page.
const ALERT_PAGE: u32 = 1000;
/// Most ticket events read per code for one report.
const EVENT_LIMIT: u32 = 100_000;

/// The period a report covers: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    /// First instant covered.
    pub start: DateTime<Utc>,
    /// First instant no longer covered.
    pub end: DateTime<Utc>,
}

impl ReportPeriod {
    /// The `days` days that end at `end`.
    pub fn days_before(end: DateTime<Utc>, days: u32) -> ReportPeriod {
        ReportPeriod {
            start: end - chrono::Duration::days(i64::from(days)),
            end,
        }
    }

    /// Whether `at` falls inside the period.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// Whether the whole UTC day `day` falls inside the period.
    pub fn covers_day(&self, day: NaiveDate) -> bool {
        let midnight = |day: NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
        day.succ_opt()
            .is_some_and(|next| self.start <= midnight(day) && midnight(next) <= self.end)
    }

    /// Every calendar day (UTC) the period touches, oldest first.
    pub fn days(&self) -> Vec<NaiveDate> {
        let mut days = Vec::new();
        let mut day = self.start.date_naive();
        let last = (self.end - chrono::Duration::microseconds(1)).date_naive();
        while day <= last && self.start < self.end {
            days.push(day);
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        days
    }
}

/// Ticket activity in the period, from the engine's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketActivity {
    /// Tickets created.
    pub opened: u64,
    /// Tickets updated with consolidated alerts.
    pub updated: u64,
    /// Closed tickets reopened.
    pub reopened: u64,
    /// Flood tickets opened.
    pub flood: u64,
}

/// Everything one report shows. Names are raw (unescaped) values from alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportData {
    /// Client.
    pub client: String,
    /// Period covered.
    pub period: ReportPeriod,
    /// Alerts in the period.
    pub total_alerts: u64,
    /// Alerts per alert name, most frequent first (ties by name).
    pub by_type: Vec<(String, u64)>,
    /// Alerts per UTC day, every day of the period present.
    pub per_day: Vec<(NaiveDate, u64)>,
    /// Accounts (Who) with the most activity records, at most [`TOP_ENTRIES`].
    pub top_accounts: Vec<(String, u64)>,
    /// Systems (Workstation / Where) with the most activity records, at most [`TOP_ENTRIES`].
    pub top_systems: Vec<(String, u64)>,
    /// Every system the report has data for, sorted (their configurations get related items).
    pub systems: Vec<String>,
    /// Ticket activity.
    pub tickets: TicketActivity,
}

/// The ticket events a report counts.
const TICKET_EVENTS: [u32; 4] = [
    events::TICKET_CREATED,
    events::TICKET_UPDATED,
    events::TICKET_REOPENED,
    events::FLOOD_TICKET_OPENED,
];

/// Counts the alerts and ticket events of `client` in `period`.
///
/// Whole UTC days inside the period are read from the store's daily roll-ups, which are written
/// as alerts are decided and events recorded and outlive the retention of the raw rows; the
/// alerts not decided yet (still queued, or unrouted with a client), and the alerts and events of
/// a day the period covers only in part, are counted from the raw rows.
pub async fn collect(
    store: &dyn Store,
    client: &str,
    period: ReportPeriod,
) -> Result<ReportData, StoreError> {
    let mut counter = Counter::default();
    let mut tickets = TicketActivity::default();
    let whole: BTreeSet<NaiveDate> = period
        .days()
        .into_iter()
        .filter(|day| period.covers_day(*day))
        .collect();
    if let (Some(first), Some(last)) = (whole.first(), whole.last()) {
        for row in store.report_rollups(client, *first, *last).await? {
            match row.kind {
                RollupKind::Type => counter.add_alerts(&row.name, row.day, row.count),
                RollupKind::Account => *counter.accounts.entry(row.name).or_default() += row.count,
                RollupKind::System => *counter.systems.entry(row.name).or_default() += row.count,
                RollupKind::Event => {
                    if let Ok(code) = row.name.parse::<u32>() {
                        tickets.add(code, row.count);
                    }
                }
            }
        }
    }
    let mut after_id = None;
    loop {
        let page = store
            .list_alerts(
                AlertFilter {
                    client: Some(client.to_string()),
                    after_id,
                    ..AlertFilter::default()
                },
                ALERT_PAGE,
            )
            .await?;
        let Some(last) = page.last() else { break };
        after_id = Some(last.id);
        for alert in page.iter().filter(|alert| {
            period.contains(alert.occurred_at)
                && (alert.state != AlertState::Processed
                    || !whole.contains(&alert.occurred_at.date_naive()))
        }) {
            counter.add(
                &alert.alert_name,
                alert.occurred_at.date_naive(),
                &alert.payload,
            );
        }
        if page.len() < ALERT_PAGE as usize {
            break;
        }
    }
    for code in TICKET_EVENTS {
        let found = store
            .list_events(EventFilter {
                code: Some(code),
                client: Some(client.to_string()),
                since: Some(period.start),
                limit: Some(EVENT_LIMIT),
            })
            .await?;
        let partial_days = found
            .iter()
            .filter(|event| period.contains(event.at) && !whole.contains(&event.at.date_naive()))
            .count();
        tickets.add(code, partial_days as u64);
    }
    Ok(counter.finish(client, period, tickets))
}

impl TicketActivity {
    /// Adds `n` events of `code`; a code that is not a ticket event is not counted.
    fn add(&mut self, code: u32, n: u64) {
        let slot = match code {
            events::TICKET_CREATED => &mut self.opened,
            events::TICKET_UPDATED => &mut self.updated,
            events::TICKET_REOPENED => &mut self.reopened,
            events::FLOOD_TICKET_OPENED => &mut self.flood,
            _ => return,
        };
        *slot += n;
    }
}

#[derive(Default)]
struct Counter {
    total: u64,
    by_type: BTreeMap<String, u64>,
    per_day: BTreeMap<NaiveDate, u64>,
    accounts: BTreeMap<String, u64>,
    systems: BTreeMap<String, u64>,
}

impl Counter {
    fn add_alerts(&mut self, alert_name: &str, day: NaiveDate, n: u64) {
        self.total += n;
        *self.by_type.entry(alert_name.to_string()).or_default() += n;
        *self.per_day.entry(day).or_default() += n;
    }

    fn add(&mut self, alert_name: &str, day: NaiveDate, payload: &Value) {
        for (kind, name) in alert_counts(alert_name, payload) {
            match kind {
                RollupKind::Type => self.add_alerts(&name, day, 1),
                RollupKind::Account => *self.accounts.entry(name).or_default() += 1,
                RollupKind::System => *self.systems.entry(name).or_default() += 1,
                RollupKind::Event => {}
            }
        }
    }

    fn finish(self, client: &str, period: ReportPeriod, tickets: TicketActivity) -> ReportData {
        let per_day = period
            .days()
            .into_iter()
            .map(|day| (day, self.per_day.get(&day).copied().unwrap_or(0)))
            .collect();
        let systems = self.systems.keys().cloned().collect();
        ReportData {
            client: client.to_string(),
            period,
            total_alerts: self.total,
            by_type: ranked(self.by_type, usize::MAX),
            per_day,
            top_accounts: ranked(self.accounts, TOP_ENTRIES),
            top_systems: ranked(self.systems, TOP_ENTRIES),
            systems,
            tickets,
        }
    }
}

/// Most frequent first, ties by name, at most `keep`.
fn ranked(counts: BTreeMap<String, u64>, keep: usize) -> Vec<(String, u64)> {
    let mut entries: Vec<(String, u64)> = counts.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(keep);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn a_week_has_seven_days_and_boundaries_are_half_open() {
        let period = ReportPeriod::days_before(at(8, 0), 7);
        assert_eq!(period.days().len(), 7);
        assert!(period.contains(at(1, 0)));
        assert!(!period.contains(at(8, 0)));
        let partial = ReportPeriod {
            start: at(1, 12),
            end: at(3, 6),
        };
        assert_eq!(partial.days().len(), 3);
    }

    #[test]
    fn records_are_found_under_every_payload_shape() {
        let mut counter = Counter::default();
        let day = at(1, 0).date_naive();
        counter.add(
            "Password Reset",
            day,
            &json!({"records": [{"Who": "CORP\\alice", "Workstation": "WS-01", "Where": "DC-01"}]}),
        );
        counter.add(
            "Password Reset",
            day,
            &json!({"activity_records": [{"who": "CORP\\alice", "workstation": "ws-01", "where_": "WS-01"}]}),
        );
        counter.add("Login", day, &json!({"Who": "  ", "Where": "DC-01"}));
        counter.add("Login", day, &json!("not an object"));
        let data = counter.finish(
            "acme",
            ReportPeriod::days_before(at(2, 0), 1),
            TicketActivity::default(),
        );
        assert_eq!(data.total_alerts, 4);
        assert_eq!(
            data.by_type,
            vec![("Login".to_string(), 2), ("Password Reset".to_string(), 2)]
        );
        assert_eq!(data.top_accounts, vec![("CORP\\alice".to_string(), 2)]);
        assert_eq!(
            data.top_systems,
            vec![
                ("DC-01".to_string(), 2),
                ("WS-01".to_string(), 1),
                ("ws-01".to_string(), 1)
            ],
            "a record naming the same system as workstation and where counts once"
        );
        assert_eq!(data.per_day, vec![(day, 4)]);
    }
}

//! Scheduled reports: each `[[reports]]` entry generates one report per listed client at the end
//! of every day, week (Monday to Monday) or calendar month, UTC.
//!
//! Several `serve` processes may share one database, and each runs this scheduler; a period's
//! report must still be generated once. The last period generated for an entry and client is kept
//! in the store's kv table, and a process only generates after winning the compare-and-put that
//! moves it forward. If generation then fails, the marker is moved back so the next pass retries.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, TimeZone, Utc};
use mspbridge_core::clock::Clock;
use mspbridge_core::config::{Config, ReportConfig, ReportSchedule};
use mspbridge_store::{ReportMeta, Store};
use serde_json::{json, Value};

use super::data::ReportPeriod;
use super::generate::{generate_report, GenerateRequest};
use super::publish::{request_publish, PublishRequest};
use super::ReportError;

/// The latest complete period of `schedule` at `now`.
pub fn latest_period(schedule: ReportSchedule, now: DateTime<Utc>) -> ReportPeriod {
    let today = now.date_naive();
    let (start, end) = match schedule {
        ReportSchedule::Daily => (today - Span::days(1), today),
        ReportSchedule::Weekly => {
            let monday = today - Span::days(i64::from(today.weekday().num_days_from_monday()));
            (monday - Span::days(7), monday)
        }
        ReportSchedule::Monthly => {
            let first = first_of_month(today.year(), today.month());
            let previous = if first.month() == 1 {
                first_of_month(first.year() - 1, 12)
            } else {
                first_of_month(first.year(), first.month() - 1)
            };
            (previous, first)
        }
    };
    ReportPeriod {
        start: midnight(start),
        end: midnight(end),
    }
}

/// When the period after the latest complete one at `now` ends.
pub fn next_boundary(schedule: ReportSchedule, now: DateTime<Utc>) -> DateTime<Utc> {
    let end = latest_period(schedule, now).end;
    match schedule {
        ReportSchedule::Daily => end + Span::days(1),
        ReportSchedule::Weekly => end + Span::days(7),
        ReportSchedule::Monthly => {
            let day = end.date_naive();
            let next = if day.month() == 12 {
                first_of_month(day.year() + 1, 1)
            } else {
                first_of_month(day.year(), day.month() + 1)
            };
            midnight(next)
        }
    }
}

fn first_of_month(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn marker_key(entry: &ReportConfig, client: &str) -> String {
    format!("reports/schedule/{}/{}", entry.name, client)
}

/// Generates every scheduled report whose period has ended and that no process generated yet,
/// and asks for it to be published when its entry says so. Returns the reports made.
pub async fn run_due_schedules(
    store: &Arc<dyn Store>,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<ReportMeta>, ReportError> {
    let mut made = Vec::new();
    for entry in &config.reports {
        let period = latest_period(entry.schedule, now);
        let marker = json!(period.end.to_rfc3339());
        for client in &entry.clients {
            let key = marker_key(entry, client);
            let current = store.get_kv(&key).await?;
            if current
                .as_ref()
                .and_then(Value::as_str)
                .and_then(parse_marker)
                >= Some(period.end)
            {
                continue;
            }
            if !store
                .compare_and_put_kv(&key, current.clone(), marker.clone())
                .await?
            {
                // Another process took this period.
                continue;
            }
            let request = GenerateRequest {
                client: client.clone(),
                name: entry.name.clone(),
                period,
                expires_after: Some(entry.expires_after),
            };
            let report = match generate_report(store.as_ref(), config, &request, now).await {
                Ok(report) => report,
                Err(error) => {
                    let restored = match current {
                        Some(previous) => store
                            .compare_and_put_kv(&key, Some(marker.clone()), previous)
                            .await
                            .map(|_| ()),
                        None => store.put_kv(&key, Value::Null).await,
                    };
                    if let Err(restore_error) = restored {
                        tracing::error!(%restore_error, key, "could not reset the report schedule marker");
                    }
                    return Err(error);
                }
            };
            if entry.publish_to_itglue {
                if let PublishRequest::Refused { reason } =
                    request_publish(store, config, report.id, now).await?
                {
                    tracing::warn!(
                        report_id = report.id,
                        reason,
                        "scheduled report not published"
                    );
                }
            }
            made.push(
                store
                    .get_report(report.id)
                    .await?
                    .map_or(report, |r| r.meta),
            );
        }
    }
    Ok(made)
}

fn parse_marker(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Runs the schedules until `stop` turns true: a pass now, then one at each period boundary
/// (checked at least every `recheck`, so a clock change or a config with new entries is noticed).
/// `publish_wake` is called when a pass queued publish jobs (it wakes the job runner).
pub async fn run_report_scheduler(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    publish_wake: Arc<dyn Fn() + Send + Sync>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    recheck: Duration,
) {
    while !*stop.borrow() {
        let now = clock.now();
        match run_due_schedules(&store, &config, now).await {
            Ok(made) if !made.is_empty() => {
                tracing::info!(reports = made.len(), "scheduled reports generated");
                publish_wake();
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "scheduled report generation failed"),
        }
        let next = config
            .reports
            .iter()
            .map(|entry| next_boundary(entry.schedule, now))
            .min();
        let wait = next
            .and_then(|at| (at - now).to_std().ok())
            .unwrap_or(recheck)
            .min(recheck);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn periods_are_the_last_complete_day_week_and_month() {
        // 2026-03-04 is a Wednesday.
        let now = at(2026, 3, 4, 10);
        let daily = latest_period(ReportSchedule::Daily, now);
        assert_eq!(
            (daily.start, daily.end),
            (at(2026, 3, 3, 0), at(2026, 3, 4, 0))
        );
        let weekly = latest_period(ReportSchedule::Weekly, now);
        assert_eq!(
            (weekly.start, weekly.end),
            (at(2026, 2, 23, 0), at(2026, 3, 2, 0))
        );
        let monthly = latest_period(ReportSchedule::Monthly, now);
        assert_eq!(
            (monthly.start, monthly.end),
            (at(2026, 2, 1, 0), at(2026, 3, 1, 0))
        );
        let january = latest_period(ReportSchedule::Monthly, at(2026, 1, 15, 0));
        assert_eq!(january.start, at(2025, 12, 1, 0));
        assert_eq!(
            next_boundary(ReportSchedule::Monthly, at(2026, 12, 5, 0)),
            at(2027, 1, 1, 0)
        );
        assert_eq!(
            next_boundary(ReportSchedule::Weekly, now),
            at(2026, 3, 9, 0)
        );
        assert_eq!(next_boundary(ReportSchedule::Daily, now), at(2026, 3, 5, 0));
    }
}

//! Rule 8, retention: how long mspbridge remembers what, and how often it forgets.
//!
//! Incidents must outlive both the update window (a repeat must find its ticket) and the
//! correlation window (a new ticket must find earlier ones), so they are kept for the longer of
//! the two. Accepted alert ids and ticket requests follow their configured `keep` and `limit`.
//!
//! The store is bounded at all times, not once an hour: a pass runs when the service starts and
//! then every [`pass_interval`] (a quarter of the shortest `keep`, at most a minute, unless
//! `[retention] every` says otherwise), so no table outgrows its `limit` by more than one pass's
//! intake. Everything here is a pure function of the configuration and the clock; the store
//! executes the plan.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, ReportSchedule, RetentionLimit, RulesConfig};

/// Longest period a security summary report covers by default (a month).
pub const LONGEST_REPORT_PERIOD: Duration = Duration::from_secs(31 * 24 * 3600);
/// How much longer than the longest report period the daily roll-ups are kept.
pub const ROLLUP_MARGIN: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest time between two retention passes when `[retention] every` is not set.
pub const MAX_PASS_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest time between two retention passes.
pub const MIN_PASS_INTERVAL: Duration = Duration::from_secs(1);

/// What to keep, derived from `[rules]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPlan {
    /// Accepted (processed) alert ids: the intake dedup memory.
    pub alerts: RetentionLimit,
    /// Ticket requests (`externalXRef` → ticket).
    pub ticket_requests: RetentionLimit,
    /// Incidents and their ticket history.
    pub incidents: Duration,
}

/// `max(update_interval, correlation_interval)`.
pub fn incident_retention(rules: &RulesConfig) -> Duration {
    rules.update_interval.max(rules.correlation_interval)
}

/// The retention plan of `rules`.
pub fn plan(rules: &RulesConfig) -> RetentionPlan {
    RetentionPlan {
        alerts: rules.activity_record_requests,
        ticket_requests: rules.ticket_requests,
        incidents: incident_retention(rules),
    }
}

/// Everything one retention pass may forget: [`plan`] plus the tables `[rules]` says nothing
/// about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorePlan {
    /// Alerts, ticket requests and incidents, from `[rules]`.
    pub rules: RetentionPlan,
    /// Events: `[retention] events` and `events_limit`.
    pub events: RetentionLimit,
    /// Finished jobs, by the time they finished.
    pub done_jobs: Duration,
    /// Per-client daily report roll-ups: the longest report period plus [`ROLLUP_MARGIN`].
    pub rollups: Duration,
    /// Time between two passes.
    pub every: Duration,
}

/// The store-wide retention plan of `config`.
pub fn store_plan(config: &Config) -> StorePlan {
    StorePlan {
        rules: plan(&config.rules),
        events: RetentionLimit {
            limit: config.retention.events_limit,
            keep: config.retention.events,
        },
        done_jobs: config.retention.jobs,
        rollups: rollup_retention(config),
        every: pass_interval(config),
    }
}

/// How long daily roll-ups are kept: the longest scheduled report period (at least a month, the
/// longest ad-hoc report commonly asked for) plus a week's margin for a late or re-run report.
pub fn rollup_retention(config: &Config) -> Duration {
    let longest = config
        .reports
        .iter()
        .map(|report| schedule_period(report.schedule))
        .fold(LONGEST_REPORT_PERIOD, Duration::max);
    longest + ROLLUP_MARGIN
}

/// The longest period one report of `schedule` covers.
pub fn schedule_period(schedule: ReportSchedule) -> Duration {
    const DAY: u64 = 24 * 3600;
    Duration::from_secs(match schedule {
        ReportSchedule::Daily => DAY,
        ReportSchedule::Weekly => 7 * DAY,
        ReportSchedule::Monthly => 31 * DAY,
    })
}

/// Time between two retention passes: `[retention] every` when set, else a quarter of the
/// shortest `keep` of alerts and ticket requests, at most [`MAX_PASS_INTERVAL`]; never below
/// [`MIN_PASS_INTERVAL`].
pub fn pass_interval(config: &Config) -> Duration {
    let derived = || {
        let keep = config
            .rules
            .activity_record_requests
            .keep
            .min(config.rules.ticket_requests.keep);
        (keep / 4).min(MAX_PASS_INTERVAL)
    };
    config
        .retention
        .every
        .unwrap_or_else(derived)
        .max(MIN_PASS_INTERVAL)
}

/// When retention passes are due: the first at once, then one every `every` after the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassTimer {
    every: Duration,
    last: Option<DateTime<Utc>>,
}

impl PassTimer {
    /// A timer whose first pass is due at once.
    pub fn new(every: Duration) -> PassTimer {
        PassTimer { every, last: None }
    }

    /// Changes the interval (after a configuration reload); the last pass is kept.
    pub fn set_every(&mut self, every: Duration) {
        self.every = every;
    }

    /// When the next pass is due (`None`: now, nothing has run yet).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.last.map(|last| crate::clock::add(last, self.every))
    }

    /// Whether a pass is due at `now`; if so, records it as started at `now`.
    pub fn start_if_due(&mut self, now: DateTime<Utc>) -> bool {
        let due = self.next_due().is_none_or(|at| at <= now);
        if due {
            self.last = Some(now);
        }
        due
    }

    /// How long from `now` until the next pass is due (zero when it is due).
    pub fn wait(&self, now: DateTime<Utc>) -> Duration {
        self.next_due()
            .and_then(|at| (at - now).to_std().ok())
            .unwrap_or(Duration::ZERO)
    }
}

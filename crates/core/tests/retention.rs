//! Retention decisions (DESIGN §3 rule 8) over the manual clock: what each table keeps, from the
//! configuration, and when passes are due.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_core::config::{parse_str, Config};
use mspbridge_core::rules::retention::{self, PassTimer};

const DAY: Duration = Duration::from_secs(86_400);

fn config(text: &str) -> Config {
    parse_str(text, "retention.toml").expect("the test configuration is valid")
}

#[test]
fn the_default_plan_covers_every_table() {
    let plan = retention::store_plan(&config(""));
    assert_eq!(plan.rules.alerts.limit, 5000);
    assert_eq!(plan.rules.alerts.keep, 7 * DAY);
    assert_eq!(plan.rules.ticket_requests.limit, 300_000);
    assert_eq!(
        plan.rules.incidents,
        30 * DAY,
        "the longer of update and correlation"
    );
    assert_eq!(plan.events.keep, 90 * DAY);
    assert_eq!(plan.events.limit, 1_000_000);
    assert_eq!(plan.done_jobs, DAY);
    assert_eq!(plan.rollups, 38 * DAY, "a month plus a week's margin");
    assert_eq!(
        plan.every,
        Duration::from_secs(60),
        "a quarter of 7 days, capped at a minute"
    );
}

#[test]
fn keys_change_the_plan_and_bad_values_are_errors() {
    let plan = retention::store_plan(&config(
        r#"
[rules]
activity_record_requests = { limit = 100, keep = "10s" }
correlation_interval = "2d"

[retention]
events = "30d"
events_limit = 500
jobs = "0"
"#,
    ));
    assert_eq!(plan.rules.alerts.limit, 100);
    assert_eq!(plan.every, Duration::from_millis(2500), "keep / 4");
    assert_eq!(plan.rules.incidents, 2 * DAY);
    assert_eq!((plan.events.keep, plan.events.limit), (30 * DAY, 500));
    assert_eq!(plan.done_jobs, Duration::ZERO);

    let every = retention::store_plan(&config("[retention]\nevery = \"5m\"\n"));
    assert_eq!(
        every.every,
        Duration::from_secs(300),
        "an explicit interval wins"
    );
    let tiny = retention::store_plan(&config(
        "[rules]\nactivity_record_requests = { keep = \"2s\" }\n",
    ));
    assert_eq!(tiny.every, Duration::from_secs(1), "never below a second");

    for (text, path) in [
        ("[retention]\nevery = \"0\"\n", "retention.every"),
        ("[retention]\nevents_limit = 0\n", "retention.events_limit"),
        ("[retention]\nevents = \"soon\"\n", "retention.events"),
        ("[retention]\nkeep = \"1d\"\n", "keep"),
    ] {
        let error = parse_str(text, "bad.toml").unwrap_err().to_string();
        assert!(error.contains(path), "{text}: {error}");
    }
}

#[test]
fn roll_ups_outlive_the_longest_report_period() {
    let monthly = config(
        r#"
[[clients]]
name = "Acme"

[[reports]]
name = "Daily"
clients = ["Acme"]
schedule = "daily"
"#,
    );
    assert_eq!(
        retention::rollup_retention(&monthly),
        38 * DAY,
        "ad-hoc monthly reports are covered even when only daily ones are scheduled"
    );
}

#[test]
fn a_pass_runs_at_start_and_then_every_interval() {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap());
    let mut timer = PassTimer::new(Duration::from_secs(60));
    assert_eq!(timer.wait(clock.now()), Duration::ZERO);
    assert!(
        timer.start_if_due(clock.now()),
        "the first pass is due at start"
    );
    assert!(!timer.start_if_due(clock.now()));
    clock.advance(Duration::from_secs(59));
    assert_eq!(timer.wait(clock.now()), Duration::from_secs(1));
    assert!(!timer.start_if_due(clock.now()));
    clock.advance(Duration::from_secs(1));
    assert!(timer.start_if_due(clock.now()));
    // A pass that ran late does not make the next one early.
    clock.advance(Duration::from_secs(90));
    assert!(timer.start_if_due(clock.now()));
    assert_eq!(timer.wait(clock.now()), Duration::from_secs(60));
    timer.set_every(Duration::from_secs(10));
    assert_eq!(timer.wait(clock.now()), Duration::from_secs(10));
}

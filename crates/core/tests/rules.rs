//! The alert-to-ticket rules of DESIGN §3, as tables of cases over a manual clock: every rule and
//! every edge the pipeline relies on.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mspbridge_core::alert::{ActivityRecord, Alert, AlertKey, Detail};
use mspbridge_core::clock::{Clock, ManualClock};
use mspbridge_core::config::{self, defaults, Config, RulesConfig, StatusRef};
use mspbridge_core::rules::content::{self, NOTE_MAX_UTF16_UNITS};
use mspbridge_core::rules::correlation::{self, EarlierTicket};
use mspbridge_core::rules::flood::{self, FloodDecision};
use mspbridge_core::rules::flush::{self, FlushDecision};
use mspbridge_core::rules::intake::{self, DedupDecision};
use mspbridge_core::rules::repeat::{self, IncidentState, RepeatDecision};
use mspbridge_core::rules::resolution::{self, ResolutionDecision, ResolvedIncident};
use mspbridge_core::rules::retention;
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_core::template::{Template, TemplateKind};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
}

fn clock() -> ManualClock {
    ManualClock::new(start())
}

fn at(clock: &ManualClock, offset: Duration) -> DateTime<Utc> {
    clock.now() + chrono::Duration::from_std(offset).unwrap()
}

fn micro() -> chrono::Duration {
    chrono::Duration::microseconds(1)
}

fn record(who: &str, workstation: &str) -> ActivityRecord {
    ActivityRecord {
        who: who.to_string(),
        action: "Modified".to_string(),
        object_type: "user".to_string(),
        what: format!("\\acme\\Users\\{who}"),
        when: "2026-11-23T08:00:00Z".to_string(),
        where_: "DC01.acme.example".to_string(),
        workstation: Some(workstation.to_string()),
        details: vec![Detail {
            property: "pwdLastSet".to_string(),
            before: Some("2026-08-02".to_string()),
            after: Some("2026-11-23".to_string()),
        }],
        data_source: Some("Active Directory".to_string()),
        monitoring_plan: Some("Acme AD".to_string()),
        item: Some("acme.example (Domain)".to_string()),
    }
}

fn alert(name: &str, id: &str, records: Vec<ActivityRecord>) -> Alert {
    Alert {
        source: "auditor-acme".to_string(),
        source_alert_id: id.to_string(),
        alert_name: name.to_string(),
        client: Some("Acme".to_string()),
        occurred_at: start(),
        received_at: start(),
        records,
        fields: Default::default(),
    }
}

fn config(extra: &str) -> Config {
    let text = format!(
        r#"
[connectwise]
site = "https://api-na.myconnectwise.net"
company_id = "acme_msp"
public_key = "public"
private_key = "private"
client_id = "client"

[connectwise.ticket]
company_id = 250
board_id = 3

[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Globex"

{extra}
"#
    );
    config::parse_str(&text, "test.toml").unwrap_or_else(|error| panic!("{error}"))
}

// ---------------------------------------------------------------- rule 1: dedup

#[test]
fn dedup_of_auditor_retries() {
    let clock = clock();
    let keep = 7 * DAY;
    let cases: [(Option<Duration>, Duration, bool); 5] = [
        (None, Duration::ZERO, false),
        (Some(Duration::ZERO), Duration::from_secs(5), true),
        (Some(Duration::ZERO), keep, true),
        (Some(Duration::ZERO), keep + Duration::from_secs(1), false),
        (Some(Duration::ZERO), 200 * MINUTE, true),
    ];
    for (accepted, now, duplicate) in cases {
        let previously = accepted.map(|offset| at(&clock, offset));
        let decision = intake::dedup(previously, at(&clock, now), keep);
        assert_eq!(
            matches!(decision, DedupDecision::Duplicate { .. }),
            duplicate,
            "accepted {accepted:?}, now {now:?}: {decision:?}"
        );
    }
    let DedupDecision::Duplicate { reason } = intake::dedup(Some(start()), start(), keep) else {
        panic!("a retry a moment later is a duplicate");
    };
    assert!(reason.contains("source retry"), "{reason}");
}

// ---------------------------------------------------------------- rule 3: routing

#[test]
fn routing_order_and_unrouted_reasons() {
    let config = config(
        r#"
[routing]
catch_all_client = "Globex"

[[sources]]
name = "hook"
kind = "webhook"
client = "Acme"
"#,
    );
    let hook = config.source("hook");
    let mut named = alert("Password Reset", "1", vec![]);
    named.client = Some("Globex".into());
    let mut unnamed = named.clone();
    unnamed.client = None;
    let mut unknown = named.clone();
    unknown.client = Some("Initech".into());

    let cases = [
        (&named, hook, Some("Globex"), "the alert names client"),
        (&unnamed, hook, Some("Acme"), "default client"),
        (&unnamed, None, Some("Globex"), "catch-all"),
        (&unknown, hook, Some("Acme"), "default client"),
    ];
    for (alert, source, expected, why) in cases {
        match routing::route(alert, source, &config) {
            Routing::Routed { client, reason } => {
                assert_eq!(Some(client.as_str()), expected, "{reason}");
                assert!(reason.contains(why), "{reason}");
            }
            Routing::Unrouted { reason } => panic!("expected {expected:?}, unrouted: {reason}"),
        }
    }
}

#[test]
fn unrouted_then_routed_after_a_config_change() {
    let mut unknown = alert("Password Reset", "1", vec![]);
    unknown.client = Some("Initech".into());
    let before = config("");
    let Routing::Unrouted { reason } = routing::route(&unknown, None, &before) else {
        panic!("Initech is not configured yet");
    };
    assert!(
        reason.contains("\"Initech\", which is not a configured client"),
        "{reason}"
    );
    assert!(
        reason.contains("source \"auditor-acme\" is not configured"),
        "{reason}"
    );

    let after = config("[[clients]]\nname = \"Initech\"\n");
    assert_eq!(
        routing::route(&unknown, None, &after),
        Routing::Routed {
            client: "Initech".into(),
            reason: "the alert names client \"Initech\"".into()
        }
    );
}

// ---------------------------------------------------------------- rules 4/5: repeat

fn incident(last: DateTime<Utc>, buffered: usize) -> IncidentState {
    IncidentState {
        last_alert_at: last,
        buffered,
        flush_scheduled: buffered > 0,
    }
}

#[test]
fn repeat_decisions() {
    let clock = clock();
    let rules = defaults::rules();
    let last = clock.now();
    let exactly = at(&clock, rules.update_interval);
    let cases: Vec<(Option<IncidentState>, DateTime<Utc>, &str)> = vec![
        (None, last, "new"),
        (Some(incident(last, 0)), at(&clock, MINUTE), "start buffer"),
        (Some(incident(last, 3)), at(&clock, MINUTE), "join"),
        // The boundary is inclusive: exactly update_interval later still updates.
        (Some(incident(last, 0)), exactly, "start buffer"),
        (Some(incident(last, 0)), exactly + micro(), "new"),
        (Some(incident(last, 2)), exactly + micro(), "new"),
        // An out-of-order alert (older than the last one) is a repeat.
        (
            Some(incident(last, 0)),
            last - chrono::Duration::minutes(5),
            "start buffer",
        ),
    ];
    for (state, when, expected) in cases {
        let decision = repeat::decide(state.as_ref(), when, &rules);
        let got = match &decision {
            RepeatDecision::NewTicket { .. } => "new",
            RepeatDecision::JoinBuffer {
                schedule_flush_at: Some(flush_at),
                ..
            } => {
                assert_eq!(*flush_at, when + chrono::Duration::minutes(15));
                "start buffer"
            }
            RepeatDecision::JoinBuffer {
                schedule_flush_at: None,
                ..
            } => "join",
        };
        assert_eq!(got, expected, "{state:?} at {when}: {decision:?}");
    }
}

#[test]
fn consolidation_interval_zero_flushes_now() {
    let rules = RulesConfig {
        consolidation_interval: Duration::ZERO,
        ..defaults::rules()
    };
    let now = start() + chrono::Duration::minutes(3);
    let decision = repeat::decide(Some(&incident(start(), 0)), now, &rules);
    let RepeatDecision::JoinBuffer {
        schedule_flush_at: Some(flush_at),
        reason,
    } = decision
    else {
        panic!("a repeat joins the buffer: {decision:?}");
    };
    assert_eq!(flush_at, now);
    assert!(reason.contains("updated now"), "{reason}");
}

#[test]
fn updates_switched_off_always_open_new_tickets() {
    let rules = RulesConfig {
        update_ticket_on_repetitive_alerts: false,
        ..defaults::rules()
    };
    let decision = repeat::decide(Some(&incident(start(), 0)), start(), &rules);
    assert!(matches!(decision, RepeatDecision::NewTicket { ref reason } if reason.contains("off")));
}

// ---------------------------------------------------------------- rule 4: flush

#[test]
fn flush_decisions() {
    let reopen = StatusRef::Id(31);
    let no_reopen = RulesConfig {
        reopen_ticket_on_repetitive_alerts: false,
        ..defaults::rules()
    };
    let cases: [(bool, RulesConfig, Option<&StatusRef>, FlushDecision); 4] = [
        (
            false,
            defaults::rules(),
            Some(&reopen),
            FlushDecision::Update {
                reason: "the ticket is open".into(),
            },
        ),
        (
            true,
            defaults::rules(),
            Some(&reopen),
            FlushDecision::ReopenThenUpdate {
                status: Some(StatusRef::Id(31)),
                reason: "the ticket is closed; reopened to status id 31".into(),
            },
        ),
        (
            true,
            defaults::rules(),
            None,
            FlushDecision::ReopenThenUpdate {
                status: None,
                reason: "the ticket is closed; reopened to the board's default status".into(),
            },
        ),
        (
            false,
            no_reopen.clone(),
            None,
            FlushDecision::Update {
                reason: "the ticket is open".into(),
            },
        ),
    ];
    for (closed, rules, status, expected) in cases {
        assert_eq!(flush::decide(closed, &rules, status), expected);
    }
    // Closed and no reopen: a new ticket carries the buffer.
    assert!(matches!(
        flush::decide(true, &no_reopen, Some(&reopen)),
        FlushDecision::NewTicket { ref reason } if reason.contains("new ticket carries")
    ));
}

#[test]
fn flush_after_reopen_updates_the_same_ticket_again() {
    // After a reopen the ticket is open again, so the next flush is a plain update.
    let rules = defaults::rules();
    let first = flush::decide(true, &rules, Some(&StatusRef::Name("New".into())));
    assert!(matches!(first, FlushDecision::ReopenThenUpdate { .. }));
    let second = flush::decide(false, &rules, Some(&StatusRef::Name("New".into())));
    assert!(matches!(second, FlushDecision::Update { .. }));
}

// ---------------------------------------------------------------- rule 5: flood

#[test]
fn flood_window_counts_inclusively() {
    let clock = clock();
    let created: Vec<DateTime<Utc>> = (0..5).map(|i| at(&clock, i * 10 * MINUTE)).collect();
    let cases = [
        (at(&clock, 40 * MINUTE), 5),
        (at(&clock, HOUR), 5),
        (at(&clock, HOUR) + micro(), 4),
        (at(&clock, HOUR + 30 * MINUTE), 2),
        (at(&clock, 2 * HOUR), 0),
    ];
    for (now, expected) in cases {
        assert_eq!(
            flood::standalone_created_in_window(&created, now, HOUR),
            expected,
            "at {now}"
        );
    }
}

#[test]
fn flood_ticket_created_once_reused_within_its_interval_and_replaced_after_it() {
    let clock = clock();
    let opened = clock.now();
    let cases = [
        (9, None, clock.now(), "standalone"),
        (10, None, clock.now(), "open"),
        (10, Some(opened), at(&clock, 30 * MINUTE), "use"),
        (12, Some(opened), at(&clock, HOUR), "use"),
        (12, Some(opened), at(&clock, HOUR) + micro(), "open"),
        (3, Some(opened), at(&clock, 30 * MINUTE), "standalone"),
    ];
    for (count, flood_opened, now, expected) in cases {
        let decision = flood::decide(count, 10, flood_opened, now, HOUR);
        let got = match &decision {
            FloodDecision::Standalone { .. } => "standalone",
            FloodDecision::OpenFloodTicket { .. } => "open",
            FloodDecision::UseFloodTicket { opened_at, .. } => {
                assert_eq!(Some(*opened_at), flood_opened);
                "use"
            }
        };
        assert_eq!(got, expected, "{count} at {now}: {decision:?}");
    }
    assert!(matches!(
        flood::decide(1000, 0, None, opened, HOUR),
        FloodDecision::Standalone { ref reason } if reason.contains("off")
    ));
}

// ---------------------------------------------------------------- rule 5: correlation

#[test]
fn correlation_window_edges() {
    let clock = clock();
    clock.advance(40 * DAY);
    let now = clock.now();
    let history = [
        EarlierTicket {
            ticket_id: 1,
            opened_at: now - chrono::Duration::days(30) - micro(),
        },
        EarlierTicket {
            ticket_id: 2,
            opened_at: now - chrono::Duration::days(30),
        },
        EarlierTicket {
            ticket_id: 3,
            opened_at: now - chrono::Duration::days(1),
        },
        EarlierTicket {
            ticket_id: 3,
            opened_at: now - chrono::Duration::days(1),
        },
    ];
    let format = Template::parse(defaults::CORRELATION_FORMAT, TemplateKind::Correlation).unwrap();
    let lines = correlation::lines(&history, now, 30 * DAY, &format, |_| None);
    assert_eq!(
        lines,
        [
            "Previous incident for the same alert type: Id: 2",
            "Previous incident for the same alert type: Id: 3"
        ]
    );
    let custom = Template::parse("See #%id% (%AlertName%)", TemplateKind::Correlation).unwrap();
    let lines = correlation::lines(&history[2..3], now, DAY, &custom, |name| {
        (name == "AlertName").then(|| "Password Reset".to_string())
    });
    assert_eq!(lines, ["See #3 (Password Reset)"]);
    assert!(correlation::lines(&history, now, Duration::ZERO, &format, |_| None).is_empty());
}

// ---------------------------------------------------------------- rule 6: templates and content

#[test]
fn placeholders_cover_design_section_3_6() {
    let mut alert = alert("Password Reset", "1", vec![record("ACME\\anna", "WS-14")]);
    alert.fields.insert("severity".into(), "high".into());
    let cases = [
        ("AlertName", "Password Reset"),
        ("Who", "ACME\\anna"),
        ("Action", "Modified"),
        ("ObjectType", "user"),
        ("What", "\\acme\\Users\\ACME\\anna"),
        ("When", "2026-11-23T08:00:00Z"),
        ("Where", "DC01.acme.example"),
        ("Workstation", "WS-14"),
        ("Details", "pwdLastSet: 2026-08-02 -> 2026-11-23"),
        ("DataSource", "Active Directory"),
        ("MonitoringPlanName", "Acme AD"),
        ("Item", "acme.example (Domain)"),
        ("Computer", "bridge01"),
        ("Client", "Acme"),
        ("Source", "auditor-acme"),
        ("Labels", "severity=high"),
        ("Annotations", ""),
    ];
    for (name, expected) in cases {
        assert_eq!(
            alert.placeholder_value(name, "bridge01").as_deref(),
            Some(expected),
            "{name}"
        );
    }
    for name in mspbridge_core::template::TICKET_PLACEHOLDERS {
        assert!(
            cases.iter().any(|(covered, _)| covered == name),
            "{name} untested"
        );
    }
    // Without records, webhook fields of the same name fill the template.
    let mut bare = alert.clone();
    bare.records.clear();
    bare.fields.insert("Who".into(), "svc-backup".into());
    assert_eq!(
        bare.placeholder_value("Who", "h").as_deref(),
        Some("svc-backup")
    );
    assert_eq!(bare.placeholder_value("Workstation", "h"), None);
}

#[test]
fn summary_is_cut_to_100_utf16_units_on_a_character_boundary() {
    let settings = defaults::ticket_settings();
    let long_name = "🔥".repeat(60);
    let alert = alert(&long_name, "1", vec![]);
    let summary = content::summary(&settings, &alert, "h");
    assert!(summary.encode_utf16().count() <= 100, "{summary}");
    assert!(summary.starts_with("[mspbridge] 🔥"));
    assert!(summary.ends_with('🔥'));
    let multi_line = self::alert("a\nb", "2", vec![]);
    assert_eq!(
        content::summary(&settings, &multi_line, "h"),
        "[mspbridge] a b"
    );
}

#[test]
fn description_holds_the_first_record_and_correlation_lines() {
    let settings = defaults::ticket_settings();
    let alert = alert(
        "Password Reset",
        "1",
        vec![record("ACME\\anna", "WS-14"), record("ACME\\bob", "WS-15")],
    );
    let lines = vec!["Previous incident for the same alert type: Id: 7".to_string()];
    let text = content::description(&settings, &alert, "bridge01", &lines, true);
    assert!(text.contains("Who: ACME\\anna"), "{text}");
    assert!(text.contains("Workstation: WS-14"), "{text}");
    assert!(text.contains("When: 2026-11-23T08:00:00Z"), "{text}");
    assert!(!text.contains("ACME\\bob"), "only the first record: {text}");
    assert!(text.ends_with("Id: 7"), "{text}");
    let attachment = content::attachment_for_new_ticket(&alert, true).unwrap();
    assert!(attachment.content.contains("ACME\\bob"));
    assert!(!attachment.content.contains("ACME\\anna"));

    let inline = content::description(&settings, &alert, "bridge01", &[], false);
    assert!(inline.contains("ACME\\bob"), "{inline}");
    assert!(content::attachment_for_new_ticket(&alert, false).is_none());
}

#[test]
fn a_flood_update_names_every_alert_type_with_its_count() {
    let clock = clock();
    let cases: [(&[&str], &str); 3] = [
        (&["Disk Full"], "1 more \"Disk Full\" alert at"),
        (
            &["Disk Full", "Disk Full"],
            "2 more \"Disk Full\" alerts between",
        ),
        (
            &["Flood 1", "Flood 2", "Flood 1", "Flood 3"],
            ": \"Flood 1\" (2), \"Flood 2\" (1), \"Flood 3\" (1).",
        ),
    ];
    for (names, expected) in cases {
        let alerts: Vec<Alert> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut one = alert(name, &format!("F/{i}"), vec![record("ACME\\a", "WS-1")]);
                one.occurred_at = at(&clock, (i as u32) * Duration::from_secs(1));
                one
            })
            .collect();
        let note = content::note_for_buffer(&alerts, true);
        assert!(note.contains(expected), "{names:?}: {note}");
    }
}

#[test]
fn buffered_update_is_one_note_and_one_attachment() {
    let clock = clock();
    let alerts: Vec<Alert> = (0..20)
        .map(|i| {
            let mut one = alert(
                "Password Reset",
                &format!("A/{i}"),
                vec![record(&format!("ACME\\user{}", i % 3), "WS-14")],
            );
            one.occurred_at = at(&clock, i * 30 * Duration::from_secs(1));
            one
        })
        .collect();
    let note = content::note_for_buffer(&alerts, true);
    assert!(
        note.starts_with("20 more \"Password Reset\" alerts between"),
        "{note}"
    );
    assert!(
        note.contains("Accounts: ACME\\user0 (7), ACME\\user1 (7), ACME\\user2 (6)"),
        "{note}"
    );
    assert!(note.contains("Workstations: WS-14 (20)"), "{note}");
    let attachment = content::attachment_for_buffer(&alerts, true).unwrap();
    assert!(
        attachment
            .file_name
            .starts_with("ActivityRecords-20261123T080000Z-"),
        "{}",
        attachment.file_name
    );
    assert!(
        note.contains(&format!("attached as {}.", attachment.file_name)),
        "{note}"
    );
    // The name is unique per update: the next buffer (starting with another alert of the same
    // second) gets another one.
    let mut next = alerts[1..].to_vec();
    next[0].occurred_at = alerts[0].occurred_at;
    let other = content::attachment_for_buffer(&next, true).unwrap();
    assert_ne!(other.file_name, attachment.file_name);
    assert_eq!(attachment.content.matches("Who: ").count(), 20);

    let inline = content::note_for_buffer(&alerts, false);
    assert_eq!(inline.matches("Who: ").count(), 20, "{inline}");
    assert!(content::attachment_for_buffer(&alerts, false).is_none());

    let storm: Vec<Alert> = (0..2000).map(|_| alerts[0].clone()).collect();
    let capped = content::note_for_buffer(&storm, false);
    assert!(capped.encode_utf16().count() <= NOTE_MAX_UTF16_UNITS);
    assert!(capped.ends_with(content::TRUNCATION_MARK));
}

#[test]
fn closed_and_no_reopen_new_ticket_carries_the_buffer() {
    let settings = defaults::ticket_settings();
    let alerts: Vec<Alert> = (0..3)
        .map(|i| {
            alert(
                "Password Reset",
                &format!("A/{i}"),
                vec![record("ACME\\anna", "WS-14")],
            )
        })
        .collect();
    let text = content::description_for_buffer(&settings, &alerts, "h", &[], true);
    assert!(text.contains("Who: ACME\\anna"), "{text}");
    assert!(text.contains("3 more \"Password Reset\" alerts"), "{text}");
}

// ---------------------------------------------------------------- keys and retention

#[test]
fn alert_keys() {
    let one = alert("Password Reset", "1", vec![record("ACME\\anna", "WS-14")]);
    assert_eq!(
        AlertKey::for_alert(&one, "Acme", None).as_str(),
        "Acme/Password Reset"
    );
    let per_account = Template::parse("%AlertName% by %Who%", TemplateKind::Ticket).unwrap();
    assert_eq!(
        AlertKey::for_alert(&one, "Acme", Some(&per_account)).as_str(),
        "Acme/Password Reset by ACME\\anna"
    );
    assert_ne!(
        AlertKey::flood("Acme"),
        AlertKey::for_alert(&one, "Acme", None)
    );
}

#[test]
fn incidents_are_kept_for_the_longer_window() {
    let rules = defaults::rules();
    assert_eq!(retention::incident_retention(&rules), 30 * DAY);
    let long_updates = RulesConfig {
        update_interval: 60 * DAY,
        ..defaults::rules()
    };
    assert_eq!(retention::plan(&long_updates).incidents, 60 * DAY);
    assert_eq!(retention::plan(&rules).alerts.keep, 7 * DAY);
    assert_eq!(retention::plan(&rules).ticket_requests.limit, 300_000);
}

#[test]
fn resolution_decisions() {
    let cases: [(Option<ResolvedIncident>, ResolutionDecision); 3] = [
        (
            Some(ResolvedIncident {
                ticket_id: Some(1002),
            }),
            ResolutionDecision::NoteOnTicket {
                ticket_id: Some(1002),
                reason: "the alert resolved; ticket 1002 gets a note".to_string(),
            },
        ),
        (
            Some(ResolvedIncident { ticket_id: None }),
            ResolutionDecision::NoteOnTicket {
                ticket_id: None,
                reason: "the alert resolved while its ticket is being created; the note \
                         follows the create"
                    .to_string(),
            },
        ),
        (
            None,
            ResolutionDecision::NothingToResolve {
                reason: "the alert resolved, but no ticket is tracked for it (never fired \
                         here, or forgotten after the retention period)"
                    .to_string(),
            },
        ),
    ];
    for (incident, expected) in cases {
        assert_eq!(resolution::decide(incident), expected, "{incident:?}");
    }
}

#[test]
fn a_resolution_is_told_by_its_status_field_and_noted_with_its_record() {
    let mut resolved = alert(
        "HighCPU",
        "fp@t/resolved",
        vec![record("ACME\\svc", "ws-7")],
    );
    assert!(!resolved.is_resolution());
    resolved
        .fields
        .insert("status".to_string(), "firing".to_string());
    assert!(!resolved.is_resolution());
    resolved
        .fields
        .insert("status".to_string(), "resolved".to_string());
    assert!(resolved.is_resolution());
    let note = resolution::note(&resolved);
    assert!(
        note.starts_with(&format!(
            "[mspbridge] Resolved: HighCPU at {}",
            start().to_rfc3339()
        )),
        "{note}"
    );
    assert!(note.contains("ws-7"), "{note}");
}

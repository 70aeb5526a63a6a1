//! `[[routes]]` (DESIGN §3.3) as tables of cases: order and first match, every matcher, missing
//! labels, `client_from` with aliases, overrides and severity maps, the label/annotation/field
//! placeholders, Netwrix names and the config errors `check` reports for routes.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use mspbridge_core::alert::{ActivityRecord, Alert};
use mspbridge_core::config::{self, Config, ConfigError, TicketLevel};
use mspbridge_core::rules::naming::{self, UNNAMED_NETWRIX_ALERT};
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_core::template::{Template, TemplateKind};

const BASE: &str = r#"
[connectwise]
site = "https://api-na.myconnectwise.net"
company_id = "msp"
public_key = "public"
private_key = "private"
client_id = "client"

[connectwise.ticket]
company_id = 250
board_id = 3
priority_id = 4

[[clients]]
name = "Acme"
aliases = ["acme", "ACME-CORP"]
connectwise = { company_id = 301 }

[[clients]]
name = "Globex"
aliases = ["globex-prod"]
connectwise = { company_id = 302 }

[[sources]]
name = "prom"
kind = "alertmanager"

[[sources]]
name = "hooks"
kind = "webhook"
client = "Globex"
"#;

fn config(extra: &str) -> Config {
    config::parse_str(&format!("{BASE}\n{extra}"), "test.toml")
        .unwrap_or_else(|error| panic!("{error}"))
}

fn issues(extra: &str) -> Vec<String> {
    match config::parse_str(&format!("{BASE}\n{extra}"), "test.toml") {
        Err(ConfigError::Invalid { issues, .. }) => issues
            .into_iter()
            .map(|issue| format!("{}: {}", issue.path, issue.message))
            .collect(),
        Err(other) => vec![other.to_string()],
        Ok(_) => Vec::new(),
    }
}

fn alert(source: &str, name: &str, labels: &[(&str, &str)]) -> Alert {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    Alert {
        source: source.to_string(),
        source_alert_id: "id-1".to_string(),
        alert_name: name.to_string(),
        client: None,
        occurred_at: at,
        received_at: at,
        records: Vec::new(),
        fields: labels
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
    }
}

/// (client, matched route name) for an alert.
fn routed(config: &Config, alert: &Alert) -> (Option<String>, Option<String>) {
    let decision = routing::decide(alert, config.source(&alert.source), config);
    (
        decision.client().map(str::to_string),
        decision.route.map(|route| route.name),
    )
}

const ROUTES: &str = r#"
[[routes]]
name = "acme-critical"
match = { source = "prom", labels.customer = "acme", labels.severity = ["critical", "page"] }
client = "Acme"
ticket = { board_id = 9 }

[[routes]]
name = "disk-by-regex"
match = { alertname = { regex = "Disk.*" }, "labels.env" = { exists = true } }
client = "Globex"

[[routes]]
name = "by-customer-label"
match = { source = "prom" }
client_from = "labels.customer"

[[routes]]
name = "no-team"
match = { "labels.team" = { exists = false }, source = "hooks" }
client = "Acme"
"#;

#[test]
fn first_matching_route_wins_in_file_order() {
    let config = config(ROUTES);
    let some = |text: &str| Some(text.to_string());
    let cases: Vec<(Alert, Option<String>, Option<String>)> = vec![
        // Route 0: all three conditions hold.
        (
            alert(
                "prom",
                "HighLoad",
                &[("customer", "acme"), ("severity", "critical")],
            ),
            some("Acme"),
            some("acme-critical"),
        ),
        // One of: "page" is listed too.
        (
            alert(
                "prom",
                "HighLoad",
                &[("customer", "acme"), ("severity", "page")],
            ),
            some("Acme"),
            some("acme-critical"),
        ),
        // Severity not listed: route 0 fails; the regex route wants env; route 2 takes the label.
        (
            alert(
                "prom",
                "HighLoad",
                &[("customer", "acme"), ("severity", "warning")],
            ),
            some("Acme"),
            some("by-customer-label"),
        ),
        // Regex is anchored: "DiskFull" matches Disk.*, "LowDisk" does not.
        (
            alert(
                "prom",
                "DiskFull",
                &[("customer", "globex-prod"), ("env", "prod")],
            ),
            some("Globex"),
            some("disk-by-regex"),
        ),
        (
            alert(
                "prom",
                "LowDisk",
                &[("customer", "ACME-corp"), ("env", "prod")],
            ),
            some("Acme"),
            some("by-customer-label"),
        ),
        // exists = true fails when the label is missing: the next route takes it.
        (
            alert("prom", "DiskFull", &[("customer", "globex")]),
            some("Globex"),
            some("by-customer-label"),
        ),
        // exists = false holds when the label is missing; the source default is not used.
        (
            alert("hooks", "Anything", &[]),
            some("Acme"),
            some("no-team"),
        ),
        // The team label is there: no route; the source's default client.
        (
            alert("hooks", "Anything", &[("team", "ops")]),
            some("Globex"),
            None,
        ),
        // A "labels.customer" field written with its prefix is the same label.
        (
            alert("prom", "X", &[("labels.customer", "globex-prod")]),
            some("Globex"),
            some("by-customer-label"),
        ),
    ];
    for (index, (alert, client, route)) in cases.into_iter().enumerate() {
        assert_eq!(
            routed(&config, &alert),
            (client, route),
            "case {index}: {:?}",
            alert.fields
        );
    }
}

#[test]
fn client_from_matches_names_and_aliases_and_explains_a_miss() {
    let config = config(ROUTES);
    for (value, expected) in [
        ("Acme", Some("Acme")),
        ("acme", Some("Acme")),
        ("  ACME-CORP ", Some("Acme")),
        ("GLOBEX", Some("Globex")),
        ("globex-prod", Some("Globex")),
        ("initech", None),
    ] {
        let alert = alert("prom", "HighLoad", &[("customer", value)]);
        let decision = routing::decide(&alert, config.source("prom"), &config);
        assert_eq!(decision.client(), expected, "{value:?}");
        if expected.is_none() {
            let reason = decision.reason();
            assert!(
                reason.contains("route \"by-customer-label\" matched")
                    && reason.contains("\"initech\" is no client's name or alias"),
                "{reason}"
            );
        }
    }
    // The label missing altogether: the route does not give a client, nothing else does.
    let missing = alert("prom", "HighLoad", &[]);
    let decision = routing::decide(&missing, config.source("prom"), &config);
    assert!(matches!(decision.routing, Routing::Unrouted { .. }));
    assert!(
        decision
            .reason()
            .contains("the alert has no labels.customer"),
        "{}",
        decision.reason()
    );
}

#[test]
fn the_alerts_own_client_wins_but_the_route_still_sets_the_ticket() {
    let config = config(ROUTES);
    let mut named = alert(
        "prom",
        "HighLoad",
        &[("customer", "acme"), ("severity", "critical")],
    );
    named.client = Some("Globex".to_string());
    let decision = routing::decide(&named, config.source("prom"), &config);
    assert_eq!(decision.client(), Some("Globex"));
    assert_eq!(decision.route.unwrap().name, "acme-critical");
    assert_eq!(decision.ticket.board_id, Some(9));
}

#[test]
fn severity_map_sets_priority_severity_and_impact() {
    let config = config(
        r#"
[[routes]]
name = "prom"
match = { source = "prom" }
client_from = "labels.customer"
ticket = { priority_id = 5, team_id = 7 }
severity_map.critical = { priority_id = 1, severity = "High", impact = "High" }
severity_map.warning = { priority_id = 3 }
"#,
    );
    let settings = |labels: &[(&str, &str)]| {
        let alert = alert("prom", "HighLoad", labels);
        let decision = routing::decide(&alert, config.source("prom"), &config);
        config.ticket_settings_with(decision.client(), &decision.ticket)
    };
    let critical = settings(&[("customer", "acme"), ("severity", "Critical")]);
    assert_eq!(critical.priority_id, Some(1));
    assert_eq!(critical.severity, TicketLevel::High);
    assert_eq!(critical.impact, TicketLevel::High);
    assert_eq!(critical.team_id, Some(7));
    assert_eq!(critical.company_id, Some(301), "the client's company");
    let warning = settings(&[("customer", "globex"), ("severity", "warning")]);
    assert_eq!(warning.priority_id, Some(3));
    assert_eq!(warning.severity, TicketLevel::Medium, "the default stays");
    assert_eq!(warning.company_id, Some(302));
    let unmapped = settings(&[("customer", "acme"), ("severity", "info")]);
    assert_eq!(unmapped.priority_id, Some(5), "the route's priority");
    let none = settings(&[("customer", "acme")]);
    assert_eq!(none.priority_id, Some(5));
}

#[test]
fn a_sources_severity_map_applies_without_a_route() {
    let text = BASE.replace(
        "name = \"prom\"\nkind = \"alertmanager\"",
        "name = \"prom\"\nkind = \"alertmanager\"\nclient = \"Acme\"\n\
         severity_from = \"labels.level\"\n\
         severity_map = { P1 = { priority_id = 1, impact = \"High\" } }",
    );
    let config = config::parse_str(&text, "test.toml").unwrap();
    let alert = alert("prom", "HighLoad", &[("level", "p1")]);
    let decision = routing::decide(&alert, config.source("prom"), &config);
    assert_eq!(decision.client(), Some("Acme"));
    assert!(decision.route.is_none());
    assert_eq!(decision.ticket.priority_id, Some(1));
    assert_eq!(decision.ticket.impact, Some(TicketLevel::High));
    assert!(
        decision
            .reason()
            .contains("severity map: labels.level \"p1\""),
        "{}",
        decision.reason()
    );
}

#[test]
fn a_route_can_set_the_alert_key() {
    let config = config(
        r#"
[[routes]]
match = { source = "prom" }
client = "Acme"
alert_key = "%AlertName% on %Label:instance%"
"#,
    );
    let alert = alert("prom", "HighLoad", &[("instance", "web-1")]);
    let decision = routing::decide(&alert, config.source("prom"), &config);
    assert_eq!(decision.route.as_ref().unwrap().name, "routes[0]");
    let key =
        mspbridge_core::alert::AlertKey::for_alert(&alert, "Acme", decision.alert_key.as_ref());
    assert_eq!(key.as_str(), "Acme/HighLoad on web-1");
}

#[test]
fn route_mistakes_are_all_reported_with_their_route() {
    let found = issues(
        r#"
[[routes]]
name = "one"
match = { source = "prom", "labels.x" = { regex = "([a-z" }, nonsense = "1", "labels.y" = 5 }
client = "Initech"

[[routes]]
name = "one"
match = { "labels.z" = { exists = true, regex = "a" } }
client = "Acme"
client_from = "labels.customer"
ticket = { severity = "Urgent", summary = "%Label:%" }
alert_key = "%Nope%"
severity_map = { critical = {} }

[[clients]]
name = "Initech"
aliases = ["acme"]
"#,
    );
    let expected = [
        "routes[0].match.labels.x: regex \"([a-z\" does not compile",
        "routes[0].match.nonsense: \"nonsense\" is not something an alert has",
        "routes[0].match.labels.y: a TOML integer is not a matcher",
        "routes[1].name: duplicate name \"one\"",
        "routes[1].match.labels.z: a matcher table holds exactly one of",
        "routes[1].client_from: give either client or client_from, not both",
        "routes[1].ticket.severity: \"Urgent\" is not one of Low, Medium, High",
        "routes[1].ticket.summary: malformed placeholder \"%Label:%\" at character 1",
        "routes[1].alert_key: unknown placeholder %Nope%",
        "routes[1].severity_map.critical: sets nothing",
        "clients[2].aliases[0]: \"acme\" is already the name of clients[0]",
    ];
    for wanted in expected {
        assert!(
            found.iter().any(|issue| issue.starts_with(wanted)),
            "missing {wanted:?} in {found:#?}"
        );
    }
    // The unknown client is named with the configured ones.
    let unknown = issues("[[routes]]\nclient = \"Initech\"\n");
    assert!(
        unknown[0]
            .starts_with("routes[0].client: names client \"Initech\", which is not configured"),
        "{unknown:?}"
    );
}

#[test]
fn label_annotation_and_field_placeholders() {
    let mut alert = alert(
        "prom",
        "HighLoad",
        &[
            ("instance", "web-1:9100"),
            ("customer", "acme"),
            ("annotations.summary", "Load above 8"),
            ("fingerprint", "abc"),
            ("status", "firing"),
        ],
    );
    alert.records.push(ActivityRecord {
        who: "node".to_string(),
        ..ActivityRecord::default()
    });
    let render = |text: &str| {
        let template = Template::parse(text, TemplateKind::Ticket)
            .unwrap_or_else(|error| panic!("{text}: {error}"));
        alert.render(&template, "host")
    };
    let cases = [
        ("%Label:instance%", "web-1:9100"),
        ("%label:customer%/%LABEL:missing%", "acme/"),
        ("%Annotation:summary%", "Load above 8"),
        ("%Field:fingerprint% %Field:who%", "abc node"),
        ("%Labels%", "customer=acme\ninstance=web-1:9100"),
        ("%Annotations%", "summary=Load above 8"),
        ("100%% %Label:instance%", "100% web-1:9100"),
    ];
    for (text, expected) in cases {
        assert_eq!(render(text), expected, "{text}");
    }
    for (bad, problem) in [
        ("%Label:%", "the name after the colon is empty"),
        ("x %Annotation:summary", "it has no closing %"),
        ("%Field:two words%", "the name contains ' '"),
    ] {
        let error = Template::parse(bad, TemplateKind::Ticket).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("malformed placeholder") && message.contains(problem),
            "{bad}: {message}"
        );
    }
}

#[test]
fn netwrix_names_come_from_the_map_the_record_or_say_the_record_is_missing() {
    let received = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    let guid = "9f7d2c3e-6b1a-4c5e-8f00-123456789abc";
    let names: BTreeMap<String, String> = [(guid.to_string(), "Password Reset".to_string())].into();
    let empty = BTreeMap::new();
    let bare = Alert::netwrix("auditor", guid, "rid", None, received);
    assert_eq!(
        naming::netwrix_alert_name(&bare, &names, false).as_deref(),
        Some("Password Reset")
    );
    assert_eq!(naming::netwrix_alert_name(&bare, &empty, false), None);
    assert_eq!(
        naming::netwrix_alert_name(&bare, &empty, true).as_deref(),
        Some(UNNAMED_NETWRIX_ALERT)
    );
    let mut enriched = bare.clone();
    enriched.records.push(ActivityRecord {
        who: "ACME\\helpdesk.jdoe".to_string(),
        action: "Reset password".to_string(),
        object_type: "user".to_string(),
        ..ActivityRecord::default()
    });
    assert_eq!(
        naming::netwrix_alert_name(&enriched, &empty, true).as_deref(),
        Some("Reset password user by ACME\\helpdesk.jdoe")
    );
    let named = Alert::netwrix("auditor", guid, "rid", Some("Given"), received);
    assert_eq!(naming::netwrix_alert_name(&named, &names, true), None);
}

#[test]
fn a_group_resolves_only_when_its_last_instance_does() {
    use mspbridge_core::rules::resolution::{
        decide_group, group_note, GroupState, ResolutionDecision, ResolvedIncident,
    };
    let instance = |fingerprint: &str, host: &str, status: &str| {
        alert(
            "prom",
            "HighLoad",
            &[
                ("fingerprint", fingerprint),
                ("instance", host),
                ("status", status),
            ],
        )
    };
    let ticket = Some(ResolvedIncident { ticket_id: Some(7) });
    let mut group = GroupState::opened_by(&instance("a", "web-1", "firing"));
    group.fired(&instance("b", "web-2", "firing"));
    group.fired(&instance("c", "web-3", "firing"));
    // (resolved alert, note expected, still firing afterwards)
    let steps = [
        (instance("b", "web-2", "resolved"), false, 2),
        // A repeat of a resolution already seen changes nothing.
        (instance("b", "web-2", "resolved"), false, 2),
        (instance("a", "web-1", "resolved"), false, 1),
        (instance("c", "web-3", "resolved"), true, 0),
    ];
    for (index, (resolved, note_expected, firing)) in steps.into_iter().enumerate() {
        let decision = decide_group(ticket, &mut group, &resolved);
        match (&decision, note_expected) {
            (ResolutionDecision::NoteOnTicket { ticket_id, .. }, true) => {
                assert_eq!(*ticket_id, Some(7));
                let note = group_note(&resolved, &group.resolved);
                assert!(
                    note.contains("Every alert of the group has resolved (3): web-2, web-1, web-3"),
                    "{note}"
                );
            }
            (ResolutionDecision::StillFiring { reason }, false) => {
                assert!(reason.contains("still firing"), "{reason}");
            }
            other => panic!("step {index}: {other:?}"),
        }
        assert_eq!(group.firing.len(), firing, "step {index}");
    }
    // No incident: nothing to resolve; an alert without a fingerprint notes at once.
    let mut empty = GroupState::default();
    assert!(matches!(
        decide_group(None, &mut empty, &instance("x", "web-9", "resolved")),
        ResolutionDecision::NothingToResolve { .. }
    ));
    let plain = alert("hooks", "Backup failed", &[("status", "resolved")]);
    assert!(matches!(
        decide_group(ticket, &mut empty, &plain),
        ResolutionDecision::NoteOnTicket { .. }
    ));
}

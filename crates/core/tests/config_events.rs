//! `[events] raise_alerts`: which failure events raise an alert of their own (DESIGN §7).

use mspbridge_core::config::{parse_str, ConfigError};

#[test]
fn raise_alerts_is_off_by_default() {
    let config = parse_str("", "mspbridge.toml").expect("an empty config is valid");
    assert!(config.events.raise_alerts.is_empty());
    assert!(!config.events.raises_alert(4022));
}

#[test]
fn raise_alerts_accepts_the_failure_events_of_it_glue() {
    let config = parse_str(
        "[events]\nraise_alerts = [4018, 4019, 4022]\n",
        "mspbridge.toml",
    )
    .expect("the three IT Glue failure events may raise alerts");
    assert_eq!(config.events.raise_alerts, vec![4018, 4019, 4022]);
    assert!(config.events.raises_alert(4019));
    assert!(!config.events.raises_alert(4021));
}

#[test]
fn raise_alerts_refuses_other_ids_and_repeats_with_their_position() {
    let text = "[events]\nraise_alerts = [4021, 4022, 4022, -1]\n";
    let Err(ConfigError::Invalid { issues, .. }) = parse_str(text, "mspbridge.toml") else {
        panic!("4021, a repeat and -1 must be refused");
    };
    let paths: Vec<&str> = issues.iter().map(|issue| issue.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "events.raise_alerts[0]",
            "events.raise_alerts[2]",
            "events.raise_alerts[3]"
        ]
    );
    assert!(
        issues[0].message.contains("4021 cannot raise an alert"),
        "{issues:?}"
    );
    assert!(issues[1].message.contains("listed twice"), "{issues:?}");
    assert!(
        issues.iter().all(|issue| issue.line == Some(2)),
        "{issues:?}"
    );
}

#[test]
fn unknown_keys_in_events_are_errors() {
    let error = parse_str("[events]\nraise = [4022]\n", "mspbridge.toml").unwrap_err();
    assert!(
        matches!(error, ConfigError::Syntax { line: 2, .. }),
        "{error}"
    );
}

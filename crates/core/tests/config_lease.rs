//! `[jobs] lease`: how long a process holds what it claimed before another process sharing the
//! database may take it over.

use std::collections::HashMap;
use std::time::Duration;

use mspbridge_core::config::{self, ConfigError, ConfigIssue, LoadOptions};

fn options() -> LoadOptions {
    LoadOptions {
        base_dir: None,
        env: Some(HashMap::new()),
    }
}

fn issues(text: &str) -> Vec<ConfigIssue> {
    match config::parse_str_with(text, "lease.toml", &options()) {
        Err(ConfigError::Invalid { issues, .. }) => issues,
        other => panic!("expected validation issues, got {other:?}"),
    }
}

const CONNECTWISE: &str = r#"
[connectwise]
site = "https://api-na.myconnectwise.net"
company_id = "acme"
public_key = "public"
private_key = "private"
client_id = "client"
request_timeout = "30s"
"#;

#[test]
fn the_lease_defaults_to_five_minutes_and_takes_a_duration() {
    let default = config::parse_str_with("", "lease.toml", &options()).unwrap();
    assert_eq!(default.jobs.lease, Duration::from_secs(300));
    let set =
        config::parse_str_with("[jobs]\nlease = \"45s\"\n", "lease.toml", &options()).unwrap();
    assert_eq!(set.jobs.lease, Duration::from_secs(45));
    let seconds = config::parse_str_with("[jobs]\nlease = 90\n", "lease.toml", &options()).unwrap();
    assert_eq!(seconds.jobs.lease, Duration::from_secs(90));
}

#[test]
fn a_lease_out_of_range_or_not_longer_than_a_connectwise_call_is_refused() {
    let cases = [
        (
            "[jobs]\nlease = \"0s\"\n".to_string(),
            "must be longer than zero",
        ),
        (
            "[jobs]\nlease = \"500ms\"\n".to_string(),
            "must be between 1s and 24h",
        ),
        (
            "[jobs]\nlease = \"2d\"\n".to_string(),
            "must be between 1s and 24h",
        ),
        (
            "[jobs]\nlease = \"soon\"\n".to_string(),
            "\"soon\" is not a duration",
        ),
        (
            format!("{CONNECTWISE}\n[jobs]\nlease = \"30s\"\n"),
            "must be longer than connectwise.request_timeout (30s)",
        ),
    ];
    for (text, expected) in cases {
        let found = issues(&text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert_eq!(found[0].path, "jobs.lease", "{text}");
        assert!(
            found[0].message.contains(expected),
            "{text}: {}",
            found[0].message
        );
    }
    let longer = format!("{CONNECTWISE}\n[jobs]\nlease = \"31s\"\n");
    let config = config::parse_str_with(&longer, "lease.toml", &options()).unwrap();
    assert_eq!(config.jobs.lease, Duration::from_secs(31));
}

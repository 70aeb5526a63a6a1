//! Loading the configuration file: the DESIGN example, every default, every mistake reported with its
//! path and line, secrets from the environment and from files.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use mspbridge_core::config::{
    self, defaults, ConfigError, ConfigIssue, DatabaseKind, DescriptionField, ItGlueEndpoint,
    ItGlueRegion, LoadOptions, RateLimit, ReportSchedule, SourceKind, StatusRef, TicketLevel,
};

const PRIVATE_KEY: &str = "cw-private-key-value-7f3a";
const AUDITOR_PASSWORD: &str = "auditor-password-value-91c2";
const ITGLUE_KEY: &str = "itglue-key-value-5d8e";
const TOKEN: &str = "api-token-value-c0ffee";

fn env() -> LoadOptions {
    LoadOptions {
        base_dir: None,
        env: Some(HashMap::from([
            ("CW_PRIVATE_KEY".to_string(), PRIVATE_KEY.to_string()),
            ("AUDITOR_PW".to_string(), AUDITOR_PASSWORD.to_string()),
            ("ITGLUE_API_KEY".to_string(), ITGLUE_KEY.to_string()),
            ("MSPBRIDGE_TOKEN".to_string(), TOKEN.to_string()),
        ])),
    }
}

const DESIGN_EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8787"
database = "sqlite://mspbridge.db"        # or postgres://... (scale-out)
api_tokens = ["env:MSPBRIDGE_TOKEN"]      # intake and API bearer tokens

[connectwise]
site = "https://api-na.myconnectwise.net"  # codebase discovered via /login/companyinfo/{company}
company_id = "acme_msp"
public_key = "pUbLiCkEy"
private_key = "env:CW_PRIVATE_KEY"
client_id = "3c4d5e6f-0000-4000-8000-0123456789ab"   # required by ConnectWise since 2019

[connectwise.ticket]                       # defaults for every client
summary = "[mspbridge] %AlertName%"
description = "Alert Details:\nWho: %Who%\nAction: %Action%\nWhen: %When%\nSent by mspbridge from %Computer%"
description_field = "initialDescription"  # or "initialInternalAnalysis" (MSP-internal only)
severity = "Medium"
impact = "Medium"
board_id = 1
team_id = 25
priority_id = 4
company_id = 42
correlation_format = "Previous incident for the same alert type: Id: %id%"
reopen_closed_statuses = [5, 6, 8]        # board-specific status ids; or names
reopen_new_status = 1
ignore_upload_attachment_error = true     # failed uploads go to missing_attachments_dir and the log

[rules]                                    # ITSMSettings.xml, same meaning and defaults
ticket_flood_limit = 10
ticket_flood_interval = "1h"
consolidation_interval = "15m"
update_ticket_on_repetitive_alerts = true
reopen_ticket_on_repetitive_alerts = true
update_interval = "24h"
enable_ticket_correlation = true
correlation_interval = "30d"
display_only_first_activity_record = true
activity_record_requests = { limit = 5000, keep = "7d" }
activity_record_web_requests = { limit = 200, timeout = "180s" }
ticket_requests = { limit = 300000, keep = "7d" }

[[sources]]
name = "auditor-acme"
kind = "netwrix-auditor"                   # or "webhook", "alertmanager"
url = "https://localhost:9699"
username = "ACME\\svc-mspbridge"
password = "env:AUDITOR_PW"
client = "Acme"                            # default client; rules may pick another from record fields

[[clients]]
name = "Acme"
email = "it@acme.example"
connectwise = { company_id = 250, board_id = 3 }   # overrides of [connectwise.ticket]

[[itglue]]
name = "main"
region = "us"                              # us | eu | au, or url = "..."
api_key = "env:ITGLUE_API_KEY"
clients = ["Acme"]                         # the groups enabled for this instance
automap_interval = "6h"
report_asset_type = "mspbridge Reports"

[[reports]]
name = "Weekly Security Summary"
clients = ["Acme"]
schedule = "weekly"
publish_to_itglue = true
expires_after = "365d"
"#;

fn issues(text: &str) -> Vec<ConfigIssue> {
    match config::parse_str_with(text, "test.toml", &env()) {
        Err(ConfigError::Invalid { issues, .. }) => issues,
        other => panic!("expected validation issues, got {other:?}"),
    }
}

#[test]
fn the_design_example_loads() {
    let config = config::parse_str_with(DESIGN_EXAMPLE, "design.toml", &env()).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8787".parse().unwrap());
    assert_eq!(config.server.database.kind(), DatabaseKind::Sqlite);
    assert_eq!(config.server.api_tokens.len(), 1);
    assert!(config.server.api_tokens[0].matches(TOKEN));

    let connectwise = config.connectwise.as_ref().unwrap();
    assert_eq!(
        connectwise.site.as_str(),
        "https://api-na.myconnectwise.net/"
    );
    assert_eq!(connectwise.company_id, "acme_msp");
    assert_eq!(connectwise.private_key.expose(), PRIVATE_KEY);
    assert_eq!(connectwise.codebase, None);
    assert_eq!(
        connectwise.ticket.reopen_closed_statuses,
        vec![StatusRef::Id(5), StatusRef::Id(6), StatusRef::Id(8)]
    );
    assert_eq!(connectwise.ticket.reopen_new_status, Some(StatusRef::Id(1)));

    let source = config.source("auditor-acme").unwrap();
    assert_eq!(source.kind, SourceKind::NetwrixAuditor);
    assert_eq!(source.username.as_deref(), Some("ACME\\svc-mspbridge"));
    assert_eq!(source.password.as_ref().unwrap().expose(), AUDITOR_PASSWORD);
    assert_eq!(source.records_per_request, 200);
    assert_eq!(source.client.as_deref(), Some("Acme"));

    assert_eq!(
        config.clients[0].email_domain().as_deref(),
        Some("acme.example")
    );
    assert_eq!(
        config.itglue[0].base_url().as_str(),
        "https://api.itglue.com/"
    );
    assert_eq!(config.itglue[0].api_key.expose(), ITGLUE_KEY);
    assert_eq!(config.itglue_for_client("Acme").unwrap().name, "main");
    assert_eq!(config.reports[0].schedule, ReportSchedule::Weekly);
    assert!(config.reports[0].publish_to_itglue);
    assert_eq!(
        config.reports[0].expires_after,
        Duration::from_secs(365 * 86_400)
    );

    let acme = config.effective_ticket_settings(Some("Acme"));
    assert_eq!(acme.company_id, Some(250));
    assert_eq!(acme.board_id, Some(3));
    assert_eq!(acme.team_id, Some(25));
    assert_eq!(acme.priority_id, Some(4));
    let default = config.effective_ticket_settings(None);
    assert_eq!(default.company_id, Some(42));
    assert_eq!(default.board_id, Some(1));
    assert_eq!(config.effective_ticket_settings(Some("Unknown")), default);

    let shown = format!("{config:?}");
    for secret in [PRIVATE_KEY, AUDITOR_PASSWORD, ITGLUE_KEY, TOKEN] {
        assert!(
            !shown.contains(secret),
            "Debug of the config shows a secret"
        );
    }
}

#[test]
fn an_empty_file_gets_every_default() {
    let config = config::parse_str_with("", "empty.toml", &env()).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8787".parse().unwrap());
    assert_eq!(config.server.database.expose(), "sqlite://mspbridge.db");
    assert!(config.server.api_tokens.is_empty());
    assert!(config.server.admin_password.is_none());
    assert_eq!(config.server.max_body_bytes, 1024 * 1024);
    assert_eq!(
        config.server.missing_attachments_dir,
        PathBuf::from("missing_attachments")
    );
    assert_eq!(config.server.intake_rate_limit, None);
    assert!(config.connectwise.is_none());
    assert_eq!(config.rules, defaults::rules());
    let rules = &config.rules;
    assert_eq!(rules.ticket_flood_limit, 10);
    assert_eq!(rules.ticket_flood_interval, Duration::from_secs(3600));
    assert_eq!(rules.consolidation_interval, Duration::from_secs(900));
    assert!(rules.update_ticket_on_repetitive_alerts);
    assert!(rules.reopen_ticket_on_repetitive_alerts);
    assert_eq!(rules.update_interval, Duration::from_secs(86_400));
    assert!(rules.enable_ticket_correlation);
    assert_eq!(rules.correlation_interval, Duration::from_secs(2_592_000));
    assert!(rules.display_only_first_activity_record);
    assert_eq!(rules.activity_record_requests.limit, 5000);
    assert_eq!(
        rules.activity_record_requests.keep,
        Duration::from_secs(604_800)
    );
    assert_eq!(rules.activity_record_web_requests.limit, 200);
    assert_eq!(
        rules.activity_record_web_requests.timeout,
        Duration::from_secs(180)
    );
    assert_eq!(rules.ticket_requests.limit, 300_000);
    assert_eq!(rules.ticket_requests.keep, Duration::from_secs(604_800));
    assert!(config.routing.catch_all_client.is_none());
    assert!(config.sources.is_empty() && config.clients.is_empty());
    assert!(config.itglue.is_empty() && config.reports.is_empty());

    let ticket = config.effective_ticket_settings(None);
    assert_eq!(ticket.summary.source(), "[mspbridge] %AlertName%");
    assert_eq!(ticket.description.source().lines().count(), 13);
    assert!(ticket
        .description
        .source()
        .starts_with("Alert Details:\nWho: %Who%\nAction: %Action%\n"));
    assert!(ticket
        .description
        .source()
        .ends_with("\nSent by mspbridge from %Computer%"));
    assert_eq!(
        ticket.description_field,
        DescriptionField::InitialDescription
    );
    assert_eq!(ticket.severity, TicketLevel::Medium);
    assert_eq!(ticket.impact, TicketLevel::Medium);
    assert_eq!(
        ticket.correlation_format.source(),
        "Previous incident for the same alert type: Id: %id%"
    );
    assert!(ticket.reopen_closed_statuses.is_empty());
    assert_eq!(ticket.reopen_new_status, None);
    assert!(ticket.ignore_upload_attachment_error);
    assert_eq!(
        [
            ticket.company_id,
            ticket.board_id,
            ticket.team_id,
            ticket.priority_id,
            ticket.status_id
        ],
        [None; 5]
    );
}

#[test]
fn section_defaults_for_connectwise_sources_itglue_and_reports() {
    let text = r#"
[connectwise]
site = "http://127.0.0.1:8080"
company_id = "acme"
public_key = "pub"
private_key = "env:CW_PRIVATE_KEY"
client_id = "cid"

[[sources]]
name = "hook"
kind = "webhook"

[[clients]]
name = "Acme"

[[itglue]]
name = "sim"
url = "http://localhost:9000"
api_key = "env:ITGLUE_API_KEY"
clients = ["Acme"]

[[reports]]
name = "daily"
clients = ["Acme"]
schedule = "daily"
"#;
    let config = config::parse_str_with(text, "sections.toml", &env()).unwrap();
    let connectwise = config.connectwise.unwrap();
    assert_eq!(connectwise.connect_timeout, Duration::from_secs(10));
    assert_eq!(connectwise.request_timeout, Duration::from_secs(60));
    assert_eq!(connectwise.max_attachment_bytes, 10 * 1024 * 1024);
    assert_eq!(connectwise.ticket, defaults::ticket_settings());
    let source = &config.sources[0];
    assert_eq!(source.records_per_request, 200);
    assert!(source.url.is_none() && source.client.is_none() && source.alert_key.is_none());
    assert!(source.tls_certificate_sha256.is_none());
    let itglue = &config.itglue[0];
    assert_eq!(itglue.automap_interval, Duration::from_secs(6 * 3600));
    assert_eq!(itglue.report_asset_type, "mspbridge Reports");
    assert_eq!(itglue.base_url().as_str(), "http://localhost:9000/");
    assert!(!config.reports[0].publish_to_itglue);
    assert_eq!(
        config.reports[0].expires_after,
        Duration::from_secs(365 * 86_400)
    );
}

#[test]
fn plain_integers_are_seconds_and_values_parse_into_types() {
    let text = r#"
[server]
listen = "[::1]:9000"
database = "postgres://mspbridge:pw@db.internal/mspbridge"
max_body_bytes = "2MiB"

[rules]
ticket_flood_interval = 7200
consolidation_interval = 0
update_interval = "1h30m"
update_ticket_on_repetitive_alerts = false

[[clients]]
name = "Acme"
connectwise = { severity = "high", description_field = "initialInternalAnalysis", summary = "%Client%: %AlertName%" }

[[itglue]]
name = "eu"
region = "EU"
api_key = "literal-key"

[[sources]]
name = "am"
kind = "alertmanager"
tls_certificate_sha256 = "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB"
alert_key = "%Client%/%AlertName%/%Who%"
"#;
    let config = config::parse_str_with(text, "types.toml", &env()).unwrap();
    assert_eq!(config.server.database.kind(), DatabaseKind::Postgres);
    assert_eq!(config.server.max_body_bytes, 2 * 1024 * 1024);
    assert_eq!(
        config.rules.ticket_flood_interval,
        Duration::from_secs(7200)
    );
    assert_eq!(config.rules.consolidation_interval, Duration::ZERO);
    assert_eq!(config.rules.update_interval, Duration::from_secs(5400));
    assert!(!config.rules.update_ticket_on_repetitive_alerts);
    assert!(
        !config.rules.reopen_ticket_on_repetitive_alerts,
        "reopen follows update when left out"
    );
    let acme = config.effective_ticket_settings(Some("Acme"));
    assert_eq!(acme.severity, TicketLevel::High);
    assert_eq!(acme.impact, TicketLevel::Medium);
    assert_eq!(
        acme.description_field,
        DescriptionField::InitialInternalAnalysis
    );
    assert_eq!(acme.summary.source(), "%Client%: %AlertName%");
    assert_eq!(
        config.itglue[0].endpoint,
        ItGlueEndpoint::Region(ItGlueRegion::Eu)
    );
    assert_eq!(config.sources[0].tls_certificate_sha256, Some([0xab; 32]));
    assert_eq!(
        config.sources[0].alert_key.as_ref().unwrap().placeholders(),
        vec!["Client", "AlertName", "Who"]
    );
    assert!(!format!("{:?}", config.server).contains(":pw@"));
}

#[test]
fn the_intake_rate_limit_is_a_count_per_window() {
    let cases = [
        ("500/s", 500, Duration::from_secs(1)),
        ("20000/1m", 20_000, Duration::from_secs(60)),
        (" 100 / 10s ", 100, Duration::from_secs(10)),
        ("3600/h", 3600, Duration::from_secs(3600)),
    ];
    for (text, requests, per) in cases {
        let config = config::parse_str_with(
            &format!("[server]\nintake_rate_limit = \"{text}\"\n"),
            "rate.toml",
            &env(),
        )
        .unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(
            config.server.intake_rate_limit,
            Some(RateLimit { requests, per }),
            "{text}"
        );
    }
    let refused = [
        ("500", "is not a rate"),
        (
            "0/s",
            "the number of requests must be a whole number from 1",
        ),
        (
            "-5/s",
            "the number of requests must be a whole number from 1",
        ),
        (
            "many/s",
            "the number of requests must be a whole number from 1",
        ),
        ("500/fortnight", "\"fortnight\" is not a duration"),
        ("500/0s", "the window must be longer than zero"),
    ];
    for (text, expected) in refused {
        let found = issues(&format!("[server]\nintake_rate_limit = \"{text}\"\n"));
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert_eq!(found[0].path, "server.intake_rate_limit", "{text}");
        assert!(
            found[0].message.contains(expected),
            "{text}: {}",
            found[0].message
        );
        assert_eq!(found[0].line, Some(2), "{text}");
    }
}

#[test]
fn many_mistakes_are_all_reported_with_paths_and_lines() {
    let text = r#"[server]
listen = "localhost"
database = "mysql://db/x"

[connectwise]
site = "http://cw.example.com"
company_id = "acme"
public_key = "pub"
private_key = "env:MISSING_CW_KEY"

[connectwise.ticket]
summary = "[mspbridge] %AlertNmae%"
board_id = 0
severity = "Critical"
reopen_closed_statuses = [5, -1, "Closed"]

[rules]
update_ticket_on_repetitive_alerts = false
reopen_ticket_on_repetitive_alerts = true
consolidation_interval = "soon"

[[sources]]
name = "auditor"
kind = "netwrix-auditor"
client = "Nobody"

[[clients]]
name = "Acme"
email = "not-an-email"

[[clients]]
name = "Acme"
"#;
    let found = issues(text);
    let expected: &[(&str, usize, &str)] = &[
        (
            "server.listen",
            2,
            "\"localhost\" is not an address with a port",
        ),
        ("server.database", 3, "not a supported database URL"),
        ("connectwise.site", 6, "must use https"),
        (
            "connectwise.client_id",
            5,
            "ConnectWise requires a clientId since 2019",
        ),
        (
            "connectwise.private_key",
            9,
            "environment variable MISSING_CW_KEY is not set",
        ),
        (
            "connectwise.ticket.summary",
            12,
            "unknown placeholder %AlertNmae% at character 13",
        ),
        (
            "connectwise.ticket.board_id",
            13,
            "must be a ConnectWise id",
        ),
        (
            "connectwise.ticket.severity",
            14,
            "\"Critical\" is not one of Low, Medium, High",
        ),
        ("connectwise.ticket.reopen_closed_statuses[1]", 15, "got -1"),
        (
            "rules.reopen_ticket_on_repetitive_alerts",
            19,
            "cannot be true while update_ticket_on_repetitive_alerts is false",
        ),
        (
            "rules.consolidation_interval",
            20,
            "\"soon\" is not a duration",
        ),
        (
            "sources[0].url",
            22,
            "is required for a netwrix-auditor source",
        ),
        (
            "sources[0].client",
            25,
            "names client \"Nobody\", which is not configured",
        ),
        (
            "clients[0].email",
            29,
            "\"not-an-email\" is not an email address with a domain",
        ),
        (
            "clients[1].name",
            32,
            "duplicate name \"Acme\"; clients[0] already uses it",
        ),
    ];
    for (path, line, fragment) in expected {
        let issue = found
            .iter()
            .find(|issue| issue.path == *path)
            .unwrap_or_else(|| panic!("no issue for {path} in {found:#?}"));
        assert_eq!(issue.line, Some(*line), "{path}: {issue:?}");
        assert!(
            issue.message.contains(fragment),
            "{path}: {}",
            issue.message
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    let mut lines: Vec<usize> = found.iter().map(|issue| issue.line.unwrap()).collect();
    let sorted = {
        let mut copy = lines.clone();
        copy.sort();
        copy
    };
    assert_eq!(lines, sorted, "issues come in file order");
    lines.dedup();

    let error = config::parse_str_with(text, "test.toml", &env()).unwrap_err();
    let shown = error.to_string();
    assert_eq!(shown.lines().count(), expected.len());
    assert!(
        shown.lines().any(|line| line == "test.toml:13: connectwise.ticket.board_id: must be a ConnectWise id, a whole number from 1 to 2147483647 (got 0)"),
        "{shown}"
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let text = "[server]\nlisten = \"127.0.0.1:1\"\n\n[rules]\nticket_flood_limt = 5\n";
    match config::parse_str_with(text, "typo.toml", &env()) {
        Err(ConfigError::Syntax {
            origin,
            line,
            column,
            message,
            more,
        }) => {
            assert!(more.is_empty(), "{more:?}");
            assert_eq!(origin, "typo.toml");
            assert_eq!((line, column), (5, 1));
            assert!(
                message.contains("unknown field `ticket_flood_limt`"),
                "{message}"
            );
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let nested = "[[clients]]\nname = \"A\"\nconnectwise = { board = 3 }\n";
    match config::parse_str_with(nested, "nested.toml", &env()) {
        Err(ConfigError::Syntax { line, message, .. }) => {
            assert_eq!(line, 3);
            assert!(message.contains("unknown field `board`"), "{message}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let error = config::parse_str_with("[server\n", "broken.toml", &env()).unwrap_err();
    assert!(error.to_string().starts_with("broken.toml:1:"), "{error}");
}

#[test]
fn secrets_come_from_the_environment_and_from_files() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(
        directory.path().join("admin.pw"),
        "file-secret-value-1234\n",
    )
    .unwrap();
    let config_file = directory.path().join("mspbridge.toml");
    std::fs::write(
        &config_file,
        "[server]\nadmin_password = \"file:admin.pw\"\napi_tokens = [\"env:MSPBRIDGE_CORE_TEST_TOKEN\", \"literal-token-value\"]\n",
    )
    .unwrap();
    std::env::set_var("MSPBRIDGE_CORE_TEST_TOKEN", "env-secret-value-5678");
    let config = config::load(&config_file).unwrap();
    assert_eq!(
        config.server.admin_password.as_ref().unwrap().expose(),
        "file-secret-value-1234"
    );
    assert_eq!(
        config.server.api_tokens[0].expose(),
        "env-secret-value-5678"
    );
    assert_eq!(config.server.api_tokens[1].expose(), "literal-token-value");
    let shown = format!("{config:?}");
    for value in [
        "file-secret-value-1234",
        "env-secret-value-5678",
        "literal-token-value",
    ] {
        assert!(!shown.contains(value), "{shown}");
    }
}

#[test]
fn unresolvable_secrets_name_key_and_source_but_not_values() {
    let text = "[server]\nadmin_password = \"file:/nonexistent/mspbridge/admin.pw\"\napi_tokens = [\"env:MSPBRIDGE_CORE_TEST_UNSET\", \"\"]\n";
    let error = config::parse_str_with(text, "secrets.toml", &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("secrets.toml:2: server.admin_password: cannot read secret file /nonexistent/mspbridge/admin.pw"), "{error}");
    assert!(error.contains("secrets.toml:3: server.api_tokens[0]: environment variable MSPBRIDGE_CORE_TEST_UNSET is not set"), "{error}");
    assert!(
        error.contains("server.api_tokens[1]: the secret (<redacted>) is empty"),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let error = config::load(std::path::Path::new("/nonexistent/mspbridge.toml")).unwrap_err();
    assert!(matches!(error, ConfigError::Io { .. }));
    assert!(
        error
            .to_string()
            .starts_with("cannot read config file /nonexistent/mspbridge.toml:"),
        "{error}"
    );
}

#[test]
fn itglue_and_report_references_are_checked() {
    let text = r#"
[[clients]]
name = "Acme"

[[clients]]
name = "Beta"

[[itglue]]
name = "a"
region = "us"
url = "https://api.itglue.com"
api_key = "k"
clients = ["Acme", "Gamma"]

[[itglue]]
name = "b"
region = "mars"
api_key = "k"

[[reports]]
name = "weekly"
clients = ["Beta"]
schedule = "fortnightly"
publish_to_itglue = true
"#;
    let found = issues(text);
    let paths: Vec<&str> = found.iter().map(|issue| issue.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "itglue[0]",
            "itglue[0].clients[1]",
            "itglue[1].region",
            "reports[0].clients[0]",
            "reports[0].schedule",
        ]
    );
    assert_eq!(found[0].line, Some(8));
    assert!(
        found[3]
            .message
            .contains("not enabled in any [[itglue]] instance"),
        "{}",
        found[3].message
    );
}

#[test]
fn status_names_are_accepted_for_reopening() {
    let text = r#"
[connectwise]
site = "https://api-eu.myconnectwise.net"
company_id = "acme"
public_key = "pub"
private_key = "literal"
client_id = "cid"
codebase = "/v2024_1/"

[connectwise.ticket]
reopen_closed_statuses = ["Closed", 8]
reopen_new_status = "New"
"#;
    let config = config::parse_str_with(text, "names.toml", &env()).unwrap();
    let connectwise = config.connectwise.unwrap();
    assert_eq!(connectwise.codebase.as_deref(), Some("v2024_1"));
    assert_eq!(
        connectwise.ticket.reopen_closed_statuses,
        vec![StatusRef::Name("Closed".into()), StatusRef::Id(8)]
    );
    assert_eq!(
        connectwise.ticket.reopen_new_status,
        Some(StatusRef::Name("New".into()))
    );
}

#[test]
fn a_secret_of_the_wrong_type_is_refused_without_echoing_it() {
    for text in [
        "[connectwise]\nprivate_key = 918273645\n",
        "[server]\napi_tokens = \"918273645-token\"\n",
        "[server]\napi_tokens = [918273645]\n",
        "[[itglue]]\nname = \"a\"\nregion = \"us\"\napi_key = 918273645.5\n",
    ] {
        let error = config::parse_str_with(text, "wrong.toml", &env())
            .unwrap_err()
            .to_string();
        assert!(!error.contains("918273645"), "{error}");
        assert!(error.contains("secret"), "{error}");
    }
}

#[test]
fn type_errors_name_the_key_path() {
    let text = "[[clients]]\nname = \"A\"\nconnectwise = { board_id = \"3\" }\n";
    let error = config::parse_str_with(text, "types.toml", &env())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "types.toml:3:28: clients[0].connectwise.board_id: invalid type: string \"3\", expected an integer"
    );
}

#[test]
fn urls_must_not_carry_credentials_or_api_paths() {
    let text = r#"
[connectwise]
site = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
company_id = "acme"
public_key = "pub"
private_key = "k"
client_id = "cid"

[[sources]]
name = "a"
kind = "netwrix-auditor"
url = "https://svc:Hunter2Secret@auditor.acme.example:9699"
"#;
    let found = issues(text);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].path, "connectwise.site");
    assert!(
        found[0].message.contains("must name only the site"),
        "{}",
        found[0].message
    );
    assert_eq!(found[1].path, "sources[0].url");
    assert!(
        found[1].message.contains("must not carry credentials"),
        "{}",
        found[1].message
    );
    assert!(
        !found[1].message.contains("Hunter2Secret"),
        "{}",
        found[1].message
    );
}

#[test]
fn the_database_url_may_come_from_the_environment() {
    let options = LoadOptions {
        base_dir: None,
        env: Some(HashMap::from([(
            "DATABASE_URL".to_string(),
            "postgres://mspbridge:Hunter2Secret@db.internal/mspbridge".to_string(),
        )])),
    };
    let config = config::parse_str_with(
        "[server]\ndatabase = \"env:DATABASE_URL\"\n",
        "db.toml",
        &options,
    )
    .unwrap();
    assert_eq!(config.server.database.kind(), DatabaseKind::Postgres);
    assert!(config.server.database.expose().contains("Hunter2Secret"));
    assert!(!format!("{config:?}").contains("Hunter2Secret"));
    let error = config::parse_str_with(
        "[server]\ndatabase = \"env:NO_SUCH_DATABASE_URL\"\n",
        "db.toml",
        &options,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "db.toml:2: server.database: environment variable NO_SUCH_DATABASE_URL is not set"
    );
}

#[test]
fn validation_errors_never_contain_literal_secrets() {
    let text = r#"
[server]
admin_password = "LiteralAdminPassword-314"
api_tokens = ["LiteralToken-271", ""]
listen = "nowhere"

[connectwise]
site = "ftp://cw.example"
company_id = "acme"
public_key = "pub"
private_key = "LiteralPrivateKey-161"

[[sources]]
name = "a"
kind = "netwrix-auditor"
url = "https://auditor.example:9699"
password = "LiteralAuditorPassword-141"

[[itglue]]
name = "i"
api_key = "LiteralItGlueKey-173"
"#;
    let error = config::parse_str_with(text, "literal.toml", &env()).unwrap_err();
    let shown = format!("{error}\n{error:?}");
    assert!(shown.lines().count() >= 5, "{shown}");
    for secret in [
        "LiteralAdminPassword-314",
        "LiteralToken-271",
        "LiteralPrivateKey-161",
        "LiteralAuditorPassword-141",
        "LiteralItGlueKey-173",
    ] {
        assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
    }
}

#[test]
fn the_earliest_syntax_error_is_reported() {
    // A broken string on line 2 and an unclosed table header on line 5: line 2 is the one to fix.
    let text = "[connectwise]\nsite = \"https://x\ncompany_id = \"a\"\n\n[connectwise\npublic_key = \"x\"\n";
    let error = config::parse_str_with(text, "broken.toml", &env()).unwrap_err();
    match &error {
        ConfigError::Syntax { line, more, .. } => {
            assert_eq!(*line, 2, "{error}");
            assert!(more.is_empty(), "{error}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(error.to_string().starts_with("broken.toml:2:"), "{error}");
}

#[test]
fn every_unknown_key_and_wrong_type_is_reported_in_file_order_with_a_suggestion() {
    let text = r#"[connectwise]
site = "https://api-na.myconnectwise.net"
sitee = "x"
company_id = "acme"
public_key = "p"
private_key = "k"
client_id = "c"

[connectwise.ticket]
board = 3
team_id = "twenty-five"

[rulez]
x = 1

[[clients]]
name = "Acme"
connectwise = { compnay_id = 250 }
"#;
    let error = config::parse_str_with(text, "typos.toml", &env()).unwrap_err();
    let shown = error.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 5, "{shown}");
    assert!(lines[0].starts_with("typos.toml:3:1: connectwise.sitee: unknown field `sitee`, did you mean `site`? (expected one of `site`, `company_id`"), "{shown}");
    assert!(lines[1].starts_with("typos.toml:10:1: connectwise.ticket.board: unknown field `board`, did you mean `board_id`?"), "{shown}");
    assert!(
        lines[2].starts_with("typos.toml:11:1: connectwise.ticket.team_id: invalid type"),
        "{shown}"
    );
    assert!(
        lines[3]
            .starts_with("typos.toml:13:2: rulez: unknown field `rulez`, did you mean `rules`?"),
        "{shown}"
    );
    assert!(lines[4].starts_with("typos.toml:18:17: clients[0].connectwise.compnay_id: unknown field `compnay_id`, did you mean `company_id`?"), "{shown}");
    match error {
        ConfigError::Syntax { line, more, .. } => {
            assert_eq!(line, 3);
            assert_eq!(more.len(), 4);
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn a_required_key_of_the_wrong_type_is_reported_once() {
    let text = "[[clients]]\nname = 7\n";
    let error = config::parse_str_with(text, "t.toml", &env()).unwrap_err();
    let shown = error.to_string();
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(shown.contains("clients[0].name: invalid type"), "{shown}");
}

#[test]
fn the_viewer_password_is_read_and_must_differ_from_the_admin_password() {
    let config = config::parse_str_with(
        "[server]\nadmin_password = \"admin-pw-1\"\nviewer_password = \"viewer-pw-2\"\n",
        "console.toml",
        &env(),
    )
    .unwrap();
    assert_eq!(
        config.server.viewer_password.as_ref().unwrap().expose(),
        "viewer-pw-2"
    );
    let found = issues("[server]\nadmin_password = \"same-pw\"\nviewer_password = \"same-pw\"\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "server.viewer_password");
    assert!(found[0].message.contains("must differ"), "{found:?}");
    assert!(!found[0].message.contains("same-pw"), "{found:?}");
}

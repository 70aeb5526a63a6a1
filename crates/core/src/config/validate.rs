//! Turns the raw configuration into the typed [`Config`], checking every value and every reference
//! between sections. It never stops at the first mistake: every issue is collected with its key path,
//! so one run of `mspbridge check` shows everything that needs fixing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::checks::Checker;
use super::defaults;
use super::raw::{
    IntOrText, RawConnectWise, RawEvents, RawJobs, RawRetentionSection, RawRules, RawServer,
    RawTicket,
};
use super::sections::{check_client_reference, clients, itglue, reports, sources};
use super::types::{
    Config, ConnectWiseConfig, DatabaseUrl, DescriptionField, EventsConfig, JobsConfig, RateLimit,
    RetentionConfig, RetentionLimit, RoutingConfig, RulesConfig, ServerConfig, StatusRef,
    TicketLevel, TicketSettings, WebRequestLimit,
};
use super::RawConfig;
use crate::duration::parse_duration;
use crate::template::TemplateKind;

pub(super) const LEVELS: &str = "Low, Medium, High";
pub(super) const DESCRIPTION_FIELDS: &str = "initialDescription, initialInternalAnalysis";

/// Checks `raw` and builds the typed config, or returns every issue as (key path, message).
pub fn validate(raw: &RawConfig, checker: &mut Checker<'_>) -> Option<Config> {
    let server = server(raw.server.as_ref(), checker);
    let rules = rules(raw.rules.as_ref(), checker);
    let clients = clients(&raw.clients, checker);
    let client_names: Vec<&str> = clients.iter().map(|client| client.name.as_str()).collect();
    let connectwise = raw
        .connectwise
        .as_ref()
        .map(|section| connectwise(section, checker));
    let routing = RoutingConfig {
        catch_all_client: raw.routing.as_ref().and_then(|routing| {
            checker.optional_text(
                "routing.catch_all_client",
                routing.catch_all_client.as_ref(),
            )
        }),
    };
    if let Some(name) = &routing.catch_all_client {
        check_client_reference(checker, "routing.catch_all_client", name, &client_names);
    }
    let events = events(raw.events.as_ref(), checker);
    let jobs = jobs(raw.jobs.as_ref(), checker);
    if let Some(connectwise) = &connectwise {
        if jobs.lease <= connectwise.request_timeout {
            checker.issue(
                "jobs.lease",
                format!(
                    "must be longer than connectwise.request_timeout ({}s), or another process \
                     could take a job over while its ConnectWise call is still running",
                    connectwise.request_timeout.as_secs()
                ),
            );
        }
    }
    let retention = retention(raw.retention.as_ref(), checker);
    let sources = sources(&raw.sources, &rules, &client_names, checker);
    let itglue = itglue(&raw.itglue, &client_names, checker);
    let reports = reports(&raw.reports, &client_names, &itglue, checker);
    super::routes::check_aliases(&clients, checker);
    let routes = super::routes::routes(&raw.routes, &clients, checker);
    if !checker.issues.is_empty() {
        return None;
    }
    Some(Config {
        server,
        connectwise,
        rules,
        routing,
        events,
        jobs,
        retention,
        sources,
        clients,
        itglue,
        reports,
        routes,
    })
}

/// Shortest `jobs.lease`: longer than any single call mspbridge makes is up to the operator.
const MIN_LEASE: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest `jobs.lease`.
const MAX_LEASE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn jobs(raw: Option<&RawJobs>, checker: &mut Checker<'_>) -> JobsConfig {
    let defaults = JobsConfig::default();
    let Some(raw) = raw else {
        return defaults;
    };
    let jobs = JobsConfig {
        max_attempts: checker.count("jobs.max_attempts", raw.max_attempts, defaults.max_attempts),
        max_age: checker.duration(
            "jobs.max_age",
            raw.max_age.as_ref(),
            defaults.max_age,
            false,
        ),
        initial_backoff: checker.duration(
            "jobs.initial_backoff",
            raw.initial_backoff.as_ref(),
            defaults.initial_backoff,
            false,
        ),
        max_backoff: checker.duration(
            "jobs.max_backoff",
            raw.max_backoff.as_ref(),
            defaults.max_backoff,
            false,
        ),
        lease: checker.duration("jobs.lease", raw.lease.as_ref(), defaults.lease, false),
    };
    if jobs.lease < MIN_LEASE || jobs.lease > MAX_LEASE {
        checker.issue(
            "jobs.lease",
            format!(
                "must be between {}s and {}h: a lease shorter than a job's slowest call lets \
                 another process take the job over while it is still running, a longer one \
                 leaves a dead process's work waiting",
                MIN_LEASE.as_secs(),
                MAX_LEASE.as_secs() / 3600
            ),
        );
    }
    if jobs.max_backoff < jobs.initial_backoff {
        checker.issue(
            "jobs.max_backoff",
            "must not be shorter than jobs.initial_backoff",
        );
    }
    jobs
}

fn retention(raw: Option<&RawRetentionSection>, checker: &mut Checker<'_>) -> RetentionConfig {
    let fallback = defaults::retention();
    let Some(raw) = raw else {
        return fallback;
    };
    RetentionConfig {
        every: raw.every.as_ref().map(|every| {
            checker.duration(
                "retention.every",
                Some(every),
                Duration::from_secs(60),
                false,
            )
        }),
        events: checker.duration(
            "retention.events",
            raw.events.as_ref(),
            fallback.events,
            false,
        ),
        events_limit: checker.count(
            "retention.events_limit",
            raw.events_limit,
            fallback.events_limit,
        ),
        jobs: checker.duration("retention.jobs", raw.jobs.as_ref(), fallback.jobs, true),
    }
}

fn events(raw: Option<&RawEvents>, checker: &mut Checker<'_>) -> EventsConfig {
    let mut raise_alerts = Vec::new();
    let listed = raw.and_then(|events| events.raise_alerts.as_ref());
    for (index, &code) in listed.into_iter().flatten().enumerate() {
        let path = format!("events.raise_alerts[{index}]");
        match u32::try_from(code)
            .ok()
            .filter(|code| EventsConfig::RAISABLE.contains(code))
        {
            Some(code) if raise_alerts.contains(&code) => {
                checker.issue(path, format!("event {code} is listed twice"))
            }
            Some(code) => raise_alerts.push(code),
            None => checker.issue(
                path,
                format!(
                    "event {code} cannot raise an alert; the events that can are 4018 (IT Glue \
                     client auto-map failed), 4019 (IT Glue system auto-map failed) and 4022 \
                     (report publish failed)"
                ),
            ),
        }
    }
    EventsConfig { raise_alerts }
}

fn server(raw: Option<&RawServer>, checker: &mut Checker<'_>) -> ServerConfig {
    let empty = RawServer::default();
    let raw = raw.unwrap_or(&empty);
    let listen = match &raw.listen {
        None => defaults::LISTEN,
        Some(text) => text.trim().parse::<SocketAddr>().unwrap_or_else(|_| {
            checker.issue(
                "server.listen",
                format!("\"{text}\" is not an address with a port; write e.g. \"127.0.0.1:8787\" or \"[::]:8787\""),
            );
            defaults::LISTEN
        }),
    };
    // A PostgreSQL URL carries a password, so the URL itself may come from env: or file:.
    let database_text = match raw.database.as_deref() {
        Some(text) if text.starts_with("env:") || text.starts_with("file:") => {
            checker.secret("server.database", text).expose().to_string()
        }
        Some(text) => text.to_string(),
        None => defaults::DATABASE.to_string(),
    };
    let database = if database_text.is_empty() {
        DatabaseUrl::parse(defaults::DATABASE).expect("default database URL parses")
    } else {
        DatabaseUrl::parse(database_text.trim()).unwrap_or_else(|message| {
            checker.issue("server.database", message);
            DatabaseUrl::parse(defaults::DATABASE).expect("default database URL parses")
        })
    };
    let api_tokens = raw
        .api_tokens
        .iter()
        .flat_map(|list| list.0.iter())
        .enumerate()
        .map(|(index, token)| checker.secret(&format!("server.api_tokens[{index}]"), &token.0))
        .collect();
    let admin_password = raw
        .admin_password
        .as_ref()
        .map(|text| checker.secret("server.admin_password", &text.0));
    let viewer_password = raw
        .viewer_password
        .as_ref()
        .map(|text| checker.secret("server.viewer_password", &text.0));
    if let (Some(admin), Some(viewer)) = (&admin_password, &viewer_password) {
        if !admin.expose().is_empty() && admin == viewer {
            checker.issue(
                "server.viewer_password",
                "must differ from server.admin_password, or the read-only login would be the admin login",
            );
        }
    }
    let max_body_bytes = checker.bytes(
        "server.max_body_bytes",
        raw.max_body_bytes.as_ref(),
        defaults::MAX_BODY_BYTES,
    );
    let missing_attachments_dir = PathBuf::from(
        checker
            .optional_text(
                "server.missing_attachments_dir",
                raw.missing_attachments_dir.as_ref(),
            )
            .unwrap_or_else(|| defaults::MISSING_ATTACHMENTS_DIR.to_string()),
    );
    let intake_rate_limit = raw.intake_rate_limit.as_deref().and_then(|text| {
        parse_rate_limit(text)
            .map_err(|problem| checker.issue("server.intake_rate_limit", problem))
            .ok()
    });
    ServerConfig {
        listen,
        database,
        api_tokens,
        admin_password,
        viewer_password,
        max_body_bytes,
        missing_attachments_dir,
        intake_rate_limit,
    }
}

/// Reads a rate such as `"500/s"`, `"20000/1m"` or `"100/10s"`: a count of requests, a slash, and
/// the window as a duration (a bare unit means one of it).
pub(super) fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    let hint =
        "write a number of requests per duration, e.g. \"500/s\", \"20000/1m\" or \"100/10s\"";
    let Some((count, window)) = text.split_once('/') else {
        return Err(format!("\"{text}\" is not a rate; {hint}"));
    };
    let requests = match count.trim().parse::<u32>() {
        Ok(requests) if requests > 0 => requests,
        _ => {
            return Err(format!(
                "\"{text}\": the number of requests must be a whole number from 1 to {}; {hint}",
                u32::MAX
            ))
        }
    };
    let window = window.trim();
    let per = if window.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(window)
    } else {
        parse_duration(&format!("1{window}"))
    }
    .map_err(|_| format!("\"{text}\": \"{window}\" is not a duration; {hint}"))?;
    if per.is_zero() {
        return Err(format!("\"{text}\": the window must be longer than zero"));
    }
    Ok(RateLimit { requests, per })
}

fn connectwise(raw: &RawConnectWise, checker: &mut Checker<'_>) -> ConnectWiseConfig {
    let site = match &raw.site {
        Some(text) => checker.site_url("connectwise.site", text),
        None => {
            checker.issue(
                "connectwise.site",
                "is required; the ConnectWise API site, e.g. \"https://api-na.myconnectwise.net\"",
            );
            None
        }
    };
    let company_id = checker.required_text(
        "connectwise.company_id",
        raw.company_id.as_ref(),
        "the company id you log in to ConnectWise Manage with",
    );
    let public_key = checker.required_text(
        "connectwise.public_key",
        raw.public_key.as_ref(),
        "the API member's public key",
    );
    let private_key = checker.required_secret(
        "connectwise.private_key",
        raw.private_key.as_ref(),
        "the API member's private key, e.g. \"env:CW_PRIVATE_KEY\"",
    );
    let client_id = checker.required_text(
        "connectwise.client_id",
        raw.client_id.as_ref(),
        "ConnectWise requires a clientId since 2019; register one at https://developer.connectwise.com/ClientID",
    );
    let codebase = checker
        .optional_text("connectwise.codebase", raw.codebase.as_ref())
        .map(|codebase| codebase.trim_matches('/').to_string());
    let connect_timeout = checker.duration(
        "connectwise.connect_timeout",
        raw.connect_timeout.as_ref(),
        defaults::CONNECT_TIMEOUT,
        false,
    );
    let request_timeout = checker.duration(
        "connectwise.request_timeout",
        raw.request_timeout.as_ref(),
        defaults::REQUEST_TIMEOUT,
        false,
    );
    let max_attachment_bytes = checker.bytes(
        "connectwise.max_attachment_bytes",
        raw.max_attachment_bytes.as_ref(),
        defaults::MAX_ATTACHMENT_BYTES,
    );
    let empty = RawTicket::default();
    let ticket = ticket(raw.ticket.as_ref().unwrap_or(&empty), checker);
    ConnectWiseConfig {
        site: site.unwrap_or_else(|| {
            Url::parse("https://invalid.invalid").expect("placeholder URL parses")
        }),
        company_id,
        public_key,
        private_key,
        client_id,
        codebase,
        connect_timeout,
        request_timeout,
        max_attachment_bytes,
        ticket,
    }
}

fn ticket(raw: &RawTicket, checker: &mut Checker<'_>) -> TicketSettings {
    const PREFIX: &str = "connectwise.ticket";
    let fallback = defaults::ticket_settings();
    let path = |key: &str| format!("{PREFIX}.{key}");
    let reopen_closed_statuses = raw
        .reopen_closed_statuses
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, value)| {
            status_ref(
                checker,
                &format!("{PREFIX}.reopen_closed_statuses[{index}]"),
                value,
            )
        })
        .collect();
    TicketSettings {
        summary: checker.template(
            &path("summary"),
            raw.summary.as_ref(),
            TemplateKind::Ticket,
            defaults::SUMMARY,
        ),
        description: checker.template(
            &path("description"),
            raw.description.as_ref(),
            TemplateKind::Ticket,
            defaults::DESCRIPTION,
        ),
        description_field: checker
            .level(
                &path("description_field"),
                raw.description_field.as_ref(),
                DescriptionField::parse,
                DESCRIPTION_FIELDS,
            )
            .unwrap_or(fallback.description_field),
        severity: checker
            .level(
                &path("severity"),
                raw.severity.as_ref(),
                TicketLevel::parse,
                LEVELS,
            )
            .unwrap_or(fallback.severity),
        impact: checker
            .level(
                &path("impact"),
                raw.impact.as_ref(),
                TicketLevel::parse,
                LEVELS,
            )
            .unwrap_or(fallback.impact),
        company_id: checker.record_id(&path("company_id"), raw.company_id),
        board_id: checker.record_id(&path("board_id"), raw.board_id),
        team_id: checker.record_id(&path("team_id"), raw.team_id),
        priority_id: checker.record_id(&path("priority_id"), raw.priority_id),
        status_id: checker.record_id(&path("status_id"), raw.status_id),
        correlation_format: checker.template(
            &path("correlation_format"),
            raw.correlation_format.as_ref(),
            TemplateKind::Correlation,
            defaults::CORRELATION_FORMAT,
        ),
        reopen_closed_statuses,
        reopen_new_status: raw
            .reopen_new_status
            .as_ref()
            .and_then(|value| status_ref(checker, &path("reopen_new_status"), value)),
        ignore_upload_attachment_error: raw
            .ignore_upload_attachment_error
            .unwrap_or(fallback.ignore_upload_attachment_error),
    }
}

pub(super) fn status_ref(
    checker: &mut Checker<'_>,
    path: &str,
    value: &IntOrText,
) -> Option<StatusRef> {
    match value {
        IntOrText::Int(number) => checker.record_id(path, Some(*number)).map(StatusRef::Id),
        IntOrText::Text(name) if name.trim().is_empty() => {
            checker.issue(
                path,
                "a status name must not be empty; give a status id or its name, e.g. \"Closed\"",
            );
            None
        }
        IntOrText::Text(name) => Some(StatusRef::Name(name.trim().to_string())),
    }
}

fn rules(raw: Option<&RawRules>, checker: &mut Checker<'_>) -> RulesConfig {
    let empty = RawRules::default();
    let raw = raw.unwrap_or(&empty);
    let fallback = defaults::rules();
    let update = raw
        .update_ticket_on_repetitive_alerts
        .unwrap_or(fallback.update_ticket_on_repetitive_alerts);
    // Reopening is part of updating: left out, it follows the update switch; set to true while
    // updates are off, it is the contradiction the vendor also rejects.
    let reopen = raw.reopen_ticket_on_repetitive_alerts.unwrap_or(update);
    if reopen && !update {
        checker.issue(
            "rules.reopen_ticket_on_repetitive_alerts",
            "cannot be true while update_ticket_on_repetitive_alerts is false: a closed ticket is only reopened to update it",
        );
    }
    let activity_record_requests = raw.activity_record_requests.as_ref();
    let web_requests = raw.activity_record_web_requests.as_ref();
    let ticket_requests = raw.ticket_requests.as_ref();
    RulesConfig {
        ticket_flood_limit: checker.count(
            "rules.ticket_flood_limit",
            raw.ticket_flood_limit,
            fallback.ticket_flood_limit,
        ),
        ticket_flood_interval: checker.duration(
            "rules.ticket_flood_interval",
            raw.ticket_flood_interval.as_ref(),
            fallback.ticket_flood_interval,
            false,
        ),
        consolidation_interval: checker.duration(
            "rules.consolidation_interval",
            raw.consolidation_interval.as_ref(),
            fallback.consolidation_interval,
            true,
        ),
        update_ticket_on_repetitive_alerts: update,
        reopen_ticket_on_repetitive_alerts: reopen,
        update_interval: checker.duration(
            "rules.update_interval",
            raw.update_interval.as_ref(),
            fallback.update_interval,
            false,
        ),
        enable_ticket_correlation: raw
            .enable_ticket_correlation
            .unwrap_or(fallback.enable_ticket_correlation),
        correlation_interval: checker.duration(
            "rules.correlation_interval",
            raw.correlation_interval.as_ref(),
            fallback.correlation_interval,
            false,
        ),
        display_only_first_activity_record: raw
            .display_only_first_activity_record
            .unwrap_or(fallback.display_only_first_activity_record),
        activity_record_requests: RetentionLimit {
            limit: checker.count(
                "rules.activity_record_requests.limit",
                activity_record_requests.and_then(|section| section.limit),
                fallback.activity_record_requests.limit,
            ),
            keep: checker.duration(
                "rules.activity_record_requests.keep",
                activity_record_requests.and_then(|section| section.keep.as_ref()),
                fallback.activity_record_requests.keep,
                false,
            ),
        },
        activity_record_web_requests: WebRequestLimit {
            limit: checker.count(
                "rules.activity_record_web_requests.limit",
                web_requests.and_then(|section| section.limit),
                fallback.activity_record_web_requests.limit,
            ),
            timeout: checker.duration(
                "rules.activity_record_web_requests.timeout",
                web_requests.and_then(|section| section.timeout.as_ref()),
                fallback.activity_record_web_requests.timeout,
                false,
            ),
        },
        ticket_requests: RetentionLimit {
            limit: checker.count(
                "rules.ticket_requests.limit",
                ticket_requests.and_then(|section| section.limit),
                fallback.ticket_requests.limit,
            ),
            keep: checker.duration(
                "rules.ticket_requests.keep",
                ticket_requests.and_then(|section| section.keep.as_ref()),
                fallback.ticket_requests.keep,
                false,
            ),
        },
    }
}

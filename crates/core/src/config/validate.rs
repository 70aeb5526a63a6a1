//! Turns the raw configuration into the typed [`Config`], checking every value and every reference
//! between sections. It never stops at the first mistake: every issue is collected with its key path,
//! so one run of `mspbridge check` shows everything that needs fixing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use super::checks::{parse_fingerprint, Checker};
use super::defaults;
use super::raw::{
    IntOrText, RawClient, RawConnectWise, RawItGlue, RawReport, RawRules, RawServer, RawSource,
    RawTicket,
};
use super::types::{
    ClientConfig, ClientTicketOverrides, Config, ConnectWiseConfig, DatabaseUrl, DescriptionField,
    ItGlueConfig, ItGlueEndpoint, ItGlueRegion, ReportConfig, ReportSchedule, RetentionLimit,
    RoutingConfig, RulesConfig, ServerConfig, SourceConfig, SourceKind, StatusRef, TicketLevel,
    TicketSettings, WebRequestLimit,
};
use super::RawConfig;
use crate::template::TemplateKind;

const LEVELS: &str = "Low, Medium, High";
const DESCRIPTION_FIELDS: &str = "initialDescription, initialInternalAnalysis";

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
    let sources = sources(&raw.sources, &rules, &client_names, checker);
    let itglue = itglue(&raw.itglue, &client_names, checker);
    let reports = reports(&raw.reports, &client_names, &itglue, checker);
    if !checker.issues.is_empty() {
        return None;
    }
    Some(Config {
        server,
        connectwise,
        rules,
        routing,
        sources,
        clients,
        itglue,
        reports,
    })
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
    ServerConfig {
        listen,
        database,
        api_tokens,
        admin_password,
        max_body_bytes,
        missing_attachments_dir,
    }
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

fn status_ref(checker: &mut Checker<'_>, path: &str, value: &IntOrText) -> Option<StatusRef> {
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

/// Records a duplicate `name` in a list section, naming where it was first used.
fn check_unique(
    checker: &mut Checker<'_>,
    seen: &mut HashMap<String, usize>,
    section: &str,
    index: usize,
    name: &str,
) {
    if name.is_empty() {
        return;
    }
    if let Some(first) = seen.get(name) {
        checker.issue(
            format!("{section}[{index}].name"),
            format!("duplicate name \"{name}\"; {section}[{first}] already uses it"),
        );
    } else {
        seen.insert(name.to_string(), index);
    }
}

fn check_client_reference(checker: &mut Checker<'_>, path: &str, name: &str, clients: &[&str]) {
    if !clients.contains(&name) {
        let known = if clients.is_empty() {
            "no [[clients]] are configured".to_string()
        } else {
            format!("configured clients: {}", clients.join(", "))
        };
        checker.issue(
            path,
            format!("names client \"{name}\", which is not configured ({known})"),
        );
    }
}

fn clients(raw: &[RawClient], checker: &mut Checker<'_>) -> Vec<ClientConfig> {
    let mut seen = HashMap::new();
    let mut clients = Vec::new();
    for (index, client) in raw.iter().enumerate() {
        let prefix = format!("clients[{index}]");
        let name = checker.required_text(
            &format!("{prefix}.name"),
            client.name.as_ref(),
            "every client needs a unique name",
        );
        check_unique(checker, &mut seen, "clients", index, &name);
        let email = client.email.as_ref().and_then(|email| {
            let email = email.trim();
            let valid = match email.rsplit_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !email.chars().any(char::is_whitespace)
                }
                None => false,
            };
            if !valid {
                checker.issue(
                    format!("{prefix}.email"),
                    format!("\"{email}\" is not an email address with a domain (e.g. it@acme.example); the domain is matched against IT Glue contacts"),
                );
            }
            valid.then(|| email.to_string())
        });
        let overrides = client.connectwise.as_ref().map(|raw| {
            let path = |key: &str| format!("{prefix}.connectwise.{key}");
            ClientTicketOverrides {
                company_id: checker.record_id(&path("company_id"), raw.company_id),
                board_id: checker.record_id(&path("board_id"), raw.board_id),
                team_id: checker.record_id(&path("team_id"), raw.team_id),
                priority_id: checker.record_id(&path("priority_id"), raw.priority_id),
                status_id: checker.record_id(&path("status_id"), raw.status_id),
                severity: checker.level(
                    &path("severity"),
                    raw.severity.as_ref(),
                    TicketLevel::parse,
                    LEVELS,
                ),
                impact: checker.level(
                    &path("impact"),
                    raw.impact.as_ref(),
                    TicketLevel::parse,
                    LEVELS,
                ),
                summary: checker.optional_template(
                    &path("summary"),
                    raw.summary.as_ref(),
                    TemplateKind::Ticket,
                ),
                description: checker.optional_template(
                    &path("description"),
                    raw.description.as_ref(),
                    TemplateKind::Ticket,
                ),
                description_field: checker.level(
                    &path("description_field"),
                    raw.description_field.as_ref(),
                    DescriptionField::parse,
                    DESCRIPTION_FIELDS,
                ),
            }
        });
        clients.push(ClientConfig {
            name,
            email,
            connectwise: overrides.unwrap_or_default(),
        });
    }
    clients
}

fn sources(
    raw: &[RawSource],
    rules: &RulesConfig,
    clients: &[&str],
    checker: &mut Checker<'_>,
) -> Vec<SourceConfig> {
    let mut seen = HashMap::new();
    let mut sources = Vec::new();
    for (index, source) in raw.iter().enumerate() {
        let prefix = format!("sources[{index}]");
        let path = |key: &str| format!("{prefix}.{key}");
        let name = checker.required_text(
            &path("name"),
            source.name.as_ref(),
            "every source needs a unique name",
        );
        check_unique(checker, &mut seen, "sources", index, &name);
        let kinds = "netwrix-auditor, webhook, alertmanager";
        let kind = match &source.kind {
            None => {
                checker.issue(path("kind"), format!("is required; one of {kinds}"));
                None
            }
            Some(text) => {
                let kind = SourceKind::parse(text.trim());
                if kind.is_none() {
                    checker.issue(path("kind"), format!("\"{text}\" is not one of {kinds}"));
                }
                kind
            }
        };
        let url = match (&source.url, kind) {
            (Some(text), Some(SourceKind::NetwrixAuditor) | None) => {
                checker.service_url(&path("url"), text)
            }
            (Some(_), Some(other)) => {
                checker.issue(
                    path("url"),
                    format!(
                        "only netwrix-auditor sources have a url; a {} source receives alerts",
                        other.as_str()
                    ),
                );
                None
            }
            (None, Some(SourceKind::NetwrixAuditor)) => {
                checker.issue(
                    path("url"),
                    "is required for a netwrix-auditor source: the Integration API, e.g. \"https://auditor.acme.example:9699\"",
                );
                None
            }
            (None, _) => None,
        };
        let username = checker.optional_text(&path("username"), source.username.as_ref());
        let password = source
            .password
            .as_ref()
            .map(|text| checker.secret(&path("password"), &text.0));
        if username.is_some() != source.password.is_some() {
            checker.issue(
                path(if username.is_some() {
                    "password"
                } else {
                    "username"
                }),
                "username and password go together; give both or neither",
            );
        }
        let tls_certificate_sha256 = source.tls_certificate_sha256.as_ref().and_then(|text| {
            parse_fingerprint(text)
                .map_err(|message| checker.issue(path("tls_certificate_sha256"), message))
                .ok()
        });
        let client = checker.optional_text(&path("client"), source.client.as_ref());
        if let Some(client) = &client {
            check_client_reference(checker, &path("client"), client, clients);
        }
        sources.push(SourceConfig {
            name,
            kind: kind.unwrap_or(SourceKind::Webhook),
            url,
            username,
            password,
            tls_certificate_sha256,
            records_per_request: checker.count(
                &path("records_per_request"),
                source.records_per_request,
                rules.activity_record_web_requests.limit,
            ),
            client,
            alert_key: checker.optional_template(
                &path("alert_key"),
                source.alert_key.as_ref(),
                TemplateKind::Ticket,
            ),
        });
    }
    sources
}

fn itglue(raw: &[RawItGlue], clients: &[&str], checker: &mut Checker<'_>) -> Vec<ItGlueConfig> {
    let mut seen = HashMap::new();
    let mut instances = Vec::new();
    for (index, instance) in raw.iter().enumerate() {
        let prefix = format!("itglue[{index}]");
        let path = |key: &str| format!("{prefix}.{key}");
        let name = checker.required_text(
            &path("name"),
            instance.name.as_ref(),
            "every IT Glue instance needs a unique name",
        );
        check_unique(checker, &mut seen, "itglue", index, &name);
        let endpoint = match (&instance.region, &instance.url) {
            (Some(_), Some(_)) => {
                checker.issue(prefix.clone(), "give either region or url, not both");
                None
            }
            (None, None) => {
                checker.issue(prefix.clone(), "give region (us, eu or au) or url");
                None
            }
            (Some(region), None) => {
                let parsed = ItGlueRegion::parse(region);
                if parsed.is_none() {
                    checker.issue(
                        path("region"),
                        format!("\"{region}\" is not one of us, eu, au"),
                    );
                }
                parsed.map(ItGlueEndpoint::Region)
            }
            (None, Some(url)) => checker
                .service_url(&path("url"), url)
                .map(ItGlueEndpoint::Url),
        };
        let api_key = checker.required_secret(
            &path("api_key"),
            instance.api_key.as_ref(),
            "the IT Glue API key, e.g. \"env:ITGLUE_API_KEY\"",
        );
        let enabled: Vec<String> = instance.clients.clone().unwrap_or_default();
        for (client_index, client) in enabled.iter().enumerate() {
            check_client_reference(
                checker,
                &format!("{prefix}.clients[{client_index}]"),
                client,
                clients,
            );
        }
        let automap_interval = checker.duration(
            &path("automap_interval"),
            instance.automap_interval.as_ref(),
            defaults::AUTOMAP_INTERVAL,
            false,
        );
        let report_asset_type = checker
            .optional_text(
                &path("report_asset_type"),
                instance.report_asset_type.as_ref(),
            )
            .unwrap_or_else(|| defaults::REPORT_ASSET_TYPE.to_string());
        instances.push(ItGlueConfig {
            name,
            endpoint: endpoint.unwrap_or(ItGlueEndpoint::Region(ItGlueRegion::Us)),
            api_key,
            clients: enabled,
            automap_interval,
            report_asset_type,
        });
    }
    instances
}

fn reports(
    raw: &[RawReport],
    clients: &[&str],
    itglue: &[ItGlueConfig],
    checker: &mut Checker<'_>,
) -> Vec<ReportConfig> {
    let mut seen = HashMap::new();
    let mut reports = Vec::new();
    for (index, report) in raw.iter().enumerate() {
        let prefix = format!("reports[{index}]");
        let path = |key: &str| format!("{prefix}.{key}");
        let name = checker.required_text(
            &path("name"),
            report.name.as_ref(),
            "every report needs a unique name",
        );
        check_unique(checker, &mut seen, "reports", index, &name);
        let publish_to_itglue = report.publish_to_itglue.unwrap_or(false);
        let report_clients = report.clients.clone().unwrap_or_default();
        if report_clients.is_empty() {
            checker.issue(
                path("clients"),
                "must list at least one client to report on",
            );
        }
        for (client_index, client) in report_clients.iter().enumerate() {
            let client_path = format!("{prefix}.clients[{client_index}]");
            check_client_reference(checker, &client_path, client, clients);
            let enabled = itglue
                .iter()
                .any(|instance| instance.clients.contains(client));
            if publish_to_itglue && clients.contains(&client.as_str()) && !enabled {
                checker.issue(
                    client_path,
                    format!("client \"{client}\" is not enabled in any [[itglue]] instance, so its report cannot be published (publish_to_itglue = true)"),
                );
            }
        }
        let schedule = match &report.schedule {
            None => {
                checker.issue(
                    path("schedule"),
                    "is required; one of daily, weekly, monthly",
                );
                None
            }
            Some(text) => {
                let schedule = ReportSchedule::parse(text);
                if schedule.is_none() {
                    checker.issue(
                        path("schedule"),
                        format!("\"{text}\" is not one of daily, weekly, monthly"),
                    );
                }
                schedule
            }
        };
        reports.push(ReportConfig {
            name,
            clients: report_clients,
            schedule: schedule.unwrap_or(ReportSchedule::Weekly),
            publish_to_itglue,
            expires_after: checker.duration(
                &path("expires_after"),
                report.expires_after.as_ref(),
                defaults::REPORT_EXPIRES_AFTER,
                false,
            ),
        });
    }
    reports
}

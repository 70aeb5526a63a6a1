//! Validation of the list sections — `[[clients]]`, `[[sources]]`, `[[itglue]]`, `[[reports]]` — and
//! of the references between them: unique names, and every client name used elsewhere configured.

use std::collections::{BTreeMap, HashMap};

use super::checks::{parse_fingerprint, Checker};
use super::defaults;
use super::raw::{RawClient, RawItGlue, RawReport, RawSource};
use super::types::{
    ClientConfig, ItGlueConfig, ItGlueEndpoint, ItGlueRegion, ReportConfig, ReportSchedule,
    RulesConfig, SourceConfig, SourceKind,
};
use super::validate::parse_rate_limit;
use crate::template::TemplateKind;

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

pub(super) fn check_client_reference(
    checker: &mut Checker<'_>,
    path: &str,
    name: &str,
    clients: &[&str],
) {
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

pub(super) fn clients(raw: &[RawClient], checker: &mut Checker<'_>) -> Vec<ClientConfig> {
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
            super::routes::ticket_overrides(raw, &format!("{prefix}.connectwise"), checker)
        });
        let aliases = client
            .aliases
            .iter()
            .flatten()
            .map(|alias| alias.trim().to_string())
            .collect();
        clients.push(ClientConfig {
            name,
            aliases,
            email,
            connectwise: overrides.unwrap_or_default(),
        });
    }
    clients
}

pub(super) fn sources(
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
            enrich_give_up: checker.duration(
                &path("enrich_give_up"),
                source.enrich_give_up.as_ref(),
                std::time::Duration::from_secs(24 * 3600),
                true,
            ),
            severity_map: super::routes::severity_map(
                &prefix,
                source.severity_from.as_ref(),
                source.severity_map.as_ref(),
                checker,
            ),
            alert_names: alert_names(&prefix, kind, source.alert_names.as_ref(), checker),
            close_on_resolve: source.close_on_resolve.as_ref().and_then(|value| {
                super::validate::status_ref(checker, &path("close_on_resolve"), value)
            }),
        });
    }
    sources
}

/// A netwrix-auditor source's `alert_names`: AlertID → the name its tickets carry.
fn alert_names(
    prefix: &str,
    kind: Option<SourceKind>,
    raw: Option<&BTreeMap<String, String>>,
    checker: &mut Checker<'_>,
) -> BTreeMap<String, String> {
    let Some(raw) = raw else {
        return BTreeMap::new();
    };
    if kind.is_some_and(|kind| kind != SourceKind::NetwrixAuditor) {
        checker.issue(
            format!("{prefix}.alert_names"),
            "only netwrix-auditor sources have alert_names (their alerts arrive with an AlertID only)",
        );
    }
    let mut names = BTreeMap::new();
    for (alert_id, name) in raw {
        let path = format!("{prefix}.alert_names.{alert_id}");
        if alert_id.trim().is_empty() {
            checker.issue(path, "an AlertID must not be empty");
        } else if crate::text::is_blank(name) {
            checker.issue(
                path,
                "the name must not be empty or only invisible characters",
            );
        } else {
            names.insert(
                alert_id.trim().to_lowercase(),
                crate::text::clean_line(name.trim()),
            );
        }
    }
    names
}

pub(super) fn itglue(
    raw: &[RawItGlue],
    clients: &[&str],
    checker: &mut Checker<'_>,
) -> Vec<ItGlueConfig> {
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
        let request_budget = match instance.request_budget.as_deref() {
            None => defaults::ITGLUE_REQUEST_BUDGET,
            Some(text) => parse_rate_limit(text)
                .map_err(|problem| checker.issue(path("request_budget"), problem))
                .unwrap_or(defaults::ITGLUE_REQUEST_BUDGET),
        };
        instances.push(ItGlueConfig {
            name,
            endpoint: endpoint.unwrap_or(ItGlueEndpoint::Region(ItGlueRegion::Us)),
            api_key,
            clients: enabled,
            automap_interval,
            report_asset_type,
            request_budget,
        });
    }
    instances
}

pub(super) fn reports(
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

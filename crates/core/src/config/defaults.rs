//! Default values of the configuration: the vendor's defaults (ITSMSettings.xml, ConnectWiseSettings.xml)
//! with "Netwrix Auditor" replaced by "mspbridge" in the templates. One place, so the docs, the
//! importer and the validator agree.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::types::{
    DescriptionField, RetentionConfig, RetentionLimit, RulesConfig, TicketLevel, TicketSettings,
    WebRequestLimit,
};
use crate::template::{Template, TemplateKind};

/// `server.listen`.
pub const LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);
/// `server.database`.
pub const DATABASE: &str = "sqlite://mspbridge.db";
/// `server.max_body_bytes`: 1 MiB.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;
/// `server.missing_attachments_dir`.
pub const MISSING_ATTACHMENTS_DIR: &str = "missing_attachments";
/// `connectwise.connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `connectwise.request_timeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// `connectwise.max_attachment_bytes`: 10 MiB.
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
/// `connectwise.ticket.summary`.
pub const SUMMARY: &str = "[mspbridge] %AlertName%";
/// `connectwise.ticket.description`: the vendor's InitialDescription, one field per line.
pub const DESCRIPTION: &str = "Alert Details:
Who: %Who%
Action: %Action%
Object type: %ObjectType%
What: %What%
When: %When%
Where: %Where%
Workstation: %Workstation%
Details: %Details%
Data source: %DataSource%
Monitoring plan: %MonitoringPlanName%
Item: %Item%
Sent by mspbridge from %Computer%";
/// `connectwise.ticket.correlation_format`.
pub const CORRELATION_FORMAT: &str = "Previous incident for the same alert type: Id: %id%";
/// `itglue[].automap_interval`.
pub const AUTOMAP_INTERVAL: Duration = Duration::from_secs(6 * 3600);
/// `itglue[].request_budget`: 2,900 requests per 5 minutes, 100 below IT Glue's account limit.
pub const ITGLUE_REQUEST_BUDGET: super::types::RateLimit = super::types::RateLimit {
    requests: 2_900,
    per: Duration::from_secs(300),
};
/// `itglue[].report_asset_type`.
pub const REPORT_ASSET_TYPE: &str = "mspbridge Reports";
/// `reports[].expires_after`.
pub const REPORT_EXPIRES_AFTER: Duration = Duration::from_secs(365 * 86_400);

const DAY: u64 = 86_400;

/// `[connectwise.ticket]` with nothing set.
pub fn ticket_settings() -> TicketSettings {
    TicketSettings {
        summary: Template::parse(SUMMARY, TemplateKind::Ticket).expect("default summary parses"),
        description: Template::parse(DESCRIPTION, TemplateKind::Ticket)
            .expect("default description parses"),
        description_field: DescriptionField::InitialDescription,
        severity: TicketLevel::Medium,
        impact: TicketLevel::Medium,
        company_id: None,
        board_id: None,
        team_id: None,
        priority_id: None,
        status_id: None,
        correlation_format: Template::parse(CORRELATION_FORMAT, TemplateKind::Correlation)
            .expect("default correlation format parses"),
        reopen_closed_statuses: Vec::new(),
        reopen_new_status: None,
        ignore_upload_attachment_error: true,
    }
}

/// `[rules]` with nothing set: the ITSMSettings.xml defaults.
pub fn rules() -> RulesConfig {
    RulesConfig {
        ticket_flood_limit: 10,
        ticket_flood_interval: Duration::from_secs(3600),
        consolidation_interval: Duration::from_secs(900),
        update_ticket_on_repetitive_alerts: true,
        reopen_ticket_on_repetitive_alerts: true,
        update_interval: Duration::from_secs(DAY),
        enable_ticket_correlation: true,
        correlation_interval: Duration::from_secs(30 * DAY),
        display_only_first_activity_record: true,
        activity_record_requests: RetentionLimit {
            limit: 5000,
            keep: Duration::from_secs(7 * DAY),
        },
        activity_record_web_requests: WebRequestLimit {
            limit: 200,
            timeout: Duration::from_secs(180),
        },
        ticket_requests: RetentionLimit {
            limit: 300_000,
            keep: Duration::from_secs(7 * DAY),
        },
    }
}

/// `[retention]`: events for 90 days (at most a million), finished jobs for a day; the pass
/// interval follows the `[rules]` keeps.
pub fn retention() -> RetentionConfig {
    RetentionConfig {
        every: None,
        events: Duration::from_secs(90 * DAY),
        events_limit: 1_000_000,
        jobs: Duration::from_secs(DAY),
    }
}

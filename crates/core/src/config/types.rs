//! The typed configuration: what the rest of mspbridge reads once the file has been validated.
//!
//! Every value is already parsed into the type it is used as (`Url`, `Duration`, `SecretString`,
//! `Template`), so later code never re-parses a string or handles a config mistake at run time.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::secret::SecretString;
use crate::template::Template;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[connectwise]`; `None` when ticketing is not configured.
    pub connectwise: Option<ConnectWiseConfig>,
    /// `[rules]`, the vendor's ITSMSettings.xml.
    pub rules: RulesConfig,
    /// `[routing]`.
    pub routing: RoutingConfig,
    /// `[events]`.
    pub events: EventsConfig,
    /// `[jobs]`.
    pub jobs: JobsConfig,
    /// `[retention]`: how often the store is pruned and what `[rules]` does not cover.
    pub retention: RetentionConfig,
    /// `[[sources]]`.
    pub sources: Vec<SourceConfig>,
    /// `[[clients]]`.
    pub clients: Vec<ClientConfig>,
    /// `[[itglue]]`.
    pub itglue: Vec<ItGlueConfig>,
    /// `[[reports]]`.
    pub reports: Vec<ReportConfig>,
    /// `[[routes]]`, in file order (the first match wins).
    pub routes: Vec<RouteConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address of the HTTP API and console.
    pub listen: SocketAddr,
    /// Where the durable store lives.
    pub database: DatabaseUrl,
    /// Bearer tokens accepted by the intake and the API.
    pub api_tokens: Vec<SecretString>,
    /// Password of the web console's `admin` login.
    pub admin_password: Option<SecretString>,
    /// Password of the web console's read-only `viewer` login.
    pub viewer_password: Option<SecretString>,
    /// Largest request body accepted by the intake.
    pub max_body_bytes: u64,
    /// Where attachments that failed to upload are written.
    pub missing_attachments_dir: PathBuf,
    /// `server.intake_rate_limit`: intake requests beyond this rate get `429`; `None` = no limit.
    pub intake_rate_limit: Option<RateLimit>,
}

/// At most `requests` per `per`, in bursts of up to `requests` (a token bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window, also the largest burst.
    pub requests: u32,
    /// The window.
    pub per: Duration,
}

/// Which database engine a [`DatabaseUrl`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// `sqlite://…` or `sqlite:…`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

/// A database URL. Debug and Display hide a password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    kind: DatabaseKind,
    url: String,
}

impl DatabaseUrl {
    /// Reads a URL, accepting only SQLite and PostgreSQL.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let lower = text.to_ascii_lowercase();
        let kind = if lower.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            DatabaseKind::Postgres
        } else {
            return Err(format!(
                "\"{}\" is not a supported database URL; use sqlite://FILE or postgres://HOST/DB",
                redact_url_password(text)
            ));
        };
        if kind == DatabaseKind::Sqlite
            && text.len() <= "sqlite://".len()
            && lower.starts_with("sqlite://")
        {
            return Err("the SQLite URL names no file; use e.g. sqlite://mspbridge.db".to_string());
        }
        if kind == DatabaseKind::Postgres && Url::parse(text).is_err() {
            return Err(format!(
                "\"{}\" is not a valid PostgreSQL URL",
                redact_url_password(text)
            ));
        }
        Ok(DatabaseUrl {
            kind,
            url: text.to_string(),
        })
    }

    /// The engine.
    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// The full URL, password included, for the store to connect with.
    pub fn expose(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url_password(&self.url))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of `scheme://user:password@host` with `<redacted>`.
pub(crate) fn redact_url_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_string();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:<redacted>{}",
            &text[..scheme_end + 3],
            &authority[..colon],
            &text[scheme_end + 3 + at..]
        ),
        _ => text.to_string(),
    }
}

/// `[connectwise]`: the ConnectWise Manage connection and the ticket defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectWiseConfig {
    /// e.g. `https://api-na.myconnectwise.net`.
    pub site: Url,
    /// The login company.
    pub company_id: String,
    /// The API member's public key.
    pub public_key: String,
    /// The API member's private key.
    pub private_key: SecretString,
    /// The integrator's clientId header.
    pub client_id: String,
    /// e.g. `v2024_1`; `None` means discover it through `/login/companyinfo/{company}`.
    pub codebase: Option<String>,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Largest attachment uploaded to a ticket.
    pub max_attachment_bytes: u64,
    /// `[connectwise.ticket]`.
    pub ticket: TicketSettings,
}

/// Ticket field severity / impact, as ConnectWise names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TicketLevel {
    /// `Low`.
    Low,
    /// `Medium`.
    Medium,
    /// `High`.
    High,
}

impl TicketLevel {
    /// The value ConnectWise expects.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketLevel::Low => "Low",
            TicketLevel::Medium => "Medium",
            TicketLevel::High => "High",
        }
    }

    /// Reads `Low`, `Medium` or `High` in any case.
    pub fn parse(text: &str) -> Option<TicketLevel> {
        [TicketLevel::Low, TicketLevel::Medium, TicketLevel::High]
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// Which ticket field gets the description template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptionField {
    /// Visible to the client.
    InitialDescription,
    /// MSP-internal only.
    InitialInternalAnalysis,
}

impl DescriptionField {
    /// The ConnectWise API field name.
    pub fn api_name(self) -> &'static str {
        match self {
            DescriptionField::InitialDescription => "initialDescription",
            DescriptionField::InitialInternalAnalysis => "initialInternalAnalysis",
        }
    }

    /// Reads the API field name in any case.
    pub fn parse(text: &str) -> Option<DescriptionField> {
        [
            DescriptionField::InitialDescription,
            DescriptionField::InitialInternalAnalysis,
        ]
        .into_iter()
        .find(|field| field.api_name().eq_ignore_ascii_case(text.trim()))
    }
}

/// A ConnectWise status, by id (board-specific) or by name (looked up on the ticket's board).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRef {
    /// A status id.
    Id(i32),
    /// A status name such as `Closed`.
    Name(String),
}

/// The ticket settings in force for one client: `[connectwise.ticket]` with the client's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketSettings {
    /// Summary template (cut to 100 UTF-16 units when rendered).
    pub summary: Template,
    /// Description template.
    pub description: Template,
    /// Which field the description goes to.
    pub description_field: DescriptionField,
    /// Ticket severity.
    pub severity: TicketLevel,
    /// Ticket impact.
    pub impact: TicketLevel,
    /// ConnectWise company the ticket is opened for.
    pub company_id: Option<i32>,
    /// Service board.
    pub board_id: Option<i32>,
    /// Service team.
    pub team_id: Option<i32>,
    /// Priority.
    pub priority_id: Option<i32>,
    /// Initial status.
    pub status_id: Option<i32>,
    /// One line per earlier incident; `%id%` is its ticket id.
    pub correlation_format: Template,
    /// Statuses that count as closed for reopening.
    pub reopen_closed_statuses: Vec<StatusRef>,
    /// Status a reopened ticket gets.
    pub reopen_new_status: Option<StatusRef>,
    /// On a failed upload, dump the file and go on instead of retrying.
    pub ignore_upload_attachment_error: bool,
}

/// `[rules]`: ITSMSettings.xml, same meaning and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesConfig {
    /// Standalone tickets per client per `ticket_flood_interval` before the flood ticket is used.
    pub ticket_flood_limit: u32,
    /// Window of the flood limit.
    pub ticket_flood_interval: Duration,
    /// How long similar alerts are buffered before one update.
    pub consolidation_interval: Duration,
    /// Update the open ticket on a repeat within `update_interval`.
    pub update_ticket_on_repetitive_alerts: bool,
    /// Reopen a closed ticket on a repeat within `update_interval`.
    pub reopen_ticket_on_repetitive_alerts: bool,
    /// After this, a repeat opens a new ticket.
    pub update_interval: Duration,
    /// Add correlation lines for earlier incidents.
    pub enable_ticket_correlation: bool,
    /// How far back correlation looks.
    pub correlation_interval: Duration,
    /// Only the first record in the note; the rest as an attachment.
    pub display_only_first_activity_record: bool,
    /// Retention of accepted alert ids / fetched records.
    pub activity_record_requests: RetentionLimit,
    /// Integration API request size and timeout.
    pub activity_record_web_requests: WebRequestLimit,
    /// Retention of ticket requests.
    pub ticket_requests: RetentionLimit,
}

/// A store that keeps at most `limit` entries, none older than `keep`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionLimit {
    /// Most entries kept; the oldest go first.
    pub limit: u32,
    /// Age after which an entry is forgotten.
    pub keep: Duration,
}

/// Integration API requests: records per request and the HTTP timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebRequestLimit {
    /// Records per request.
    pub limit: u32,
    /// HTTP timeout.
    pub timeout: Duration,
}

/// `[jobs]`: how the durable jobs (every effect on ConnectWise or IT Glue, every activity-record
/// fetch) are retried and when one is given up (dead-lettered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobsConfig {
    /// Attempts after which a failing job is dead-lettered.
    pub max_attempts: u32,
    /// Age (since the job was queued) after which a failing job is dead-lettered.
    pub max_age: std::time::Duration,
    /// Wait after a job's first failure; doubled after each further one.
    pub initial_backoff: std::time::Duration,
    /// Longest wait between two attempts (a `Retry-After` asking for more is still honoured).
    pub max_backoff: std::time::Duration,
    /// How long a process holds what it claimed (a job, a page of queued alerts, an incident
    /// key) before another process sharing the database may take it over.
    pub lease: std::time::Duration,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            max_attempts: 10,
            max_age: std::time::Duration::from_secs(7 * 24 * 3600),
            initial_backoff: std::time::Duration::from_secs(5),
            max_backoff: std::time::Duration::from_secs(30 * 60),
            lease: std::time::Duration::from_secs(300),
        }
    }
}

/// `[retention]`: the retention pass's schedule and the tables `[rules]` says nothing about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Time between two retention passes; `None`: `min(keep / 4, 1m)` over the `[rules]` keeps.
    pub every: Option<Duration>,
    /// Events older than this are forgotten.
    pub events: Duration,
    /// At most this many events are kept, the oldest forgotten first.
    pub events_limit: u32,
    /// Finished (done) jobs are forgotten this long after they finished.
    pub jobs: Duration,
}

/// `[events]`: which failure events raise an alert of their own (DESIGN §7).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsConfig {
    /// Event ids that raise an alert, each one of [`EventsConfig::RAISABLE`]; empty by default.
    pub raise_alerts: Vec<u32>,
}

impl EventsConfig {
    /// The failure events that can be switched on to raise an alert: IT Glue client and system
    /// auto-mapping failures and report publish failures.
    pub const RAISABLE: [u32; 3] = [
        crate::events::ITGLUE_CLIENT_AUTOMAP_FAILED,
        crate::events::ITGLUE_SYSTEM_AUTOMAP_FAILED,
        crate::events::REPORT_PUBLISH_FAILED,
    ];

    /// Whether event `code` raises an alert.
    pub fn raises_alert(&self, code: u32) -> bool {
        self.raise_alerts.contains(&code)
    }
}

/// `[routing]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingConfig {
    /// Client that receives alerts nothing else routes.
    pub catch_all_client: Option<String>,
}

/// What kind of alert intake a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A Netwrix Auditor Integration API endpoint.
    NetwrixAuditor,
    /// Alerts posted to the native webhook.
    Webhook,
    /// A Prometheus Alertmanager receiver.
    Alertmanager,
}

impl SourceKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::NetwrixAuditor => "netwrix-auditor",
            SourceKind::Webhook => "webhook",
            SourceKind::Alertmanager => "alertmanager",
        }
    }

    /// Reads the config spelling.
    pub fn parse(text: &str) -> Option<SourceKind> {
        [
            SourceKind::NetwrixAuditor,
            SourceKind::Webhook,
            SourceKind::Alertmanager,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// `[[sources]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// Unique name.
    pub name: String,
    /// Intake kind.
    pub kind: SourceKind,
    /// Integration API base URL (netwrix-auditor).
    pub url: Option<Url>,
    /// `DOMAIN\user`.
    pub username: Option<String>,
    /// The user's password.
    pub password: Option<SecretString>,
    /// SHA-256 fingerprint of a pinned (self-signed) server certificate.
    pub tls_certificate_sha256: Option<[u8; 32]>,
    /// Records per Integration API request.
    pub records_per_request: u32,
    /// Default client.
    pub client: Option<String>,
    /// Template of the alert key; `None` means client + alert name.
    pub alert_key: Option<Template>,
    /// How long an alert waits for its activity record while Auditor cannot be reached before
    /// it goes on without it (its ticket then says why the record is missing).
    pub enrich_give_up: std::time::Duration,
    /// Priority, severity and impact by the value of a label.
    pub severity_map: Option<SeverityMap>,
    /// Netwrix alert names by AlertID.
    pub alert_names: BTreeMap<String, String>,
    /// Status an incident's ticket gets once every alert of it resolved (Alertmanager).
    pub close_on_resolve: Option<StatusRef>,
}

/// `severity_map`: a label's value (matched without regard to case) → ticket fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityMap {
    /// The subject whose value is looked up, e.g. `labels.severity`.
    pub from: String,
    /// Lower-cased value → what it sets.
    pub levels: BTreeMap<String, SeverityLevel>,
}

impl SeverityMap {
    /// The entry for `value`, if any.
    pub fn level(&self, value: &str) -> Option<&SeverityLevel> {
        self.levels.get(&value.trim().to_lowercase())
    }
}

/// What one severity value sets on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeverityLevel {
    /// ConnectWise priority id.
    pub priority_id: Option<i32>,
    /// Ticket severity.
    pub severity: Option<TicketLevel>,
    /// Ticket impact.
    pub impact: Option<TicketLevel>,
}

/// `[[routes]]`: which alerts (all conditions hold) go to which client, with what ticket settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    /// The route's `name`, or `routes[INDEX]`.
    pub name: String,
    /// Conditions; all must hold. None matches every alert.
    pub conditions: Vec<RouteCondition>,
    /// The client, named.
    pub client: Option<String>,
    /// The subject whose value names the client (by name or alias), e.g. `labels.customer`.
    pub client_from: Option<String>,
    /// Alert key template, instead of the source's.
    pub alert_key: Option<Template>,
    /// Ticket settings over the client's.
    pub ticket: ClientTicketOverrides,
    /// Severity map, instead of the source's.
    pub severity_map: Option<SeverityMap>,
}

/// One condition of a route: `subject` passes `test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteCondition {
    /// `source`, `alert_name`, `client`, `labels.NAME`, `annotations.NAME` or `fields.NAME`.
    pub subject: String,
    /// What its value must be.
    pub test: MatchTest,
}

/// How a subject's value is tested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchTest {
    /// Exactly this.
    Equals(String),
    /// Exactly one of these.
    OneOf(Vec<String>),
    /// The whole value matches.
    Regex(Pattern),
    /// Present (`true`) or absent (`false`).
    Exists(bool),
}

impl MatchTest {
    /// Whether `value` (`None`: the subject is absent) passes.
    pub fn passes(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (MatchTest::Exists(wanted), value) => value.is_some() == *wanted,
            (_, None) => false,
            (MatchTest::Equals(expected), Some(value)) => value == expected,
            (MatchTest::OneOf(expected), Some(value)) => expected.iter().any(|one| one == value),
            (MatchTest::Regex(pattern), Some(value)) => pattern.is_match(value),
        }
    }
}

/// A regular expression matched against a whole value (anchored, as Alertmanager's matchers are).
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles `source`, anchored at both ends.
    pub fn new(source: &str) -> Result<Pattern, String> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    /// Whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

/// `[[clients]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Unique name.
    pub name: String,
    /// Other names a route's `client_from` value may give for this client.
    pub aliases: Vec<String>,
    /// Customer email; its domain drives IT Glue auto-mapping.
    pub email: Option<String>,
    /// Overrides of `[connectwise.ticket]`.
    pub connectwise: ClientTicketOverrides,
}

impl ClientConfig {
    /// Whether `value` is this client's name or one of its aliases (case and surrounding space
    /// ignored).
    pub fn answers_to(&self, value: &str) -> bool {
        let value = value.trim();
        !value.is_empty()
            && std::iter::once(&self.name)
                .chain(&self.aliases)
                .any(|name| name.to_lowercase() == value.to_lowercase())
    }

    /// The lower-cased domain of the customer email.
    pub fn email_domain(&self) -> Option<String> {
        let email = self.email.as_deref()?;
        let (_, domain) = email.rsplit_once('@')?;
        Some(domain.to_ascii_lowercase())
    }
}

/// A client's overrides of the ticket defaults; `None` keeps the default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientTicketOverrides {
    /// Company.
    pub company_id: Option<i32>,
    /// Board.
    pub board_id: Option<i32>,
    /// Team.
    pub team_id: Option<i32>,
    /// Priority.
    pub priority_id: Option<i32>,
    /// Status.
    pub status_id: Option<i32>,
    /// Severity.
    pub severity: Option<TicketLevel>,
    /// Impact.
    pub impact: Option<TicketLevel>,
    /// Summary template.
    pub summary: Option<Template>,
    /// Description template.
    pub description: Option<Template>,
    /// Description field.
    pub description_field: Option<DescriptionField>,
}

impl ClientTicketOverrides {
    /// Writes every value given here over `settings`.
    pub fn apply_to(&self, settings: &mut TicketSettings) {
        let ids = [
            (&mut settings.company_id, self.company_id),
            (&mut settings.board_id, self.board_id),
            (&mut settings.team_id, self.team_id),
            (&mut settings.priority_id, self.priority_id),
            (&mut settings.status_id, self.status_id),
        ];
        for (slot, value) in ids {
            if value.is_some() {
                *slot = value;
            }
        }
        if let Some(severity) = self.severity {
            settings.severity = severity;
        }
        if let Some(impact) = self.impact {
            settings.impact = impact;
        }
        if let Some(summary) = &self.summary {
            settings.summary = summary.clone();
        }
        if let Some(description) = &self.description {
            settings.description = description.clone();
        }
        if let Some(field) = self.description_field {
            settings.description_field = field;
        }
    }
}

/// IT Glue's regional API bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItGlueRegion {
    /// `https://api.itglue.com`.
    Us,
    /// `https://api.eu.itglue.com`.
    Eu,
    /// `https://api.au.itglue.com`.
    Au,
}

impl ItGlueRegion {
    /// Reads `us`, `eu` or `au` in any case.
    pub fn parse(text: &str) -> Option<ItGlueRegion> {
        match text.trim().to_ascii_lowercase().as_str() {
            "us" => Some(ItGlueRegion::Us),
            "eu" => Some(ItGlueRegion::Eu),
            "au" => Some(ItGlueRegion::Au),
            _ => None,
        }
    }

    /// The API base URL of the region.
    pub fn base_url(self) -> Url {
        let text = match self {
            ItGlueRegion::Us => "https://api.itglue.com",
            ItGlueRegion::Eu => "https://api.eu.itglue.com",
            ItGlueRegion::Au => "https://api.au.itglue.com",
        };
        Url::parse(text).expect("region URLs are valid")
    }
}

/// Where an IT Glue instance is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItGlueEndpoint {
    /// A public region.
    Region(ItGlueRegion),
    /// An explicit URL (simulators, proxies).
    Url(Url),
}

/// `[[itglue]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ItGlueConfig {
    /// Unique name.
    pub name: String,
    /// Region or URL.
    pub endpoint: ItGlueEndpoint,
    /// `x-api-key`.
    pub api_key: SecretString,
    /// Clients enabled for this instance.
    pub clients: Vec<String>,
    /// Period of auto-mapping.
    pub automap_interval: Duration,
    /// Flexible asset type reports are published as.
    pub report_asset_type: String,
    /// Most requests mspbridge sends to this account per window (IT Glue allows 3,000 per 5
    /// minutes per account and answers 429 beyond).
    pub request_budget: RateLimit,
}

impl ItGlueConfig {
    /// The API base URL.
    pub fn base_url(&self) -> Url {
        match &self.endpoint {
            ItGlueEndpoint::Region(region) => region.base_url(),
            ItGlueEndpoint::Url(url) => url.clone(),
        }
    }
}

/// How often a report is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportSchedule {
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
    /// Every month.
    Monthly,
}

impl ReportSchedule {
    /// Reads `daily`, `weekly` or `monthly`.
    pub fn parse(text: &str) -> Option<ReportSchedule> {
        match text.trim().to_ascii_lowercase().as_str() {
            "daily" => Some(ReportSchedule::Daily),
            "weekly" => Some(ReportSchedule::Weekly),
            "monthly" => Some(ReportSchedule::Monthly),
            _ => None,
        }
    }
}

/// `[[reports]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    /// Unique name.
    pub name: String,
    /// Clients a report is generated for (one report per client).
    pub clients: Vec<String>,
    /// Generation schedule.
    pub schedule: ReportSchedule,
    /// Publish each generated report to IT Glue.
    pub publish_to_itglue: bool,
    /// Expiry date written on the published asset, from generation time.
    pub expires_after: Duration,
}

impl Config {
    /// The ticket settings for `client` (its overrides merged onto `[connectwise.ticket]`), or the
    /// defaults for `None`, an unknown client, or a config without `[connectwise]`.
    pub fn effective_ticket_settings(&self, client: Option<&str>) -> TicketSettings {
        let mut settings = match &self.connectwise {
            Some(connectwise) => connectwise.ticket.clone(),
            None => super::defaults::ticket_settings(),
        };
        if let Some(client) = client.and_then(|name| self.client(name)) {
            client.connectwise.apply_to(&mut settings);
        }
        settings
    }

    /// The ticket settings for `client` with a route's `overrides` (and severity map entry) on
    /// top.
    pub fn ticket_settings_with(
        &self,
        client: Option<&str>,
        overrides: &ClientTicketOverrides,
    ) -> TicketSettings {
        let mut settings = self.effective_ticket_settings(client);
        overrides.apply_to(&mut settings);
        settings
    }

    /// The client named `name`.
    pub fn client(&self, name: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|client| client.name == name)
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|source| source.name == name)
    }

    /// The IT Glue instance that has `client` enabled, if any.
    pub fn itglue_for_client(&self, client: &str) -> Option<&ItGlueConfig> {
        self.itglue
            .iter()
            .find(|instance| instance.clients.iter().any(|name| name == client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_hides_the_password() {
        let url =
            DatabaseUrl::parse("postgres://mspbridge:hunter2@db.example:5432/mspbridge").unwrap();
        assert_eq!(url.kind(), DatabaseKind::Postgres);
        assert_eq!(
            url.to_string(),
            "postgres://mspbridge:<redacted>@db.example:5432/mspbridge"
        );
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(url.expose().contains("hunter2"));
        let error = DatabaseUrl::parse("mysql://root:hunter2@db/x").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("not a supported database URL"), "{error}");
        assert_eq!(
            DatabaseUrl::parse("sqlite://mspbridge.db").unwrap().kind(),
            DatabaseKind::Sqlite
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}

//! The configuration exactly as serde reads it: every section with `deny_unknown_fields`, every value
//! still in its written form. Checking happens in `validate`, which can then report every mistake at
//! once instead of stopping at the first one serde meets.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// A value that may be written as an integer or as text: durations (`3600` or `"1h"`), byte sizes
/// (`1048576` or `"1MiB"`) and status references (`5` or `"Closed"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOrText {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntOrTextVisitor;

        impl Visitor<'_> for IntOrTextVisitor {
            type Value = IntOrText;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<IntOrText, E> {
                Ok(IntOrText::Int(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<IntOrText, E> {
                i64::try_from(value)
                    .map(IntOrText::Int)
                    .map_err(|_| E::custom("integer too large"))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<IntOrText, E> {
                Ok(IntOrText::Text(value.to_string()))
            }
        }

        deserializer.deserialize_any(IntOrTextVisitor)
    }
}

/// The text of a secret. Unlike serde's own errors, a value of the wrong type is refused without
/// echoing it, since it may be the secret itself (`private_key = 12345`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSecret(pub String);

const SECRET_EXPECTED: &str = "a secret must be a string: the value, \"env:NAME\" or \"file:PATH\"";

impl<'de> Deserialize<'de> for RawSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = RawSecret;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(SECRET_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawSecret, E> {
                Ok(RawSecret(value.to_string()))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_EXPECTED))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_EXPECTED))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_EXPECTED))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawSecret, E> {
                Err(E::custom(SECRET_EXPECTED))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<RawSecret, A::Error> {
                Err(de::Error::custom(SECRET_EXPECTED))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<RawSecret, A::Error> {
                Err(de::Error::custom(SECRET_EXPECTED))
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

/// A list of secrets; a lone string is refused without echoing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSecretList(pub Vec<RawSecret>);

const SECRET_LIST_EXPECTED: &str = "must be a list of secrets, e.g. [\"env:MSPBRIDGE_TOKEN\"]";

impl<'de> Deserialize<'de> for RawSecretList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;

        impl<'de> Visitor<'de> for ListVisitor {
            type Value = RawSecretList;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(SECRET_LIST_EXPECTED)
            }

            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawSecretList, A::Error> {
                let mut secrets = Vec::new();
                while let Some(secret) = seq.next_element::<RawSecret>()? {
                    secrets.push(secret);
                }
                Ok(RawSecretList(secrets))
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<RawSecretList, E> {
                Err(E::custom(SECRET_LIST_EXPECTED))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawSecretList, E> {
                Err(E::custom(SECRET_LIST_EXPECTED))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawSecretList, E> {
                Err(E::custom(SECRET_LIST_EXPECTED))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawSecretList, E> {
                Err(E::custom(SECRET_LIST_EXPECTED))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawSecretList, E> {
                Err(E::custom(SECRET_LIST_EXPECTED))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<RawSecretList, A::Error> {
                Err(de::Error::custom(SECRET_LIST_EXPECTED))
            }
        }

        deserializer.deserialize_any(ListVisitor)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Option<RawServer>,
    pub connectwise: Option<RawConnectWise>,
    pub rules: Option<RawRules>,
    pub routing: Option<RawRouting>,
    pub events: Option<RawEvents>,
    pub jobs: Option<RawJobs>,
    pub retention: Option<RawRetentionSection>,
    #[serde(default)]
    pub sources: Vec<RawSource>,
    #[serde(default)]
    pub clients: Vec<RawClient>,
    #[serde(default)]
    pub itglue: Vec<RawItGlue>,
    #[serde(default)]
    pub reports: Vec<RawReport>,
    #[serde(default)]
    pub routes: Vec<RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub api_tokens: Option<RawSecretList>,
    pub admin_password: Option<RawSecret>,
    pub viewer_password: Option<RawSecret>,
    pub max_body_bytes: Option<IntOrText>,
    pub missing_attachments_dir: Option<String>,
    pub intake_rate_limit: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnectWise {
    pub site: Option<String>,
    pub company_id: Option<String>,
    pub public_key: Option<String>,
    pub private_key: Option<RawSecret>,
    pub client_id: Option<String>,
    pub codebase: Option<String>,
    pub connect_timeout: Option<IntOrText>,
    pub request_timeout: Option<IntOrText>,
    pub max_attachment_bytes: Option<IntOrText>,
    pub ticket: Option<RawTicket>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTicket {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub description_field: Option<String>,
    pub severity: Option<String>,
    pub impact: Option<String>,
    pub company_id: Option<i64>,
    pub board_id: Option<i64>,
    pub team_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub status_id: Option<i64>,
    pub correlation_format: Option<String>,
    pub reopen_closed_statuses: Option<Vec<IntOrText>>,
    pub reopen_new_status: Option<IntOrText>,
    pub ignore_upload_attachment_error: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub ticket_flood_limit: Option<i64>,
    pub ticket_flood_interval: Option<IntOrText>,
    pub consolidation_interval: Option<IntOrText>,
    pub update_ticket_on_repetitive_alerts: Option<bool>,
    pub reopen_ticket_on_repetitive_alerts: Option<bool>,
    pub update_interval: Option<IntOrText>,
    pub enable_ticket_correlation: Option<bool>,
    pub correlation_interval: Option<IntOrText>,
    pub display_only_first_activity_record: Option<bool>,
    pub activity_record_requests: Option<RawRetention>,
    pub activity_record_web_requests: Option<RawWebRequests>,
    pub ticket_requests: Option<RawRetention>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub limit: Option<i64>,
    pub keep: Option<IntOrText>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetentionSection {
    pub every: Option<IntOrText>,
    pub events: Option<IntOrText>,
    pub events_limit: Option<i64>,
    pub jobs: Option<IntOrText>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebRequests {
    pub limit: Option<i64>,
    pub timeout: Option<IntOrText>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobs {
    pub max_attempts: Option<i64>,
    pub max_age: Option<IntOrText>,
    pub initial_backoff: Option<IntOrText>,
    pub max_backoff: Option<IntOrText>,
    pub lease: Option<IntOrText>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvents {
    pub raise_alerts: Option<Vec<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    pub catch_all_client: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<RawSecret>,
    pub tls_certificate_sha256: Option<String>,
    pub records_per_request: Option<i64>,
    pub client: Option<String>,
    pub alert_key: Option<String>,
    pub enrich_give_up: Option<IntOrText>,
    pub severity_from: Option<String>,
    pub severity_map: Option<BTreeMap<String, RawSeverity>>,
    pub alert_names: Option<BTreeMap<String, String>>,
    pub close_on_resolve: Option<IntOrText>,
}

/// `[[routes]]`. `match` stays a TOML table: its keys are subjects (`source`, `labels.customer`,
/// or a `labels = { … }` table of them) and its values matchers of several shapes, which
/// validation reads with messages serde's untagged enums cannot give.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: Option<String>,
    #[serde(rename = "match")]
    pub matches: Option<toml::Table>,
    pub client: Option<String>,
    pub client_from: Option<String>,
    pub alert_key: Option<String>,
    pub ticket: Option<RawClientTicket>,
    pub severity_from: Option<String>,
    pub severity_map: Option<BTreeMap<String, RawSeverity>>,
}

/// One entry of a severity map.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeverity {
    pub priority_id: Option<i64>,
    pub severity: Option<String>,
    pub impact: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    pub name: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub email: Option<String>,
    pub connectwise: Option<RawClientTicket>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientTicket {
    pub company_id: Option<i64>,
    pub board_id: Option<i64>,
    pub team_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub status_id: Option<i64>,
    pub severity: Option<String>,
    pub impact: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub description_field: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawItGlue {
    pub name: Option<String>,
    pub region: Option<String>,
    pub url: Option<String>,
    pub api_key: Option<RawSecret>,
    pub clients: Option<Vec<String>>,
    pub automap_interval: Option<IntOrText>,
    pub report_asset_type: Option<String>,
    pub request_budget: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub name: Option<String>,
    pub clients: Option<Vec<String>>,
    pub schedule: Option<String>,
    pub publish_to_itglue: Option<bool>,
    pub expires_after: Option<IntOrText>,
}

//! The native alert of `POST /api/v1/alerts`: any tool's alert in mspbridge's own JSON shape.
//!
//! Field names are snake_case; the activity record fields also accept the Netwrix spelling
//! (`Who`, `ObjectType`, `DetailList`…), so a record exported from Auditor can be posted as it is.
//! Unknown fields are refused so a typo is an error instead of a silently empty ticket field.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mspbridge_core::alert::{ActivityRecord, Alert, Detail};
use mspbridge_core::config::Config;
use serde::{Deserialize, Serialize};

use super::{check_client, check_id, check_value, parse_time, resolve_source};
use crate::api::error::ApiError;

/// Body of `POST /api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeAlert {
    /// A configured source name.
    pub source: String,
    /// The source's id of this occurrence; repeats are acknowledged as duplicates.
    pub alert_id: String,
    /// The alert's type, e.g. `Password Reset`.
    pub alert_name: String,
    /// A configured client, when the sender knows it.
    #[serde(default)]
    pub client: Option<String>,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    /// Activity records; the first one fills the ticket templates.
    #[serde(default)]
    pub records: Vec<NativeRecord>,
    /// Free string fields (for alert keys, routing rules and templates).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// One activity record of a native alert.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeRecord {
    /// Account that acted.
    #[serde(default, alias = "Who")]
    pub who: Option<String>,
    /// What it did.
    #[serde(default, alias = "Action")]
    pub action: Option<String>,
    /// Kind of object.
    #[serde(default, alias = "ObjectType")]
    pub object_type: Option<String>,
    /// The object's path.
    #[serde(default, alias = "What")]
    pub what: Option<String>,
    /// When (RFC 3339).
    #[serde(default, alias = "When")]
    pub when: Option<String>,
    /// Server or host where it happened.
    #[serde(default, rename = "where", alias = "Where")]
    pub where_: Option<String>,
    /// Workstation it came from.
    #[serde(default, alias = "Workstation")]
    pub workstation: Option<String>,
    /// Changed properties.
    #[serde(default, alias = "DetailList")]
    pub details: Vec<NativeDetail>,
    /// Data source.
    #[serde(default, alias = "DataSource")]
    pub data_source: Option<String>,
    /// Monitoring plan name.
    #[serde(default, alias = "MonitoringPlan")]
    pub monitoring_plan: Option<String>,
    /// Item name.
    #[serde(default, alias = "Item")]
    pub item: Option<String>,
}

/// One changed property.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeDetail {
    /// Property name.
    #[serde(alias = "PropertyName")]
    pub property: String,
    /// Value before.
    #[serde(default, alias = "Before")]
    pub before: Option<String>,
    /// Value after.
    #[serde(default, alias = "After")]
    pub after: Option<String>,
}

impl NativeAlert {
    /// Checks every field and maps the alert onto the one [`Alert`] shape.
    pub fn into_alert(self, config: &Config, now: DateTime<Utc>) -> Result<Alert, ApiError> {
        check_id("source", &self.source)?;
        let source = resolve_source(config, Some(&self.source), None, "source")?;
        check_id("alert_id", &self.alert_id)?;
        check_id("alert_name", &self.alert_name)?;
        if let Some(client) = &self.client {
            check_client(config, "client", client)?;
        }
        let occurred_at = parse_time("occurred_at", &self.occurred_at)?;
        let mut records = Vec::with_capacity(self.records.len());
        for (index, record) in self.records.into_iter().enumerate() {
            records.push(record.into_record(index)?);
        }
        for (name, value) in &self.fields {
            check_id(&format!("fields key \"{name}\""), name)?;
            check_value(&format!("fields.{name}"), value)?;
        }
        Ok(Alert {
            source: source.name.clone(),
            source_alert_id: self.alert_id,
            alert_name: self.alert_name,
            client: self.client,
            occurred_at,
            received_at: now,
            records,
            fields: self.fields,
        })
    }
}

impl NativeRecord {
    fn into_record(self, index: usize) -> Result<ActivityRecord, ApiError> {
        let when = match &self.when {
            Some(text) => {
                parse_time(&format!("records[{index}].when"), text)?;
                text.trim().to_string()
            }
            None => String::new(),
        };
        let mut details = Vec::with_capacity(self.details.len());
        for (position, detail) in self.details.into_iter().enumerate() {
            check_id(
                &format!("records[{index}].details[{position}].property"),
                &detail.property,
            )?;
            details.push(Detail {
                property: detail.property,
                before: detail.before,
                after: detail.after,
            });
        }
        Ok(ActivityRecord {
            who: self.who.unwrap_or_default(),
            action: self.action.unwrap_or_default(),
            object_type: self.object_type.unwrap_or_default(),
            what: self.what.unwrap_or_default(),
            when,
            where_: self.where_.unwrap_or_default(),
            workstation: self.workstation,
            details,
            data_source: self.data_source,
            monitoring_plan: self.monitoring_plan,
            item: self.item,
        })
    }
}

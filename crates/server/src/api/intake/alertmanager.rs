//! Prometheus Alertmanager webhook notifications (payload version 4).
//!
//! One notification carries a group of alerts; each becomes one mspbridge alert whose source id is
//! its `fingerprint` and `startsAt`, so Alertmanager's repeated notifications of the same firing
//! alert are acknowledged as duplicates. A `resolved` alert gets its own id (suffix `/resolved`) and
//! `fields.status = "resolved"`, so the engine adds a note to the ticket the firing alert opened.
//! Labels become fields as they are; annotations become `annotations.<name>` fields and the record's
//! details.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mspbridge_core::alert::{
    ActivityRecord, Alert, Detail, FIELD_GROUP_INSTANCES, FIELD_SILENCE_URL,
};
use serde::{Deserialize, Serialize};

use super::{check_id, check_value, parse_time};
use crate::api::error::{ApiError, ErrorCode};

/// Field that says whether an Alertmanager alert is `firing` or `resolved`.
pub const FIELD_STATUS: &str = "status";

/// The webhook payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    /// Must be `"4"`.
    pub version: String,
    /// The receiver that sent the notification.
    #[serde(default)]
    pub receiver: String,
    /// Group status.
    #[serde(default)]
    pub status: String,
    /// The alerts of the group.
    pub alerts: Vec<AlertmanagerAlert>,
    /// Group key.
    #[serde(default)]
    pub group_key: Option<String>,
    /// How many alerts Alertmanager left out (max_alerts).
    #[serde(default)]
    pub truncated_alerts: Option<u64>,
    /// Labels common to the group.
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    /// Alertmanager's URL.
    #[serde(default, rename = "externalURL")]
    pub external_url: Option<String>,
}

/// One alert of the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels; `alertname` is required.
    pub labels: BTreeMap<String, String>,
    /// Annotations (summary, description…).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    pub starts_at: String,
    /// When it was resolved (RFC 3339; year 1 while firing).
    #[serde(default)]
    pub ends_at: Option<String>,
    /// Link to the expression.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
    /// Alertmanager's stable id of the label set.
    pub fingerprint: String,
}

impl AlertmanagerPayload {
    /// Checks the whole payload and maps every alert; nothing is returned unless all are valid.
    pub fn into_alerts(self, source: &str, now: DateTime<Utc>) -> Result<Vec<Alert>, ApiError> {
        if self.version != "4" {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                format!(
                    "version: \"{}\" is not supported; only Alertmanager webhook payload version 4 is",
                    self.version
                ),
            ));
        }
        if self.alerts.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidField,
                "alerts: the notification holds no alert",
            ));
        }
        let receiver = self.receiver;
        let external_url = self
            .external_url
            .as_deref()
            .map(|url| url.trim().trim_end_matches('/').to_string())
            .filter(|url| url.starts_with("http://") || url.starts_with("https://"));
        // The ticket a group opens names every instance the notification reports firing.
        let instances: Vec<String> = self
            .alerts
            .iter()
            .filter(|alert| alert.status == "firing")
            .filter_map(|alert| alert.labels.get("instance").cloned())
            .collect();
        let group_instances = (instances.len() > 1).then(|| instances.join(", "));
        let mut alerts = Vec::with_capacity(self.alerts.len());
        for (index, alert) in self.alerts.into_iter().enumerate() {
            let silence_url = external_url
                .as_deref()
                .map(|base| silence_url(base, &alert.labels));
            let mut alert = alert.into_alert(index, source, &receiver, now)?;
            if let Some(url) = silence_url {
                alert.fields.insert(FIELD_SILENCE_URL.to_string(), url);
            }
            if let Some(instances) = &group_instances {
                alert
                    .fields
                    .insert(FIELD_GROUP_INSTANCES.to_string(), instances.clone());
            }
            alerts.push(alert);
        }
        Ok(alerts)
    }
}

/// Alertmanager's page for a new silence, pre-filled with the alert's labels as matchers.
fn silence_url(external_url: &str, labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .map(|(name, value)| {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            format!("{name}=\"{escaped}\"")
        })
        .collect();
    let filter = format!("{{{}}}", matchers.join(","));
    let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    format!("{external_url}/#/silences/new?filter={encoded}")
}

impl AlertmanagerAlert {
    fn into_alert(
        self,
        index: usize,
        source: &str,
        receiver: &str,
        now: DateTime<Utc>,
    ) -> Result<Alert, ApiError> {
        let field = |name: &str| format!("alerts[{index}].{name}");
        let resolved = match self.status.as_str() {
            "firing" => false,
            "resolved" => true,
            other => {
                return Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!(
                        "{}: \"{other}\" is neither firing nor resolved",
                        field("status")
                    ),
                ))
            }
        };
        check_id(&field("fingerprint"), &self.fingerprint)?;
        let alert_name = self.labels.get("alertname").cloned().unwrap_or_default();
        check_id(&field("labels.alertname"), &alert_name)?;
        for (name, value) in &self.labels {
            check_value(&field(&format!("labels.{name}")), value)?;
        }
        for (name, value) in &self.annotations {
            check_value(&field(&format!("annotations.{name}")), value)?;
        }
        let starts_at = parse_time(&field("startsAt"), &self.starts_at)?;
        let ends_at = match (&self.ends_at, resolved) {
            (Some(text), true) => parse_time(&field("endsAt"), text)?,
            (None, true) => now,
            (_, false) => starts_at,
        };
        let occurred_at = if resolved { ends_at } else { starts_at };
        let mut source_alert_id = format!(
            "{}@{}",
            self.fingerprint.trim(),
            starts_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        );
        if resolved {
            source_alert_id.push_str("/resolved");
        }

        let mut fields = self.labels.clone();
        for (name, value) in &self.annotations {
            fields.insert(format!("annotations.{name}"), value.clone());
        }
        fields.insert(
            "fingerprint".to_string(),
            self.fingerprint.trim().to_string(),
        );
        if let Some(url) = &self.generator_url {
            fields.insert("generator_url".to_string(), url.clone());
        }
        if !receiver.is_empty() {
            fields.insert("receiver".to_string(), receiver.to_string());
        }
        fields.insert(FIELD_STATUS.to_string(), self.status.clone());

        let what = ["summary", "description"]
            .iter()
            .find_map(|name| self.annotations.get(*name).cloned())
            .unwrap_or_else(|| alert_name.clone());
        let record = ActivityRecord {
            who: self.labels.get("job").cloned().unwrap_or_default(),
            action: if resolved { "Resolved" } else { "Firing" }.to_string(),
            object_type: "Prometheus alert".to_string(),
            what,
            when: occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            where_: self.labels.get("instance").cloned().unwrap_or_default(),
            workstation: None,
            details: self
                .annotations
                .iter()
                .map(|(name, value)| Detail {
                    property: name.clone(),
                    before: None,
                    after: Some(value.clone()),
                })
                .collect(),
            data_source: Some("Prometheus Alertmanager".to_string()),
            monitoring_plan: (!receiver.is_empty()).then(|| receiver.to_string()),
            item: self.labels.get("job").cloned(),
        };
        Ok(Alert {
            source: source.to_string(),
            source_alert_id,
            alert_name,
            client: None,
            occurred_at,
            received_at: now,
            records: vec![record],
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(status: &str) -> AlertmanagerPayload {
        serde_json::from_value(serde_json::json!({
            "version": "4",
            "groupKey": "{}:{alertname=\"HighErrorRate\"}",
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "mspbridge",
            "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {"alertname": "HighErrorRate"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [{
                "status": status,
                "labels": {"alertname": "HighErrorRate", "instance": "web-1:9100", "job": "node"},
                "annotations": {"summary": "5xx above 5%"},
                "startsAt": "2026-01-31T08:00:00.123Z",
                "endsAt": if status == "resolved" { "2026-01-31T08:30:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "http://prometheus/graph",
                "fingerprint": "c6b7d1c3a0f4e2b1"
            }]
        }))
        .unwrap()
    }

    #[test]
    fn firing_and_resolved_get_distinct_ids_and_a_status_field() {
        let now = Utc::now();
        let firing = payload("firing").into_alerts("am", now).unwrap().remove(0);
        assert_eq!(
            firing.source_alert_id,
            "c6b7d1c3a0f4e2b1@2026-01-31T08:00:00.123Z"
        );
        assert_eq!(firing.alert_name, "HighErrorRate");
        assert_eq!(firing.fields["status"], "firing");
        assert_eq!(firing.fields["annotations.summary"], "5xx above 5%");
        assert_eq!(firing.records[0].what, "5xx above 5%");
        assert_eq!(firing.records[0].where_, "web-1:9100");

        let resolved = payload("resolved")
            .into_alerts("am", now)
            .unwrap()
            .remove(0);
        assert_eq!(
            resolved.source_alert_id,
            "c6b7d1c3a0f4e2b1@2026-01-31T08:00:00.123Z/resolved"
        );
        assert_eq!(resolved.fields["status"], "resolved");
        assert_eq!(
            resolved.occurred_at.to_rfc3339(),
            "2026-01-31T08:30:00+00:00"
        );
    }

    #[test]
    fn invalid_payloads_name_the_field() {
        let now = Utc::now();
        let mut wrong_version = payload("firing");
        wrong_version.version = "3".into();
        let error = wrong_version.into_alerts("am", now).unwrap_err();
        assert!(error.message.starts_with("version:"), "{error}");

        let mut no_name = payload("firing");
        no_name.alerts[0].labels.remove("alertname");
        let error = no_name.into_alerts("am", now).unwrap_err();
        assert!(
            error.message.starts_with("alerts[0].labels.alertname"),
            "{error}"
        );

        let mut odd_status = payload("firing");
        odd_status.alerts[0].status = "pending".into();
        let error = odd_status.into_alerts("am", now).unwrap_err();
        assert!(error.message.contains("alerts[0].status"), "{error}");
    }
}

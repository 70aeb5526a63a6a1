//! The Netwrix Auditor response action: `{alert_id, record_id, source, alert_name}`.
//!
//! Auditor passes only two ids (its response action is set up per alert, so the command line can
//! carry the alert's name, which becomes the ticket's `%AlertName%`; without it the AlertID is); the activity record is fetched by RID later by the engine. Any ids
//! are accepted as long as they are usable text, because Auditor's *Test run* passes sample ids that
//! match no record: the engine records that as an enrichment failure, nothing crashes. The time of
//! the alert is read from the RID's 17-digit timestamp when it has one.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use mspbridge_core::alert::Alert;
use mspbridge_core::config::{Config, SourceKind};
use mspbridge_core::rules::naming;
use mspbridge_store::Store;
use serde::{Deserialize, Serialize};

use super::{accept, check_id, resolve_source, Accepted};
use crate::api::error::ApiError;

/// Body of `POST /api/v1/alerts/netwrix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetwrixAlertRequest {
    /// Auditor's AlertID.
    pub alert_id: String,
    /// Auditor's RecordID (the activity record's RID).
    pub record_id: String,
    /// The netwrix-auditor source; optional when only one is configured.
    #[serde(default)]
    pub source: Option<String>,
    /// The alert's name (its type: `%AlertName%`, part of the default alert key); the AlertID
    /// stands in when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_name: Option<String>,
}

impl NetwrixAlertRequest {
    /// Checks the ids and the source and builds the alert.
    pub fn into_alert(self, config: &Config, now: DateTime<Utc>) -> Result<Alert, ApiError> {
        check_id("alert_id", &self.alert_id)?;
        check_id("record_id", &self.record_id)?;
        if let Some(source) = &self.source {
            check_id("source", source)?;
        }
        if let Some(name) = &self.alert_name {
            check_id("alert_name", name)?;
        }
        let source = resolve_source(
            config,
            self.source.as_deref(),
            Some(SourceKind::NetwrixAuditor),
            "source",
        )?;
        let alert_id = self.alert_id.trim();
        let record_id = self.record_id.trim();
        let name = self.alert_name.as_deref().map(str::trim);
        let mut alert = Alert::netwrix(&source.name, alert_id, record_id, name, now);
        // Without a name the source's alert_names may know the AlertID; a name built from the
        // record follows at enrichment.
        if let Some(mapped) = naming::netwrix_alert_name(&alert, &source.alert_names, false) {
            alert.alert_name = mapped;
        }
        if let Some(at) = rid_time(record_id) {
            alert.occurred_at = at;
        }
        Ok(alert)
    }
}

/// Accepts a Netwrix response action: the HTTP intake and `mspbridge alert` both end here.
pub async fn accept_netwrix(
    store: &Arc<dyn Store>,
    config: &Config,
    request: NetwrixAlertRequest,
    now: DateTime<Utc>,
) -> Result<Accepted, ApiError> {
    let alert = request.into_alert(config, now)?;
    accept(store, alert, now).await
}

/// The time in a RID's leading `yyyyMMddHHmmssfff`, taken as UTC.
fn rid_time(rid: &str) -> Option<DateTime<Utc>> {
    let stamp = rid.get(..17)?;
    if !stamp.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let (seconds, millis) = stamp.split_at(14);
    let naive = NaiveDateTime::parse_from_str(seconds, "%Y%m%d%H%M%S").ok()?;
    let millis: i64 = millis.parse().ok()?;
    Some(naive.and_utc() + chrono::Duration::milliseconds(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rid_times_are_read_from_the_timestamp_prefix() {
        let at = rid_time("20160215110503420B9451771F5964A9EAC0A5F35307EA155").unwrap();
        assert_eq!(at.to_rfc3339(), "2016-02-15T11:05:03.420+00:00");
        for not_a_rid in ["", "1234", "test-record-id", "2016021511050342X"] {
            assert_eq!(rid_time(not_a_rid), None, "{not_a_rid}");
        }
    }

    #[test]
    fn the_alert_name_names_the_alert_and_is_checked_like_an_id() {
        let config = mspbridge_core::config::parse_str(
            "[[sources]]\nname = \"auditor\"\nkind = \"netwrix-auditor\"\n\
             url = \"https://auditor.example:9699\"\nusername = \"svc\"\npassword = \"pw\"\n",
            "test.toml",
        )
        .unwrap();
        let now = Utc::now();
        let request = |alert_name: Option<&str>| NetwrixAlertRequest {
            alert_id: "guid-1".to_string(),
            record_id: "rid-1".to_string(),
            source: None,
            alert_name: alert_name.map(str::to_string),
        };
        let named = request(Some(" Password Reset ")).into_alert(&config, now);
        assert_eq!(named.unwrap().alert_name, "Password Reset");
        assert_eq!(
            request(None).into_alert(&config, now).unwrap().alert_name,
            "guid-1"
        );
        let error = request(Some("  ")).into_alert(&config, now).unwrap_err();
        assert_eq!(error.message, "alert_name must not be empty");
        let error = request(Some("two\nlines"))
            .into_alert(&config, now)
            .unwrap_err();
        assert!(
            error.message.contains("control characters"),
            "{}",
            error.message
        );
    }

    #[test]
    fn an_unnamed_alert_takes_its_name_from_the_sources_alert_names() {
        let config = mspbridge_core::config::parse_str(
            "[[sources]]\nname = \"auditor\"\nkind = \"netwrix-auditor\"\n\
             url = \"https://auditor.example:9699\"\n\
             alert_names = { \"GUID-1\" = \"Password Reset\" }\n",
            "test.toml",
        )
        .unwrap();
        let request = |alert_id: &str, alert_name: Option<&str>| NetwrixAlertRequest {
            alert_id: alert_id.to_string(),
            record_id: "rid-1".to_string(),
            source: None,
            alert_name: alert_name.map(str::to_string),
        };
        let now = Utc::now();
        let mapped = request("guid-1", None).into_alert(&config, now).unwrap();
        assert_eq!(mapped.alert_name, "Password Reset");
        let named = request("guid-1", Some("Given")).into_alert(&config, now);
        assert_eq!(named.unwrap().alert_name, "Given");
        // Unknown until the record is fetched; the engine names it then.
        let unknown = request("guid-2", None).into_alert(&config, now).unwrap();
        assert_eq!(unknown.alert_name, "guid-2");
    }
}

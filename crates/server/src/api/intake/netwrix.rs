//! The Netwrix Auditor response action: `{alert_id, record_id, source}`.
//!
//! Auditor passes only two ids; the activity record is fetched by RID later by the engine. Any ids
//! are accepted as long as they are usable text, because Auditor's *Test run* passes sample ids that
//! match no record: the engine records that as an enrichment failure, nothing crashes. The time of
//! the alert is read from the RID's 17-digit timestamp when it has one.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use mspbridge_core::alert::Alert;
use mspbridge_core::config::{Config, SourceKind};
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
}

impl NetwrixAlertRequest {
    /// Checks the ids and the source and builds the alert.
    pub fn into_alert(self, config: &Config, now: DateTime<Utc>) -> Result<Alert, ApiError> {
        check_id("alert_id", &self.alert_id)?;
        check_id("record_id", &self.record_id)?;
        if let Some(source) = &self.source {
            check_id("source", source)?;
        }
        let source = resolve_source(
            config,
            self.source.as_deref(),
            Some(SourceKind::NetwrixAuditor),
            "source",
        )?;
        let alert_id = self.alert_id.trim();
        let record_id = self.record_id.trim();
        let mut alert = Alert::netwrix(&source.name, alert_id, record_id, None, now);
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
}

//! Failure events that raise alerts of their own (DESIGN §7, `[events] raise_alerts`).
//!
//! The vendor's knowledge pack lets an MSP turn integration failures into tickets. mspbridge does
//! the same without a second path: a switched-on failure event becomes an ordinary alert from the
//! source `mspbridge`, accepted through the one intake door ([`crate::intake::accept`]), so the
//! ticket rules (consolidation, flood limit, reopen) apply to it like to any security alert.
//!
//! IT Glue auto-mapping (4018, 4019) and report publishing (4022) record their failures here; the
//! engine picks the raised alerts up from the queue like any other. Nothing here calls the engine,
//! so `engine` → `itglue`/`reports` → `events` → `intake` has no way back up.

use std::sync::Arc;

use mspbridge_core::alert::{ActivityRecord, Alert, Detail};
use mspbridge_core::config::Config;
use mspbridge_core::events;
use mspbridge_store::{AcceptOutcome, NewEvent, Store, StoreError};

/// Why a failure event was not recorded or its alert not raised.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A switched-on failure event could not be raised as an alert.
    #[error("event {code} could not raise its alert: {detail}")]
    RaiseAlert {
        /// The event code.
        code: u32,
        /// What went wrong.
        detail: String,
    },
}

/// Source name of the alerts mspbridge raises about itself.
pub const ALERT_SOURCE: &str = "mspbridge";

/// The alert name a switched-on failure event is raised under.
pub fn alert_name(code: u32) -> Option<&'static str> {
    match code {
        events::ITGLUE_CLIENT_AUTOMAP_FAILED => Some("IT Glue client auto-map failed"),
        events::ITGLUE_SYSTEM_AUTOMAP_FAILED => Some("IT Glue system auto-map failed"),
        events::REPORT_PUBLISH_FAILED => Some("IT Glue report publish failed"),
        _ => None,
    }
}

/// The alert that stored event `event_id` raises, or `None` for an event that cannot raise one.
/// The event id is the alert's source id, so recording the alert twice stores it once.
pub fn alert_for_event(event_id: i64, event: &NewEvent) -> Option<Alert> {
    let name = alert_name(event.code)?;
    let object_type = match event.code {
        events::REPORT_PUBLISH_FAILED => "IT Glue report",
        events::ITGLUE_SYSTEM_AUTOMAP_FAILED => "IT Glue configuration mapping",
        _ => "IT Glue organization mapping",
    };
    let record = ActivityRecord {
        who: ALERT_SOURCE.to_string(),
        action: "Failed".to_string(),
        object_type: object_type.to_string(),
        what: event.subject.clone().unwrap_or_default(),
        when: event.at.to_rfc3339(),
        where_: "IT Glue".to_string(),
        details: vec![Detail {
            property: format!("Event {}", event.code),
            before: None,
            after: Some(event.message.clone()),
        }],
        data_source: Some(ALERT_SOURCE.to_string()),
        ..ActivityRecord::default()
    };
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("event_id".to_string(), event_id.to_string());
    fields.insert("event_code".to_string(), event.code.to_string());
    Some(Alert {
        source: ALERT_SOURCE.to_string(),
        source_alert_id: format!("event-{event_id}"),
        alert_name: name.to_string(),
        client: event.client.clone(),
        occurred_at: event.at,
        received_at: event.at,
        records: vec![record],
        fields,
    })
}

/// Records `event` and, when `[events] raise_alerts` lists its code, accepts the alert it raises
/// (see [`raise_alert`]). Returns the event id.
pub async fn record_event(
    store: &Arc<dyn Store>,
    config: &Config,
    event: NewEvent,
) -> Result<i64, EventError> {
    let event_id = store.append_event(event.clone()).await?;
    raise_alert(store, config, event_id, &event).await?;
    Ok(event_id)
}

/// Accepts the alert that the stored event `event_id` raises, when `[events] raise_alerts` lists
/// its code; `None` when it raises none. The event id is the alert's source id, so raising twice
/// stores one alert.
pub async fn raise_alert(
    store: &Arc<dyn Store>,
    config: &Config,
    event_id: i64,
    event: &NewEvent,
) -> Result<Option<AcceptOutcome>, EventError> {
    if !config.events.raises_alert(event.code) {
        return Ok(None);
    }
    let Some(alert) = alert_for_event(event_id, event) else {
        return Ok(None);
    };
    let outcome = crate::intake::accept(store, alert, event.at)
        .await
        .map_err(|error| EventError::RaiseAlert {
            code: event.code,
            detail: error.to_string(),
        })?;
    tracing::info!(
        event_id,
        code = event.code,
        alert_id = outcome.alert_id(),
        "failure event raised an alert"
    );
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    #[test]
    fn only_the_three_failure_events_raise_alerts() {
        let event = |code| NewEvent {
            code,
            at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            client: Some("Acme".into()),
            subject: Some("report 3".into()),
            message: "IT Glue answered 503".into(),
            details: json!({}),
        };
        let alert = alert_for_event(9, &event(4022)).unwrap();
        assert_eq!(alert.source, "mspbridge");
        assert_eq!(alert.source_alert_id, "event-9");
        assert_eq!(alert.alert_name, "IT Glue report publish failed");
        assert_eq!(alert.client.as_deref(), Some("Acme"));
        assert_eq!(alert.records[0].what, "report 3");
        assert_eq!(
            alert.records[0].details_flattened(),
            "Event 4022: (none) -> IT Glue answered 503"
        );
        assert!(alert_for_event(1, &event(4018)).is_some());
        assert!(alert_for_event(1, &event(4019)).is_some());
        assert!(alert_for_event(1, &event(4021)).is_none());
        assert!(alert_for_event(1, &event(4100)).is_none());
    }
}

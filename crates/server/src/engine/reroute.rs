//! Unrouted alerts routed again under the configuration in force: when `serve` starts (the
//! configuration may have changed since they were kept), on `mspbridge reroute` and on
//! `POST /api/v1/alerts/reroute`.
//!
//! Each unrouted alert is routed with the same function the pipeline uses; one that now finds a
//! client is queued again (the pipeline then decides it like any new alert), one that does not
//! stays unrouted without a new event. One event says how many found a client.

use chrono::{DateTime, Utc};
use mspbridge_core::config::Config;
use mspbridge_core::events;
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_store::{AlertFilter, AlertState, NewEvent, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pipeline::decode_alert;

/// What a reroute did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RerouteOutcome {
    /// Unrouted alerts looked at.
    pub unrouted: u64,
    /// Those that found a client and were queued again.
    pub routed: u64,
}

/// Routes every unrouted alert again under `config`; see the module docs. Records one event
/// (code [`events::ALERT_UNROUTED`], subject `reroute`, details `rerouted` and `unrouted`) when
/// there was anything to look at.
pub async fn reroute_unrouted_alerts(
    store: &dyn Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<RerouteOutcome, StoreError> {
    let mut outcome = RerouteOutcome::default();
    let mut after_id = None;
    loop {
        let filter = AlertFilter {
            state: Some(AlertState::Unrouted),
            after_id,
            ..AlertFilter::default()
        };
        let page = store.list_alerts(filter, 500).await?;
        let Some(last) = page.last() else {
            break;
        };
        after_id = Some(last.id);
        for stored in page {
            outcome.unrouted += 1;
            let alert = decode_alert(&stored);
            let source = config.source(&alert.source);
            if let Routing::Routed { .. } = routing::route(&alert, source, config) {
                match store.set_alert_state(stored.id, AlertState::Queued).await {
                    Ok(()) => outcome.routed += 1,
                    // Taken meanwhile (another reroute): nothing to do.
                    Err(StoreError::InvalidTransition { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
        }
    }
    if outcome.unrouted > 0 {
        let event = NewEvent {
            code: events::ALERT_UNROUTED,
            at: now,
            client: None,
            subject: Some("reroute".to_string()),
            message: format!(
                "{} of {} unrouted alert(s) found a client under the configuration in force and \
                 are queued again",
                outcome.routed, outcome.unrouted
            ),
            details: json!({"rerouted": outcome.routed, "unrouted": outcome.unrouted}),
        };
        if let Err(error) = store.append_event(event).await {
            tracing::warn!(%error, "cannot record the reroute event");
        }
        tracing::info!(
            unrouted = outcome.unrouted,
            routed = outcome.routed,
            "unrouted alerts routed again"
        );
    }
    Ok(outcome)
}

//! Durable acceptance of an alert: the one door every intake (the HTTP API, the `alert` command's
//! direct-to-store fallback, the simulators in `demo`) goes through.
//!
//! An alert is acknowledged only once it is stored (DESIGN §5), and a retry of the same
//! (source, source alert id) is recognised by the store's unique key and acknowledged without a
//! second copy (rule 1). The engine's `wake` should be called after an `Accepted` outcome.
//!
//! It sits below the engine, IT Glue and reports: each of them may accept an alert (failure events
//! raise alerts through [`crate::events`]) without depending on the engine.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mspbridge_core::alert::Alert;
use mspbridge_store::{AcceptOutcome, JsonText, NewAlert, Store, StoreError};

use crate::metrics;

/// Why an alert was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The durable store failed; nothing was acknowledged.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An alert could not be turned into stored form.
    #[error("alert {source_alert_id} from source {source_name} cannot be stored: {detail}")]
    InvalidAlert {
        /// Source name.
        source_name: String,
        /// The source's alert id.
        source_alert_id: String,
        /// What is wrong.
        detail: String,
    },
}

/// The stored form of an alert: its identity and routing columns, and the whole alert as payload.
pub fn to_new_alert(alert: &Alert, now: DateTime<Utc>) -> Result<NewAlert, IntakeError> {
    let invalid = |detail: String| IntakeError::InvalidAlert {
        source_name: alert.source.clone(),
        source_alert_id: alert.source_alert_id.clone(),
        detail,
    };
    if alert.source.trim().is_empty() {
        return Err(invalid("the source name is empty".to_string()));
    }
    if alert.source_alert_id.trim().is_empty() {
        return Err(invalid("the source alert id is empty".to_string()));
    }
    if alert.alert_name.trim().is_empty() {
        return Err(invalid("the alert name is empty".to_string()));
    }
    let payload =
        JsonText::of(alert).map_err(|error| invalid(format!("not serialisable: {error}")))?;
    Ok(NewAlert {
        source: alert.source.clone(),
        source_alert_id: alert.source_alert_id.clone(),
        client: alert.client.clone(),
        alert_name: alert.alert_name.clone(),
        occurred_at: alert.occurred_at,
        received_at: now,
        payload,
    })
}

/// Stores `alert` unless its (source, source alert id) is already stored; durable when it returns
/// `Ok`. `now` becomes the alert's `received_at`.
pub async fn accept(
    store: &Arc<dyn Store>,
    alert: Alert,
    now: DateTime<Utc>,
) -> Result<AcceptOutcome, IntakeError> {
    let mut alert = alert;
    alert.received_at = now;
    let new_alert = to_new_alert(&alert, now)?;
    let outcome = store.accept_alert(new_alert).await?;
    match outcome {
        AcceptOutcome::Accepted(id) => {
            metrics::count(metrics::ALERTS_RECEIVED);
            tracing::debug!(alert_id = id, source = %alert.source, alert_name = %alert.alert_name, "alert accepted");
        }
        AcceptOutcome::Duplicate(id) => {
            metrics::count(metrics::ALERTS_DEDUPLICATED);
            tracing::debug!(alert_id = id, source = %alert.source, "alert already accepted; a source retry was acknowledged");
        }
    }
    Ok(outcome)
}

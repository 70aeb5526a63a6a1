//! Rule 3, routing: which managed client an alert belongs to.
//!
//! The client comes from the alert, else from the source's default client, else from the
//! catch-all client. Only configured clients count, so a typo in an intake or a client removed from
//! the config leaves the alert *unrouted* (kept, shown, re-routed after a config change) instead of
//! opening tickets with default settings in the wrong company.

use crate::alert::Alert;
use crate::config::{Config, SourceConfig};

/// Where an alert goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// To `client`.
    Routed {
        /// The configured client.
        client: String,
        /// Why this client.
        reason: String,
    },
    /// Nowhere yet.
    Unrouted {
        /// Why no client was found.
        reason: String,
    },
}

/// Routes `alert`, which came in through `source` (its config, `None` if the source is not
/// configured), under `config`.
pub fn route(alert: &Alert, source: Option<&SourceConfig>, config: &Config) -> Routing {
    let mut rejected = Vec::new();
    let candidates = [
        (alert.client.as_deref(), "the alert names client"),
        (
            source.and_then(|source| source.client.as_deref()),
            "the source's default client is",
        ),
        (
            config.routing.catch_all_client.as_deref(),
            "the catch-all client is",
        ),
    ];
    for (name, how) in candidates {
        let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) else {
            continue;
        };
        if config.client(name).is_some() {
            return Routing::Routed {
                client: name.to_string(),
                reason: format!("{how} \"{name}\""),
            };
        }
        rejected.push(format!(
            "{how} \"{name}\", which is not a configured client"
        ));
    }
    let mut reason = if source.is_none() {
        format!("source \"{}\" is not configured", alert.source)
    } else {
        "no client in the alert, no default client on the source and no catch-all client"
            .to_string()
    };
    if !rejected.is_empty() {
        reason = format!("{reason}; {}", rejected.join("; "));
    }
    Routing::Unrouted { reason }
}

//! IT Glue on the service side: importing each instance's directory into the store, auto-mapping
//! clients and systems to it (DESIGN §4.1–4.5) on a once-per-cluster schedule and on demand, and
//! keeping the systems inventory that auto-mapping works on (registered by hand, from CSV files, or
//! learned from alerts).
//!
//! The matching rules themselves are pure and live in `mspbridge_core::itglue_map`; this module
//! only moves data between IT Glue, the store and those rules, and turns failed decisions into
//! events 4018 and 4019. Publishing reports lives with the reports in `crate::reports`.

mod automap;
mod error;
mod import;
mod manual;
mod scheduler;
mod systems;

pub use automap::{
    automap_and_raise, automap_instance, refresh_and_automap, refresh_and_raise, AutomapSummary,
};
pub use error::ItGlueSyncError;
pub use import::{
    import_instance, ImportProgress, ImportRequest, ImportSummary, NoProgress, OrganizationFilter,
};
pub use manual::system_mapping_refusal;
pub use scheduler::{run_due_automaps, spawn_automap_scheduler, AUTOMAP_KV_PREFIX};
pub use systems::{
    learn_systems_from_alert, normalize_system_macs, parse_systems_csv, SystemsCsvError,
};

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use mspbridge_connectors::itglue::{BudgetTracker, ItGlueClient, ItGlueSettings, RequestBudget};
use mspbridge_core::config::{Config, ItGlueConfig};

/// The configured instance called `name`.
pub fn instance<'a>(config: &'a Config, name: &str) -> Result<&'a ItGlueConfig, ItGlueSyncError> {
    config
        .itglue
        .iter()
        .find(|instance| instance.name == name)
        .ok_or_else(|| ItGlueSyncError::UnknownInstance {
            name: name.to_string(),
            configured: config.itglue.iter().map(|i| i.name.clone()).collect(),
        })
}

/// The instances a command works on: the one named, or all of them.
pub fn selected_instances<'a>(
    config: &'a Config,
    name: Option<&str>,
) -> Result<Vec<&'a ItGlueConfig>, ItGlueSyncError> {
    match name {
        Some(name) => Ok(vec![instance(config, name)?]),
        None if config.itglue.is_empty() => Err(ItGlueSyncError::NoInstances),
        None => Ok(config.itglue.iter().collect()),
    }
}

/// A client for one configured instance with the product defaults. Every client of one instance
/// in this process counts against the same request budget ([`budget_for`]).
pub fn client_for(instance: &ItGlueConfig) -> Result<ItGlueClient, ItGlueSyncError> {
    ItGlueClient::with_budget(ItGlueSettings::from_config(instance), budget_for(instance)).map_err(
        |source| ItGlueSyncError::Connector {
            instance: instance.name.clone(),
            source,
        },
    )
}

/// The request budget of one configured instance, shared by every client of it in this process
/// (imports, auto-map runs, publish workers, API calls), so together they stay under
/// `request_budget`. Keyed by instance name, address and budget: a changed instance gets a new one.
pub fn budget_for(instance: &ItGlueConfig) -> BudgetTracker {
    /// Instance name, base URL, requests, window in milliseconds.
    type BudgetKey = (String, String, u32, u64);
    static BUDGETS: LazyLock<Mutex<HashMap<BudgetKey, BudgetTracker>>> =
        LazyLock::new(Mutex::default);
    let key = (
        instance.name.clone(),
        instance.base_url().to_string(),
        instance.request_budget.requests,
        instance.request_budget.per.as_millis() as u64,
    );
    let mut budgets = BUDGETS.lock().unwrap_or_else(|poison| poison.into_inner());
    budgets
        .entry(key)
        .or_insert_with(|| {
            BudgetTracker::new(RequestBudget {
                max_requests: instance.request_budget.requests,
                window: instance.request_budget.per,
            })
        })
        .clone()
}

/// *Test connection* for one instance (DESIGN §4.1): one authenticated call. The error of a
/// refused key explains both causes IT Glue cannot tell apart, a wrong key and a wrong region.
pub async fn test_instance(instance: &ItGlueConfig) -> Result<String, ItGlueSyncError> {
    let client = client_for(instance)?;
    let check = client
        .test_connection()
        .await
        .map_err(|source| ItGlueSyncError::Connector {
            instance: instance.name.clone(),
            source,
        })?;
    Ok(match check.organization_count {
        Some(count) => format!(
            "{} answered; the key sees {count} organization(s)",
            check.base_url
        ),
        None => format!("{} answered", check.base_url),
    })
}

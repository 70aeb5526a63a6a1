//! One auto-map run of one IT Glue instance (DESIGN §4.3–4.5): read the imported directory, the
//! enabled clients, their systems and the current mappings; let the pure rules decide; store the
//! automatic mappings as one replacement (manual ones are protected by the store); record event
//! 4018 per client and 4019 per system that could not be mapped, with the reason.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::ready;
use futures_util::TryStreamExt;
use mspbridge_connectors::itglue::ItGlueClient;
use mspbridge_core::config::{Config, ItGlueConfig};
use mspbridge_core::events::{ITGLUE_CLIENT_AUTOMAP_FAILED, ITGLUE_SYSTEM_AUTOMAP_FAILED};
use mspbridge_core::itglue_map::{
    automap, AutomapInput, AutomapResult, ClientOutcome, ExistingMappings, MapClient,
    MapConfiguration, MapContact, MapOrganization, MapSystem, SystemOutcome,
};
use mspbridge_store::inventory::{Mapping, MappingKind, MappingSubject};
use mspbridge_store::{NewEvent, Store};
use serde_json::json;

use super::error::ItGlueSyncError;
use super::import::{import_instance, ImportRequest, ImportSummary, NoProgress};

/// What one run decided. The API answers it as `AutomapOutcome`, the counts without the
/// decisions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = AutomapOutcome)]
pub struct AutomapSummary {
    /// Instance name.
    pub instance: String,
    /// Clients mapped automatically.
    pub clients_mapped: usize,
    /// Clients kept on their manual mapping.
    pub clients_manual: usize,
    /// Clients that could not be mapped (one 4018 each).
    pub clients_failed: usize,
    /// Systems mapped automatically.
    pub systems_mapped: usize,
    /// Systems kept on their manual mapping.
    pub systems_manual: usize,
    /// Systems that could not be mapped (one 4019 each).
    pub systems_failed: usize,
    /// Systems skipped because their client has no organization.
    pub systems_without_organization: usize,
    /// Every decision, for display.
    #[serde(skip)]
    pub result: AutomapResult,
}

/// Runs auto-mapping for `instance` on what the store holds (no IT Glue call) and records events
/// 4018/4019. Failure events never raise alerts here; the service uses [`automap_and_raise`].
pub async fn automap_instance(
    store: &dyn Store,
    config: &Config,
    instance: &ItGlueConfig,
    now: DateTime<Utc>,
) -> Result<AutomapSummary, ItGlueSyncError> {
    run(store, None, config, instance, now).await
}

/// [`automap_instance`], and every 4018/4019 that `[events] raise_alerts` switches on also becomes
/// an alert of the `mspbridge` source, accepted through the engine's intake (DESIGN §7).
pub async fn automap_and_raise(
    store: &Arc<dyn Store>,
    config: &Config,
    instance: &ItGlueConfig,
    now: DateTime<Utc>,
) -> Result<AutomapSummary, ItGlueSyncError> {
    run(store.as_ref(), Some(store), config, instance, now).await
}

/// Stores `event` and, when switched on, raises its alert. A failure to raise is logged: the
/// event itself is stored, and the next run raises again.
async fn record(
    store: &dyn Store,
    raiser: Option<&Arc<dyn Store>>,
    config: &Config,
    event: NewEvent,
) -> Result<(), ItGlueSyncError> {
    let event_id = store.append_event(event.clone()).await?;
    let Some(raiser) = raiser else {
        return Ok(());
    };
    if let Err(error) = crate::events::raise_alert(raiser, config, event_id, &event).await {
        tracing::warn!(event_id, code = event.code, %error, "could not raise an alert for an IT Glue auto-map failure");
    }
    Ok(())
}

async fn run(
    store: &dyn Store,
    raiser: Option<&Arc<dyn Store>>,
    config: &Config,
    instance: &ItGlueConfig,
    now: DateTime<Utc>,
) -> Result<AutomapSummary, ItGlueSyncError> {
    // The store's streams hand over one row at a time, and each is turned into the rules'
    // compact input as it arrives, so the account is in memory once and only in that shape.
    let mut existing = ExistingMappings::default();
    store
        .mappings(Some(&instance.name))
        .try_for_each(|mapping| {
            let manual = mapping.kind == MappingKind::Manual;
            match mapping.subject {
                MappingSubject::Client { client } => {
                    existing.clients.insert(client, (mapping.target_id, manual));
                }
                MappingSubject::System { client, system } => {
                    existing
                        .systems
                        .insert((client, system), (mapping.target_id, manual));
                }
            }
            ready(Ok(()))
        })
        .await?;
    let enabled: BTreeSet<&str> = instance.clients.iter().map(String::as_str).collect();
    let clients: Vec<MapClient> = config
        .clients
        .iter()
        .filter(|client| enabled.contains(client.name.as_str()))
        .map(|client| MapClient {
            name: client.name.clone(),
            email: client.email.clone(),
        })
        .collect();
    let systems: Vec<MapSystem> = store
        .systems(None)
        .try_filter(|system| ready(enabled.contains(system.client.as_str())))
        .map_ok(|system| MapSystem {
            client: system.client,
            name: system.name,
            macs: system.macs,
        })
        .try_collect()
        .await?;
    let organizations: Vec<MapOrganization> = store
        .itglue_organizations(&instance.name)
        .map_ok(|org| MapOrganization {
            id: org.id,
            name: org.name,
        })
        .try_collect()
        .await?;
    let contacts: Vec<MapContact> = store
        .itglue_contacts(&instance.name)
        // Only important contacts take part in matching; the others need not be kept.
        .try_filter(|contact| ready(contact.important == Some(true)))
        .map_ok(|contact| MapContact {
            organization_id: contact.organization_id,
            important: contact.important,
            emails: contact.emails,
        })
        .try_collect()
        .await?;
    let configurations: Vec<MapConfiguration> = store
        .itglue_configurations(&instance.name)
        .map_ok(|configuration| MapConfiguration {
            id: configuration.id,
            organization_id: configuration.organization_id,
            name: configuration.name,
            macs: configuration.macs,
        })
        .try_collect()
        .await?;

    let result = automap(AutomapInput {
        clients: &clients,
        organizations: &organizations,
        contacts: &contacts,
        configurations: &configurations,
        systems: &systems,
        existing: &existing,
    });
    drop((
        clients,
        organizations,
        contacts,
        configurations,
        systems,
        existing,
    ));

    // The automatic mappings are made from the decisions as the store writes them, never
    // collected: a list of them would hold every mapped subject's names a second time.
    let auto_mapping = |subject, target_id| Mapping {
        instance: instance.name.clone(),
        subject,
        target_id,
        kind: MappingKind::Auto,
        updated_at: now,
    };
    let client_mappings = result
        .auto_client_mappings()
        .map(|(client, organization_id)| {
            let client = client.to_string();
            auto_mapping(MappingSubject::Client { client }, organization_id)
        });
    let system_mappings = result.auto_system_mappings().map(|(client, system, id)| {
        let (client, system) = (client.to_string(), system.to_string());
        auto_mapping(MappingSubject::System { client, system }, id)
    });
    store
        .replace_auto_mappings(&instance.name, &mut client_mappings.chain(system_mappings))
        .await?;

    let mut summary = AutomapSummary {
        instance: instance.name.clone(),
        clients_mapped: 0,
        clients_manual: 0,
        clients_failed: 0,
        systems_mapped: 0,
        systems_manual: 0,
        systems_failed: 0,
        systems_without_organization: 0,
        result: AutomapResult::default(),
    };
    for (client, outcome) in &result.clients {
        match outcome {
            ClientOutcome::Mapped { .. } => summary.clients_mapped += 1,
            ClientOutcome::Manual { .. } => summary.clients_manual += 1,
            ClientOutcome::Failed(failure) => {
                summary.clients_failed += 1;
                record(
                    store,
                    raiser,
                    config,
                    NewEvent {
                        code: ITGLUE_CLIENT_AUTOMAP_FAILED,
                        at: now,
                        client: Some(client.clone()),
                        subject: Some(client.clone()),
                        message: format!(
                            "IT Glue auto-map of client {client} failed in instance {}: {failure}",
                            instance.name
                        ),
                        details: json!({"instance": instance.name, "failure": failure}),
                    },
                )
                .await?;
            }
        }
    }
    for ((client, system), outcome) in &result.systems {
        match outcome {
            SystemOutcome::Mapped { .. } => summary.systems_mapped += 1,
            SystemOutcome::Manual { .. } => summary.systems_manual += 1,
            SystemOutcome::ClientNotMapped => summary.systems_without_organization += 1,
            SystemOutcome::Failed(failure) => {
                summary.systems_failed += 1;
                record(
                    store,
                    raiser,
                    config,
                    NewEvent {
                        code: ITGLUE_SYSTEM_AUTOMAP_FAILED,
                        at: now,
                        client: Some(client.clone()),
                        subject: Some(system.clone()),
                        message: format!(
                            "IT Glue auto-map of system {system} (client {client}) failed in instance {}: {failure}",
                            instance.name
                        ),
                        details: json!({"instance": instance.name, "failure": failure}),
                    },
                )
                .await?;
            }
        }
    }
    tracing::info!(
        instance = %instance.name,
        clients_mapped = summary.clients_mapped,
        clients_failed = summary.clients_failed,
        systems_mapped = summary.systems_mapped,
        systems_failed = summary.systems_failed,
        "IT Glue auto-map finished"
    );
    summary.result = result;
    Ok(summary)
}

/// Imports the whole directory of `instance` (keeping it fresh, §4.2) and auto-maps.
pub async fn refresh_and_automap(
    store: &dyn Store,
    config: &Config,
    instance: &ItGlueConfig,
    client: &ItGlueClient,
    now: DateTime<Utc>,
) -> Result<(ImportSummary, AutomapSummary), ItGlueSyncError> {
    let imported = import_instance(
        store,
        client,
        &instance.name,
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await?;
    let mapped = automap_instance(store, config, instance, now).await?;
    Ok((imported, mapped))
}

/// [`refresh_and_automap`] for the service: failure events raise alerts when switched on.
pub async fn refresh_and_raise(
    store: &Arc<dyn Store>,
    config: &Config,
    instance: &ItGlueConfig,
    client: &ItGlueClient,
    now: DateTime<Utc>,
) -> Result<(ImportSummary, AutomapSummary), ItGlueSyncError> {
    let imported = import_instance(
        store.as_ref(),
        client,
        &instance.name,
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await?;
    let mapped = automap_and_raise(store, config, instance, now).await?;
    Ok((imported, mapped))
}

//! Where a report goes in IT Glue: the organization its client is mapped to and the
//! configurations of the systems it talks about.
//!
//! Mappings (manual or automatic) live in the inventory part of the store; publishing only reads
//! them, at request time to refuse an unmapped client up front, and again when the job runs, since
//! a mapping may have been removed in between.

use std::collections::BTreeSet;

use mspbridge_store::inventory::MappingSubject;
use mspbridge_store::{Store, StoreError};

/// The organization `client` is mapped to in IT Glue instance `instance`.
pub async fn organization_for_client(
    store: &dyn Store,
    instance: &str,
    client: &str,
) -> Result<Option<i64>, StoreError> {
    let mappings = store.list_mappings(Some(instance)).await?;
    Ok(mappings
        .into_iter()
        .find(|mapping| {
            matches!(&mapping.subject, MappingSubject::Client { client: mapped } if mapped == client)
        })
        .map(|mapping| mapping.target_id))
}

/// The configurations that `systems` of `client` are mapped to in `instance`, sorted and without
/// repeats. System names compare without regard to case: alerts and inventories spell machine
/// names differently. Systems without a mapping are skipped.
pub async fn configurations_for_systems(
    store: &dyn Store,
    instance: &str,
    client: &str,
    systems: &[String],
) -> Result<Vec<i64>, StoreError> {
    if systems.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: BTreeSet<String> = systems.iter().map(|name| name.to_lowercase()).collect();
    let mappings = store.list_mappings(Some(instance)).await?;
    let found: BTreeSet<i64> = mappings
        .into_iter()
        .filter(|mapping| match &mapping.subject {
            MappingSubject::System {
                client: mapped_client,
                system,
            } => mapped_client == client && wanted.contains(&system.to_lowercase()),
            MappingSubject::Client { .. } => false,
        })
        .map(|mapping| mapping.target_id)
        .collect();
    Ok(found.into_iter().collect())
}

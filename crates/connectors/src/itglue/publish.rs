//! Publishing one security report: the flexible asset (created, or updated in full) and its links to
//! the configurations the report talks about.
//!
//! A publish job may run again after a crash or a retry, so every step is safe to repeat: an asset
//! that already exists under the report's name in the organization is updated instead of duplicated,
//! and links that already exist count as done.

use super::assets::{NewFlexibleAsset, ReportAssetType, ReportContent};
use super::client::ItGlueClient;
use super::error::ItGlueError;
use super::links::{links_to, ResourceRef};
use super::model::{FlexibleAsset, RelatedItemOutcome};

/// What publishing a report did.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedReport {
    pub asset: FlexibleAsset,
    /// True when the asset was created by this call, false when an existing one was updated.
    pub created: bool,
    /// Configurations newly linked to the asset.
    pub linked: Vec<i64>,
    /// Configurations that were linked already.
    pub already_linked: Vec<i64>,
}

impl ItGlueClient {
    /// The report asset of `organization_id` named exactly `name`, if there is one.
    pub async fn find_report_asset(
        &self,
        report_type: &ReportAssetType,
        organization_id: i64,
        name: &str,
    ) -> Result<Option<FlexibleAsset>, ItGlueError> {
        let mut found = self
            .list_flexible_assets(report_type.type_id, Some(organization_id), Some(name))
            .await?;
        found.retain(|asset| {
            asset.organization_id.is_none_or(|id| id == organization_id)
                && asset
                    .name
                    .as_deref()
                    .is_none_or(|n| n.trim() == name.trim())
        });
        found.sort_by_key(|asset| asset.id);
        Ok(found.into_iter().next())
    }

    /// Publishes `report` to `organization_id`: updates the asset of the same name (resending every
    /// trait, the file included) or creates it, then relates it to each configuration.
    pub async fn publish_report(
        &self,
        report_type: &ReportAssetType,
        organization_id: i64,
        report: &ReportContent,
        configuration_ids: &[i64],
    ) -> Result<PublishedReport, ItGlueError> {
        let traits = report_type.traits(report);
        let existing = self
            .find_report_asset(report_type, organization_id, &report.name)
            .await?;
        let (asset, created) = match existing {
            Some(existing) => (
                self.update_flexible_asset(existing.id, &traits).await?,
                false,
            ),
            None => {
                let new_asset = NewFlexibleAsset {
                    organization_id,
                    flexible_asset_type_id: report_type.type_id,
                    traits,
                };
                (self.create_flexible_asset(&new_asset).await?, true)
            }
        };
        let mut linked = Vec::new();
        let mut already_linked = Vec::new();
        // An asset that existed may carry links from an earlier publish: read them once and add
        // only the missing ones, instead of posting each again and getting 422 for it.
        let mut missing = configuration_ids.to_vec();
        if !created && !configuration_ids.is_empty() {
            let existing = self
                .related_items(ResourceRef::flexible_asset(asset.id))
                .await?;
            missing.retain(|&configuration_id| {
                let present = existing
                    .iter()
                    .any(|item| links_to(item, ResourceRef::configuration(configuration_id)));
                if present {
                    already_linked.push(configuration_id);
                }
                !present
            });
        }
        for configuration_id in missing {
            let outcome = self
                .create_related_item(
                    ResourceRef::flexible_asset(asset.id),
                    ResourceRef::configuration(configuration_id),
                    None,
                )
                .await?;
            match outcome {
                RelatedItemOutcome::Created(_) => linked.push(configuration_id),
                RelatedItemOutcome::AlreadyLinked => already_linked.push(configuration_id),
            }
        }
        tracing::info!(
            asset_id = asset.id,
            organization_id,
            created,
            linked = linked.len(),
            already_linked = already_linked.len(),
            "report published to IT Glue"
        );
        Ok(PublishedReport {
            asset,
            created,
            linked,
            already_linked,
        })
    }
}

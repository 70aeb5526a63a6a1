//! The in-memory account: every record, keyed by id, plus the id counter.
//!
//! Handlers lock it briefly, never across an `await`. Ids come from one counter for all record kinds, so
//! an id never means two things and tests can spot a mix-up.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::model::{
    name_key, Attachment, Configuration, ConfigurationInterface, ConfigurationType, Contact,
    FlexibleAsset, FlexibleAssetType, Organization, RelatedItem, ResourceRef, TraitValue,
};
use super::seed::ItGlueSeed;

/// Every record of the simulated account.
#[derive(Debug, Default)]
pub struct Store {
    next_id: i64,
    pub organizations: BTreeMap<i64, Organization>,
    pub contacts: BTreeMap<i64, Contact>,
    pub configuration_types: BTreeMap<i64, ConfigurationType>,
    pub configurations: BTreeMap<i64, Configuration>,
    pub flexible_asset_types: BTreeMap<i64, FlexibleAssetType>,
    pub flexible_assets: BTreeMap<i64, FlexibleAsset>,
    pub attachments: BTreeMap<i64, Attachment>,
    pub related_items: BTreeMap<i64, RelatedItem>,
}

impl Store {
    /// Loads a validated seed; seeded timestamps are kept, missing derived data is filled in.
    pub fn from_seed(seed: ItGlueSeed, now: DateTime<Utc>) -> Self {
        let mut store = Store {
            next_id: 1,
            ..Store::default()
        };
        let max_seed_id = seed
            .organizations
            .iter()
            .map(|o| o.id)
            .chain(seed.contacts.iter().map(|c| c.id))
            .chain(seed.configuration_types.iter().map(|t| t.id))
            .chain(
                seed.configurations
                    .iter()
                    .flat_map(|c| std::iter::once(c.id).chain(c.interfaces.iter().map(|i| i.id))),
            )
            .chain(
                seed.flexible_asset_types
                    .iter()
                    .flat_map(|t| std::iter::once(t.id).chain(t.fields.iter().map(|f| f.id))),
            )
            .max()
            .unwrap_or(0);
        // Leave a gap so records created at run time are easy to tell from seeded ones.
        store.next_id = (max_seed_id / 1000 + 1) * 1000 + 1;

        for org in seed.organizations {
            store.organizations.insert(org.id, org);
        }
        for contact in seed.contacts {
            store.contacts.insert(contact.id, contact);
        }
        for ct in seed.configuration_types {
            store.configuration_types.insert(ct.id, ct);
        }
        for mut config in seed.configurations {
            store.ensure_primary_interface(&mut config, now);
            store.configurations.insert(config.id, config);
        }
        for mut fat in seed.flexible_asset_types {
            for field in &mut fat.fields {
                if field.name_key.is_empty() {
                    field.name_key = name_key(&field.name);
                }
            }
            fat.fields.sort_by_key(|f| f.order);
            store.flexible_asset_types.insert(fat.id, fat);
        }
        store
    }

    /// A fresh id.
    pub fn next_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Gives a configuration with a primary IP or MAC but no interfaces a primary interface carrying
    /// them, and otherwise makes the configuration mirror its primary interface.
    pub fn ensure_primary_interface(&mut self, config: &mut Configuration, now: DateTime<Utc>) {
        let has_address = config.primary_ip.is_some() || config.mac_address.is_some();
        if config.interfaces.is_empty() && has_address {
            config.interfaces.push(ConfigurationInterface {
                id: self.next_id(),
                name: Some("Primary".to_owned()),
                ip_address: config.primary_ip.clone(),
                mac_address: config.mac_address.clone(),
                primary: true,
                notes: None,
                created_at: now,
                updated_at: now,
            });
        }
        config.mirror_primary_interface();
    }

    /// Whether a record of the given related-item class exists.
    pub fn class_record_exists(&self, target: &ResourceRef) -> bool {
        match target.class.as_str() {
            "Organization" => self.organizations.contains_key(&target.id),
            "Contact" => self.contacts.contains_key(&target.id),
            "Configuration" => self.configurations.contains_key(&target.id),
            "Flexible Asset" => self.flexible_assets.contains_key(&target.id),
            _ => false,
        }
    }

    /// Whether a record of the given URL resource type exists.
    pub fn resource_exists(&self, resource_type: &str, id: i64) -> bool {
        match resource_type {
            "organizations" => self.organizations.contains_key(&id),
            "contacts" => self.contacts.contains_key(&id),
            "configurations" => self.configurations.contains_key(&id),
            "flexible_assets" => self.flexible_assets.contains_key(&id),
            _ => false,
        }
    }

    /// A display name for a record, used by related items and tag values.
    pub fn display_name(&self, target: &ResourceRef) -> Option<String> {
        match target.class.as_str() {
            "Organization" => self.organizations.get(&target.id).map(|o| o.name.clone()),
            "Contact" => self.contacts.get(&target.id).map(Contact::full_name),
            "Configuration" => self.configurations.get(&target.id).map(|c| c.name.clone()),
            "Flexible Asset" => self
                .flexible_assets
                .get(&target.id)
                .and_then(|a| self.asset_name(a)),
            _ => None,
        }
    }

    /// Name of an organization, if it exists.
    pub fn organization_name(&self, id: i64) -> Option<String> {
        self.organizations.get(&id).map(|o| o.name.clone())
    }

    /// A flexible asset's name: the values of its `use-for-title` traits joined with a space.
    pub fn asset_name(&self, asset: &FlexibleAsset) -> Option<String> {
        let fat = self
            .flexible_asset_types
            .get(&asset.flexible_asset_type_id)?;
        let parts: Vec<String> = fat
            .fields
            .iter()
            .filter(|f| f.use_for_title)
            .filter_map(|f| match asset.traits.get(&f.name_key) {
                Some(TraitValue::Plain(serde_json::Value::String(s))) => Some(s.clone()),
                Some(TraitValue::Plain(serde_json::Value::Null)) | None => None,
                Some(TraitValue::Plain(other)) => Some(other.to_string()),
                Some(_) => None,
            })
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(" "))
        }
    }

    /// Removes a record's attachments and every related item touching it (used when a record is deleted).
    pub fn forget_resource(&mut self, resource_type: &str, class: &str, id: i64) {
        self.attachments
            .retain(|_, a| !(a.resource_type == resource_type && a.resource_id == id));
        let me = ResourceRef {
            class: class.to_owned(),
            id,
        };
        self.related_items
            .retain(|_, r| r.source != me && r.destination != me);
    }
}

//! What a simulated IT Glue account starts with.
//!
//! A seed is plain JSON (see `crates/simulators/data/itglue-demo.json`) so `mspbridge simulate itglue
//! --data FILE` and tests can describe an account without code. Loading checks references between records
//! so a broken seed fails loudly at start-up instead of producing odd answers later.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{
    name_key, Configuration, ConfigurationType, Contact, FlexibleAssetType, Organization,
    FIELD_KINDS,
};

/// The demo account shipped with the product.
const DEMO_JSON: &str = include_str!("../../data/itglue-demo.json");

/// Initial content of a simulated IT Glue account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItGlueSeed {
    #[serde(default)]
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub configuration_types: Vec<ConfigurationType>,
    #[serde(default)]
    pub configurations: Vec<Configuration>,
    #[serde(default)]
    pub flexible_asset_types: Vec<FlexibleAssetType>,
}

/// Why a seed could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read IT Glue seed file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("IT Glue seed {origin} is not valid: {source}")]
    Parse {
        origin: String,
        source: serde_json::Error,
    },
    #[error("IT Glue seed is inconsistent: {0}")]
    Invalid(String),
}

impl ItGlueSeed {
    /// Reads a seed from a JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SeedError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Parses a seed from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, SeedError> {
        let seed: Self = serde_json::from_str(text).map_err(|source| SeedError::Parse {
            origin: origin.to_owned(),
            source,
        })?;
        seed.validate()?;
        Ok(seed)
    }

    /// The demo account: Acme, Globex, Initech, two Umbrella organizations sharing a mail domain, the MSP
    /// itself, and configurations whose MACs are written every way IT Glue users write them.
    pub fn demo() -> Self {
        Self::from_json(DEMO_JSON, "itglue-demo.json")
            .expect("the bundled IT Glue demo seed is valid")
    }

    /// Checks ids are unique and every reference points at a seeded record.
    pub fn validate(&self) -> Result<(), SeedError> {
        let mut ids = BTreeSet::new();
        let mut claim = |what: &str, id: i64| {
            if id <= 0 {
                return Err(SeedError::Invalid(format!(
                    "{what} id {id} must be positive"
                )));
            }
            if !ids.insert(id) {
                return Err(SeedError::Invalid(format!(
                    "id {id} ({what}) is used twice; seed ids must be unique across all records"
                )));
            }
            Ok(())
        };
        for org in &self.organizations {
            claim("organization", org.id)?;
        }
        for contact in &self.contacts {
            claim("contact", contact.id)?;
        }
        for ct in &self.configuration_types {
            claim("configuration type", ct.id)?;
        }
        for config in &self.configurations {
            claim("configuration", config.id)?;
            for iface in &config.interfaces {
                claim("configuration interface", iface.id)?;
            }
        }
        for fat in &self.flexible_asset_types {
            claim("flexible asset type", fat.id)?;
            for field in &fat.fields {
                claim("flexible asset field", field.id)?;
            }
        }

        let org_ids: BTreeSet<i64> = self.organizations.iter().map(|o| o.id).collect();
        let type_ids: BTreeSet<i64> = self.configuration_types.iter().map(|t| t.id).collect();
        for contact in &self.contacts {
            if !org_ids.contains(&contact.organization_id) {
                return Err(SeedError::Invalid(format!(
                    "contact {} refers to organization {} which is not in the seed",
                    contact.id, contact.organization_id
                )));
            }
        }
        for config in &self.configurations {
            if !org_ids.contains(&config.organization_id) {
                return Err(SeedError::Invalid(format!(
                    "configuration {} refers to organization {} which is not in the seed",
                    config.id, config.organization_id
                )));
            }
            if !type_ids.contains(&config.configuration_type_id) {
                return Err(SeedError::Invalid(format!(
                    "configuration {} refers to configuration type {} which is not in the seed",
                    config.id, config.configuration_type_id
                )));
            }
            if config.interfaces.iter().filter(|i| i.primary).count() > 1 {
                return Err(SeedError::Invalid(format!(
                    "configuration {} has more than one primary interface",
                    config.id
                )));
            }
            let macs = std::iter::once(&config.mac_address)
                .chain(config.interfaces.iter().map(|i| &i.mac_address));
            for mac in macs.flatten() {
                if mac.chars().count() > 17 {
                    return Err(SeedError::Invalid(format!(
                        "configuration {} has MAC address {mac:?} longer than IT Glue's 17 characters",
                        config.id
                    )));
                }
            }
        }
        let mut fat_names = BTreeSet::new();
        for fat in &self.flexible_asset_types {
            if !fat_names.insert(fat.name.as_str()) {
                return Err(SeedError::Invalid(format!(
                    "flexible asset type name {:?} is used twice",
                    fat.name
                )));
            }
            let mut keys = BTreeSet::new();
            for field in &fat.fields {
                if !FIELD_KINDS.contains(&field.kind.as_str()) {
                    return Err(SeedError::Invalid(format!(
                        "field {:?} of flexible asset type {:?} has unknown kind {:?}",
                        field.name, fat.name, field.kind
                    )));
                }
                let key = if field.name_key.is_empty() {
                    name_key(&field.name)
                } else {
                    field.name_key.clone()
                };
                if !keys.insert(key.clone()) {
                    return Err(SeedError::Invalid(format!(
                        "flexible asset type {:?} has two fields with name-key {key:?}",
                        fat.name
                    )));
                }
            }
        }
        if self.organizations.iter().filter(|o| o.primary).count() > 1 {
            return Err(SeedError::Invalid(
                "more than one organization is marked primary; only the MSP's own one may be"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

//! The inventory half of the store: systems (the machines of managed clients) and, per IT Glue
//! instance, the imported directory (organizations, important-contact e-mails, configurations
//! with their MACs) and the client/system mappings to it.
//!
//! An import stages each page it reads ([`InventoryStore::stage_itglue_page`]) and replaces the
//! directory with the staged pages in one transaction at the end
//! ([`InventoryStore::commit_itglue_import`]), so the importer holds one page at a time and readers
//! never see half an import.
//!
//! Auto-mapping (DESIGN §4.3–4.5) reads all of this row by row through the streams
//! ([`InventoryStore::systems`], [`InventoryStore::itglue_configurations`], …), keeping only what
//! its rules look at, and writes back the automatic mappings as one replacement, so a run is
//! either fully visible or not at all, and manual mappings are protected by the store itself:
//! [`InventoryStore::replace_auto_mappings`] never touches a subject that has a manual mapping.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// How a system came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum SystemOrigin {
    /// Registered through the HTTP API.
    Api,
    /// Added with `mspbridge systems add`.
    Cli,
    /// Imported from a CSV file.
    Csv,
    /// Learned from an alert's workstation / where field.
    Alert,
}

impl SystemOrigin {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemOrigin::Api => "api",
            SystemOrigin::Cli => "cli",
            SystemOrigin::Csv => "csv",
            SystemOrigin::Alert => "alert",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "api" => SystemOrigin::Api,
            "cli" => SystemOrigin::Cli,
            "csv" => SystemOrigin::Csv,
            "alert" => SystemOrigin::Alert,
            _ => return None,
        })
    }
}

/// A system to register or refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSystem {
    /// The client it belongs to.
    pub client: String,
    /// Its name, unique within the client.
    pub name: String,
    /// Normalised MACs (12 lower-case hex digits). Empty keeps the stored MACs of an existing
    /// system, so an alert sighting never erases registered MACs.
    pub macs: Vec<String>,
    /// Sensor kind (agent, syslog, …); `None` keeps the stored one.
    pub sensor: Option<String>,
    /// Where it came from; an existing system keeps its first origin.
    pub origin: SystemOrigin,
}

/// A stored system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct System {
    /// The client it belongs to.
    pub client: String,
    /// Its name.
    pub name: String,
    /// Normalised MACs.
    pub macs: Vec<String>,
    /// Sensor kind.
    pub sensor: Option<String>,
    /// Where it was first registered from.
    pub origin: SystemOrigin,
    /// When it was first registered or seen.
    pub first_seen: DateTime<Utc>,
    /// When it was last registered or seen.
    pub last_seen: DateTime<Utc>,
}

/// An imported IT Glue organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItGlueOrganizationRecord {
    /// IT Glue id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Short name.
    pub short_name: Option<String>,
}

/// An imported IT Glue contact: only what auto-mapping needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItGlueContactRecord {
    /// IT Glue id.
    pub id: i64,
    /// Organization.
    pub organization_id: i64,
    /// IT Glue's tri-state important flag.
    pub important: Option<bool>,
    /// Every `contact-emails[].value`.
    pub emails: Vec<String>,
}

/// An imported IT Glue configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItGlueConfigurationRecord {
    /// IT Glue id.
    pub id: i64,
    /// Organization.
    pub organization_id: i64,
    /// Name.
    pub name: String,
    /// Host name.
    pub hostname: Option<String>,
    /// MAC texts as IT Glue stores them: the primary one and the interfaces'.
    pub macs: Vec<String>,
    /// Archived in IT Glue.
    pub archived: bool,
}

/// The imported directory of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItGlueDirectory {
    /// Organizations.
    pub organizations: Vec<ItGlueOrganizationRecord>,
    /// Contacts (important ones, or all).
    pub contacts: Vec<ItGlueContactRecord>,
    /// Configurations with their MACs.
    pub configurations: Vec<ItGlueConfigurationRecord>,
}

/// What an import replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportScope {
    /// The whole directory of the instance.
    All,
    /// Only these organizations and their contacts and configurations.
    Organizations(Vec<i64>),
}

/// What is mapped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "subject", rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum MappingSubject {
    /// A client → an organization.
    Client {
        /// Client name.
        client: String,
    },
    /// A system → a configuration.
    System {
        /// Client name.
        client: String,
        /// System name.
        system: String,
    },
}

impl MappingSubject {
    /// (subject kind, client, system or "") as stored.
    pub(crate) fn stored(&self) -> (&'static str, &str, &str) {
        match self {
            MappingSubject::Client { client } => ("client", client, ""),
            MappingSubject::System { client, system } => ("system", client, system),
        }
    }
}

/// Who made a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum MappingKind {
    /// Set by hand; auto-mapping never overwrites it.
    Manual,
    /// Set by auto-mapping; replaced by every run.
    Auto,
}

impl MappingKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MappingKind::Manual => "manual",
            MappingKind::Auto => "auto",
        }
    }
}

/// One mapping of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mapping {
    /// IT Glue instance name.
    pub instance: String,
    /// What is mapped.
    #[serde(flatten)]
    pub subject: MappingSubject,
    /// Organization id (client) or configuration id (system).
    pub target_id: i64,
    /// Manual or automatic.
    pub kind: MappingKind,
    /// When it was set.
    pub updated_at: DateTime<Utc>,
}

/// Systems, the IT Glue directory and mappings.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// Registers or refreshes systems in one transaction: all of them or, on error, none.
    /// An existing system keeps its origin and first-seen time, and its MACs and sensor when
    /// the new ones are empty / `None`.
    async fn upsert_systems(
        &self,
        systems: Vec<NewSystem>,
        now: DateTime<Utc>,
    ) -> Result<Vec<System>, StoreError>;
    /// Systems of one client (all with `None`), by client then name, one row at a time: a reader
    /// that keeps only part of each system never holds the whole list as stored.
    fn systems<'a>(&'a self, client: Option<&'a str>) -> BoxStream<'a, Result<System, StoreError>>;
    /// [`systems`](InventoryStore::systems), collected.
    async fn list_systems(&self, client: Option<&str>) -> Result<Vec<System>, StoreError> {
        self.systems(client).try_collect().await
    }
    /// Forgets a system and its mappings; false when it did not exist.
    async fn remove_system(&self, client: &str, name: &str) -> Result<bool, StoreError>;

    /// Replaces the imported directory of `instance` (all of it, or only the organizations in
    /// `scope` with their contacts and configurations) in one transaction.
    async fn replace_itglue_directory(
        &self,
        instance: &str,
        directory: ItGlueDirectory,
        scope: ImportScope,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores one page of an import of `instance` (any part of its directory) under
    /// `import_id`, a name the importer chose for this one import, in a short transaction of its
    /// own. Nothing staged is visible in the directory until [`commit_itglue_import`]; a record
    /// staged twice under one import keeps its last version.
    ///
    /// [`commit_itglue_import`]: InventoryStore::commit_itglue_import
    async fn stage_itglue_page(
        &self,
        import_id: &str,
        page: ItGlueDirectory,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Replaces the imported directory of `instance` (all of it, or only the organizations in
    /// `scope` with their contacts and configurations) with everything staged under `import_id`,
    /// in one transaction, as [`replace_itglue_directory`] does, and forgets what was staged under
    /// it — and what imports that never finished staged more than a day before `now`.
    ///
    /// [`replace_itglue_directory`]: InventoryStore::replace_itglue_directory
    async fn commit_itglue_import(
        &self,
        instance: &str,
        import_id: &str,
        scope: ImportScope,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Forgets what was staged under `import_id` (an import that failed); the directory is
    /// unchanged.
    async fn discard_itglue_import(&self, import_id: &str) -> Result<(), StoreError>;
    /// The imported organizations of `instance`, by id, one row at a time.
    fn itglue_organizations<'a>(
        &'a self,
        instance: &'a str,
    ) -> BoxStream<'a, Result<ItGlueOrganizationRecord, StoreError>>;
    /// The imported contacts of `instance`, by id, one row at a time.
    fn itglue_contacts<'a>(
        &'a self,
        instance: &'a str,
    ) -> BoxStream<'a, Result<ItGlueContactRecord, StoreError>>;
    /// The imported configurations of `instance`, by id, one row at a time.
    fn itglue_configurations<'a>(
        &'a self,
        instance: &'a str,
    ) -> BoxStream<'a, Result<ItGlueConfigurationRecord, StoreError>>;
    /// The imported directory of `instance`, each list by id.
    async fn itglue_directory(&self, instance: &str) -> Result<ItGlueDirectory, StoreError> {
        Ok(ItGlueDirectory {
            organizations: self.itglue_organizations(instance).try_collect().await?,
            contacts: self.itglue_contacts(instance).try_collect().await?,
            configurations: self.itglue_configurations(instance).try_collect().await?,
        })
    }

    /// Mappings of one instance (all with `None`), by instance then subject, one row at a time.
    fn mappings<'a>(
        &'a self,
        instance: Option<&'a str>,
    ) -> BoxStream<'a, Result<Mapping, StoreError>>;
    /// [`mappings`](InventoryStore::mappings), collected.
    async fn list_mappings(&self, instance: Option<&str>) -> Result<Vec<Mapping>, StoreError> {
        self.mappings(instance).try_collect().await
    }
    /// Sets one mapping, replacing whatever the subject had in that instance.
    async fn set_mapping(&self, mapping: Mapping) -> Result<(), StoreError>;
    /// Removes the subject's mapping of either kind; false when there was none.
    async fn remove_mapping(
        &self,
        instance: &str,
        subject: &MappingSubject,
    ) -> Result<bool, StoreError>;
    /// Replaces every automatic mapping of `instance` with `mappings` in one transaction, each
    /// written as the iterator yields it, so a caller never needs to collect them all.
    /// Subjects holding a manual mapping are skipped; `mappings` must all be automatic mappings
    /// of `instance`, else nothing is written.
    async fn replace_auto_mappings(
        &self,
        instance: &str,
        mappings: &mut (dyn Iterator<Item = Mapping> + Send),
    ) -> Result<(), StoreError>;
}

//! Importing one IT Glue instance's directory into the store (DESIGN §4.2).
//!
//! Auto-mapping needs three collections: organizations (for names in reasons and the mapping
//! screen), the important contacts (their e-mail domains) and the configurations with their
//! interfaces (their MACs). Each is read with the client's paging (`page[size]=1000`, so the
//! minimum number of requests) from the top-level routes, then stored in one transaction, so the
//! store never holds half an import. A filter by organization name or id imports only those
//! organizations and replaces only their rows.

use chrono::{DateTime, Utc};
use mspbridge_connectors::itglue::{
    Configuration, Contact, Filters, ItGlueClient, Organization, PageRead,
};
use mspbridge_store::inventory::{
    ImportScope, ItGlueConfigurationRecord, ItGlueContactRecord, ItGlueDirectory,
    ItGlueOrganizationRecord,
};
use mspbridge_store::Store;

use super::error::ItGlueSyncError;

/// One organization to import, by id or exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationFilter {
    /// By IT Glue id.
    Id(i64),
    /// By exact name.
    Name(String),
}

impl OrganizationFilter {
    /// Reads a command-line value: digits are an id, anything else a name.
    pub fn parse(text: &str) -> OrganizationFilter {
        let text = text.trim();
        match text.parse::<i64>() {
            Ok(id) => OrganizationFilter::Id(id),
            Err(_) => OrganizationFilter::Name(text.to_string()),
        }
    }
}

impl std::fmt::Display for OrganizationFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrganizationFilter::Id(id) => write!(f, "with id {id}"),
            OrganizationFilter::Name(name) => write!(f, "named {name:?}"),
        }
    }
}

/// What to import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportRequest {
    /// Only these organizations; empty imports everything.
    pub organizations: Vec<OrganizationFilter>,
}

/// Reports progress of long imports (a progress bar on a terminal, log lines elsewhere).
pub trait ImportProgress: Send + Sync {
    /// A collection starts being read.
    fn started(&self, instance: &str, collection: &str);
    /// A collection was read completely.
    fn finished(&self, instance: &str, collection: &str, count: usize);
    /// One more page of a collection was read.
    fn page(&self, _instance: &str, _collection: &str, _page: PageRead) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {
    fn started(&self, _instance: &str, _collection: &str) {}
    fn finished(&self, _instance: &str, _collection: &str, _count: usize) {}
}

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Instance name.
    pub instance: String,
    /// Organizations stored.
    pub organizations: usize,
    /// Important contacts stored.
    pub contacts: usize,
    /// Configurations stored.
    pub configurations: usize,
    /// Requests the client started in its current budget window.
    pub budget_used: u32,
}

fn organization_record(org: &Organization) -> ItGlueOrganizationRecord {
    ItGlueOrganizationRecord {
        id: org.id,
        name: org.name.clone(),
        short_name: org.short_name.clone(),
    }
}

fn contact_record(contact: &Contact) -> Option<ItGlueContactRecord> {
    Some(ItGlueContactRecord {
        id: contact.id,
        organization_id: contact.organization_id?,
        important: contact.important,
        emails: contact
            .contact_emails
            .iter()
            .map(|email| email.value.clone())
            .collect(),
    })
}

fn configuration_record(configuration: &Configuration) -> Option<ItGlueConfigurationRecord> {
    Some(ItGlueConfigurationRecord {
        id: configuration.id,
        organization_id: configuration.organization_id?,
        name: configuration
            .name
            .clone()
            .unwrap_or_else(|| format!("configuration {}", configuration.id)),
        hostname: configuration.hostname.clone(),
        macs: configuration
            .mac_addresses()
            .into_iter()
            .map(str::to_string)
            .collect(),
        archived: configuration.archived,
    })
}

/// Imports the directory of `instance` through `client` into `store`.
pub async fn import_instance(
    store: &dyn Store,
    client: &ItGlueClient,
    instance: &str,
    request: &ImportRequest,
    progress: &dyn ImportProgress,
    now: DateTime<Utc>,
) -> Result<ImportSummary, ItGlueSyncError> {
    let connector = |source| ItGlueSyncError::Connector {
        instance: instance.to_string(),
        source,
    };
    let mut directory = ItGlueDirectory::default();
    let scope;
    if request.organizations.is_empty() {
        progress.started(instance, "organizations");
        let organizations = client
            .list_organizations_paged(&Filters::new(), &|page| {
                progress.page(instance, "organizations", page)
            })
            .await
            .map_err(connector)?;
        progress.finished(instance, "organizations", organizations.len());
        directory.organizations = organizations.iter().map(organization_record).collect();

        progress.started(instance, "important contacts");
        let contacts = client
            .list_important_contacts_paged(None, &|page| {
                progress.page(instance, "important contacts", page)
            })
            .await
            .map_err(connector)?;
        progress.finished(instance, "important contacts", contacts.len());
        directory.contacts = contacts.iter().filter_map(contact_record).collect();

        progress.started(instance, "configurations");
        let configurations = client
            .list_configurations_paged(&Filters::new(), &|page| {
                progress.page(instance, "configurations", page)
            })
            .await
            .map_err(connector)?;
        progress.finished(instance, "configurations", configurations.len());
        directory.configurations = configurations
            .iter()
            .filter_map(configuration_record)
            .collect();
        scope = ImportScope::All;
    } else {
        progress.started(instance, "organizations");
        let mut selected: Vec<Organization> = Vec::new();
        for filter in &request.organizations {
            let found = match filter {
                OrganizationFilter::Id(id) => match client.get_organization(*id).await {
                    Ok(org) => vec![org],
                    Err(error) if error.is_not_found() => Vec::new(),
                    Err(error) => return Err(connector(error)),
                },
                OrganizationFilter::Name(name) => client
                    .find_organizations_by_name(name)
                    .await
                    .map_err(connector)?,
            };
            if found.is_empty() {
                return Err(ItGlueSyncError::OrganizationNotFound {
                    instance: instance.to_string(),
                    filter: filter.to_string(),
                });
            }
            for org in found {
                if !selected.iter().any(|known| known.id == org.id) {
                    selected.push(org);
                }
            }
        }
        progress.finished(instance, "organizations", selected.len());
        progress.started(instance, "important contacts and configurations");
        for org in &selected {
            let contacts = client
                .list_important_contacts(Some(org.id))
                .await
                .map_err(connector)?;
            directory
                .contacts
                .extend(contacts.iter().filter_map(contact_record));
            let configurations = client
                .list_configurations_of_organization(org.id)
                .await
                .map_err(connector)?;
            directory
                .configurations
                .extend(configurations.iter().filter_map(configuration_record));
        }
        progress.finished(
            instance,
            "important contacts and configurations",
            directory.contacts.len() + directory.configurations.len(),
        );
        directory.organizations = selected.iter().map(organization_record).collect();
        scope = ImportScope::Organizations(selected.iter().map(|org| org.id).collect());
    }
    let summary = ImportSummary {
        instance: instance.to_string(),
        organizations: directory.organizations.len(),
        contacts: directory.contacts.len(),
        configurations: directory.configurations.len(),
        budget_used: client.budget_used(),
    };
    store
        .replace_itglue_directory(instance, directory, scope, now)
        .await?;
    tracing::info!(
        instance,
        organizations = summary.organizations,
        contacts = summary.contacts,
        configurations = summary.configurations,
        "IT Glue directory imported"
    );
    Ok(summary)
}

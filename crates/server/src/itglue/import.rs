//! Importing one IT Glue instance's directory into the store (DESIGN §4.2).
//!
//! Auto-mapping needs three collections: organizations (for names in reasons and the mapping
//! screen), the important contacts (their e-mail domains) and the configurations with their
//! interfaces (their MACs). Each is read with the client's paging (`page[size]=1000`, so the
//! minimum number of requests) from the top-level routes. Every page is staged in the store as it
//! arrives and the staged pages replace the directory in one transaction at the end, so memory
//! holds a page, not the account, and the store never shows half an import. A filter by
//! organization name or id imports only those organizations and replaces only their rows.

use chrono::{DateTime, Utc};
use mspbridge_connectors::itglue::{
    Configuration, Contact, DirectoryPages, ItGlueClient, Organization, PageRead,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
    if request.organizations.is_empty() {
        return import_everything(store, client, instance, progress, now).await;
    }
    // Only the organizations asked for: a few, read whole and stored in one transaction.
    let mut directory = ItGlueDirectory::default();
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
    let scope = ImportScope::Organizations(selected.iter().map(|org| org.id).collect());
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

/// The whole directory, one page at a time: each page is reduced to the records the store keeps
/// and staged in the store while the next page is read, and the staged pages replace the directory
/// in one transaction at the end. The importer holds the JSON:API documents of one page and the
/// records of the page being staged, never the account; a failed import leaves the directory as it
/// was and its staged pages are removed.
async fn import_everything(
    store: &dyn Store,
    client: &ItGlueClient,
    instance: &str,
    progress: &dyn ImportProgress,
    now: DateTime<Utc>,
) -> Result<ImportSummary, ItGlueSyncError> {
    let import_id = format!("{instance}/{}", uuid::Uuid::new_v4());
    let staged = async {
        let organizations = stage_collection(
            store,
            &mut client.organization_pages(),
            Staging {
                instance,
                import_id: &import_id,
                collection: "organizations",
                progress,
                now,
            },
            |page| ItGlueDirectory {
                organizations: page.iter().map(organization_record).collect(),
                ..ItGlueDirectory::default()
            },
        )
        .await?;
        let contacts = stage_collection(
            store,
            &mut client.important_contact_pages(),
            Staging {
                instance,
                import_id: &import_id,
                collection: "important contacts",
                progress,
                now,
            },
            |page| ItGlueDirectory {
                contacts: page.iter().filter_map(contact_record).collect(),
                ..ItGlueDirectory::default()
            },
        )
        .await?;
        let configurations = stage_collection(
            store,
            &mut client.configuration_pages(),
            Staging {
                instance,
                import_id: &import_id,
                collection: "configurations",
                progress,
                now,
            },
            |page| ItGlueDirectory {
                configurations: page.iter().filter_map(configuration_record).collect(),
                ..ItGlueDirectory::default()
            },
        )
        .await?;
        store
            .commit_itglue_import(instance, &import_id, ImportScope::All, now)
            .await?;
        Ok::<_, ItGlueSyncError>((organizations, contacts, configurations))
    }
    .await;
    let (organizations, contacts, configurations) = match staged {
        Ok(counts) => counts,
        Err(error) => {
            if let Err(discard) = store.discard_itglue_import(&import_id).await {
                tracing::warn!(instance, error = %discard, "could not remove the staged pages of a failed IT Glue import");
            }
            return Err(error);
        }
    };
    let summary = ImportSummary {
        instance: instance.to_string(),
        organizations,
        contacts,
        configurations,
        budget_used: client.budget_used(),
    };
    tracing::info!(
        instance,
        organizations = summary.organizations,
        contacts = summary.contacts,
        configurations = summary.configurations,
        "IT Glue directory imported"
    );
    Ok(summary)
}

/// Where the pages of one collection go.
struct Staging<'a> {
    instance: &'a str,
    import_id: &'a str,
    collection: &'a str,
    progress: &'a dyn ImportProgress,
    now: DateTime<Utc>,
}

/// Reads every page of one collection and stages it, the store writing one page while IT Glue is
/// asked for the next. Returns how many records were staged.
async fn stage_collection<T>(
    store: &dyn Store,
    pages: &mut DirectoryPages<'_, T>,
    staging: Staging<'_>,
    records: impl Fn(Vec<T>) -> ItGlueDirectory,
) -> Result<usize, ItGlueSyncError> {
    let Staging {
        instance,
        import_id,
        collection,
        progress,
        now,
    } = staging;
    let connector = |source| ItGlueSyncError::Connector {
        instance: instance.to_string(),
        source,
    };
    progress.started(instance, collection);
    let mut read_count = 0;
    let mut staged_count = 0;
    let mut pending: Option<ItGlueDirectory> = None;
    loop {
        let stage = async {
            match pending.take() {
                Some(page) => store.stage_itglue_page(import_id, page, now).await,
                None => Ok(()),
            }
        };
        let (next, staged) = tokio::join!(pages.next_page(), stage);
        staged?;
        let Some((page, read)) = next.map_err(connector)? else {
            break;
        };
        read_count += page.len();
        let page = records(page);
        staged_count += page.organizations.len() + page.contacts.len() + page.configurations.len();
        pending = Some(page);
        progress.page(instance, collection, read);
    }
    progress.finished(instance, collection, read_count);
    Ok(staged_count)
}

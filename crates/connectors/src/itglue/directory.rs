//! Reading the account's directory: organizations, contacts and configurations with their
//! interfaces — everything auto-mapping and import need.
//!
//! Filters go on the top-level routes (`/contacts?filter[organization_id]=…`), never on nested
//! `/organizations/{id}/relationships/…` routes, because IT Glue ignores filters there and would
//! silently return everything.

use std::collections::HashMap;

use super::client::{decode_single, typed, typed_of_kind, Call, ItGlueClient, PageRead, Pages};
use super::error::ItGlueError;
use super::jsonapi::{Filters, ListDocument, RawResource};
use super::model::{Configuration, ConfigurationInterface, Contact, Organization};

const INTERFACES: &str = "configuration_interfaces";

impl ItGlueClient {
    /// Every organization matching `filters` (all of them with `Filters::new()`), all pages.
    pub async fn list_organizations(
        &self,
        filters: &Filters,
    ) -> Result<Vec<Organization>, ItGlueError> {
        self.list_organizations_paged(filters, &|_| {}).await
    }

    /// [`list_organizations`](Self::list_organizations), calling `on_page` after every page.
    pub async fn list_organizations_paged(
        &self,
        filters: &Filters,
        on_page: &(dyn Fn(PageRead) + Sync),
    ) -> Result<Vec<Organization>, ItGlueError> {
        let call = Call::get("/organizations").filters(filters);
        let collected = self.collect_with(&call, on_page).await?;
        collected.data.iter().map(|r| typed(&call, r)).collect()
    }

    /// Organizations whose name is exactly `name` (commas in it are escaped).
    pub async fn find_organizations_by_name(
        &self,
        name: &str,
    ) -> Result<Vec<Organization>, ItGlueError> {
        self.list_organizations(&Filters::new().exact("name", name))
            .await
    }

    /// One organization; a missing id is a 404 [`ItGlueError::Status`].
    pub async fn get_organization(&self, id: i64) -> Result<Organization, ItGlueError> {
        let call = Call::get(format!("/organizations/{id}"));
        let body = self.send(&call).await?;
        Ok(decode_single(&call, body)?.0)
    }

    /// Contacts of one organization, or of every organization when `organization_id` is None.
    /// Each contact carries its `organization_id` and all its e-mail addresses.
    pub async fn list_contacts(
        &self,
        organization_id: Option<i64>,
    ) -> Result<Vec<Contact>, ItGlueError> {
        let mut filters = Filters::new();
        if let Some(id) = organization_id {
            filters = filters.id("organization_id", id);
        }
        self.contacts(&filters).await
    }

    /// Contacts flagged important (never those whose flag is `null`), of one organization or all.
    pub async fn list_important_contacts(
        &self,
        organization_id: Option<i64>,
    ) -> Result<Vec<Contact>, ItGlueError> {
        self.list_important_contacts_paged(organization_id, &|_| {})
            .await
    }

    /// [`list_important_contacts`](Self::list_important_contacts), calling `on_page` after every
    /// page.
    pub async fn list_important_contacts_paged(
        &self,
        organization_id: Option<i64>,
        on_page: &(dyn Fn(PageRead) + Sync),
    ) -> Result<Vec<Contact>, ItGlueError> {
        let mut filters = Filters::new().flag("important", true);
        if let Some(id) = organization_id {
            filters = filters.id("organization_id", id);
        }
        let call = Call::get("/contacts").filters(&filters);
        let collected = self.collect_with(&call, on_page).await?;
        let mut contacts = collected
            .data
            .iter()
            .map(|r| typed(&call, r))
            .collect::<Result<Vec<Contact>, ItGlueError>>()?;
        // An ignored filter would return everyone; the flag itself is the authority.
        contacts.retain(Contact::is_important);
        Ok(contacts)
    }

    /// Every organization, one page per [`DirectoryPages::next_page`].
    pub fn organization_pages(&self) -> DirectoryPages<'_, Organization> {
        DirectoryPages {
            pages: self.pages(&Call::get("/organizations")),
            decode: |call, document| document.data.iter().map(|r| typed(call, r)).collect(),
        }
    }

    /// The contacts flagged important of every organization, one page per
    /// [`DirectoryPages::next_page`] (a page may come back with fewer contacts than it had
    /// records: the flag itself is the authority, an ignored filter never lets others through).
    pub fn important_contact_pages(&self) -> DirectoryPages<'_, Contact> {
        let call = Call::get("/contacts").filters(&Filters::new().flag("important", true));
        DirectoryPages {
            pages: self.pages(&call),
            decode: |call, document| {
                let mut contacts = document
                    .data
                    .iter()
                    .map(|r| typed(call, r))
                    .collect::<Result<Vec<Contact>, ItGlueError>>()?;
                contacts.retain(Contact::is_important);
                Ok(contacts)
            },
        }
    }

    /// Every configuration with its interfaces (sideloaded with each page), one page per
    /// [`DirectoryPages::next_page`].
    pub fn configuration_pages(&self) -> DirectoryPages<'_, Configuration> {
        let call = Call::get("/configurations").query("include", INTERFACES);
        DirectoryPages {
            pages: self.pages(&call),
            decode: |call, document| {
                configurations_with_interfaces(call, &document.data, &document.included)
            },
        }
    }

    async fn contacts(&self, filters: &Filters) -> Result<Vec<Contact>, ItGlueError> {
        let call = Call::get("/contacts").filters(filters);
        let collected = self.collect(&call).await?;
        collected.data.iter().map(|r| typed(&call, r)).collect()
    }

    /// Configurations matching `filters`, each with its interfaces (`include=configuration_interfaces`).
    /// Archived configurations are included unless `filters` says `archived=false`.
    pub async fn list_configurations(
        &self,
        filters: &Filters,
    ) -> Result<Vec<Configuration>, ItGlueError> {
        self.list_configurations_paged(filters, &|_| {}).await
    }

    /// [`list_configurations`](Self::list_configurations), calling `on_page` after every page.
    pub async fn list_configurations_paged(
        &self,
        filters: &Filters,
        on_page: &(dyn Fn(PageRead) + Sync),
    ) -> Result<Vec<Configuration>, ItGlueError> {
        let call = Call::get("/configurations")
            .filters(filters)
            .query("include", INTERFACES);
        let collected = self.collect_with(&call, on_page).await?;
        configurations_with_interfaces(&call, &collected.data, &collected.included)
    }

    /// Every configuration of one organization, with interfaces.
    pub async fn list_configurations_of_organization(
        &self,
        organization_id: i64,
    ) -> Result<Vec<Configuration>, ItGlueError> {
        self.list_configurations(&Filters::new().id("organization_id", organization_id))
            .await
    }

    /// One configuration with its interfaces.
    pub async fn get_configuration(&self, id: i64) -> Result<Configuration, ItGlueError> {
        let call = Call::get(format!("/configurations/{id}")).query("include", INTERFACES);
        let body = self.send(&call).await?;
        let (mut configuration, document): (Configuration, _) = decode_single(&call, body)?;
        let interfaces: Vec<ConfigurationInterface> =
            typed_of_kind(&call, &document.included, "configuration-interfaces")?;
        let wanted = document.data.related_ids(INTERFACES);
        configuration.interfaces = interfaces
            .into_iter()
            .filter(|interface| wanted.is_empty() || wanted.contains(&interface.id))
            .collect();
        Ok(configuration)
    }

    /// The interfaces of one configuration (the only place secondary MACs appear).
    pub async fn list_configuration_interfaces(
        &self,
        configuration_id: i64,
    ) -> Result<Vec<ConfigurationInterface>, ItGlueError> {
        let call = Call::get(format!(
            "/configurations/{configuration_id}/relationships/{INTERFACES}"
        ));
        let collected = self.collect(&call).await?;
        collected.data.iter().map(|r| typed(&call, r)).collect()
    }
}

/// One collection of the account read a page at a time: each [`next_page`](Self::next_page)
/// sends one request (more only when IT Glue makes it retry or halve the page size) and returns
/// that page's records typed, so a caller keeps only what it takes from each page.
pub struct DirectoryPages<'a, T> {
    pages: Pages<'a>,
    decode: fn(&Call, ListDocument) -> Result<Vec<T>, ItGlueError>,
}

impl<T> std::fmt::Debug for DirectoryPages<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryPages")
            .field("path", &self.pages.call().path)
            .finish_non_exhaustive()
    }
}

impl<T> DirectoryPages<'_, T> {
    /// The next page's records and where the reading stands, or `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<(Vec<T>, PageRead)>, ItGlueError> {
        match self.pages.next().await? {
            None => Ok(None),
            Some((document, read)) => Ok(Some(((self.decode)(self.pages.call(), document)?, read))),
        }
    }
}

/// Typed configurations with the interfaces their relationships name, taken from `included`.
fn configurations_with_interfaces(
    call: &Call,
    data: &[RawResource],
    included: &[RawResource],
) -> Result<Vec<Configuration>, ItGlueError> {
    let interfaces: HashMap<i64, ConfigurationInterface> =
        typed_of_kind::<ConfigurationInterface>(call, included, "configuration-interfaces")?
            .into_iter()
            .map(|interface| (interface.id, interface))
            .collect();
    data.iter()
        .map(|resource| {
            let mut configuration: Configuration = typed(call, resource)?;
            configuration.interfaces = resource
                .related_ids(INTERFACES)
                .into_iter()
                .filter_map(|id| interfaces.get(&id).cloned())
                .collect();
            Ok(configuration)
        })
        .collect()
}

//! Attachments and related items: how a published report gets its file and its links to the
//! configurations it talks about.
//!
//! IT Glue has no read route for related items and answers 422 when a pair is linked twice. Rather
//! than trusting the wording of that 422, [`ItGlueClient::create_related_item`] reads the source's
//! related items and reports [`RelatedItemOutcome::AlreadyLinked`] only when the link is really
//! there, so a re-run of a publish job is harmless and any other 422 stays an error.

use serde_json::{json, Value};

use super::assets::upload_trait;
use super::client::{decode_single, typed_of_kind, Call, ItGlueClient};
use super::error::ItGlueError;
use super::model::{Attachment, RelatedItem, RelatedItemOutcome};

/// The kinds of IT Glue resource that can carry attachments or be related to one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Checklist,
    ChecklistTemplate,
    Configuration,
    Contact,
    Document,
    Domain,
    FlexibleAsset,
    Location,
    Organization,
    Password,
    SslCertificate,
    Ticket,
}

impl ResourceKind {
    /// The URL path segment (`flexible_assets`).
    pub fn path_segment(self) -> &'static str {
        match self {
            ResourceKind::Checklist => "checklists",
            ResourceKind::ChecklistTemplate => "checklist_templates",
            ResourceKind::Configuration => "configurations",
            ResourceKind::Contact => "contacts",
            ResourceKind::Document => "documents",
            ResourceKind::Domain => "domains",
            ResourceKind::FlexibleAsset => "flexible_assets",
            ResourceKind::Location => "locations",
            ResourceKind::Organization => "organizations",
            ResourceKind::Password => "passwords",
            ResourceKind::SslCertificate => "ssl_certificates",
            ResourceKind::Ticket => "tickets",
        }
    }

    /// The human class name related items use as `destination_type` (`Flexible Asset`).
    pub fn related_item_type(self) -> &'static str {
        match self {
            ResourceKind::Checklist => "Checklist",
            ResourceKind::ChecklistTemplate => "Checklist Template",
            ResourceKind::Configuration => "Configuration",
            ResourceKind::Contact => "Contact",
            ResourceKind::Document => "Document",
            ResourceKind::Domain => "Domain",
            ResourceKind::FlexibleAsset => "Flexible Asset",
            ResourceKind::Location => "Location",
            ResourceKind::Organization => "Organization",
            ResourceKind::Password => "Password",
            ResourceKind::SslCertificate => "SSL Certificate",
            ResourceKind::Ticket => "Ticket",
        }
    }
}

/// One IT Glue resource, by kind and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub id: i64,
}

impl ResourceRef {
    pub fn configuration(id: i64) -> Self {
        ResourceRef {
            kind: ResourceKind::Configuration,
            id,
        }
    }

    pub fn flexible_asset(id: i64) -> Self {
        ResourceRef {
            kind: ResourceKind::FlexibleAsset,
            id,
        }
    }

    fn path(self) -> String {
        format!("/{}/{}", self.kind.path_segment(), self.id)
    }
}

impl ItGlueClient {
    /// Uploads a file (sent as base64 JSON) as an attachment of `resource`.
    pub async fn upload_attachment(
        &self,
        resource: ResourceRef,
        file_name: &str,
        content: &[u8],
    ) -> Result<Attachment, ItGlueError> {
        let body = json!({"data": {
            "type": "attachments",
            "attributes": {"attachment": upload_trait(file_name, content)},
        }});
        let call = Call::post(
            format!("{}/relationships/attachments", resource.path()),
            body,
        );
        let response = self.send(&call).await?;
        Ok(decode_single(&call, response)?.0)
    }

    /// Relates `source` to `destination`. A 422 for a pair that is already related comes back as
    /// `Ok(AlreadyLinked)`.
    pub async fn create_related_item(
        &self,
        source: ResourceRef,
        destination: ResourceRef,
        notes: Option<&str>,
    ) -> Result<RelatedItemOutcome, ItGlueError> {
        let mut attributes = json!({
            "destination_id": destination.id.to_string(),
            "destination_type": destination.kind.related_item_type(),
        });
        if let Some(notes) = notes {
            attributes["notes"] = Value::String(notes.to_string());
        }
        let body = json!({"data": {"type": "related_items", "attributes": attributes}});
        let call = Call::post(
            format!("{}/relationships/related_items", source.path()),
            body,
        );
        match self.send(&call).await {
            Ok(response) => Ok(RelatedItemOutcome::Created(
                decode_single(&call, response)?.0,
            )),
            Err(error) if error.status() == Some(422) => match self.related_items(source).await {
                Ok(existing) if existing.iter().any(|item| links_to(item, destination)) => {
                    tracing::debug!(
                        source = %source.path(),
                        destination = %destination.path(),
                        "IT Glue related item already exists"
                    );
                    Ok(RelatedItemOutcome::AlreadyLinked)
                }
                _ => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// The related items of `resource`, read through `include=related_items` on its show route
    /// (IT Glue has no route listing them).
    pub async fn related_items(
        &self,
        resource: ResourceRef,
    ) -> Result<Vec<RelatedItem>, ItGlueError> {
        let call = Call::get(resource.path()).query("include", "related_items");
        let body = self.send(&call).await?;
        let document: super::jsonapi::SingleDocument = super::client::decode(&call, body)?;
        typed_of_kind(&call, &document.included, "related-items")
    }
}

pub(super) fn links_to(item: &RelatedItem, destination: ResourceRef) -> bool {
    let wanted = type_key(destination.kind.related_item_type());
    let same_type = item
        .destination_type
        .as_deref()
        .is_none_or(|kind| type_key(kind) == wanted);
    item.destination_id == Some(destination.id) && same_type
}

/// `Flexible Asset`, `flexible-assets` and `FlexibleAsset` all become `flexibleasset`.
fn type_key(kind: &str) -> String {
    let key: String = kind
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    key.strip_suffix('s').map(str::to_string).unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: Option<i64>, kind: Option<&str>) -> RelatedItem {
        RelatedItem {
            id: 1,
            destination_id: id,
            destination_type: kind.map(str::to_string),
            destination_name: None,
            notes: None,
        }
    }

    #[test]
    fn an_existing_link_is_recognised_by_id_and_type() {
        let destination = ResourceRef::configuration(455);
        assert!(links_to(
            &item(Some(455), Some("Configuration")),
            destination
        ));
        assert!(links_to(
            &item(Some(455), Some("configurations")),
            destination
        ));
        assert!(links_to(&item(Some(455), None), destination));
        assert!(!links_to(
            &item(Some(456), Some("Configuration")),
            destination
        ));
        assert!(!links_to(&item(Some(455), Some("Contact")), destination));
    }

    #[test]
    fn kinds_have_paths_and_human_names() {
        assert_eq!(
            ResourceKind::FlexibleAsset.path_segment(),
            "flexible_assets"
        );
        assert_eq!(
            ResourceKind::FlexibleAsset.related_item_type(),
            "Flexible Asset"
        );
        assert_eq!(
            ResourceKind::SslCertificate.related_item_type(),
            "SSL Certificate"
        );
        assert_eq!(ResourceRef::flexible_asset(9).path(), "/flexible_assets/9");
    }
}

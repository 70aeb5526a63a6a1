//! Typed IT Glue resources the product reads: organizations, contacts, configurations and their
//! interfaces, flexible asset types and fields, flexible assets, attachments and related items.
//!
//! Each type keeps only the attributes mspbridge uses and ignores the rest (live IT Glue sends many
//! more than its documentation shows). Empty attributes arrive as `null`, so nearly everything is an
//! `Option`; `important` on contacts is deliberately tri-state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::jsonapi::{lenient_opt_i64, null_as_empty, null_as_false, RawResource};

/// A timestamp that is ignored (None) rather than fatal when it is not RFC 3339.
fn lenient_datetime<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.and_then(|t| {
        DateTime::parse_from_rfc3339(t.trim())
            .ok()
            .map(|d| d.to_utc())
    }))
}

/// Reads a typed resource from a raw one, taking the id from wherever IT Glue put it.
pub(crate) trait FromResource: Sized {
    fn from_resource(resource: &RawResource) -> Result<Self, String>;
}

fn require_id(resource: &RawResource) -> Result<i64, String> {
    resource.resolved_id().ok_or_else(|| {
        format!(
            "a `{}` resource has no id",
            if resource.kind.is_empty() {
                "unknown"
            } else {
                &resource.kind
            }
        )
    })
}

macro_rules! from_attributes {
    ($type:ty) => {
        impl FromResource for $type {
            fn from_resource(resource: &RawResource) -> Result<Self, String> {
                let mut value: $type = resource.attributes_as()?;
                value.id = require_id(resource)?;
                Ok(value)
            }
        }
    };
}

/// An IT Glue organization (an MSP client, the MSP itself, a vendor…).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Organization {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub short_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub organization_type_id: Option<i64>,
    #[serde(default)]
    pub organization_type_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub organization_status_id: Option<i64>,
    #[serde(default)]
    pub organization_status_name: Option<String>,
    /// True for the MSP's own organization.
    #[serde(default, deserialize_with = "null_as_false")]
    pub primary: bool,
    /// Sent as a string by IT Glue (`"1"`).
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub parent_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
}
from_attributes!(Organization);

/// One e-mail address of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ContactEmail {
    pub value: String,
    #[serde(default, deserialize_with = "null_as_false")]
    pub primary: bool,
    #[serde(default)]
    pub label_name: Option<String>,
}

impl ContactEmail {
    /// The lower-cased domain after the last `@`, or None when the address has none.
    pub fn domain(&self) -> Option<String> {
        let address = self.value.trim();
        let (_, domain) = address.rsplit_once('@')?;
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        (!domain.is_empty()).then_some(domain)
    }
}

/// A contact of an organization.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Contact {
    #[serde(skip)]
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub organization_id: Option<i64>,
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub contact_type_name: Option<String>,
    /// Tri-state: flagged important, flagged not important, or never set (`null`). Only `Some(true)`
    /// means important; `None` must not be read as "not important".
    #[serde(default)]
    pub important: Option<bool>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contact_emails: Vec<ContactEmail>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
}
from_attributes!(Contact);

impl Contact {
    /// True only when IT Glue says the contact is flagged important.
    pub fn is_important(&self) -> bool {
        self.important == Some(true)
    }
}

/// A network interface of a configuration; secondary MAC addresses live only here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConfigurationInterface {
    #[serde(skip)]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub primary: bool,
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Free text exactly as stored in IT Glue (any separators and case, possibly garbage).
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}
from_attributes!(ConfigurationInterface);

/// A configuration (a machine, switch, printer…) of an organization.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Configuration {
    #[serde(skip)]
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub organization_id: Option<i64>,
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub primary_ip: Option<String>,
    /// The primary MAC as free text, unnormalised; often null.
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub configuration_type_name: Option<String>,
    #[serde(default)]
    pub configuration_type_kind: Option<String>,
    #[serde(default)]
    pub configuration_status_name: Option<String>,
    #[serde(default)]
    pub operating_system_name: Option<String>,
    #[serde(default)]
    pub resource_url: Option<String>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub archived: bool,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Filled from `included` when the list was asked with `include=configuration_interfaces`.
    #[serde(skip)]
    pub interfaces: Vec<ConfigurationInterface>,
}
from_attributes!(Configuration);

impl Configuration {
    /// Every MAC text known for this configuration: the primary one first, then the interfaces'.
    pub fn mac_addresses(&self) -> Vec<&str> {
        let mut macs: Vec<&str> = Vec::new();
        let candidates = self.mac_address.iter().chain(
            self.interfaces
                .iter()
                .filter_map(|i| i.mac_address.as_ref()),
        );
        for mac in candidates {
            let mac = mac.trim();
            if !mac.is_empty() && !macs.contains(&mac) {
                macs.push(mac);
            }
        }
        macs
    }
}

/// The kinds of flexible asset field IT Glue knows, spelled exactly as its API wants them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
pub enum FieldKind {
    Checkbox,
    Date,
    Header,
    Number,
    Select,
    Text,
    Textbox,
    Upload,
    Tag,
    Percent,
    Password,
    /// Anything newer than this client.
    #[serde(other)]
    Other,
}

/// One field of a flexible asset type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FlexibleAssetField {
    #[serde(skip)]
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub flexible_asset_type_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub order: Option<i64>,
    pub name: String,
    pub kind: FieldKind,
    /// The trait key to use when writing assets of this type (server-generated).
    #[serde(default)]
    pub name_key: Option<String>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub required: bool,
    #[serde(default, deserialize_with = "null_as_false")]
    pub show_in_list: bool,
    #[serde(default, deserialize_with = "null_as_false")]
    pub use_for_title: bool,
    #[serde(default, deserialize_with = "null_as_false")]
    pub expiration: bool,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub tag_type: Option<String>,
    #[serde(default)]
    pub default_value: Option<String>,
}
from_attributes!(FlexibleAssetField);

/// A flexible asset type with its fields (when they were included).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FlexibleAssetType {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub show_in_menu: bool,
    /// Sorted by `order`.
    #[serde(skip)]
    pub fields: Vec<FlexibleAssetField>,
}
from_attributes!(FlexibleAssetType);

impl FlexibleAssetType {
    /// The field with this display name, compared case-insensitively.
    pub fn field(&self, name: &str) -> Option<&FlexibleAssetField> {
        self.fields
            .iter()
            .find(|field| field.name.trim().eq_ignore_ascii_case(name.trim()))
    }
}

/// A flexible asset (a record of a flexible asset type) with its traits as IT Glue returned them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FlexibleAsset {
    #[serde(skip)]
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub organization_id: Option<i64>,
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub flexible_asset_type_id: Option<i64>,
    #[serde(default)]
    pub flexible_asset_type_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Read-back shapes differ from write shapes (tags come back as objects, uploads undocumented).
    #[serde(default, deserialize_with = "null_as_empty_map")]
    pub traits: Map<String, Value>,
    #[serde(default)]
    pub resource_url: Option<String>,
    #[serde(default, deserialize_with = "null_as_false")]
    pub archived: bool,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
}
from_attributes!(FlexibleAsset);

fn null_as_empty_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A file attached to a resource.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Attachment {
    #[serde(skip)]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub attachment_file_name: Option<String>,
    #[serde(default)]
    pub attachment_content_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub attachment_file_size: Option<i64>,
    #[serde(default)]
    pub ext: Option<String>,
    #[serde(default)]
    pub download_url: Option<String>,
}
from_attributes!(Attachment);

/// A link from one resource to another, as seen from the resource it was read through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedItem {
    #[serde(skip)]
    pub id: i64,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub destination_id: Option<i64>,
    #[serde(default)]
    pub destination_type: Option<String>,
    #[serde(default)]
    pub destination_name: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}
from_attributes!(RelatedItem);

/// A flexible asset read with its attachments and related items.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexibleAssetDetails {
    pub asset: FlexibleAsset,
    pub attachments: Vec<Attachment>,
    pub related_items: Vec<RelatedItem>,
}

/// What creating a related item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelatedItemOutcome {
    Created(RelatedItem),
    /// IT Glue answered 422 because the two resources are already related.
    AlreadyLinked,
}

/// The result of a successful connection test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheck {
    /// The base URL that answered.
    pub base_url: String,
    /// How many organizations the key can see, when IT Glue said.
    pub organization_count: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_email_domains_are_lower_case_after_the_last_at() {
        let email = |value: &str| ContactEmail {
            value: value.to_string(),
            primary: false,
            label_name: None,
        };
        assert_eq!(
            email(" John@Happy.Frog.COM ").domain().as_deref(),
            Some("happy.frog.com")
        );
        assert_eq!(
            email("\"a@b\"@example.org").domain().as_deref(),
            Some("example.org")
        );
        assert_eq!(email("no-domain").domain(), None);
        assert_eq!(email("trailing@").domain(), None);
    }

    #[test]
    fn unknown_field_kinds_do_not_break_reading() {
        let kind: FieldKind = serde_json::from_str("\"Hologram\"").unwrap();
        assert_eq!(kind, FieldKind::Other);
        assert_eq!(
            serde_json::to_string(&FieldKind::Upload).unwrap(),
            "\"Upload\""
        );
    }

    #[test]
    fn configuration_macs_are_deduplicated_primary_first() {
        let configuration = Configuration {
            id: 1,
            organization_id: Some(2),
            organization_name: None,
            name: None,
            hostname: None,
            primary_ip: None,
            mac_address: Some("C4:7A:92:14:3D:78".into()),
            serial_number: None,
            configuration_type_name: None,
            configuration_type_kind: None,
            configuration_status_name: None,
            operating_system_name: None,
            resource_url: None,
            archived: false,
            updated_at: None,
            interfaces: vec![
                ConfigurationInterface {
                    id: 1,
                    name: None,
                    primary: true,
                    ip_address: None,
                    mac_address: Some("C4:7A:92:14:3D:78".into()),
                    notes: None,
                },
                ConfigurationInterface {
                    id: 2,
                    name: None,
                    primary: false,
                    ip_address: None,
                    mac_address: Some("D4:6A:91:13:2D:77".into()),
                    notes: None,
                },
            ],
        };
        assert_eq!(
            configuration.mac_addresses(),
            vec!["C4:7A:92:14:3D:78", "D4:6A:91:13:2D:77"]
        );
    }
}

//! The records the simulated IT Glue account holds.
//!
//! These are the simulator's own storage types (snake_case, typed ids); the JSON:API wire shape is produced
//! from them by `render`. The seedable ones derive `Deserialize` so a seed file uses the same names.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Timestamp given to seeded records that do not carry their own.
pub(crate) fn default_timestamp() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// An IT Glue organization (one managed client, a vendor, or the MSP itself when `primary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub alert: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub organization_type_id: Option<i64>,
    #[serde(default)]
    pub organization_type_name: Option<String>,
    #[serde(default)]
    pub organization_status_id: Option<i64>,
    #[serde(default)]
    pub organization_status_name: Option<String>,
    /// True only for the MSP's own organization.
    #[serde(default)]
    pub primary: bool,
    #[serde(default)]
    pub logo: String,
    #[serde(default)]
    pub quick_notes: Option<String>,
    #[serde(default)]
    pub short_name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub ancestor_ids: Vec<i64>,
    #[serde(default)]
    pub my_glue_account_id: Option<i64>,
    /// Set when the organization is synchronised from a PSA (e.g. `"manage"`); such organizations refuse
    /// most PATCHes.
    #[serde(default)]
    pub psa_integration: Option<String>,
    #[serde(default = "default_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "default_timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// One e-mail address of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactEmail {
    pub value: String,
    #[serde(default)]
    pub primary: bool,
    #[serde(default = "default_label")]
    pub label_name: String,
}

fn default_label() -> String {
    "Work".to_owned()
}

/// One phone number of a contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPhone {
    pub value: String,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub primary: bool,
    #[serde(default = "default_label")]
    pub label_name: String,
    #[serde(default = "default_phone_type")]
    pub label_type: String,
}

fn default_phone_type() -> String {
    "phone".to_owned()
}

/// A person at an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub id: i64,
    pub organization_id: i64,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub contact_type_id: Option<i64>,
    #[serde(default)]
    pub contact_type_name: Option<String>,
    #[serde(default)]
    pub location_id: Option<i64>,
    #[serde(default)]
    pub location_name: Option<String>,
    /// Tri-state on the real service: flagged, explicitly not flagged, or never set.
    #[serde(default)]
    pub important: Option<bool>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub contact_emails: Vec<ContactEmail>,
    #[serde(default)]
    pub contact_phones: Vec<ContactPhone>,
    #[serde(default = "default_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "default_timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// "First Last", as IT Glue renders `name`.
    pub fn full_name(&self) -> String {
        match self.last_name.as_deref() {
            Some(last) if !last.is_empty() => format!("{} {last}", self.first_name),
            _ => self.first_name.clone(),
        }
    }
}

/// A configuration type of the account (Managed Server, Switch, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurationType {
    pub id: i64,
    pub name: String,
    /// Coarse kind: `server`, `workstation`, `switch`, …
    #[serde(default)]
    pub kind: Option<String>,
}

/// A network interface of a configuration; secondary MACs live only here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigurationInterface {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Free text exactly as entered; never normalised.
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub primary: bool,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default = "default_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "default_timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A configuration item (machine, switch, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub configuration_type_id: i64,
    #[serde(default)]
    pub hostname: Option<String>,
    /// Mirrors the primary interface when there is one.
    #[serde(default)]
    pub primary_ip: Option<String>,
    /// Free text exactly as entered (≤ 17 characters); mirrors the primary interface when there is one.
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub asset_tag: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub contact_id: Option<i64>,
    #[serde(default)]
    pub configuration_status_id: Option<i64>,
    #[serde(default)]
    pub configuration_status_name: Option<String>,
    #[serde(default)]
    pub manufacturer_name: Option<String>,
    #[serde(default)]
    pub model_name: Option<String>,
    #[serde(default)]
    pub operating_system_name: Option<String>,
    #[serde(default)]
    pub warranty_expires_at: Option<NaiveDate>,
    #[serde(default)]
    pub installed_at: Option<NaiveDate>,
    #[serde(default)]
    pub purchased_at: Option<NaiveDate>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub interfaces: Vec<ConfigurationInterface>,
    #[serde(default = "default_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "default_timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl Configuration {
    /// Copies the primary interface's IP and MAC onto the configuration, as IT Glue keeps them in step.
    pub(crate) fn mirror_primary_interface(&mut self) {
        if let Some(primary) = self.interfaces.iter().find(|i| i.primary) {
            self.primary_ip = primary.ip_address.clone();
            self.mac_address = primary.mac_address.clone();
        }
    }
}

/// The eleven field kinds IT Glue knows, with their exact capitalisation.
pub const FIELD_KINDS: [&str; 11] = [
    "Checkbox", "Date", "Header", "Number", "Select", "Text", "Textbox", "Upload", "Tag",
    "Percent", "Password",
];

/// Kinds whose `use-for-title` is always forced to false.
pub const NOT_TITLE_KINDS: [&str; 9] = [
    "Checkbox", "Header", "Number", "Password", "Percent", "Step", "Tag", "Textbox", "Upload",
];

/// One field of a flexible asset type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexibleAssetField {
    pub id: i64,
    pub order: i64,
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub hint: Option<String>,
    #[serde(default)]
    pub decimals: i64,
    #[serde(default)]
    pub default_value: Option<String>,
    #[serde(default)]
    pub tag_type: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub use_for_title: bool,
    #[serde(default)]
    pub expiration: bool,
    #[serde(default)]
    pub show_in_list: bool,
    /// Server-generated key used in `traits`; filled in on load when a seed leaves it out.
    #[serde(default)]
    pub name_key: String,
    #[serde(default = "default_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "default_timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A flexible asset type with its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlexibleAssetType {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default = "yes")]
    pub show_in_menu: bool,
    #[serde(default)]
    pub fields: Vec<FlexibleAssetField>,
    #[serde(default = "default_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default = "default_timestamp")]
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

/// A file stored in an Upload trait.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// The stored value of one trait.
#[derive(Debug, Clone, PartialEq)]
pub enum TraitValue {
    /// Text, Textbox, Select, Password (strings), Date (`YYYY-MM-DD` string), Number/Percent, Checkbox.
    Plain(serde_json::Value),
    /// Ids tagged through a Tag field, with the field's tag type.
    Tag { tag_type: String, ids: Vec<i64> },
    /// The file of an Upload field.
    Upload(UploadedFile),
}

/// A flexible asset (one record of a flexible asset type).
#[derive(Debug, Clone, PartialEq)]
pub struct FlexibleAsset {
    pub id: i64,
    pub organization_id: i64,
    pub flexible_asset_type_id: i64,
    /// Trait values keyed by field `name-key`.
    pub traits: BTreeMap<String, TraitValue>,
    pub restricted: bool,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A file attached to a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: i64,
    /// URL resource type of the owner (`configurations`, `flexible_assets`, …).
    pub resource_type: String,
    pub resource_id: i64,
    /// Display name; starts as the file name, PATCH can change it.
    pub name: String,
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One end of a related item: a human class name (`Configuration`, `Flexible Asset`, …) and an id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    pub class: String,
    pub id: i64,
}

/// A two-sided link between two records.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedItem {
    pub id: i64,
    pub source: ResourceRef,
    pub destination: ResourceRef,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RelatedItem {
    /// Whether this item links `a` and `b`, in either direction.
    pub fn links(&self, a: &ResourceRef, b: &ResourceRef) -> bool {
        (&self.source == a && &self.destination == b)
            || (&self.source == b && &self.destination == a)
    }

    /// The other end as seen from `from`, if `from` is one of the ends.
    pub fn other_end(&self, from: &ResourceRef) -> Option<&ResourceRef> {
        if &self.source == from {
            Some(&self.destination)
        } else if &self.destination == from {
            Some(&self.source)
        } else {
            None
        }
    }
}

/// IT Glue's server-side `name-key`: lower case, runs of non-alphanumerics become one `-`, trimmed.
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dash = false;
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(ch.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    out
}

/// Classes a related item may point at, with the URL resource type the simulator stores them under
/// (`None`: the class is valid but the simulator keeps no such records).
pub const RELATED_CLASSES: [(&str, Option<&str>); 15] = [
    ("User", None),
    ("Checklist", None),
    ("Checklist Template", None),
    ("Contact", Some("contacts")),
    ("Configuration", Some("configurations")),
    ("Datto Device", None),
    ("Document", None),
    ("Document Folder", None),
    ("Domain", None),
    ("Location", None),
    ("Organization", Some("organizations")),
    ("Password", None),
    ("SSL Certificate", None),
    ("Flexible Asset", Some("flexible_assets")),
    ("Ticket", None),
];

/// URL resource types that accept attachments.
pub const ATTACHABLE_TYPES: [&str; 11] = [
    "checklists",
    "checklist_templates",
    "configurations",
    "contacts",
    "documents",
    "domains",
    "locations",
    "passwords",
    "ssl_certificates",
    "flexible_assets",
    "tickets",
];

/// The human class name of a URL resource type (`flexible_assets` → `Flexible Asset`).
pub fn class_of_resource_type(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "checklists" => "Checklist",
        "checklist_templates" => "Checklist Template",
        "configurations" => "Configuration",
        "contacts" => "Contact",
        "documents" => "Document",
        "domains" => "Domain",
        "locations" => "Location",
        "passwords" => "Password",
        "ssl_certificates" => "SSL Certificate",
        "flexible_assets" => "Flexible Asset",
        "tickets" => "Ticket",
        "folders" => "Document Folder",
        "organizations" => "Organization",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::name_key;

    #[test]
    fn name_key_follows_the_documented_examples() {
        assert_eq!(name_key("Email Servers"), "email-servers");
        assert_eq!(name_key("Webmail URL"), "webmail-url");
        assert_eq!(name_key("  Report -- File (v2) "), "report-file-v2");
    }
}

//! Records → JSON:API resource objects, exactly as IT Glue writes them.
//!
//! Kebab-case attribute names, string `id`s, numeric foreign keys, every known attribute present (null
//! when empty), millisecond timestamps, `YYYY-MM-DD` dates, and the odd stringly-typed organization
//! attributes (`parent-id`, `ancestor-ids`). Kept apart from the handlers so the wire shape is reviewed in
//! one file.

use serde_json::{json, Map, Value};

use super::jsonapi::{date, timestamp};
use super::model::{
    Attachment, Configuration, ConfigurationInterface, Contact, FlexibleAsset, FlexibleAssetField,
    FlexibleAssetType, Organization, RelatedItem, ResourceRef, TraitValue,
};
use super::store::Store;

/// Index responses cut `quick-notes` to this many characters.
const QUICK_NOTES_INDEX_LIMIT: usize = 250;

/// `{"id":"…","type":"…"}` linkage.
pub fn linkage(id: i64, kind: &str) -> Value {
    json!({ "id": id.to_string(), "type": kind })
}

/// Adds `relationships.<name>.data` to a resource object.
pub fn add_relationship(resource: &mut Value, name: &str, data: Value) {
    if let Value::Object(obj) = resource {
        let rels = obj
            .entry("relationships")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(rels) = rels {
            rels.insert(name.to_owned(), json!({ "data": data }));
        }
    }
}

pub fn organization(org: &Organization, for_index: bool) -> Value {
    let quick_notes = org.quick_notes.as_ref().map(|n| {
        if for_index {
            n.chars().take(QUICK_NOTES_INDEX_LIMIT).collect::<String>()
        } else {
            n.clone()
        }
    });
    let ancestors: Vec<String> = org.ancestor_ids.iter().map(i64::to_string).collect();
    json!({
        "id": org.id.to_string(),
        "type": "organizations",
        "attributes": {
            "name": org.name,
            "alert": org.alert,
            "description": org.description,
            "organization-type-id": org.organization_type_id,
            "organization-type-name": org.organization_type_name,
            "organization-status-id": org.organization_status_id,
            "organization-status-name": org.organization_status_name,
            "my-glue-account-id": org.my_glue_account_id,
            "primary": org.primary,
            "logo": org.logo,
            "quick-notes": quick_notes,
            "short-name": org.short_name,
            "psa-integration": org.psa_integration,
            "created-at": timestamp(&org.created_at),
            "updated-at": timestamp(&org.updated_at),
            "parent-id": org.parent_id.map(|p| p.to_string()),
            "ancestor-ids": format!("[{}]", ancestors.join(",")),
        }
    })
}

pub fn contact(store: &Store, c: &Contact) -> Value {
    let emails: Vec<Value> = c
        .contact_emails
        .iter()
        .map(|e| json!({"value": e.value, "primary": e.primary, "label-name": e.label_name}))
        .collect();
    let phones: Vec<Value> = c
        .contact_phones
        .iter()
        .map(|p| {
            json!({"value": p.value, "extension": p.extension, "primary": p.primary,
                "label-name": p.label_name, "label-type": p.label_type,
                "formatted-value": format_phone(&p.value)})
        })
        .collect();
    json!({
        "id": c.id.to_string(),
        "type": "contacts",
        "attributes": {
            "organization-id": c.organization_id,
            "organization-name": store.organization_name(c.organization_id),
            "name": c.full_name(),
            "first-name": c.first_name,
            "last-name": c.last_name,
            "title": c.title,
            "contact-type-id": c.contact_type_id,
            "contact-type-name": c.contact_type_name,
            "location-id": c.location_id,
            "location-name": c.location_name,
            "important": c.important,
            "notes": c.notes,
            "created-at": timestamp(&c.created_at),
            "updated-at": timestamp(&c.updated_at),
            "contact-emails": emails,
            "contact-phones": phones,
        }
    })
}

/// `(415) 555-2156` for ten-digit North American numbers, the value as given otherwise.
fn format_phone(value: &str) -> String {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 10 {
        format!("({}) {}-{}", &digits[0..3], &digits[3..6], &digits[6..])
    } else {
        value.to_owned()
    }
}

pub fn configuration(store: &Store, account_url: &str, c: &Configuration) -> Value {
    let org = store.organizations.get(&c.organization_id);
    let ctype = store.configuration_types.get(&c.configuration_type_id);
    json!({
        "id": c.id.to_string(),
        "type": "configurations",
        "attributes": {
            "organization-id": c.organization_id,
            "organization-name": org.map(|o| o.name.clone()),
            "organization-short-name": org.and_then(|o| o.short_name.clone()),
            "resource-url": format!("{account_url}/{}/configurations/{}", c.organization_id, c.id),
            "name": c.name,
            "hostname": c.hostname,
            "primary-ip": c.primary_ip,
            "mac-address": c.mac_address,
            "serial-number": c.serial_number,
            "asset-tag": c.asset_tag,
            "position": null,
            "installed-by": null,
            "purchased-by": null,
            "notes": c.notes,
            "operating-system-notes": null,
            "warranty-expires-at": date(&c.warranty_expires_at),
            "installed-at": date(&c.installed_at),
            "purchased-at": date(&c.purchased_at),
            "created-at": timestamp(&c.created_at),
            "updated-at": timestamp(&c.updated_at),
            "configuration-type-id": c.configuration_type_id,
            "configuration-type-name": ctype.map(|t| t.name.clone()),
            "configuration-type-kind": ctype.and_then(|t| t.kind.clone()),
            "configuration-status-id": c.configuration_status_id,
            "configuration-status-name": c.configuration_status_name,
            "contact-id": c.contact_id,
            "manufacturer-id": null,
            "manufacturer-name": c.manufacturer_name,
            "model-id": null,
            "model-name": c.model_name,
            "operating-system-id": null,
            "operating-system-name": c.operating_system_name,
            "location-id": null,
            "location-name": null,
            "restricted": false,
            "my-glue": false,
            "archived": c.archived,
        }
    })
}

pub fn interface(i: &ConfigurationInterface) -> Value {
    json!({
        "id": i.id.to_string(),
        "type": "configuration-interfaces",
        "attributes": {
            "id": i.id,
            "primary": i.primary,
            "name": i.name,
            "ip-address": i.ip_address,
            "mac-address": i.mac_address,
            "notes": i.notes,
            "created-at": timestamp(&i.created_at),
            "updated-at": timestamp(&i.updated_at),
        }
    })
}

pub fn asset_type(fat: &FlexibleAssetType) -> Value {
    json!({
        "id": fat.id.to_string(),
        "type": "flexible-asset-types",
        "attributes": {
            "name": fat.name,
            "description": fat.description,
            "icon": fat.icon,
            "show-in-menu": fat.show_in_menu,
            "created-at": timestamp(&fat.created_at),
            "updated-at": timestamp(&fat.updated_at),
        }
    })
}

pub fn asset_field(fat_id: i64, f: &FlexibleAssetField) -> Value {
    json!({
        "id": f.id.to_string(),
        "type": "flexible-asset-fields",
        "attributes": {
            "flexible-asset-type-id": fat_id,
            "order": f.order,
            "name": f.name,
            "kind": f.kind,
            "hint": f.hint,
            "decimals": f.decimals,
            "default-value": f.default_value,
            "tag-type": f.tag_type,
            "required": f.required,
            "use-for-title": f.use_for_title,
            "expiration": f.expiration,
            "show-in-list": f.show_in_list,
            "name-key": f.name_key,
            "created-at": timestamp(&f.created_at),
            "updated-at": timestamp(&f.updated_at),
        },
        "relationships": {
            "flexible-asset-type": { "data": linkage(fat_id, "flexible-asset-types") }
        }
    })
}

pub fn asset(store: &Store, account_url: &str, a: &FlexibleAsset) -> Value {
    let fat = store.flexible_asset_types.get(&a.flexible_asset_type_id);
    let slug = fat
        .map(|t| super::model::name_key(&t.name))
        .unwrap_or_default();
    let mut traits = Map::new();
    for (key, value) in &a.traits {
        traits.insert(key.clone(), trait_value(store, account_url, a, value));
    }
    json!({
        "id": a.id.to_string(),
        "type": "flexible-assets",
        "attributes": {
            "organization-id": a.organization_id,
            "organization-name": store.organization_name(a.organization_id),
            "resource-url": format!("{account_url}/{}/assets/{}-{slug}/records/{}",
                a.organization_id, a.flexible_asset_type_id, a.id),
            "restricted": a.restricted,
            "my-glue": false,
            "flexible-asset-type-id": a.flexible_asset_type_id,
            "flexible-asset-type-name": fat.map(|t| t.name.clone()),
            "name": store.asset_name(a),
            "traits": traits,
            "archived": a.archived,
            "created-at": timestamp(&a.created_at),
            "updated-at": timestamp(&a.updated_at),
        }
    })
}

fn trait_value(store: &Store, account_url: &str, a: &FlexibleAsset, value: &TraitValue) -> Value {
    match value {
        TraitValue::Plain(v) => v.clone(),
        TraitValue::Upload(file) => json!({
            "id": file.id,
            "name": file.file_name,
            "file-name": file.file_name,
            "content-type": file.content_type,
            "file-size": file.content.len(),
            "download-url": format!("{account_url}/{}/assets/records/{}/uploads/{}", a.organization_id, a.id, file.id),
            "created-at": timestamp(&file.created_at),
        }),
        TraitValue::Tag { tag_type, ids } => {
            let values: Vec<Value> = ids
                .iter()
                .map(|id| tag_value(store, tag_type, *id))
                .collect();
            json!({ "type": tag_type, "values": values })
        }
    }
}

fn tag_value(store: &Store, tag_type: &str, id: i64) -> Value {
    match tag_type {
        "Configurations" => match store.configurations.get(&id) {
            Some(c) => json!({
                "id": id, "name": c.name, "hostname": c.hostname,
                "organization-name": store.organization_name(c.organization_id),
                "configuration-type-name": store.configuration_types.get(&c.configuration_type_id).map(|t| t.name.clone()),
            }),
            None => json!({ "id": id }),
        },
        "Contacts" => match store.contacts.get(&id) {
            Some(c) => json!({"id": id, "name": c.full_name(),
                "organization-name": store.organization_name(c.organization_id)}),
            None => json!({ "id": id }),
        },
        "Organizations" => json!({"id": id, "name": store.organization_name(id)}),
        _ if tag_type.starts_with("FlexibleAssetType") => match store.flexible_assets.get(&id) {
            Some(a) => json!({"id": id, "name": store.asset_name(a),
                "organization-name": store.organization_name(a.organization_id)}),
            None => json!({ "id": id }),
        },
        _ => json!({ "id": id, "name": null }),
    }
}

pub fn attachment(account_url: &str, a: &Attachment) -> Value {
    let ext = a
        .file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    json!({
        "id": a.id.to_string(),
        "type": "attachments",
        "attributes": {
            "name": a.name,
            "attachment-file-name": a.file_name,
            "attachment-content-type": a.content_type,
            "attachment-file-size": a.content.len(),
            "ext": ext,
            "viewable": a.content_type.starts_with("image/"),
            "download-url": format!("{account_url}/attachments/{}", a.id),
            "created-at": timestamp(&a.created_at),
            "updated-at": timestamp(&a.updated_at),
        }
    })
}

/// A related item as seen from `from`: the other end is the destination.
pub fn related_item(store: &Store, item: &RelatedItem, from: &ResourceRef) -> Value {
    let destination = item.other_end(from).unwrap_or(&item.destination);
    json!({
        "id": item.id.to_string(),
        "type": "related-items",
        "attributes": {
            "destination-id": destination.id,
            "destination-type": destination.class,
            "destination-name": store.display_name(destination),
            "notes": item.notes,
            "archived": false,
            "created-at": timestamp(&item.created_at),
            "updated-at": timestamp(&item.updated_at),
        }
    })
}

/// Content type from a file name's extension.
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

/// Sideloads attachments and related items of one record when `include=` asks and the endpoint allows.
pub fn sideload_common(
    store: &Store,
    account_url: &str,
    resource: &mut Value,
    included: &mut Vec<Value>,
    owner: (&str, i64),
    want_attachments: bool,
    want_related: bool,
) {
    let (resource_type, id) = owner;
    if want_attachments {
        let mut files: Vec<&Attachment> = store
            .attachments
            .values()
            .filter(|a| a.resource_type == resource_type && a.resource_id == id)
            .collect();
        files.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        add_relationship(
            resource,
            "attachments",
            Value::Array(files.iter().map(|a| linkage(a.id, "attachments")).collect()),
        );
        push_unique(included, files.iter().map(|a| attachment(account_url, a)));
    }
    if want_related {
        let Some(class) = super::model::class_of_resource_type(resource_type) else {
            return;
        };
        let me = ResourceRef {
            class: class.to_owned(),
            id,
        };
        let items: Vec<&RelatedItem> = store
            .related_items
            .values()
            .filter(|r| r.other_end(&me).is_some())
            .collect();
        add_relationship(
            resource,
            "related-items",
            Value::Array(
                items
                    .iter()
                    .map(|r| linkage(r.id, "related-items"))
                    .collect(),
            ),
        );
        push_unique(included, items.iter().map(|r| related_item(store, r, &me)));
    }
}

/// Appends resources to `included`, skipping ones already there (same type and id).
pub fn push_unique(included: &mut Vec<Value>, items: impl IntoIterator<Item = Value>) {
    for item in items {
        let seen = included
            .iter()
            .any(|i| i.get("id") == item.get("id") && i.get("type") == item.get("type"));
        if !seen {
            included.push(item);
        }
    }
}

//! Attachments and related items: how a published report carries extra files and points at the
//! configurations it covers.
//!
//! Both live under `/{resource_type}/{id}/relationships/...`. Related items have no GET route (they are
//! read through `include=related_items`), refuse a second link between the same two records with 422, and
//! are two-sided: one link is visible and deletable from either end.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::assets::{decode_file, TraitProblem};
use super::jsonapi::{
    as_id, attributes, list_document, opt_string, single_document, ApiError, Data,
};
use super::model::{
    class_of_resource_type, Attachment, RelatedItem, ResourceRef, ATTACHABLE_TYPES, RELATED_CLASSES,
};
use super::organizations::resolve_page;
use super::render;
use super::server::{Ctx, HandlerResult};

/// Whether `/{resource_type}/{id}/relationships/attachments` exists.
pub fn is_attachable(resource_type: &str) -> bool {
    ATTACHABLE_TYPES.contains(&resource_type)
}

/// Whether `/{resource_type}/{id}/relationships/related_items` exists.
pub fn is_relatable(resource_type: &str) -> bool {
    is_attachable(resource_type) || resource_type == "folders"
}

fn require_owner(ctx: &Ctx<'_>, resource_type: &str, id: i64) -> Result<(), ApiError> {
    if ctx.shared.store().resource_exists(resource_type, id) {
        Ok(())
    } else {
        Err(ApiError::record_not_found())
    }
}

/// `GET …/relationships/attachments`, newest first.
pub fn attachments_index(ctx: &Ctx<'_>, resource_type: &str, id: i64) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let store = ctx.shared.store();
    let mut items: Vec<&Attachment> = store
        .attachments
        .values()
        .filter(|a| a.resource_type == resource_type && a.resource_id == id)
        .collect();
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let page = resolve_page(ctx, items.len())?;
    let account_url = &ctx.shared.config.account_url;
    let data = page
        .slice(items)
        .into_iter()
        .map(|a| render::attachment(account_url, a))
        .collect();
    Ok(ctx.ok(&list_document(
        data,
        Vec::new(),
        &page,
        &ctx.query,
        &ctx.url,
        Map::new(),
    )))
}

pub fn attachment_show(
    ctx: &Ctx<'_>,
    resource_type: &str,
    id: i64,
    attachment_id: i64,
) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let store = ctx.shared.store();
    let a = store
        .attachments
        .get(&attachment_id)
        .filter(|a| a.resource_type == resource_type && a.resource_id == id)
        .ok_or_else(ApiError::record_not_found)?;
    Ok(ctx.ok(&single_document(
        render::attachment(&ctx.shared.config.account_url, a),
        Vec::new(),
    )))
}

/// `POST …/relationships/attachments` with one or several `{attachment: {content, file_name}}`.
pub fn attachments_create(ctx: &Ctx<'_>, resource_type: &str, id: i64) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let data = Data::from_body(ctx.body()?)?;
    let bulk = matches!(data, Data::Many(_));
    let mut files = Vec::new();
    for item in data.items() {
        let attrs = attributes(&item, "attachments")?;
        let file = attrs.get("attachment").ok_or_else(|| {
            ApiError::invalid(
                "attachment is required: {\"content\": \"<base64>\", \"file_name\": \"…\"}",
                "/data/attributes/attachment",
            )
        })?;
        match decode_file(file, ctx.shared.config.max_attachment_bytes) {
            Ok(f) => files.push(f),
            Err(TraitProblem::Invalid(message)) => {
                return Err(ApiError::invalid(message, "/data/attributes/attachment"))
            }
            Err(TraitProblem::TooLarge(size, max)) => {
                return Err(ApiError::from_objects(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    vec![json!({"status": 413, "title": "Payload Too Large",
                        "detail": format!("attachment is {size} bytes; the limit is {max} bytes"),
                        "source": {"pointer": "/data/attributes/attachment"}})],
                ))
            }
        }
    }
    let mut store = ctx.shared.store();
    let account_url = &ctx.shared.config.account_url;
    let mut out = Vec::new();
    for (file_name, content) in files {
        let attachment = Attachment {
            id: store.next_id(),
            resource_type: resource_type.to_owned(),
            resource_id: id,
            name: file_name.clone(),
            content_type: render::content_type_for(&file_name).to_owned(),
            file_name,
            content,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        out.push(render::attachment(account_url, &attachment));
        store.attachments.insert(attachment.id, attachment);
    }
    let data = if bulk {
        Value::Array(out)
    } else {
        out.pop().unwrap_or(Value::Null)
    };
    Ok(ctx.created(&single_document(data, Vec::new())))
}

/// `PATCH …/relationships/attachments/{id}`: only the display name changes.
pub fn attachment_update(
    ctx: &Ctx<'_>,
    resource_type: &str,
    id: i64,
    attachment_id: i64,
) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let item = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "send one attachment per request on this route",
                "data",
            ))
        }
    };
    let attrs = attributes(&item, "attachments")?;
    let mut store = ctx.shared.store();
    let a = store
        .attachments
        .get_mut(&attachment_id)
        .filter(|a| a.resource_type == resource_type && a.resource_id == id)
        .ok_or_else(ApiError::record_not_found)?;
    if let Some(name) = opt_string(&attrs, "name")? {
        let name = name
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| ApiError::invalid("Name can't be blank", "/data/attributes/name"))?;
        a.name = name;
        a.updated_at = ctx.now;
    }
    let r = render::attachment(&ctx.shared.config.account_url, a);
    Ok(ctx.ok(&single_document(r, Vec::new())))
}

/// Ids from a bulk-delete body: `{"data":[{"type":…,"attributes":{"id":…}}]}`.
fn delete_ids(ctx: &Ctx<'_>, expected_type: &str) -> Result<Vec<i64>, ApiError> {
    let items = Data::from_body(ctx.body()?)?.items();
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let attrs = attributes(item, expected_type)?;
            attrs.get("id").and_then(as_id).ok_or_else(|| {
                ApiError::invalid(
                    format!("item {index} has no attributes.id"),
                    &format!("/data/{index}/attributes/id"),
                )
            })
        })
        .collect()
}

/// `DELETE …/relationships/attachments` ⇒ 200 with the deleted attachments.
pub fn attachments_delete(ctx: &Ctx<'_>, resource_type: &str, id: i64) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let ids = delete_ids(ctx, "attachments")?;
    let mut store = ctx.shared.store();
    let owned = |a: &Attachment| a.resource_type == resource_type && a.resource_id == id;
    if ids
        .iter()
        .any(|i| !store.attachments.get(i).is_some_and(owned))
    {
        return Err(ApiError::record_not_found());
    }
    let account_url = &ctx.shared.config.account_url;
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|i| store.attachments.remove(i))
        .map(|a| render::attachment(account_url, &a))
        .collect();
    Ok(ctx.ok(&json!({ "data": out })))
}

fn source_ref(resource_type: &str, id: i64) -> ResourceRef {
    ResourceRef {
        class: class_of_resource_type(resource_type)
            .unwrap_or("Unknown")
            .to_owned(),
        id,
    }
}

/// `POST …/relationships/related_items`, one or several; a second link between the same pair ⇒ 422.
pub fn related_create(ctx: &Ctx<'_>, resource_type: &str, id: i64) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let source = source_ref(resource_type, id);
    let data = Data::from_body(ctx.body()?)?;
    let bulk = matches!(data, Data::Many(_));
    let mut store = ctx.shared.store();
    let mut pending: Vec<(ResourceRef, Option<String>)> = Vec::new();
    for item in data.items() {
        let attrs = attributes(&item, "related_items")?;
        let class = attrs
            .get("destination_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !RELATED_CLASSES.iter().any(|(c, _)| *c == class) {
            let names: Vec<&str> = RELATED_CLASSES.iter().map(|(c, _)| *c).collect();
            return Err(ApiError::invalid(
                format!(
                    "destination_type {class:?} is not valid; use one of {}",
                    names.join(", ")
                ),
                "/data/attributes/destination-type",
            ));
        }
        let destination_id = attrs.get("destination_id").and_then(as_id).ok_or_else(|| {
            ApiError::invalid(
                "destination_id is required",
                "/data/attributes/destination-id",
            )
        })?;
        let destination = ResourceRef {
            class,
            id: destination_id,
        };
        if !store.class_record_exists(&destination) {
            return Err(ApiError::invalid(
                format!("{} {} does not exist", destination.class, destination.id),
                "/data/attributes/destination-id",
            ));
        }
        if destination == source {
            return Err(ApiError::invalid(
                "an item cannot be related to itself",
                "/data/attributes/destination-id",
            ));
        }
        let duplicate = store
            .related_items
            .values()
            .any(|r| r.links(&source, &destination))
            || pending.iter().any(|(d, _)| d == &destination);
        if duplicate {
            return Err(ApiError::invalid(
                "cannot be related to an item it's already related to",
                "/data/attributes/destination-id",
            ));
        }
        pending.push((destination, opt_string(&attrs, "notes")?.flatten()));
    }
    let mut out = Vec::new();
    for (destination, notes) in pending {
        let item = RelatedItem {
            id: store.next_id(),
            source: source.clone(),
            destination,
            notes,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        out.push(render::related_item(&store, &item, &source));
        store.related_items.insert(item.id, item);
    }
    let data = if bulk {
        Value::Array(out)
    } else {
        out.pop().unwrap_or(Value::Null)
    };
    Ok(ctx.created(&single_document(data, Vec::new())))
}

/// `PATCH …/relationships/related_items/{id}`: only `notes` changes.
pub fn related_update(ctx: &Ctx<'_>, resource_type: &str, id: i64, item_id: i64) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let me = source_ref(resource_type, id);
    let item = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "send one related item per request on this route",
                "data",
            ))
        }
    };
    let attrs = attributes(&item, "related_items")?;
    let mut store = ctx.shared.store();
    let mut related = store
        .related_items
        .get(&item_id)
        .filter(|r| r.other_end(&me).is_some())
        .cloned()
        .ok_or_else(ApiError::record_not_found)?;
    if let Some(notes) = opt_string(&attrs, "notes")? {
        related.notes = notes;
        related.updated_at = ctx.now;
    }
    let r = render::related_item(&store, &related, &me);
    store.related_items.insert(related.id, related);
    Ok(ctx.ok(&single_document(r, Vec::new())))
}

/// `DELETE …/relationships/related_items` ⇒ 200 with the deleted items; removes the link from both ends.
pub fn related_delete(ctx: &Ctx<'_>, resource_type: &str, id: i64) -> HandlerResult {
    require_owner(ctx, resource_type, id)?;
    let me = source_ref(resource_type, id);
    let ids = delete_ids(ctx, "related_items")?;
    let mut store = ctx.shared.store();
    if ids.iter().any(|i| {
        store
            .related_items
            .get(i)
            .is_none_or(|r| r.other_end(&me).is_none())
    }) {
        return Err(ApiError::record_not_found());
    }
    let removed: Vec<RelatedItem> = ids
        .iter()
        .filter_map(|i| store.related_items.remove(i))
        .collect();
    let out: Vec<Value> = removed
        .iter()
        .map(|r| render::related_item(&store, r, &me))
        .collect();
    Ok(ctx.ok(&json!({ "data": out })))
}

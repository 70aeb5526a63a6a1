//! Flexible assets: how mspbridge publishes reports (name, dates, the HTML file) to IT Glue.
//!
//! The rules that bite clients are reproduced: indexing needs a type filter, bulk create only on the
//! nested organization route, trait keys must be the type's `name-key`s, required traits can't be blank,
//! Upload traits take one strict-base64 file, and PATCH replaces the whole trait map, so an omitted
//! Upload loses its file.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::jsonapi::{
    apply_filters, apply_sort, as_id, attributes, known_filters, list_document, opt_bool,
    parse_bool, parse_date, single_document, ApiError, Data, FieldValue,
};
use super::model::{FlexibleAsset, FlexibleAssetType, TraitValue, UploadedFile};
use super::organizations::resolve_page;
use super::render;
use super::server::{Ctx, HandlerResult};
use super::store::Store;

const ASSET_SORT: [&str; 3] = ["name", "created_at", "updated_at"];

fn asset_field(store: &Store, a: &FlexibleAsset, key: &str) -> Option<FieldValue> {
    Some(match key {
        "id" => FieldValue::Int(Some(a.id)),
        "flexible_asset_type_id" => FieldValue::Int(Some(a.flexible_asset_type_id)),
        "organization_id" => FieldValue::Int(Some(a.organization_id)),
        "name" => FieldValue::Str(store.asset_name(a)),
        "archived" => FieldValue::Bool(Some(a.archived)),
        "created_at" => FieldValue::Time(a.created_at),
        "updated_at" => FieldValue::Time(a.updated_at),
        _ => return None,
    })
}

fn asset_resource(
    ctx: &Ctx<'_>,
    store: &Store,
    a: &FlexibleAsset,
    included: &mut Vec<Value>,
    show: bool,
) -> Value {
    let account_url = &ctx.shared.config.account_url;
    let mut r = render::asset(store, account_url, a);
    render::sideload_common(
        store,
        account_url,
        &mut r,
        included,
        ("flexible_assets", a.id),
        ctx.query.includes("attachments"),
        show && ctx.query.includes("related_items"),
    );
    r
}

/// `GET /flexible_assets`: refused without `filter[flexible_asset_type_id]`.
pub fn index(ctx: &Ctx<'_>) -> HandlerResult {
    if !ctx
        .query
        .filters
        .iter()
        .any(|(k, v)| k == "flexible_asset_type_id" && !v.trim().is_empty())
    {
        return Err(ApiError::unprocessable(
            "Cannot index flexible assets without providing a flexible asset type ID filter",
            None,
            Some(None),
        ));
    }
    ctx.query
        .check_sort(&ASSET_SORT, ctx.shared.config.strict_sort)?;
    let store = ctx.shared.store();
    let all: Vec<&FlexibleAsset> = store.flexible_assets.values().collect();
    let field = |a: &&FlexibleAsset, k: &str| asset_field(&store, a, k);
    let filters = known_filters(all.first(), &ctx.query.filters, field);
    let mut items = apply_filters(all, &ctx.query.filters, field);
    apply_sort(&mut items, &ctx.query.sort, field);
    let page = resolve_page(ctx, items.len())?;
    let mut included = Vec::new();
    let data = page
        .slice(items)
        .into_iter()
        .map(|a| asset_resource(ctx, &store, a, &mut included, false))
        .collect();
    Ok(ctx.ok(&list_document(
        data, included, &page, &ctx.query, &ctx.url, filters,
    )))
}

pub fn show(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let a = store
        .flexible_assets
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let mut included = Vec::new();
    let r = asset_resource(ctx, &store, a, &mut included, true);
    Ok(ctx.ok(&single_document(r, included)))
}

/// `POST /flexible_assets` (single) or `POST /organizations/{id}/relationships/flexible_assets`
/// (single or bulk).
pub fn create(ctx: &Ctx<'_>, nested_org: Option<i64>) -> HandlerResult {
    let data = Data::from_body(ctx.body()?)?;
    if nested_org.is_none() && matches!(data, Data::Many(_)) {
        return Err(ApiError::unprocessable(
            "bulk action not allowed for Flexible Asset using this route",
            None,
            Some(Some("data")),
        ));
    }
    let bulk = matches!(data, Data::Many(_));
    let mut store = ctx.shared.store();
    if let Some(org) = nested_org {
        if !store.organizations.contains_key(&org) {
            return Err(ApiError::record_not_found());
        }
    }
    let mut prepared = Vec::new();
    for item in data.items() {
        let attrs = attributes(&item, "flexible_assets")?;
        let organization_id = match nested_org {
            Some(org) => org,
            None => attrs
                .get("organization_id")
                .and_then(as_id)
                .filter(|id| store.organizations.contains_key(id))
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "Valid organization_id is required",
                        None,
                        Some(Some("data/attributes/organization_id")),
                    )
                })?,
        };
        let fat = attrs
            .get("flexible_asset_type_id")
            .and_then(as_id)
            .and_then(|id| store.flexible_asset_types.get(&id))
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "Valid flexible_asset_type_id is required",
                    None,
                    Some(Some("data/attributes/flexible_asset_type_id")),
                )
            })?;
        let raw = traits_object(&attrs)?.ok_or_else(|| {
            ApiError::invalid(
                "traits is required: an object keyed by the type's field name-keys",
                "data/attributes/traits",
            )
        })?;
        let traits = build_traits(ctx, &store, fat, &raw)?;
        prepared.push(FlexibleAsset {
            id: 0,
            organization_id,
            flexible_asset_type_id: fat.id,
            traits,
            restricted: opt_bool(&attrs, "restricted")?.unwrap_or(false),
            archived: opt_bool(&attrs, "archived")?.unwrap_or(false),
            created_at: ctx.now,
            updated_at: ctx.now,
        });
    }
    let mut included = Vec::new();
    let mut out = Vec::new();
    for mut asset in prepared {
        asset.id = store.next_id();
        assign_upload_ids(&mut store, &mut asset);
        out.push(asset_resource(ctx, &store, &asset, &mut included, false));
        store.flexible_assets.insert(asset.id, asset);
    }
    let data = if bulk {
        Value::Array(out)
    } else {
        out.pop().unwrap_or(Value::Null)
    };
    Ok(ctx.created(&single_document(data, included)))
}

/// `PATCH /flexible_assets/{id}` or bulk `PATCH /flexible_assets` (ids in `attributes.id`). A `traits`
/// member replaces every trait: omitted ones and nulls are deleted.
pub fn update(ctx: &Ctx<'_>, id: Option<i64>) -> HandlerResult {
    let data = Data::from_body(ctx.body()?)?;
    let bulk = id.is_none();
    let items = match (&data, id) {
        (Data::One(_), None) => {
            return Err(ApiError::invalid(
                "bulk update needs data to be an array of flexible assets with attributes.id",
                "data",
            ))
        }
        (Data::Many(_), Some(_)) => {
            return Err(ApiError::invalid(
                "send one flexible asset when the id is in the URL",
                "data",
            ))
        }
        _ => data.items(),
    };
    let mut store = ctx.shared.store();
    let mut prepared = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let attrs = attributes(item, "flexible_assets")?;
        let target = match id {
            Some(id) => id,
            None => attrs.get("id").and_then(as_id).ok_or_else(|| {
                ApiError::invalid(
                    format!("item {index} has no attributes.id"),
                    &format!("/data/{index}/attributes/id"),
                )
            })?,
        };
        let existing = store
            .flexible_assets
            .get(&target)
            .ok_or_else(ApiError::record_not_found)?;
        let fat = store
            .flexible_asset_types
            .get(&existing.flexible_asset_type_id)
            .ok_or_else(ApiError::record_not_found)?;
        let mut updated = existing.clone();
        if let Some(raw) = traits_object(&attrs)? {
            updated.traits = build_traits(ctx, &store, fat, &raw)?;
        }
        if let Some(r) = opt_bool(&attrs, "restricted")? {
            updated.restricted = r;
        }
        if let Some(a) = opt_bool(&attrs, "archived")? {
            updated.archived = a;
        }
        updated.updated_at = ctx.now;
        prepared.push(updated);
    }
    let mut included = Vec::new();
    let mut out = Vec::new();
    for mut asset in prepared {
        assign_upload_ids(&mut store, &mut asset);
        out.push(asset_resource(ctx, &store, &asset, &mut included, false));
        store.flexible_assets.insert(asset.id, asset);
    }
    let data = if bulk {
        Value::Array(out)
    } else {
        out.pop().unwrap_or(Value::Null)
    };
    Ok(ctx.ok(&single_document(data, included)))
}

/// `DELETE /flexible_assets/{id}` ⇒ 204; bulk `DELETE /flexible_assets` ⇒ 200 with the deleted assets.
pub fn delete(ctx: &Ctx<'_>, id: Option<i64>) -> HandlerResult {
    let mut store = ctx.shared.store();
    if let Some(id) = id {
        if store.flexible_assets.remove(&id).is_none() {
            return Err(ApiError::record_not_found());
        }
        store.forget_resource("flexible_assets", "Flexible Asset", id);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let items = Data::from_body(ctx.body()?)?.items();
    let mut ids = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let attrs = attributes(item, "flexible_assets")?;
        let target = attrs.get("id").and_then(as_id).ok_or_else(|| {
            ApiError::invalid(
                format!("item {index} has no attributes.id"),
                &format!("/data/{index}/attributes/id"),
            )
        })?;
        if !store.flexible_assets.contains_key(&target) {
            return Err(ApiError::record_not_found());
        }
        ids.push(target);
    }
    let mut out = Vec::new();
    let mut included = Vec::new();
    for id in ids {
        if let Some(asset) = store.flexible_assets.get(&id).cloned() {
            out.push(asset_resource(ctx, &store, &asset, &mut included, false));
            store.flexible_assets.remove(&id);
            store.forget_resource("flexible_assets", "Flexible Asset", id);
        }
    }
    Ok(ctx.ok(&json!({ "data": out })))
}

fn traits_object(attrs: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match attrs.get("traits") {
        None => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(ApiError::invalid(
            "traits must be an object keyed by the type's field name-keys",
            "data/attributes/traits",
        )),
    }
}

fn assign_upload_ids(store: &mut Store, asset: &mut FlexibleAsset) {
    for value in asset.traits.values_mut() {
        if let TraitValue::Upload(file) = value {
            if file.id == 0 {
                file.id = store.next_id();
            }
        }
    }
}

fn trait_error(key: &str, message: &str) -> Value {
    json!({
        "source": { "pointer": format!("/data/attributes/flexible-asset-traits.{key}") },
        "detail": [message],
        "title": "Unprocessable Entity",
        "status": 422,
    })
}

/// Validates a request's trait map against the type and converts it to stored values.
fn build_traits(
    ctx: &Ctx<'_>,
    store: &Store,
    fat: &FlexibleAssetType,
    raw: &Map<String, Value>,
) -> Result<BTreeMap<String, TraitValue>, ApiError> {
    if raw
        .keys()
        .any(|k| !fat.fields.iter().any(|f| &f.name_key == k))
    {
        return Err(ApiError::unprocessable(
            "Unprocessable Entity",
            Some(json!("Request contains invalid trait keys")),
            Some(Some("data/attributes/traits")),
        ));
    }
    let mut errors = Vec::new();
    let mut traits = BTreeMap::new();
    for field in &fat.fields {
        let key = &field.name_key;
        let value = match raw.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        };
        let Some(value) = value else {
            if field.required && field.kind != "Header" {
                errors.push(trait_error(key, "can't be blank"));
            }
            continue;
        };
        match convert_trait(
            ctx,
            store,
            &field.kind,
            field.tag_type.as_deref(),
            field.default_value.as_deref(),
            value,
        ) {
            Ok(Some(v)) => {
                traits.insert(key.clone(), v);
            }
            Ok(None) => {}
            Err(TraitProblem::Invalid(message)) => errors.push(trait_error(key, &message)),
            Err(TraitProblem::TooLarge(size, max)) => {
                return Err(ApiError::from_objects(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    vec![json!({"status": 413, "title": "Payload Too Large",
                        "detail": format!("file for trait {key} is {size} bytes; the limit is {max} bytes"),
                        "source": {"pointer": format!("/data/attributes/flexible-asset-traits.{key}")}})],
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(traits)
    } else {
        Err(ApiError::from_objects(
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        ))
    }
}

pub(crate) enum TraitProblem {
    Invalid(String),
    TooLarge(usize, usize),
}

/// Decodes `{content, file_name}` strictly; shared with the attachments endpoint.
pub(crate) fn decode_file(
    value: &Value,
    max: Option<usize>,
) -> Result<(String, Vec<u8>), TraitProblem> {
    let Value::Object(obj) = value else {
        return Err(TraitProblem::Invalid(
            "must be an object with content (base64) and file_name; only one file per Upload field"
                .into(),
        ));
    };
    let file_name = obj
        .get("file_name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| TraitProblem::Invalid("file_name can't be blank".into()))?;
    let content = obj
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| TraitProblem::Invalid("content can't be blank".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .map_err(|e| TraitProblem::Invalid(format!("content is not valid strict base64: {e}")))?;
    if let Some(max) = max {
        if bytes.len() > max {
            return Err(TraitProblem::TooLarge(bytes.len(), max));
        }
    }
    Ok((file_name.to_owned(), bytes))
}

fn convert_trait(
    ctx: &Ctx<'_>,
    store: &Store,
    kind: &str,
    tag_type: Option<&str>,
    options: Option<&str>,
    value: &Value,
) -> Result<Option<TraitValue>, TraitProblem> {
    let invalid = |m: &str| Err(TraitProblem::Invalid(m.to_owned()));
    let plain = |v: Value| Ok(Some(TraitValue::Plain(v)));
    match kind {
        "Header" => Ok(None),
        "Text" | "Textbox" | "Password" => match value {
            Value::String(_) => plain(value.clone()),
            Value::Number(n) => plain(Value::String(n.to_string())),
            Value::Bool(b) => plain(Value::String(b.to_string())),
            _ => invalid("must be text"),
        },
        "Select" => {
            let Some(s) = value.as_str() else {
                return invalid("must be one of the field's options");
            };
            if options.is_some_and(|o| o.lines().any(|line| line == s)) {
                plain(value.clone())
            } else {
                invalid("is not included in the list")
            }
        }
        "Date" => match value.as_str().and_then(parse_date) {
            Some(_) => plain(value.clone()),
            None => invalid("must be a date in YYYY-MM-DD format"),
        },
        "Number" | "Percent" => match value {
            Value::Number(_) => plain(value.clone()),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(n) => plain(json!(n)),
                Err(_) => invalid("is not a number"),
            },
            _ => invalid("is not a number"),
        },
        "Checkbox" => match value {
            Value::Bool(_) => plain(value.clone()),
            Value::String(s) => match parse_bool(s) {
                Some(b) => plain(Value::Bool(b)),
                None => invalid("must be true or false"),
            },
            Value::Number(n) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
                plain(Value::Bool(n.as_i64() == Some(1)))
            }
            _ => invalid("must be true or false"),
        },
        "Tag" => {
            let raw: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            let mut ids = Vec::new();
            for v in raw {
                match as_id(v) {
                    Some(id) => ids.push(id),
                    None => return invalid("must be an id or an array of ids"),
                }
            }
            let tag_type = tag_type.unwrap_or_default().to_owned();
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !tag_target_exists(store, &tag_type, **id))
                .map(i64::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(TraitProblem::Invalid(format!(
                    "references {tag_type} that do not exist: {}",
                    missing.join(", ")
                )));
            }
            Ok(Some(TraitValue::Tag { tag_type, ids }))
        }
        "Upload" => {
            let (file_name, content) = decode_file(value, ctx.shared.config.max_attachment_bytes)?;
            Ok(Some(TraitValue::Upload(UploadedFile {
                id: 0,
                content_type: render::content_type_for(&file_name).to_owned(),
                file_name,
                content,
                created_at: ctx.now,
            })))
        }
        _ => invalid("belongs to a field of unknown kind"),
    }
}

/// Whether a tagged id exists; tag types the simulator does not model accept any id.
fn tag_target_exists(store: &Store, tag_type: &str, id: i64) -> bool {
    match tag_type {
        "Configurations" => store.configurations.contains_key(&id),
        "Contacts" => store.contacts.contains_key(&id),
        "Organizations" => store.organizations.contains_key(&id),
        t if t.starts_with("FlexibleAssetType:") => {
            let type_id = t
                .trim_start_matches("FlexibleAssetType:")
                .trim()
                .parse::<i64>()
                .ok();
            store
                .flexible_assets
                .get(&id)
                .is_some_and(|a| Some(a.flexible_asset_type_id) == type_id)
        }
        _ => true,
    }
}

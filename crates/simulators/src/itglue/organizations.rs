//! Organizations, contacts and configurations: what mspbridge imports and auto-maps against.
//!
//! Filters follow the real service: exact match, comma lists, unknown keys ignored, and no filtering at
//! all on the nested `/organizations/{id}/relationships/*` routes. Configurations keep `mac-address`
//! exactly as written because the product has to normalise it itself.

use serde_json::Value;

use super::jsonapi::{
    apply_filters, apply_sort, as_id, attributes, known_filters, list_document, opt_bool,
    opt_string, single_document, ApiError, Data, FieldValue, Page,
};
use super::model::{Configuration, Contact, Organization};
use super::render;
use super::server::{Ctx, HandlerResult};
use super::store::Store;

const ORG_SORT: [&str; 8] = [
    "name",
    "id",
    "updated_at",
    "organization_status_name",
    "organization_type_name",
    "created_at",
    "short_name",
    "my_glue_account_id",
];
const CONTACT_SORT: [&str; 5] = ["first_name", "last_name", "id", "created_at", "updated_at"];
const CONFIG_SORT: [&str; 4] = ["name", "id", "created_at", "updated_at"];
/// Attributes a PSA-synchronised organization still lets you change.
const PSA_SYNCED_WRITABLE: [&str; 4] =
    ["alert", "description", "quick_notes", "my_glue_account_id"];
/// IT Glue's documented limit for `mac-address`.
const MAC_MAX_CHARS: usize = 17;

fn org_field(o: &Organization, key: &str) -> Option<FieldValue> {
    Some(match key {
        "id" => FieldValue::Int(Some(o.id)),
        "name" => FieldValue::Str(Some(o.name.clone())),
        "organization_type_id" => FieldValue::Int(o.organization_type_id),
        "organization_status_id" => FieldValue::Int(o.organization_status_id),
        "organization_type_name" => FieldValue::Str(o.organization_type_name.clone()),
        "organization_status_name" => FieldValue::Str(o.organization_status_name.clone()),
        "short_name" => FieldValue::Str(o.short_name.clone()),
        "my_glue_account_id" => FieldValue::Int(o.my_glue_account_id),
        "primary" => FieldValue::Bool(Some(o.primary)),
        "psa_integration_type" => FieldValue::Str(o.psa_integration.clone()),
        "created_at" => FieldValue::Time(o.created_at),
        "updated_at" => FieldValue::Time(o.updated_at),
        _ => return None,
    })
}

pub fn index(ctx: &Ctx<'_>) -> HandlerResult {
    ctx.query
        .check_sort(&ORG_SORT, ctx.shared.config.strict_sort)?;
    let store = ctx.shared.store();
    let all: Vec<&Organization> = store.organizations.values().collect();
    let filters = known_filters(all.first().copied(), &ctx.query.filters, org_field);
    let mut items = apply_filters(all, &ctx.query.filters, |o, k| org_field(o, k));
    apply_sort(&mut items, &ctx.query.sort, |o, k| org_field(o, k));
    let page = page_for(ctx, items.len())?;
    let mut included = Vec::new();
    let data: Vec<Value> = page
        .slice(items)
        .into_iter()
        .map(|o| {
            let mut r = render::organization(o, true);
            render::sideload_common(
                &store,
                &ctx.shared.config.account_url,
                &mut r,
                &mut included,
                ("organizations", o.id),
                ctx.query.includes("attachments"),
                false,
            );
            r
        })
        .collect();
    Ok(ctx.ok(&list_document(
        data, included, &page, &ctx.query, &ctx.url, filters,
    )))
}

pub fn show(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let org = store
        .organizations
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let mut included = Vec::new();
    let mut r = render::organization(org, false);
    render::sideload_common(
        &store,
        &ctx.shared.config.account_url,
        &mut r,
        &mut included,
        ("organizations", id),
        ctx.query.includes("attachments"),
        ctx.query.includes("related_items"),
    );
    Ok(ctx.ok(&single_document(r, included)))
}

/// PATCH an organization; PSA-synchronised ones only accept a few attributes.
pub fn update(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let data = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "send one organization per request on this route",
                "data",
            ))
        }
    };
    let attrs = attributes(&data, "organizations")?;
    let mut store = ctx.shared.store();
    let org = store
        .organizations
        .get_mut(&id)
        .ok_or_else(ApiError::record_not_found)?;
    if let Some(psa) = &org.psa_integration {
        if let Some(key) = attrs
            .keys()
            .find(|k| !PSA_SYNCED_WRITABLE.contains(&k.as_str()) && k.as_str() != "id")
        {
            return Err(ApiError::invalid(
                format!(
                    "{key} cannot be changed on an organization synchronised from {psa}; only alert, description, quick_notes and my_glue_account_id can"
                ),
                &format!("/data/attributes/{}", key.replace('_', "-")),
            ));
        }
    }
    let mut updated = org.clone();
    if let Some(name) = opt_string(&attrs, "name")? {
        updated.name = name.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
            ApiError::unprocessable(
                "Unprocessable Entity",
                Some(serde_json::json!(["can't be blank"])),
                Some(Some("/data/attributes/name")),
            )
        })?;
    }
    if let Some(v) = opt_string(&attrs, "alert")? {
        updated.alert = v;
    }
    if let Some(v) = opt_string(&attrs, "description")? {
        updated.description = v;
    }
    if let Some(v) = opt_string(&attrs, "quick_notes")? {
        updated.quick_notes = v;
    }
    if let Some(v) = opt_string(&attrs, "short_name")? {
        updated.short_name = v;
    }
    if let Some(v) = attrs.get("my_glue_account_id") {
        updated.my_glue_account_id = as_id(v);
    }
    updated.updated_at = ctx.now;
    *org = updated.clone();
    Ok(ctx.ok(&single_document(
        render::organization(&updated, false),
        Vec::new(),
    )))
}

fn contact_field(c: &Contact, key: &str) -> Option<FieldValue> {
    Some(match key {
        "id" => FieldValue::Int(Some(c.id)),
        "organization_id" => FieldValue::Int(Some(c.organization_id)),
        "first_name" => FieldValue::Str(Some(c.first_name.clone())),
        "last_name" => FieldValue::Str(c.last_name.clone()),
        "title" => FieldValue::Str(c.title.clone()),
        "contact_type_id" => FieldValue::Int(c.contact_type_id),
        "important" => FieldValue::Bool(c.important),
        "primary_email" => FieldValue::Str(
            c.contact_emails
                .iter()
                .find(|e| e.primary)
                .map(|e| e.value.clone()),
        ),
        "created_at" => FieldValue::Time(c.created_at),
        "updated_at" => FieldValue::Time(c.updated_at),
        _ => return None,
    })
}

/// `/contacts` (filters apply) or `/organizations/{id}/relationships/contacts` (filters ignored).
pub fn contacts_index(ctx: &Ctx<'_>, nested_org: Option<i64>) -> HandlerResult {
    ctx.query
        .check_sort(&CONTACT_SORT, ctx.shared.config.strict_sort)?;
    let store = ctx.shared.store();
    if let Some(org) = nested_org {
        if !store.organizations.contains_key(&org) {
            return Err(ApiError::record_not_found());
        }
    }
    let all: Vec<&Contact> = store
        .contacts
        .values()
        .filter(|c| nested_org.is_none_or(|o| c.organization_id == o))
        .collect();
    let no_filters = Vec::new();
    let active = if nested_org.is_some() {
        &no_filters
    } else {
        &ctx.query.filters
    };
    let filters = known_filters(all.first().copied(), active, contact_field);
    let mut items = apply_filters(all, active, |c, k| contact_field(c, k));
    apply_sort(&mut items, &ctx.query.sort, |c, k| contact_field(c, k));
    let page = page_for(ctx, items.len())?;
    let mut included = Vec::new();
    let data: Vec<Value> = page
        .slice(items)
        .into_iter()
        .map(|c| {
            let mut r = render::contact(&store, c);
            render::sideload_common(
                &store,
                &ctx.shared.config.account_url,
                &mut r,
                &mut included,
                ("contacts", c.id),
                ctx.query.includes("attachments"),
                false,
            );
            r
        })
        .collect();
    Ok(ctx.ok(&list_document(
        data, included, &page, &ctx.query, &ctx.url, filters,
    )))
}

pub fn contact_show(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let c = store
        .contacts
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let mut r = render::contact(&store, c);
    let mut included = Vec::new();
    render::sideload_common(
        &store,
        &ctx.shared.config.account_url,
        &mut r,
        &mut included,
        ("contacts", id),
        ctx.query.includes("attachments"),
        ctx.query.includes("related_items"),
    );
    Ok(ctx.ok(&single_document(r, included)))
}

fn config_field(c: &Configuration, key: &str) -> Option<FieldValue> {
    Some(match key {
        "id" => FieldValue::Int(Some(c.id)),
        "name" => FieldValue::Str(Some(c.name.clone())),
        "organization_id" => FieldValue::Int(Some(c.organization_id)),
        "configuration_type_id" => FieldValue::Int(Some(c.configuration_type_id)),
        "configuration_status_id" => FieldValue::Int(c.configuration_status_id),
        "contact_id" => FieldValue::Int(c.contact_id),
        "serial_number" => FieldValue::Str(c.serial_number.clone()),
        "mac_address" => FieldValue::Str(c.mac_address.clone()),
        "asset_tag" => FieldValue::Str(c.asset_tag.clone()),
        "archived" => FieldValue::Bool(Some(c.archived)),
        "created_at" => FieldValue::Time(c.created_at),
        "updated_at" => FieldValue::Time(c.updated_at),
        _ => return None,
    })
}

/// `/configurations` (filters apply) or `/organizations/{id}/relationships/configurations` (ignored).
pub fn configurations_index(ctx: &Ctx<'_>, nested_org: Option<i64>) -> HandlerResult {
    ctx.query
        .check_sort(&CONFIG_SORT, ctx.shared.config.strict_sort)?;
    let store = ctx.shared.store();
    if let Some(org) = nested_org {
        if !store.organizations.contains_key(&org) {
            return Err(ApiError::record_not_found());
        }
    }
    let all: Vec<&Configuration> = store
        .configurations
        .values()
        .filter(|c| nested_org.is_none_or(|o| c.organization_id == o))
        .collect();
    let no_filters = Vec::new();
    let active = if nested_org.is_some() {
        &no_filters
    } else {
        &ctx.query.filters
    };
    let filters = known_filters(all.first().copied(), active, config_field);
    let mut items = apply_filters(all, active, |c, k| config_field(c, k));
    apply_sort(&mut items, &ctx.query.sort, |c, k| config_field(c, k));
    let page = page_for(ctx, items.len())?;
    let mut included = Vec::new();
    let data: Vec<Value> = page
        .slice(items)
        .into_iter()
        .map(|c| configuration_resource(ctx, &store, c, &mut included, false))
        .collect();
    Ok(ctx.ok(&list_document(
        data, included, &page, &ctx.query, &ctx.url, filters,
    )))
}

fn configuration_resource(
    ctx: &Ctx<'_>,
    store: &Store,
    c: &Configuration,
    included: &mut Vec<Value>,
    show: bool,
) -> Value {
    let mut r = render::configuration(store, &ctx.shared.config.account_url, c);
    if ctx.query.includes("configuration_interfaces") {
        render::add_relationship(
            &mut r,
            "configuration-interfaces",
            Value::Array(
                c.interfaces
                    .iter()
                    .map(|i| render::linkage(i.id, "configuration-interfaces"))
                    .collect(),
            ),
        );
        render::push_unique(included, c.interfaces.iter().map(render::interface));
    }
    render::sideload_common(
        store,
        &ctx.shared.config.account_url,
        &mut r,
        included,
        ("configurations", c.id),
        ctx.query.includes("attachments"),
        show && ctx.query.includes("related_items"),
    );
    r
}

pub fn configuration_show(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let c = store
        .configurations
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let mut included = Vec::new();
    let r = configuration_resource(ctx, &store, c, &mut included, true);
    Ok(ctx.ok(&single_document(r, included)))
}

/// `GET /configurations/{id}/relationships/configuration_interfaces` (filters `id`, `ip_address`).
pub fn interfaces_index(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let c = store
        .configurations
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let field = |i: &&super::model::ConfigurationInterface, key: &str| -> Option<FieldValue> {
        Some(match key {
            "id" => FieldValue::Int(Some(i.id)),
            "ip_address" => FieldValue::Str(i.ip_address.clone()),
            _ => return None,
        })
    };
    let all: Vec<_> = c.interfaces.iter().collect();
    let filters = known_filters(all.first(), &ctx.query.filters, field);
    let items = apply_filters(all, &ctx.query.filters, field);
    let page = page_for(ctx, items.len())?;
    let data = page
        .slice(items)
        .into_iter()
        .map(render::interface)
        .collect();
    Ok(ctx.ok(&list_document(
        data,
        Vec::new(),
        &page,
        &ctx.query,
        &ctx.url,
        filters,
    )))
}

/// `POST /configurations`: enough to create machines with free-text MACs (≤ 17 characters).
pub fn configuration_create(ctx: &Ctx<'_>) -> HandlerResult {
    let data = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "bulk create is not supported on this route",
                "data",
            ))
        }
    };
    let attrs = attributes(&data, "configurations")?;
    let mut store = ctx.shared.store();
    let organization_id = attrs
        .get("organization_id")
        .and_then(as_id)
        .filter(|id| store.organizations.contains_key(id))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "Valid organization_id is required",
                None,
                Some(Some("data/attributes/organization_id")),
            )
        })?;
    let configuration_type_id = attrs
        .get("configuration_type_id")
        .and_then(as_id)
        .filter(|id| store.configuration_types.contains_key(id))
        .ok_or_else(|| ApiError::invalid("must exist", "/data/attributes/configuration-type"))?;
    let name = opt_string(&attrs, "name")?
        .flatten()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "Unprocessable Entity",
                Some(serde_json::json!(["can't be blank"])),
                Some(Some("/data/attributes/name")),
            )
        })?;
    let mac_address = opt_string(&attrs, "mac_address")?.flatten();
    if let Some(mac) = &mac_address {
        if mac.chars().count() > MAC_MAX_CHARS {
            return Err(ApiError::unprocessable(
                "Unprocessable Entity",
                Some(serde_json::json!([format!(
                    "is too long (maximum is {MAC_MAX_CHARS} characters)"
                )])),
                Some(Some("/data/attributes/mac-address")),
            ));
        }
    }
    let mut config = Configuration {
        id: store.next_id(),
        organization_id,
        name,
        configuration_type_id,
        hostname: opt_string(&attrs, "hostname")?.flatten(),
        primary_ip: opt_string(&attrs, "primary_ip")?.flatten(),
        mac_address,
        serial_number: opt_string(&attrs, "serial_number")?.flatten(),
        asset_tag: opt_string(&attrs, "asset_tag")?.flatten(),
        notes: opt_string(&attrs, "notes")?.flatten(),
        contact_id: attrs.get("contact_id").and_then(as_id),
        configuration_status_id: attrs.get("configuration_status_id").and_then(as_id),
        configuration_status_name: None,
        manufacturer_name: None,
        model_name: None,
        operating_system_name: None,
        warranty_expires_at: None,
        installed_at: None,
        purchased_at: None,
        archived: opt_bool(&attrs, "archived")?.unwrap_or(false),
        interfaces: Vec::new(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store.ensure_primary_interface(&mut config, ctx.now);
    let r = render::configuration(&store, &ctx.shared.config.account_url, &config);
    store.configurations.insert(config.id, config);
    Ok(ctx.created(&single_document(r, Vec::new())))
}

fn page_for(ctx: &Ctx<'_>, total: usize) -> Result<Page, ApiError> {
    let config = &ctx.shared.config;
    Page::resolve(
        &ctx.query,
        total,
        config.page_size_max,
        config.strict_page_size,
    )
}

/// Shared with other handlers: resolve the page of a list request.
pub fn resolve_page(ctx: &Ctx<'_>, total: usize) -> Result<Page, ApiError> {
    page_for(ctx, total)
}

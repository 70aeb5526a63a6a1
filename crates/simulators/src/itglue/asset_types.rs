//! Flexible asset types and their fields: the schema mspbridge creates once for its security reports.
//!
//! Validation mirrors the documented rules (unique type name, at least one field shown in the list,
//! unique field names and orders, the eleven kinds, Tag needs a tag type, Select needs options) and the
//! server-side adjustments (`required` off for Header, `use-for-title` off for non-text kinds, generated
//! `name-key`), so a client that gets its type created here gets it created on IT Glue.

use serde_json::{json, Map, Value};

use super::jsonapi::{
    apply_filters, apply_sort, as_id, attributes, known_filters, list_document, opt_bool,
    opt_string, single_document, snake, ApiError, Data, FieldValue,
};
use super::model::{name_key, FlexibleAssetField, FlexibleAssetType, FIELD_KINDS, NOT_TITLE_KINDS};
use super::organizations::resolve_page;
use super::render;
use super::server::{Ctx, HandlerResult};
use super::store::Store;

const TYPE_SORT: [&str; 4] = ["id", "name", "created_at", "updated_at"];
const TAG_TYPES: [&str; 12] = [
    "AccountsUsers",
    "Checklists",
    "ChecklistTemplates",
    "Contacts",
    "Configurations",
    "Documents",
    "Domains",
    "Passwords",
    "Locations",
    "Organizations",
    "SslCertificates",
    "Tickets",
];

fn type_field(t: &FlexibleAssetType, key: &str) -> Option<FieldValue> {
    Some(match key {
        "id" => FieldValue::Int(Some(t.id)),
        "name" => FieldValue::Str(Some(t.name.clone())),
        "icon" => FieldValue::Str(t.icon.clone()),
        "enabled" | "show_in_menu" => FieldValue::Bool(Some(t.show_in_menu)),
        "created_at" => FieldValue::Time(t.created_at),
        "updated_at" => FieldValue::Time(t.updated_at),
        _ => return None,
    })
}

fn type_resource(fat: &FlexibleAssetType, with_fields: bool, included: &mut Vec<Value>) -> Value {
    let mut r = render::asset_type(fat);
    if with_fields {
        render::add_relationship(
            &mut r,
            "flexible-asset-fields",
            Value::Array(
                fat.fields
                    .iter()
                    .map(|f| render::linkage(f.id, "flexible-asset-fields"))
                    .collect(),
            ),
        );
        render::push_unique(
            included,
            fat.fields.iter().map(|f| render::asset_field(fat.id, f)),
        );
    }
    r
}

pub fn index(ctx: &Ctx<'_>) -> HandlerResult {
    ctx.query
        .check_sort(&TYPE_SORT, ctx.shared.config.strict_sort)?;
    let store = ctx.shared.store();
    let all: Vec<&FlexibleAssetType> = store.flexible_asset_types.values().collect();
    let filters = known_filters(all.first().copied(), &ctx.query.filters, type_field);
    let mut items = apply_filters(all, &ctx.query.filters, |t, k| type_field(t, k));
    apply_sort(&mut items, &ctx.query.sort, |t, k| type_field(t, k));
    let page = resolve_page(ctx, items.len())?;
    let with_fields = ctx.query.includes("flexible_asset_fields");
    let mut included = Vec::new();
    let data = page
        .slice(items)
        .into_iter()
        .map(|t| type_resource(t, with_fields, &mut included))
        .collect();
    Ok(ctx.ok(&list_document(
        data, included, &page, &ctx.query, &ctx.url, filters,
    )))
}

pub fn show(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let fat = store
        .flexible_asset_types
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let mut included = Vec::new();
    let r = type_resource(
        fat,
        ctx.query.includes("flexible_asset_fields"),
        &mut included,
    );
    Ok(ctx.ok(&single_document(r, included)))
}

/// `GET /flexible_asset_types/{id}/relationships/flexible_asset_fields`.
pub fn fields_index(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let fat = store
        .flexible_asset_types
        .get(&id)
        .ok_or_else(ApiError::record_not_found)?;
    let items: Vec<&FlexibleAssetField> = fat.fields.iter().collect();
    let page = resolve_page(ctx, items.len())?;
    let data = page
        .slice(items)
        .into_iter()
        .map(|f| render::asset_field(fat.id, f))
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

pub fn field_show(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let store = ctx.shared.store();
    let (fat, field) = find_field(&store, id).ok_or_else(ApiError::record_not_found)?;
    Ok(ctx.ok(&single_document(
        render::asset_field(fat.id, field),
        Vec::new(),
    )))
}

fn find_field(store: &Store, id: i64) -> Option<(&FlexibleAssetType, &FlexibleAssetField)> {
    store
        .flexible_asset_types
        .values()
        .find_map(|t| t.fields.iter().find(|f| f.id == id).map(|f| (t, f)))
}

fn unprocessable(detail: impl Into<String>, pointer: &str) -> Value {
    json!({"status": 422, "title": "Unprocessable Entity", "detail": detail.into(), "source": {"pointer": pointer}})
}

/// `POST /flexible_asset_types` with fields under `relationships.flexible-asset-fields.data[]`.
pub fn create(ctx: &Ctx<'_>) -> HandlerResult {
    let data = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "send one flexible asset type per request",
                "data",
            ))
        }
    };
    let attrs = attributes(&data, "flexible_asset_types")?;
    let mut store = ctx.shared.store();
    let mut errors = Vec::new();

    let name = opt_string(&attrs, "name")?.flatten().unwrap_or_default();
    if name.trim().is_empty() {
        errors.push(unprocessable(
            "Name can't be blank",
            "/data/attributes/name",
        ));
    } else if store.flexible_asset_types.values().any(|t| t.name == name) {
        errors.push(unprocessable(
            "Name has already been taken",
            "/data/attributes/name",
        ));
    }

    let field_items = field_items(&data, &attrs);
    let mut fields = Vec::new();
    for (index, item) in field_items.iter().enumerate() {
        let pointer = format!("/data/relationships/flexible-asset-fields/data/{index}");
        let field_attrs = match attributes(item, "flexible_asset_fields") {
            Ok(a) => a,
            Err(_) => {
                errors.push(unprocessable(
                    "each field must have type flexible_asset_fields",
                    &format!("{pointer}/type"),
                ));
                continue;
            }
        };
        let id = store.next_id();
        let mut field = FlexibleAssetField {
            id,
            order: i64::try_from(index + 1).unwrap_or(i64::MAX),
            name: String::new(),
            kind: String::new(),
            hint: None,
            decimals: 0,
            default_value: None,
            tag_type: None,
            required: false,
            use_for_title: false,
            expiration: false,
            show_in_list: false,
            name_key: String::new(),
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        apply_field_attributes(&store, &mut field, &field_attrs, &pointer, &mut errors);
        field.name_key = name_key(&field.name);
        fields.push(field);
    }
    check_field_set(&fields, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::from_objects(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        ));
    }
    fields.sort_by_key(|f| f.order);
    let fat = FlexibleAssetType {
        id: store.next_id(),
        name,
        description: opt_string(&attrs, "description")?.flatten(),
        icon: opt_string(&attrs, "icon")?.flatten(),
        show_in_menu: opt_bool(&attrs, "show_in_menu")?
            .or(opt_bool(&attrs, "enabled")?)
            .unwrap_or(true),
        fields,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut included = Vec::new();
    let r = type_resource(&fat, true, &mut included);
    store.flexible_asset_types.insert(fat.id, fat);
    Ok(ctx.created(&single_document(r, included)))
}

/// Field objects from the relationships form (either spelling) or `attributes.fields`.
fn field_items(data: &Value, attrs: &Map<String, Value>) -> Vec<Value> {
    if let Some(Value::Object(rels)) = data.get("relationships") {
        for (key, rel) in rels {
            if snake(key) == "flexible_asset_fields" {
                return rel
                    .get("data")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            }
        }
    }
    match attrs.get("fields") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|f| {
                if f.get("attributes").is_some() {
                    f.clone()
                } else {
                    json!({"type": "flexible_asset_fields", "attributes": f})
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Applies the attributes present in a field request and checks each one.
fn apply_field_attributes(
    store: &Store,
    field: &mut FlexibleAssetField,
    attrs: &Map<String, Value>,
    pointer: &str,
    errors: &mut Vec<Value>,
) {
    let p = |name: &str| format!("{pointer}/attributes/{name}");
    if let Some(v) = attrs.get("name") {
        field.name = v.as_str().unwrap_or_default().to_owned();
    }
    if field.name.trim().is_empty() {
        errors.push(unprocessable("Name can't be blank", &p("name")));
    }
    if let Some(v) = attrs.get("order") {
        match as_id(v) {
            Some(order) => field.order = order,
            None => errors.push(unprocessable("Order must be a whole number", &p("order"))),
        }
    }
    if let Some(v) = attrs.get("kind") {
        field.kind = v.as_str().unwrap_or_default().to_owned();
    }
    if !FIELD_KINDS.contains(&field.kind.as_str()) {
        errors.push(unprocessable(
            format!(
                "Kind {:?} is not included in the list ({})",
                field.kind,
                FIELD_KINDS.join(", ")
            ),
            &p("kind"),
        ));
    }
    let text = |key: &str| attrs.get(key).map(|v| v.as_str().map(str::to_owned));
    if let Some(v) = text("hint") {
        field.hint = v;
    }
    if let Some(v) = text("default_value") {
        field.default_value = v;
    }
    if let Some(v) = text("tag_type") {
        field.tag_type = v;
    }
    if let Some(v) = attrs.get("decimals").and_then(as_id) {
        field.decimals = v;
    }
    let flag = |key: &str| match attrs.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => super::jsonapi::parse_bool(s),
        _ => None,
    };
    if let Some(b) = flag("required") {
        field.required = b;
    }
    if let Some(b) = flag("use_for_title") {
        field.use_for_title = b;
    }
    if let Some(b) = flag("expiration") {
        field.expiration = b;
    }
    if let Some(b) = flag("show_in_list") {
        field.show_in_list = b;
    }
    if field.kind == "Tag" {
        let valid = field.tag_type.as_deref().is_some_and(|t| {
            TAG_TYPES.contains(&t)
                || t.strip_prefix("FlexibleAssetType:")
                    .and_then(|id| id.trim().parse::<i64>().ok())
                    .is_some_and(|id| store.flexible_asset_types.contains_key(&id))
        });
        if !valid {
            errors.push(unprocessable(
                format!(
                    "Tag type {:?} is not valid; use one of {} or \"FlexibleAssetType: <id>\"",
                    field.tag_type.as_deref().unwrap_or(""),
                    TAG_TYPES.join(", ")
                ),
                &p("tag-type"),
            ));
        }
    } else {
        field.tag_type = None;
    }
    if field.kind == "Select"
        && field
            .default_value
            .as_deref()
            .is_none_or(|v| v.trim().is_empty())
    {
        errors.push(unprocessable(
            "Default value can't be blank for a Select field; list the options separated by newlines",
            &p("default-value"),
        ));
    }
    if field.kind == "Header" {
        field.required = false;
    }
    if NOT_TITLE_KINDS.contains(&field.kind.as_str()) {
        field.use_for_title = false;
    }
}

/// Type-level rules: at least one field, one shown in the list, unique names, orders and name-keys.
fn check_field_set(fields: &[FlexibleAssetField], errors: &mut Vec<Value>) {
    let base = "/data/relationships/flexible-asset-fields";
    if fields.is_empty() {
        errors.push(unprocessable(
            "Flexible asset fields must have at least one field",
            base,
        ));
        return;
    }
    if !fields.iter().any(|f| f.show_in_list) {
        errors.push(unprocessable(
            "at least one field must have show-in-list set to true",
            base,
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        let earlier = &fields[..i];
        if earlier.iter().any(|g| g.name == f.name) {
            errors.push(unprocessable(
                format!(
                    "Name {:?} has already been taken by another field of this type",
                    f.name
                ),
                &format!("{base}/data/{i}/attributes/name"),
            ));
        } else if earlier
            .iter()
            .any(|g| g.name_key == f.name_key && !f.name_key.is_empty())
        {
            errors.push(unprocessable(
                format!(
                    "Name {:?} gives name-key {:?}, which another field already has",
                    f.name, f.name_key
                ),
                &format!("{base}/data/{i}/attributes/name"),
            ));
        }
        if earlier.iter().any(|g| g.order == f.order) {
            errors.push(unprocessable(
                format!(
                    "Order {} has already been taken by another field of this type",
                    f.order
                ),
                &format!("{base}/data/{i}/attributes/order"),
            ));
        }
    }
}

/// `PATCH /flexible_asset_types/{id}`: attributes only; fields change through their own route.
pub fn update(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let data = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "send one flexible asset type per request",
                "data",
            ))
        }
    };
    let attrs = attributes(&data, "flexible_asset_types")?;
    if data.get("relationships").is_some() {
        return Err(ApiError::invalid(
            "relationships cannot be updated through this route; change fields with PATCH /flexible_asset_fields/{id}",
            "/data/relationships",
        ));
    }
    let mut store = ctx.shared.store();
    if !store.flexible_asset_types.contains_key(&id) {
        return Err(ApiError::record_not_found());
    }
    if let Some(name) = opt_string(&attrs, "name")? {
        let name = name.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(ApiError::invalid(
                "Name can't be blank",
                "/data/attributes/name",
            ));
        }
        if store
            .flexible_asset_types
            .values()
            .any(|t| t.id != id && t.name == name)
        {
            return Err(ApiError::invalid(
                "Name has already been taken",
                "/data/attributes/name",
            ));
        }
    }
    let name = opt_string(&attrs, "name")?.flatten();
    let description = opt_string(&attrs, "description")?;
    let icon = opt_string(&attrs, "icon")?;
    let show = opt_bool(&attrs, "show_in_menu")?.or(opt_bool(&attrs, "enabled")?);
    let fat = store
        .flexible_asset_types
        .get_mut(&id)
        .ok_or_else(ApiError::record_not_found)?;
    if let Some(name) = name {
        fat.name = name;
    }
    if let Some(d) = description {
        fat.description = d;
    }
    if let Some(i) = icon {
        fat.icon = i;
    }
    if let Some(s) = show {
        fat.show_in_menu = s;
    }
    fat.updated_at = ctx.now;
    let mut included = Vec::new();
    let r = type_resource(fat, false, &mut included);
    Ok(ctx.ok(&single_document(r, included)))
}

/// `PATCH /flexible_asset_fields/{id}`; a field's kind is frozen once any asset holds a value for it.
pub fn field_update(ctx: &Ctx<'_>, id: i64) -> HandlerResult {
    let data = match Data::from_body(ctx.body()?)? {
        Data::One(item) => item,
        Data::Many(_) => {
            return Err(ApiError::invalid(
                "send one field per request on this route",
                "data",
            ))
        }
    };
    let attrs = attributes(&data, "flexible_asset_fields")?;
    let mut store = ctx.shared.store();
    let (fat, field) = find_field(&store, id).ok_or_else(ApiError::record_not_found)?;
    let fat_id = fat.id;
    let mut updated = field.clone();
    let mut errors = Vec::new();
    apply_field_attributes(&store, &mut updated, &attrs, "/data", &mut errors);
    if updated.kind != field.kind {
        let has_traits = store
            .flexible_assets
            .values()
            .any(|a| a.flexible_asset_type_id == fat_id && a.traits.contains_key(&field.name_key));
        if has_traits {
            errors.push(unprocessable(
                format!(
                    "Kind cannot be changed from {} to {} because flexible assets already hold values for this field",
                    field.kind, updated.kind
                ),
                "/data/attributes/kind",
            ));
        }
    }
    let mut all: Vec<FlexibleAssetField> = fat
        .fields
        .iter()
        .map(|f| {
            if f.id == id {
                updated.clone()
            } else {
                f.clone()
            }
        })
        .collect();
    check_field_set(&all, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::from_objects(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        ));
    }
    updated.updated_at = ctx.now;
    all.iter_mut()
        .filter(|f| f.id == id)
        .for_each(|f| f.clone_from(&updated));
    all.sort_by_key(|f| f.order);
    if let Some(fat) = store.flexible_asset_types.get_mut(&fat_id) {
        fat.fields = all;
    }
    Ok(ctx.ok(&single_document(
        render::asset_field(fat_id, &updated),
        Vec::new(),
    )))
}

//! The JSON:API envelope as IT Glue actually sends it, and the query-string pieces (filters, paging)
//! it expects.
//!
//! Resources are first read into the loose [`RawResource`] (id as string *or* number, sometimes only
//! inside `attributes`; any attributes; any relationships) and only then into typed models, so an
//! unexpected attribute never breaks a sync and a malformed one is reported with the resource it
//! belongs to.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A `data` or `included` entry before it is given a type.
#[derive(Debug, Clone, Deserialize)]
pub struct RawResource {
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub id: Option<i64>,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub relationships: Map<String, Value>,
}

impl RawResource {
    /// The id from `data.id`, or from `attributes.id` where the docs put it there instead.
    pub fn resolved_id(&self) -> Option<i64> {
        self.id
            .or_else(|| self.attributes.get("id").and_then(value_as_i64))
    }

    /// True when this resource has the given type; `-` and `_` are treated alike.
    pub fn is_kind(&self, kind: &str) -> bool {
        normalise_kind(&self.kind) == normalise_kind(kind)
    }

    /// Reads the attributes into `T`, naming the resource when they do not fit.
    pub fn attributes_as<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(Value::Object(self.attributes.clone())).map_err(|error| {
            format!(
                "{} {}: {error}",
                if self.kind.is_empty() {
                    "resource"
                } else {
                    &self.kind
                },
                self.resolved_id()
                    .map(|id| format!("id {id}"))
                    .unwrap_or_else(|| "without id".to_string()),
            )
        })
    }

    /// The ids listed under `relationships.<name>.data` (either spelling of `name`).
    pub fn related_ids(&self, name: &str) -> Vec<i64> {
        let wanted = normalise_kind(name);
        self.relationships
            .iter()
            .filter(|(key, _)| normalise_kind(key) == wanted)
            .filter_map(|(_, relationship)| relationship.get("data"))
            .flat_map(|data| match data {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                Value::Object(_) => vec![data],
                _ => Vec::new(),
            })
            .filter_map(|item| item.get("id").and_then(value_as_i64))
            .collect()
    }
}

/// A response whose `data` is one resource.
#[derive(Debug, Deserialize)]
pub struct SingleDocument {
    pub data: RawResource,
    #[serde(default)]
    pub included: Vec<RawResource>,
}

/// A response whose `data` is a list (one page of it).
#[derive(Debug, Deserialize)]
pub struct ListDocument {
    #[serde(default)]
    pub data: Vec<RawResource>,
    #[serde(default)]
    pub included: Vec<RawResource>,
    #[serde(default)]
    pub meta: ListMeta,
}

/// Paging information of a list response.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListMeta {
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub next_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub total_pages: Option<u64>,
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub total_count: Option<u64>,
}

/// `type` values compare equal whatever their separator (`flexible-assets` = `flexible_assets`).
pub fn normalise_kind(kind: &str) -> String {
    kind.trim().replace('-', "_").to_ascii_lowercase()
}

/// An integer given as a JSON number or a numeric string (`"parent-id": "1"`).
pub fn value_as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Deserialises an optional integer that may arrive as a number, a numeric string or null.
pub fn lenient_opt_i64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(value) => value_as_i64(&value).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("expected an integer id, got {value}"))
        }),
    }
}

/// Like [`lenient_opt_i64`] for counts and page numbers.
pub fn lenient_opt_u64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let value = lenient_opt_i64(deserializer)?;
    Ok(value.and_then(|v| u64::try_from(v).ok()))
}

/// A boolean that may be missing or null (treated as `false`).
pub fn null_as_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

/// A list that may be null (treated as empty).
pub fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Exact-match `filter[...]` parameters for list calls.
///
/// IT Glue treats a comma in a filter value as "or"; a literal comma must be escaped as `\,`, which
/// [`Filters::exact`] does. Unknown filter keys are silently ignored by IT Glue (the whole list comes
/// back), so callers use the documented snake_case keys only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pairs: Vec<(String, String)>,
}

impl Filters {
    pub fn new() -> Self {
        Filters::default()
    }

    /// `filter[key]=value`, matching `value` exactly (commas escaped).
    pub fn exact(mut self, key: &str, value: &str) -> Self {
        self.pairs
            .push((format!("filter[{key}]"), escape_filter_value(value)));
        self
    }

    /// `filter[key]=a,b,c`: matches any of the values (each exactly, commas inside escaped).
    pub fn any_of<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = values
            .into_iter()
            .map(|value| escape_filter_value(value.as_ref()))
            .collect();
        self.pairs
            .push((format!("filter[{key}]"), joined.join(",")));
        self
    }

    /// `filter[key]=<integer>`.
    pub fn id(self, key: &str, value: i64) -> Self {
        self.exact(key, &value.to_string())
    }

    /// `filter[key]=true|false`.
    pub fn flag(self, key: &str, value: bool) -> Self {
        self.exact(key, if value { "true" } else { "false" })
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The query pairs, in insertion order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// Escapes literal commas so IT Glue does not split the value into alternatives.
pub fn escape_filter_value(value: &str) -> String {
    value.replace(',', "\\,")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_are_escaped_in_exact_filters() {
        let filters = Filters::new()
            .exact("name", "Kub, Reynolds and Gibson")
            .any_of("id", ["1", "2"]);
        assert_eq!(
            filters.pairs(),
            &[
                (
                    "filter[name]".to_string(),
                    "Kub\\, Reynolds and Gibson".to_string()
                ),
                ("filter[id]".to_string(), "1,2".to_string()),
            ]
        );
    }

    #[test]
    fn ids_may_be_strings_numbers_or_inside_attributes() {
        let document: ListDocument = serde_json::from_str(
            r#"{"data":[
                {"id":"455","type":"configurations","attributes":{}},
                {"id":401,"type":"flexible-asset-fields","attributes":{}},
                {"type":"configuration-interfaces","attributes":{"id":63}}
            ]}"#,
        )
        .unwrap();
        let ids: Vec<_> = document.data.iter().map(RawResource::resolved_id).collect();
        assert_eq!(ids, vec![Some(455), Some(401), Some(63)]);
        assert!(document.meta.next_page.is_none());
    }

    #[test]
    fn relationships_accept_either_spelling() {
        let resource: RawResource = serde_json::from_str(
            r#"{"id":"1","type":"configurations","relationships":{
                "configuration-interfaces":{"data":[{"id":"68","type":"configuration-interfaces"},{"id":"78"}]},
                "organization":{"data":{"id":"2","type":"organizations"}}}}"#,
        )
        .unwrap();
        assert_eq!(
            resource.related_ids("configuration_interfaces"),
            vec![68, 78]
        );
        assert_eq!(resource.related_ids("organization"), vec![2]);
        assert!(resource.is_kind("configurations"));
    }

    #[test]
    fn meta_reads_paging_fields() {
        let document: ListDocument = serde_json::from_str(
            r#"{"data":[],"meta":{"current-page":1,"next-page":2,"prev-page":null,"total-pages":"3","total-count":2500,"filters":{}}}"#,
        )
        .unwrap();
        assert_eq!(document.meta.next_page, Some(2));
        assert_eq!(document.meta.total_pages, Some(3));
        assert_eq!(document.meta.total_count, Some(2500));
    }
}

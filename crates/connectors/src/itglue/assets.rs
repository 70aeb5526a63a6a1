//! Flexible asset types and flexible assets: where published security reports live in IT Glue.
//!
//! The report type (fields Report Name, Report Generation Date, Report File, Expiry Date) is looked
//! up by its exact name and created on first use; its server-generated `name-key`s are read back,
//! never computed, and become the trait keys of every report asset. Updates replace the whole trait
//! map in IT Glue (omitted traits are deleted), so [`ItGlueClient::update_flexible_asset`] takes the
//! complete set of traits, file included.

use base64::Engine as _;
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::client::{decode_single, typed, typed_of_kind, Call, ItGlueClient};
use super::error::ItGlueError;
use super::jsonapi::{Filters, SingleDocument};
use super::model::{
    Attachment, FieldKind, FlexibleAsset, FlexibleAssetDetails, FlexibleAssetField,
    FlexibleAssetType, RelatedItem,
};

const FIELDS: &str = "flexible_asset_fields";

/// One field of a flexible asset type to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlexibleAssetField {
    pub order: u32,
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
    pub show_in_list: bool,
    pub use_for_title: bool,
    pub expiration: bool,
    pub hint: Option<String>,
}

/// A flexible asset type to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlexibleAssetType {
    pub name: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub show_in_menu: bool,
    pub fields: Vec<NewFlexibleAssetField>,
}

/// Display names of the report type's fields, exactly as created.
pub const REPORT_NAME_FIELD: &str = "Report Name";
pub const REPORT_GENERATION_DATE_FIELD: &str = "Report Generation Date";
pub const REPORT_FILE_FIELD: &str = "Report File";
pub const EXPIRY_DATE_FIELD: &str = "Expiry Date";

impl NewFlexibleAssetType {
    /// The type mspbridge publishes security reports as, under the configured name.
    pub fn security_report(name: &str) -> Self {
        let field = |order, name: &str, kind, required, show_in_list| NewFlexibleAssetField {
            order,
            name: name.to_string(),
            kind,
            required,
            show_in_list,
            use_for_title: false,
            expiration: false,
            hint: None,
        };
        NewFlexibleAssetType {
            name: name.to_string(),
            description: Some("Security summary reports published by mspbridge".to_string()),
            icon: Some("file".to_string()),
            show_in_menu: true,
            fields: vec![
                NewFlexibleAssetField {
                    use_for_title: true,
                    ..field(1, REPORT_NAME_FIELD, FieldKind::Text, true, true)
                },
                field(2, REPORT_GENERATION_DATE_FIELD, FieldKind::Date, true, true),
                field(3, REPORT_FILE_FIELD, FieldKind::Upload, false, false),
                NewFlexibleAssetField {
                    expiration: true,
                    ..field(4, EXPIRY_DATE_FIELD, FieldKind::Date, false, true)
                },
            ],
        }
    }

    fn to_document(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|field| {
                let mut attributes = json!({
                    "order": field.order,
                    "name": field.name,
                    "kind": field.kind,
                    "required": field.required,
                    "show-in-list": field.show_in_list,
                    "use-for-title": field.use_for_title,
                    "expiration": field.expiration,
                });
                if let Some(hint) = &field.hint {
                    attributes["hint"] = json!(hint);
                }
                json!({"type": "flexible_asset_fields", "attributes": attributes})
            })
            .collect();
        let mut attributes = json!({"name": self.name, "show-in-menu": self.show_in_menu});
        if let Some(description) = &self.description {
            attributes["description"] = json!(description);
        }
        if let Some(icon) = &self.icon {
            attributes["icon"] = json!(icon);
        }
        json!({"data": {
            "type": "flexible_asset_types",
            "attributes": attributes,
            "relationships": {"flexible-asset-fields": {"data": fields}},
        }})
    }
}

/// A report type found or created in IT Glue, with the trait keys IT Glue generated for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAssetType {
    pub type_id: i64,
    pub name: String,
    pub report_name_key: String,
    pub generation_date_key: String,
    pub report_file_key: String,
    pub expiry_date_key: String,
}

/// What one published report consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportContent {
    pub name: String,
    pub generated_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub file_name: String,
    pub file: Vec<u8>,
}

impl ReportAssetType {
    /// Checks that `asset_type` has the four report fields with the right kinds and reads their
    /// name-keys; every mismatch is listed in the error.
    pub fn from_type(asset_type: &FlexibleAssetType) -> Result<Self, ItGlueError> {
        let mut problems = Vec::new();
        let mut key = |name: &str, kind: FieldKind| -> String {
            match asset_type.field(name) {
                None => {
                    problems.push(format!("it has no field `{name}`"));
                    String::new()
                }
                Some(field) if field.kind != kind => {
                    problems.push(format!(
                        "its field `{name}` is of kind {:?}, expected {kind:?}",
                        field.kind
                    ));
                    String::new()
                }
                Some(FlexibleAssetField {
                    name_key: Some(key),
                    ..
                }) if !key.trim().is_empty() => key.trim().to_string(),
                Some(_) => {
                    problems.push(format!("IT Glue sent no name-key for its field `{name}`"));
                    String::new()
                }
            }
        };
        let report_name_key = key(REPORT_NAME_FIELD, FieldKind::Text);
        let generation_date_key = key(REPORT_GENERATION_DATE_FIELD, FieldKind::Date);
        let report_file_key = key(REPORT_FILE_FIELD, FieldKind::Upload);
        let expiry_date_key = key(EXPIRY_DATE_FIELD, FieldKind::Date);
        if !problems.is_empty() {
            return Err(ItGlueError::UnusableAssetType {
                name: asset_type.name.clone(),
                problem: problems.join("; "),
            });
        }
        Ok(ReportAssetType {
            type_id: asset_type.id,
            name: asset_type.name.clone(),
            report_name_key,
            generation_date_key,
            report_file_key,
            expiry_date_key,
        })
    }

    /// The complete trait map of a report asset (file included), for create and for update alike.
    pub fn traits(&self, report: &ReportContent) -> Map<String, Value> {
        let mut traits = Map::new();
        traits.insert(self.report_name_key.clone(), json!(report.name));
        traits.insert(
            self.generation_date_key.clone(),
            json!(report.generated_on.format("%Y-%m-%d").to_string()),
        );
        traits.insert(
            self.report_file_key.clone(),
            upload_trait(&report.file_name, &report.file),
        );
        if let Some(expires_on) = report.expires_on {
            traits.insert(
                self.expiry_date_key.clone(),
                json!(expires_on.format("%Y-%m-%d").to_string()),
            );
        }
        traits
    }
}

/// Files above this size are sent but logged: IT Glue publishes no payload limit, and base64 adds a
/// third on the wire.
pub const LARGE_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// The value of an Upload trait (and of an attachment): the file as strict base64 with its name.
pub fn upload_trait(file_name: &str, content: &[u8]) -> Value {
    if content.len() > LARGE_UPLOAD_BYTES {
        tracing::warn!(
            file_name,
            bytes = content.len(),
            "uploading a large file to IT Glue; it may be refused (413/422)"
        );
    }
    json!({
        "content": base64::engine::general_purpose::STANDARD.encode(content),
        "file_name": file_name,
    })
}

/// A flexible asset to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFlexibleAsset {
    pub organization_id: i64,
    pub flexible_asset_type_id: i64,
    /// Keyed by field name-key; values as IT Glue expects them on write.
    pub traits: Map<String, Value>,
}

impl ItGlueClient {
    /// The flexible asset type named exactly `name`, with its fields, or None.
    pub async fn find_flexible_asset_type(
        &self,
        name: &str,
    ) -> Result<Option<FlexibleAssetType>, ItGlueError> {
        let call = Call::get("/flexible_asset_types")
            .filters(&Filters::new().exact("name", name))
            .query("include", FIELDS);
        let collected = self.collect(&call).await?;
        let wanted = name.trim();
        let Some(resource) = collected.data.iter().find(|resource| {
            resource
                .attributes
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|found| found.trim() == wanted)
        }) else {
            return Ok(None);
        };
        let mut asset_type: FlexibleAssetType = typed(&call, resource)?;
        asset_type.fields = fields_of(&call, asset_type.id, &collected.included)?;
        if asset_type.fields.is_empty() {
            // Older servers do not sideload on the index; the show route always does.
            return self.get_flexible_asset_type(asset_type.id).await.map(Some);
        }
        Ok(Some(asset_type))
    }

    /// One flexible asset type with its fields.
    pub async fn get_flexible_asset_type(&self, id: i64) -> Result<FlexibleAssetType, ItGlueError> {
        let call = Call::get(format!("/flexible_asset_types/{id}")).query("include", FIELDS);
        let body = self.send(&call).await?;
        let (mut asset_type, document): (FlexibleAssetType, SingleDocument) =
            decode_single(&call, body)?;
        asset_type.fields = fields_of(&call, asset_type.id, &document.included)?;
        if asset_type.fields.is_empty() {
            let fields_call =
                Call::get(format!("/flexible_asset_types/{id}/relationships/{FIELDS}"));
            let collected = self.collect(&fields_call).await?;
            asset_type.fields = fields_of(&fields_call, id, &collected.data)?;
        }
        Ok(asset_type)
    }

    /// Creates a flexible asset type and returns it as stored, with its fields and name-keys.
    pub async fn create_flexible_asset_type(
        &self,
        new_type: &NewFlexibleAssetType,
    ) -> Result<FlexibleAssetType, ItGlueError> {
        let call = Call::post("/flexible_asset_types", new_type.to_document());
        let body = self.send(&call).await?;
        let (mut asset_type, document): (FlexibleAssetType, SingleDocument) =
            decode_single(&call, body)?;
        asset_type.fields = fields_of(&call, asset_type.id, &document.included)?;
        let complete = new_type.fields.iter().all(|wanted| {
            asset_type
                .field(&wanted.name)
                .is_some_and(|f| f.name_key.is_some())
        });
        if !complete {
            return self.get_flexible_asset_type(asset_type.id).await;
        }
        Ok(asset_type)
    }

    /// The report type called `name`: found by exact name, or created with the four report fields;
    /// either way checked to hold reports.
    pub async fn ensure_report_asset_type(
        &self,
        name: &str,
    ) -> Result<ReportAssetType, ItGlueError> {
        let asset_type = match self.find_flexible_asset_type(name).await? {
            Some(found) => found,
            None => {
                tracing::info!(asset_type = name, "creating the IT Glue report asset type");
                self.create_flexible_asset_type(&NewFlexibleAssetType::security_report(name))
                    .await?
            }
        };
        ReportAssetType::from_type(&asset_type)
    }

    /// Creates a flexible asset in an organization.
    pub async fn create_flexible_asset(
        &self,
        asset: &NewFlexibleAsset,
    ) -> Result<FlexibleAsset, ItGlueError> {
        let body = json!({"data": {
            "type": "flexible_assets",
            "attributes": {
                "organization-id": asset.organization_id,
                "flexible-asset-type-id": asset.flexible_asset_type_id,
                "traits": asset.traits,
            },
        }});
        let call = Call::post("/flexible_assets", body);
        let response = self.send(&call).await?;
        Ok(decode_single(&call, response)?.0)
    }

    /// Replaces the traits of a flexible asset. IT Glue deletes every trait not sent (an Upload
    /// loses its file), so `traits` must be the complete set.
    pub async fn update_flexible_asset(
        &self,
        id: i64,
        traits: &Map<String, Value>,
    ) -> Result<FlexibleAsset, ItGlueError> {
        let body = json!({"data": {
            "type": "flexible_assets",
            "attributes": {"traits": traits},
        }});
        let call = Call::patch(format!("/flexible_assets/{id}"), body);
        let response = self.send(&call).await?;
        Ok(decode_single(&call, response)?.0)
    }

    /// One flexible asset with its attachments and related items.
    pub async fn get_flexible_asset(&self, id: i64) -> Result<FlexibleAssetDetails, ItGlueError> {
        let call = Call::get(format!("/flexible_assets/{id}"))
            .query("include", "attachments,related_items");
        let body = self.send(&call).await?;
        let (asset, document): (FlexibleAsset, SingleDocument) = decode_single(&call, body)?;
        let attachments: Vec<Attachment> = typed_of_kind(&call, &document.included, "attachments")?;
        let related_items: Vec<RelatedItem> =
            typed_of_kind(&call, &document.included, "related-items")?;
        Ok(FlexibleAssetDetails {
            asset,
            attachments,
            related_items,
        })
    }

    /// Flexible assets of one type (IT Glue requires the type filter), optionally of one
    /// organization and with one exact name.
    pub async fn list_flexible_assets(
        &self,
        flexible_asset_type_id: i64,
        organization_id: Option<i64>,
        name: Option<&str>,
    ) -> Result<Vec<FlexibleAsset>, ItGlueError> {
        let mut filters = Filters::new().id("flexible_asset_type_id", flexible_asset_type_id);
        if let Some(id) = organization_id {
            filters = filters.id("organization_id", id);
        }
        if let Some(name) = name {
            filters = filters.exact("name", name);
        }
        let call = Call::get("/flexible_assets").filters(&filters);
        let collected = self.collect(&call).await?;
        collected.data.iter().map(|r| typed(&call, r)).collect()
    }
}

/// The fields of type `type_id` among `resources`, sorted by `order`.
fn fields_of(
    call: &Call,
    type_id: i64,
    resources: &[super::jsonapi::RawResource],
) -> Result<Vec<FlexibleAssetField>, ItGlueError> {
    let mut fields: Vec<FlexibleAssetField> =
        typed_of_kind(call, resources, "flexible-asset-fields")?;
    fields.retain(|field| field.flexible_asset_type_id.is_none_or(|id| id == type_id));
    fields.sort_by_key(|field| (field.order.unwrap_or(i64::MAX), field.id));
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_type_document_has_the_documented_shape() {
        let document = NewFlexibleAssetType::security_report("mspbridge Reports").to_document();
        assert_eq!(document["data"]["type"], "flexible_asset_types");
        assert_eq!(document["data"]["attributes"]["name"], "mspbridge Reports");
        let fields = document["data"]["relationships"]["flexible-asset-fields"]["data"]
            .as_array()
            .unwrap();
        let summary: Vec<(String, String)> = fields
            .iter()
            .map(|f| {
                (
                    f["attributes"]["name"].as_str().unwrap().to_string(),
                    f["attributes"]["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Report Name".to_string(), "Text".to_string()),
                ("Report Generation Date".to_string(), "Date".to_string()),
                ("Report File".to_string(), "Upload".to_string()),
                ("Expiry Date".to_string(), "Date".to_string()),
            ]
        );
        assert_eq!(fields[0]["attributes"]["use-for-title"], true);
        assert_eq!(fields[3]["attributes"]["expiration"], true);
        assert!(fields
            .iter()
            .any(|f| f["attributes"]["show-in-list"] == true));
    }

    #[test]
    fn report_traits_carry_dates_and_the_file() {
        let report_type = ReportAssetType {
            type_id: 7,
            name: "R".into(),
            report_name_key: "report-name".into(),
            generation_date_key: "report-generation-date".into(),
            report_file_key: "report-file".into(),
            expiry_date_key: "expiry-date".into(),
        };
        let traits = report_type.traits(&ReportContent {
            name: "Weekly".into(),
            generated_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            expires_on: Some(NaiveDate::from_ymd_opt(2027, 11, 2).unwrap()),
            file_name: "weekly.html".into(),
            file: b"<html>hi</html>".to_vec(),
        });
        assert_eq!(traits["report-name"], "Weekly");
        assert_eq!(traits["report-generation-date"], "2026-11-02");
        assert_eq!(traits["expiry-date"], "2027-11-02");
        assert_eq!(traits["report-file"]["file_name"], "weekly.html");
        assert_eq!(
            traits["report-file"]["content"],
            base64::engine::general_purpose::STANDARD.encode(b"<html>hi</html>")
        );
    }
}

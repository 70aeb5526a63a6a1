//! The activity record as Auditor sends it, in JSON and in XML.
//!
//! Every intake in mspbridge maps onto this shape, and the ticket templates read it through
//! `%Who%`, `%Details%` and friends, so the parser is deliberately forgiving about what the
//! documentation marks optional (Workstation, Item, MonitoringPlan.ID, DetailList) and about element
//! order, and strict about the mandatory fields.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{AuditorError, AuditorErrorEntry};
use super::xml::{parse_document, Element};

/// One Netwrix Auditor activity record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActivityRecord {
    /// Auditor's unique key (17-digit timestamp + 32 hex digits); absent on records being written.
    #[serde(rename = "RID", default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    pub who: String,
    pub action: String,
    pub object_type: String,
    pub what: String,
    /// The time exactly as Auditor wrote it; see [`ActivityRecord::when_parsed`].
    pub when: String,
    #[serde(rename = "Where")]
    pub where_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workstation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_plan: Option<MonitoringPlan>,
    /// The item name, e.g. `enterprise.local (Domain)`; on the wire it is `{"Name": …}`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_item",
        deserialize_with = "deserialize_item"
    )]
    pub item: Option<String>,
    #[serde(
        rename = "DetailList",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "deserialize_details"
    )]
    pub details: Vec<Detail>,
}

/// The monitoring plan a record was collected by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MonitoringPlan {
    pub name: String,
    /// A braced GUID, assigned by Auditor; absent on input.
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One changed property of the audited object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Detail {
    pub property_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Output only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ActivityRecord {
    /// The `When` field as a timestamp. Auditor writes ISO 8601 with `Z` or an offset; a value
    /// without an offset is read as UTC.
    pub fn when_parsed(&self) -> Result<DateTime<FixedOffset>, AuditorError> {
        parse_when(&self.when).ok_or_else(|| {
            AuditorError::InvalidResponse(format!(
                "activity record {} has a When value {:?} that is not an ISO 8601 time",
                self.rid.as_deref().unwrap_or("(no RID)"),
                self.when
            ))
        })
    }

    /// The DetailList as text, one `Property: before -> after` line per detail, for the
    /// `%Details%` template placeholder. A detail that only carries a message is written as
    /// `Property: message`; a missing before or after value is written as `(none)`.
    pub fn details_flattened(&self) -> String {
        self.details
            .iter()
            .map(Detail::flattened)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The monitoring plan's name, for `%MonitoringPlanName%`.
    pub fn monitoring_plan_name(&self) -> Option<&str> {
        self.monitoring_plan.as_ref().map(|plan| plan.name.as_str())
    }
}

impl Detail {
    fn flattened(&self) -> String {
        match (&self.before, &self.after, &self.message) {
            (None, None, Some(message)) => format!("{}: {message}", self.property_name),
            (before, after, message) => {
                let mut line = format!(
                    "{}: {} -> {}",
                    self.property_name,
                    before.as_deref().unwrap_or("(none)"),
                    after.as_deref().unwrap_or("(none)")
                );
                if let Some(message) = message {
                    line.push_str(&format!(" ({message})"));
                }
                line
            }
        }
    }
}

pub(crate) fn parse_when(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| naive.and_utc().fixed_offset())
}

fn serialize_item<S: Serializer>(item: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Item<'a> {
        #[serde(rename = "Name")]
        name: &'a str,
    }
    match item {
        Some(name) => Item { name }.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

fn deserialize_item<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(rename = "Name", default)]
        name: Option<String>,
    }
    Ok(Option::<Item>::deserialize(deserializer)?.and_then(|item| item.name))
}

fn deserialize_details<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Detail>, D::Error> {
    Ok(Option::<Vec<Detail>>::deserialize(deserializer)?.unwrap_or_default())
}

/// The body format of a request or response; `format=json` selects JSON, XML is Auditor's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    Json,
    Xml,
}

impl WireFormat {
    /// Guesses the format from the first significant byte of a body.
    pub fn sniff(body: &[u8]) -> Option<WireFormat> {
        let first = body
            .iter()
            .copied()
            .find(|byte| !(byte.is_ascii_whitespace() || matches!(byte, 0xEF | 0xBB | 0xBF)))?;
        match first {
            b'<' => Some(WireFormat::Xml),
            b'{' | b'[' | b'"' => Some(WireFormat::Json),
            _ => None,
        }
    }
}

/// One page of records and the mark that fetches the next page, if Auditor sent one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPage {
    pub records: Vec<ActivityRecord>,
    pub continuation_mark: Option<String>,
}

/// Parses an enum or search response body (or a write input), JSON or XML.
///
/// JSON may be `{"ActivityRecordList": […], "ContinuationMark": "…"}`, the same with the
/// `ActivityRecordSearch` key the documentation also shows, or a bare array of records. XML is an
/// `ActivityRecordList` root. Placeholder `<ActivityRecord>...</ActivityRecord>` elements with no
/// fields at all (as printed in Auditor's documentation) are skipped.
pub fn parse_record_page(body: &[u8], format: WireFormat) -> Result<RecordPage, AuditorError> {
    match format {
        WireFormat::Json => parse_page_json(body),
        WireFormat::Xml => parse_page_xml(body),
    }
}

fn parse_page_json(body: &[u8]) -> Result<RecordPage, AuditorError> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(rename = "ActivityRecordList", default)]
        list: Option<Vec<ActivityRecord>>,
        #[serde(rename = "ActivityRecordSearch", default)]
        search: Option<Vec<ActivityRecord>>,
        #[serde(rename = "ContinuationMark", default)]
        continuation_mark: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Body {
        Envelope(Envelope),
        Bare(Vec<ActivityRecord>),
    }
    let invalid = |error: serde_json::Error| {
        AuditorError::InvalidResponse(format!("activity record JSON cannot be read: {error}"))
    };
    // Decode to a Value first so that serde's error names the offending field instead of the
    // untagged enum's generic "did not match any variant".
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    let body = match value {
        serde_json::Value::Array(_) => Body::Bare(serde_json::from_value(value).map_err(invalid)?),
        serde_json::Value::Object(_) => {
            Body::Envelope(serde_json::from_value(value).map_err(invalid)?)
        }
        other => {
            return Err(AuditorError::InvalidResponse(format!(
                "expected a JSON object or array of activity records, got {other}"
            )))
        }
    };
    Ok(match body {
        Body::Bare(records) => RecordPage {
            records,
            continuation_mark: None,
        },
        Body::Envelope(envelope) => {
            let mut records = envelope.list.unwrap_or_default();
            records.extend(envelope.search.unwrap_or_default());
            RecordPage {
                records,
                continuation_mark: envelope.continuation_mark.filter(|mark| !mark.is_empty()),
            }
        }
    })
}

fn parse_page_xml(body: &[u8]) -> Result<RecordPage, AuditorError> {
    let root = parse_document(body)
        .map_err(|error| AuditorError::InvalidResponse(format!("activity record XML: {error}")))?;
    if root.name != "ActivityRecordList" && root.name != "ActivityRecordSearch" {
        return Err(AuditorError::InvalidResponse(format!(
            "expected an <ActivityRecordList> document, got <{}>",
            root.name
        )));
    }
    let records = root
        .children_named("ActivityRecord")
        .filter(|element| !element.children.is_empty())
        .map(record_from_xml)
        .collect::<Result<Vec<_>, _>>()?;
    let continuation_mark = root
        .child_text("ContinuationMark")
        .filter(|mark| !mark.is_empty());
    Ok(RecordPage {
        records,
        continuation_mark,
    })
}

fn record_from_xml(element: &Element) -> Result<ActivityRecord, AuditorError> {
    let required = |name: &str| {
        element.child_text(name).ok_or_else(|| {
            AuditorError::InvalidResponse(format!(
                "activity record{} has no <{name}> element",
                element
                    .child_text("RID")
                    .map(|rid| format!(" {rid}"))
                    .unwrap_or_default()
            ))
        })
    };
    let monitoring_plan = match element.child("MonitoringPlan") {
        Some(plan) => Some(MonitoringPlan {
            name: plan.child_text("Name").ok_or_else(|| {
                AuditorError::InvalidResponse(
                    "activity record has a <MonitoringPlan> without <Name>".to_owned(),
                )
            })?,
            id: plan.child_text("ID").filter(|id| !id.is_empty()),
        }),
        None => None,
    };
    let details = match element.child("DetailList") {
        Some(list) => list
            .children_named("Detail")
            .map(|detail| {
                Ok(Detail {
                    property_name: detail.child_text("PropertyName").ok_or_else(|| {
                        AuditorError::InvalidResponse(
                            "activity record has a <Detail> without <PropertyName>".to_owned(),
                        )
                    })?,
                    before: detail.child_text("Before"),
                    after: detail.child_text("After"),
                    message: detail.child_text("Message"),
                })
            })
            .collect::<Result<Vec<_>, AuditorError>>()?,
        None => Vec::new(),
    };
    Ok(ActivityRecord {
        rid: element.child_text("RID"),
        who: required("Who")?,
        action: required("Action")?,
        object_type: required("ObjectType")?,
        what: required("What")?,
        when: required("When")?,
        where_: required("Where")?,
        workstation: element.child_text("Workstation"),
        data_source: element.child_text("DataSource"),
        monitoring_plan,
        item: element
            .child("Item")
            .and_then(|item| item.child_text("Name")),
        details,
    })
}

/// Parses an `ErrorList` body (JSON or XML). Returns an empty list for an empty or unreadable body,
/// because the error is then described by the status code alone.
pub fn parse_error_list(body: &[u8]) -> Vec<AuditorErrorEntry> {
    match WireFormat::sniff(body) {
        Some(WireFormat::Json) => {
            #[derive(Deserialize)]
            struct ErrorBody {
                #[serde(rename = "ErrorList", default)]
                errors: Vec<AuditorErrorEntry>,
            }
            serde_json::from_slice::<ErrorBody>(body)
                .map(|parsed| parsed.errors)
                .unwrap_or_default()
        }
        Some(WireFormat::Xml) => match parse_document(body) {
            Ok(root) if root.name == "ErrorList" => root
                .children_named("Error")
                .map(|error| AuditorErrorEntry {
                    category: error.child_text("Category").unwrap_or_default(),
                    description: error.child_text("Description").unwrap_or_default(),
                    location: error.child_text("Location").filter(|text| !text.is_empty()),
                })
                .collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

//! The simulator's stored activity records and their JSON and XML forms.
//!
//! Records keep the exact field texts a client wrote (or the seed file held) so responses echo them
//! byte for byte, plus the parsed `When` used by time filters.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::xml::{push_element, Element, RECORDS_NAMESPACE};

/// The data source Auditor forces on records written through the API.
pub const API_DATA_SOURCE: &str = "Netwrix API";

/// One stored activity record, in Auditor's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimRecord {
    #[serde(rename = "RID", default, skip_serializing_if = "Option::is_none")]
    pub rid: Option<String>,
    pub who: String,
    pub action: String,
    pub object_type: String,
    pub what: String,
    pub when: String,
    #[serde(rename = "Where")]
    pub where_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workstation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_plan: Option<SimMonitoringPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<SimItem>,
    #[serde(
        rename = "DetailList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub details: Option<Vec<SimDetail>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimMonitoringPlan {
    pub name: String,
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimItem {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimDetail {
    pub property_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl SimRecord {
    /// A record with the six mandatory fields and nothing else.
    pub fn new(
        who: impl Into<String>,
        action: impl Into<String>,
        object_type: impl Into<String>,
        what: impl Into<String>,
        when: impl Into<String>,
        where_: impl Into<String>,
    ) -> Self {
        SimRecord {
            rid: None,
            who: who.into(),
            action: action.into(),
            object_type: object_type.into(),
            what: what.into(),
            when: when.into(),
            where_: where_.into(),
            workstation: None,
            data_source: None,
            monitoring_plan: None,
            item: None,
            details: None,
        }
    }

    /// The parsed `When`; `None` when the text is not ISO 8601.
    pub fn when_parsed(&self) -> Option<DateTime<FixedOffset>> {
        parse_when(&self.when)
    }

    /// The checks Auditor applies to a written record; the message becomes an `InputError`.
    pub(crate) fn validate(&self, position: usize) -> Result<(), String> {
        let fields = [
            ("Who", &self.who, 255),
            ("Action", &self.action, 255),
            ("ObjectType", &self.object_type, 255),
            ("Where", &self.where_, 255),
            ("What", &self.what, 1_073_741_822),
            ("When", &self.when, 64),
        ];
        for (name, value, max) in fields {
            if value.trim().is_empty() {
                return Err(format!(
                    "Activity record {position}: the mandatory field {name} is empty"
                ));
            }
            if value.chars().count() > max {
                return Err(format!(
                    "Activity record {position}: {name} is longer than {max} characters"
                ));
            }
        }
        if self.when_parsed().is_none() {
            return Err(format!(
                "Activity record {position}: When value {:?} is not a valid dateTime",
                self.when
            ));
        }
        if let Some(details) = &self.details {
            if details
                .iter()
                .any(|detail| detail.property_name.trim().is_empty())
            {
                return Err(format!(
                    "Activity record {position}: a Detail has no PropertyName"
                ));
            }
        }
        Ok(())
    }

    /// Appends the `<ActivityRecord>` element.
    pub(crate) fn write_xml(&self, out: &mut String) {
        out.push_str("<ActivityRecord>");
        if let Some(plan) = &self.monitoring_plan {
            out.push_str("<MonitoringPlan>");
            push_element(out, "Name", &plan.name);
            if let Some(id) = &plan.id {
                push_element(out, "ID", id);
            }
            out.push_str("</MonitoringPlan>");
        }
        if let Some(source) = &self.data_source {
            push_element(out, "DataSource", source);
        }
        if let Some(item) = &self.item {
            out.push_str("<Item>");
            push_element(out, "Name", &item.name);
            out.push_str("</Item>");
        }
        push_element(out, "ObjectType", &self.object_type);
        if let Some(rid) = &self.rid {
            push_element(out, "RID", rid);
        }
        push_element(out, "What", &self.what);
        push_element(out, "Action", &self.action);
        push_element(out, "When", &self.when);
        push_element(out, "Where", &self.where_);
        push_element(out, "Who", &self.who);
        if let Some(workstation) = &self.workstation {
            push_element(out, "Workstation", workstation);
        }
        if let Some(details) = self.details.as_ref().filter(|details| !details.is_empty()) {
            out.push_str("<DetailList>");
            for detail in details {
                out.push_str("<Detail>");
                push_element(out, "PropertyName", &detail.property_name);
                if let Some(before) = &detail.before {
                    push_element(out, "Before", before);
                }
                if let Some(after) = &detail.after {
                    push_element(out, "After", after);
                }
                if let Some(message) = &detail.message {
                    push_element(out, "Message", message);
                }
                out.push_str("</Detail>");
            }
            out.push_str("</DetailList>");
        }
        out.push_str("</ActivityRecord>");
    }

    /// Reads one `<ActivityRecord>` of a write request; missing mandatory elements are reported by
    /// [`SimRecord::validate`] as empty fields.
    pub(crate) fn from_xml(element: &Element) -> SimRecord {
        let text = |name: &str| element.child_text(name).unwrap_or_default();
        SimRecord {
            rid: None,
            who: text("Who"),
            action: text("Action"),
            object_type: text("ObjectType"),
            what: text("What"),
            when: text("When"),
            where_: text("Where"),
            workstation: element.child_text("Workstation"),
            data_source: element.child_text("DataSource"),
            monitoring_plan: element
                .child("MonitoringPlan")
                .map(|plan| SimMonitoringPlan {
                    name: plan.child_text("Name").unwrap_or_default(),
                    id: plan.child_text("ID"),
                }),
            item: element
                .child("Item")
                .and_then(|item| item.child_text("Name"))
                .map(|name| SimItem { name }),
            details: element.child("DetailList").map(|list| {
                list.children_named("Detail")
                    .map(|detail| SimDetail {
                        property_name: detail.child_text("PropertyName").unwrap_or_default(),
                        before: detail.child_text("Before"),
                        after: detail.child_text("After"),
                        message: None,
                    })
                    .collect()
            }),
        }
    }
}

pub(crate) fn parse_when(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text).ok().or_else(|| {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|naive| naive.and_utc().fixed_offset())
    })
}

/// A RID of Auditor's observed form: `yyyyMMddHHmmssfff` then 32 uppercase hex digits (49 chars).
pub fn new_rid(now: DateTime<Utc>) -> String {
    format!(
        "{}{}",
        now.format("%Y%m%d%H%M%S%3f"),
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    )
}

/// Renders a page as Auditor's XML `ActivityRecordList`.
pub(crate) fn page_to_xml(records: &[&SimRecord], continuation_mark: Option<&str>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" standalone=\"yes\"?>");
    out.push_str(&format!(
        "<ActivityRecordList xmlns=\"{RECORDS_NAMESPACE}\">"
    ));
    if let Some(mark) = continuation_mark {
        push_element(&mut out, "ContinuationMark", mark);
    }
    for record in records {
        record.write_xml(&mut out);
    }
    out.push_str("</ActivityRecordList>");
    out
}

/// Renders a page as Auditor's JSON envelope.
pub(crate) fn page_to_json(records: &[&SimRecord], continuation_mark: Option<&str>) -> String {
    let mut body = serde_json::Map::new();
    body.insert(
        "ActivityRecordList".to_owned(),
        serde_json::to_value(records).unwrap_or(serde_json::Value::Array(Vec::new())),
    );
    if let Some(mark) = continuation_mark {
        body.insert(
            "ContinuationMark".to_owned(),
            serde_json::Value::String(mark.to_owned()),
        );
    }
    serde_json::Value::Object(body).to_string()
}

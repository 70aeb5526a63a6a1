//! Search filters for `POST /netwrix/api/v1/activity_records/search`.
//!
//! Auditor's JSON filter syntax lets a value be a string, an `{"Operator": value}` object or an
//! array of both. The builder always writes explicit operators so that the request means the same
//! thing whatever Auditor's per-filter default operator is.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde_json::{json, Map, Value};

/// A text filter Auditor can search on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterField {
    Rid,
    Who,
    Action,
    What,
    Where,
    ObjectType,
    DataSource,
    MonitoringPlan,
    Item,
    Workstation,
    Detail,
    Before,
    After,
}

impl FilterField {
    /// The filter's name on the wire.
    pub fn wire_name(self) -> &'static str {
        match self {
            FilterField::Rid => "RID",
            FilterField::Who => "Who",
            FilterField::Action => "Action",
            FilterField::What => "What",
            FilterField::Where => "Where",
            FilterField::ObjectType => "ObjectType",
            FilterField::DataSource => "DataSource",
            FilterField::MonitoringPlan => "MonitoringPlan",
            FilterField::Item => "Item",
            FilterField::Workstation => "Workstation",
            FilterField::Detail => "Detail",
            FilterField::Before => "Before",
            FilterField::After => "After",
        }
    }
}

/// A match operator. Repeated positive operators on one filter are ORed by Auditor, negative ones
/// (`NotEqualTo`, `DoesNotContain`, `NotInGroup`) are ANDed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterOperator {
    Equals,
    NotEqualTo,
    Contains,
    DoesNotContain,
    StartsWith,
    EndsWith,
    InGroup,
    NotInGroup,
}

impl FilterOperator {
    pub fn wire_name(self) -> &'static str {
        match self {
            FilterOperator::Equals => "Equals",
            FilterOperator::NotEqualTo => "NotEqualTo",
            FilterOperator::Contains => "Contains",
            FilterOperator::DoesNotContain => "DoesNotContain",
            FilterOperator::StartsWith => "StartsWith",
            FilterOperator::EndsWith => "EndsWith",
            FilterOperator::InGroup => "InGroup",
            FilterOperator::NotInGroup => "NotInGroup",
        }
    }
}

/// The `When` filter: an absolute range or one of Auditor's relative periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhenFilter {
    Range {
        from: Option<DateTime<FixedOffset>>,
        to: Option<DateTime<FixedOffset>>,
    },
    Today,
    Yesterday,
    LastSevenDays,
    LastThirtyDays,
}

/// A `FilterList`: conditions on different filters are ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterList {
    conditions: Vec<(FilterField, FilterOperator, String)>,
    when: Option<WhenFilter>,
}

impl FilterList {
    pub fn new() -> Self {
        FilterList::default()
    }

    /// The filter that finds one record by its RID.
    pub fn rid(rid: &str) -> Self {
        FilterList::new().with(FilterField::Rid, FilterOperator::Equals, rid)
    }

    /// Adds one condition.
    pub fn with(
        mut self,
        field: FilterField,
        operator: FilterOperator,
        value: impl Into<String>,
    ) -> Self {
        self.conditions.push((field, operator, value.into()));
        self
    }

    /// Sets the `When` filter.
    pub fn when(mut self, when: WhenFilter) -> Self {
        self.when = Some(when);
        self
    }

    /// The JSON `FilterList` object.
    pub fn to_json(&self) -> Value {
        let mut list = Map::new();
        for (field, operator, value) in &self.conditions {
            let condition = json!({ operator.wire_name(): value });
            match list.get_mut(field.wire_name()) {
                Some(Value::Array(existing)) => existing.push(condition),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, condition]);
                }
                None => {
                    list.insert(field.wire_name().to_owned(), condition);
                }
            }
        }
        if let Some(when) = &self.when {
            let stamp = |time: &DateTime<FixedOffset>| {
                Value::String(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            };
            let value = match when {
                WhenFilter::Range { from, to } => {
                    let mut range = Map::new();
                    if let Some(from) = from {
                        range.insert("From".to_owned(), stamp(from));
                    }
                    if let Some(to) = to {
                        range.insert("To".to_owned(), stamp(to));
                    }
                    Value::Object(range)
                }
                WhenFilter::Today => json!({ "Today": "" }),
                WhenFilter::Yesterday => json!({ "Yesterday": "" }),
                WhenFilter::LastSevenDays => json!({ "LastSevenDays": "" }),
                WhenFilter::LastThirtyDays => json!({ "LastThirtyDays": "" }),
            };
            list.insert("When".to_owned(), value);
        }
        Value::Object(list)
    }

    /// The JSON search body, with the continuation mark of the previous page when paging.
    pub fn search_body(&self, continuation_mark: Option<&str>) -> Value {
        let mut body = Map::new();
        if let Some(mark) = continuation_mark {
            body.insert(
                "ContinuationMark".to_owned(),
                Value::String(mark.to_owned()),
            );
        }
        body.insert("FilterList".to_owned(), self.to_json());
        Value::Object(body)
    }
}

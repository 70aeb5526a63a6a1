//! Search filters as Auditor documents them (NOTES §1.5), parsed from JSON or XML and evaluated
//! against stored records.
//!
//! Different filters are ANDed. Within one filter, positive operators (Equals, Contains, StartsWith,
//! EndsWith) are ORed and negative ones (NotEqualTo, DoesNotContain) are ANDed. Text comparisons
//! ignore case, like Auditor's SQL collation. Relative `When` periods are computed from the
//! simulator's clock so tests can pin "now".

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::record::{parse_when, SimRecord};
use super::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
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

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "RID" => Field::Rid,
            "Who" => Field::Who,
            "Action" => Field::Action,
            "What" => Field::What,
            "Where" => Field::Where,
            "ObjectType" => Field::ObjectType,
            "DataSource" => Field::DataSource,
            "MonitoringPlan" => Field::MonitoringPlan,
            "Item" => Field::Item,
            "Workstation" => Field::Workstation,
            "Detail" => Field::Detail,
            "Before" => Field::Before,
            "After" => Field::After,
            _ => return None,
        })
    }

    fn max_length(self) -> usize {
        match self {
            Field::Rid => 49,
            Field::Who | Field::Where | Field::ObjectType | Field::MonitoringPlan => 255,
            Field::Action => 255,
            Field::Before | Field::After => 536_870_911,
            Field::What | Field::DataSource | Field::Item | Field::Workstation | Field::Detail => {
                1_073_741_822
            }
        }
    }

    fn default_operator(self) -> Operator {
        match self {
            Field::Action => Operator::Equals,
            _ => Operator::Contains,
        }
    }

    /// The record's values for this filter, lowercased; empty when the record has none.
    fn values(self, record: &SimRecord) -> Vec<String> {
        let single = |value: Option<&str>| value.map(str::to_lowercase).into_iter().collect();
        let details = record.details.as_deref().unwrap_or_default();
        match self {
            Field::Rid => single(record.rid.as_deref()),
            Field::Who => single(Some(&record.who)),
            Field::Action => single(Some(&record.action)),
            Field::What => single(Some(&record.what)),
            Field::Where => single(Some(&record.where_)),
            Field::ObjectType => single(Some(&record.object_type)),
            Field::DataSource => single(record.data_source.as_deref()),
            Field::MonitoringPlan => single(
                record
                    .monitoring_plan
                    .as_ref()
                    .map(|plan| plan.name.as_str()),
            ),
            Field::Item => single(record.item.as_ref().map(|item| item.name.as_str())),
            Field::Workstation => single(record.workstation.as_deref()),
            Field::Detail => details
                .iter()
                .map(|detail| {
                    format!(
                        "{}: {} -> {} {}",
                        detail.property_name,
                        detail.before.as_deref().unwrap_or_default(),
                        detail.after.as_deref().unwrap_or_default(),
                        detail.message.as_deref().unwrap_or_default()
                    )
                    .to_lowercase()
                })
                .collect(),
            Field::Before => details
                .iter()
                .filter_map(|detail| detail.before.as_deref().map(str::to_lowercase))
                .collect(),
            Field::After => details
                .iter()
                .filter_map(|detail| detail.after.as_deref().map(str::to_lowercase))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equals,
    NotEqualTo,
    Contains,
    DoesNotContain,
    StartsWith,
    EndsWith,
}

impl Operator {
    fn parse(field_name: &str, field: Field, name: &str) -> Result<Operator, String> {
        let operator = match name {
            "Equals" => Operator::Equals,
            "NotEqualTo" => Operator::NotEqualTo,
            "Contains" => Operator::Contains,
            "DoesNotContain" => Operator::DoesNotContain,
            "StartsWith" => Operator::StartsWith,
            "EndsWith" => Operator::EndsWith,
            "InGroup" | "NotInGroup" => {
                return Err(format!(
                    "Operator {name} on {field_name} needs Active Directory group membership, \
                     which this simulator does not have"
                ))
            }
            other => return Err(format!("Unknown operator {other} on filter {field_name}")),
        };
        if field == Field::Action && !matches!(operator, Operator::Equals | Operator::NotEqualTo) {
            return Err(format!(
                "Operator {name} is not supported for Action; use Equals or NotEqualTo"
            ));
        }
        Ok(operator)
    }

    fn is_negative(self) -> bool {
        matches!(self, Operator::NotEqualTo | Operator::DoesNotContain)
    }

    fn holds(self, actual: &str, wanted: &str) -> bool {
        match self {
            Operator::Equals => actual == wanted,
            Operator::NotEqualTo => actual != wanted,
            Operator::Contains => actual.contains(wanted),
            Operator::DoesNotContain => !actual.contains(wanted),
            Operator::StartsWith => actual.starts_with(wanted),
            Operator::EndsWith => actual.ends_with(wanted),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    operator: Operator,
    /// Lowercased.
    value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum WhenCondition {
    Range {
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    },
    Today,
    Yesterday,
    LastSevenDays,
    LastThirtyDays,
}

impl WhenCondition {
    fn relative(name: &str) -> Option<WhenCondition> {
        Some(match name {
            "Today" => WhenCondition::Today,
            "Yesterday" => WhenCondition::Yesterday,
            "LastSevenDays" => WhenCondition::LastSevenDays,
            "LastThirtyDays" => WhenCondition::LastThirtyDays,
            _ => return None,
        })
    }

    fn holds(&self, when: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let start_of_today = now.date_naive().and_time(NaiveTime::MIN).and_utc();
        match self {
            WhenCondition::Range { from, to } => {
                from.is_none_or(|from| when >= from) && to.is_none_or(|to| when <= to)
            }
            WhenCondition::Today => {
                when >= start_of_today && when < start_of_today + Duration::days(1)
            }
            WhenCondition::Yesterday => {
                when >= start_of_today - Duration::days(1) && when < start_of_today
            }
            WhenCondition::LastSevenDays => when >= now - Duration::days(7) && when <= now,
            WhenCondition::LastThirtyDays => when >= now - Duration::days(30) && when <= now,
        }
    }
}

/// A parsed `FilterList`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    text: Vec<(Field, Vec<Condition>)>,
    when: Vec<WhenCondition>,
}

impl Filters {
    /// True when the record passes every filter.
    pub(crate) fn matches(&self, record: &SimRecord, now: DateTime<Utc>) -> bool {
        let text_ok = self.text.iter().all(|(field, conditions)| {
            let values = field.values(record);
            let (negative, positive): (Vec<&Condition>, Vec<&Condition>) = conditions
                .iter()
                .partition(|condition| condition.operator.is_negative());
            let positive_ok = positive.is_empty()
                || positive.iter().any(|condition| {
                    values
                        .iter()
                        .any(|value| condition.operator.holds(value, &condition.value))
                });
            let negative_ok = negative.iter().all(|condition| {
                values
                    .iter()
                    .all(|value| condition.operator.holds(value, &condition.value))
            });
            positive_ok && negative_ok
        });
        let when_ok = self.when.is_empty()
            || record.when_parsed().is_some_and(|when| {
                let when = when.with_timezone(&Utc);
                self.when.iter().any(|condition| condition.holds(when, now))
            });
        text_ok && when_ok
    }

    /// A stable digest binding continuation marks to the filters they were issued for.
    pub(crate) fn fingerprint(&self) -> u64 {
        let digest = Sha256::digest(format!("{self:?}").as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(bytes)
    }

    fn add(
        &mut self,
        field_name: &str,
        field: Field,
        operator: Operator,
        value: &str,
    ) -> Result<(), String> {
        if value.chars().count() > field.max_length() {
            return Err(format!(
                "Filter {field_name} value is longer than {} characters",
                field.max_length()
            ));
        }
        let condition = Condition {
            operator,
            value: value.to_lowercase(),
        };
        match self
            .text
            .iter_mut()
            .find(|(existing, _)| *existing == field)
        {
            Some((_, conditions)) => conditions.push(condition),
            None => self.text.push((field, vec![condition])),
        }
        Ok(())
    }

    /// Reads a JSON `FilterList` object.
    pub(crate) fn from_json(list: &Value) -> Result<Filters, String> {
        let object = list
            .as_object()
            .ok_or_else(|| "FilterList must be a JSON object".to_owned())?;
        let mut filters = Filters::default();
        for (name, value) in object {
            if name == "When" {
                filters.when_from_json(value)?;
                continue;
            }
            let field = field_named(name)?;
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            for item in items {
                match item {
                    Value::String(text) => {
                        filters.add(name, field, field.default_operator(), text)?
                    }
                    Value::Object(operators) => {
                        for (operator, text) in operators {
                            let operator = Operator::parse(name, field, operator)?;
                            let text = text.as_str().ok_or_else(|| {
                                format!("Filter {name} value must be a string, got {text}")
                            })?;
                            filters.add(name, field, operator, text)?;
                        }
                    }
                    other => {
                        return Err(format!(
                        "Filter {name} value must be a string, an array or an object, got {other}"
                    ))
                    }
                }
            }
        }
        Ok(filters)
    }

    fn when_from_json(&mut self, value: &Value) -> Result<(), String> {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for item in items {
            let object = item.as_object().ok_or_else(|| {
                "When must be {\"From\":…,\"To\":…} or one of Today, Yesterday, LastSevenDays, \
                 LastThirtyDays"
                    .to_owned()
            })?;
            let mut from = None;
            let mut to = None;
            for (key, bound) in object {
                match key.as_str() {
                    "From" | "To" => {
                        let text = bound
                            .as_str()
                            .ok_or_else(|| format!("When.{key} must be a dateTime string"))?;
                        let parsed = parse_bound(key, text)?;
                        if key == "From" {
                            from = Some(parsed);
                        } else {
                            to = Some(parsed);
                        }
                    }
                    relative => {
                        let condition = WhenCondition::relative(relative)
                            .ok_or_else(|| format!("Unknown When period {relative}"))?;
                        self.when.push(condition);
                    }
                }
            }
            if from.is_some() || to.is_some() {
                self.when.push(WhenCondition::Range { from, to });
            }
        }
        Ok(())
    }

    /// Reads an XML `<FilterList>` element.
    pub(crate) fn from_xml(list: &Element) -> Result<Filters, String> {
        let mut filters = Filters::default();
        for element in &list.children {
            let name = element.name.as_str();
            if name == "When" {
                let mut from = None;
                let mut to = None;
                for bound in &element.children {
                    match bound.name.as_str() {
                        "From" => from = Some(parse_bound("From", bound.text())?),
                        "To" => to = Some(parse_bound("To", bound.text())?),
                        relative => filters.when.push(
                            WhenCondition::relative(relative)
                                .ok_or_else(|| format!("Unknown When period {relative}"))?,
                        ),
                    }
                }
                if from.is_some() || to.is_some() {
                    filters.when.push(WhenCondition::Range { from, to });
                }
                continue;
            }
            let field = field_named(name)?;
            let operator = match element.attribute("Operator") {
                Some(operator) => Operator::parse(name, field, operator)?,
                None => field.default_operator(),
            };
            filters.add(name, field, operator, element.text())?;
        }
        Ok(filters)
    }
}

fn field_named(name: &str) -> Result<Field, String> {
    match name {
        "WorkingHours" => {
            Err("The WorkingHours filter is not supported by this simulator".to_owned())
        }
        _ => Field::from_name(name).ok_or_else(|| format!("Unknown filter {name}")),
    }
}

fn parse_bound(name: &str, text: &str) -> Result<DateTime<Utc>, String> {
    parse_when(text)
        .map(|time| time.with_timezone(&Utc))
        .ok_or_else(|| format!("When.{name} value {text:?} is not a valid dateTime"))
}

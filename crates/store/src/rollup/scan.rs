//! [`alert_counts`](super::alert_counts) read straight from a stored payload's JSON text.
//!
//! Counting a page of decided alerts parsed every payload into a `serde_json::Value` (a map per
//! object, a string per field) only to look at a handful of fields. This reads the same fields
//! in one pass and skips everything else. The rules are the same as on a `Value`, down to its
//! corner cases: a key given twice counts its last value, a records key whose value is not an
//! array is passed over for the next spelling, a record that is not an object is skipped, and a
//! payload that is an object without records is itself one record. Any payload this reader
//! refuses (not JSON, say) is counted by the `Value` path instead, so the two never differ.
//! For a stored payload of 556 bytes with one record it takes about 2 µs where parsing and
//! counting the `Value` takes about 3.4 µs (`pipeline_bench rollup`, BENCHMARKS.md).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Fields, RECORD_KEYS};

/// A visitor's `expecting`, and methods that read past a value of the kinds listed and answer
/// `$answer`: `scalars` (booleans, numbers, null), `str`, `seq` (an array, skipped whole) and
/// `map` (an object).
macro_rules! skip {
    ($answer:expr; $($kind:ident),*) => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }
        $(skip!(@ $answer; $kind);)*
    };
    (@ $answer:expr; scalars) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> { Ok($answer) }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> { Ok($answer) }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> { Ok($answer) }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> { Ok($answer) }
        fn visit_unit<E>(self) -> Result<Self::Value, E> { Ok($answer) }
    };
    (@ $answer:expr; str) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> { Ok($answer) }
    };
    (@ $answer:expr; seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element_seed(Any(Skip))?.is_some() {}
            Ok($answer)
        }
    };
    (@ $answer:expr; map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry_seed(Any(Skip), Any(Skip))?.is_some() {}
            Ok($answer)
        }
    };
}

/// Reads a value with visitor `V`, whatever its kind.
struct Any<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Any<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

/// Reads a value and drops it. Read as a `Value` reads it rather than skipped unread
/// (`IgnoredAny`), so a text refused there (a number out of range, say) is refused here too.
struct Skip;

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    skip!((); map, seq, scalars, str);
}

/// The fields of one record that a count reads: per key of [`FIELD_KEYS`], its last value when
/// that was a string.
#[derive(Debug, Default)]
pub(super) struct Record {
    fields: [Option<String>; FIELD_KEYS.len()],
}

/// Every key a record's count reads: `WHO_KEYS`, then each of `SYSTEM_KEYS` (a test checks).
const FIELD_KEYS: [&str; 7] = [
    "who",
    "Who",
    "workstation",
    "Workstation",
    "where",
    "where_",
    "Where",
];

impl Fields for Record {
    fn string(&self, key: &str) -> Option<&str> {
        let index = FIELD_KEYS.iter().position(|known| *known == key)?;
        self.fields[index].as_deref()
    }
}

impl Record {
    /// Reads one entry of a record's map: a field the count reads is kept, anything else skipped.
    fn entry<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match FIELD_KEYS.iter().position(|known| *known == key) {
            Some(index) => self.fields[index] = map.next_value_seed(Any(Text))?,
            None => {
                map.next_value_seed(Any(Skip))?;
            }
        }
        Ok(())
    }
}

/// The activity records of a payload, read from its JSON text; `None` when the text is not
/// something this reader takes (the caller then counts a parsed `Value`).
pub(super) fn activity_records(text: &str) -> Option<Vec<Record>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let records = Any(Payload).deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(records)
}

/// Reads a whole payload into its records.
struct Payload;

impl<'de> Visitor<'de> for Payload {
    type Value = Vec<Record>;

    /// Per key of [`RECORD_KEYS`] its last value (`Some(None)`: not an array), and the object's
    /// own fields; the first spelling whose value is an array gives the records, else the object
    /// is one record.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut lists: [Option<Option<Vec<Record>>>; RECORD_KEYS.len()] = Default::default();
        let mut own = Record::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match RECORD_KEYS.iter().position(|known| *known == key) {
                Some(index) => lists[index] = Some(map.next_value_seed(Any(Records))?),
                None => own.entry(&key, &mut map)?,
            }
        }
        Ok(lists
            .into_iter()
            .flatten()
            .flatten()
            .next()
            .unwrap_or_else(|| vec![own]))
    }

    // Anything but an object has no records.
    skip!(Vec::new(); seq, scalars, str);
}

/// Reads the value of a records key: `Some` of its object records when it is an array.
struct Records;

impl<'de> Visitor<'de> for Records {
    type Value = Option<Vec<Record>>;

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::new();
        while let Some(record) = seq.next_element_seed(Any(OneRecord))? {
            records.extend(record);
        }
        Ok(Some(records))
    }

    skip!(None; map, scalars, str);
}

/// Reads one element of a records array: `Some` when it is an object.
struct OneRecord;

impl<'de> Visitor<'de> for OneRecord {
    type Value = Option<Record>;

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut record = Record::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            record.entry(&key, &mut map)?;
        }
        Ok(Some(record))
    }

    skip!(None; seq, scalars, str);
}

/// Reads a field's value: `Some` of it when it is a string, `None` for anything else.
struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = Option<String>;

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    skip!(None; map, seq, scalars);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{alert_counts, alert_counts_in_text, SYSTEM_KEYS, WHO_KEYS};
    use super::FIELD_KEYS;

    #[test]
    fn the_field_keys_are_the_account_and_system_spellings() {
        let mut keys = WHO_KEYS.to_vec();
        keys.extend(SYSTEM_KEYS.iter().flat_map(|keys| keys.iter()));
        assert_eq!(keys, FIELD_KEYS);
    }

    /// A JSON text of up to `depth` levels whose objects use the keys a count reads (a key may
    /// come twice) and whose strings include blank, padded and escaped ones.
    fn json_text(depth: u32) -> BoxedStrategy<String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("7".to_string()),
            Just("-2.5".to_string()),
            Just("1e400".to_string()),
            Just(r#""""#.to_string()),
            Just(r#""   ""#.to_string()),
            Just(r#"" CORP\\alice ""#.to_string()),
            Just(r#""WS-01""#.to_string()),
            Just(r#""ws-01""#.to_string()),
            Just(r#""DC-\u0030\"1""#.to_string()),
        ];
        if depth == 0 {
            return leaf.boxed();
        }
        let key = prop_oneof![
            Just("records"),
            Just("activity_records"),
            Just("ActivityRecords"),
            Just("who"),
            Just("Who"),
            Just("workstation"),
            Just("Workstation"),
            Just("where"),
            Just("where_"),
            Just("Where"),
            Just("other"),
        ];
        let inner = json_text(depth - 1);
        prop_oneof![
            leaf,
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key, inner), 0..6).prop_map(|entries| {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| format!("\"{key}\":{value}"))
                    .collect();
                format!("{{{}}}", entries.join(","))
            }),
        ]
        .boxed()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Reading the text counts exactly what parsing it into a `Value` counts, duplicate keys,
        /// wrong types and texts that are not JSON included.
        #[test]
        fn reading_the_text_counts_as_the_parsed_value_does(text in json_text(3), cut in 0usize..4) {
            // Now and then a text cut short, which is not JSON.
            let text = if cut == 0 { &text[..text.len() / 2] } else { &text[..] };
            let value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
            prop_assert_eq!(alert_counts_in_text("Login", text), alert_counts("Login", &value));
        }
    }
}

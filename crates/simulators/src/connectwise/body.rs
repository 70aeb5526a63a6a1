//! Strict reading of JSON request bodies, as the service's Json.NET model binding does it.
//!
//! ConnectWise matches member names case-insensitively but rejects members its model does not have,
//! naming the first one with its line and character position
//! (`Could not find member 'enteredBy' on object of type 'Ticket'. Path 'enteredBy', line 1, position 51.`).
//! Clients that send response-only or misspelled fields must see that failure here too, so bodies are
//! scanned in their original member order rather than through an unordered map.

use serde_json::{Map, Value};

use super::error::ApiError;

/// A top-level member of a JSON object with where Json.NET would report it: the line, and the
/// character position just after the `:` that follows the name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MemberPosition {
    name: String,
    line: usize,
    position: usize,
}

/// Lists the top-level member names of a JSON object text that serde already accepted.
fn top_level_members(text: &str) -> Vec<MemberPosition> {
    let chars: Vec<char> = text.chars().collect();
    let mut members = Vec::new();
    let (mut line, mut line_start) = (1usize, 0usize);
    let mut depth = 0usize;
    let mut i = 0usize;
    // After `{` or `,` at depth 1 the next string is a member name.
    let mut expect_name = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                line_start = i + 1;
            }
            '{' | '[' => {
                depth += 1;
                expect_name = depth == 1 && c == '{';
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect_name = true,
            '"' => {
                i += 1;
                let mut name = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                        match chars.get(i) {
                            Some('n') => name.push('\n'),
                            Some('t') => name.push('\t'),
                            Some(&other) => name.push(other),
                            None => {}
                        }
                    } else {
                        name.push(chars[i]);
                    }
                    i += 1;
                }
                if expect_name && depth == 1 {
                    let mut j = i + 1;
                    while j < chars.len() && chars[j] != ':' {
                        if chars[j] == '\n' {
                            line += 1;
                            line_start = j + 1;
                        }
                        j += 1;
                    }
                    members.push(MemberPosition {
                        name,
                        line,
                        position: j + 1 - line_start,
                    });
                    expect_name = false;
                    i = j;
                }
            }
            _ => {}
        }
        i += 1;
    }
    members
}

/// Parses `text` as a JSON object whose members must all be in `members` (matched case-insensitively)
/// and returns it with every member renamed to the schema's spelling.
pub fn parse_object(
    text: &str,
    type_name: &str,
    members: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_body(format!(
            "The request body is empty; send a JSON {type_name} object"
        )));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_body(format!("The request body is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(ApiError::bad_body(format!(
            "The request body must be a JSON object of type '{type_name}'"
        )));
    };
    for member in top_level_members(text) {
        if canonical(members, &member.name).is_none() {
            return Err(ApiError::unknown_member(
                type_name,
                &member.name,
                member.line,
                member.position,
            ));
        }
    }
    let mut out = Map::new();
    for (key, value) in object {
        let name = canonical(members, &key).unwrap_or(key.as_str()).to_owned();
        out.insert(name, value);
    }
    Ok(out)
}

/// The schema spelling of `name`, if the schema has such a member.
pub fn canonical<'a>(members: &[&'a str], name: &str) -> Option<&'a str> {
    members
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

/// One PATCH operation, already checked: `remove` carries a null value.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// The path as sent (with or without a leading `/`).
    pub path: String,
    pub value: Value,
}

/// Parses a PATCH body: an array of `{op, path, value}` with `op` one of add, replace or remove
/// (any case); member names of the operations are matched case-insensitively too.
pub fn parse_patch(body: &str) -> Result<Vec<PatchOperation>, ApiError> {
    let operations: Value = serde_json::from_str(body)
        .map_err(|e| ApiError::bad_body(format!("The PATCH body is not valid JSON: {e}")))?;
    let Value::Array(operations) = operations else {
        return Err(ApiError::bad_body(
            "The PATCH body must be a JSON array of {\"op\", \"path\", \"value\"} operations",
        ));
    };
    let mut parsed = Vec::with_capacity(operations.len());
    for (index, operation) in operations.iter().enumerate() {
        let Value::Object(operation) = operation else {
            return Err(ApiError::bad_body(format!(
                "PATCH operation {index} must be an object, not {operation}"
            )));
        };
        let get = |name: &str| {
            operation
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let op = get("op")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !matches!(op.as_str(), "add" | "replace" | "remove") {
            return Err(ApiError::bad_body(format!(
                "PATCH operation {index}: op must be add, replace or remove, not {}",
                get("op").cloned().unwrap_or(Value::Null)
            )));
        }
        let Some(path) = get("path").and_then(Value::as_str) else {
            return Err(ApiError::bad_body(format!(
                "PATCH operation {index} has no path"
            )));
        };
        let value = if op == "remove" {
            Value::Null
        } else {
            get("value").cloned().unwrap_or(Value::Null)
        };
        parsed.push(PatchOperation {
            path: path.to_owned(),
            value,
        });
    }
    Ok(parsed)
}

/// `400` for a PATCH path the object does not have, in the service's words.
pub fn invalid_path(path: &str, why: &str) -> ApiError {
    ApiError::connectwise(
        axum::http::StatusCode::BAD_REQUEST,
        format!("the path {path} is not valid: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_member_positions_like_json_net() {
        let members = top_level_members(
            "{\"summary\":\"x\",\"board\":{\"id\":1,\"name\":\"b\"},\n \"enteredBy\" : \"me\"}",
        );
        let names: Vec<_> = members
            .iter()
            .map(|m| (m.name.as_str(), m.line, m.position))
            .collect();
        assert_eq!(
            names,
            vec![("summary", 1, 11), ("board", 1, 23), ("enteredBy", 2, 14)]
        );
    }

    #[test]
    fn rejects_the_first_unknown_member_in_body_order() {
        let error = parse_object(r#"{"zeta":1,"alpha":2}"#, "Ticket", &["summary"]).unwrap_err();
        assert_eq!(
            error.body["message"],
            "Could not find member 'zeta' on object of type 'Ticket'. Path 'zeta', line 1, position 8."
        );
    }

    #[test]
    fn renames_members_to_the_schema_spelling() {
        let object = parse_object(r#"{"SUMMARY":"x"}"#, "Ticket", &["summary"]).unwrap();
        assert_eq!(object.get("summary").unwrap(), "x");
    }
}

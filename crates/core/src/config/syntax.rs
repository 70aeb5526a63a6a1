//! The first step of loading: TOML text to [`RawConfig`], with errors a person can act on.
//!
//! * A file that is not TOML gets its **earliest** syntax error (the parser recovers and finds
//!   more, but the later ones are often echoes of the first).
//! * A file that is TOML but has unknown keys or values of the wrong type gets **every** such error,
//!   in file order, each with its key path, and unknown keys with a "did you mean" among the keys
//!   that section accepts. serde stops at its first error, so each erroneous key is taken out of a
//!   copy of the document and the copy read again, until it reads or nothing more can be taken out.

use toml_edit::{DocumentMut, Item, TableLike, Value};

use super::lines::{line_column, parse_path, LineIndex, Segment};
use super::raw::RawConfig;
use super::{ConfigError, SyntaxIssue};

/// How many erroneous keys are collected before giving up on finding more.
const MAX_KEY_ERRORS: usize = 50;

/// Parses `text` into the raw config, or reports what is wrong with it.
pub(super) fn parse_raw(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    let (_, mut syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    syntax_errors.sort_by_key(|error| error.span().map_or(usize::MAX, |span| span.start));
    if let Some(first) = syntax_errors.first() {
        let (line, column) = first
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        return Err(ConfigError::Syntax {
            origin: origin.to_string(),
            line,
            column,
            message: tidy(first.message()),
            more: Vec::new(),
        });
    }

    let original = LineIndex::new(text);
    let mut current = text.to_string();
    let mut issues: Vec<SyntaxIssue> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    loop {
        let error = match toml::from_str::<RawConfig>(&current) {
            Ok(raw) if issues.is_empty() => return Ok(raw),
            Ok(_) => break,
            Err(error) => error,
        };
        let message = tidy(error.message());
        // A required key that was taken out because its value had the wrong type now shows as
        // missing: that is the same mistake, already reported.
        if !issues.is_empty() && message.starts_with("missing field") {
            break;
        }
        let path = error
            .span()
            .and_then(|span| LineIndex::new(&current).path_at(span.start));
        // Until a key is taken out the text is the file itself and serde's span is exact (it
        // points at the offending value); after that, the key's place in the file is used.
        let exact = (removed.is_empty())
            .then(|| error.span().map(|span| line_column(text, span.start)))
            .flatten();
        let (line, column) = exact
            .or_else(|| path.as_deref().and_then(|path| original.position_of(path)))
            .unwrap_or((1, 1));
        let message = match &path {
            Some(path) => format!("{path}: {}", with_suggestion(&message)),
            None => with_suggestion(&message),
        };
        issues.push(SyntaxIssue {
            line,
            column,
            message,
        });
        let Some(path) = path else { break };
        if issues.len() >= MAX_KEY_ERRORS || removed.contains(&path) {
            break;
        }
        match without_key(&current, &path) {
            Some(next) => {
                current = next;
                removed.push(path);
            }
            None => break,
        }
    }
    issues.sort_by_key(|issue| (issue.line, issue.column));
    issues.dedup();
    let first = issues.remove(0);
    Err(ConfigError::Syntax {
        origin: origin.to_string(),
        line: first.line,
        column: first.column,
        message: first.message,
        more: issues,
    })
}

fn tidy(message: &str) -> String {
    message
        .trim()
        .replace("expected i64", "expected an integer")
}

/// serde says "unknown field `sitee`, expected one of `site`, `company_id`"; this adds the closest
/// accepted key as a suggestion when one is close enough to be a typo.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|candidate| !candidate.is_empty())
        .collect();
    match suggest(unknown, &candidates) {
        Some(best) => format!(
            "unknown field `{unknown}`, did you mean `{best}`? ({})",
            expected.trim_start_matches([',', ' '])
        ),
        None => message.to_string(),
    }
}

/// The accepted key closest to `unknown`, if it is plausibly what was meant.
pub(super) fn suggest<'a>(unknown: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let unknown_lower = unknown.to_ascii_lowercase();
    candidates
        .iter()
        .map(|candidate| {
            let score = strsim::normalized_damerau_levenshtein(&unknown_lower, candidate)
                .max(strsim::jaro_winkler(&unknown_lower, candidate) - 0.1);
            (score, *candidate)
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// `text` with the key at `path` taken out, or `None` when it cannot be found.
fn without_key(text: &str, path: &str) -> Option<String> {
    let mut document: DocumentMut = text.parse().ok()?;
    let segments = parse_path(path);
    let (last, parents) = segments.split_last()?;
    let Segment::Key(last) = last else {
        return None;
    };
    remove_in_table(document.as_table_mut(), parents, last)?;
    Some(document.to_string())
}

fn remove_in_table(table: &mut dyn TableLike, path: &[Segment<'_>], last: &str) -> Option<()> {
    match path.split_first() {
        None => table.remove(last).map(|_| ()),
        Some((Segment::Key(key), rest)) => remove_in_item(table.get_mut(key)?, rest, last),
        Some((Segment::Index(_), _)) => None,
    }
}

fn remove_in_item(item: &mut Item, path: &[Segment<'_>], last: &str) -> Option<()> {
    match (item, path.split_first()) {
        (Item::Table(table), _) => remove_in_table(table, path, last),
        (Item::ArrayOfTables(tables), Some((Segment::Index(index), rest))) => {
            remove_in_table(tables.get_mut(*index)?, rest, last)
        }
        (Item::Value(value), _) => remove_in_value(value, path, last),
        _ => None,
    }
}

fn remove_in_value(value: &mut Value, path: &[Segment<'_>], last: &str) -> Option<()> {
    match (value, path.split_first()) {
        (Value::InlineTable(table), _) => remove_in_table(table, path, last),
        (Value::Array(array), Some((Segment::Index(index), rest))) => {
            remove_in_value(array.get_mut(*index)?, rest, last)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_keys_only() {
        let keys = [
            "site",
            "company_id",
            "public_key",
            "private_key",
            "client_id",
        ];
        assert_eq!(suggest("sitee", &keys), Some("site"));
        assert_eq!(suggest("privat_key", &keys), Some("private_key"));
        assert_eq!(suggest("ClientId", &keys), Some("client_id"));
        assert_eq!(suggest("flood", &keys), None);
    }

    #[test]
    fn keys_are_taken_out_at_any_depth() {
        let text = "[server]\nlisten = 1\n[[clients]]\nname = \"A\"\n[[clients]]\nname = \"B\"\nconnectwise = { board = 3, team_id = 2 }\n";
        let out = without_key(text, "clients[1].connectwise.board").unwrap();
        assert!(out.contains("{ team_id = 2 }"), "{out}");
        let out = without_key(text, "server.listen").unwrap();
        assert!(!out.contains("listen"), "{out}");
        assert!(without_key(text, "clients[5].name").is_none());
    }
}

//! Maps a key path such as `clients[1].connectwise.board_id` to the line it was written on, so that
//! validation errors point into the file. Uses toml_edit's spans; a key that is missing (a required
//! value left out) is reported at the line of the nearest enclosing table that exists.

use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

/// Line lookup over one parsed file.
pub struct LineIndex {
    text: String,
    document: Option<Document<String>>,
}

pub(super) enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

impl LineIndex {
    /// Indexes `text`. A text toml_edit cannot parse simply has no lines to give.
    pub fn new(text: &str) -> LineIndex {
        LineIndex {
            text: text.to_string(),
            document: Document::parse(text.to_string()).ok(),
        }
    }

    /// 1-based line of the deepest part of `path` present in the file.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        self.position_of(path).map(|(line, _)| line)
    }

    /// 1-based (line, column) of the deepest part of `path` present in the file.
    pub fn position_of(&self, path: &str) -> Option<(usize, usize)> {
        let document = self.document.as_ref()?;
        let mut item: &Item = document.as_item();
        let mut best: Option<usize> = None;
        for segment in parse_path(path) {
            let next = match segment {
                Segment::Key(key) => {
                    let Some((key, child)) = item
                        .as_table_like()
                        .and_then(|table| table.get_key_value(key))
                    else {
                        break;
                    };
                    if let Some(span) = key.span() {
                        best = Some(span.start);
                    }
                    child
                }
                Segment::Index(index) => {
                    let Some(child) = item.get(index) else {
                        break;
                    };
                    let span = match child {
                        Item::Table(table) => table.span(),
                        other => other.span(),
                    };
                    if let Some(span) = span {
                        best = Some(span.start);
                    }
                    child
                }
            };
            item = next;
        }
        best.map(|offset| line_column(&self.text, offset))
    }
}

impl LineIndex {
    /// The key path (`clients[0].connectwise.board_id`) of the key or value at byte `offset`, used to
    /// name the key in serde's type and unknown-field errors.
    pub fn path_at(&self, offset: usize) -> Option<String> {
        let document = self.document.as_ref()?;
        let segments = find_in_table(document.as_table(), offset)?;
        let mut path = String::new();
        for segment in segments {
            match segment {
                Found::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&key);
                }
                Found::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        (!path.is_empty()).then_some(path)
    }
}

enum Found {
    Key(String),
    Index(usize),
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|span| span.contains(&offset))
}

fn find_in_table(table: &dyn TableLike, offset: usize) -> Option<Vec<Found>> {
    for (name, _) in table.iter() {
        let Some((key, child)) = table.get_key_value(name) else {
            continue;
        };
        if let Some(mut inner) = find_in_item(child, offset) {
            inner.insert(0, Found::Key(name.to_string()));
            return Some(inner);
        }
        if contains(key.span(), offset) {
            return Some(vec![Found::Key(name.to_string())]);
        }
    }
    None
}

fn find_in_item(item: &Item, offset: usize) -> Option<Vec<Found>> {
    match item {
        Item::None => None,
        Item::Value(value) => find_in_value(value, offset),
        Item::Table(table) => find_in_table(table, offset),
        Item::ArrayOfTables(tables) => tables.iter().enumerate().find_map(|(index, table)| {
            find_in_table(table, offset).map(|mut inner| {
                inner.insert(0, Found::Index(index));
                inner
            })
        }),
    }
}

fn find_in_value(value: &Value, offset: usize) -> Option<Vec<Found>> {
    let inner = match value {
        Value::InlineTable(table) => find_in_table(table, offset),
        Value::Array(array) => array.iter().enumerate().find_map(|(index, element)| {
            find_in_value(element, offset).map(|mut inner| {
                inner.insert(0, Found::Index(index));
                inner
            })
        }),
        _ => None,
    };
    inner.or_else(|| contains(value.span(), offset).then(Vec::new))
}

/// 1-based (line, column) of a byte offset; the column counts characters.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut boundary = offset;
    while !text.is_char_boundary(boundary) {
        boundary -= 1;
    }
    let before = &text[..boundary];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

pub(super) fn parse_path(path: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(index) => (&part[..index], &part[index..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segments.push(Segment::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            if let Ok(index) = stripped[..end].parse() {
                segments.push(Segment::Index(index));
            }
            rest = &stripped[end + 1..];
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]
listen = \"x\"
api_tokens = [
  \"a\",
  \"b\",
]

[[clients]]
name = \"A\"

[[clients]]
name = \"B\"
connectwise = { board_id = 0 }
";

    #[test]
    fn finds_keys_tables_and_array_items() {
        let index = LineIndex::new(TEXT);
        assert_eq!(index.line_of("server.listen"), Some(2));
        assert_eq!(index.line_of("server.api_tokens[1]"), Some(5));
        assert_eq!(index.line_of("clients[1].name"), Some(12));
        assert_eq!(index.line_of("clients[1].connectwise.board_id"), Some(13));
        assert_eq!(index.line_of("clients[1].email"), Some(11));
        assert_eq!(index.line_of("server.database"), Some(1));
        assert_eq!(index.line_of("rules.update_interval"), None);
    }

    #[test]
    fn finds_the_path_at_an_offset() {
        let index = LineIndex::new(TEXT);
        let at = |needle: &str| TEXT.find(needle).unwrap();
        assert_eq!(
            index.path_at(at("listen")).as_deref(),
            Some("server.listen")
        );
        assert_eq!(
            index.path_at(at("\"b\"")).as_deref(),
            Some("server.api_tokens[1]")
        );
        assert_eq!(
            index.path_at(at("board_id")).as_deref(),
            Some("clients[1].connectwise.board_id")
        );
        assert_eq!(
            index.path_at(at("0 }")).as_deref(),
            Some("clients[1].connectwise.board_id")
        );
        assert_eq!(
            index.path_at(at("\"B\"")).as_deref(),
            Some("clients[1].name")
        );
        assert_eq!(index.path_at(0), None);
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}

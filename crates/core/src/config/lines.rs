//! Maps a key path such as `clients[1].connectwise.board_id` to the line it was written on, so that
//! validation errors point into the file. Uses toml_edit's spans; a key that is missing (a required
//! value left out) is reported at the line of the nearest enclosing table that exists.

use toml_edit::{Document, Item};

/// Line lookup over one parsed file.
pub struct LineIndex {
    text: String,
    document: Option<Document<String>>,
}

enum Segment<'a> {
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
        best.map(|offset| line_column(&self.text, offset).0)
    }
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

fn parse_path(path: &str) -> Vec<Segment<'_>> {
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
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}

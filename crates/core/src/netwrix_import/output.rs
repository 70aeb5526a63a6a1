//! Writes the imported settings as TOML text: fixed section order, comments that explain what the
//! user still has to do, and values quoted by toml_edit so any text the vendor file held stays valid.

use std::fmt::Write;

/// One `key = value` line with an optional trailing comment and optional comment lines above it.
#[derive(Debug, Clone)]
pub struct Line {
    pub key: String,
    pub value: String,
    pub trailing_comment: Option<String>,
    pub comments_above: Vec<String>,
}

impl Line {
    pub fn new(key: &str, value: String) -> Line {
        Line {
            key: key.to_string(),
            value,
            trailing_comment: None,
            comments_above: Vec::new(),
        }
    }

    pub fn with_trailing(mut self, comment: Option<String>) -> Line {
        self.trailing_comment = comment;
        self
    }

    pub fn with_above(mut self, comment: &str) -> Line {
        self.comments_above.push(comment.to_string());
        self
    }
}

/// A `[table]` or `[[array]]` with its lines.
#[derive(Debug, Clone)]
pub struct Section {
    pub header: String,
    pub comments_above: Vec<String>,
    pub lines: Vec<Line>,
}

impl Section {
    pub fn new(header: &str) -> Section {
        Section {
            header: header.to_string(),
            comments_above: Vec::new(),
            lines: Vec::new(),
        }
    }

    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    /// Whether a line sets `key` already (a key written twice is not TOML).
    pub fn has(&self, key: &str) -> bool {
        self.lines.iter().any(|line| line.key == key)
    }
}

/// A TOML string literal for `text`.
pub fn string(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_string()
}

/// Renders the document.
pub fn render(header_comments: &[&str], sections: &[Section]) -> String {
    let mut out = String::new();
    for comment in header_comments {
        comment_line(&mut out, comment);
    }
    for section in sections {
        out.push('\n');
        for comment in &section.comments_above {
            comment_line(&mut out, comment);
        }
        let _ = writeln!(out, "{}", section.header);
        for line in &section.lines {
            for comment in &line.comments_above {
                comment_line(&mut out, comment);
            }
            let _ = write!(out, "{} = {}", line.key, line.value);
            if let Some(comment) = &line.trailing_comment {
                let _ = write!(out, "  # {}", one_line(comment));
            }
            out.push('\n');
        }
    }
    out
}

fn comment_line(out: &mut String, comment: &str) {
    if comment.is_empty() {
        out.push_str("#\n");
    } else {
        let _ = writeln!(out, "# {}", one_line(comment));
    }
}

/// Comments must stay on one line whatever the vendor file held, and hold no control character
/// (TOML refuses them in a comment): each becomes a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!(string("plain"), "\"plain\"");
        let quoted = string("a \"b\"\nc\\d");
        let parsed: toml::Table = toml::from_str(&format!("x = {quoted}")).unwrap();
        assert_eq!(parsed["x"].as_str(), Some("a \"b\"\nc\\d"));
    }

    #[test]
    fn comments_cannot_break_out_of_their_line() {
        let mut section = Section::new("[a]");
        section.push(Line::new("k", "1".into()).with_trailing(Some("two\nlines = 3".into())));
        let text = render(&["head"], &[section]);
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["a"].as_table().unwrap().len(), 1);
    }

    #[test]
    fn control_characters_in_comments_become_spaces() {
        let mut section = Section::new("[a]");
        section.comments_above = vec!["above\u{1}it".into()];
        section.push(
            Line::new("board_id", "1".into())
                .with_trailing(Some("Professional\u{1a}Services\u{7f}".into())),
        );
        let text = render(&["head\u{0}er"], &[section]);
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["a"]["board_id"].as_integer(), Some(1));
        assert!(
            text.contains("board_id = 1  # Professional Services\n"),
            "{text}"
        );
        assert!(
            text.contains("# above it\n") && text.contains("# head er\n"),
            "{text}"
        );
    }
}

//! A small element tree read from the vendor's settings files.
//!
//! The files are tiny, their root element names are not public and their element names vary in case,
//! so the importer reads them into a tree first and then looks children up case-insensitively. Every
//! element remembers its line so a setting that is not carried over can be pointed at. Comments are
//! kept too: the vendor's wizard writes the name of a referenced company or board as a comment next to
//! its id, which the importer carries into the TOML.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::ImportError;
use crate::config::line_column;

/// One element: its local name, its own text, its children and the comments among them.
#[derive(Debug, Clone, Default)]
pub struct Element {
    /// Local name (namespace prefix removed).
    pub name: String,
    /// The element's direct text, entities resolved, CDATA included.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Comments inside the element, each with the number of child elements that precede it.
    pub comments: Vec<(usize, String)>,
    /// 1-based line of the start tag.
    pub line: usize,
}

impl Element {
    /// The first child named `name`, ignoring case.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|child| child.name.eq_ignore_ascii_case(name))
    }

    /// Every child named `name`, ignoring case.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children
            .iter()
            .filter(move |child| child.name.eq_ignore_ascii_case(name))
    }

    /// The trimmed text of the child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|child| child.text.trim())
    }

    /// Comments that come before the child named `name`.
    pub fn comments_before(&self, name: &str) -> Vec<&str> {
        let position = self
            .children
            .iter()
            .position(|child| child.name.eq_ignore_ascii_case(name))
            .unwrap_or(self.children.len());
        self.comments
            .iter()
            .filter(|(index, _)| *index <= position)
            .map(|(_, text)| text.trim())
            .filter(|text| !text.is_empty())
            .collect()
    }
}

/// Parses `text` into its root element. `file` names the input in errors.
pub fn parse(text: &str, file: &str) -> Result<Element, ImportError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let error_at = |offset: u64, message: String| {
        let (line, column) = line_column(text, usize::try_from(offset).unwrap_or(usize::MAX));
        ImportError {
            file: file.to_string(),
            line,
            column,
            message,
        }
    };
    loop {
        let position_before = reader.buffer_position();
        let event = reader.read_event().map_err(|error| {
            error_at(reader.error_position(), format!("malformed XML: {error}"))
        })?;
        let element_line = || line_column(text, start_of_tag(text, position_before)).0;
        match event {
            Event::Start(start) => {
                if root.is_some() && stack.is_empty() {
                    return Err(error_at(
                        position_before,
                        "more than one root element".to_string(),
                    ));
                }
                stack.push(Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    line: element_line(),
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    line: element_line(),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => {
                        return Err(error_at(
                            position_before,
                            "more than one root element".to_string(),
                        ))
                    }
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| {
                    error_at(
                        position_before,
                        "closing tag without an opening tag".to_string(),
                    )
                })?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(content) => {
                let decoded = content.decode().map_err(|error| {
                    error_at(position_before, format!("text is not valid: {error}"))
                })?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => {
                        return Err(error_at(
                            position_before,
                            "text outside the root element".to_string(),
                        ))
                    }
                }
            }
            Event::CData(content) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&content));
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                } else {
                    let name = String::from_utf8_lossy(&reference).into_owned();
                    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
                };
                let Some(resolved) = resolved else {
                    return Err(error_at(
                        position_before,
                        format!("unknown entity &{};", String::from_utf8_lossy(&reference)),
                    ));
                };
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&resolved);
                }
            }
            Event::Comment(comment) => {
                if let Some(current) = stack.last_mut() {
                    let text = String::from_utf8_lossy(&comment).into_owned();
                    let index = current.children.len();
                    current.comments.push((index, text));
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(ImportError {
            file: file.to_string(),
            line: open.line,
            column: 1,
            message: format!("element <{}> is never closed", open.name),
        });
    }
    root.ok_or_else(|| error_at(0, "the file holds no XML element".to_string()))
}

/// The offset of the `<` that starts the tag read after `position` (skipping whitespace).
fn start_of_tag(text: &str, position: u64) -> usize {
    let start = usize::try_from(position)
        .unwrap_or(text.len())
        .min(text.len());
    text[start..]
        .find('<')
        .map_or(start, |offset| start + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_text_comments_and_lines() {
        let text = "<?xml version=\"1.0\"?>\n<Root xmlns=\"urn:x\">\n  <a:Site xmlns:a=\"urn:a\">x &amp; y&#33;</a:Site>\n  <Ref>\n    <!--Professional Services-->\n    <Value>1</Value> <!-- after -->\n  </Ref>\n  <Empty/>\n  <Data><![CDATA[<raw>]]></Data>\n</Root>\n";
        let root = parse(text, "test").unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.line, 2);
        assert_eq!(root.child_text("site"), Some("x & y!"));
        assert_eq!(root.child("SITE").unwrap().line, 3);
        let reference = root.child("ref").unwrap();
        assert_eq!(
            reference.comments_before("Value"),
            vec!["Professional Services"]
        );
        assert_eq!(reference.child("Value").unwrap().line, 6);
        assert_eq!(root.child("empty").unwrap().line, 8);
        assert_eq!(root.child_text("data"), Some("<raw>"));
    }

    #[test]
    fn malformed_xml_gives_file_line_and_column() {
        let error = parse("<Root>\n  <A>1</B>\n</Root>", "itsm-settings").unwrap_err();
        assert_eq!(error.file, "itsm-settings");
        assert_eq!(error.line, 2);
        assert!(error.message.contains("malformed XML"), "{error}");

        let error = parse("<Root>\n  <A>1</A>\n", "connectwise-settings").unwrap_err();
        assert_eq!((error.line, error.column), (1, 1));
        assert!(error.message.contains("<Root> is never closed"), "{error}");

        let error = parse("", "itsm-settings").unwrap_err();
        assert!(error.message.contains("no XML element"), "{error}");

        let error = parse("<A>&bogus;</A>", "x").unwrap_err();
        assert!(error.message.contains("&bogus;"), "{error}");
    }
}

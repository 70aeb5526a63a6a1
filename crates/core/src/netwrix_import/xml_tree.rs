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
    /// Attributes (local names) with their values, entities resolved.
    pub attributes: Vec<(String, String)>,
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

    /// The trimmed value of the attribute named `name`, ignoring case.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    /// A setting written either as a child element (`<X><Name>n</Name></X>`) or as an attribute
    /// (`<X Name="n">`); the child wins.
    pub fn child_or_attribute(&self, name: &str) -> Option<&str> {
        self.child_text(name).or_else(|| self.attribute(name))
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
                    attributes: attributes(&start)
                        .map_err(|message| error_at(position_before, message))?,
                    line: element_line(),
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let element = Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    attributes: attributes(&start)
                        .map_err(|message| error_at(position_before, message))?,
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

/// The attributes of a start tag, namespace declarations left out.
fn attributes(start: &quick_xml::events::BytesStart<'_>) -> Result<Vec<(String, String)>, String> {
    let mut found = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| format!("malformed attribute: {error}"))?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let value = attribute
            .unescape_value()
            .map_err(|error| format!("attribute value is not valid: {error}"))?;
        found.push((
            String::from_utf8_lossy(key.local_name().as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(found)
}

/// Decodes a settings file as the vendor's tools may have saved it: UTF-8 (with or without a byte
/// order mark) or UTF-16 (little or big endian, told by its byte order mark or by the `<?xml`
/// declaration's own bytes). The declaration's `encoding` then no longer applies to the text and is
/// dropped, so the parser reads it as the string it now is.
pub fn decode(bytes: &[u8], file: &str) -> Result<String, ImportError> {
    let refuse = |message: String| ImportError {
        file: file.to_string(),
        line: 1,
        column: 1,
        message,
    };
    let utf16 = |body: &[u8], little: bool| -> Result<String, ImportError> {
        if body.len() % 2 != 0 {
            return Err(refuse(
                "the file looks like UTF-16 but has an odd number of bytes".to_string(),
            ));
        }
        let units = body.chunks_exact(2).map(|pair| {
            if little {
                u16::from_le_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], pair[1]])
            }
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|error| refuse(format!("the file is not valid UTF-16: {error}")))
    };
    let text = match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|error| refuse(format!("the file is not valid UTF-8: {error}")))?,
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true)?,
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false)?,
        [b'<', 0, _, 0, ..] => utf16(bytes, true)?,
        [0, b'<', 0, _, ..] => utf16(bytes, false)?,
        _ => std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|error| {
                refuse(format!(
                    "the file is neither UTF-8 nor UTF-16 with a byte order mark: {error}"
                ))
            })?,
    };
    Ok(without_declared_encoding(
        text.strip_prefix('\u{feff}').unwrap_or(&text),
    ))
}

/// `text` with the `encoding="…"` of its XML declaration removed (the text is decoded already).
fn without_declared_encoding(text: &str) -> String {
    let Some(rest) = text.strip_prefix("<?xml") else {
        return text.to_string();
    };
    let Some(end) = rest.find("?>") else {
        return text.to_string();
    };
    let declaration = &rest[..end];
    let Some(at) = declaration.find("encoding") else {
        return text.to_string();
    };
    let after = &declaration[at + "encoding".len()..];
    let trimmed = after.trim_start().strip_prefix('=').map(str::trim_start);
    let Some(quoted) = trimmed else {
        return text.to_string();
    };
    let Some(quote) = quoted.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return text.to_string();
    };
    let Some(close) = quoted[1..].find(quote) else {
        return text.to_string();
    };
    let consumed = declaration.len() - (quoted.len() - close - 2);
    format!(
        "<?xml{}{}{}",
        declaration[..at].trim_end(),
        &declaration[consumed..],
        &rest[end..]
    )
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
    fn attributes_and_declarations_are_read() {
        let root = parse(
            "<R xmlns:a=\"urn:a\"><P Name=\"initialInternalAnalysis\" a:x='1 &amp; 2'>v</P></R>",
            "t",
        )
        .unwrap();
        let parameter = root.child("p").unwrap();
        assert_eq!(parameter.attribute("name"), Some("initialInternalAnalysis"));
        assert_eq!(parameter.attribute("x"), Some("1 & 2"));
        assert_eq!(
            parameter.child_or_attribute("Name"),
            Some("initialInternalAnalysis")
        );
        assert_eq!(
            without_declared_encoding("<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<R/>"),
            "<?xml version=\"1.0\"?>\n<R/>"
        );
        assert_eq!(
            without_declared_encoding(
                "<?xml version='1.0' encoding='UTF-16' standalone='yes'?><R/>"
            ),
            "<?xml version='1.0' standalone='yes'?><R/>"
        );
        assert_eq!(without_declared_encoding("<R/>"), "<R/>");
    }

    #[test]
    fn utf16_and_byte_order_marks_are_decoded() {
        let text = "<?xml version=\"1.0\" encoding=\"utf-16\"?><R>é</R>";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        for bytes in [le, be] {
            let decoded = decode(&bytes, "f").unwrap();
            assert_eq!(decoded, "<?xml version=\"1.0\"?><R>é</R>");
            assert_eq!(parse(&decoded, "f").unwrap().text, "é");
        }
        let bom8: Vec<u8> = [0xEF, 0xBB, 0xBF].into_iter().chain(*b"<R/>").collect();
        assert_eq!(decode(&bom8, "f").unwrap(), "<R/>");
        let error = decode(&[0xFF, 0xFE, b'<'], "cw.xml").unwrap_err();
        assert_eq!(error.file, "cw.xml");
        assert!(decode(&[b'<', 0xC3], "f").is_err());
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

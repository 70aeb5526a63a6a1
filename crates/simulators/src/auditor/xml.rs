//! Reading and writing the simulator's XML bodies.
//!
//! Requests are read into a small element tree (Auditor ignores element order, so lookups are by
//! local name, namespace ignored); responses are written as text with the documented namespaces.

use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Auditor's activity-record namespace.
pub(crate) const RECORDS_NAMESPACE: &str = "http://schemas.netwrix.com/api/v1/activity_records/";
/// Auditor's error namespace.
pub(crate) const ERRORS_NAMESPACE: &str = "http://schemas.netwrix.com/api/v1/";

/// Deepest nesting accepted from a client; real documents are four levels deep.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
    text: String,
    pub(crate) children: Vec<Element>,
}

impl Element {
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }

    pub(crate) fn text(&self) -> &str {
        self.text.trim()
    }

    pub(crate) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|child| child.text().to_owned())
    }

    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Parses a whole document and returns its root element, or a message for an `XMLError`.
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(bytes);
    let mut buffer = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event_into(&mut buffer).map_err(|error| {
            format!("malformed XML at byte {}: {error}", reader.error_position())
        })?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(element_from(&start)?);
            }
            Event::Empty(start) => {
                let element = element_from(&start)?;
                attach(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| "closing tag without an opening tag".to_owned())?;
                attach(&mut stack, &mut root, element)?;
            }
            Event::Text(text) => {
                let decoded = text
                    .xml_content()
                    .map_err(|error| format!("undecodable XML text: {error}"))?;
                push_text(&mut stack, &decoded);
            }
            Event::CData(data) => {
                let decoded = data
                    .decode()
                    .map_err(|error| format!("undecodable CDATA: {error}"))?;
                push_text(&mut stack, &decoded);
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|error| format!("bad character reference: {error}"))?
                {
                    Some(character) => character.to_string(),
                    None => {
                        let name = reference
                            .decode()
                            .map_err(|error| format!("undecodable entity: {error}"))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown XML entity &{name};"))?
                            .to_owned()
                    }
                };
                push_text(&mut stack, &resolved);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        buffer.clear();
    }
    if !stack.is_empty() {
        return Err("XML document ends inside an element".to_owned());
    }
    root.ok_or_else(|| "empty XML document".to_owned())
}

fn push_text(stack: &mut [Element], text: &str) {
    if let Some(top) = stack.last_mut() {
        top.text.push_str(text);
    }
}

fn element_from(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| format!("bad attribute on <{name}>: {error}"))?;
        let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
        let value = attribute
            .unescape_value()
            .map_err(|error| format!("bad attribute value on <{name}>: {error}"))?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        ..Element::default()
    })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("XML document has more than one root element".to_owned()),
    }
    Ok(())
}

/// Appends `<name>text</name>` with the text escaped.
pub(crate) fn push_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

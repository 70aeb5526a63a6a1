//! A small element tree built from quick-xml events.
//!
//! Auditor's XML documents are tiny and their element order is not guaranteed, so reading them into a
//! tree and looking children up by local name (ignoring the `activity_records/` namespace) is simpler
//! and more tolerant than a streaming state machine.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Deepest nesting accepted; Auditor documents are four levels deep.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Default)]
pub(crate) struct Element {
    pub(crate) name: String,
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

    /// The element's text with surrounding whitespace removed.
    pub(crate) fn text(&self) -> &str {
        self.text.trim()
    }

    pub(crate) fn child_text(&self, name: &str) -> Option<String> {
        self.child(name).map(|child| child.text().to_owned())
    }
}

/// Parses a whole document and returns its root element.
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
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&decoded);
                }
            }
            Event::CData(data) => {
                let decoded = data
                    .decode()
                    .map_err(|error| format!("undecodable CDATA: {error}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&decoded);
                }
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
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
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

fn element_from(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    // Attributes are not read: no Auditor response carries one that matters to mspbridge.
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    Ok(Element {
        name,
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

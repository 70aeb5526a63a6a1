//! `%Name%` templates for ticket summaries, descriptions, correlation lines and alert keys.
//!
//! The vendor add-on fills tickets from templates such as `[Netwrix Auditor] %AlertName%`. Templates are
//! parsed once, when the config is loaded, so an unknown placeholder is a config error that `check`
//! reports with its position rather than text silently left in a ticket.
//!
//! Syntax: `%Name%` where `Name` is a letter followed by letters, digits or `_` is a placeholder and
//! must be one of the allowed names (matched without regard to case, rendered under its canonical
//! spelling). `%%` writes one `%`. Any other `%` (as in `100% sure`, or `50% of 10%`) is kept as
//! literal text: only a `%` that starts a well-formed `%Name%` is a placeholder, so ordinary prose never
//! needs escaping. Values are inserted as they are and never expanded again, so a value containing
//! `%Who%` cannot inject a placeholder.
//!
//! Besides the fixed names, every ticket template may reach an alert's labels, annotations and free
//! fields: `%Label:NAME%`, `%Annotation:NAME%` and `%Field:NAME%` (NAME is letters, digits, `_`, `-`
//! or `.`), and `%Labels%` / `%Annotations%` for all of them as `name=value` lines. A `%` followed by
//! `Label:`, `Annotation:` or `Field:` must form such a placeholder; anything else there (an empty
//! or ill-formed NAME, no closing `%`) is a config error, not literal text, so a typo cannot leave
//! `%Label:customer` in a ticket.

use std::fmt;

/// Placeholders every ticket template may use (DESIGN §3.6).
pub const TICKET_PLACEHOLDERS: &[&str] = &[
    "AlertName",
    "Who",
    "Action",
    "ObjectType",
    "What",
    "When",
    "Where",
    "Workstation",
    "Details",
    "DataSource",
    "MonitoringPlanName",
    "Item",
    "Computer",
    "Client",
    "Source",
    "Labels",
    "Annotations",
];

/// Prefixes of the placeholders that name one label, annotation or free field: `%Label:NAME%`.
pub const LOOKUP_PREFIXES: &[&str] = &["Label", "Annotation", "Field"];

/// ConnectWise's limit on a ticket summary, in UTF-16 code units; see [`truncate_utf16`].
pub const SUMMARY_MAX_UTF16_UNITS: usize = 100;

/// The extra placeholder of correlation lines: the earlier ticket's id.
pub const CORRELATION_PLACEHOLDER: &str = "id";

/// Which placeholders a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// Summaries, descriptions and alert keys: [`TICKET_PLACEHOLDERS`].
    Ticket,
    /// Correlation lines: [`TICKET_PLACEHOLDERS`] plus `%id%`.
    Correlation,
}

impl TemplateKind {
    /// The canonical spelling of `name` if this kind allows it (case-insensitive match).
    fn canonical(self, name: &str) -> Option<&'static str> {
        let correlation = match self {
            TemplateKind::Correlation => Some(CORRELATION_PLACEHOLDER),
            TemplateKind::Ticket => None,
        };
        TICKET_PLACEHOLDERS
            .iter()
            .copied()
            .chain(correlation)
            .find(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    /// The allowed names, for error messages.
    pub fn allowed(self) -> Vec<&'static str> {
        let mut names = TICKET_PLACEHOLDERS.to_vec();
        if self == TemplateKind::Correlation {
            names.push(CORRELATION_PLACEHOLDER);
        }
        names
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Placeholder(&'static str),
    /// `%Label:NAME%` and the like, kept as `Label:NAME` (canonical prefix, name as written).
    Lookup(String),
}

/// A parsed template. Compare and print it through [`Template::source`].
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    kind: TemplateKind,
    segments: Vec<Segment>,
}

/// A template that uses a placeholder its kind does not allow, or a malformed `%Label:NAME%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The name between the `%` signs, as written.
    pub name: String,
    /// 1-based character position of the opening `%`.
    pub position: usize,
    /// The names that would have been accepted.
    pub allowed: Vec<&'static str>,
    /// For a malformed `%Label:…%`-style placeholder: what is wrong with it.
    pub malformed: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(problem) = &self.malformed {
            return write!(
                f,
                "malformed placeholder \"{}\" at character {}: {problem}; write %Label:NAME%, \
                 %Annotation:NAME% or %Field:NAME% with NAME made of letters, digits, _, - or .",
                self.name, self.position
            );
        }
        let allowed: Vec<String> = self
            .allowed
            .iter()
            .map(|name| format!("%{name}%"))
            .collect();
        write!(
            f,
            "unknown placeholder %{}% at character {}; allowed: {}, %Label:NAME%, \
             %Annotation:NAME%, %Field:NAME%",
            self.name,
            self.position,
            allowed.join(", ")
        )
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parses `text`, allowing the placeholders of `kind`.
    pub fn parse(text: &str, kind: TemplateKind) -> Result<Template, TemplateError> {
        let chars: Vec<char> = text.chars().collect();
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut index = 0;
        while index < chars.len() {
            let current = chars[index];
            if current != '%' {
                literal.push(current);
                index += 1;
                continue;
            }
            if chars.get(index + 1) == Some(&'%') {
                literal.push('%');
                index += 2;
                continue;
            }
            if let Some(lookup) = lookup_at(&chars, index) {
                let (canonical, consumed) = lookup.map_err(|(shown, problem)| TemplateError {
                    name: shown,
                    position: index + 1,
                    allowed: kind.allowed(),
                    malformed: Some(problem),
                })?;
                if !literal.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Lookup(canonical));
                index += consumed;
                continue;
            }
            match placeholder_at(&chars, index) {
                Some(name) => {
                    let canonical = kind.canonical(&name).ok_or_else(|| TemplateError {
                        name: name.clone(),
                        position: index + 1,
                        allowed: kind.allowed(),
                        malformed: None,
                    })?;
                    if !literal.is_empty() {
                        segments.push(Segment::Text(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Placeholder(canonical));
                    index += name.chars().count() + 2;
                }
                None => {
                    literal.push('%');
                    index += 1;
                }
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Text(literal));
        }
        Ok(Template {
            source: text.to_string(),
            kind,
            segments,
        })
    }

    /// Fills the template. `lookup` gets canonical names (`AlertName`, `id`, `Labels`) and, for
    /// the label/annotation/field placeholders, `Label:NAME`, `Annotation:NAME` or `Field:NAME`
    /// with NAME as written; a `None` renders empty.
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> String {
        let mut rendered = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => rendered.push_str(text),
                Segment::Placeholder(name) => {
                    if let Some(value) = lookup(name) {
                        rendered.push_str(&value);
                    }
                }
                Segment::Lookup(name) => {
                    if let Some(value) = lookup(name) {
                        rendered.push_str(&value);
                    }
                }
            }
        }
        rendered
    }

    /// The text as written in the config.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The kind it was parsed as.
    pub fn kind(&self) -> TemplateKind {
        self.kind
    }

    /// The canonical names of the placeholders it uses, in order of appearance.
    pub fn placeholders(&self) -> Vec<&'static str> {
        self.segments
            .iter()
            .filter_map(|segment| match segment {
                Segment::Placeholder(name) => Some(*name),
                Segment::Lookup(name) => LOOKUP_PREFIXES
                    .iter()
                    .copied()
                    .find(|prefix| name.starts_with(&format!("{prefix}:"))),
                Segment::Text(_) => None,
            })
            .collect()
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// If `chars[start]` opens a `%Label:`, `%Annotation:` or `%Field:` placeholder (prefix in any
/// case): `Ok((canonical "Prefix:NAME", characters consumed))`, or `Err((text as written, problem))`
/// when it is malformed. `None` when no such prefix follows.
#[allow(clippy::type_complexity)]
fn lookup_at(chars: &[char], start: usize) -> Option<Result<(String, usize), (String, String)>> {
    let prefix = LOOKUP_PREFIXES.iter().copied().find(|prefix| {
        let end = start + 1 + prefix.len();
        end < chars.len()
            && chars[start + 1..end]
                .iter()
                .zip(prefix.chars())
                .all(|(written, expected)| written.eq_ignore_ascii_case(&expected))
            && chars[end] == ':'
    })?;
    let name_start = start + 1 + prefix.len() + 1;
    let mut name = String::new();
    let mut closed = false;
    for &current in &chars[name_start..] {
        if current == '%' {
            closed = true;
            break;
        }
        if current == '\n' || name.chars().count() > 200 {
            break;
        }
        name.push(current);
    }
    let shown = format!("%{prefix}:{name}{}", if closed { "%" } else { "" });
    if !closed {
        return Some(Err((shown, "it has no closing %".to_string())));
    }
    if name.is_empty() {
        return Some(Err((
            shown,
            "the name after the colon is empty".to_string(),
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(Err((shown, format!("the name contains {bad:?}"))));
    }
    let consumed = 1 + prefix.len() + 1 + name.chars().count() + 1;
    Some(Ok((format!("{prefix}:{name}"), consumed)))
}

/// If `chars[start]` opens a well-formed `%Name%`, the name.
fn placeholder_at(chars: &[char], start: usize) -> Option<String> {
    let first = *chars.get(start + 1)?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let mut name = String::new();
    for &current in &chars[start + 1..] {
        if current == '%' {
            return Some(name);
        }
        if !(current.is_ascii_alphanumeric() || current == '_') {
            return None;
        }
        name.push(current);
    }
    None
}

/// The longest prefix of `s`, cut on a character boundary, that is at most `max_units` UTF-16 code
/// units long. ConnectWise (.NET) measures field limits in UTF-16 units, so a character outside the
/// Basic Multilingual Plane counts twice.
pub fn truncate_utf16(s: &str, max_units: usize) -> &str {
    let mut units = 0;
    for (byte_index, character) in s.char_indices() {
        units += character.len_utf16();
        if units > max_units {
            return &s[..byte_index];
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(name: &str) -> Option<String> {
        match name {
            "AlertName" => Some("Password Reset".into()),
            "Who" => Some("ACME\\jsmith".into()),
            "id" => Some("1234".into()),
            "Details" => Some("%Who% injected?".into()),
            _ => None,
        }
    }

    fn render(text: &str, kind: TemplateKind) -> String {
        Template::parse(text, kind).unwrap().render(values)
    }

    #[test]
    fn renders_placeholders_literals_and_missing_values() {
        let cases = [
            ("[mspbridge] %AlertName%", "[mspbridge] Password Reset"),
            ("Who: %Who%\nWhere: %Where%", "Who: ACME\\jsmith\nWhere: "),
            ("%alertname%", "Password Reset"),
            ("100% sure", "100% sure"),
            ("50% of 10%", "50% of 10%"),
            ("100%% sure %%Who%%", "100% sure %Who%"),
            ("%", "%"),
            ("%%%Who%", "%ACME\\jsmith"),
            ("% Who %", "% Who %"),
            ("trailing %Who", "trailing %Who"),
            ("%1%", "%1%"),
            ("Details: %Details%", "Details: %Who% injected?"),
            ("", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(render(text, TemplateKind::Ticket), expected, "{text:?}");
        }
    }

    #[test]
    fn id_is_allowed_only_in_correlation_templates() {
        let line = "Previous incident for the same alert type: Id: %id%";
        assert_eq!(
            render(line, TemplateKind::Correlation),
            "Previous incident for the same alert type: Id: 1234"
        );
        let error = Template::parse(line, TemplateKind::Ticket).unwrap_err();
        assert_eq!(error.name, "id");
        assert_eq!(error.position, 48);
    }

    #[test]
    fn unknown_placeholder_is_named_with_its_position() {
        let error =
            Template::parse("Alert: %AlertDescription% now", TemplateKind::Ticket).unwrap_err();
        assert_eq!(error.name, "AlertDescription");
        assert_eq!(error.position, 8);
        let message = error.to_string();
        assert!(
            message.starts_with("unknown placeholder %AlertDescription% at character 8; allowed: %AlertName%, %Who%"),
            "{message}"
        );
        let error = Template::parse("é%Nope%", TemplateKind::Correlation).unwrap_err();
        assert_eq!(error.position, 2);
        assert!(error.to_string().contains("%id%"));
    }

    #[test]
    fn keeps_its_source_and_lists_placeholders() {
        let template = Template::parse("%who% did %Action% (100%)", TemplateKind::Ticket).unwrap();
        assert_eq!(template.source(), "%who% did %Action% (100%)");
        assert_eq!(template.placeholders(), vec!["Who", "Action"]);
        assert_eq!(
            format!("{template:?}"),
            "Template(\"%who% did %Action% (100%)\")"
        );
    }

    #[test]
    fn truncate_utf16_counts_surrogate_pairs() {
        assert_eq!(truncate_utf16("abcdef", 3), "abc");
        assert_eq!(truncate_utf16("abc", 10), "abc");
        assert_eq!(truncate_utf16("ab😀c", 3), "ab");
        assert_eq!(truncate_utf16("ab😀c", 4), "ab😀");
        assert_eq!(truncate_utf16("éé", 1), "é");
        assert_eq!(truncate_utf16("x", 0), "");
    }

    proptest! {
        #[test]
        fn truncation_is_a_maximal_prefix_within_the_limit(s in "\\PC{0,60}", max in 0usize..80) {
            let cut = truncate_utf16(&s, max);
            prop_assert!(s.starts_with(cut));
            let units = cut.encode_utf16().count();
            prop_assert!(units <= max);
            if cut.len() < s.len() {
                let next = s[cut.len()..].chars().next().unwrap();
                prop_assert!(units + next.len_utf16() > max);
            }
        }

        #[test]
        fn errors_point_at_a_percent_sign(s in "[a-zA-Z %_0-9é]{0,40}") {
            if let Err(error) = Template::parse(&s, TemplateKind::Ticket) {
                let character = s.chars().nth(error.position - 1);
                prop_assert_eq!(character, Some('%'));
                let expected = format!("%{}%", error.name);
                prop_assert!(s.contains(&expected));
            }
        }

        #[test]
        fn known_placeholders_render_their_values(index in 0usize..15, prefix in "[a-z ]{0,10}", suffix in "[a-z ]{0,10}") {
            let name = TICKET_PLACEHOLDERS[index];
            let template = Template::parse(&format!("{prefix}%{name}%{suffix}"), TemplateKind::Ticket).unwrap();
            let rendered = template.render(|asked| (asked == name).then(|| "<v>".to_string()));
            prop_assert_eq!(rendered, format!("{prefix}<v>{suffix}"));
        }

        #[test]
        fn parsing_never_panics_and_plain_text_round_trips(s in "[^%]{0,40}") {
            let template = Template::parse(&s, TemplateKind::Ticket).unwrap();
            prop_assert_eq!(template.render(|_| None), s);
        }
    }
}

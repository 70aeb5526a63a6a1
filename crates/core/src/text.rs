//! Text hygiene for everything mspbridge shows or sends: ticket text, notes, the console and the
//! command line.
//!
//! Alert text comes from outside and may carry characters that change how the rest of a line is
//! displayed: bidirectional overrides (`Invoice\u{202E}fdp.exe` shows as `Invoiceexe.pdf`),
//! zero-width characters that make two different names look alike or a name look empty, and
//! control characters (NUL, ESC sequences that recolour or rewrite a terminal). The functions here
//! remove the zero-width and control characters and replace every bidirectional control with a
//! visible `[U+202E]` marker, so what is shown is what was sent.

/// Bidirectional formatting characters: embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that take no space and show nothing (zero-width spaces and joiners, word joiner,
/// invisible operators, byte order mark, soft hyphen, Hangul fillers, tag characters, variation
/// selectors).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `text` shows nothing: empty, or only whitespace, control, zero-width and bidirectional
/// characters.
pub fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || c.is_control() || is_invisible(c) || is_bidi_control(c))
}

/// Whether `text` holds anything [`clean`] would change.
pub fn needs_cleaning(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\t') || is_invisible(c) || is_bidi_control(c)
    })
}

/// `text` made safe to show and to send: control characters other than newline and tab removed
/// (a `\r\n` becomes `\n`), zero-width characters removed, bidirectional controls replaced by a
/// visible `[U+XXXX]`.
pub fn clean(text: &str) -> String {
    if !needs_cleaning(text) {
        return text.to_string();
    }
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if is_bidi_control(c) {
            cleaned.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else if c == '\n' || c == '\t' {
            cleaned.push(c);
        } else if c.is_control() || is_invisible(c) {
            continue;
        } else {
            cleaned.push(c);
        }
    }
    cleaned
}

/// [`clean`] for a value shown on one line (a summary, a table cell): line breaks and tabs become
/// spaces as well.
pub fn clean_line(text: &str) -> String {
    clean(text).replace(['\n', '\t'], " ")
}

/// Serialised JSON made safe for a terminal without changing its data: every bidirectional or
/// zero-width character (which in JSON text can only stand inside a string) is written as its
/// `\uXXXX` escape, so a reader decodes the same value and a terminal shows nothing reordered.
/// Control characters need nothing: JSON encoders escape them already.
pub fn escape_invisible_in_json(json: &str) -> String {
    if !json.chars().any(|c| is_invisible(c) || is_bidi_control(c)) {
        return json.to_string();
    }
    let mut escaped = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_invisible(c) || is_bidi_control(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            escaped.push(c);
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_its_value_but_shows_no_bidi_or_zero_width_character() {
        let name = "Invoice\u{202E}fdp.exe\u{200B}\u{E0041}";
        let json = format!("{{\"name\":\"{name}\"}}");
        let escaped = escape_invisible_in_json(&json);
        assert!(!needs_cleaning(&escaped), "{escaped}");
        assert_eq!(
            escaped,
            r#"{"name":"Invoice\u202efdp.exe\u200b\udb40\udc41"}"#
        );
        let decoded: std::collections::HashMap<String, String> =
            serde_json::from_str(&escaped).unwrap();
        assert_eq!(decoded["name"], name);
        assert_eq!(escape_invisible_in_json("{\"a\":1}"), "{\"a\":1}");
    }

    #[test]
    fn blank_means_nothing_visible() {
        for blank in [
            "",
            "  ",
            "\u{200B}",
            "\u{200B}\u{FEFF} \u{2060}",
            "\u{202E}",
            "\t\n",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for visible in ["a", "\u{200B}a", "é", "😀", "-"] {
            assert!(!is_blank(visible), "{visible:?}");
        }
    }

    #[test]
    fn bidi_controls_are_shown_and_the_rest_removed() {
        assert_eq!(clean("Invoice\u{202E}fdp.exe"), "Invoice[U+202E]fdp.exe");
        assert_eq!(clean("\u{0000}\u{001b}[31mred"), "[31mred");
        assert_eq!(clean("pass\u{200B}word"), "password");
        assert_eq!(clean("line 1\r\nline 2\tx"), "line 1\nline 2\tx");
        assert_eq!(clean_line("a\nb\tc"), "a b c");
        assert_eq!(clean("plain ünïcode 😀"), "plain ünïcode 😀");
        assert!(!needs_cleaning("plain ünïcode 😀\n"));
        assert!(needs_cleaning("\u{2066}"));
    }
}

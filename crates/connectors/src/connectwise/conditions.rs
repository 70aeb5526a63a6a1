//! A builder for the `conditions` query language of the ConnectWise API.
//!
//! Conditions often carry values that came from outside (an alert key in `externalXRef`, a company
//! identifier typed by an operator). Building them by string formatting invites a quote in the value
//! to end the string early and change the query, so values only enter through [`CondValue`], which
//! quotes strings (escaping `"` and `\`), brackets datetimes and spells numbers and booleans the way
//! the API expects (NOTES §4).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};

/// A value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CondValue {
    /// A string, sent as `"text"` with `"` and `\` escaped.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A decimal number; non-finite values are sent as `null`, which matches nothing.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A UTC timestamp, sent as `[YYYY-MM-DDTHH:MM:SSZ]`.
    DateTime(DateTime<Utc>),
    /// `null`.
    Null,
}

impl CondValue {
    fn render(&self, out: &mut String) {
        match self {
            CondValue::Text(text) => push_quoted(out, text),
            CondValue::Int(number) => out.push_str(&number.to_string()),
            CondValue::Float(number) if number.is_finite() => out.push_str(&number.to_string()),
            CondValue::Float(_) | CondValue::Null => out.push_str("null"),
            CondValue::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
            CondValue::DateTime(at) => {
                out.push('[');
                out.push_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true));
                out.push(']');
            }
        }
    }
}

/// Writes `text` as a double-quoted string with `"` and `\` escaped by a backslash.
pub fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

impl From<&str> for CondValue {
    fn from(value: &str) -> Self {
        CondValue::Text(value.to_string())
    }
}
impl From<String> for CondValue {
    fn from(value: String) -> Self {
        CondValue::Text(value)
    }
}
impl From<&String> for CondValue {
    fn from(value: &String) -> Self {
        CondValue::Text(value.clone())
    }
}
impl From<i64> for CondValue {
    fn from(value: i64) -> Self {
        CondValue::Int(value)
    }
}
impl From<i32> for CondValue {
    fn from(value: i32) -> Self {
        CondValue::Int(value.into())
    }
}
impl From<u32> for CondValue {
    fn from(value: u32) -> Self {
        CondValue::Int(value.into())
    }
}
impl From<f64> for CondValue {
    fn from(value: f64) -> Self {
        CondValue::Float(value)
    }
}
impl From<bool> for CondValue {
    fn from(value: bool) -> Self {
        CondValue::Bool(value)
    }
}
impl From<DateTime<Utc>> for CondValue {
    fn from(value: DateTime<Utc>) -> Self {
        CondValue::DateTime(value)
    }
}

/// A comparison operator of the conditions language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondOp {
    Eq,
    NotEq,
    Less,
    LessOrEq,
    Greater,
    GreaterOrEq,
    /// `like`, with `%` as the wildcard.
    Like,
    /// `contains`, a substring match.
    Contains,
}

impl CondOp {
    fn as_str(self) -> &'static str {
        match self {
            CondOp::Eq => "=",
            CondOp::NotEq => "!=",
            CondOp::Less => "<",
            CondOp::LessOrEq => "<=",
            CondOp::Greater => ">",
            CondOp::GreaterOrEq => ">=",
            CondOp::Like => "like",
            CondOp::Contains => "contains",
        }
    }
}

/// A complete `conditions` expression: comparisons joined with `and`/`or`.
///
/// Field paths (`summary`, `status/id`, `company/identifier`) come from code, never from input, so a
/// path with characters other than letters, digits, `_`, `/` and `.` is a programming error and
/// panics.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Leaf(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Conditions {
    /// `field op value`.
    ///
    /// # Panics
    /// When `field` is not a field path (see the type's documentation).
    pub fn compare(field: &str, op: CondOp, value: impl Into<CondValue>) -> Conditions {
        let mut text = checked_field(field).to_string();
        text.push(' ');
        text.push_str(op.as_str());
        text.push(' ');
        value.into().render(&mut text);
        Conditions {
            expr: Expr::Leaf(text),
        }
    }

    /// `field = value`.
    pub fn eq(field: &str, value: impl Into<CondValue>) -> Conditions {
        Conditions::compare(field, CondOp::Eq, value)
    }

    /// `field != value`.
    pub fn not_eq(field: &str, value: impl Into<CondValue>) -> Conditions {
        Conditions::compare(field, CondOp::NotEq, value)
    }

    /// `field > value`.
    pub fn greater(field: &str, value: impl Into<CondValue>) -> Conditions {
        Conditions::compare(field, CondOp::Greater, value)
    }

    /// `field < value`.
    pub fn less(field: &str, value: impl Into<CondValue>) -> Conditions {
        Conditions::compare(field, CondOp::Less, value)
    }

    /// `field like "pattern"` (`%` is the wildcard).
    pub fn like(field: &str, pattern: &str) -> Conditions {
        Conditions::compare(field, CondOp::Like, pattern)
    }

    /// `field contains "text"`.
    pub fn contains(field: &str, text: &str) -> Conditions {
        Conditions::compare(field, CondOp::Contains, text)
    }

    /// `field in (v1, v2, …)`. An empty list renders `field in ()`, which matches nothing.
    pub fn is_in<V: Into<CondValue>>(
        field: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Conditions {
        let mut text = checked_field(field).to_string();
        text.push_str(" in (");
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                text.push_str(", ");
            }
            value.into().render(&mut text);
        }
        text.push(')');
        Conditions {
            expr: Expr::Leaf(text),
        }
    }

    /// Both conditions must hold.
    pub fn and(self, other: Conditions) -> Conditions {
        let mut parts = match self.expr {
            Expr::And(parts) => parts,
            expr => vec![expr],
        };
        match other.expr {
            Expr::And(more) => parts.extend(more),
            expr => parts.push(expr),
        }
        Conditions {
            expr: Expr::And(parts),
        }
    }

    /// Either condition may hold.
    pub fn or(self, other: Conditions) -> Conditions {
        let mut parts = match self.expr {
            Expr::Or(parts) => parts,
            expr => vec![expr],
        };
        match other.expr {
            Expr::Or(more) => parts.extend(more),
            expr => parts.push(expr),
        }
        Conditions {
            expr: Expr::Or(parts),
        }
    }

    /// The text sent as the `conditions` parameter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        render_expr(&self.expr, &mut out);
        out
    }
}

impl fmt::Display for Conditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn render_expr(expr: &Expr, out: &mut String) {
    let (parts, joiner) = match expr {
        Expr::Leaf(text) => {
            out.push_str(text);
            return;
        }
        Expr::And(parts) => (parts, " and "),
        Expr::Or(parts) => (parts, " or "),
    };
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.push_str(joiner);
        }
        if matches!(part, Expr::Leaf(_)) {
            render_expr(part, out);
        } else {
            out.push('(');
            render_expr(part, out);
            out.push(')');
        }
    }
}

fn checked_field(field: &str) -> &str {
    let valid = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '.'));
    assert!(valid, "'{field}' is not a ConnectWise field path");
    field
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn strings_are_quoted_and_escaped() {
        let cases: &[(&str, &str)] = &[
            ("plain", r#"externalXRef = "plain""#),
            (r#"say "hi""#, r#"externalXRef = "say \"hi\"""#),
            (r"C:\temp", r#"externalXRef = "C:\\temp""#),
            (
                r#"x" or id > 0 or "y"#,
                r#"externalXRef = "x\" or id > 0 or \"y""#,
            ),
            ("", r#"externalXRef = """#),
        ];
        for (value, expected) in cases {
            assert_eq!(Conditions::eq("externalXRef", *value).render(), *expected);
        }
    }

    #[test]
    fn values_of_every_kind_render_as_the_api_expects() {
        let at = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            Conditions::greater("lastUpdated", at).render(),
            "lastUpdated > [2024-01-02T03:04:05Z]"
        );
        assert_eq!(
            Conditions::eq("closedFlag", false).render(),
            "closedFlag = false"
        );
        assert_eq!(Conditions::eq("board/id", 42).render(), "board/id = 42");
        assert_eq!(
            Conditions::eq("budgetHours", 1.5).render(),
            "budgetHours = 1.5"
        );
        assert_eq!(
            Conditions::eq("owner", CondValue::Null).render(),
            "owner = null"
        );
        assert_eq!(
            Conditions::is_in("status/id", [1, 42]).render(),
            "status/id in (1, 42)"
        );
        assert_eq!(
            Conditions::like("contact/name", "Fred%").render(),
            r#"contact/name like "Fred%""#
        );
        assert_eq!(
            Conditions::contains("summary", "test").render(),
            r#"summary contains "test""#
        );
    }

    #[test]
    fn and_or_group_with_parentheses() {
        let open = Conditions::eq("closedFlag", false);
        let either = Conditions::eq("board/id", 1).or(Conditions::eq("board/id", 2));
        let both = open.and(either).and(Conditions::not_eq("summary", "x"));
        assert_eq!(
            both.render(),
            r#"closedFlag = false and (board/id = 1 or board/id = 2) and summary != "x""#
        );
        let nested = Conditions::eq("a", 1)
            .and(Conditions::eq("b", 2))
            .or(Conditions::eq("c", 3));
        assert_eq!(nested.render(), "(a = 1 and b = 2) or c = 3");
    }

    #[test]
    #[should_panic(expected = "is not a ConnectWise field path")]
    fn field_paths_with_operators_are_refused() {
        Conditions::eq("id = 1 or summary", 1);
    }

    /// Reads a quoted string the way the server does: returns the value and the rest of the input.
    fn read_quoted(input: &str) -> Option<(String, &str)> {
        let mut chars = input.char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => return Some((value, &input[index + 1..])),
                other => value.push(other),
            }
        }
        None
    }

    proptest! {
        #[test]
        fn arbitrary_strings_stay_inside_their_quotes(value in any::<String>()) {
            let rendered = Conditions::eq("externalXRef", value.as_str()).render();
            let quoted = rendered.strip_prefix("externalXRef = ").unwrap();
            let (read, rest) = read_quoted(quoted).unwrap();
            prop_assert_eq!(read, value);
            prop_assert_eq!(rest, "");
        }

        #[test]
        fn strings_in_lists_stay_inside_their_quotes(a in any::<String>(), b in any::<String>()) {
            let rendered = Conditions::is_in("summary", [a.as_str(), b.as_str()]).render();
            let list = rendered.strip_prefix("summary in (").unwrap();
            let (first, rest) = read_quoted(list).unwrap();
            let rest = rest.strip_prefix(", ").unwrap();
            let (second, rest) = read_quoted(rest).unwrap();
            prop_assert_eq!(first, a);
            prop_assert_eq!(second, b);
            prop_assert_eq!(rest, ")");
        }
    }
}

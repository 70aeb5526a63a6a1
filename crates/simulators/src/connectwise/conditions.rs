//! The `conditions` query language of ConnectWise Manage list endpoints, parsed and evaluated.
//!
//! Clients filter every list with strings such as
//! `(board/name = "Help Desk" and closedFlag = false) or lastUpdated > [2024-01-01T00:00:00Z]`.
//! The simulator evaluates the same subset the product relies on against the JSON of each record, so a
//! client that builds a wrong condition sees the same 400 it would get from the real service, and a right
//! one sees only the records it asked for. String comparisons are case-insensitive, as on the real
//! service's SQL Server collation.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// Why a condition string could not be parsed; `position` is the 0-based character offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    pub message: String,
    pub position: usize,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.position)
    }
}

impl std::error::Error for ConditionError {}

/// A literal on the right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
    DateTime(DateTime<Utc>),
    Bool(bool),
    Null,
}

/// Comparison operators of the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare {
        path: Vec<String>,
        op: CompareOp,
        value: Literal,
    },
    Like {
        path: Vec<String>,
        pattern: String,
    },
    Contains {
        path: Vec<String>,
        needle: String,
    },
    In {
        path: Vec<String>,
        values: Vec<Literal>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Text(String),
    Number(f64),
    DateTime(DateTime<Utc>),
    Op(CompareOp),
    LParen,
    RParen,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<(Token, usize)>, ConditionError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |message: String, position: usize| ConditionError { message, position };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((Token::LParen, start));
                i += 1;
            }
            ')' => {
                tokens.push((Token::RParen, start));
                i += 1;
            }
            ',' => {
                tokens.push((Token::Comma, start));
                i += 1;
            }
            '=' => {
                tokens.push((Token::Op(CompareOp::Eq), start));
                i += 1;
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    tokens.push((Token::Op(CompareOp::Ne), start));
                    i += 2;
                } else {
                    return Err(err("expected '=' after '!'".into(), start));
                }
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    tokens.push((Token::Op(CompareOp::Le), start));
                    i += 2;
                }
                Some('>') => {
                    tokens.push((Token::Op(CompareOp::Ne), start));
                    i += 2;
                }
                _ => {
                    tokens.push((Token::Op(CompareOp::Lt), start));
                    i += 1;
                }
            },
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    tokens.push((Token::Op(CompareOp::Ge), start));
                    i += 2;
                } else {
                    tokens.push((Token::Op(CompareOp::Gt), start));
                    i += 1;
                }
            }
            '"' | '\'' => {
                let quote = c;
                i += 1;
                let mut text = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(err("unterminated string literal".into(), start)),
                        Some('\\') if matches!(chars.get(i + 1), Some(&q) if q == quote || q == '\\') =>
                        {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                tokens.push((Token::Text(text), start));
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&x| x == ']')
                    .ok_or_else(|| err("unterminated [datetime] literal".into(), start))?;
                let raw: String = chars[i + 1..i + close].iter().collect();
                let parsed = parse_datetime(raw.trim()).ok_or_else(|| {
                    err(
                        format!("'{raw}' is not a UTC datetime like 2024-01-31T08:00:00Z"),
                        start,
                    )
                })?;
                tokens.push((Token::DateTime(parsed), start));
                i += close + 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let raw: String = chars[start..i].iter().collect();
                let number = raw
                    .parse::<f64>()
                    .map_err(|_| err(format!("'{raw}' is not a number"), start))?;
                tokens.push((Token::Number(number), start));
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '/' | '.'))
                {
                    i += 1;
                }
                tokens.push((Token::Ident(chars[start..i].iter().collect()), start));
            }
            other => return Err(err(format!("unexpected character '{other}'"), start)),
        }
    }
    Ok(tokens)
}

/// Parses a UTC datetime as written in `[...]` or stored in records (`2024-01-31T08:00:00Z`,
/// with or without fractional seconds or an offset).
pub fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(raw) {
        return Some(dt.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(raw.trim_end_matches('Z'), format) {
            return Some(naive.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(_, p)| *p)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ConditionError> {
        Err(ConditionError {
            message: message.into(),
            position: self.position(),
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn parse_or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.parse_and()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.parse_and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.parse_unary()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.parse_unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Condition, ConditionError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Condition::Not(Box::new(self.parse_unary()?)));
        }
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            let inner = self.parse_or()?;
            if self.peek() != Some(&Token::RParen) {
                return self.error("expected ')'");
            }
            self.pos += 1;
            return Ok(inner);
        }
        self.parse_comparison()
    }

    fn parse_comparison(&mut self) -> Result<Condition, ConditionError> {
        let path = match self.peek() {
            Some(Token::Ident(word)) if !is_reserved(word) => {
                word.split('/').map(str::to_owned).collect::<Vec<String>>()
            }
            Some(_) => return self.error("expected a field name such as summary or board/name"),
            None => return self.error("expected a field name but the condition ended"),
        };
        if path.iter().any(String::is_empty) {
            return self.error("a field path has an empty segment");
        }
        self.pos += 1;
        let mut negated = false;
        if self.keyword("not") {
            negated = true;
            self.pos += 1;
        }
        let condition = match self.peek().cloned() {
            Some(Token::Op(op)) if !negated => {
                self.pos += 1;
                let value = self.parse_literal()?;
                Condition::Compare { path, op, value }
            }
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("like") => {
                self.pos += 1;
                let pattern = self.parse_text("like")?;
                Condition::Like { path, pattern }
            }
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("contains") => {
                self.pos += 1;
                let needle = self.parse_text("contains")?;
                Condition::Contains { path, needle }
            }
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("in") => {
                self.pos += 1;
                Condition::In {
                    path,
                    values: self.parse_list()?,
                }
            }
            _ => {
                return self.error(
                    "expected an operator (=, !=, <, <=, >, >=, like, contains, in) after the field name",
                )
            }
        };
        Ok(if negated {
            Condition::Not(Box::new(condition))
        } else {
            condition
        })
    }

    fn parse_text(&mut self, operator: &str) -> Result<String, ConditionError> {
        match self.peek().cloned() {
            Some(Token::Text(text)) => {
                self.pos += 1;
                Ok(text)
            }
            Some(Token::Number(n)) => {
                self.pos += 1;
                Ok(format_number(n))
            }
            _ => self.error(format!("'{operator}' needs a quoted string")),
        }
    }

    fn parse_list(&mut self) -> Result<Vec<Literal>, ConditionError> {
        if self.peek() != Some(&Token::LParen) {
            return self.error("'in' needs a parenthesised list such as (1, 2, 3)");
        }
        self.pos += 1;
        let mut values = vec![self.parse_literal()?];
        loop {
            match self.peek() {
                Some(Token::Comma) => {
                    self.pos += 1;
                    values.push(self.parse_literal()?);
                }
                Some(Token::RParen) => {
                    self.pos += 1;
                    return Ok(values);
                }
                _ => return self.error("expected ',' or ')' in the 'in' list"),
            }
        }
    }

    fn parse_literal(&mut self) -> Result<Literal, ConditionError> {
        let literal = match self.peek().cloned() {
            Some(Token::Text(text)) => Literal::Text(text),
            Some(Token::Number(n)) => Literal::Number(n),
            Some(Token::DateTime(dt)) => Literal::DateTime(dt),
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Ident(word)) if word.eq_ignore_ascii_case("null") => Literal::Null,
            Some(Token::Ident(word)) => {
                return self.error(format!(
                    "'{word}' is not a value; quote strings (\"{word}\") and put datetimes in [brackets]"
                ))
            }
            _ => return self.error("expected a value"),
        };
        self.pos += 1;
        Ok(literal)
    }
}

fn is_reserved(word: &str) -> bool {
    [
        "and", "or", "not", "like", "contains", "in", "true", "false", "null",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(word))
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl Condition {
    /// Parses a condition string; an empty or blank string is an error (callers skip absent filters).
    pub fn parse(input: &str) -> Result<Condition, ConditionError> {
        let tokens = tokenize(input)?;
        let end = input.chars().count();
        if tokens.is_empty() {
            return Err(ConditionError {
                message: "the condition is empty".into(),
                position: 0,
            });
        }
        let mut parser = Parser {
            tokens,
            pos: 0,
            end,
        };
        let condition = parser.parse_or()?;
        if parser.pos < parser.tokens.len() {
            return parser
                .error("unexpected text after the end of the condition (missing 'and'/'or'?)");
        }
        Ok(condition)
    }

    /// Whether `record` satisfies the condition.
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Condition::And(a, b) => a.matches(record) && b.matches(record),
            Condition::Or(a, b) => a.matches(record) || b.matches(record),
            Condition::Not(inner) => !inner.matches(record),
            Condition::Compare { path, op, value } => {
                compare(lookup(record, path), value).is_some_and(|ordering| match op {
                    CompareOp::Eq => ordering == Ordering::Equal,
                    CompareOp::Ne => ordering != Ordering::Equal,
                    CompareOp::Lt => ordering == Ordering::Less,
                    CompareOp::Le => ordering != Ordering::Greater,
                    CompareOp::Gt => ordering == Ordering::Greater,
                    CompareOp::Ge => ordering != Ordering::Less,
                }) || (*op == CompareOp::Ne && ne_with_null(lookup(record, path), value))
            }
            Condition::Like { path, pattern } => text_of(lookup(record, path))
                .is_some_and(|text| like(&text.to_lowercase(), &pattern.to_lowercase())),
            Condition::Contains { path, needle } => text_of(lookup(record, path))
                .is_some_and(|text| text.to_lowercase().contains(&needle.to_lowercase())),
            Condition::In { path, values } => {
                let field = lookup(record, path);
                values
                    .iter()
                    .any(|v| compare(field, v) == Some(Ordering::Equal))
            }
        }
    }
}

/// `x != value` where exactly one side is null is true (SQL `<>` would say unknown, but the service
/// translates `!= null` to `IS NOT NULL` and users expect `!= "x"` to include empty fields).
fn ne_with_null(field: Option<&Value>, value: &Literal) -> bool {
    let field_null = matches!(field, None | Some(Value::Null));
    let value_null = matches!(value, Literal::Null);
    field_null != value_null
}

/// Follows a `a/b/c` path through nested objects, matching member names case-insensitively.
///
/// A single name the record lacks is also looked up in `_info`: the service lets conditions say
/// `lastUpdated > [...]` and `dateEntered < [...]` although responses carry them in `_info`.
pub fn lookup<'a>(record: &'a Value, path: &[String]) -> Option<&'a Value> {
    let found = follow(record, path);
    match (found, path) {
        (None, [single]) if !single.eq_ignore_ascii_case("_info") => {
            follow(record, &["_info".to_owned(), single.clone()])
        }
        _ => found,
    }
}

fn follow<'a>(record: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = record;
    for segment in path {
        let object = current.as_object()?;
        current = match object.get(segment.as_str()) {
            Some(v) => v,
            None => {
                object
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(segment))?
                    .1
            }
        };
    }
    Some(current)
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Orders a record's value against a literal; `None` means the two cannot be compared (no match).
fn compare(field: Option<&Value>, literal: &Literal) -> Option<Ordering> {
    let field = field.unwrap_or(&Value::Null);
    match (field, literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (Value::Number(a), Literal::Number(b)) => a.as_f64()?.partial_cmp(b),
        (Value::String(a), Literal::Number(b)) => a.trim().parse::<f64>().ok()?.partial_cmp(b),
        (Value::Number(a), Literal::Text(b)) => {
            a.as_f64()?.partial_cmp(&b.trim().parse::<f64>().ok()?)
        }
        (Value::String(a), Literal::DateTime(b)) => Some(parse_datetime(a)?.cmp(b)),
        (Value::String(a), Literal::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Value::String(a), Literal::Bool(b)) => Some(a.eq_ignore_ascii_case(&b.to_string()))
            .filter(|eq| *eq)
            .map(|_| Ordering::Equal),
        _ => None,
    }
}

/// SQL `LIKE` with `%` as the only wildcard, on already lower-cased text.
fn like(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(index) => rest = &rest[index + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket() -> Value {
        json!({
            "id": 42,
            "summary": "Password Reset on WS-01",
            "closedFlag": false,
            "board": {"id": 3, "name": "Security Operations"},
            "status": {"id": 31, "name": "New"},
            "contact": null,
            "_info": {"lastUpdated": "2025-03-01T10:00:00Z"}
        })
    }

    fn check(condition: &str, expected: bool) {
        let parsed = Condition::parse(condition)
            .unwrap_or_else(|e| panic!("{condition:?} should parse: {e}"));
        assert_eq!(
            parsed.matches(&ticket()),
            expected,
            "condition {condition:?}"
        );
    }

    #[test]
    fn evaluates_the_supported_operators() {
        let cases = [
            ("id = 42", true),
            ("id != 42", false),
            ("id <> 41", true),
            ("id < 43 and id <= 42 and id > 41 and id >= 42", true),
            ("summary = \"password reset on ws-01\"", true),
            ("summary like \"Password%\"", true),
            ("summary like \"%WS-01\"", true),
            ("summary like \"%Reset%\"", true),
            ("summary like \"Reset%\"", false),
            ("summary not like \"Reset%\"", true),
            ("summary contains \"reset\"", true),
            ("summary contains \"disk\"", false),
            ("status/id in (30, 31)", true),
            ("status/id not in (30, 32)", true),
            ("board/name = \"Security Operations\"", true),
            ("Board/Name = \"security operations\"", true),
            ("closedFlag = false", true),
            ("closedFlag = true", false),
            ("contact = null", true),
            ("contact != null", false),
            ("missing/field = null", true),
            ("summary != \"x\"", true),
            ("_info/lastUpdated > [2025-01-01T00:00:00Z]", true),
            ("_info/lastUpdated < [2025-01-01T00:00:00Z]", false),
            ("lastUpdated > [2025-02-28T23:59:59Z]", true),
            ("LastUpdated >= [2025-03-01T10:00:01Z]", false),
            ("id = 1 OR id = 42", true),
            ("id = 1 or (id = 42 AND closedFlag = true)", false),
            ("not (id = 1)", true),
            (
                "(id = 42 and closedFlag = false) and board/id = 3 or summary contains \"none\"",
                true,
            ),
        ];
        for (condition, expected) in cases {
            check(condition, expected);
        }
    }

    #[test]
    fn handles_escaped_quotes_in_strings() {
        let record = json!({"summary": "say \"hi\""});
        let parsed = Condition::parse(r#"summary = "say \"hi\"""#).unwrap();
        assert!(parsed.matches(&record));
    }

    #[test]
    fn rejects_unparseable_conditions_with_a_position() {
        let cases = [
            ("summary = ", "expected a value"),
            ("summary", "expected an operator"),
            ("summary = \"open", "unterminated string"),
            ("(id = 1", "expected ')'"),
            ("id = 1 id = 2", "unexpected text"),
            ("summary = reset", "is not a value"),
            ("date > [yesterday]", "not a UTC datetime"),
            ("id in 1,2", "parenthesised list"),
            ("id # 3", "unexpected character"),
            ("", "empty"),
        ];
        for (condition, expected) in cases {
            let error = Condition::parse(condition).expect_err(condition);
            assert!(
                error.message.contains(expected),
                "{condition:?}: {} does not mention {expected:?}",
                error.message
            );
        }
        assert_eq!(Condition::parse("id = 1 id = 2").unwrap_err().position, 7);
    }
}

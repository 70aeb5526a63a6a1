//! The small checks validation is made of: one value at a time, each pushing a readable issue with
//! its key path and returning a usable value (the default or a placeholder) so that validation goes on
//! and reports every other mistake too.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::raw::{IntOrText, RawSecret};
use super::types::redact_url_password;
use crate::duration::{from_seconds, parse_duration};
use crate::secret::{SecretSpec, SecretString};
use crate::template::{Template, TemplateKind};

/// How the environment is read while resolving `env:` secrets.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Result<Option<String>, ()>;

/// Collects issues while values are checked.
pub struct Checker<'a> {
    pub issues: Vec<(String, String)>,
    base_dir: Option<&'a Path>,
    env: EnvLookup<'a>,
}

impl<'a> Checker<'a> {
    pub fn new(base_dir: Option<&'a Path>, env: EnvLookup<'a>) -> Checker<'a> {
        Checker {
            issues: Vec::new(),
            base_dir,
            env,
        }
    }

    pub fn issue(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push((path.into(), message.into()));
    }

    /// A required, non-blank string, trimmed.
    pub fn required_text(&mut self, path: &str, value: Option<&String>, hint: &str) -> String {
        match value.map(|text| text.trim()) {
            Some(text) if !text.is_empty() => text.to_string(),
            Some(_) => {
                self.issue(path, format!("must not be empty; {hint}"));
                String::new()
            }
            None => {
                self.issue(path, format!("is required; {hint}"));
                String::new()
            }
        }
    }

    /// An optional string that, when given, is not blank.
    pub fn optional_text(&mut self, path: &str, value: Option<&String>) -> Option<String> {
        let text = value?.trim();
        if text.is_empty() {
            self.issue(
                path,
                "must not be empty when given (leave the key out instead)",
            );
            return None;
        }
        Some(text.to_string())
    }

    /// A duration; `allow_zero` for intervals where 0 means "at once".
    pub fn duration(
        &mut self,
        path: &str,
        value: Option<&IntOrText>,
        default: Duration,
        allow_zero: bool,
    ) -> Duration {
        let parsed = match value {
            None => return default,
            Some(IntOrText::Int(seconds)) => from_seconds(*seconds),
            Some(IntOrText::Text(text)) => parse_duration(text),
        };
        match parsed {
            Ok(duration) if duration.is_zero() && !allow_zero => {
                self.issue(path, "must be longer than zero");
                default
            }
            Ok(duration) => duration,
            Err(error) => {
                self.issue(path, error.to_string());
                default
            }
        }
    }

    /// A positive byte size: an integer, or text such as `10MiB`, `512KB`.
    pub fn bytes(&mut self, path: &str, value: Option<&IntOrText>, default: u64) -> u64 {
        let parsed = match value {
            None => return default,
            Some(IntOrText::Int(number)) => u64::try_from(*number).ok(),
            Some(IntOrText::Text(text)) => parse_byte_size(text),
        };
        match parsed {
            Some(size) if size > 0 => size,
            _ => {
                let shown = match value {
                    Some(IntOrText::Int(number)) => number.to_string(),
                    Some(IntOrText::Text(text)) => format!("\"{text}\""),
                    None => String::new(),
                };
                self.issue(
                    path,
                    format!("{shown} is not a positive size in bytes; write e.g. 1048576, \"512KiB\" or \"10MiB\""),
                );
                default
            }
        }
    }

    /// A count that must be at least 1.
    pub fn count(&mut self, path: &str, value: Option<i64>, default: u32) -> u32 {
        let Some(number) = value else {
            return default;
        };
        match u32::try_from(number) {
            Ok(count) if count > 0 => count,
            _ => {
                self.issue(
                    path,
                    format!(
                        "must be a whole number from 1 to {} (got {number})",
                        u32::MAX
                    ),
                );
                default
            }
        }
    }

    /// A ConnectWise record id: a positive 32-bit integer.
    pub fn record_id(&mut self, path: &str, value: Option<i64>) -> Option<i32> {
        let number = value?;
        match i32::try_from(number) {
            Ok(id) if id > 0 => Some(id),
            _ => {
                self.issue(
                    path,
                    format!(
                        "must be a ConnectWise id, a whole number from 1 to {} (got {number})",
                        i32::MAX
                    ),
                );
                None
            }
        }
    }

    /// A template; an unknown placeholder is an issue at `path`.
    pub fn template(
        &mut self,
        path: &str,
        value: Option<&String>,
        kind: TemplateKind,
        default: &str,
    ) -> Template {
        let text = value.map_or(default, String::as_str);
        match Template::parse(text, kind) {
            Ok(template) => template,
            Err(error) => {
                self.issue(path, error.to_string());
                Template::parse(default, kind).expect("default templates parse")
            }
        }
    }

    /// An optional template with no default.
    pub fn optional_template(
        &mut self,
        path: &str,
        value: Option<&String>,
        kind: TemplateKind,
    ) -> Option<Template> {
        let text = value?;
        match Template::parse(text, kind) {
            Ok(template) => Some(template),
            Err(error) => {
                self.issue(path, error.to_string());
                None
            }
        }
    }

    /// A secret, resolved now.
    pub fn secret(&mut self, path: &str, value: &str) -> SecretString {
        let spec = SecretSpec::parse(value);
        match spec.resolve_with_env(path, self.base_dir, self.env) {
            Ok(secret) => secret,
            Err(error) => {
                let message = error.to_string();
                let prefix = format!("{path}: ");
                let message = message
                    .strip_prefix(&prefix)
                    .unwrap_or(&message)
                    .to_string();
                self.issue(path, message);
                SecretString::default()
            }
        }
    }

    /// A required secret.
    pub fn required_secret(
        &mut self,
        path: &str,
        value: Option<&RawSecret>,
        hint: &str,
    ) -> SecretString {
        match value {
            Some(RawSecret(text)) => self.secret(path, text),
            None => {
                self.issue(path, format!("is required; {hint}"));
                SecretString::default()
            }
        }
    }

    /// An http(s) URL; plain http only to a loopback host, so credentials never cross a network in
    /// clear text.
    pub fn service_url(&mut self, path: &str, text: &str) -> Option<Url> {
        let shown = redact_url_password(text.trim());
        let url = match Url::parse(text.trim()) {
            Ok(url) => url,
            Err(error) => {
                self.issue(
                    path,
                    format!("\"{shown}\" is not a URL ({error}); write e.g. https://host:port"),
                );
                return None;
            }
        };
        if url.password().is_some() || !url.username().is_empty() {
            self.issue(
                path,
                format!("\"{shown}\" must not carry credentials; give them in their own keys"),
            );
            return None;
        }
        match url.scheme() {
            "https" => Some(url),
            "http" if is_loopback(&url) => Some(url),
            "http" => {
                self.issue(
                    path,
                    format!("\"{shown}\" must use https; plain http is allowed only to a loopback address (localhost, 127.0.0.1, ::1)"),
                );
                None
            }
            other => {
                self.issue(
                    path,
                    format!("\"{shown}\" has scheme \"{other}\"; use https://"),
                );
                None
            }
        }
    }

    /// A service URL that names only the site (scheme, host, port): the API paths are added by the
    /// connector, so a pasted API URL would double them.
    pub fn site_url(&mut self, path: &str, text: &str) -> Option<Url> {
        let url = self.service_url(path, text)?;
        if url.path() != "/" || url.query().is_some() {
            self.issue(
                path,
                format!(
                    "\"{}\" must name only the site, e.g. \"https://api-na.myconnectwise.net\"; the API path and codebase are added by mspbridge",
                    text.trim()
                ),
            );
            return None;
        }
        Some(url)
    }

    /// A `Low`/`Medium`/`High` level.
    pub fn level<T>(
        &mut self,
        path: &str,
        value: Option<&String>,
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Option<T> {
        let text = value?;
        let parsed = parse(text);
        if parsed.is_none() {
            self.issue(path, format!("\"{text}\" is not one of {expected}"));
        }
        parsed
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

/// Reads `1048576`, `512KB`, `512KiB`, `10MiB`, `1GiB` (case-insensitive, optional space).
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits_end].parse().ok()?;
    let multiplier: u64 = match text[digits_end..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// Reads a SHA-256 certificate fingerprint: 64 hex digits, optionally separated by `:` or spaces.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let digits: String = text
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if digits.len() == 40 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("is 40 hex digits, a SHA-1 thumbprint (as Windows shows it); give the SHA-256 fingerprint, 64 hex digits".to_string());
    }
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "\"{text}\" is not a SHA-256 fingerprint; give 64 hex digits (\":\" and spaces allowed)"
        ));
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[index * 2..index * 2 + 2], 16)
            .map_err(|error| error.to_string())?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("1048576"), Some(1_048_576));
        assert_eq!(parse_byte_size("10MiB"), Some(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("512 kb"), Some(512_000));
        assert_eq!(parse_byte_size("lots"), None);
        assert_eq!(parse_byte_size("5 parsecs"), None);
    }

    #[test]
    fn fingerprints() {
        let hex = "AB".repeat(32);
        assert_eq!(parse_fingerprint(&hex), Ok([0xab; 32]));
        let with_colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_fingerprint(&with_colons), Ok([0xab; 32]));
        assert!(parse_fingerprint(&"ab".repeat(20))
            .unwrap_err()
            .contains("SHA-1"));
        assert!(parse_fingerprint("zz").is_err());
    }
}

//! Secrets in the configuration: how they are written and how their values are kept out of sight.
//!
//! A secret in the config file is a literal, `env:NAME` or `file:PATH` ([`SecretSpec`]). Resolving it
//! gives a [`SecretString`], whose only way to the value is [`SecretString::expose`]: Debug and Display
//! print `<redacted>`, so a secret cannot leak through a log line, an error or a `{:?}` of the config.
//! Errors name the config key and the variable or file, never the value.

use std::fmt;
use std::path::{Path, PathBuf};

/// What the configuration says about a secret, before it is resolved.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSpec {
    /// The value itself, written in the file (discouraged, but accepted).
    Literal(SecretString),
    /// `env:NAME`: the value of an environment variable.
    Env(String),
    /// `file:PATH`: the contents of a file, one trailing newline trimmed. A relative path is taken
    /// from the directory of the config file.
    File(PathBuf),
}

impl SecretSpec {
    /// Reads the config text of a secret. `env:` and `file:` prefixes select the indirect forms; any
    /// other text is a literal.
    pub fn parse(text: &str) -> SecretSpec {
        if let Some(name) = text.strip_prefix("env:") {
            SecretSpec::Env(name.trim().to_string())
        } else if let Some(path) = text.strip_prefix("file:") {
            SecretSpec::File(PathBuf::from(path.trim()))
        } else {
            SecretSpec::Literal(SecretString::new(text))
        }
    }

    /// Resolves the secret from the process environment or the file system. `key_path` is the config
    /// key (e.g. `connectwise.private_key`) used in error messages; `base_dir` anchors relative paths.
    pub fn resolve(
        &self,
        key_path: &str,
        base_dir: Option<&Path>,
    ) -> Result<SecretString, SecretError> {
        self.resolve_with_env(key_path, base_dir, |name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(()),
        })
    }

    /// Like [`SecretSpec::resolve`], with the environment given as a function: `Ok(None)` for an unset
    /// variable, `Err(())` for a value that is not UTF-8.
    pub fn resolve_with_env(
        &self,
        key_path: &str,
        base_dir: Option<&Path>,
        env: impl Fn(&str) -> Result<Option<String>, ()>,
    ) -> Result<SecretString, SecretError> {
        let key_path = key_path.to_string();
        let value = match self {
            SecretSpec::Literal(value) => value.clone(),
            SecretSpec::Env(name) => {
                if name.is_empty() {
                    return Err(SecretError::EmptyEnvName { key_path });
                }
                match env(name) {
                    Ok(Some(value)) => SecretString::new(value),
                    Ok(None) => {
                        return Err(SecretError::MissingEnv {
                            key_path,
                            name: name.clone(),
                        })
                    }
                    Err(()) => {
                        return Err(SecretError::EnvNotUnicode {
                            key_path,
                            name: name.clone(),
                        })
                    }
                }
            }
            SecretSpec::File(path) => {
                if path.as_os_str().is_empty() {
                    return Err(SecretError::EmptyFilePath { key_path });
                }
                let full_path = match base_dir {
                    Some(base) if path.is_relative() => base.join(path),
                    _ => path.clone(),
                };
                let bytes =
                    std::fs::read(&full_path).map_err(|source| SecretError::UnreadableFile {
                        key_path: key_path.clone(),
                        path: full_path.clone(),
                        reason: source.to_string(),
                    })?;
                let text = String::from_utf8(bytes).map_err(|_| SecretError::FileNotUnicode {
                    key_path: key_path.clone(),
                    path: full_path.clone(),
                })?;
                let trimmed = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                SecretString::new(trimmed)
            }
        };
        if value.expose().is_empty() {
            return Err(SecretError::Empty {
                key_path,
                origin: self.to_string(),
            });
        }
        Ok(value)
    }
}

impl fmt::Display for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSpec::Literal(_) => f.write_str("<redacted>"),
            SecretSpec::Env(name) => write!(f, "env:{name}"),
            SecretSpec::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretSpec({self})")
    }
}

/// A resolved secret value. Debug and Display never show it; [`SecretString::expose`] does.
#[derive(Clone, Default)]
pub struct SecretString {
    value: String,
}

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString {
            value: value.into(),
        }
    }

    /// The value, for the one place that must send it (an HTTP header, a login check).
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Compares with a candidate (e.g. a bearer token) in time that does not depend on where the
    /// two first differ.
    pub fn matches(&self, candidate: &str) -> bool {
        let expected = self.value.as_bytes();
        let candidate = candidate.as_bytes();
        let mut difference = expected.len() ^ candidate.len();
        for (index, byte) in expected.iter().enumerate() {
            let other = candidate.get(index).copied().unwrap_or(0);
            difference |= usize::from(byte ^ other);
        }
        difference == 0
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &SecretString) -> bool {
        self.matches(&other.value)
    }
}

impl Eq for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a secret could not be resolved. Names the key and the variable or file, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `env:` with nothing after it.
    #[error("{key_path}: \"env:\" must be followed by an environment variable name")]
    EmptyEnvName {
        /// The config key.
        key_path: String,
    },
    /// The environment variable is not set.
    #[error("{key_path}: environment variable {name} is not set")]
    MissingEnv {
        /// The config key.
        key_path: String,
        /// The variable.
        name: String,
    },
    /// The environment variable holds bytes that are not UTF-8.
    #[error("{key_path}: environment variable {name} is not valid UTF-8")]
    EnvNotUnicode {
        /// The config key.
        key_path: String,
        /// The variable.
        name: String,
    },
    /// `file:` with nothing after it.
    #[error("{key_path}: \"file:\" must be followed by a file path")]
    EmptyFilePath {
        /// The config key.
        key_path: String,
    },
    /// The file could not be read.
    #[error("{key_path}: cannot read secret file {}: {reason}", path.display())]
    UnreadableFile {
        /// The config key.
        key_path: String,
        /// The file, after joining a relative path to the config directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not UTF-8 text.
    #[error("{key_path}: secret file {} is not valid UTF-8 text", path.display())]
    FileNotUnicode {
        /// The config key.
        key_path: String,
        /// The file.
        path: PathBuf,
    },
    /// The secret resolved to an empty value.
    #[error("{key_path}: the secret ({origin}) is empty")]
    Empty {
        /// The config key.
        key_path: String,
        /// Where it came from, e.g. `env:CW_PRIVATE_KEY`, `<redacted>` for a literal.
        origin: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "s3cr3t-value-do-not-print";

    fn no_env(_: &str) -> Result<Option<String>, ()> {
        Ok(None)
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            SecretSpec::parse("env:CW_PRIVATE_KEY"),
            SecretSpec::Env("CW_PRIVATE_KEY".into())
        );
        assert_eq!(
            SecretSpec::parse("file:/etc/mspbridge/admin.pw"),
            SecretSpec::File("/etc/mspbridge/admin.pw".into())
        );
        assert_eq!(
            SecretSpec::parse(VALUE),
            SecretSpec::Literal(SecretString::new(VALUE))
        );
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let literal = SecretSpec::parse(VALUE);
        let resolved = literal
            .resolve_with_env("server.admin_password", None, no_env)
            .unwrap();
        assert_eq!(resolved.expose(), VALUE);
        for shown in [
            format!("{literal}"),
            format!("{literal:?}"),
            format!("{resolved}"),
            format!("{resolved:?}"),
            format!("{:?}", Some(&resolved)),
        ] {
            assert!(!shown.contains(VALUE), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert_eq!(
            SecretSpec::parse("env:CW_PRIVATE_KEY").to_string(),
            "env:CW_PRIVATE_KEY"
        );
    }

    #[test]
    fn env_secret_resolves_and_missing_variable_names_key_and_variable() {
        let spec = SecretSpec::parse("env:CW_PRIVATE_KEY");
        let value = spec
            .resolve_with_env("connectwise.private_key", None, |name| {
                Ok((name == "CW_PRIVATE_KEY").then(|| VALUE.to_string()))
            })
            .unwrap();
        assert_eq!(value.expose(), VALUE);

        let error = spec
            .resolve_with_env("connectwise.private_key", None, no_env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "connectwise.private_key: environment variable CW_PRIVATE_KEY is not set"
        );
        let error = SecretSpec::parse("env:")
            .resolve_with_env("a.b", None, no_env)
            .unwrap_err();
        assert!(matches!(error, SecretError::EmptyEnvName { .. }));
    }

    #[test]
    fn file_secret_trims_one_trailing_newline_and_uses_the_base_directory() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("admin.pw"), format!("{VALUE}\n")).unwrap();
        let value = SecretSpec::parse("file:admin.pw")
            .resolve_with_env("server.admin_password", Some(directory.path()), no_env)
            .unwrap();
        assert_eq!(value.expose(), VALUE);

        std::fs::write(directory.path().join("crlf.pw"), format!("{VALUE}\r\n")).unwrap();
        let value = SecretSpec::parse("file:crlf.pw")
            .resolve_with_env("x", Some(directory.path()), no_env)
            .unwrap();
        assert_eq!(value.expose(), VALUE);
    }

    #[test]
    fn unreadable_file_names_key_and_path() {
        let error = SecretSpec::parse("file:/nonexistent/mspbridge/admin.pw")
            .resolve_with_env("server.admin_password", None, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "server.admin_password: cannot read secret file /nonexistent/mspbridge/admin.pw"
            ),
            "{error}"
        );
    }

    #[test]
    fn empty_values_are_errors_that_do_not_show_a_literal() {
        let error = SecretSpec::parse("env:EMPTY")
            .resolve_with_env("itglue[0].api_key", None, |_| Ok(Some(String::new())))
            .unwrap_err()
            .to_string();
        assert_eq!(error, "itglue[0].api_key: the secret (env:EMPTY) is empty");
    }

    #[test]
    fn matches_compares_whole_values() {
        let secret = SecretString::new("token-123");
        assert!(secret.matches("token-123"));
        assert!(!secret.matches("token-12"));
        assert!(!secret.matches("token-1234"));
        assert!(!secret.matches(""));
    }
}

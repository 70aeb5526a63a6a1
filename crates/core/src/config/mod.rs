//! The mspbridge configuration file (TOML): reading, validating and the typed result.
//!
//! Loading happens in three steps. serde reads [`raw`] structs that reject unknown keys; a syntax
//! error or an unknown key stops here with its line and column. [`validate`] then checks every value
//! and cross-reference, resolves secrets, and collects *every* issue with its key path and line. Only
//! a config without issues becomes a [`Config`], whose values are already typed (`Url`, `Duration`,
//! `SecretString`, `Template`). Opening connections is left to the caller.

mod checks;
pub mod defaults;
mod lines;
mod raw;
mod routes;
mod sections;
mod syntax;
mod types;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use types::*;

use checks::Checker;
pub use lines::line_column;
use lines::LineIndex;
use raw::RawConfig;
pub use routes::{valid_subject, DEFAULT_SEVERITY_FROM};

/// Environment variable that names the config file when `-c` is not given.
pub const CONFIG_ENV: &str = "MSPBRIDGE_CONFIG";
/// Config file used when neither `-c` nor [`CONFIG_ENV`] is given.
pub const DEFAULT_CONFIG_FILE: &str = "mspbridge.toml";

/// One problem found by validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path, e.g. `clients[1].connectwise.board_id`.
    pub path: String,
    /// 1-based line of the key (or of its table when the key is missing), when known.
    pub line: Option<usize>,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The text is not valid TOML (the earliest error is reported), or has unknown keys or values of
    /// the wrong type (every one is reported: the earliest here, the others in `more`).
    #[error("{origin}:{line}:{column}: {message}{}", format_more(origin, more))]
    Syntax {
        /// File name or other origin of the text.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (characters).
        column: usize,
        /// The parser's message.
        message: String,
        /// Further unknown keys or wrongly typed values, later in the file.
        more: Vec<SyntaxIssue>,
    },
    /// The TOML is well formed but values are wrong; every issue is listed.
    #[error("{}", format_issues(origin, issues))]
    Invalid {
        /// File name or other origin of the text.
        origin: String,
        /// Every issue, in file order where lines are known.
        issues: Vec<ConfigIssue>,
    },
}

/// One unknown key or wrongly typed value, at its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxIssue {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong, starting with the key path.
    pub message: String,
}

fn format_more(origin: &str, more: &[SyntaxIssue]) -> String {
    more.iter()
        .map(|issue| {
            format!(
                "\n{origin}:{}:{}: {}",
                issue.line, issue.column, issue.message
            )
        })
        .collect()
}

fn format_issues(origin: &str, issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(|issue| match issue.line {
            Some(line) => format!("{origin}:{line}: {}: {}", issue.path, issue.message),
            None => format!("{origin}: {}: {}", issue.path, issue.message),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `env:` and relative `file:` secrets are looked up.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// Directory relative `file:` paths are taken from; `None` is the working directory.
    pub base_dir: Option<PathBuf>,
    /// Environment used for `env:` secrets; `None` is the process environment.
    pub env: Option<HashMap<String, String>>,
}

impl fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Option<Vec<&String>> = self.env.as_ref().map(|env| env.keys().collect());
        f.debug_struct("LoadOptions")
            .field("base_dir", &self.base_dir)
            .field("env_names", &names)
            .finish()
    }
}

/// The config file to use: `-c PATH` first, then `MSPBRIDGE_CONFIG`, then `mspbridge.toml`.
pub fn config_path(cli: Option<PathBuf>) -> PathBuf {
    config_path_from(cli, std::env::var_os(CONFIG_ENV).map(PathBuf::from))
}

fn config_path_from(cli: Option<PathBuf>, env: Option<PathBuf>) -> PathBuf {
    cli.or(env.filter(|path| !path.as_os_str().is_empty()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE))
}

/// Reads, parses and validates a config file and resolves its secrets. Relative `file:` secrets are
/// taken from the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let options = LoadOptions {
        base_dir: path.parent().map(Path::to_path_buf),
        env: None,
    };
    parse_str_with(&text, &path.display().to_string(), &options)
}

/// Parses and validates config text; `origin` names it in errors. Secrets come from the process
/// environment and the working directory.
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_str_with(text, origin, &LoadOptions::default())
}

/// Parses and validates config text with explicit secret lookup.
pub fn parse_str_with(
    text: &str,
    origin: &str,
    options: &LoadOptions,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = syntax::parse_raw(text, origin)?;
    let env_lookup = |name: &str| -> Result<Option<String>, ()> {
        match &options.env {
            Some(env) => Ok(env.get(name).cloned()),
            None => match std::env::var(name) {
                Ok(value) => Ok(Some(value)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(()),
            },
        }
    };
    let mut checker = Checker::new(options.base_dir.as_deref(), &env_lookup);
    match validate::validate(&raw, &mut checker) {
        Some(config) => Ok(config),
        None => {
            let index = LineIndex::new(text);
            let mut issues: Vec<ConfigIssue> = checker
                .issues
                .into_iter()
                .map(|(path, message)| ConfigIssue {
                    line: index.line_of(&path),
                    path,
                    message,
                })
                .collect();
            issues.sort_by_key(|issue| issue.line.unwrap_or(usize::MAX));
            Err(ConfigError::Invalid {
                origin: origin.to_string(),
                issues,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_path_prefers_the_flag_then_the_environment() {
        let flag = Some(PathBuf::from("flag.toml"));
        let env = Some(PathBuf::from("env.toml"));
        assert_eq!(
            config_path_from(flag.clone(), env.clone()),
            PathBuf::from("flag.toml")
        );
        assert_eq!(config_path_from(None, env), PathBuf::from("env.toml"));
        assert_eq!(
            config_path_from(None, Some(PathBuf::new())),
            PathBuf::from("mspbridge.toml")
        );
        assert_eq!(
            config_path_from(None, None),
            PathBuf::from("mspbridge.toml")
        );
    }

    #[test]
    fn load_options_debug_shows_names_only() {
        let options = LoadOptions {
            base_dir: None,
            env: Some(HashMap::from([(
                "CW_PRIVATE_KEY".to_string(),
                "hunter2".to_string(),
            )])),
        };
        let shown = format!("{options:?}");
        assert!(
            shown.contains("CW_PRIVATE_KEY") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}

//! Converts the vendor add-on's ConnectWiseSettings.xml and ITSMSettings.xml into an mspbridge config
//! (`mspbridge import-netwrix`).
//!
//! An MSP moving from the Netwrix Auditor Add-on for ConnectWise Manage should not have to retype a
//! working setup. Everything the two files say that mspbridge understands is carried over with the
//! same meaning; everything else is listed in [`Conversion::not_carried`] with its file, line and
//! element path, so nothing is dropped silently. Secrets are never copied: the TOML refers to
//! environment variables and the list says which ones to export.

mod connectwise;
mod itsm;
mod output;
mod xml_tree;

use output::{Line, Section};

/// File name used in messages for ConnectWiseSettings.xml.
pub const CONNECTWISE_FILE: &str = "connectwise-settings";
/// File name used in messages for ITSMSettings.xml.
pub const ITSM_FILE: &str = "itsm-settings";
/// Environment variable the generated config reads the ConnectWise private key from.
pub const PRIVATE_KEY_ENV: &str = "CW_PRIVATE_KEY";
/// Environment variable the generated config reads the Auditor password from.
pub const AUDITOR_PASSWORD_ENV: &str = "AUDITOR_PASSWORD";
/// Name of the client the generated config routes every alert to.
pub const DEFAULT_CLIENT: &str = "Default";
/// Name of the generated Netwrix Auditor source.
pub const SOURCE_NAME: &str = "netwrix-auditor";

/// The generated config and what could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The generated TOML.
    pub toml: String,
    /// Settings not carried over and values the user must still provide, one line each:
    /// `file:line: path: why`.
    pub not_carried: Vec<String>,
}

/// Why the vendor files could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ImportError {
    /// [`CONNECTWISE_FILE`] or [`ITSM_FILE`].
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Collects what was not carried over.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    entries: Vec<String>,
}

impl Notes {
    pub(crate) fn add(&mut self, file: &str, line: usize, path: &str, reason: impl AsRef<str>) {
        self.entries
            .push(format!("{file}:{line}: {path}: {}", reason.as_ref()));
    }
}

/// Converts the two vendor files. Either may be a file with an empty root element when the user has
/// only one of them.
pub fn convert(
    connectwise_settings_xml: &str,
    itsm_settings_xml: &str,
) -> Result<Conversion, ImportError> {
    let connectwise_root = xml_tree::parse(connectwise_settings_xml, CONNECTWISE_FILE)?;
    let itsm_root = xml_tree::parse(itsm_settings_xml, ITSM_FILE)?;
    let mut notes = Notes::default();
    let connectwise = connectwise::import(&connectwise_root, &mut notes);
    let itsm = itsm::import(&itsm_root, &mut notes);

    let mut sections = vec![connectwise.connection, connectwise.ticket, itsm.rules];
    sections.push(itsm.source);
    let mut client = Section::new("[[clients]]");
    client.comments_above = vec![
        "The vendor add-on serves one client per installation; its company, board, team and".into(),
        "priority are the defaults in [connectwise.ticket]. Rename this client, add its email"
            .into(),
        "(for IT Glue auto-mapping) and add further clients with their own overrides.".into(),
    ];
    client.push(Line::new("name", output::string(DEFAULT_CLIENT)));
    sections.push(client);

    let toml = output::render(
        &[
            "mspbridge configuration converted from the Netwrix Auditor Add-on for ConnectWise Manage",
            "(ConnectWiseSettings.xml and ITSMSettings.xml) by `mspbridge import-netwrix`.",
            "Run `mspbridge check` after filling in what the import reported as not carried over.",
        ],
        &sections,
    );
    Ok(Conversion {
        toml,
        not_carried: notes.entries,
    })
}

/// Reads the vendor's boolean spelling (`true`, `TRUE`, `False`, `1`, `0`).
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Turns a host as the vendor writes it (`localhost:9699`, `api-na.myconnectwise.net`) into a URL.
pub(crate) fn with_https(host: &str) -> String {
    if host.contains("://") {
        host.to_string()
    } else {
        format!("https://{host}")
    }
}

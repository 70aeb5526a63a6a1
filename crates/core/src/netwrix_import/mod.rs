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

/// Collects what was not carried over, located by the name of the file it came from.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    entries: Vec<String>,
    /// The names the two files are reported under, for [`CONNECTWISE_FILE`] and [`ITSM_FILE`].
    connectwise_name: String,
    itsm_name: String,
}

impl Notes {
    /// Records a note about `file` ([`CONNECTWISE_FILE`] or [`ITSM_FILE`]), reported under the
    /// name the user gave that file.
    pub(crate) fn add(&mut self, file: &str, line: usize, path: &str, reason: impl AsRef<str>) {
        let name = match file {
            CONNECTWISE_FILE if !self.connectwise_name.is_empty() => &self.connectwise_name,
            ITSM_FILE if !self.itsm_name.is_empty() => &self.itsm_name,
            _ => file,
        };
        self.entries
            .push(format!("{name}:{line}: {path}: {}", reason.as_ref()));
    }
}

/// One settings file as read from disk: the name to report it under (its path) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct SettingsFile<'a> {
    /// How messages name the file.
    pub name: &'a str,
    /// The file's bytes: UTF-8, or UTF-16 with a byte order mark.
    pub bytes: &'a [u8],
}

/// Root elements of the two files, and children only the one file has: a file given in the other's
/// place is refused instead of converted into an empty half of a config.
const CONNECTWISE_ROOT: &str = "ConnectWiseSettings";
const ITSM_ROOT: &str = "ITSMSettings";
const CONNECTWISE_ONLY: &[&str] = &["Connection", "TicketParameters", "TicketParameterRefs"];
const ITSM_ONLY: &[&str] = &["NetwrixAuditorHost", "TicketFloodLimit", "UpdateInterval"];

/// Refuses a file whose root element or content belongs to the other settings file.
fn check_root(
    root: &xml_tree::Element,
    file: &str,
    expected: (&str, &[&str]),
    other: (&str, &[&str]),
) -> Result<(), ImportError> {
    let (expected_root, expected_children) = expected;
    let (other_root, other_children) = other;
    let refuse = |why: String| ImportError {
        file: file.to_string(),
        line: root.line,
        column: 1,
        message: format!(
            "{why}; this file should be {expected_root}.xml (were the two files swapped?)"
        ),
    };
    if root.name.eq_ignore_ascii_case(other_root) {
        return Err(refuse(format!(
            "unexpected root element <{}>, which is the root of {other_root}.xml",
            root.name
        )));
    }
    let has = |names: &[&str]| {
        root.children
            .iter()
            .find(|child| {
                names
                    .iter()
                    .any(|name| child.name.eq_ignore_ascii_case(name))
            })
            .map(|child| child.name.clone())
    };
    if !root.name.eq_ignore_ascii_case(expected_root) && has(expected_children).is_none() {
        if let Some(child) = has(other_children) {
            return Err(refuse(format!(
                "unexpected root element <{}> holding <{child}>, a setting of {other_root}.xml",
                root.name
            )));
        }
    }
    Ok(())
}

/// Converts the two vendor files. Either may be a file with an empty root element when the user has
/// only one of them. Messages name them `connectwise-settings` and `itsm-settings`; see
/// [`convert_files`] to name them by their paths.
pub fn convert(
    connectwise_settings_xml: &str,
    itsm_settings_xml: &str,
) -> Result<Conversion, ImportError> {
    convert_files(
        SettingsFile {
            name: CONNECTWISE_FILE,
            bytes: connectwise_settings_xml.as_bytes(),
        },
        SettingsFile {
            name: ITSM_FILE,
            bytes: itsm_settings_xml.as_bytes(),
        },
    )
}

/// Converts the two vendor files as read from disk (UTF-8 or UTF-16), locating every problem by
/// the file's name and the element's own line.
pub fn convert_files(
    connectwise_settings: SettingsFile<'_>,
    itsm_settings: SettingsFile<'_>,
) -> Result<Conversion, ImportError> {
    let connectwise_text = xml_tree::decode(connectwise_settings.bytes, connectwise_settings.name)?;
    let itsm_text = xml_tree::decode(itsm_settings.bytes, itsm_settings.name)?;
    let connectwise_root = xml_tree::parse(&connectwise_text, connectwise_settings.name)?;
    let itsm_root = xml_tree::parse(&itsm_text, itsm_settings.name)?;
    check_root(
        &connectwise_root,
        connectwise_settings.name,
        (CONNECTWISE_ROOT, CONNECTWISE_ONLY),
        (ITSM_ROOT, ITSM_ONLY),
    )?;
    check_root(
        &itsm_root,
        itsm_settings.name,
        (ITSM_ROOT, ITSM_ONLY),
        (CONNECTWISE_ROOT, CONNECTWISE_ONLY),
    )?;
    let mut notes = Notes {
        connectwise_name: connectwise_settings.name.to_string(),
        itsm_name: itsm_settings.name.to_string(),
        ..Notes::default()
    };
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

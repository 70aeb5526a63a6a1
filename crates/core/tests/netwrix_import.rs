//! Importing the vendor add-on's settings files: the generated config loads back with the same values,
//! what cannot be carried over is listed with its place, secrets are never copied, broken XML is
//! reported with line and column.

use std::collections::HashMap;
use std::time::Duration;

use mspbridge_core::config::{
    self, ConfigError, DescriptionField, LoadOptions, SourceKind, StatusRef, TicketLevel,
};
use mspbridge_core::netwrix_import::{convert, convert_files, Conversion, SettingsFile};

const CONNECTWISE: &str = include_str!("fixtures/ConnectWiseSettings.xml");
const CONNECTWISE_INTERNAL: &str = include_str!("fixtures/ConnectWiseSettings-internal.xml");
const ITSM: &str = include_str!("fixtures/ITSMSettings.xml");
const ITSM_TUNED: &str = include_str!("fixtures/ITSMSettings-tuned.xml");
const ITSM_UPDATES_OFF: &str = include_str!("fixtures/ITSMSettings-updates-off.xml");
const CONNECTWISE_CONNECTION_ONLY: &str =
    include_str!("fixtures/ConnectWiseSettings-connection-only.xml");
const CONNECTWISE_ATTRIBUTES: &str = include_str!("fixtures/ConnectWiseSettings-attributes.xml");

fn env() -> LoadOptions {
    LoadOptions {
        base_dir: None,
        env: Some(HashMap::from([
            (
                "CW_PRIVATE_KEY".to_string(),
                "exported-private-key".to_string(),
            ),
            (
                "AUDITOR_PASSWORD".to_string(),
                "exported-auditor-password".to_string(),
            ),
        ])),
    }
}

/// The generated TOML with the clientId the user is told to fill in.
fn with_client_id(conversion: &Conversion) -> String {
    conversion
        .toml
        .replace("client_id = \"\"", "client_id = \"0f0e0d0c-mspbridge\"")
}

#[test]
fn the_vendor_defaults_convert_into_a_config_with_the_same_values() {
    let conversion = convert(CONNECTWISE, ITSM).unwrap();
    let config =
        config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();

    let connectwise = config.connectwise.as_ref().unwrap();
    assert_eq!(
        connectwise.site.as_str(),
        "https://api-na.myconnectwise.net/"
    );
    assert_eq!(connectwise.company_id, "acme_msp");
    assert_eq!(connectwise.public_key, "Xk29Lm3PqR8sTu4V");
    assert_eq!(connectwise.private_key.expose(), "exported-private-key");

    let ticket = config.effective_ticket_settings(Some("Default"));
    assert_eq!(ticket.summary.source(), "[Netwrix Auditor] %AlertName%");
    assert!(ticket
        .description
        .source()
        .starts_with("Alert Details: Who: %Who% Action: %Action%"));
    assert!(ticket
        .description
        .source()
        .ends_with("Sent by Netwrix Auditor from %Computer%"));
    assert_eq!(
        ticket.description_field,
        DescriptionField::InitialDescription
    );
    assert_eq!(ticket.severity, TicketLevel::Medium);
    assert_eq!(ticket.impact, TicketLevel::High);
    assert_eq!(
        (
            ticket.company_id,
            ticket.board_id,
            ticket.priority_id,
            ticket.team_id
        ),
        (Some(42), Some(1), Some(4), Some(25))
    );
    assert_eq!(
        ticket.correlation_format.source(),
        "Previous incident for the same alert type: Id: %id%"
    );
    assert_eq!(
        ticket.reopen_closed_statuses,
        vec![StatusRef::Id(5), StatusRef::Id(6), StatusRef::Id(8)]
    );
    assert_eq!(ticket.reopen_new_status, Some(StatusRef::Id(1)));
    assert!(ticket.ignore_upload_attachment_error);

    assert_eq!(config.rules, config::defaults::rules());

    let source = config.source("netwrix-auditor").unwrap();
    assert_eq!(source.kind, SourceKind::NetwrixAuditor);
    assert_eq!(
        source.url.as_ref().unwrap().as_str(),
        "https://localhost:9699/"
    );
    assert_eq!(source.username.as_deref(), Some("ACME\\svc-netwrix"));
    assert_eq!(
        source.password.as_ref().unwrap().expose(),
        "exported-auditor-password"
    );
    assert_eq!(source.client.as_deref(), Some("Default"));
    assert_eq!(config.clients.len(), 1);
}

#[test]
fn secrets_are_never_copied_and_the_user_is_told_what_to_export() {
    for (connectwise, itsm) in [(CONNECTWISE, ITSM), (CONNECTWISE_INTERNAL, ITSM_TUNED)] {
        let conversion = convert(connectwise, itsm).unwrap();
        let everything = format!("{}\n{}", conversion.toml, conversion.not_carried.join("\n"));
        for secret in [
            "pRiVaTeKeY-do-not-copy-8c1e",
            "Auditor-Pa55-do-not-copy",
            "beta-private-do-not-copy",
        ] {
            assert!(
                !everything.contains(secret),
                "a secret was copied:\n{everything}"
            );
        }
        assert!(conversion
            .toml
            .contains("private_key = \"env:CW_PRIVATE_KEY\""));
        assert!(conversion
            .not_carried
            .iter()
            .any(|note| note.contains("environment variable CW_PRIVATE_KEY")));
    }
    let conversion = convert(CONNECTWISE, ITSM).unwrap();
    assert!(conversion
        .toml
        .contains("password = \"env:AUDITOR_PASSWORD\""));
    assert!(conversion
        .not_carried
        .contains(&"itsm-settings:5: /ITSMSettings/NetwrixAuditorPassword: not written to the config; export the Auditor password as the environment variable AUDITOR_PASSWORD (sources[0].password = \"env:AUDITOR_PASSWORD\")".to_string()));
}

#[test]
fn what_is_not_carried_is_listed_with_file_line_and_path() {
    let conversion = convert(CONNECTWISE, ITSM).unwrap();
    let expected = [
        "connectwise-settings:7: /ConnectWiseSettings/Connection/PrivateKey: not written to the config; export the private key as the environment variable CW_PRIVATE_KEY (connectwise.private_key = \"env:CW_PRIVATE_KEY\")",
        "connectwise-settings:3: connectwise.client_id: the vendor file has no clientId, which ConnectWise requires since 2019; register one at https://developer.connectwise.com/ClientID and fill in connectwise.client_id",
        "connectwise-settings:26: /ConnectWiseSettings/TicketParameters/TicketParameter[Name=Urgency]: value \"Medium\": not a ticket field mspbridge sets (it sets summary, description, severity and impact)",
        "connectwise-settings:86: /ConnectWiseSettings/EnableTls12: not needed: mspbridge always uses TLS 1.2 or newer",
        "itsm-settings:9: /ITSMSettings/CheckAlertQueueInterval: value \"5\": internal queue polling of the add-on; mspbridge processes alerts as they arrive",
        "itsm-settings:15: /ITSMSettings/ProcessActivityRecordQueueInterval: value \"5\": internal queue polling of the add-on; mspbridge processes alerts as they arrive",
        "itsm-settings:5: /ITSMSettings/NetwrixAuditorPassword: not written to the config; export the Auditor password as the environment variable AUDITOR_PASSWORD (sources[0].password = \"env:AUDITOR_PASSWORD\")",
    ];
    assert_eq!(conversion.not_carried, expected);
}

#[test]
fn without_a_client_id_the_generated_config_fails_validation_clearly() {
    let conversion = convert(CONNECTWISE, ITSM).unwrap();
    match config::parse_str_with(&conversion.toml, "imported.toml", &env()) {
        Err(ConfigError::Invalid { issues, .. }) => {
            assert_eq!(issues.len(), 1, "{issues:?}");
            assert_eq!(issues[0].path, "connectwise.client_id");
            assert!(issues[0]
                .message
                .contains("ConnectWise requires a clientId since 2019"));
        }
        other => panic!("expected the missing clientId to be reported, got {other:?}"),
    }
}

#[test]
fn tuned_and_unusual_files_convert_and_report_the_rest() {
    let conversion = convert(CONNECTWISE_INTERNAL, ITSM_TUNED).unwrap();
    let toml = with_client_id(&conversion)
        .replace(" %PreviousTicketReference%", "")
        .replace(
            "# username = \"DOMAIN\\\\user\"\n# password",
            "username = \"BETA\\\\svc\"\npassword",
        );
    let config = config::parse_str_with(&toml, "tuned.toml", &env()).unwrap();

    let connectwise = config.connectwise.as_ref().unwrap();
    assert_eq!(
        connectwise.site.as_str(),
        "https://api-eu.myconnectwise.net/"
    );
    let ticket = &connectwise.ticket;
    assert_eq!(
        ticket.summary.source(),
        "[Netwrix Auditor] %AlertName% on %Where% & more"
    );
    assert_eq!(
        ticket.description.source(),
        "Who: %Who%\nWhat: %What%\nSent by Netwrix Auditor from %Computer%"
    );
    assert_eq!(
        ticket.description_field,
        DescriptionField::InitialInternalAnalysis
    );
    assert_eq!(
        ticket.severity,
        TicketLevel::Medium,
        "an invalid severity keeps the default"
    );
    assert_eq!(
        (ticket.board_id, ticket.team_id, ticket.company_id),
        (Some(7), None, None)
    );
    assert_eq!(
        ticket.reopen_closed_statuses,
        vec![StatusRef::Name("Closed".into()), StatusRef::Id(8)]
    );
    assert_eq!(
        ticket.reopen_new_status,
        Some(StatusRef::Name("New".into()))
    );
    assert!(!ticket.ignore_upload_attachment_error);

    let rules = &config.rules;
    assert_eq!(rules.ticket_flood_limit, 25);
    assert_eq!(rules.ticket_flood_interval, Duration::from_secs(7200));
    assert_eq!(rules.consolidation_interval, Duration::ZERO);
    assert!(rules.update_ticket_on_repetitive_alerts);
    assert!(!rules.reopen_ticket_on_repetitive_alerts);
    assert_eq!(rules.update_interval, Duration::from_secs(43_200));
    assert!(!rules.enable_ticket_correlation);
    assert_eq!(rules.correlation_interval, Duration::from_secs(14 * 86_400));
    assert!(!rules.display_only_first_activity_record);
    assert_eq!(rules.activity_record_web_requests.limit, 500);
    assert_eq!(
        rules.activity_record_web_requests.timeout,
        Duration::from_secs(90)
    );
    assert_eq!(
        rules.activity_record_requests,
        config::defaults::rules().activity_record_requests
    );

    let source = config.source("netwrix-auditor").unwrap();
    assert_eq!(source.username.as_deref(), Some("BETA\\svc"));
    assert_eq!(
        source.url.as_ref().unwrap().as_str(),
        "https://auditor01.acme.example:9699/"
    );
    assert_eq!(source.records_per_request, 500);

    let notes = conversion.not_carried.join("\n");
    for fragment in [
        "connectwise-settings:18: /Settings/TicketParameters/TicketParameter[Name=Severity]: \"Critical\" is not Low, Medium or High",
        "/Settings/TicketParameterRefs/TicketParameterRef[Name=type]: not a ticket reference mspbridge sets",
        "/Settings/TicketParameterRefs/TicketParameterRef[Name=team]/TicketParameters/TicketParameter[Name=id]: \"Service Team\" is not a ConnectWise id",
        "connectwise-settings:60: /Settings/ProxyAddress: not a ConnectWise setting mspbridge knows",
        "connectwise-settings:2: connectwise.client_id",
        "connectwise-settings:6: /Settings/PrivateKey: not written to the config",
        "connectwise-settings:12: /Settings/TicketParameters/TicketParameter[Name=initialInternalAnalysis]: carried over, but fix it before running mspbridge: unknown placeholder %PreviousTicketReference% at character 25",
        "itsm-settings:4: /settings/NetwrixAuditorUserName: the add-on ran as LocalSystem",
        "itsm-settings:17: /settings/ActivityRecordWebRequests/RetryCount: not a setting of this group",
        "itsm-settings:19: /settings/TicketFloodLimit: given twice; the first value is used",
        "itsm-settings:20: /settings/AssignmentGroup: value \"a1b2c3d4e5f6\": not a setting mspbridge knows (ServiceNow-only or unknown)",
        "itsm-settings:21: /settings/UpdateInterval2",
    ] {
        assert!(notes.contains(fragment), "missing {fragment:?} in:\n{notes}");
    }
}

#[test]
fn the_generated_toml_is_stable() {
    let conversion = convert(CONNECTWISE, ITSM).unwrap();
    insta::assert_snapshot!("vendor_defaults_toml", conversion.toml);
}

#[test]
fn broken_xml_is_reported_with_file_line_and_column() {
    let broken = CONNECTWISE.replace(
        "<CompanyId>acme_msp</CompanyId>",
        "<CompanyId>acme_msp</Company>",
    );
    let error = convert(&broken, ITSM).unwrap_err();
    assert_eq!(error.file, "connectwise-settings");
    assert_eq!(error.line, 5);
    assert!(error.column > 1, "{error}");
    assert!(
        error.to_string().starts_with("connectwise-settings:5:"),
        "{error}"
    );

    let truncated = &ITSM[..ITSM.find("<TicketFloodLimit>").unwrap() + 5];
    let error = convert(CONNECTWISE, truncated).unwrap_err();
    assert_eq!(error.file, "itsm-settings");
    assert_eq!(error.line, 6);

    let error = convert(CONNECTWISE, "not xml at all").unwrap_err();
    assert_eq!(error.file, "itsm-settings");
    assert_eq!((error.line, error.column), (1, 1));
}

#[test]
fn empty_root_elements_give_a_config_that_names_what_is_missing() {
    let conversion = convert("<ConnectWiseSettings/>", "<ITSMSettings/>").unwrap();
    let notes = conversion.not_carried.join("\n");
    assert!(notes.contains("/ConnectWiseSettings/Connection/Site: missing from the vendor file; fill in connectwise.site"), "{notes}");
    assert!(
        notes.contains(
            "NetwrixAuditorHost: missing; the vendor default https://localhost:9699 is used"
        ),
        "{notes}"
    );
    let error = config::parse_str_with(&conversion.toml, "empty.toml", &env())
        .unwrap_err()
        .to_string();
    for path in [
        "connectwise.site",
        "connectwise.company_id",
        "connectwise.public_key",
        "connectwise.client_id",
    ] {
        assert!(error.contains(path), "{path} not reported in:\n{error}");
    }
}

/// Updates off with reopening left at the add-on's default (true): the add-on only reopens to
/// update, so the import writes reopen = false, says so, and `check` accepts the result.
#[test]
fn updates_off_carries_the_vendors_meaning_of_reopen() {
    let conversion = convert(CONNECTWISE, ITSM_UPDATES_OFF).unwrap();
    let config =
        config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();
    assert!(!config.rules.update_ticket_on_repetitive_alerts);
    assert!(!config.rules.reopen_ticket_on_repetitive_alerts);
    assert!(
        conversion.not_carried.iter().any(|note| note.starts_with(
            "itsm-settings:10: /ITSMSettings/ReopenTicketOnRepetitiveAlerts: absent, so the \
             add-on's default true applies, which has no effect while \
             UpdateTicketOnRepetitiveAlerts is false"
        )),
        "{:#?}",
        conversion.not_carried
    );

    // Reopen written as true beside updates off: the same meaning, located at its own line.
    let explicit = ITSM_UPDATES_OFF.replace(
        "  <UpdateInterval>",
        "  <ReopenTicketOnRepetitiveAlerts>true</ReopenTicketOnRepetitiveAlerts>\n  <UpdateInterval>",
    );
    let conversion = convert(CONNECTWISE, &explicit).unwrap();
    let config =
        config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();
    assert!(!config.rules.reopen_ticket_on_repetitive_alerts);
    assert!(
        conversion.not_carried.iter().any(|note| note.starts_with(
            "itsm-settings:11: /ITSMSettings/ReopenTicketOnRepetitiveAlerts: true has no effect"
        )),
        "{:#?}",
        conversion.not_carried
    );
}

fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let text = text.replace("encoding=\"utf-8\"", "encoding=\"utf-16\"");
    let mut bytes = Vec::new();
    if bom {
        bytes.extend(if little_endian {
            [0xFF, 0xFE]
        } else {
            [0xFE, 0xFF]
        });
    }
    for unit in text.encode_utf16() {
        bytes.extend(if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    bytes
}

/// Files saved as UTF-16 (as Windows tools do, byte order mark and `encoding="utf-16"`) convert
/// exactly like their UTF-8 originals.
#[test]
fn utf16_files_convert_like_utf8_ones() {
    let expected = convert(CONNECTWISE, ITSM).unwrap();
    for (little_endian, bom) in [(true, true), (false, true), (true, false)] {
        let connectwise = utf16(CONNECTWISE, little_endian, bom);
        let itsm = utf16(ITSM, little_endian, bom);
        let converted = convert_files(
            SettingsFile {
                name: "connectwise-settings",
                bytes: &connectwise,
            },
            SettingsFile {
                name: "itsm-settings",
                bytes: &itsm,
            },
        )
        .unwrap();
        assert_eq!(
            converted, expected,
            "little endian {little_endian}, bom {bom}"
        );
    }
}

/// The two files given the wrong way round are refused, naming the unexpected root element.
#[test]
fn swapped_files_are_refused_naming_the_root_element() {
    let error = convert(ITSM, CONNECTWISE).unwrap_err();
    assert_eq!(
        (error.file.as_str(), error.line),
        ("connectwise-settings", 2)
    );
    assert!(
        error
            .message
            .contains("unexpected root element <ITSMSettings>"),
        "{error}"
    );
    assert!(error.message.contains("swapped"), "{error}");
    let error = convert(CONNECTWISE, CONNECTWISE).unwrap_err();
    assert_eq!(error.file, "itsm-settings");
    assert!(
        error
            .message
            .contains("unexpected root element <ConnectWiseSettings>"),
        "{error}"
    );
    // A root of another name is judged by what it holds.
    let renamed = ITSM.replace("ITSMSettings>", "Settings>");
    let error = convert(&renamed, ITSM).unwrap_err();
    assert!(
        error
            .message
            .contains("unexpected root element <Settings> holding <NetwrixAuditorHost>"),
        "{error}"
    );
}

/// A file without TicketParameters and TicketParameterRefs lists both, and the add-on's own
/// default summary is kept instead of being replaced by mspbridge's.
#[test]
fn missing_ticket_sections_are_listed_and_the_vendor_summary_kept() {
    let conversion = convert(CONNECTWISE_CONNECTION_ONLY, ITSM).unwrap();
    let notes = conversion.not_carried.join("\n");
    assert!(
        notes.contains("connectwise-settings:2: /ConnectWiseSettings/TicketParameters: missing; the add-on's default summary \"[Netwrix Auditor] %AlertName%\" is written"),
        "{notes}"
    );
    assert!(
        notes.contains("connectwise-settings:2: /ConnectWiseSettings/TicketParameterRefs: missing; tickets get no company, board, team or priority"),
        "{notes}"
    );
    let config =
        config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();
    let ticket = config.effective_ticket_settings(Some("Default"));
    assert_eq!(ticket.summary.source(), "[Netwrix Auditor] %AlertName%");
    assert_eq!(ticket.company_id, None);
}

/// `<TicketParameter Name="initialInternalAnalysis">` keeps the MSP-internal description field,
/// and references in attribute form carry their ids.
#[test]
fn the_attribute_form_keeps_the_internal_description() {
    let conversion = convert(CONNECTWISE_ATTRIBUTES, ITSM).unwrap();
    let config =
        config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();
    let ticket = config.effective_ticket_settings(Some("Default"));
    assert_eq!(
        ticket.description_field,
        DescriptionField::InitialInternalAnalysis
    );
    assert!(ticket.description.source().starts_with("Internal: %Who%"));
    assert_eq!(ticket.severity, TicketLevel::High);
    assert_eq!((ticket.company_id, ticket.board_id), (Some(42), Some(1)));
    assert!(
        !conversion
            .not_carried
            .iter()
            .any(|note| note.contains("TicketParameter")),
        "{:#?}",
        conversion.not_carried
    );
}

/// Problems are located by the name the files were given (their paths) and the element's own line.
#[test]
fn problems_name_the_file_and_the_elements_line() {
    let connectwise_path = "C:\\Addon\\ITSM_CW\\ConnectWiseSettings.xml";
    let itsm_path = "C:\\Addon\\ITSM_CW\\ITSMSettings.xml";
    let conversion = convert_files(
        SettingsFile {
            name: connectwise_path,
            bytes: CONNECTWISE.as_bytes(),
        },
        SettingsFile {
            name: itsm_path,
            bytes: ITSM.as_bytes(),
        },
    )
    .unwrap();
    assert!(conversion.not_carried.contains(&format!(
        "{connectwise_path}:86: /ConnectWiseSettings/EnableTls12: not needed: mspbridge always uses TLS 1.2 or newer"
    )));
    assert!(conversion.not_carried.contains(&format!(
        "{itsm_path}:9: /ITSMSettings/CheckAlertQueueInterval: value \"5\": internal queue polling of the add-on; mspbridge processes alerts as they arrive"
    )));
    assert!(conversion
        .not_carried
        .iter()
        .all(|note| note.starts_with(connectwise_path) || note.starts_with(itsm_path)));
    let broken = CONNECTWISE.replace("</CompanyId>", "</Company>");
    let error = convert_files(
        SettingsFile {
            name: connectwise_path,
            bytes: broken.as_bytes(),
        },
        SettingsFile {
            name: itsm_path,
            bytes: ITSM.as_bytes(),
        },
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{connectwise_path}:5:")),
        "{error}"
    );
}

/// A reference or a ticket field given twice (found by fuzzing: the key was written twice, which
/// is not TOML) is carried once, from the first, and the second is listed with its line.
#[test]
fn a_reference_or_field_given_twice_is_carried_once() {
    let priority =
        "  <TicketParameterRef>\n    <Name>priority</Name>\n    <TicketParameters>\n      \
                    <TicketParameter>\n        <Name>id</Name>\n        <Value>7</Value>\n      \
                    </TicketParameter>\n    </TicketParameters>\n  </TicketParameterRef>\n";
    let twice = CONNECTWISE.replace(
        "</TicketParameterRefs>",
        &format!("{priority}</TicketParameterRefs>"),
    );
    let impact = "  <TicketParameter>\n      <Name>Impact</Name>\n      <Value>Low</Value>\n    \
                  </TicketParameter>\n  </TicketParameters>";
    let twice = twice.replacen("</TicketParameters>", impact, 1);
    let conversion = convert(&twice, ITSM).unwrap();
    for key in ["priority_id = ", "impact = "] {
        assert_eq!(
            conversion.toml.matches(key).count(),
            1,
            "{}",
            conversion.toml
        );
    }
    let notes = conversion.not_carried.join("\n");
    assert!(
        notes.contains("a second priority reference; the first one is used"),
        "{notes}"
    );
    assert!(
        notes.contains("Impact was already given; the first one is used"),
        "{notes}"
    );
    let config =
        config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();
    let ticket = config.effective_ticket_settings(Some("Default"));
    assert_eq!(ticket.priority_id, Some(4));
    assert_eq!(ticket.impact, TicketLevel::High);

    // The same inside a group of the other file.
    let timeout_twice = ITSM.replace(
        "<RequestTimeout>180</RequestTimeout>",
        "<RequestTimeout>180</RequestTimeout><RequestTimeout>60</RequestTimeout>",
    );
    let conversion = convert(CONNECTWISE, &timeout_twice).unwrap();
    assert!(
        conversion
            .toml
            .contains("activity_record_web_requests = { limit = 200, timeout = \"3m\" }"),
        "{}",
        conversion.toml
    );
    let notes = conversion.not_carried.join("\n");
    assert!(
        notes.contains(
            "ActivityRecordWebRequests/RequestTimeout: given twice; the first value is used"
        ),
        "{notes}"
    );
    config::parse_str_with(&with_client_id(&conversion), "imported.toml", &env()).unwrap();
}

//! ConnectWiseSettings.xml: the connection, the ticket field templates, the company/board/team/priority
//! references, correlation, reopening and attachment settings.

use super::output::{self, Line, Section};
use super::xml_tree::Element;
use super::{parse_bool, with_https, Notes, CONNECTWISE_FILE, PRIVATE_KEY_ENV};
use crate::config::{DescriptionField, TicketLevel};
use crate::template::{Template, TemplateKind};

/// The two sections this file produces.
pub struct ConnectWiseSections {
    pub connection: Section,
    pub ticket: Section,
}

const CONNECTION_KEYS: &[&str] = &["Site", "CompanyId", "PublicKey", "PrivateKey", "ClientId"];

pub fn import(root: &Element, notes: &mut Notes) -> ConnectWiseSections {
    let root_path = format!("/{}", root.name);
    let mut connection = Section::new("[connectwise]");
    let mut ticket = Section::new("[connectwise.ticket]");
    let connection_element = root.child("Connection");
    let lookup = |key: &str| -> Option<&Element> {
        connection_element
            .and_then(|element| element.child(key))
            .or_else(|| root.child(key))
    };
    let required_text = |key: &str| {
        lookup(key)
            .map(|element| element.text.trim().to_string())
            .filter(|text| !text.is_empty())
    };

    let missing = |notes: &mut Notes, key: &str, toml_key: &str| {
        notes.add(
            CONNECTWISE_FILE,
            connection_element.map_or(root.line, |element| element.line),
            &format!("{root_path}/Connection/{key}"),
            format!("missing from the vendor file; fill in connectwise.{toml_key}"),
        );
    };

    match required_text("Site") {
        Some(site) => connection.push(Line::new("site", output::string(&with_https(&site)))),
        None => {
            missing(notes, "Site", "site");
            connection.push(Line::new("site", output::string("")).with_above(
                "REQUIRED: the ConnectWise API site, e.g. https://api-na.myconnectwise.net",
            ));
        }
    }
    for (key, toml_key) in [("CompanyId", "company_id"), ("PublicKey", "public_key")] {
        match required_text(key) {
            Some(value) => connection.push(Line::new(toml_key, output::string(&value))),
            None => {
                missing(notes, key, toml_key);
                connection.push(
                    Line::new(toml_key, output::string(""))
                        .with_above("REQUIRED: missing from the vendor file"),
                );
            }
        }
    }
    let private_key_line = lookup("PrivateKey").map_or(root.line, |element| element.line);
    let private_key_path = match connection_element.and_then(|element| element.child("PrivateKey"))
    {
        Some(_) => format!("{root_path}/Connection/PrivateKey"),
        None if root.child("PrivateKey").is_some() => format!("{root_path}/PrivateKey"),
        None => format!("{root_path}/Connection/PrivateKey"),
    };
    connection.push(
        Line::new(
            "private_key",
            output::string(&format!("env:{PRIVATE_KEY_ENV}")),
        )
        .with_above(&format!(
            "The private key is not copied into this file: export it as {PRIVATE_KEY_ENV}."
        )),
    );
    notes.add(
        CONNECTWISE_FILE,
        private_key_line,
        &private_key_path,
        format!("not written to the config; export the private key as the environment variable {PRIVATE_KEY_ENV} (connectwise.private_key = \"env:{PRIVATE_KEY_ENV}\")"),
    );
    match required_text("ClientId") {
        Some(client_id) => connection.push(Line::new("client_id", output::string(&client_id))),
        None => {
            notes.add(
                CONNECTWISE_FILE,
                connection_element.map_or(root.line, |element| element.line),
                "connectwise.client_id",
                "the vendor file has no clientId, which ConnectWise requires since 2019; register one at https://developer.connectwise.com/ClientID and fill in connectwise.client_id",
            );
            connection.push(
                Line::new("client_id", output::string(""))
                    .with_above("REQUIRED: ConnectWise requires a clientId since 2019; the vendor file has none.")
                    .with_above("Register one at https://developer.connectwise.com/ClientID."),
            );
        }
    }
    if let Some(element) = connection_element {
        for child in &element.children {
            if !CONNECTION_KEYS
                .iter()
                .any(|key| key.eq_ignore_ascii_case(&child.name))
            {
                notes.add(
                    CONNECTWISE_FILE,
                    child.line,
                    &format!("{root_path}/Connection/{}", child.name),
                    "not a connection setting mspbridge knows",
                );
            }
        }
    }

    for child in &root.children {
        let path = format!("{root_path}/{}", child.name);
        match child.name.to_ascii_lowercase().as_str() {
            "connection" => {}
            name if CONNECTION_KEYS
                .iter()
                .any(|key| key.eq_ignore_ascii_case(name)) => {}
            "ticketparameters" => ticket_parameters(child, &path, &mut ticket, notes),
            "ticketparameterrefs" => ticket_parameter_refs(child, &path, &mut ticket, notes),
            "correlationticketformat" => {
                check_template(
                    child.text.trim(),
                    TemplateKind::Correlation,
                    child.line,
                    &path,
                    notes,
                );
                ticket.push(Line::new(
                    "correlation_format",
                    output::string(child.text.trim()),
                ));
            }
            "reopenticketoptions" => reopen_options(child, &path, &mut ticket, notes),
            "ignoreuploadattachmenterror" => match parse_bool(&child.text) {
                Some(value) => ticket.push(Line::new(
                    "ignore_upload_attachment_error",
                    value.to_string(),
                )),
                None => notes.add(
                    CONNECTWISE_FILE,
                    child.line,
                    &path,
                    format!(
                        "\"{}\" is not true or false; the default (true) applies",
                        child.text.trim()
                    ),
                ),
            },
            "enabletls12" => notes.add(
                CONNECTWISE_FILE,
                child.line,
                &path,
                "not needed: mspbridge always uses TLS 1.2 or newer",
            ),
            _ => notes.add(
                CONNECTWISE_FILE,
                child.line,
                &path,
                "not a ConnectWise setting mspbridge knows",
            ),
        }
    }
    missing_sections(root, &root_path, &mut ticket, notes);
    ConnectWiseSections { connection, ticket }
}

/// The add-on's own summary when its file sets none; mspbridge's default names mspbridge instead,
/// which an imported setup should not silently change.
pub const VENDOR_SUMMARY: &str = "[Netwrix Auditor] %AlertName%";

/// Lists a missing `TicketParameters` or `TicketParameterRefs` section (or a missing summary in
/// it), and keeps the add-on's default summary instead of replacing it with mspbridge's.
fn missing_sections(root: &Element, root_path: &str, ticket: &mut Section, notes: &mut Notes) {
    let parameters = root.child("TicketParameters");
    let summary_given = parameters.is_some_and(|parameters| {
        parameters.children.iter().any(|parameter| {
            parameter
                .child_or_attribute("Name")
                .is_some_and(|name| name.eq_ignore_ascii_case("Summary"))
        })
    });
    if !summary_given {
        let (line, why) = match parameters {
            Some(parameters) => (
                parameters.line,
                format!("{root_path}/TicketParameters/TicketParameter[Name=Summary]"),
            ),
            None => (root.line, format!("{root_path}/TicketParameters")),
        };
        notes.add(
            CONNECTWISE_FILE,
            line,
            &why,
            format!(
                "missing; the add-on's default summary \"{VENDOR_SUMMARY}\" is written to \
                 connectwise.ticket.summary{}",
                if parameters.is_none() {
                    " and mspbridge's default description, severity and impact apply"
                } else {
                    ""
                }
            ),
        );
        ticket.lines.insert(
            0,
            Line::new("summary", output::string(VENDOR_SUMMARY))
                .with_above("The add-on's default summary (its file sets none)."),
        );
    }
    if root.child("TicketParameterRefs").is_none() {
        notes.add(
            CONNECTWISE_FILE,
            root.line,
            &format!("{root_path}/TicketParameterRefs"),
            "missing; tickets get no company, board, team or priority from the vendor file: set \
             connectwise.ticket.company_id and board_id (or each client's)",
        );
    }
}

fn ticket_parameters(element: &Element, path: &str, ticket: &mut Section, notes: &mut Notes) {
    for parameter in &element.children {
        // `<TicketParameter><Name>n</Name><Value>v</Value>` or `<TicketParameter Name="n">v`.
        let name = parameter
            .child_or_attribute("Name")
            .unwrap_or("")
            .to_string();
        let value = parameter
            .child("Value")
            .map(|value| value.text.trim())
            .or_else(|| parameter.attribute("Value"))
            .unwrap_or_else(|| parameter.text.trim());
        let parameter_path = format!("{path}/{}[Name={name}]", parameter.name);
        if !parameter.name.eq_ignore_ascii_case("TicketParameter") {
            notes.add(
                CONNECTWISE_FILE,
                parameter.line,
                &format!("{path}/{}", parameter.name),
                "not a ticket parameter",
            );
            continue;
        }
        let description_field = DescriptionField::parse(&name);
        let key = match description_field {
            Some(_) => "description".to_string(),
            None => name.to_ascii_lowercase(),
        };
        if ticket.has(&key) {
            notes.add(
                CONNECTWISE_FILE,
                parameter.line,
                &parameter_path,
                format!("{name} was already given; the first one is used"),
            );
            continue;
        }
        match key.as_str() {
            "summary" => {
                check_template(value, TemplateKind::Ticket, parameter.line, &parameter_path, notes);
                ticket.push(Line::new("summary", output::string(value)));
            }
            "description" => {
                let field = description_field.unwrap_or(DescriptionField::InitialDescription);
                check_template(value, TemplateKind::Ticket, parameter.line, &parameter_path, notes);
                ticket.push(Line::new("description", output::string(value)));
                ticket.push(Line::new("description_field", output::string(field.api_name())));
            }
            "severity" | "impact" => match TicketLevel::parse(value) {
                Some(level) => ticket.push(Line::new(&name.to_ascii_lowercase(), output::string(level.as_str()))),
                None => notes.add(CONNECTWISE_FILE, parameter.line, &parameter_path, format!("\"{value}\" is not Low, Medium or High; the default (Medium) applies")),
            },
            _ => notes.add(
                CONNECTWISE_FILE,
                parameter.line,
                &parameter_path,
                format!("value \"{value}\": not a ticket field mspbridge sets (it sets summary, description, severity and impact)"),
            ),
        }
    }
}

fn ticket_parameter_refs(element: &Element, path: &str, ticket: &mut Section, notes: &mut Notes) {
    for reference in &element.children {
        let name = reference
            .child_or_attribute("Name")
            .unwrap_or("")
            .to_string();
        let reference_path = format!("{path}/{}[Name={name}]", reference.name);
        let toml_key = match name.to_ascii_lowercase().as_str() {
            "company" => "company_id",
            "board" => "board_id",
            "team" => "team_id",
            "priority" => "priority_id",
            "status" => "status_id",
            _ => {
                notes.add(CONNECTWISE_FILE, reference.line, &reference_path, "not a ticket reference mspbridge sets (it sets company, board, team, priority and status)");
                continue;
            }
        };
        // A reference named twice would write its key twice (not TOML): the first one counts.
        if ticket.has(toml_key) {
            notes.add(
                CONNECTWISE_FILE,
                reference.line,
                &reference_path,
                format!("a second {name} reference; the first one is used"),
            );
            continue;
        }
        let parameters = reference.child("TicketParameters");
        let mut carried = false;
        for parameter in parameters
            .iter()
            .flat_map(|parameters| parameters.children.iter())
        {
            let field = parameter.child_or_attribute("Name").unwrap_or("");
            let value = parameter
                .child_or_attribute("Value")
                .unwrap_or_else(|| parameter.text.trim());
            let parameter_path =
                format!("{reference_path}/TicketParameters/TicketParameter[Name={field}]");
            if !field.eq_ignore_ascii_case("id") {
                notes.add(
                    CONNECTWISE_FILE,
                    parameter.line,
                    &parameter_path,
                    format!("value \"{value}\": only the id of a reference is used"),
                );
                continue;
            }
            match value.parse::<i64>() {
                Ok(id) if id > 0 && i32::try_from(id).is_ok() && !carried => {
                    let label = parameter
                        .comments_before("Value")
                        .first()
                        .map(|text| text.to_string());
                    ticket.push(Line::new(toml_key, id.to_string()).with_trailing(label));
                    carried = true;
                }
                Ok(_) if carried => notes.add(
                    CONNECTWISE_FILE,
                    parameter.line,
                    &parameter_path,
                    "a second id for the same reference; the first one is used",
                ),
                _ => notes.add(
                    CONNECTWISE_FILE,
                    parameter.line,
                    &parameter_path,
                    format!("\"{value}\" is not a ConnectWise id (a positive whole number)"),
                ),
            }
        }
        if !carried && parameters.is_none() {
            notes.add(
                CONNECTWISE_FILE,
                reference.line,
                &reference_path,
                "has no TicketParameters with an id",
            );
        }
    }
}

fn reopen_options(element: &Element, path: &str, ticket: &mut Section, notes: &mut Notes) {
    for child in &element.children {
        let child_path = format!("{path}/{}", child.name);
        match child.name.to_ascii_lowercase().as_str() {
            "closedticketstates" => {
                let states: Vec<String> = child
                    .children_named("TicketState")
                    .map(|state| status_value(state.text.trim()))
                    .filter(|value| value != "\"\"")
                    .collect();
                for other in child
                    .children
                    .iter()
                    .filter(|state| !state.name.eq_ignore_ascii_case("TicketState"))
                {
                    notes.add(
                        CONNECTWISE_FILE,
                        other.line,
                        &format!("{child_path}/{}", other.name),
                        "not a ticket state",
                    );
                }
                ticket.push(
                    Line::new("reopen_closed_statuses", format!("[{}]", states.join(", ")))
                        .with_above("ConnectWise status ids are board-specific; check them against the board above."),
                );
            }
            "newstate" => ticket.push(Line::new(
                "reopen_new_status",
                status_value(child.text.trim()),
            )),
            _ => notes.add(
                CONNECTWISE_FILE,
                child.line,
                &child_path,
                "not a reopen option mspbridge knows",
            ),
        }
    }
}

/// A status id as an integer, a status name as a string.
fn status_value(text: &str) -> String {
    match text.parse::<i64>() {
        Ok(id) => id.to_string(),
        Err(_) => output::string(text),
    }
}

/// Templates are carried as the user wrote them; one that mspbridge would reject (a ServiceNow-only
/// placeholder such as `%AlertDescription%`) is reported so it can be fixed before `check` fails.
fn check_template(text: &str, kind: TemplateKind, line: usize, path: &str, notes: &mut Notes) {
    if let Err(error) = Template::parse(text, kind) {
        notes.add(
            CONNECTWISE_FILE,
            line,
            path,
            format!("carried over, but fix it before running mspbridge: {error}"),
        );
    }
}

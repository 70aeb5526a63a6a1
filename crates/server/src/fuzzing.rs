//! The bodies of the fuzz targets in `fuzz/` (run with `cargo +nightly fuzz run <target>`).
//!
//! Each function takes arbitrary bytes, feeds them to one parser or builder that reads input from
//! outside, and checks what must hold for every input: no panic, and the property named in its
//! documentation. They live here, not in `fuzz/`, so the normal test suite replays the committed
//! corpus through exactly the same code on the stable toolchain (`tests/fuzz_corpus.rs`).

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use mspbridge_connectors::connectwise::{CondOp, Conditions};
use mspbridge_connectors::netwrix::{parse_error_list, parse_record_page, WireFormat};
use mspbridge_core::config::Config;
use mspbridge_core::template::{Template, TemplateKind, LOOKUP_PREFIXES};

use crate::api::body::parse_json;
use crate::api::intake::{AlertmanagerPayload, NativeAlert, NetwrixAlertRequest};

/// The body of a fuzz target.
pub type FuzzBody = fn(&[u8]);

/// Every target: its name in `fuzz/fuzz_targets/` and `fuzz/corpus/`, and its body.
pub const TARGETS: &[(&str, FuzzBody)] = &[
    ("template", template),
    ("netwrix_import", netwrix_import),
    ("auditor_record", auditor_record),
    ("connectwise_conditions", connectwise_conditions),
    ("intake_native", intake_native),
    ("intake_netwrix", intake_netwrix),
    ("intake_alertmanager", intake_alertmanager),
];

/// The template parser: a template without `%` renders to itself; any parsed template renders
/// without panicking and names only placeholders its kind allows.
pub fn template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [TemplateKind::Ticket, TemplateKind::Correlation] {
        match Template::parse(text, kind) {
            Ok(template) => {
                let rendered = template.render(|name| Some(format!("<{name}>")));
                if !text.contains('%') {
                    assert_eq!(rendered, text, "a template without placeholders changed");
                }
                let allowed = kind.allowed();
                for name in template.placeholders() {
                    assert!(
                        allowed.contains(&name) || LOOKUP_PREFIXES.contains(&name),
                        "{name} is not allowed"
                    );
                }
                let _ = template.render(|_| None);
            }
            Err(error) => {
                assert!(!error.allowed.is_empty());
                let _ = error.to_string();
            }
        }
    }
}

/// The Netwrix add-on import: the two files are the input split at its first NUL byte; whatever
/// they hold, a successful conversion is valid TOML (values from the files cannot break out of
/// their strings).
pub fn netwrix_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (connectwise, itsm) = text.split_once('\0').unwrap_or((text, "<ITSMSettings/>"));
    if let Ok(conversion) = mspbridge_core::netwrix_import::convert(connectwise, itsm) {
        if let Err(error) = conversion.toml.parse::<toml::Table>() {
            panic!("the conversion is not TOML: {error}\n{}", conversion.toml);
        }
    }
}

/// The Auditor record parser, JSON and XML, and the error-list parser: no panic, and reading
/// every field of every record works.
pub fn auditor_record(data: &[u8]) {
    let _ = WireFormat::sniff(data);
    for format in [WireFormat::Json, WireFormat::Xml] {
        if let Ok(page) = parse_record_page(data, format) {
            for record in &page.records {
                let _ = record.when_parsed();
                let _ = record.details_flattened();
                let _ = record.monitoring_plan_name();
            }
        }
    }
    let _ = parse_error_list(data);
}

/// The ConnectWise conditions builder: whatever text a value holds, the rendered expression
/// quotes it so that reading the string back gives the text and nothing follows it.
pub fn connectwise_conditions(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let ops = [
        CondOp::Eq,
        CondOp::NotEq,
        CondOp::Less,
        CondOp::LessOrEq,
        CondOp::Greater,
        CondOp::GreaterOrEq,
        CondOp::Like,
        CondOp::Contains,
    ];
    let op = ops[usize::from(selector) % ops.len()];
    let single = Conditions::compare("externalXRef", op, text.as_ref()).render();
    let prefix = format!("externalXRef {} ", op_text(op));
    let quoted = single
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{single:?} does not start with {prefix:?}"));
    let (value, after) = unquote(quoted).unwrap_or_else(|| panic!("{single:?} is not quoted"));
    assert_eq!(value, text, "the value changed in {single:?}");
    assert!(
        after.is_empty(),
        "{after:?} follows the value in {single:?}"
    );
    // Combined: the expression stays one comparison per value.
    let combined = Conditions::eq("summary", text.as_ref())
        .and(
            Conditions::like("company/identifier", &text)
                .or(Conditions::is_in("status/name", [text.as_ref(), "New"])),
        )
        .render();
    assert!(combined.starts_with("summary = \""), "{combined:?}");
    let (first, after) = unquote(&combined["summary = ".len()..]).unwrap();
    assert_eq!(first, text);
    assert!(after.starts_with(" and "), "{combined:?}");
}

fn op_text(op: CondOp) -> &'static str {
    match op {
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

/// Reads a `"…"` string with `\` escapes from the start of `text`: (value, what follows).
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut value = String::new();
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => return Some((value, &text[index + 1..])),
            other => value.push(other),
        }
    }
    None
}

fn fuzz_config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let text = r#"
[server]
database = "sqlite://fuzz.db"
api_tokens = ["fuzz-token-0123456789"]

[connectwise]
site = "http://127.0.0.1:9"
company_id = "fuzz"
public_key = "public"
private_key = "private"
client_id = "mspbridge-fuzz"

[connectwise.ticket]
company_id = 250
board_id = 3

[[sources]]
name = "auditor"
kind = "netwrix-auditor"
url = "https://127.0.0.1:9"
username = "DOMAIN\\svc"
password = "secret"
client = "Acme"

[[sources]]
name = "hooks"
kind = "webhook"

[[sources]]
name = "prometheus"
kind = "alertmanager"
client = "Globex"

[[clients]]
name = "Acme"
email = "it@acme.example"

[[clients]]
name = "Globex"
"#;
        mspbridge_core::config::parse_str(text, "fuzz.toml")
            .unwrap_or_else(|error| panic!("the fuzz configuration does not load: {error}"))
    })
}

fn fuzz_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 31, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The native intake body: parsing and validation never panic, and an accepted alert keeps the
/// ids it was sent.
pub fn intake_native(data: &[u8]) {
    let Ok(body) = parse_json::<NativeAlert>(data) else {
        return;
    };
    let alert_id = body.alert_id.clone();
    if let Ok(alert) = body.into_alert(fuzz_config(), fuzz_now()) {
        assert_eq!(alert.source_alert_id, alert_id);
        let _ = serde_json::to_string(&alert).unwrap();
    }
}

/// The Netwrix intake body: parsing and validation never panic.
pub fn intake_netwrix(data: &[u8]) {
    let Ok(body) = parse_json::<NetwrixAlertRequest>(data) else {
        return;
    };
    if let Ok(alert) = body.into_alert(fuzz_config(), fuzz_now()) {
        let _ = serde_json::to_string(&alert).unwrap();
    }
}

/// The Alertmanager intake body: parsing and validation never panic, and an accepted payload
/// gives one alert per entry.
pub fn intake_alertmanager(data: &[u8]) {
    let Ok(body) = parse_json::<AlertmanagerPayload>(data) else {
        return;
    };
    let entries = body.alerts.len();
    if let Ok(alerts) = body.into_alerts("prometheus", fuzz_now()) {
        assert_eq!(alerts.len(), entries);
        for alert in alerts {
            let _ = serde_json::to_string(&alert).unwrap();
        }
    }
}

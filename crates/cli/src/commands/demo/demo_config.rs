//! The demo's configuration file: a real one, written for the simulators and loaded through the
//! same validation as any other, with its secrets in 0600 files referenced as `file:`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use mspbridge_core::config::{self, Config};
use mspbridge_simulators::auditor::AuditorSimulator;
use mspbridge_simulators::connectwise::{ConnectWiseSimulator, SimulatorConfig};
use mspbridge_simulators::itglue::ItGlueSimulator;

use super::{AUDITOR_SOURCE, DEMO_API_TOKEN, WEBHOOK_SOURCE};
use crate::commands::init::write_private_file;

pub(crate) const AUDITOR_USER: &str = "ACME\\svc-mspbridge";
pub(crate) const AUDITOR_PASSWORD: &str = "demo-auditor-password";
pub(crate) const ITGLUE_API_KEY: &str = "ITG.demo-key";

/// A fresh password for the demo's console login: 20 random hex digits.
fn console_password() -> String {
    mspbridge_server::console::session::random_token()[..20].to_string()
}

/// Writes the configuration (and its secret files) into `dir`; returns the configuration's path.
pub(crate) fn write(
    dir: &Path,
    connectwise: &ConnectWiseSimulator,
    cw: &SimulatorConfig,
    auditor: &AuditorSimulator,
    itglue: &ItGlueSimulator,
    listen: SocketAddr,
) -> Result<PathBuf> {
    let secret = |name: &str, value: &str| -> Result<String> {
        let path = dir.join(name);
        write_private_file(&path, value)?;
        Ok(format!("file:{}", path.display()))
    };
    let text = format!(
        r#"# mspbridge demo configuration, written by `mspbridge demo` for its built-in simulators.

[server]
listen = "{listen}"
database = "sqlite://{db}"
api_tokens = ["{token}"]
admin_password = "{admin_password}"
missing_attachments_dir = "{missing}"

[connectwise]
site = "{cw_site}"
company_id = "{cw_company}"
public_key = "{cw_public}"
private_key = "{cw_private}"
client_id = "mspbridge-demo"

[connectwise.ticket]
company_id = 42
board_id = 1
team_id = 25
priority_id = 4
reopen_closed_statuses = ["Completed", "Cancelled"]
reopen_new_status = "New"

[rules]
ticket_flood_limit = 10
ticket_flood_interval = "1h"
consolidation_interval = "15m"
update_interval = "24h"

[[sources]]
name = "{auditor_source}"
kind = "netwrix-auditor"
url = "{auditor_url}"
username = '{auditor_user}'
password = "{auditor_password}"
client = "Acme"

[[sources]]
name = "{webhook_source}"
kind = "webhook"

[[clients]]
name = "Acme"
email = "it@acme.example"
connectwise = {{ company_id = 250, board_id = 3, team_id = 26 }}

[[clients]]
name = "Globex"
email = "security@globex.example"
connectwise = {{ company_id = 251, board_id = 3, team_id = 26 }}

[[clients]]
name = "Initech"
email = "admin@initech.example"
connectwise = {{ company_id = 252 }}

[[clients]]
name = "Umbrella"
email = "soc@umbrella.example"
connectwise = {{ company_id = 42 }}

[[itglue]]
name = "main"
url = "{itglue_url}"
api_key = "{itglue_key}"
clients = ["Acme", "Globex", "Initech", "Umbrella"]

[[reports]]
name = "Weekly Security Summary"
clients = ["Acme"]
schedule = "weekly"
publish_to_itglue = true
"#,
        db = dir.join("mspbridge.db").display(),
        token = DEMO_API_TOKEN,
        admin_password = secret("admin-password", &console_password())?,
        missing = dir.join("missing_attachments").display(),
        cw_site = connectwise.base_url(),
        cw_company = cw.company_id,
        cw_public = cw.public_key,
        cw_private = secret("cw-private-key", &cw.private_key)?,
        auditor_source = AUDITOR_SOURCE,
        auditor_url = auditor.base_url(),
        auditor_user = AUDITOR_USER,
        auditor_password = secret("auditor-password", AUDITOR_PASSWORD)?,
        webhook_source = WEBHOOK_SOURCE,
        itglue_url = itglue.base_url(),
        itglue_key = secret("itglue-api-key", ITGLUE_API_KEY)?,
    );
    let path = dir.join("mspbridge.toml");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Loads the demo's configuration exactly as `mspbridge check` would.
pub(crate) fn load_and_check(path: &Path) -> Result<Config> {
    config::load(path).map_err(|err| anyhow!("the demo configuration does not validate: {err}"))
}

//! `mspbridge init`: the set-up wizard (what the vendor's ConfigureConnection.exe did).
//!
//! It asks for the ConnectWise connection, tests it, lets the user pick company, board, team and
//! priority from the live lists, asks for the ticket fields, and writes a configuration file whose
//! private key lives in a separate 0600 file or behind an environment variable reference. Every prompt
//! has a flag, so `--non-interactive` runs the same steps from a script; a missing flag then is an
//! error that names it.
//!
//! The file is produced by serialising a small struct and then loaded back through the same
//! validation `check` uses, so `init` can never write a configuration that mspbridge rejects.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use dialoguer::{Confirm, Input, Password, Select};
use mspbridge_connectors::connectwise::ConnectWiseClient;
use mspbridge_core::config::{self, defaults};
use serde::Serialize;

use crate::wiring::{self, Choice};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Ask nothing: every answer comes from flags (missing ones are errors).
    #[arg(long)]
    non_interactive: bool,
    /// Where to write the configuration (default: the `-c` path, else `mspbridge.toml`).
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Overwrite an existing configuration file.
    #[arg(long)]
    force: bool,

    /// ConnectWise site, e.g. `https://api-na.myconnectwise.net`.
    #[arg(long)]
    site: Option<String>,
    /// The company id you log in to ConnectWise with.
    #[arg(long)]
    company_id: Option<String>,
    /// API member public key.
    #[arg(long)]
    public_key: Option<String>,
    /// API member private key (prefer `--private-key-env`: command lines are visible to other users).
    #[arg(long, conflicts_with = "private_key_env")]
    private_key: Option<String>,
    /// Read the private key from this environment variable.
    #[arg(long, value_name = "NAME")]
    private_key_env: Option<String>,
    /// The clientId registered for this integration at developer.connectwise.com.
    #[arg(long)]
    client_id: Option<String>,

    /// Company the tickets are opened for: id, identifier or name.
    #[arg(long)]
    company: Option<String>,
    /// Service board: id or name.
    #[arg(long)]
    board: Option<String>,
    /// Service team of that board: id or name.
    #[arg(long)]
    team: Option<String>,
    /// Priority: id or name.
    #[arg(long)]
    priority: Option<String>,
    /// Ticket severity.
    #[arg(long, value_enum, ignore_case = true)]
    severity: Option<Level>,
    /// Ticket impact.
    #[arg(long, value_enum, ignore_case = true)]
    impact: Option<Level>,
    /// Summary template (placeholders such as `%AlertName%`).
    #[arg(long)]
    summary: Option<String>,
    /// Description template.
    #[arg(long)]
    description: Option<String>,
    /// Which ticket field the description goes to.
    #[arg(long, value_enum, ignore_case = true)]
    description_field: Option<DescriptionField>,

    /// How the private key is stored: a separate 0600 file, or an `env:` reference.
    #[arg(long, value_enum)]
    secrets: Option<SecretStorage>,
    /// The file the private key is written to with `--secrets file` (default: beside the config).
    #[arg(long, value_name = "PATH")]
    secrets_file: Option<PathBuf>,
    /// The environment variable named in the config with `--secrets env`.
    #[arg(long, value_name = "NAME", default_value = "CW_PRIVATE_KEY")]
    secrets_env: String,

    /// Create a test ticket once the configuration is written.
    #[arg(long)]
    test_ticket: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
pub enum Level {
    #[value(name = "Low")]
    Low,
    #[value(name = "Medium")]
    Medium,
    #[value(name = "High")]
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
pub enum DescriptionField {
    #[value(name = "initialDescription")]
    #[serde(rename = "initialDescription")]
    InitialDescription,
    #[value(name = "initialInternalAnalysis")]
    #[serde(rename = "initialInternalAnalysis")]
    InitialInternalAnalysis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretStorage {
    File,
    Env,
}

/// The configuration file `init` writes: only what the wizard asked, everything else defaulted.
#[derive(Debug, Serialize)]
struct WrittenConfig {
    connectwise: WrittenConnectWise,
}

#[derive(Debug, Serialize)]
struct WrittenConnectWise {
    site: String,
    company_id: String,
    public_key: String,
    /// Always a reference (`file:` or `env:`), never the key itself.
    private_key: String,
    client_id: String,
    ticket: WrittenTicket,
}

#[derive(Debug, Serialize)]
struct WrittenTicket {
    summary: String,
    description: String,
    description_field: DescriptionField,
    severity: Level,
    impact: Level,
    company_id: i32,
    board_id: i32,
    team_id: Option<i32>,
    priority_id: Option<i32>,
}

pub async fn run(config_path: &Path, args: InitArgs) -> Result<ExitCode> {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| config_path.to_path_buf());
    let mut wizard = Wizard { args };
    if output.exists() && !wizard.args.force {
        let overwrite = !wizard.args.non_interactive
            && wizard.confirm(
                &format!("{} exists. Overwrite it?", output.display()),
                false,
            )?;
        if !overwrite {
            bail!(
                "{} already exists; pass --force to overwrite it",
                output.display()
            );
        }
    }

    let (settings, private_key) = wizard.connection().await?;
    let client = ConnectWiseClient::new(settings.clone())
        .map_err(|err| anyhow!("{err}"))
        .context("setting up the ConnectWise client")?;

    let companies = wiring::company_choices(&client).await?;
    let company = wizard.pick(
        "Company the tickets are opened for",
        "--company",
        wizard.args.company.clone(),
        &companies,
    )?;
    let boards = wiring::board_choices(&client).await?;
    let board = wizard.pick(
        "Service board",
        "--board",
        wizard.args.board.clone(),
        &boards,
    )?;
    let teams = wiring::team_choices(&client, board.id).await?;
    let team = wizard.pick_optional("Service team", "--team", wizard.args.team.clone(), &teams)?;
    let priorities = wiring::priority_choices(&client).await?;
    let priority = wizard.pick_optional(
        "Priority",
        "--priority",
        wizard.args.priority.clone(),
        &priorities,
    )?;

    let severity = wizard.level("Severity", wizard.args.severity)?;
    let impact = wizard.level("Impact", wizard.args.impact)?;
    let summary = wizard.text(
        "Summary template",
        wizard.args.summary.clone(),
        defaults::SUMMARY,
    )?;
    let description = wizard.description()?;
    let description_field = wizard.description_field()?;

    let private_key_ref = wizard.store_private_key(&output, &private_key)?;
    let written = WrittenConfig {
        connectwise: WrittenConnectWise {
            site: settings.site.to_string(),
            company_id: settings.company_id.clone(),
            public_key: settings.public_key.clone(),
            private_key: private_key_ref,
            client_id: settings.client_id.clone(),
            ticket: WrittenTicket {
                summary,
                description,
                description_field,
                severity,
                impact,
                company_id: company.id,
                board_id: board.id,
                team_id: team.map(|t| t.id),
                priority_id: priority.map(|p| p.id),
            },
        },
    };
    let text = render_config(&written)?;
    // Validate exactly what will be written, with the secret reachable, before touching the file.
    config::parse_str(&text, &output.display().to_string())
        .map_err(|err| anyhow!("{err}"))
        .context("the configuration init produced does not validate (this is a bug)")?;
    std::fs::write(&output, &text).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("Wrote {}", output.display());

    let want_test_ticket = if wizard.args.non_interactive {
        wizard.args.test_ticket
    } else {
        wizard.args.test_ticket || wizard.confirm("Create a test ticket now?", true)?
    };
    if want_test_ticket {
        let config = config::load(&output).map_err(|err| anyhow!("{err}"))?;
        let created = crate::commands::test_ticket::create(&config, None).await?;
        eprintln!("Created test ticket #{}", created.ticket_id);
        println!("{}", created.ticket_id);
    }
    Ok(ExitCode::SUCCESS)
}

fn render_config(written: &WrittenConfig) -> Result<String> {
    let body = toml::to_string_pretty(written).context("serialising the configuration")?;
    Ok(format!(
        "# mspbridge configuration written by `mspbridge init`.\n\
         # Every other setting has the documented default; see docs/configuration.md.\n\n{body}"
    ))
}

struct Wizard {
    args: InitArgs,
}

impl Wizard {
    fn interactive(&self) -> bool {
        !self.args.non_interactive
    }

    fn required(&self, flag: &str, what: &str) -> anyhow::Error {
        anyhow!("{flag} is required with --non-interactive ({what})")
    }

    fn text(&self, prompt: &str, given: Option<String>, default: &str) -> Result<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        if !self.interactive() {
            return Ok(default.to_string());
        }
        Ok(Input::new()
            .with_prompt(prompt)
            .default(default.to_string())
            .interact_text()?)
    }

    fn required_text(
        &self,
        prompt: &str,
        flag: &str,
        given: Option<String>,
        default: Option<&str>,
    ) -> Result<String> {
        if let Some(value) = given {
            return Ok(value);
        }
        if !self.interactive() {
            return Err(self.required(flag, prompt));
        }
        let mut input = Input::<String>::new().with_prompt(prompt);
        if let Some(default) = default {
            input = input.default(default.to_string());
        }
        Ok(input.interact_text()?)
    }

    fn confirm(&self, prompt: &str, default: bool) -> Result<bool> {
        Ok(Confirm::new()
            .with_prompt(prompt)
            .default(default)
            .interact()?)
    }

    /// Site, company, keys and client id, re-asked until the connection test passes (interactive)
    /// or failing with the test's message (non-interactive).
    async fn connection(
        &mut self,
    ) -> Result<(
        mspbridge_connectors::connectwise::ConnectWiseSettings,
        String,
    )> {
        loop {
            let site = self.required_text(
                "ConnectWise site",
                "--site",
                self.args.site.clone(),
                Some("https://api-na.myconnectwise.net"),
            )?;
            let company_id = self.required_text(
                "Company id (the one you log in with)",
                "--company-id",
                self.args.company_id.clone(),
                None,
            )?;
            let public_key = self.required_text(
                "Public key",
                "--public-key",
                self.args.public_key.clone(),
                None,
            )?;
            let private_key = self.private_key()?;
            let client_id = self.required_text(
                "Client id (from developer.connectwise.com)",
                "--client-id",
                self.args.client_id.clone(),
                None,
            )?;

            let settings = wiring::connectwise_settings_from_answers(
                &site,
                &company_id,
                &public_key,
                &private_key,
                &client_id,
            )?;
            eprintln!("Testing the connection to {site} …");
            match wiring::test_connectwise(&settings).await {
                Ok(summary) => {
                    eprintln!("Connected: {summary}");
                    // Keep the answers so a re-run of a later step does not ask again.
                    self.args.site = Some(site);
                    self.args.company_id = Some(company_id);
                    self.args.public_key = Some(public_key);
                    self.args.client_id = Some(client_id);
                    return Ok((settings, private_key));
                }
                Err(err) if self.interactive() => {
                    eprintln!(
                        "The connection test failed: {}",
                        crate::error_chain::one_line(&err)
                    );
                    if !self.confirm("Enter the connection details again?", true)? {
                        return Err(err.context("testing the ConnectWise connection"));
                    }
                    self.args.site = None;
                    self.args.company_id = None;
                    self.args.public_key = None;
                    self.args.private_key = None;
                    self.args.private_key_env = None;
                    self.args.client_id = None;
                }
                Err(err) => return Err(err.context("testing the ConnectWise connection")),
            }
        }
    }

    fn private_key(&self) -> Result<String> {
        if let Some(key) = &self.args.private_key {
            return Ok(key.clone());
        }
        if let Some(name) = &self.args.private_key_env {
            return std::env::var(name)
                .map_err(|_| anyhow!("--private-key-env names {name}, which is not set"));
        }
        if !self.interactive() {
            return Err(self.required(
                "--private-key or --private-key-env",
                "the API member's private key",
            ));
        }
        Ok(Password::new().with_prompt("Private key").interact()?)
    }

    fn pick(
        &self,
        prompt: &str,
        flag: &str,
        given: Option<String>,
        choices: &[Choice],
    ) -> Result<Choice> {
        self.pick_optional(prompt, flag, given, choices)?
            .ok_or_else(|| {
                anyhow!(
                    "ConnectWise lists no {} to choose from",
                    prompt.to_lowercase()
                )
            })
    }

    /// A choice from a live list: by flag (id or name), or from a menu. `None` only when the list is
    /// empty and nothing was asked for.
    fn pick_optional(
        &self,
        prompt: &str,
        flag: &str,
        given: Option<String>,
        choices: &[Choice],
    ) -> Result<Option<Choice>> {
        if let Some(wanted) = given {
            return find_choice(&wanted, choices).map(Some).ok_or_else(|| {
                anyhow!(
                    "{flag} {wanted:?} is not in ConnectWise's list: {}",
                    list_labels(choices)
                )
            });
        }
        if choices.is_empty() {
            return Ok(None);
        }
        if !self.interactive() {
            return Err(self.required(flag, prompt));
        }
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        let index = Select::new()
            .with_prompt(prompt)
            .items(&labels)
            .default(0)
            .interact()?;
        Ok(Some(choices[index].clone()))
    }

    fn level(&self, prompt: &str, given: Option<Level>) -> Result<Level> {
        if let Some(level) = given {
            return Ok(level);
        }
        if !self.interactive() {
            return Ok(Level::Medium);
        }
        let levels = [Level::Low, Level::Medium, Level::High];
        let index = Select::new()
            .with_prompt(prompt)
            .items(&["Low", "Medium", "High"])
            .default(1)
            .interact()?;
        Ok(levels[index])
    }

    fn description(&self) -> Result<String> {
        if let Some(given) = &self.args.description {
            return Ok(given.clone());
        }
        if !self.interactive() {
            return Ok(defaults::DESCRIPTION.to_string());
        }
        eprintln!(
            "The default description template is:\n{}",
            indent(defaults::DESCRIPTION)
        );
        if self.confirm("Use the default description template?", true)? {
            return Ok(defaults::DESCRIPTION.to_string());
        }
        let line: String = Input::new()
            .with_prompt("Description template (write \\n for a line break)")
            .interact_text()?;
        Ok(line.replace("\\n", "\n"))
    }

    fn description_field(&self) -> Result<DescriptionField> {
        if let Some(field) = self.args.description_field {
            return Ok(field);
        }
        if !self.interactive() {
            return Ok(DescriptionField::InitialDescription);
        }
        let index = Select::new()
            .with_prompt("Put the description in")
            .items(&[
                "initialDescription (the ticket's description, visible to the customer)",
                "initialInternalAnalysis (an internal note, MSP only)",
            ])
            .default(0)
            .interact()?;
        Ok([
            DescriptionField::InitialDescription,
            DescriptionField::InitialInternalAnalysis,
        ][index])
    }

    /// Puts the private key where the config will reference it and returns the reference.
    fn store_private_key(&self, config_output: &Path, private_key: &str) -> Result<String> {
        let storage = match self.args.secrets {
            Some(storage) => storage,
            None if !self.interactive() => SecretStorage::File,
            None => {
                let index = Select::new()
                    .with_prompt("Keep the private key in")
                    .items(&[
                        "a separate file readable only by you (0600)",
                        "an environment variable",
                    ])
                    .default(0)
                    .interact()?;
                [SecretStorage::File, SecretStorage::Env][index]
            }
        };
        match storage {
            SecretStorage::Env => {
                let name = &self.args.secrets_env;
                eprintln!("The configuration reads the private key from ${name}: set it before running mspbridge.");
                Ok(format!("env:{name}"))
            }
            SecretStorage::File => {
                let path = match &self.args.secrets_file {
                    Some(path) => path.clone(),
                    None => default_secrets_path(config_output),
                };
                write_private_file(&path, private_key)?;
                let absolute = std::path::absolute(&path).unwrap_or(path);
                eprintln!(
                    "Wrote the private key to {} (mode 0600)",
                    absolute.display()
                );
                Ok(format!("file:{}", absolute.display()))
            }
        }
    }
}

fn default_secrets_path(config_output: &Path) -> PathBuf {
    let stem = config_output
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("mspbridge");
    config_output.with_file_name(format!("{stem}.cw-private-key"))
}

/// Creates (or truncates) `path` with mode 0600 before any byte of the secret is written.
pub(crate) fn write_private_file(path: &Path, secret: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {}", path.display()))?;
        }
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(secret.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn find_choice(wanted: &str, choices: &[Choice]) -> Option<Choice> {
    let wanted = wanted.trim();
    if let Ok(id) = wanted.parse::<i32>() {
        if let Some(choice) = choices.iter().find(|c| c.id == id) {
            return Some(choice.clone());
        }
    }
    choices
        .iter()
        .find(|c| c.names.iter().any(|n| n.eq_ignore_ascii_case(wanted)))
        .cloned()
}

fn list_labels(choices: &[Choice]) -> String {
    if choices.is_empty() {
        return "(the list is empty)".to_string();
    }
    choices
        .iter()
        .map(|c| c.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Vec<Choice> {
        vec![
            Choice::new(
                1,
                vec!["Professional Services".into()],
                "Professional Services (1)",
            ),
            Choice::new(
                3,
                vec!["Security Operations".into()],
                "Security Operations (3)",
            ),
        ]
    }

    #[test]
    fn a_choice_is_found_by_id_or_by_name_ignoring_case() {
        assert_eq!(find_choice("3", &choices()).map(|c| c.id), Some(3));
        assert_eq!(
            find_choice("security operations", &choices()).map(|c| c.id),
            Some(3)
        );
        assert!(find_choice("Help Desk", &choices()).is_none());
    }

    #[test]
    fn the_secrets_file_sits_beside_the_config() {
        assert_eq!(
            default_secrets_path(Path::new("/etc/mspbridge/prod.toml")),
            PathBuf::from("/etc/mspbridge/prod.cw-private-key")
        );
    }
}

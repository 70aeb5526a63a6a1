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
use dialoguer::{Confirm, FuzzySelect, Input, Password, Select};
use mspbridge_connectors::connectwise::ConnectWiseClient;
use mspbridge_core::config::{self, defaults, LoadOptions};
use mspbridge_core::template::{Template, TemplateKind};
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
    /// The environment variable named in the config with `--secrets env` (default: the
    /// `--private-key-env` name, else `CW_PRIVATE_KEY`).
    #[arg(long, value_name = "NAME")]
    secrets_env: Option<String>,

    /// Create a test ticket once the configuration is written.
    #[arg(long)]
    test_ticket: bool,

    /// Generate an API token for the intake and the API (`server.api_tokens`), kept like the
    /// private key (a 0600 file, or `env:MSPBRIDGE_TOKEN`).
    #[arg(long)]
    api_token: bool,
    /// Add an alert source: `webhook`, `alertmanager` or `netwrix-auditor` (with `--auditor-url`,
    /// `--auditor-username` and `--auditor-password-env`; its connection is tested).
    #[arg(long, value_enum, value_name = "KIND")]
    source: Option<SourceKindArg>,
    /// Netwrix Auditor Integration API URL, e.g. `https://auditor.acme.example:9699`.
    #[arg(long, value_name = "URL")]
    auditor_url: Option<String>,
    /// The Auditor account, `DOMAIN\user`.
    #[arg(long, value_name = "USER")]
    auditor_username: Option<String>,
    /// The environment variable holding the Auditor account's password (referenced as `env:NAME`).
    #[arg(long, value_name = "NAME")]
    auditor_password_env: Option<String>,
    /// SHA-256 fingerprint of Auditor's self-signed certificate, to pin it.
    #[arg(long, value_name = "HEX")]
    auditor_certificate_sha256: Option<String>,
    /// A managed client to add (`NAME` or `NAME=EMAIL`); repeat for several.
    #[arg(long = "client", value_name = "NAME[=EMAIL]")]
    clients: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKindArg {
    Webhook,
    Alertmanager,
    NetwrixAuditor,
}

impl SourceKindArg {
    fn as_str(self) -> &'static str {
        match self {
            SourceKindArg::Webhook => "webhook",
            SourceKindArg::Alertmanager => "alertmanager",
            SourceKindArg::NetwrixAuditor => "netwrix-auditor",
        }
    }
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

/// Lists longer than this are picked from with type-to-filter instead of arrow keys only.
const FILTER_ABOVE: usize = 10;

/// The variable the private key is given to the validation under, before it is stored.
const CHECK_ENV: &str = "MSPBRIDGE_INIT_PRIVATE_KEY_CHECK";
/// The same for a generated API token.
const CHECK_TOKEN_ENV: &str = "MSPBRIDGE_INIT_API_TOKEN_CHECK";

/// Which secret is being stored: where its file goes and which variable names it by default.
enum SecretKind {
    PrivateKey,
    ApiToken,
}

/// What the wizard set up so that alerts can come in.
#[derive(Debug, Default)]
struct Intake {
    /// A generated API token.
    token: Option<String>,
    sources: Vec<WrittenSource>,
    clients: Vec<WrittenClient>,
    /// Variables the sources' `env:` references name, with their values, for the validation.
    secret_env: Vec<(String, String)>,
}

/// The environment variable the private key is referenced by when nothing names one.
const DEFAULT_SECRETS_ENV: &str = "CW_PRIVATE_KEY";
/// The environment variable a generated API token is referenced by with `--secrets env`.
const TOKEN_ENV: &str = "MSPBRIDGE_TOKEN";

/// The configuration file `init` writes: only what the wizard asked, everything else defaulted.
#[derive(Debug, Serialize)]
struct WrittenConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<WrittenServer>,
    connectwise: WrittenConnectWise,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<WrittenSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    clients: Vec<WrittenClient>,
}

#[derive(Debug, Serialize)]
struct WrittenServer {
    /// References (`file:` or `env:`), never the token itself.
    api_tokens: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct WrittenSource {
    name: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// An `env:` reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_certificate_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct WrittenClient {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
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
    let summary = wizard.template(
        "Summary template",
        "--summary",
        wizard.args.summary.clone(),
        defaults::SUMMARY,
    )?;
    let description = wizard.description()?;
    let description_field = wizard.description_field()?;

    let intake = wizard.intake().await?;
    let storage = wizard.secret_storage()?;
    let mut written = WrittenConfig {
        server: intake.token.as_ref().map(|_| WrittenServer {
            api_tokens: vec![format!("env:{CHECK_TOKEN_ENV}")],
        }),
        sources: intake.sources.clone(),
        clients: intake.clients.clone(),
        connectwise: WrittenConnectWise {
            site: settings.site.to_string(),
            company_id: settings.company_id.clone(),
            public_key: settings.public_key.clone(),
            private_key: format!("env:{CHECK_ENV}"),
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
    // Validate what will be written before any file is touched: the key is handed to the check
    // through a private variable, so a mistake leaves neither a config nor a key file behind.
    let options = LoadOptions {
        base_dir: output.parent().map(Path::to_path_buf),
        env: Some(
            intake
                .secret_env
                .iter()
                .cloned()
                .chain([
                    (CHECK_ENV.to_string(), private_key.clone()),
                    (
                        CHECK_TOKEN_ENV.to_string(),
                        intake.token.clone().unwrap_or_default(),
                    ),
                ])
                .collect(),
        ),
    };
    config::parse_str_with(
        &render_config(&written)?,
        &output.display().to_string(),
        &options,
    )
    .map_err(|err| anyhow!("{err}"))
    .context("the configuration does not validate")?;
    let mut secret_files = Vec::new();
    let stored = wizard
        .store_secret(storage, &SecretKind::PrivateKey, &output, &private_key)
        .and_then(|(reference, file)| {
            secret_files.extend(file);
            written.connectwise.private_key = reference;
            if let (Some(token), Some(server)) = (&intake.token, &mut written.server) {
                let (reference, file) =
                    wizard.store_secret(storage, &SecretKind::ApiToken, &output, token)?;
                secret_files.extend(file);
                server.api_tokens = vec![reference];
            }
            Ok(())
        })
        .and_then(|()| render_config(&written))
        .and_then(|text| {
            std::fs::write(&output, &text).with_context(|| format!("writing {}", output.display()))
        });
    if let Err(err) = stored {
        // Never leave a key file without the configuration that references it.
        for file in secret_files {
            let _ = std::fs::remove_file(file);
        }
        return Err(err);
    }
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

    /// A ticket template: checked as it is typed (an unknown placeholder is named and the prompt
    /// asks again); a template given by flag that does not parse is an error naming the flag.
    fn template(
        &self,
        prompt: &str,
        flag: &str,
        given: Option<String>,
        default: &str,
    ) -> Result<String> {
        if let Some(value) = given {
            check_template(&value).map_err(|problem| anyhow!("{flag}: {problem}"))?;
            return Ok(value);
        }
        if !self.interactive() {
            return Ok(default.to_string());
        }
        Ok(Input::<String>::new()
            .with_prompt(prompt)
            .default(default.to_string())
            .validate_with(|text: &String| check_template(text))
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

    /// Site, company, keys and client id, tested; after a failed test (interactive) the answers
    /// are kept and only the settings the user picks are asked again. Non-interactive, the test's
    /// message is the error.
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
                    // Keep every answer; ask again only for the ones the user says are wrong.
                    self.args.site = Some(site);
                    self.args.company_id = Some(company_id);
                    self.args.public_key = Some(public_key);
                    self.args.private_key = Some(private_key);
                    self.args.private_key_env = None;
                    self.args.client_id = Some(client_id);
                    let items = [
                        "the site",
                        "the company id",
                        "the public key",
                        "the private key",
                        "the client id",
                        "all of them",
                        "nothing: stop here",
                    ];
                    let index = Select::new()
                        .with_prompt("Which setting should be changed?")
                        .items(&items)
                        .default(0)
                        .interact()?;
                    match index {
                        0 => self.args.site = None,
                        1 => self.args.company_id = None,
                        2 => self.args.public_key = None,
                        3 => self.args.private_key = None,
                        4 => self.args.client_id = None,
                        5 => {
                            self.args.site = None;
                            self.args.company_id = None;
                            self.args.public_key = None;
                            self.args.private_key = None;
                            self.args.client_id = None;
                        }
                        _ => return Err(err.context("testing the ConnectWise connection")),
                    }
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
        // A long list (an MSP has hundreds of companies) is filtered by typing.
        let index = if labels.len() > FILTER_ABOVE {
            FuzzySelect::new()
                .with_prompt(format!("{prompt} (type to filter)"))
                .items(&labels)
                .default(0)
                .max_length(15)
                .interact()?
        } else {
            Select::new()
                .with_prompt(prompt)
                .items(&labels)
                .default(0)
                .interact()?
        };
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
            check_template(given).map_err(|problem| anyhow!("--description: {problem}"))?;
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
            .validate_with(|text: &String| check_template(&text.replace("\\n", "\n")))
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

    /// Where the private key is to be kept: by flag, or asked.
    fn secret_storage(&self) -> Result<SecretStorage> {
        Ok(match self.args.secrets {
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
        })
    }

    /// Puts a secret where the config will reference it; returns the reference and the file
    /// written, if any.
    fn store_secret(
        &self,
        storage: SecretStorage,
        kind: &SecretKind,
        config_output: &Path,
        secret: &str,
    ) -> Result<(String, Option<PathBuf>)> {
        match (storage, kind) {
            (SecretStorage::Env, SecretKind::PrivateKey) => {
                let name = self
                    .args
                    .secrets_env
                    .as_deref()
                    .or(self.args.private_key_env.as_deref())
                    .unwrap_or(DEFAULT_SECRETS_ENV);
                eprintln!("The configuration reads the private key from ${name}: set it before running mspbridge.");
                Ok((format!("env:{name}"), None))
            }
            (SecretStorage::Env, SecretKind::ApiToken) => {
                // The generated token is not printed (terminals are logged); the variable is set
                // to a token of the operator's choosing.
                eprintln!("The configuration reads the API token from ${TOKEN_ENV}: set it to a long random value (e.g. 64 hex digits) before running mspbridge.");
                Ok((format!("env:{TOKEN_ENV}"), None))
            }
            (SecretStorage::File, kind) => {
                let path = match (kind, &self.args.secrets_file) {
                    (SecretKind::PrivateKey, Some(path)) => path.clone(),
                    (SecretKind::PrivateKey, None) => default_secrets_path(config_output),
                    (SecretKind::ApiToken, _) => secrets_path(config_output, "api-token"),
                };
                write_private_file(&path, secret)?;
                let absolute = std::path::absolute(&path).unwrap_or(path);
                let what = match kind {
                    SecretKind::PrivateKey => "the private key",
                    SecretKind::ApiToken => "the API token (send it as `Authorization: Bearer …`)",
                };
                eprintln!("Wrote {what} to {} (mode 0600)", absolute.display());
                Ok((format!("file:{}", absolute.display()), Some(absolute)))
            }
        }
    }

    /// An API token, a source and the first clients, so the service written can take alerts.
    async fn intake(&self) -> Result<Intake> {
        let mut intake = Intake::default();
        let interactive = self.interactive();
        let want_token = self.args.api_token
            || (interactive
                && self.confirm(
                    "Create an API token (needed to send alerts to the intake and use the API)?",
                    true,
                )?);
        if want_token {
            intake.token = Some(generate_token());
        }
        let kind = match self.args.source {
            Some(kind) => Some(kind),
            None if !interactive => None,
            None => {
                let index = Select::new()
                    .with_prompt("Add an alert source")
                    .items(&[
                        "a webhook (any tool posting JSON alerts)",
                        "Prometheus Alertmanager",
                        "Netwrix Auditor (its response action; activity records read from its Integration API)",
                        "none for now",
                    ])
                    .default(0)
                    .interact()?;
                [
                    Some(SourceKindArg::Webhook),
                    Some(SourceKindArg::Alertmanager),
                    Some(SourceKindArg::NetwrixAuditor),
                    None,
                ][index]
            }
        };
        if let Some(kind) = kind {
            let source = match kind {
                SourceKindArg::NetwrixAuditor => self.auditor_source(&mut intake).await?,
                other => WrittenSource {
                    name: other.as_str().to_string(),
                    kind: other.as_str(),
                    url: None,
                    username: None,
                    password: None,
                    tls_certificate_sha256: None,
                },
            };
            intake.sources.push(source);
        }
        for given in &self.args.clients {
            let (name, email) = match given.split_once('=') {
                Some((name, email)) => (name.trim(), Some(email.trim().to_string())),
                None => (given.trim(), None),
            };
            intake.clients.push(WrittenClient {
                name: name.to_string(),
                email,
            });
        }
        if interactive && self.args.clients.is_empty() {
            while self.confirm(
                if intake.clients.is_empty() {
                    "Add a managed client (alerts and IT Glue are per client)?"
                } else {
                    "Add another client?"
                },
                intake.clients.is_empty(),
            )? {
                let name: String = Input::new()
                    .with_prompt("Client name")
                    .validate_with(|text: &String| {
                        if text.trim().is_empty() {
                            Err("the name is empty")
                        } else {
                            Ok(())
                        }
                    })
                    .interact_text()?;
                let email: String = Input::new()
                    .with_prompt(
                        "Client e-mail (its domain drives IT Glue auto-mapping; empty for none)",
                    )
                    .allow_empty(true)
                    .interact_text()?;
                let email = email.trim();
                intake.clients.push(WrittenClient {
                    name: name.trim().to_string(),
                    email: (!email.is_empty()).then(|| email.to_string()),
                });
            }
        }
        Ok(intake)
    }

    /// A Netwrix Auditor source, asked (or taken from flags) and tested until it connects.
    async fn auditor_source(&self, intake: &mut Intake) -> Result<WrittenSource> {
        let mut url = self.args.auditor_url.clone();
        let mut username = self.args.auditor_username.clone();
        let mut pin = self.args.auditor_certificate_sha256.clone();
        let password_env = match &self.args.auditor_password_env {
            Some(name) => name.clone(),
            None if !self.interactive() => {
                return Err(self.required(
                    "--auditor-password-env",
                    "the variable holding the Auditor password",
                ))
            }
            None => "AUDITOR_PASSWORD".to_string(),
        };
        loop {
            let url_text = self.required_text(
                "Netwrix Auditor URL",
                "--auditor-url",
                url.clone(),
                Some("https://localhost:9699"),
            )?;
            let user = self.required_text(
                "Auditor user (DOMAIN\\user)",
                "--auditor-username",
                username.clone(),
                None,
            )?;
            let password = match std::env::var(&password_env) {
                Ok(password) => password,
                Err(_) if self.interactive() => {
                    Password::new().with_prompt("Auditor password").interact()?
                }
                Err(_) => bail!("--auditor-password-env names {password_env}, which is not set"),
            };
            let fingerprint = match &pin {
                Some(pin) => Some(pin.clone()),
                None if self.interactive() && url_text.starts_with("https:") => {
                    let text: String = Input::new()
                        .with_prompt("SHA-256 fingerprint of Auditor's certificate, to pin it (empty: verify normally)")
                        .allow_empty(true)
                        .interact_text()?;
                    (!text.trim().is_empty()).then(|| text.trim().to_string())
                }
                None => None,
            };
            let source = WrittenSource {
                name: "netwrix-auditor".to_string(),
                kind: "netwrix-auditor",
                url: Some(url_text.clone()),
                username: Some(user.clone()),
                password: Some(format!("env:{password_env}")),
                tls_certificate_sha256: fingerprint.clone(),
            };
            eprintln!("Testing Netwrix Auditor at {url_text} …");
            match test_auditor(&url_text, &user, &password, fingerprint.as_deref()).await {
                Ok(()) => {
                    eprintln!("Netwrix Auditor answered a search as {user}.");
                    intake.secret_env.push((password_env.clone(), password));
                    if std::env::var(&password_env).is_err() {
                        eprintln!("The configuration reads the Auditor password from ${password_env}: set it before running mspbridge.");
                    }
                    return Ok(source);
                }
                Err(err) if self.interactive() => {
                    eprintln!(
                        "The Auditor connection test failed: {}",
                        crate::error_chain::one_line(&err)
                    );
                    if !self.confirm("Change the Auditor settings and test again?", true)? {
                        return Err(err.context("testing the Netwrix Auditor connection"));
                    }
                    url = None;
                    username = None;
                    pin = None;
                }
                Err(err) => return Err(err.context("testing the Netwrix Auditor connection")),
            }
        }
    }
}

/// A random API token: 32 bytes as hex.
fn generate_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The Auditor check `mspbridge check` makes: credentials and certificate, then one search.
async fn test_auditor(url: &str, user: &str, password: &str, pin: Option<&str>) -> Result<()> {
    use mspbridge_connectors::netwrix::{
        AuditorClient, AuditorPassword, AuditorSettings, FilterList, TlsMode,
    };
    let url = url::Url::parse(url.trim()).map_err(|err| anyhow!("url {url:?}: {err}"))?;
    let mut settings = AuditorSettings::new(url, user.trim(), AuditorPassword::new(password));
    settings.timeout = std::time::Duration::from_secs(30);
    if let Some(pin) = pin {
        settings.tls = TlsMode::PinnedSha256(pin.to_string());
    }
    let client = AuditorClient::new(settings)?;
    client.probe().await?;
    client
        .search_page(&FilterList::rid("mspbridge-init"), None)
        .await?;
    Ok(())
}

/// Whether `text` is a valid ticket template (the placeholders the configuration accepts).
fn check_template(text: &str) -> Result<(), String> {
    Template::parse(text, TemplateKind::Ticket)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn default_secrets_path(config_output: &Path) -> PathBuf {
    secrets_path(config_output, "cw-private-key")
}

/// `STEM.WHAT` beside the configuration file.
fn secrets_path(config_output: &Path, what: &str) -> PathBuf {
    let stem = config_output
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("mspbridge");
    config_output.with_file_name(format!("{stem}.{what}"))
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

//! `mspbridge`: the command line and the composition root.
//!
//! This crate parses arguments, loads the configuration, wires the store, connectors and simulators
//! together and runs one command. Behaviour lives in the library crates; what is here is only the
//! glue a user touches (prompts, progress, exit codes, human messages on stderr, data on stdout).

mod commands;
mod error_chain;
mod wiring;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the intake allocates and frees many small objects per
/// request (JSON values, strings, futures), and glibc's malloc was a third of its CPU time. Built
/// without transparent huge pages (`no_thp`), which otherwise tripled the resident memory of
/// `serve` with a deep queue for no measurable speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Security alerts to ConnectWise Manage tickets, and clients and machines to IT Glue, for many
/// managed clients at once.
#[derive(Debug, Parser)]
#[command(name = "mspbridge", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default `mspbridge.toml`).
    #[arg(
        short,
        long,
        global = true,
        env = "MSPBRIDGE_CONFIG",
        value_name = "PATH"
    )]
    config: Option<PathBuf>,

    /// More log output on stderr (repeat for more); `RUST_LOG` overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Log format on stderr: `text` (coloured only when stderr is a terminal) or `json` (one
    /// object per line, with the fields of the spans it happened in).
    #[arg(
        long,
        global = true,
        env = "MSPBRIDGE_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: intake API, management API, metrics and the alert engine.
    Serve(commands::serve::ServeArgs),
    /// Netwrix Auditor alert response action: queue alert ALERT_ID RECORD_ID durably.
    Alert(commands::alert::AlertArgs),
    /// List tracked incidents and their ConnectWise tickets.
    Tickets(commands::tickets::TicketsArgs),
    /// List integration events.
    Events(commands::events::EventsArgs),
    /// List queued, running and dead-lettered jobs; `queue retry ID` re-queues a dead one.
    Queue(commands::queue::QueueArgs),
    /// Route every unrouted alert again under the configuration (after adding a client or route).
    Reroute(commands::reroute::RerouteArgs),
    /// Set up the ConnectWise Manage connection and write the configuration file.
    Init(Box<commands::init::InitArgs>),
    /// Validate the configuration and test every configured connection.
    Check(commands::check::CheckArgs),
    /// Create a test ticket in ConnectWise Manage and print its id.
    TestTicket(commands::test_ticket::TestTicketArgs),
    /// Convert the Netwrix add-on's ConnectWiseSettings.xml and ITSMSettings.xml into a configuration.
    ImportNetwrix(commands::import_netwrix::ImportNetwrixArgs),
    /// Create or upgrade the database schema; `--to postgres://…` copies the SQLite database into
    /// an empty PostgreSQL database.
    Migrate(commands::migrate::MigrateArgs),
    /// Run the whole product on this machine against the built-in simulators.
    Demo(commands::demo::DemoArgs),
    /// Run one simulator of an outside system, for trying the product or testing against it.
    #[command(subcommand)]
    Simulate(commands::simulate::SimulateCommand),
    /// Generate security reports, publish them (or external HTML) to IT Glue, list them.
    #[command(subcommand)]
    Report(commands::report::ReportCommand),
    /// Import from IT Glue, auto-map, map or unmap by hand, list mappings.
    #[command(subcommand, name = "itglue")]
    ItGlue(commands::itglue::ItGlueCommand),
    /// The managed clients and their IT Glue mapping state.
    #[command(subcommand)]
    Clients(commands::clients::ClientsCommand),
    /// The systems inventory: list, add, import CSV, remove.
    #[command(subcommand)]
    Systems(commands::systems::SystemsCommand),
}

fn main() -> ExitCode {
    mspbridge_server::allocator::give_freed_memory_back_at_once();
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let config_path = mspbridge_core::config::config_path(cli.config);
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(&config_path, args).await,
            Command::Alert(args) => commands::alert::run(&config_path, args).await,
            Command::Tickets(args) => commands::tickets::run(&config_path, args).await,
            Command::Events(args) => commands::events::run(&config_path, args).await,
            Command::Queue(args) => commands::queue::run(&config_path, args).await,
            Command::Reroute(args) => commands::reroute::run(&config_path, args).await,
            Command::Init(args) => commands::init::run(&config_path, *args).await,
            Command::Check(args) => commands::check::run(&config_path, args).await,
            Command::TestTicket(args) => commands::test_ticket::run(&config_path, args).await,
            Command::ImportNetwrix(args) => commands::import_netwrix::run(args),
            Command::Migrate(args) => commands::migrate::run(&config_path, args).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Simulate(command) => commands::simulate::run(command).await,
            Command::Report(command) => commands::report::run(&config_path, command).await,
            Command::ItGlue(command) => commands::itglue::run(&config_path, command).await,
            Command::Clients(command) => commands::clients::run(&config_path, command).await,
            Command::Systems(command) => commands::systems::run(&config_path, command).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            // One line with the whole cause chain, each cause once:
            // `error: testing the connection: 401 …`.
            eprintln!("error: {}", error_chain::one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn,mspbridge=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colours only for a person at a terminal: a redirected log (`serve 2>serve.log`, a
        // service manager's journal) must not fill up with escape codes.
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

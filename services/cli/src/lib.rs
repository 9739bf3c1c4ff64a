//! The `whistle` command line: one binary for every role.
//!
//! Subcommands today: `demo` (drive demo tickets from the seeds through their whole life
//! and print their timelines), `timeline` (one ticket's events), `log` (the global log,
//! optionally following it live), `relay` (publish the log to NATS JetStream), `parked`
//! (events consumers gave up on),
//! `migrate` (create or upgrade the event store), `calendar` (business-time arithmetic and
//! calendar file checks), `sla` (boards, rankings, as-of and what-if), `token` and
//! `api-key` (credentials for the API), and `serve` (every service at once).
//! The store is PostgreSQL when `DATABASE_URL` says `postgres://`, else a SQLite file.

pub mod calendar;
pub mod credentials;
pub mod demo;
pub mod keys;
pub mod serve;
pub mod sla;
pub mod telemetry;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use whistle_clock::{Clock, SystemClock};
use whistle_events::TicketId;
use whistle_store::{EventStore, Position, StoreConfig};
use whistle_ticket::Tickets;

/// whistle: 街道吹哨、部门报到 — an event-sourced ticket dispatch service.
#[derive(Debug, Parser)]
#[command(name = "whistle", version, about)]
pub struct Cli {
    /// Where the event store is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Logging.
    #[command(flatten)]
    pub log: telemetry::LogOptions,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Event store options, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// PostgreSQL (`postgres://user@host/db`) or SQLite (`sqlite://FILE`) URL. Unset: the
    /// SQLite file given by --sqlite.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The embedded default's SQLite file.
    #[arg(
        long,
        env = "WHISTLE_SQLITE",
        default_value = ".whistle/whistle.db",
        global = true
    )]
    pub sqlite: PathBuf,
}

impl StoreArgs {
    /// The store configuration these options describe.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            database_url: self.database_url.clone().filter(|u| !u.trim().is_empty()),
            sqlite_path: self.sqlite.clone(),
            ..StoreConfig::default()
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive demo tickets from the seeds' streets through their whole life and print each
    /// ticket's timeline.
    Demo,
    /// Print one ticket's timeline.
    Timeline {
        /// The ticket id (a UUID, as printed by `demo`).
        ticket: String,
    },
    /// Print the global log from a position on.
    Log {
        /// Start after this position (0: from the beginning).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep waiting for new events (catch-up subscription) until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// List the events consumers gave up on (parked), with the reason, oldest first.
    Parked,
    /// Create or upgrade the event store's tables, then exit.
    Migrate,
    /// Run every service: the community, street and department stages, and with NATS
    /// the relay and incident intake, plus HTTP (queues, live notices, metrics).
    Serve(serve::ServeArgs),
    /// Business calendar arithmetic: when a deadline falls due (`due`), how much open time
    /// lies between two instants (`elapsed`), and checking a calendar file (`check`).
    Calendar(calendar::CalendarArgs),
    /// The supervisors' board (now or --as-of a past instant), the monthly ranking, and
    /// what-if recomputations under another policy or weights, as JSON.
    Sla(sla::SlaArgs),
    /// Sign a bearer token for a person (operators, the demo): its role and scope decide
    /// what the API lets them see and do.
    Token(credentials::TokenArgs),
    /// Create, list or revoke the API keys other systems publish incidents with.
    ApiKey {
        /// What to do.
        #[command(subcommand)]
        command: credentials::ApiKeyCommand,
    },
    /// Publish the event log to NATS JetStream (stream TICKETS) until interrupted. Run as
    /// many as you like: one publishes, the others wait to take over.
    Relay {
        /// The NATS server.
        #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats_url: String,
    },
}

async fn open(args: &StoreArgs, clock: Arc<dyn Clock>) -> anyhow::Result<EventStore> {
    let config = args.config();
    EventStore::open(&config, clock)
        .await
        .context("opening the event store")
}

/// The ticket executor on the configured store, on the system clock.
async fn open_tickets(args: &StoreArgs) -> anyhow::Result<Tickets> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(Tickets::new(open(args, clock.clone()).await?, clock))
}

/// Runs one subcommand to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo => demo::run(&cli.store).await,
        Command::Timeline { ticket } => {
            let ticket = TicketId::parse(ticket.trim()).context("reading the ticket id")?;
            let tickets = open_tickets(&cli.store).await?;
            let timeline = tickets.timeline(ticket).await?;
            if timeline.is_empty() {
                anyhow::bail!(
                    "no ticket {ticket} in {}; check the id and the store (DATABASE_URL, --sqlite)",
                    tickets.store().describe()
                );
            }
            demo::print_timeline(&mut std::io::stdout().lock(), ticket, &timeline)?;
            Ok(())
        }
        Command::Log { after, follow } => {
            let tickets = open_tickets(&cli.store).await?;
            let mut subscription = tickets.store().subscribe(Position::new(after));
            // Without --follow: everything committed when the command started, then stop.
            let head = tickets.store().head().await?;
            loop {
                if !follow && subscription.position() >= head {
                    return Ok(());
                }
                let event = tokio::select! {
                    event = subscription.next() => event?,
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                };
                println!(
                    "{:>20}  {}  {}#{}  {} v{}",
                    event.position,
                    event.recorded_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    event.stream(),
                    event.stream_version,
                    event.event_type,
                    event.event_version
                );
            }
        }
        Command::Relay { nats_url } => {
            let tickets = open_tickets(&cli.store).await?;
            let client = async_nats::connect(&nats_url)
                .await
                .with_context(|| format!("connecting to NATS at {nats_url}; check NATS_URL"))?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            let on_signal = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            });
            let relay = whistle_relay::Relay::new(
                tickets.store().clone(),
                client,
                whistle_relay::RelayConfig::default(),
            );
            eprintln!(
                "relay: publishing {} to NATS at {nats_url} (Ctrl-C stops)",
                tickets.store().describe()
            );
            relay.run(shutdown).await
        }
        Command::Serve(args) => serve::run(&cli.store, &args).await,
        Command::Token(args) => credentials::token(&cli.store, &args).await,
        Command::ApiKey { command } => credentials::api_key(&cli.store, &command).await,
        Command::Calendar(args) => calendar::run(&args),
        Command::Sla(args) => sla::run(&cli.store, &args).await,
        Command::Parked => {
            let store = open(&cli.store, Arc::new(SystemClock)).await?;
            let parked = store.parked_messages().await?;
            if parked.is_empty() {
                println!("no parked messages in {}", store.describe());
            }
            for p in parked {
                println!(
                    "{}  {:<12} position {:>20}  event {}  after {} attempts: {}",
                    p.parked_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    p.consumer,
                    p.position,
                    p.event_id,
                    p.attempts,
                    p.reason
                );
            }
            Ok(())
        }
        Command::Migrate => {
            let store = open(&cli.store, Arc::new(SystemClock)).await?;
            println!("event store ready: {}", store.describe());
            Ok(())
        }
    }
}

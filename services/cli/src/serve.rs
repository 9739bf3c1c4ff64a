//! `whistle serve`: every service in one process.
//!
//! - **Embedded** (no `NATS_URL`): the community, street and department stages read the
//!   event store's log directly (catch-up subscriptions); notices to liaisons go through
//!   the process.
//! - **With NATS** (`NATS_URL`): the relay publishes the log to JetStream, the stages
//!   consume `TICKETS` through durable consumers, intake consumes `INCIDENTS`, and
//!   notices go out on `departments.<department>.summons`. Several processes can run:
//!   each singleton (the relay, each consumer) holds a lease, the others wait.
//! - **HTTP** (`--listen`): the API of every role (`whistle-api`): authenticated, scoped,
//!   documented at `/docs` and `/openapi.json`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use prometheus_client::registry::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use whistle_clock::{Clock, SystemClock};
use whistle_consumer::{Consumer, ConsumerConfig, ConsumerMetrics, Feed, Handler};
use whistle_department::Notices;
use whistle_routing::Catalogue;
use whistle_sla::calendar::Calendar;
use whistle_sla::metrics::SlaMetrics;
use whistle_sla::policy::PolicyBook;
use whistle_sla::projection::SlaProjection;
use whistle_sla::stats::RankingBook;
use whistle_sla::timer::{Alerts, Timer, TimerMetrics};
use whistle_store::{EventStore, Position};
use whistle_ticket::Tickets;

use crate::StoreArgs;

/// Options of `whistle serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The HTTP address to listen on.
    #[arg(long, env = "WHISTLE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The NATS server; unset runs embedded, without NATS.
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// Record demo tickets from the seeds' streets first (when the log is empty).
    #[arg(long)]
    pub demo: bool,
    /// The routing catalogue (TOML); unset uses the demo catalogue of the seeds' streets.
    #[arg(long, env = "WHISTLE_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
    /// Lets several deployments share one NATS: streams become `TICKETS_<ns>`, … and
    /// subjects `<ns>.tickets.>`, `<ns>.incidents.<source>`, … (lower-case letters,
    /// digits, `-`, `_`).
    #[arg(long, env = "WHISTLE_NATS_NAMESPACE")]
    pub nats_namespace: Option<String>,
    /// The SLA policy (TOML, every version); unset uses the shipped policy
    /// (deploy/config/sla-policy.toml).
    #[arg(long, env = "WHISTLE_SLA_POLICY")]
    pub sla_policy: Option<PathBuf>,
    /// The business calendar (TOML); unset uses the shipped one (China, 2025 and 2026,
    /// deploy/config/calendar.toml).
    #[arg(long, env = "WHISTLE_CALENDAR")]
    pub calendar: Option<PathBuf>,
    /// Token secrets and the personal-data master key.
    #[command(flatten)]
    pub keys: crate::keys::KeyArgs,
    /// Complaints one address may submit at once without signing in (residents).
    #[arg(long, env = "WHISTLE_INTAKE_BURST", default_value_t = 10)]
    pub intake_burst: u32,
    /// Complaints one address may submit per minute after the burst, without signing in.
    #[arg(long, env = "WHISTLE_INTAKE_PER_MINUTE", default_value_t = 6)]
    pub intake_per_minute: u32,
    /// Serve the consoles' files from this folder, read on every request, instead of the
    /// copies built into the binary (for work on the pages: `services/web/assets`).
    #[arg(long, env = "WHISTLE_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
}

/// Whether the consoles offer one-click demo accounts: only with demo data, and only to
/// this machine. They sign anyone in as any role, city-wide supervisors included, so a
/// service reachable from elsewhere never offers them, even when started with `--demo`.
pub fn demo_sign_in(args: &ServeArgs) -> bool {
    args.demo && args.listen.ip().is_loopback()
}

/// The SLA policy and calendar `serve` times tickets with.
pub fn sla_config(
    policy: Option<&std::path::Path>,
    calendar: Option<&std::path::Path>,
) -> anyhow::Result<(Arc<PolicyBook>, Arc<Calendar>)> {
    let policies = match policy {
        Some(path) => PolicyBook::load(path)?,
        None => PolicyBook::standard(),
    };
    let calendar = match calendar {
        Some(path) => Calendar::load(path)?,
        None => Calendar::china(),
    };
    Ok((Arc::new(policies), Arc::new(calendar)))
}

/// Stream names and subject prefixes on NATS, with an optional namespace.
#[derive(Debug, Clone)]
struct NatsNames {
    namespace: Option<String>,
}

impl NatsNames {
    fn new(namespace: Option<&str>) -> anyhow::Result<Self> {
        let namespace = namespace.map(str::trim).filter(|n| !n.is_empty());
        if let Some(ns) = namespace
            && !ns
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            anyhow::bail!(
                "NATS namespace `{ns}` may hold only lower-case letters, digits, `-` and `_` (it becomes part of stream names and subjects)"
            );
        }
        Ok(Self {
            namespace: namespace.map(str::to_owned),
        })
    }

    fn stream(&self, name: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{name}_{ns}"),
            None => name.to_owned(),
        }
    }

    fn subject(&self, prefix: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}.{prefix}"),
            None => prefix.to_owned(),
        }
    }
}

/// A running whistle.
#[derive(Debug)]
pub struct Running {
    /// Where HTTP listens.
    pub address: SocketAddr,
    /// Whether NATS is in use.
    pub mode: &'static str,
    /// Demo tickets recorded at start.
    pub seeded: Option<crate::demo::Seeded>,
    tickets: Arc<Tickets>,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Running {
    /// The ticket executor the services use: commands sent through it wake them at once.
    pub fn tickets(&self) -> Arc<Tickets> {
        self.tickets.clone()
    }

    /// Waits for every service to stop (after `shutdown`); the first error, if any.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first = Ok(());
        while let Some(done) = self.tasks.join_next().await {
            let outcome = done.context("a service panicked").and_then(|r| r);
            if let Err(error) = outcome {
                tracing::error!(
                    error = format!("{error:#}"),
                    "a service stopped with an error"
                );
                if first.is_ok() {
                    first = Err(error);
                }
            }
        }
        first
    }
}

/// Starts every service; they run until `shutdown`.
pub async fn start(
    store_args: &StoreArgs,
    args: &ServeArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<Running> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = EventStore::open(&store_args.config(), clock.clone())
        .await
        .context("opening the event store")?;
    let catalogue = Arc::new(match &args.catalogue {
        Some(path) => Catalogue::load(path)?,
        None => Catalogue::demo(),
    });
    let (policies, calendar) = sla_config(args.sla_policy.as_deref(), args.calendar.as_deref())?;
    let vault = args.keys.vault(store_args)?;
    let seeded = if args.demo && store.head().await? == Position::START {
        Some(crate::demo::seed(store.clone(), vault.clone()).await?)
    } else {
        None
    };
    let tickets = Arc::new(Tickets::new(store.clone(), clock.clone()).with_vault(vault));
    let store = tickets.store().clone();
    let mut registry = Registry::default();
    let consumer_metrics = ConsumerMetrics::register(&mut registry);
    let intake_metrics = whistle_intake::IntakeMetrics::register(&mut registry);
    let timer_metrics = TimerMetrics::register(&mut registry);
    let sla_metrics = SlaMetrics::register(&mut registry);
    let alerts = Alerts::default();

    let nats = match &args.nats_url {
        Some(url) if !url.trim().is_empty() => Some(
            async_nats::connect(url.as_str())
                .await
                .with_context(|| format!("connecting to NATS at {url}; check NATS_URL"))?,
        ),
        _ => None,
    };
    let names = NatsNames::new(args.nats_namespace.as_deref())?;
    let consumer_config = ConsumerConfig {
        stream: names.stream("TICKETS"),
        subject_prefix: names.subject(whistle_events::subjects::TICKETS_PREFIX),
        ..ConsumerConfig::default()
    };
    let (feed, notices, mode) = match &nats {
        Some(client) => (
            Feed::JetStream(Box::new(async_nats::jetstream::new(client.clone()))),
            Notices::Nats(
                client.clone(),
                names.subject(whistle_department::notices::NOTICES_PREFIX),
            ),
            "NATS JetStream",
        ),
        None => (Feed::Log, Notices::local(), "embedded"),
    };

    let mut tasks = JoinSet::new();
    let handlers: Vec<Arc<dyn Handler>> = vec![
        Arc::new(whistle_community::CommunityStage::new(tickets.clone())),
        Arc::new(
            whistle_street::StreetStage::new(tickets.clone(), catalogue.clone())
                .map_err(anyhow::Error::msg)?,
        ),
        Arc::new(whistle_department::ReportInStage::new(
            tickets.clone(),
            notices.clone(),
        )),
        Arc::new(
            SlaProjection::new(store.clone(), policies.clone(), calendar.clone())
                .with_acknowledge_latency(sla_metrics.acknowledge_latency.clone()),
        ),
    ];
    for handler in handlers {
        let consumer = Consumer::new(
            store.clone(),
            handler,
            consumer_config.clone(),
            consumer_metrics.clone(),
        );
        tasks.spawn(consumer.run(feed.clone(), shutdown.clone()));
    }
    let timer = Timer::new(
        tickets.clone(),
        policies.clone(),
        clock.clone(),
        alerts.clone(),
        timer_metrics,
    );
    tasks.spawn(timer.run(shutdown.clone()));
    tasks.spawn(sla_metrics.clone().run(
        store.clone(),
        policies.clone(),
        calendar.clone(),
        clock.clone(),
        shutdown.clone(),
    ));
    let intake_config = whistle_intake::IntakeConfig {
        stream: names.stream("INCIDENTS"),
        rejected_stream: names.stream("REJECTED"),
        subject_prefix: names.subject(whistle_events::incident::INCIDENTS_PREFIX),
        rejected_prefix: names.subject("rejected"),
        ..whistle_intake::IntakeConfig::default()
    };
    if let Some(client) = &nats {
        let relay = whistle_relay::Relay::new(
            store.clone(),
            client.clone(),
            whistle_relay::RelayConfig {
                stream: consumer_config.stream.clone(),
                subject_prefix: consumer_config.subject_prefix.clone(),
                ..whistle_relay::RelayConfig::default()
            },
        );
        tasks.spawn(relay.run(shutdown.clone()));
        let intake = whistle_intake::IntakeService::new(
            whistle_intake::Intake::new(tickets.clone(), catalogue.clone()),
            client.clone(),
            clock.clone(),
            intake_config.clone(),
            intake_metrics,
        );
        // Subscribed before `start` returns: whoever sends an incident once whistle is up
        // gets an answer.
        let requests = intake
            .prepare()
            .await
            .context("preparing incident intake on NATS")?;
        tasks.spawn(intake.run_prepared(requests, shutdown.clone()));
    }

    let secrets = args.keys.secrets(store_args)?;
    let receipts = whistle_api::Receipts::new(&args.keys.receipt_key(store_args)?);
    let state = whistle_api::ApiState {
        auth: whistle_api::Authenticator::new(whistle_api::AuthConfig::new(secrets), store.clone()),
        receipts,
        intake: whistle_intake::Intake::new(tickets.clone(), catalogue.clone()),
        intake_config,
        limiter: Arc::new(whistle_api::RateLimiter::new(
            args.intake_burst,
            args.intake_per_minute,
        )),
        nats: nats.clone(),
        store,
        tickets: tickets.clone(),
        catalogue,
        notices,
        alerts,
        clock: clock.clone(),
        weights: Arc::new(RankingBook::standard()),
        policies,
        calendar,
        registry: Arc::new(registry),
        mode,
        demo_accounts: if demo_sign_in(args) {
            crate::demo::accounts().into()
        } else {
            Arc::from([])
        },
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "listening on {}; choose another address with --listen",
                args.listen
            )
        })?;
    let address = listener.local_addr()?;
    let consoles = match &args.web_dir {
        Some(dir) => whistle_web::Assets::from_dir(dir),
        None => whistle_web::Assets::BuiltIn,
    };
    let app = whistle_api::router(state)
        .merge(whistle_web::routes(consoles))
        .into_make_service_with_connect_info::<SocketAddr>();
    let stop = shutdown.clone();
    tasks.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .context("serving HTTP")
    });
    Ok(Running {
        address,
        mode,
        seeded,
        tickets,
        tasks,
    })
}

/// Runs `whistle serve` until Ctrl-C.
pub async fn run(store_args: &StoreArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    let running = start(store_args, args, shutdown).await?;
    if let Some(seeded) = &running.seeded {
        println!(
            "demo: recorded {} finished and {} open tickets from the seeds' streets",
            seeded.finished.len(),
            seeded.open.len()
        );
    } else if args.demo {
        println!("demo: the log already holds events; no demo tickets added");
    }
    println!(
        "whistle is running ({}, {}): open http://{}/  (Ctrl-C stops)",
        running.mode,
        store_args.config().database_url.as_deref().map_or_else(
            || format!("SQLite file {}", store_args.sqlite.display()),
            whistle_store::redact
        ),
        running.address
    );
    if demo_sign_in(args) {
        println!(
            "consoles: http://{}/sign-in offers the demo accounts (one per role; demo data only)",
            running.address
        );
    } else if args.demo {
        println!(
            "consoles: no demo accounts, since whistle listens beyond this machine ({}); sign in with a token",
            running.address
        );
    }
    println!(
        "API: http://{}/docs · staff sign in with a token from `whistle token --role <role> --scope <scope>`",
        running.address
    );
    running.wait().await
}

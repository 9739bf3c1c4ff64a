//! `whistle serve`: every service in one process.
//!
//! - **Embedded** (no `NATS_URL`): the community, street and department stages read the
//!   event store's log directly (catch-up subscriptions); notices to liaisons go through
//!   the process.
//! - **With NATS** (`NATS_URL`): the relay publishes the log to JetStream, the stages
//!   consume `TICKETS` through durable consumers, intake consumes `INCIDENTS`, and
//!   notices go out on `departments.<department>.summons`. Several processes can run:
//!   each singleton (the relay, each consumer) holds a lease, the others wait.
//! - **HTTP** (`--listen`): an index page, each queue as JSON, each department's notices
//!   as server-sent events, ticket timelines, `/healthz` and `/metrics`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use clap::Args;
use futures::StreamExt as _;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use whistle_clock::{Clock, SystemClock};
use whistle_consumer::{Consumer, ConsumerConfig, ConsumerMetrics, Feed, Handler};
use whistle_department::Notices;
use whistle_events::{CommunityId, DepartmentId, StreetId, TicketId};
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

#[derive(Clone)]
struct AppState {
    store: EventStore,
    tickets: Arc<Tickets>,
    catalogue: Arc<Catalogue>,
    notices: Notices,
    alerts: Alerts,
    clock: Arc<dyn Clock>,
    weights: Arc<RankingBook>,
    policies: Arc<PolicyBook>,
    calendar: Arc<Calendar>,
    registry: Arc<Registry>,
    mode: &'static str,
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
    let seeded = if args.demo && store.head().await? == Position::START {
        Some(crate::demo::seed(store.clone()).await?)
    } else {
        None
    };
    let tickets = Arc::new(Tickets::new(store.clone(), clock.clone()));
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
            whistle_intake::IntakeConfig {
                stream: names.stream("INCIDENTS"),
                rejected_stream: names.stream("REJECTED"),
                subject_prefix: names.subject(whistle_events::incident::INCIDENTS_PREFIX),
                rejected_prefix: names.subject("rejected"),
                ..whistle_intake::IntakeConfig::default()
            },
            intake_metrics,
        );
        tasks.spawn(intake.run(shutdown.clone()));
    }

    let state = AppState {
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
    let app = router(state);
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
    running.wait().await
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/api/communities/{community}/queue", get(community_queue))
        .route("/api/streets/{street}/dispatch-queue", get(dispatch_queue))
        .route("/api/departments/{department}/queue", get(department_queue))
        .route(
            "/api/departments/{department}/notices",
            get(department_notices),
        )
        .route("/api/tickets/{ticket}", get(ticket_timeline))
        .route("/api/tickets/{ticket}/clocks", get(ticket_clocks))
        .route("/api/sla/alerts", get(sla_alerts))
        .route("/api/sla/board", get(sla_board))
        .with_state(state)
}

/// A JSON error saying what was wrong and what to do (`application/problem+json`).
#[derive(Debug)]
struct Problem {
    status: StatusCode,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    fn unavailable(error: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
    }

    fn not_found(kind: &str, code: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("no {kind} `{code}` in the routing catalogue; see / for the list"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(json!({
                "status": self.status.as_u16(),
                "title": self.status.canonical_reason(),
                "detail": self.detail,
            })),
        )
            .into_response()
    }
}

type Answer = Result<Response, Problem>;

async fn metrics(State(state): State<AppState>) -> Answer {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &state.registry).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics: {e}"),
        )
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

fn parse<T: std::str::FromStr>(kind: &str, value: &str) -> Result<T, Problem>
where
    T::Err: std::fmt::Display,
{
    value
        .parse::<T>()
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, format!("{kind}: {e}")))
}

async fn community_queue(State(state): State<AppState>, Path(community): Path<String>) -> Answer {
    let community: CommunityId = parse("community", &community)?;
    if state.catalogue.community(&community).is_none() {
        return Err(Problem::not_found("community", community.as_str()));
    }
    let entries = whistle_community::queue(&state.store, &community)
        .await
        .map_err(Problem::unavailable)?;
    Ok(Json(entries).into_response())
}

async fn dispatch_queue(State(state): State<AppState>, Path(street): Path<String>) -> Answer {
    let street: StreetId = parse("street", &street)?;
    if state.catalogue.street(&street).is_none() {
        return Err(Problem::not_found("street", street.as_str()));
    }
    let entries = whistle_street::queue(&state.store, &street)
        .await
        .map_err(Problem::unavailable)?;
    Ok(Json(entries).into_response())
}

fn known_department(state: &AppState, department: &str) -> Result<DepartmentId, Problem> {
    let department: DepartmentId = parse("department", department)?;
    if state
        .catalogue
        .departments()
        .any(|(code, _)| *code == department)
    {
        Ok(department)
    } else {
        Err(Problem::not_found("department", department.as_str()))
    }
}

async fn department_queue(State(state): State<AppState>, Path(department): Path<String>) -> Answer {
    let department = known_department(&state, &department)?;
    let entries = whistle_department::queue(&state.store, &department)
        .await
        .map_err(Problem::unavailable)?;
    Ok(Json(entries).into_response())
}

async fn department_notices(
    State(state): State<AppState>,
    Path(department): Path<String>,
) -> Answer {
    let department = known_department(&state, &department)?;
    let stream = state
        .notices
        .watch(&department)
        .await
        .map_err(Problem::unavailable)?;
    let events = stream.map(|notice| {
        let kind = serde_json::to_value(notice.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "notice".to_owned());
        Ok::<_, Infallible>(
            SseEvent::default()
                .event(kind)
                .id(notice.event_id.to_string())
                .json_data(&notice)
                .unwrap_or_default(),
        )
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn ticket_timeline(State(state): State<AppState>, Path(ticket): Path<String>) -> Answer {
    let ticket: TicketId = parse("ticket", &ticket)?;
    let timeline = state
        .tickets
        .timeline(ticket)
        .await
        .map_err(Problem::unavailable)?;
    if timeline.is_empty() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("no ticket {ticket}; check the id"),
        ));
    }
    let entries: Vec<_> = timeline
        .iter()
        .map(|entry| {
            json!({
                "position": entry.position,
                "version": entry.version,
                "recorded_at": entry.recorded_at,
                "actor": entry.metadata.actor,
                "event_type": entry.event.kind().name,
                "summary": entry.summary(),
            })
        })
        .collect();
    Ok(Json(entries).into_response())
}

/// A ticket's SLA clocks, under the policy version it is timed under.
async fn ticket_clocks(State(state): State<AppState>, Path(ticket): Path<String>) -> Answer {
    let ticket: TicketId = parse("ticket", &ticket)?;
    let Some(record) = whistle_sla::projection::ticket_record(&state.store, &ticket.to_string())
        .await
        .map_err(Problem::unavailable)?
    else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!(
                "no clocks for ticket {ticket}: check the id (a ticket just received may take a moment)"
            ),
        ));
    };
    let policy = state
        .policies
        .version(&record.policy_version)
        .map_err(Problem::unavailable)?;
    let clocks = whistle_sla::clocks::clocks(&record.facts, policy, &state.calendar)
        .map_err(Problem::unavailable)?;
    let now = state.clock.now();
    let clocks: Vec<_> = clocks
        .iter()
        .map(|c| json!({"clock": c, "status": c.status_at(now)}))
        .collect();
    Ok(Json(json!({
        "ticket": ticket,
        "policy_version": record.policy_version,
        "at": now,
        "clocks": clocks,
    }))
    .into_response())
}

/// `?as_of=<RFC 3339>` on the board.
#[derive(Debug, serde::Deserialize)]
struct AsOf {
    as_of: Option<String>,
}

/// The supervisors' board now, or as it stood at `as_of` (rebuilt from the log).
async fn sla_board(State(state): State<AppState>, Query(query): Query<AsOf>) -> Answer {
    let as_of = match query.as_of.as_deref() {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text.trim())
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| {
                    Problem::new(
                        StatusCode::BAD_REQUEST,
                        format!("as_of={text:?} is not an RFC 3339 instant ({e}); write e.g. 2026-03-11T08:00:00%2B08:00"),
                    )
                })?,
        ),
        None => None,
    };
    let facts = match as_of {
        Some(at) => whistle_sla::views::facts_as_of(&state.store, at, &mut |_| {}).await,
        None => whistle_sla::views::current_facts(&state.store).await,
    }
    .map_err(Problem::unavailable)?;
    let rules = whistle_sla::views::Rules {
        policies: &state.policies,
        calendar: &state.calendar,
        weights: &state.weights,
    };
    let board = whistle_sla::views::official_board(
        &facts,
        rules,
        as_of.unwrap_or_else(|| state.clock.now()),
    )
    .map_err(Problem::unavailable)?;
    Ok(Json(board).into_response())
}

/// Breaches as they happen, as server-sent events (`event: breach`).
async fn sla_alerts(State(state): State<AppState>) -> Answer {
    let stream = tokio_stream::wrappers::BroadcastStream::new(state.alerts.subscribe())
        .filter_map(|alert| async move { alert.ok() })
        .map(|alert| {
            Ok::<_, Infallible>(
                SseEvent::default()
                    .event("breach")
                    .json_data(&alert)
                    .unwrap_or_default(),
            )
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(State(state): State<AppState>) -> Html<String> {
    let catalogue = &state.catalogue;
    let mut page = String::new();
    page.push_str("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>whistle 街道吹哨、部门报到</title>");
    page.push_str("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}h2{margin-top:2rem}code{background:#eee;padding:0 .2rem}</style></head><body>");
    page.push_str(&format!(
        "<h1>whistle · 街道吹哨、部门报到</h1><p>Running {} on {}. Routing catalogue <code>{}</code>. The web consoles come later; these are the queues each stage keeps, as JSON.</p>",
        escape(state.mode),
        escape(state.store.describe()),
        escape(catalogue.version())
    ));
    page.push_str("<h2>Streets and communities · 街道与社区</h2><ul>");
    for street in catalogue.streets() {
        page.push_str(&format!(
            "<li>{} ({}) — <a href=\"/api/streets/{}/dispatch-queue\">dispatcher queue</a><ul>",
            escape(&street.name),
            escape(
                street
                    .policy
                    .unwrap_or(catalogue.default_policy())
                    .label_zh()
            ),
            street.code
        ));
        for community in catalogue.communities_of(&street.code) {
            page.push_str(&format!(
                "<li>{} — <a href=\"/api/communities/{}/queue\">community queue</a></li>",
                escape(&community.name),
                community.code
            ));
        }
        page.push_str("</ul></li>");
    }
    page.push_str("</ul><h2>Departments · 职能部门</h2><ul>");
    for (code, name) in catalogue.departments() {
        page.push_str(&format!(
            "<li>{} — <a href=\"/api/departments/{code}/queue\">summons queue</a> · <a href=\"/api/departments/{code}/notices\">live notices (SSE)</a></li>",
            escape(name)
        ));
    }
    page.push_str("</ul><h2>Operations</h2><ul><li><a href=\"/healthz\">/healthz</a></li><li><a href=\"/metrics\">/metrics</a></li><li>A ticket's timeline: <code>/api/tickets/&lt;ticket id&gt;</code></li></ul></body></html>");
    Html(page)
}

//! The store benchmark.
//!
//! **Ours**: `clients` tickets in parallel (default 32), each driven through a whole life
//! (receive, acknowledge, call up, whistle to two departments, both report in, progress,
//! both finish, resolve, feedback, close: 12 commands), then the next ticket. Every command
//! loads the ticket's stream, runs the aggregate and appends its events, exactly as the
//! services do. The figure is commands per second.
//!
//! **Baseline** on PostgreSQL: `pgbench` with `clients` clients running a prepared
//! single-row `json` insert (the type of the log's payload column) of a payload the size of a
//! ticket event, on the same database.
//! On SQLite: a loop of single-row inserts of the same payload into the same file, with the
//! same durability settings.
//!
//! Rounds alternate baseline and ours so drift in the machine's speed hits both; the
//! medians are compared.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use whistle_clock::{Clock, SystemClock};
use whistle_events::ticket::{CloseReason, Received};
use whistle_events::{
    ActorId, Category, Channel, DepartmentId, EventMetadata, LiaisonId, Location, ReporterContact,
    Score, Text, TicketId, Urgency,
};
use whistle_store::{EventStore, StoreConfig};
use whistle_ticket::{TicketCommand as C, Tickets};

/// The backend to measure.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Backend {
    /// PostgreSQL named by DATABASE_URL.
    Postgres,
    /// A SQLite file in a temporary directory.
    Sqlite,
}

/// Options of the store benchmark.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Which backend.
    #[arg(long, value_enum)]
    backend: Backend,
    /// A short run (well under a minute) for a quick look.
    #[arg(long)]
    quick: bool,
    /// Tickets (and baseline clients) in parallel.
    #[arg(long, default_value_t = 32)]
    clients: u32,
    /// The store's append writers on PostgreSQL (default: the store's own default).
    #[arg(long)]
    writers: Option<usize>,
    /// The PostgreSQL database to use (created if missing). Point it at a scratch
    /// database: the benchmark leaves its events and its baseline table there.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/whistle_bench"
    )]
    database_url: String,
}

/// The payload both sides write: as large as a typical ticket event.
const PAYLOAD: &str = r#"{"ProgressNoted":{"department":"zhujian","liaison":"zhujian-wang","note":"已到现场，调用疏通车作业，预计两小时内完成主管网疏通","on_site":true}}"#;

pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    let (rounds, seconds) = if args.quick { (2, 5) } else { (3, 15) };
    let duration = Duration::from_secs(seconds);
    let clients = args.clients.max(1);
    let (name, store, baseline): (&str, EventStore, Baseline) = match args.backend {
        Backend::Postgres => {
            ensure_database(&args.database_url).await?;
            let defaults = StoreConfig::default();
            let store = open(StoreConfig {
                database_url: Some(args.database_url.clone()),
                max_connections: clients,
                append_writers: args.writers.unwrap_or(defaults.append_writers),
                ..defaults
            })
            .await?;
            (
                "store-postgres",
                store,
                Baseline::Pgbench {
                    url: args.database_url.clone(),
                },
            )
        }
        Backend::Sqlite => {
            let dir = std::env::temp_dir()
                .join(format!("whistle-bench-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir)?;
            let store = open(StoreConfig {
                sqlite_path: dir.join("ours.db"),
                ..StoreConfig::default()
            })
            .await?;
            (
                "store-sqlite",
                store,
                Baseline::SqliteLoop {
                    path: dir.join("baseline.db"),
                },
            )
        }
    };
    println!(
        "benchmark {name}: {clients} in parallel, {rounds} rounds of {seconds} s each side, alternating"
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tickets = Arc::new(Tickets::new(store, clock));
    let mut ours = Vec::new();
    let mut base = Vec::new();
    for round in 1..=rounds {
        let b = baseline.measure(clients, duration).await?;
        println!("  round {round}: baseline {b:>9.1} inserts/s");
        let o = measure_ours(&tickets, clients, duration).await?;
        println!("  round {round}: ours     {o:>9.1} commands/s");
        base.push(b);
        ours.push(o);
    }
    crate::report::print(
        name,
        ("commands/s", "inserts/s"),
        ours,
        base,
        serde_json::json!({
            "unit": "operations per second",
            "clients": clients,
            "rounds": rounds,
            "seconds_per_round": seconds,
        }),
    );
    Ok(())
}

async fn open(config: StoreConfig) -> anyhow::Result<EventStore> {
    Ok(EventStore::open(&config, Arc::new(SystemClock)).await?)
}

/// A connection to the server's `postgres` database, to create or drop benchmark databases.
pub async fn admin_connection(options: &PgConnectOptions) -> anyhow::Result<sqlx::PgConnection> {
    options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to PostgreSQL")
}

async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL")?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("use a plain database name (letters, digits, _), not `{name}`");
    }
    let mut admin = admin_connection(&options).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}

/// The 12 commands of one ticket's life, in order.
fn lifecycle() -> anyhow::Result<Vec<C>> {
    let text = |s: &str| Text::note(s).context("benchmark text");
    let zhujian: DepartmentId = "zhujian".parse()?;
    let huanwei: DepartmentId = "huanwei".parse()?;
    let wang: LiaisonId = "zhujian-wang".parse()?;
    let zhao: LiaisonId = "huanwei-zhao".parse()?;
    Ok(vec![
        C::Receive(Received {
            channel: Channel::Hotline,
            reporter: ReporterContact {
                name: Some("张女士".into()),
                phone: Some("13800001234".into()),
                address: None,
            },
            sealed_reporter: None,
            location: Location {
                district: "haigang".parse()?,
                street: "wenhualu".parse()?,
                community: "hongqili".parse()?,
                grid: Some("hongqili-03".parse()?),
                place: Some("红旗里小区5号楼".into()),
            },
            category: Category::Drains,
            urgency: Urgency::Major,
            description: text("楼前下水道堵塞，污水漫到路面")?,
            source: None,
        }),
        C::Acknowledge {
            reply: text("已受理，社区网格员马上到现场查看")?,
        },
        C::CallUp {
            reason: text("市政主管网堵塞，社区无法疏通")?,
        },
        C::BlowWhistle {
            departments: vec![zhujian.clone(), huanwei.clone()],
            lead: zhujian.clone(),
            reason: text("住建牵头疏通")?,
        },
        C::ReportIn {
            department: zhujian.clone(),
            liaison: wang.clone(),
        },
        C::ReportIn {
            department: huanwei.clone(),
            liaison: zhao.clone(),
        },
        C::NoteProgress {
            department: zhujian.clone(),
            liaison: wang.clone(),
            note: text("已到现场，调用疏通车作业，预计两小时内完成主管网疏通")?,
            on_site: true,
        },
        C::Finish {
            department: huanwei,
            liaison: zhao,
            fixed: true,
            outcome: text("路面已清理")?,
        },
        C::Finish {
            department: zhujian,
            liaison: wang,
            fixed: true,
            outcome: text("主管网已疏通")?,
        },
        C::Resolve {
            summary: text("下水道已疏通，路面已清理")?,
        },
        C::RecordFeedback {
            resolved: true,
            satisfied: true,
            score: Some(Score::parse(5)?),
            comment: None,
        },
        C::Close {
            reason: CloseReason::Feedback,
        },
    ])
}

async fn measure_ours(
    tickets: &Arc<Tickets>,
    clients: u32,
    duration: Duration,
) -> anyhow::Result<f64> {
    let commands = Arc::new(lifecycle()?);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for n in 0..clients {
        let (tickets, commands, done) = (tickets.clone(), commands.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let metadata = EventMetadata::by(ActorId::parse(format!("bench-{n}"))?);
            while Instant::now() < deadline {
                let ticket = TicketId::new_random();
                for command in commands.iter() {
                    if Instant::now() >= deadline {
                        break;
                    }
                    tickets.execute(ticket, command.clone(), &metadata).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

enum Baseline {
    Pgbench { url: String },
    SqliteLoop { path: PathBuf },
}

impl Baseline {
    async fn measure(&self, clients: u32, duration: Duration) -> anyhow::Result<f64> {
        match self {
            Self::Pgbench { url } => pgbench(url, clients, duration).await,
            Self::SqliteLoop { path } => sqlite_loop(path, duration).await,
        }
    }
}

async fn pgbench(url: &str, clients: u32, duration: Duration) -> anyhow::Result<f64> {
    let mut conn = PgConnectOptions::from_str(url)?.connect().await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_baseline_json (id bigserial PRIMARY KEY, payload json NOT NULL)")
        .execute(&mut conn)
        .await?;
    let script = std::env::temp_dir().join(format!(
        "whistle-pgbench-{}.sql",
        uuid::Uuid::new_v4().simple()
    ));
    // The payload is bound as a parameter (pgbench reads `:name` in a script as a variable,
    // so a JSON literal would not survive there anyway).
    std::fs::write(
        &script,
        "INSERT INTO bench_baseline_json (payload) VALUES (:payload::json);\n",
    )?;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(clients as usize);
    let output = tokio::task::spawn_blocking({
        let (url, script) = (url.to_owned(), script.clone());
        let seconds = duration.as_secs().to_string();
        move || {
            Command::new("pgbench")
                .args([
                    "-n",
                    "-M",
                    "prepared",
                    "-c",
                    &clients.to_string(),
                    "-j",
                    &threads.to_string(),
                    "-T",
                    &seconds,
                ])
                .arg("-D")
                .arg(format!("payload={PAYLOAD}"))
                .arg("-f")
                .arg(&script)
                .arg(&url)
                .output()
        }
    })
    .await?
    .context(
        "running pgbench (install PostgreSQL's client tools: apt-get install postgresql-client)",
    )?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "tps = 1234.567890 (without initial connection time)"
    text.lines()
        .filter(|l| l.trim_start().starts_with("tps = "))
        .filter_map(|l| {
            l.trim_start()
                .trim_start_matches("tps = ")
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .next_back()
        .with_context(|| format!("no tps line in pgbench's output: {text}"))
}

async fn sqlite_loop(path: &PathBuf, duration: Duration) -> anyhow::Result<f64> {
    // The same settings as whistle's SQLite store: WAL, synchronous FULL.
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_baseline (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < duration {
        sqlx::query("INSERT INTO bench_baseline (payload) VALUES (?1)")
            .bind(PAYLOAD)
            .execute(&mut conn)
            .await?;
        n += 1;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

//! whistle's benchmarks. Each one measures whistle and a baseline side by side in the same
//! run, on the same database, and prints both and their ratio; its last line is a JSON
//! object with `name`, `ours`, `baseline`, `ratio`.
//!
//! `cargo run --release -p load-tests -- store --backend postgres [--quick]`
//! `cargo run --release -p load-tests -- store --backend sqlite [--quick]`
//! `cargo run --release -p load-tests -- relay [--quick]`
//! `cargo run --release -p load-tests -- dispatch-latency [--quick] [--rate 500]`
//! `cargo run --release -p load-tests -- replay [--quick]`
//! `cargo run --release -p load-tests -- deadlines [--quick] [--rate 1000] [--timers 1]`
//! `cargo run --release -p load-tests -- board [--quick]`

// The same allocator as the `whistle` binary, so the services measured here run as they do
// in production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod board;
mod db;
mod deadlines;
mod demo;
mod dispatch;
mod relay;
mod replay;
mod report;
mod store;

use clap::{Parser, Subcommand};

/// whistle benchmarks.
#[derive(Debug, Parser)]
#[command(name = "load-tests", about)]
struct Cli {
    #[command(subcommand)]
    benchmark: Benchmark,
}

#[derive(Debug, Subcommand)]
enum Benchmark {
    /// Ticket commands per second through the aggregate and the event store, against
    /// plain single-row inserts on the same database.
    Store(store::StoreArgs),
    /// Relay events per second from the log to JetStream, against a raw pipelined
    /// JetStream publish with message ids.
    Relay(relay::RelayArgs),
    /// Latency from a call-up's commit to the summons in the department's queue, through
    /// NATS, beside a PostgreSQL commit and a JetStream publish-ack.
    DispatchLatency(dispatch::DispatchArgs),
    /// Events per second rebuilding the SLA projection from the log and computing the
    /// statistics board, against a raw sequential read of the events table.
    Replay(replay::ReplayArgs),
    /// Lateness of the deadline timer (p50, p99) with a million pending deadlines and
    /// 1,000 falling due per second, against a bare loop of the timer's claim query.
    Deadlines(deadlines::DeadlinesArgs),
    /// Tickets per second through the statistics board (100,000 tickets), against one
    /// pass that only counts the same tickets into the board's groups.
    Board(board::BoardArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().benchmark {
        Benchmark::Store(args) => store::run(args).await,
        Benchmark::Relay(args) => relay::run(args).await,
        Benchmark::DispatchLatency(args) => dispatch::run(args).await,
        Benchmark::Replay(args) => replay::run(args).await,
        Benchmark::Deadlines(args) => deadlines::run(args).await,
        Benchmark::Board(args) => board::run(args),
    }
}

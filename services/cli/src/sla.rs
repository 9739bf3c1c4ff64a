//! `whistle sla`: the supervisors' board, now or as of a past instant, the monthly
//! ranking, and what-if recomputations beside the official figures. Prints JSON.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use whistle_clock::{Clock, SystemClock};
use whistle_sla::projection::SlaProjection;
use whistle_sla::rebuild::{RebuildError, rebuild};
use whistle_sla::stats::{RankingBook, ranking};
use whistle_sla::views::{self, Progress, Rules};
use whistle_store::EventStore;

use crate::StoreArgs;
use crate::calendar::instant;

/// `whistle sla` and its subcommands.
#[derive(Debug, Args)]
pub struct SlaArgs {
    /// What to show.
    #[command(subcommand)]
    pub command: SlaCommand,
    /// The SLA policy file; unset uses the shipped one.
    #[arg(long, global = true, env = "WHISTLE_SLA_POLICY")]
    pub sla_policy: Option<PathBuf>,
    /// The business calendar file; unset uses the shipped one.
    #[arg(long, global = true, env = "WHISTLE_CALENDAR")]
    pub calendar: Option<PathBuf>,
    /// The ranking weights file; unset uses the shipped one (deploy/config/ranking.toml).
    #[arg(long, global = true, env = "WHISTLE_RANKING")]
    pub ranking: Option<PathBuf>,
}

/// The `sla` subcommands.
#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// The board: tickets by stage, clocks at risk and breached, 三率, on-time rates and
    /// hop-by-hop times per community, street, district, department and category, per day
    /// and per month. With --as-of, the board exactly as it stood then, rebuilt from the
    /// log (progress on stderr).
    Board {
        /// A past instant, RFC 3339 (2026-03-11T08:00:00+08:00).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// The monthly ranking of streets and departments.
    Ranking {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// A weights version (default: the version in force).
        #[arg(long)]
        weights: Option<String>,
        /// Rank as of this instant (default: now), rebuilt from the log.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Recompute under another policy version and/or weights, beside the official figures
    /// and the difference.
    WhatIf {
        /// Time every ticket under this policy version.
        #[arg(long)]
        policy: Option<String>,
        /// Rank the month with this weights version.
        #[arg(long)]
        weights: Option<String>,
        /// The month to rank, YYYY-MM.
        #[arg(long)]
        month: Option<String>,
        /// Recompute as of this instant (default: now), rebuilt from the log.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Rebuild the SLA read models (every ticket's facts and pending deadlines) from the
    /// whole log in one pass, and move the sla consumer's checkpoint to the log's head.
    /// Stop `whistle serve` first: the rebuild holds the consumer's lease. Progress on
    /// stderr; prints what was written.
    Rebuild,
}

fn month(text: &str) -> anyhow::Result<(i32, u32)> {
    let bad = || format!("{text:?} is not a month; write YYYY-MM, e.g. 2026-03");
    let (year, month) = text.trim().split_once('-').with_context(bad)?;
    let year: i32 = year.parse().with_context(bad)?;
    let month: u32 = month.parse().with_context(bad)?;
    anyhow::ensure!((1..=12).contains(&month), bad());
    Ok((year, month))
}

/// Prints a rebuild's progress on stderr, one line per tenth of the log.
fn progress_printer() -> impl FnMut(Progress) + Send {
    let mut shown = 0_u64;
    move |p: Progress| {
        let tenth = p
            .position
            .saturating_mul(10)
            .checked_div(p.head)
            .unwrap_or(10);
        if tenth > shown {
            shown = tenth;
            eprintln!(
                "rebuilding from the log: {} events, {}%",
                p.events,
                (tenth * 10).min(100)
            );
        }
    }
}

/// Runs `whistle sla`.
pub async fn run(store_args: &StoreArgs, args: &SlaArgs) -> anyhow::Result<()> {
    let (policies, calendar) =
        crate::serve::sla_config(args.sla_policy.as_deref(), args.calendar.as_deref())?;
    let weights = match &args.ranking {
        Some(path) => RankingBook::load(path)?,
        None => RankingBook::standard(),
    };
    let rules = Rules {
        policies: &policies,
        calendar: &calendar,
        weights: &weights,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // With the ticket codec, as `serve` reads the log: events an upcaster applies to are
    // upgraded before they are folded.
    let store = EventStore::open(&store_args.config(), clock.clone())
        .await
        .context("opening the event store")
        .map(whistle_ticket::TicketCodec::register)?;
    let now = clock.now();
    // Now: the projection's facts. A past instant: rebuilt from the log.
    let facts_at = |as_of: Option<DateTime<Utc>>| {
        let store = store.clone();
        async move {
            match as_of {
                Some(at) => {
                    let mut progress = progress_printer();
                    views::facts_as_of(&store, at, &mut progress).await
                }
                None => views::current_facts(&store).await,
            }
        }
    };
    let output = match &args.command {
        SlaCommand::Rebuild => {
            let projection = SlaProjection::new(store.clone(), policies.clone(), calendar.clone());
            let mut progress = progress_printer();
            let rebuilt = match rebuild(&store, &projection, &mut progress).await {
                Ok(rebuilt) => rebuilt,
                Err(RebuildError::Untimed(untimed)) => {
                    for (ticket, reason) in &untimed {
                        eprintln!("ticket {ticket} cannot be timed: {reason}");
                    }
                    return Err(RebuildError::Untimed(untimed).into());
                }
                Err(other) => return Err(other.into()),
            };
            serde_json::json!({
                "events": rebuilt.events,
                "position": rebuilt.position.get(),
                "tickets": rebuilt.tickets,
                "deadlines": rebuilt.deadlines,
                "orphan_events": rebuilt.orphans,
            })
        }
        SlaCommand::Board { as_of } => {
            let as_of = as_of
                .as_deref()
                .map(|t| instant(t, "--as-of"))
                .transpose()?;
            let facts = facts_at(as_of).await?;
            serde_json::to_value(views::official_board(&facts, rules, as_of.unwrap_or(now))?)?
        }
        SlaCommand::Ranking {
            month: m,
            weights: chosen,
            as_of,
        } => {
            let (year, m) = month(m)?;
            let as_of = as_of
                .as_deref()
                .map(|t| instant(t, "--as-of"))
                .transpose()?;
            let at = as_of.unwrap_or(now);
            let facts = facts_at(as_of).await?;
            let board = views::official_board(&facts, rules, at)?;
            let version = match chosen {
                Some(v) => weights.version(v)?,
                None => weights.in_force(at)?,
            };
            serde_json::to_value(ranking(&board, year, m, version))?
        }
        SlaCommand::WhatIf {
            policy,
            weights: chosen,
            month: m,
            as_of,
        } => {
            anyhow::ensure!(
                policy.is_some() || chosen.is_some(),
                "say what to recompute with: --policy <version> and/or --weights <version> (with --month)"
            );
            anyhow::ensure!(
                chosen.is_none() || m.is_some(),
                "--weights ranks a month: add --month YYYY-MM"
            );
            let as_of = as_of
                .as_deref()
                .map(|t| instant(t, "--as-of"))
                .transpose()?;
            let facts = facts_at(as_of).await?;
            let m = m.as_deref().map(month).transpose()?;
            serde_json::to_value(views::what_if(
                &facts,
                rules,
                as_of.unwrap_or(now),
                policy.as_deref(),
                m,
                chosen.as_deref(),
            )?)?
        }
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &output)?;
    writeln!(out)?;
    Ok(())
}

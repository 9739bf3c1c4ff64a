//! The board benchmark.
//!
//! **Ours**: the official statistics board (`stats::board` under the policy in force, as
//! `views::official_board` computes it) of 100,000 tickets received over March 2026 in five
//! communities of three streets, at the end of the month: every ticket's clocks are timed
//! on the business calendar and its figures added to its community, street, district,
//! departments, category and the whole city, per day, per month and overall. The figure is
//! tickets per second.
//!
//! **Baseline**: one pass over the same facts that only counts each ticket into the same
//! groups (the same keys, days and months, and the ticket's stage), timing no clock. The
//! ratio is therefore what judging the clocks and computing the rates and hop times costs
//! over merely grouping the tickets.
//!
//! The tickets are built from their events as the SLA engine folds them. Rounds alternate
//! baseline and ours; the medians are compared. Everything runs in memory, in this thread.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDate, TimeZone as _, Utc};
use clap::Args;
use whistle_events::ticket::{
    Acknowledged, CalledUp, DepartmentFinished, DepartmentReportedIn, FeedbackRecorded, Received,
    Resolved, WhistleBlown,
};
use whistle_events::{
    Category, Channel, DepartmentId, Location, ReporterContact, Text, TicketEvent, TicketId,
    Urgency,
};
use whistle_sla::calendar::Calendar;
use whistle_sla::facts::TicketFacts;
use whistle_sla::policy::PolicyBook;
use whistle_sla::stats::{ALL_KEY, Dimension, RankingBook, stage};
use whistle_sla::views::{Rules, official_board};

use crate::demo::{DEPARTMENTS, PLACES, text};

/// Options of the board benchmark.
#[derive(Debug, Args)]
pub struct BoardArgs {
    /// A short run (a few seconds).
    #[arg(long)]
    quick: bool,
    /// Tickets on the board.
    #[arg(long, default_value_t = 100_000)]
    tickets: u32,
}

pub fn run(args: BoardArgs) -> anyhow::Result<()> {
    let rounds = if args.quick { 3 } else { 7 };
    let count = args.tickets.max(1);
    let facts = tickets(count)?;
    let policies = PolicyBook::standard();
    let calendar = Calendar::china();
    let weights = RankingBook::standard();
    let rules = Rules {
        policies: &policies,
        calendar: &calendar,
        weights: &weights,
    };
    let at = beijing(31, 20, 0)?;
    println!("benchmark board: {count} tickets, {rounds} rounds each side, alternating");
    let mut ours = Vec::new();
    let mut base = Vec::new();
    for round in 1..=rounds {
        let started = Instant::now();
        let groups = count_groups(&facts, &calendar);
        let b = f64::from(count) / started.elapsed().as_secs_f64();
        println!("  round {round}: baseline {b:>12.1} tickets/s ({groups} groups counted)");
        let started = Instant::now();
        let board = official_board(&facts, rules, at)?;
        let o = f64::from(count) / started.elapsed().as_secs_f64();
        println!(
            "  round {round}: ours     {o:>12.1} tickets/s ({} groups on the board)",
            board.groups.len()
        );
        anyhow::ensure!(
            board.totals.tickets == u64::from(count),
            "the board counts {} tickets, not {count}",
            board.totals.tickets
        );
        base.push(b);
        ours.push(o);
    }
    crate::report::print(
        "board",
        ("tickets/s", "tickets/s"),
        ours,
        base,
        serde_json::json!({"unit": "tickets per second", "tickets": count, "rounds": rounds}),
    );
    Ok(())
}

/// `2026-03-<day> <hour>:<minute>` in Beijing.
fn beijing(day: u32, hour: u32, minute: u32) -> anyhow::Result<DateTime<Utc>> {
    Ok(FixedOffset::east_opt(8 * 3600)
        .and_then(|tz| tz.with_ymd_and_hms(2026, 3, day, hour, minute, 0).single())
        .with_context(|| format!("2026-03-{day} {hour}:{minute}"))?
        .with_timezone(&Utc))
}

/// `count` tickets received on working hours of March 2026: all acknowledged (within 0 to
/// 8 minutes), a third called up, whistled to one department that reports in and finishes,
/// three quarters resolved and rated.
fn tickets(count: u32) -> anyhow::Result<Vec<TicketFacts>> {
    (0..count)
        .map(|n| {
            let (district, street, community) = PLACES[(n % 5) as usize];
            let minute = n % 600;
            let start = beijing(2 + n % 27, 8 + minute / 60, minute % 60)?;
            let at = |minutes: u32| start + chrono::Duration::minutes(i64::from(minutes));
            let ticket = TicketId::parse(&format!("00000000-0000-4000-8000-{:012}", n + 1))?;
            let received = Received {
                channel: Channel::Hotline,
                reporter: ReporterContact::default(),
                sealed_reporter: None,
                location: Location {
                    district: district.parse()?,
                    street: street.parse()?,
                    community: community.parse()?,
                    grid: None,
                    place: None,
                },
                category: Category::ALL[(n % 12) as usize],
                urgency: Urgency::Minor,
                description: Text::description("楼前下水道堵塞").context("benchmark text")?,
                source: None,
            };
            let mut facts = TicketFacts::received(ticket, start, &received);
            facts.apply(
                &TicketEvent::Acknowledged(Acknowledged {
                    reply: text("好")?
                }),
                at(n % 9),
            );
            if n % 3 == 0 {
                let department: DepartmentId = DEPARTMENTS[(n % 5) as usize].parse()?;
                let liaison = "liaison".parse()?;
                facts.apply(
                    &TicketEvent::CalledUp(CalledUp {
                        street: street.parse()?,
                        reason: text("呼叫")?,
                    }),
                    at(20),
                );
                facts.apply(
                    &TicketEvent::WhistleBlown(WhistleBlown {
                        departments: vec![department.clone()],
                        lead: department.clone(),
                        reason: text("吹哨")?,
                    }),
                    at(40),
                );
                facts.apply(
                    &TicketEvent::DepartmentReportedIn(DepartmentReportedIn {
                        department: department.clone(),
                        liaison: "liaison".parse()?,
                    }),
                    at(40 + n % 50),
                );
                facts.apply(
                    &TicketEvent::DepartmentFinished(DepartmentFinished {
                        department,
                        liaison,
                        fixed: true,
                        outcome: text("好")?,
                    }),
                    at(300),
                );
            }
            if n % 4 != 0 {
                facts.apply(
                    &TicketEvent::Resolved(Resolved {
                        summary: text("好")?,
                    }),
                    at(400),
                );
                facts.apply(
                    &TicketEvent::FeedbackRecorded(FeedbackRecorded {
                        resolved: n % 5 != 0,
                        satisfied: n % 7 != 0,
                        score: None,
                        comment: None,
                    }),
                    at(500),
                );
            }
            Ok(facts)
        })
        .collect()
}

/// The baseline: each ticket counted into the board's groups (community, street, district,
/// each department summoned, category, all; per local day, per month, overall) and by
/// stage, with no clock timed. Returns how many groups it counted into.
fn count_groups(facts: &[TicketFacts], calendar: &Calendar) -> usize {
    #[derive(Hash, PartialEq, Eq)]
    enum Period {
        Day(NaiveDate),
        Month(i32, u32),
        All,
    }
    let mut groups: HashMap<(Dimension, Period), HashMap<String, u64>> = HashMap::new();
    let mut stages = HashMap::new();
    // The categories' keys once, as the board does.
    let categories: Vec<(Category, String)> = Category::ALL
        .into_iter()
        .map(|c| {
            let key = serde_json::to_value(c)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            (c, key)
        })
        .collect();
    let zone = calendar.time_zone();
    let mut add = |dimension: Dimension, key: &str, period: Period| {
        let bucket = groups.entry((dimension, period)).or_default();
        match bucket.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                bucket.insert(key.to_owned(), 1);
            }
        }
    };
    for ticket in facts {
        *stages.entry(stage(ticket)).or_insert(0_u64) += 1;
        let day = ticket.received_at.with_timezone(&zone).date_naive();
        let location = &ticket.location;
        let category = categories
            .iter()
            .find(|(c, _)| *c == ticket.category)
            .map_or("", |(_, key)| key.as_str());
        let mut keys = vec![
            (Dimension::Community, location.community.as_str()),
            (Dimension::Street, location.street.as_str()),
            (Dimension::District, location.district.as_str()),
            (Dimension::Category, category),
            (Dimension::All, ALL_KEY),
        ];
        keys.extend(
            ticket
                .summonses
                .iter()
                .map(|s| (Dimension::Department, s.department.as_str())),
        );
        for (dimension, key) in keys {
            add(dimension, key, Period::Day(day));
            add(dimension, key, Period::Month(day.year(), day.month()));
            add(dimension, key, Period::All);
        }
    }
    groups.values().map(HashMap::len).sum::<usize>() + stages.len()
}

//! The supervisors' statistics: the 三率, acknowledge compliance, on-time rates (a clock
//! breached while running included), return, redo and whistle rates, nearest-rank hop
//! times, days and months in Beijing time, department groups from summonses, the as-of
//! cut, the drill-down, rankings under versioned weights, and the what-if comparison.
//!
//! Every ticket is built from its events, as the SLA engine folds them, on working days of
//! March 2026 (the 10th is a Tuesday), in Asia/Shanghai.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use whistle_events::ticket::*;
use whistle_events::*;
use whistle_sla::calendar::Calendar;
use whistle_sla::clocks::clocks;
use whistle_sla::facts::TicketFacts;
use whistle_sla::policy::PolicyBook;
use whistle_sla::stats::*;

static CHINA: LazyLock<Calendar> = LazyLock::new(Calendar::china);
static POLICY: LazyLock<PolicyBook> = LazyLock::new(PolicyBook::standard);

/// The shipped SLA policy, to make what-if versions of.
const SLA_POLICY: &str = include_str!("../../../deploy/config/sla-policy.toml");
/// The shipped ranking weights.
const RANKING: &str = include_str!("../../../deploy/config/ranking.toml");

/// A local time in Beijing: `2026-03-10 09:00` or `2026-03-10 09:00:30`.
fn local(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .expect("a test time such as 2026-03-10 09:00");
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&naive)
        .single()
        .expect("an unambiguous Beijing time")
        .to_utc()
}

fn id<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().expect("a valid test id")
}

fn text(s: &str) -> Text {
    Text::note(s).expect("a valid test text")
}

fn ticket_id(n: u32) -> TicketId {
    TicketId::parse(&format!("00000000-0000-4000-8000-{n:012}")).expect("a valid ticket id")
}

fn march(day: u32) -> Period {
    Period::Day {
        date: chrono::NaiveDate::from_ymd_opt(2026, 3, day).expect("a March date"),
    }
}

const MARCH: Period = Period::Month {
    year: 2026,
    month: 3,
};

/// One ticket's life: its receipt and its later events, each at a Beijing time.
#[derive(Debug, Clone)]
struct Life {
    ticket: TicketId,
    received_at: DateTime<Utc>,
    received: Received,
    events: Vec<(DateTime<Utc>, TicketEvent)>,
}

impl Life {
    /// A minor complaint received in `community` of `street` (district `haigang` for
    /// 文化路街道, `shizhong` otherwise).
    fn new(n: u32, street: &str, community: &str, category: Category, received: &str) -> Self {
        let district = if street == "wenhualu" {
            "haigang"
        } else {
            "shizhong"
        };
        Self {
            ticket: ticket_id(n),
            received_at: local(received),
            received: Received {
                channel: Channel::Hotline,
                reporter: ReporterContact::default(),
                sealed_reporter: None,
                location: Location {
                    district: id(district),
                    street: id(street),
                    community: id(community),
                    grid: None,
                    place: None,
                },
                category,
                urgency: Urgency::Minor,
                description: Text::description("楼前下水道堵塞").expect("valid"),
                source: None,
            },
            events: Vec::new(),
        }
    }

    /// A drains complaint in 红旗里, 文化路街道.
    fn hongqili(n: u32, received: &str) -> Self {
        Self::new(n, "wenhualu", "hongqili", Category::Drains, received)
    }

    fn urgent(mut self) -> Self {
        self.received.urgency = Urgency::Urgent;
        self
    }

    fn then(mut self, when: &str, event: TicketEvent) -> Self {
        self.events.push((local(when), event));
        self
    }

    fn ack(self, when: &str) -> Self {
        self.then(
            when,
            TicketEvent::Acknowledged(Acknowledged {
                reply: text("已受理"),
            }),
        )
    }

    fn handle(self, when: &str) -> Self {
        self.then(
            when,
            TicketEvent::HandledLocally(HandledLocally {
                plan: text("社区组织物业清掏"),
            }),
        )
    }

    fn call_up(self, when: &str) -> Self {
        let street = self.received.location.street.clone();
        self.then(
            when,
            TicketEvent::CalledUp(CalledUp {
                street,
                reason: text("社区无法处理"),
            }),
        )
    }

    fn whistle(self, when: &str, departments: &[&str]) -> Self {
        let departments: Vec<DepartmentId> = departments.iter().map(|d| id(d)).collect();
        let lead = departments[0].clone();
        self.then(
            when,
            TicketEvent::WhistleBlown(WhistleBlown {
                departments,
                lead,
                reason: text("需要部门处置"),
            }),
        )
    }

    fn report_in(self, when: &str, department: &str) -> Self {
        self.then(
            when,
            TicketEvent::DepartmentReportedIn(DepartmentReportedIn {
                department: id(department),
                liaison: id(&format!("{department}-wang")),
            }),
        )
    }

    fn decline(self, when: &str, department: &str) -> Self {
        self.then(
            when,
            TicketEvent::DepartmentDeclined(DepartmentDeclined {
                department: id(department),
                liaison: id(&format!("{department}-wang")),
                reason: text("非本部门职责"),
            }),
        )
    }

    fn finish(self, when: &str, department: &str) -> Self {
        self.then(
            when,
            TicketEvent::DepartmentFinished(DepartmentFinished {
                department: id(department),
                liaison: id(&format!("{department}-wang")),
                fixed: true,
                outcome: text("已处理"),
            }),
        )
    }

    fn resolve(self, when: &str) -> Self {
        self.then(
            when,
            TicketEvent::Resolved(Resolved {
                summary: text("已解决"),
            }),
        )
    }

    fn rate(self, when: &str, resolved: bool, satisfied: bool) -> Self {
        self.then(
            when,
            TicketEvent::FeedbackRecorded(FeedbackRecorded {
                resolved,
                satisfied,
                score: None,
                comment: None,
            }),
        )
    }

    fn reopen(self, when: &str, round: u32) -> Self {
        self.then(
            when,
            TicketEvent::Reopened(Reopened {
                reason: text("问题未解决"),
                round,
            }),
        )
    }

    fn close(self, when: &str) -> Self {
        self.then(
            when,
            TicketEvent::Closed(Closed {
                reason: CloseReason::Feedback,
            }),
        )
    }

    fn merge(self, when: &str, into: u32) -> Self {
        self.then(
            when,
            TicketEvent::MergedInto(MergedInto {
                into: ticket_id(into),
                reason: text("同一处积水"),
            }),
        )
    }

    /// The facts of every event.
    fn facts(&self) -> TicketFacts {
        self.facts_until(DateTime::<Utc>::MAX_UTC)
    }

    /// The facts of the events recorded by `at` (the exact as-of cut).
    fn facts_until(&self, at: DateTime<Utc>) -> TicketFacts {
        let mut facts = TicketFacts::received(self.ticket, self.received_at, &self.received);
        for (when, event) in self.events.iter().filter(|(when, _)| *when <= at) {
            facts.apply(event, *when);
        }
        facts
    }
}

fn facts(lives: &[Life]) -> Vec<TicketFacts> {
    lives.iter().map(Life::facts).collect()
}

/// The official board: each ticket under the policy in force at its receipt.
fn official(tickets: &[TicketFacts], at: DateTime<Utc>) -> Board {
    board(tickets, &PolicyJudge::in_force(&POLICY, &CHINA), &CHINA, at)
        .expect("the shipped policy and calendar time every test ticket")
}

fn overall(board: &Board) -> &Figures {
    board.overall().expect("the board has tickets")
}

fn figures<'a>(board: &'a Board, dimension: Dimension, key: &str, period: Period) -> &'a Figures {
    board
        .figures(dimension, key, period)
        .unwrap_or_else(|| panic!("the board has {dimension:?} {key} {period}"))
}

fn ratio(numerator: u64, denominator: u64) -> Ratio {
    Ratio::new(numerator, denominator)
}

fn behind(
    tickets: &[TicketFacts],
    at: DateTime<Utc>,
    group: Group,
    drill: Drill,
) -> Vec<(TicketId, u64)> {
    tickets_behind(
        tickets,
        &PolicyJudge::in_force(&POLICY, &CHINA),
        &CHINA,
        at,
        &group,
        drill,
    )
    .expect("drilled down")
    .into_iter()
    .map(|b| (b.ticket, b.count))
    .collect()
}

// ---------------------------------------------------------------------------------------
// The 三率

#[test]
fn the_three_rates_count_answers_in_time_and_ratings() {
    let lives = [
        Life::hongqili(1, "2026-03-10 09:00")
            .ack("2026-03-10 09:02")
            .handle("2026-03-10 09:03")
            .resolve("2026-03-10 15:00")
            .rate("2026-03-10 16:00", true, true),
        Life::hongqili(2, "2026-03-10 09:10")
            .ack("2026-03-10 09:11")
            .resolve("2026-03-10 15:00")
            .rate("2026-03-10 16:00", true, false),
        Life::hongqili(3, "2026-03-10 09:20")
            .ack("2026-03-10 09:24")
            .resolve("2026-03-10 15:00")
            .rate("2026-03-10 16:00", false, false),
        Life::hongqili(4, "2026-03-10 09:30")
            .ack("2026-03-10 09:30")
            .resolve("2026-03-10 15:00")
            .rate("2026-03-10 16:00", true, true),
        // Answered two minutes late, never rated.
        Life::hongqili(5, "2026-03-10 09:40")
            .ack("2026-03-10 09:47")
            .resolve("2026-03-10 15:00"),
    ];
    let tickets = facts(&lives);
    let at = local("2026-03-20 12:00");
    let board = official(&tickets, at);
    let all = overall(&board);
    assert_eq!(all.tickets, 5);
    assert_eq!(all.response, ratio(4, 5));
    assert_eq!(all.response.rate, Some(0.8));
    assert_eq!(all.resolution, ratio(3, 4));
    assert_eq!(all.satisfaction, ratio(2, 4));
    assert_eq!(all.satisfaction.rate, Some(0.5));
    assert_eq!(board.acknowledge_compliance, ratio(4, 5));
    // The same figures in every group the tickets share.
    for (dimension, key) in [
        (Dimension::District, "haigang"),
        (Dimension::Street, "wenhualu"),
        (Dimension::Community, "hongqili"),
        (Dimension::Category, "drains"),
    ] {
        for period in [Period::All, MARCH, march(10)] {
            assert_eq!(figures(&board, dimension, key, period), all);
        }
    }
    // Nothing was summoned: the rates of summonses have nothing to count (None, not NaN).
    assert_eq!(all.report_in_on_time, ratio(0, 0));
    assert_eq!(all.report_in_on_time.rate, None);
    assert_eq!(all.returned.rate, None);
    // Drill-down: the tickets behind the figures add up to them.
    let answered = behind(
        &tickets,
        at,
        Group::new(Dimension::Street, "wenhualu", MARCH),
        Drill::Numerator(Rate::Response),
    );
    assert_eq!(
        answered,
        vec![
            (ticket_id(1), 1),
            (ticket_id(2), 1),
            (ticket_id(3), 1),
            (ticket_id(4), 1)
        ]
    );
    let satisfied = behind(
        &tickets,
        at,
        Group::new(Dimension::All, ALL_KEY, Period::All),
        Drill::Numerator(Rate::Satisfaction),
    );
    assert_eq!(satisfied, vec![(ticket_id(1), 1), (ticket_id(4), 1)]);
    let rated = behind(
        &tickets,
        at,
        Group::new(Dimension::Community, "hongqili", march(10)),
        Drill::Denominator(Rate::Resolution),
    );
    assert_eq!(rated.len(), 4);
    assert!(
        behind(
            &tickets,
            at,
            Group::new(Dimension::Community, "hongqili", march(11)),
            Drill::Tickets
        )
        .is_empty()
    );
    // Every ticket is resolved, awaiting feedback or its close.
    assert_eq!(board.stages.resolved, 5);
    assert_eq!(board.totals.tickets, 5);
    assert_eq!(board.totals.open, 0);
}

// ---------------------------------------------------------------------------------------
// Acknowledge compliance, at risk and breached, the as-of cut

/// Answers around the evening close and the next morning's opening (service hours
/// 08:00–20:00), and two tickets still waiting.
fn evening_and_morning() -> Vec<Life> {
    vec![
        // Two minutes before the close and two after the opening: four service minutes.
        Life::hongqili(1, "2026-03-10 19:58").ack("2026-03-11 08:02"),
        // Six service minutes: late.
        Life::hongqili(2, "2026-03-10 19:58").ack("2026-03-11 08:04"),
        // Six minutes in the middle of the day: late.
        Life::hongqili(3, "2026-03-10 09:00").ack("2026-03-10 09:06"),
        // Not answered; due at 08:05.
        Life::hongqili(4, "2026-03-11 08:00"),
        // Not answered; four of its five minutes used at 08:10.
        Life::hongqili(5, "2026-03-11 08:06"),
        // Not answered; two of its five minutes used at 08:10.
        Life::hongqili(6, "2026-03-11 08:08"),
    ]
}

#[test]
fn acknowledge_compliance_counts_service_minutes_across_the_night_and_clocks_breached_while_running()
 {
    let tickets = facts(&evening_and_morning());
    let at = local("2026-03-11 08:10");
    let board = official(&tickets, at);
    // Met: 1. Missed: 2 and 3. Breached while running: 4. Not yet decided: 5 and 6.
    assert_eq!(board.acknowledge_compliance, ratio(1, 4));
    assert_eq!(board.acknowledge_compliance.rate, Some(0.25));
    assert_eq!(overall(&board).acknowledge_on_time, ratio(1, 4));
    // The two evening tickets belong to the 10th, the rest of the morning to the 11th.
    assert_eq!(
        figures(&board, Dimension::All, ALL_KEY, march(10)).response,
        ratio(1, 3)
    );
    assert_eq!(
        figures(&board, Dimension::All, ALL_KEY, march(11)).response,
        ratio(0, 1)
    );

    assert_eq!(board.breached.len(), 1);
    let breached = &board.breached[0];
    assert_eq!(breached.ticket, ticket_id(4));
    assert_eq!(breached.clock, SlaClock::Acknowledge);
    assert_eq!(breached.due_at, local("2026-03-11 08:05"));
    assert_eq!(breached.street.as_str(), "wenhualu");
    assert_eq!(breached.community.as_str(), "hongqili");
    assert_eq!(breached.category, Category::Drains);

    // Ticket 5 has used 80% of its time (its 75% warning passed at 08:09:45); ticket 6
    // only 40%.
    assert_eq!(board.at_risk.len(), 1);
    let risky = &board.at_risk[0];
    assert_eq!(risky.ticket, ticket_id(5));
    assert_eq!(risky.clock, SlaClock::Acknowledge);
    assert_eq!(risky.warned_percent, Some(75));
    assert_eq!(risky.due_at, local("2026-03-11 08:11"));

    assert_eq!(board.stages.acknowledged, 3);
    assert_eq!(board.stages.received, 3);
    assert_eq!(board.totals.open, 6);
}

#[test]
fn a_fact_after_the_instant_has_not_happened() {
    let lives = evening_and_morning();
    let tickets = facts(&lives);
    // At 08:03:30 ticket 2's answer (08:04) has not come: it is breached (due 08:03), not
    // late; tickets 5 and 6 have not been received.
    let at = local("2026-03-11 08:03:30");
    let board = official(&tickets, at);
    assert_eq!(board.acknowledge_compliance, ratio(1, 3));
    assert_eq!(board.totals.tickets, 4);
    assert_eq!(board.totals.received_later, 2);
    assert_eq!(
        board.breached.iter().map(|b| b.ticket).collect::<Vec<_>>(),
        vec![ticket_id(2)]
    );
    assert_eq!(board.stages.received, 2);
    assert_eq!(
        overall(&board).hops.acknowledge.count,
        2,
        "tickets 1 and 3 answered by then"
    );

    // The board of facts folded past `at` equals the board of facts cut at `at`.
    let cut: Vec<TicketFacts> = lives.iter().map(|l| l.facts_until(at)).collect();
    assert_eq!(board, official(&cut, at));
}

#[test]
fn the_as_of_cut_undoes_later_summonses_results_ratings_and_reopenings() {
    let life = Life::hongqili(1, "2026-03-10 09:00")
        .ack("2026-03-10 09:01")
        .call_up("2026-03-10 09:10")
        .whistle("2026-03-10 09:20", &["zhujian", "huanwei"])
        .report_in("2026-03-10 09:30", "zhujian")
        .decline("2026-03-10 09:40", "huanwei")
        .finish("2026-03-10 11:00", "zhujian")
        .resolve("2026-03-10 11:30")
        .reopen("2026-03-10 13:00", 2)
        .whistle("2026-03-10 13:30", &["shuiwu"])
        .report_in("2026-03-10 13:40", "shuiwu")
        .finish("2026-03-10 16:00", "shuiwu")
        .resolve("2026-03-10 16:30")
        .rate("2026-03-10 17:00", true, true)
        .close("2026-03-10 18:00");
    let everything = [life.facts()];
    for at in [
        "2026-03-10 09:05",
        "2026-03-10 09:25",
        "2026-03-10 09:35",
        "2026-03-10 10:00",
        "2026-03-10 11:15",
        "2026-03-10 11:45",
        "2026-03-10 12:30",
        "2026-03-10 13:15",
        "2026-03-10 13:35",
        "2026-03-10 16:15",
        "2026-03-10 16:45",
        "2026-03-10 17:30",
        "2026-03-10 19:00",
    ] {
        let at = local(at);
        let exact = [life.facts_until(at)];
        assert_eq!(
            official(&everything, at),
            official(&exact, at),
            "the board at {at}"
        );
    }
    // Before the reopening: round 1, resolved; no redo yet, and the rating (given later)
    // not counted.
    let before = official(&everything, local("2026-03-10 12:30"));
    assert_eq!(before.stages.resolved, 1);
    assert_eq!(overall(&before).redo, ratio(0, 1));
    assert_eq!(overall(&before).resolution, ratio(0, 0));
    assert_eq!(overall(&before).summonses, 2);
    let after = official(&everything, local("2026-03-10 19:00"));
    assert_eq!(after.stages.closed, 1);
    assert_eq!(overall(&after).redo, ratio(1, 1));
    assert_eq!(overall(&after).resolution, ratio(1, 1));
    assert_eq!(overall(&after).summonses, 3);
}

// ---------------------------------------------------------------------------------------
// On-time rates, returns, redos and whistles

#[test]
fn on_time_rates_count_met_missed_and_breached_while_running() {
    let lives = [
        // Report-in: zhujian in 10 minutes (met), huanwei in 40 (missed). Completion met.
        Life::hongqili(1, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .call_up("2026-03-10 09:10")
            .whistle("2026-03-10 09:20", &["zhujian", "huanwei"])
            .report_in("2026-03-10 09:30", "zhujian")
            .report_in("2026-03-10 10:00", "huanwei")
            .finish("2026-03-10 11:00", "zhujian")
            .finish("2026-03-10 12:00", "huanwei")
            .resolve("2026-03-10 12:30"),
        // zhujian never reports in: due at 11:00, breached while running at 13:00.
        Life::hongqili(2, "2026-03-10 10:00")
            .ack("2026-03-10 10:01")
            .call_up("2026-03-10 10:05")
            .whistle("2026-03-10 10:30", &["zhujian"]),
        // An emergency (2 hours) resolved in two and a half: completion missed.
        Life::hongqili(3, "2026-03-10 09:00")
            .urgent()
            .ack("2026-03-10 09:01")
            .resolve("2026-03-10 11:30"),
        // Gas (24 hours) received on Monday, still open on Tuesday afternoon: completion
        // breached while running.
        Life::new(4, "wenhualu", "hongqili", Category::Gas, "2026-03-09 09:00")
            .ack("2026-03-09 09:01"),
    ];
    let tickets = facts(&lives);
    let at = local("2026-03-10 13:00");
    let board = official(&tickets, at);
    let all = overall(&board);
    assert_eq!(all.acknowledge_on_time, ratio(4, 4));
    assert_eq!(all.report_in_on_time, ratio(1, 3));
    // Met: 1. Missed: 3. Breached: 4. Ticket 2's completion is still running in time.
    assert_eq!(all.completion_on_time, ratio(1, 3));

    let breached: Vec<(TicketId, SlaClock, Option<&str>)> = board
        .breached
        .iter()
        .map(|b| (b.ticket, b.clock, b.department.as_ref().map(|d| d.as_str())))
        .collect();
    assert_eq!(
        breached,
        vec![
            (ticket_id(4), SlaClock::Completion, None),
            (ticket_id(2), SlaClock::ReportIn, Some("zhujian")),
        ]
    );
    assert!(board.at_risk.is_empty());

    // Per department: zhujian met once and is breached once; huanwei missed once.
    assert_eq!(
        figures(&board, Dimension::Department, "zhujian", march(10)).report_in_on_time,
        ratio(1, 2)
    );
    assert_eq!(
        figures(&board, Dimension::Department, "huanwei", march(10)).report_in_on_time,
        ratio(0, 1)
    );
    // The drill-down of a summons count gives the tickets, with their summonses counted.
    assert_eq!(
        behind(
            &tickets,
            at,
            Group::new(Dimension::All, ALL_KEY, march(10)),
            Drill::Denominator(Rate::ReportInOnTime),
        ),
        vec![(ticket_id(1), 2), (ticket_id(2), 1)]
    );
    assert_eq!(board.stages.whistled, 1);
    assert_eq!(board.stages.resolved, 2);
    assert_eq!(board.stages.acknowledged, 1);
}

#[test]
fn return_redo_and_whistle_rates() {
    let lives = [
        // Whistled to two departments; huanwei declines and shuiwu is summoned instead.
        Life::hongqili(1, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .call_up("2026-03-10 09:10")
            .whistle("2026-03-10 09:20", &["zhujian", "huanwei"])
            .report_in("2026-03-10 09:25", "zhujian")
            .decline("2026-03-10 09:30", "huanwei")
            .whistle("2026-03-10 09:40", &["shuiwu"]),
        // Fixed by the community, rated unresolved, reopened and fixed again.
        Life::hongqili(2, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .handle("2026-03-10 09:02")
            .resolve("2026-03-10 10:00")
            .rate("2026-03-10 11:00", false, false)
            .reopen("2026-03-10 11:30", 2)
            .resolve("2026-03-10 14:00"),
        // Fixed by the community and closed.
        Life::hongqili(3, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .handle("2026-03-10 09:02")
            .resolve("2026-03-10 10:00")
            .close("2026-03-10 18:00"),
        // Only answered.
        Life::hongqili(4, "2026-03-10 09:00").ack("2026-03-10 09:01"),
        // A duplicate of ticket 4: in the stages, in no figure.
        Life::hongqili(5, "2026-03-10 09:03").merge("2026-03-10 09:10", 4),
    ];
    let tickets = facts(&lives);
    let at = local("2026-03-10 20:00");
    let board = official(&tickets, at);
    let all = overall(&board);
    assert_eq!(all.tickets, 4);
    assert_eq!(all.summonses, 3);
    assert_eq!(all.returned, ratio(1, 3));
    assert_eq!(all.redo, ratio(1, 2));
    assert_eq!(all.redo.rate, Some(0.5));
    assert_eq!(all.whistle, ratio(1, 4));
    assert_eq!(all.whistle.rate, Some(0.25));
    assert_eq!(board.totals.tickets, 5);
    assert_eq!(board.totals.merged, 1);
    assert_eq!(board.stages.merged, 1);
    assert_eq!(board.stages.whistled, 1);
    assert_eq!(board.stages.resolved, 1);
    assert_eq!(board.stages.closed, 1);
    assert_eq!(board.stages.acknowledged, 1);
    assert_eq!(
        behind(
            &tickets,
            at,
            Group::new(Dimension::Street, "wenhualu", march(10)),
            Drill::Numerator(Rate::Redo),
        ),
        vec![(ticket_id(2), 1)]
    );
    assert_eq!(
        behind(
            &tickets,
            at,
            Group::new(Dimension::Department, "huanwei", MARCH),
            Drill::Numerator(Rate::Return),
        ),
        vec![(ticket_id(1), 1)]
    );
}

// ---------------------------------------------------------------------------------------
// Hop-by-hop times

#[test]
fn hop_times_are_nearest_rank_percentiles() {
    // Answers after 30, 60, …, 270 seconds and one after 600: of ten, the p50 is the 5th
    // (150 s) and the p90 the 9th (270 s).
    let mut lives: Vec<Life> = [30, 60, 90, 120, 150, 180, 210, 240, 270, 600]
        .iter()
        .enumerate()
        .map(|(i, seconds)| {
            let n = u32::try_from(i).expect("small") + 1;
            Life::hongqili(n, "2026-03-10 10:00:00").ack(&format!(
                "2026-03-10 10:{:02}:{:02}",
                seconds / 60,
                seconds % 60
            ))
        })
        .collect();
    // Four departments report in after 5, 10, 20 and 40 minutes: of four, the p50 is the
    // 2nd (600 s) and the p90 the 4th (2,400 s); an interpolation would give neither.
    lives.push(
        Life::hongqili(11, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .call_up("2026-03-10 09:05")
            .whistle(
                "2026-03-10 09:20",
                &["zhujian", "huanwei", "chengguan", "shuiwu"],
            )
            .report_in("2026-03-10 09:25", "zhujian")
            .report_in("2026-03-10 09:30", "huanwei")
            .report_in("2026-03-10 09:40", "chengguan")
            .report_in("2026-03-10 10:00", "shuiwu")
            .finish("2026-03-10 10:25", "zhujian")
            .finish("2026-03-10 12:30", "huanwei"),
    );
    // Called up and whistled ten minutes later.
    lives.push(
        Life::hongqili(12, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .call_up("2026-03-10 09:10")
            .whistle("2026-03-10 09:20", &["zhujian"]),
    );
    let tickets = facts(&lives);
    let board = official(&tickets, local("2026-03-10 18:00"));
    let hops = &overall(&board).hops;
    // Tickets 11 and 12 answered after 60 s too: of twelve times (30, 60, 60, 60, 90,
    // 120, …), the p50 is the 6th and the p90 the 11th.
    assert_eq!(
        hops.acknowledge,
        HopTimes {
            count: 12,
            p50_seconds: Some(120),
            p90_seconds: Some(270),
        }
    );
    let answers = figures(&board, Dimension::All, ALL_KEY, march(10));
    assert_eq!(answers.hops.acknowledge.count, 12);
    assert_eq!(
        hops.whistle_to_report_in,
        HopTimes {
            count: 4,
            p50_seconds: Some(600),
            p90_seconds: Some(2400),
        },
        "4 reports of ticket 11 and none of ticket 12"
    );
    assert_eq!(
        hops.call_up_to_whistle,
        HopTimes {
            count: 2,
            p50_seconds: Some(600),
            p90_seconds: Some(900),
        }
    );
    // One hour and three hours: nearest rank of two is the 1st for p50, the 2nd for p90.
    assert_eq!(
        hops.report_in_to_result,
        HopTimes {
            count: 2,
            p50_seconds: Some(3600),
            p90_seconds: Some(3 * 3600),
        }
    );
    // Per department: only its own summons.
    let zhujian = figures(&board, Dimension::Department, "zhujian", march(10));
    assert_eq!(zhujian.hops.whistle_to_report_in.count, 1);
    assert_eq!(zhujian.hops.whistle_to_report_in.p50_seconds, Some(300));
    assert_eq!(zhujian.tickets, 2);

    // The ten answers alone, without tickets 11 and 12.
    let ten = official(&tickets[..10], local("2026-03-10 18:00"));
    assert_eq!(
        overall(&ten).hops.acknowledge,
        HopTimes {
            count: 10,
            p50_seconds: Some(150),
            p90_seconds: Some(270),
        }
    );
    assert_eq!(
        overall(&ten).hops.whistle_to_report_in,
        HopTimes {
            count: 0,
            p50_seconds: None,
            p90_seconds: None,
        }
    );
}

// ---------------------------------------------------------------------------------------
// Days, months and departments

#[test]
fn days_and_months_are_beijing_dates_of_receipt() {
    let lives = [
        Life::hongqili(1, "2026-03-10 09:00").ack("2026-03-10 09:01"),
        Life::hongqili(2, "2026-03-12 09:00").ack("2026-03-12 09:10"),
        Life::hongqili(3, "2026-03-12 10:00").ack("2026-03-12 10:01"),
        // 23:30 in Beijing is 15:30 UTC: still March the 31st.
        Life::hongqili(4, "2026-03-31 23:30"),
        // 00:30 on April the 1st in Beijing is still March the 31st in UTC.
        Life::hongqili(5, "2026-04-01 00:30"),
    ];
    let tickets = facts(&lives);
    let board = official(&tickets, local("2026-04-01 07:00"));
    let community = |period| figures(&board, Dimension::Community, "hongqili", period);
    assert_eq!(community(march(10)).tickets, 1);
    assert_eq!(community(march(10)).response, ratio(1, 1));
    assert_eq!(community(march(12)).tickets, 2);
    assert_eq!(community(march(12)).response, ratio(1, 2));
    assert_eq!(community(march(31)).tickets, 1);
    assert_eq!(community(MARCH).tickets, 4);
    assert_eq!(community(MARCH).response, ratio(2, 3));
    let april = Period::Month {
        year: 2026,
        month: 4,
    };
    assert_eq!(community(april).tickets, 1);
    assert_eq!(community(Period::All).tickets, 5);
    assert!(
        board
            .figures(Dimension::Community, "hongqili", march(11))
            .is_none()
    );
    // The night tickets' clocks wait for 08:00: not decided at 07:00.
    assert_eq!(community(march(31)).response, ratio(0, 0));
    assert_eq!(board.time_zone, "Asia/Shanghai");
}

#[test]
fn departments_are_grouped_by_their_summonses() {
    let lives = [
        // zhujian declines on the 10th and is summoned again on the 12th; huanwei is
        // summoned on the 10th.
        Life::hongqili(1, "2026-03-10 09:00")
            .ack("2026-03-10 09:01")
            .call_up("2026-03-10 09:10")
            .whistle("2026-03-10 09:20", &["zhujian", "huanwei"])
            .decline("2026-03-10 09:30", "zhujian")
            .report_in("2026-03-10 09:35", "huanwei")
            .whistle("2026-03-12 09:00", &["zhujian"])
            .report_in("2026-03-12 09:10", "zhujian"),
        // Another community's ticket, received on the 11th, summons zhujian on the 12th.
        Life::new(
            2,
            "tongjiang",
            "niuerqiao",
            Category::Noise,
            "2026-03-11 16:00",
        )
        .ack("2026-03-11 16:01")
        .call_up("2026-03-11 17:00")
        .whistle("2026-03-12 08:30", &["zhujian"])
        .report_in("2026-03-12 09:30", "zhujian"),
    ];
    let tickets = facts(&lives);
    let at = local("2026-03-13 12:00");
    let board = official(&tickets, at);
    let zhujian = |period| figures(&board, Dimension::Department, "zhujian", period);
    assert_eq!(zhujian(march(10)).tickets, 1);
    assert_eq!(zhujian(march(10)).summonses, 1);
    assert_eq!(zhujian(march(10)).returned, ratio(1, 1));
    assert_eq!(zhujian(march(12)).tickets, 2);
    assert_eq!(zhujian(march(12)).summonses, 2);
    assert_eq!(zhujian(march(12)).returned, ratio(0, 2));
    // Summoned once in time (ticket 1, 10 minutes), once late (ticket 2, an hour); the
    // decline on the 10th stopped its clock in time.
    assert_eq!(zhujian(march(12)).report_in_on_time, ratio(1, 2));
    assert_eq!(zhujian(MARCH).tickets, 2);
    assert_eq!(zhujian(MARCH).summonses, 3);
    assert_eq!(zhujian(MARCH).returned, ratio(1, 3));
    assert_eq!(zhujian(MARCH).report_in_on_time, ratio(2, 3));
    assert!(
        board
            .figures(Dimension::Department, "zhujian", march(11))
            .is_none()
    );
    let huanwei = figures(&board, Dimension::Department, "huanwei", MARCH);
    assert_eq!((huanwei.tickets, huanwei.summonses), (1, 1));
    // The street counts ticket 1's three summonses on the day of its receipt.
    let street = figures(&board, Dimension::Street, "wenhualu", march(10));
    assert_eq!(street.summonses, 3);
    assert!(
        board
            .figures(Dimension::Street, "wenhualu", march(12))
            .is_none()
    );
    assert_eq!(
        figures(&board, Dimension::District, "shizhong", march(11)).tickets,
        1
    );
    assert_eq!(
        figures(&board, Dimension::Category, "noise", MARCH).tickets,
        1
    );
    assert_eq!(
        behind(
            &tickets,
            at,
            Group::new(Dimension::Department, "zhujian", MARCH),
            Drill::Summonses,
        ),
        vec![(ticket_id(1), 2), (ticket_id(2), 1)]
    );
    assert_eq!(
        behind(
            &tickets,
            at,
            Group::new(Dimension::Department, "zhujian", march(12)),
            Drill::Hop(Hop::WhistleToReportIn),
        ),
        vec![(ticket_id(1), 1), (ticket_id(2), 1)]
    );
}

#[test]
fn the_board_serializes_to_flat_json_and_back() {
    let tickets = facts(&evening_and_morning());
    let board = official(&tickets, local("2026-03-11 08:10"));
    let json = serde_json::to_value(&board).expect("serializes");
    let group = &json["groups"][0];
    assert_eq!(group["dimension"], "all");
    assert_eq!(group["key"], "all");
    assert_eq!(group["period"], serde_json::json!({"kind": "all"}));
    assert_eq!(
        group["figures"]["response"],
        serde_json::json!({"numerator": 1, "denominator": 4, "rate": 0.25})
    );
    assert_eq!(
        group["figures"]["return"],
        serde_json::json!({"numerator": 0, "denominator": 0, "rate": null})
    );
    let day = json["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["period"]["kind"] == "day")
        .expect("a day group");
    assert_eq!(day["period"]["date"], "2026-03-10");
    let back: Board = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, board);
}

#[test]
fn a_ticket_no_policy_times_is_an_error_naming_it() {
    let tickets = facts(&[Life::hongqili(7, "2024-06-03 09:00")]);
    let error = board(
        &tickets,
        &PolicyJudge::in_force(&POLICY, &CHINA),
        &CHINA,
        local("2026-03-10 09:00"),
    )
    .expect_err("no policy version before 2025");
    let message = error.to_string();
    assert!(message.contains(&ticket_id(7).to_string()), "{message}");
    assert!(message.contains("add a version"), "{message}");
}

// ---------------------------------------------------------------------------------------
// Rankings

/// March in three streets of two districts, and a fourth street with no ratings.
fn three_streets() -> Vec<TicketFacts> {
    let rated = |n: u32, street: &str, community: &str, late: bool, resolved, satisfied| {
        let answer = if late {
            "2026-03-10 09:10"
        } else {
            "2026-03-10 09:02"
        };
        Life::new(
            n,
            street,
            community,
            Category::Sanitation,
            "2026-03-10 09:00",
        )
        .ack(answer)
        .handle("2026-03-10 09:15")
        .resolve("2026-03-10 12:00")
        .rate("2026-03-10 14:00", resolved, satisfied)
    };
    let lives = [
        // wenhualu: response 1, resolution 1, satisfaction 0.5: 20 + 40 + 20 = 80.
        rated(1, "wenhualu", "hongqili", false, true, true),
        rated(2, "wenhualu", "hongqili", false, true, false),
        // tongjiang: response 0.5, resolution 1, satisfaction 1: 10 + 40 + 40 = 90.
        rated(3, "tongjiang", "niuerqiao", false, true, true),
        rated(4, "tongjiang", "chafang", true, true, true),
        // haitang: response 1, resolution 0.5, satisfaction 1: 20 + 20 + 40 = 80.
        rated(5, "haitang", "fujie", false, true, true),
        rated(6, "haitang", "fujie", false, false, true),
        // yangming: answered, never rated.
        Life::new(
            7,
            "yangming",
            "xinchengshi",
            Category::Parking,
            "2026-03-10 09:00",
        )
        .ack("2026-03-10 09:01"),
    ];
    facts(&lives)
}

#[test]
fn streets_rank_by_weighted_score_with_shared_ranks_and_the_unrated_unranked() {
    let board = official(&three_streets(), local("2026-03-31 20:00"));
    let book = RankingBook::standard();
    let weights = book
        .in_force(local("2026-03-01 00:00"))
        .expect("weights in force in March 2026");
    assert_eq!(weights.version, "2025.1");
    let ranking = ranking(&board, 2026, 3, weights);
    assert_eq!(ranking.version, "2025.1");
    let rows: Vec<(&str, Option<u32>)> = ranking
        .streets
        .iter()
        .map(|r| (r.key.as_str(), r.rank))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("tongjiang", Some(1)),
            ("haitang", Some(2)),
            ("wenhualu", Some(2)),
            ("yangming", None),
        ]
    );
    let score = |key: &str| {
        ranking
            .streets
            .iter()
            .find(|r| r.key == key)
            .and_then(|r| r.score)
            .expect("a score")
    };
    assert!((score("tongjiang") - 90.0).abs() < 1e-9);
    assert!((score("wenhualu") - 80.0).abs() < 1e-9);
    assert!((score("haitang") - 80.0).abs() < 1e-9);
    let tongjiang = &ranking.streets[0];
    assert_eq!(tongjiang.tickets, 2);
    let response = tongjiang
        .parts
        .iter()
        .find(|p| p.rate == Rate::Response)
        .expect("response is weighted");
    assert_eq!(response.weight, 0.2);
    assert_eq!(response.ratio, ratio(1, 2));
    assert!((response.points.expect("points") - 10.0).abs() < 1e-9);
    let unranked = &ranking.streets[3];
    assert_eq!(unranked.score, None);
    let reason = unranked.unranked.as_deref().expect("a reason");
    assert!(reason.contains("resolution: no rating"), "{reason}");
    assert!(reason.contains("satisfaction: no rating"), "{reason}");
    assert!(reason.contains("2026-03"), "{reason}");
    // Departments: nothing was summoned, so none is ranked.
    assert!(ranking.departments.is_empty());
}

#[test]
fn a_later_weights_version_can_flip_the_order() {
    let board = official(&three_streets(), local("2026-03-31 20:00"));
    // From April 2026 the answer counts most: wenhualu (answers all in time) passes
    // tongjiang (one late answer).
    let later = RANKING
        .replace("2025.1", "2026.4")
        .replace("2025-01-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00")
        .replace("response = 0.2", "response = 0.8")
        .replace("resolution = 0.4", "resolution = 0.1")
        .replace("satisfaction = 0.4", "satisfaction = 0.1");
    let text = format!(
        "{RANKING}\n{}",
        &later[later.find("[[versions]]").expect("a version")..]
    );
    let book = RankingBook::from_toml(&text).expect("two valid versions");
    let march_weights = book
        .in_force(local("2026-03-01 00:00"))
        .expect("in force in March");
    let april_weights = book
        .in_force(local("2026-04-01 00:00"))
        .expect("in force in April");
    assert_eq!(march_weights.version, "2025.1");
    assert_eq!(april_weights.version, "2026.4");
    assert_eq!(book.version("2026.4").expect("named"), april_weights);
    assert!(book.version("2030.1").is_err());

    let order = |weights| {
        ranking(&board, 2026, 3, weights)
            .streets
            .iter()
            .map(|r| (r.key.clone(), r.rank))
            .collect::<Vec<_>>()
    };
    let keyed = |rows: &[(&str, Option<u32>)]| {
        rows.iter()
            .map(|(k, r)| ((*k).to_owned(), *r))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order(march_weights),
        keyed(&[
            ("tongjiang", Some(1)),
            ("haitang", Some(2)),
            ("wenhualu", Some(2)),
            ("yangming", None)
        ])
    );
    // wenhualu: 80 + 10 + 5 = 95; haitang: 80 + 5 + 10 = 95; tongjiang: 40 + 10 + 10 = 60.
    assert_eq!(
        order(april_weights),
        keyed(&[
            ("haitang", Some(1)),
            ("wenhualu", Some(1)),
            ("tongjiang", Some(3)),
            ("yangming", None)
        ])
    );
    let compared = compare_rankings(
        &ranking(&board, 2026, 3, march_weights),
        &ranking(&board, 2026, 3, april_weights),
    );
    let tongjiang = &compared.streets[0];
    assert_eq!(tongjiang.key, "tongjiang");
    assert_eq!(tongjiang.rank_difference, Some(2));
    assert!((tongjiang.score_difference.expect("both scored") + 30.0).abs() < 1e-9);

    // Weights made in code follow the same rules.
    let heavy = Weights::new([(Rate::Satisfaction, 1.0)]).expect("valid");
    let rows: Vec<(String, Option<u32>)> = rank(&board, Dimension::Street, MARCH, &heavy)
        .into_iter()
        .map(|r| (r.key, r.rank))
        .collect();
    assert_eq!(
        rows,
        keyed(&[
            ("haitang", Some(1)),
            ("tongjiang", Some(1)),
            ("wenhualu", Some(3)),
            ("yangming", None)
        ])
    );
}

#[test]
fn departments_rank_on_report_in_and_what_residents_say() {
    let lives = [Life::hongqili(1, "2026-03-10 09:00")
        .ack("2026-03-10 09:01")
        .call_up("2026-03-10 09:10")
        .whistle("2026-03-10 09:20", &["zhujian", "huanwei"])
        .report_in("2026-03-10 09:30", "zhujian")
        .report_in("2026-03-10 10:30", "huanwei")
        .finish("2026-03-10 11:00", "zhujian")
        .finish("2026-03-10 11:30", "huanwei")
        .resolve("2026-03-10 12:00")
        .rate("2026-03-10 13:00", true, true)];
    let board = official(&facts(&lives), local("2026-03-31 20:00"));
    let ranking = ranking(&board, 2026, 3, &RankingBook::standard().versions()[0]);
    let rows: Vec<(&str, Option<u32>)> = ranking
        .departments
        .iter()
        .map(|r| (r.key.as_str(), r.rank))
        .collect();
    assert_eq!(rows, vec![("zhujian", Some(1)), ("huanwei", Some(2))]);
    // 40 + 30 + 30 and 0 + 30 + 30.
    assert!((ranking.departments[0].score.expect("scored") - 100.0).abs() < 1e-9);
    assert!((ranking.departments[1].score.expect("scored") - 60.0).abs() < 1e-9);
}

#[test]
fn a_ranking_file_with_bad_weights_is_refused_with_every_problem() {
    let bad = RANKING.replace("response = 0.2", "response = 0.3").replace(
        "report_in_on_time = 0.4",
        "report_in_on_time = -0.4\nwhistle = 0.5",
    );
    let error = RankingBook::from_toml(&bad).expect_err("refused");
    let message = error.to_string();
    assert_eq!(error.problems().len(), 4, "{message}");
    assert!(
        message.contains("version 2025.1, streets: the weights add up to 1.1"),
        "{message}"
    );
    assert!(
        message.contains("the weight of report_in_on_time is -0.4"),
        "{message}"
    );
    assert!(message.contains("whistle cannot be weighted"), "{message}");
    assert!(
        message.contains("departments: the weights add up to"),
        "{message}"
    );

    let unknown_rate = RANKING.replace("response = 0.2", "speed = 0.2");
    let message = RankingBook::from_toml(&unknown_rate)
        .expect_err("unknown rate")
        .to_string();
    assert!(message.contains("speed"), "{message}");
    assert!(message.contains("response"), "lists the rates: {message}");

    let unknown_key = RANKING.replace(
        "version = \"2025.1\"",
        "version = \"2025.1\"\ncolour = \"red\"",
    );
    let message = RankingBook::from_toml(&unknown_key)
        .expect_err("unknown key")
        .to_string();
    assert!(message.contains("colour"), "{message}");

    let twice = format!(
        "{RANKING}\n{}",
        &RANKING[RANKING.find("[[versions]]").expect("a version")..]
    );
    let message = RankingBook::from_toml(&twice)
        .expect_err("the same version twice")
        .to_string();
    assert!(message.contains("same instant"), "{message}");
    assert!(message.contains("appears twice"), "{message}");

    assert!(RankingBook::from_toml("").is_err());
    assert!(Weights::new([(Rate::Response, 0.5)]).is_err());
    assert!(Weights::new([(Rate::Response, 0.5), (Rate::Redo, 0.5)]).is_ok());
    assert!(
        RankingBook::load(std::path::Path::new("/nonexistent/ranking.toml"))
            .expect_err("no file")
            .to_string()
            .contains("/nonexistent/ranking.toml")
    );
    assert!(
        RankingBook::standard()
            .in_force(local("2024-12-31 23:59"))
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------
// What-if

#[test]
fn a_shorter_acknowledge_limit_shows_in_the_comparison() {
    // The same tickets, answered after 1, 3 and 4 minutes, and one after 6.
    let lives = [
        Life::hongqili(1, "2026-03-10 09:00").ack("2026-03-10 09:01"),
        Life::hongqili(2, "2026-03-10 09:00").ack("2026-03-10 09:03"),
        Life::new(
            3,
            "tongjiang",
            "niuerqiao",
            Category::Noise,
            "2026-03-10 09:00",
        )
        .ack("2026-03-10 09:04"),
        Life::new(
            4,
            "tongjiang",
            "niuerqiao",
            Category::Noise,
            "2026-03-10 09:00",
        )
        .ack("2026-03-10 09:06"),
    ];
    let tickets = facts(&lives);
    let at = local("2026-03-10 18:00");
    let strict_text = SLA_POLICY
        .replace("within = \"5m\"", "within = \"2m\"")
        .replace("version = \"2025.1\"", "version = \"2026.strict\"")
        .replace("2025-01-01T00:00:00+08:00", "2026-01-01T00:00:00+08:00");
    let strict = PolicyBook::from_toml(&strict_text).expect("a valid what-if policy");
    let what_if = PolicyJudge::what_if(&strict, &CHINA, "2026.strict").expect("named version");
    let official = official(&tickets, at);
    let other = board(&tickets, &what_if, &CHINA, at).expect("what-if board");
    assert!(
        other.judged_by.contains("2026.strict"),
        "{}",
        other.judged_by
    );
    assert_eq!(official.acknowledge_compliance, ratio(3, 4));
    assert_eq!(other.acknowledge_compliance, ratio(1, 4));

    let comparison = compare(&official, &other);
    assert_eq!(comparison.acknowledge_compliance.difference, Some(-0.5));
    let all = comparison
        .group(Dimension::All, ALL_KEY, Period::All)
        .expect("the overall group");
    assert!(all.changed);
    let response = all.rate(Rate::Response).expect("response");
    assert_eq!(response.official, Some(ratio(3, 4)));
    assert_eq!(response.other, Some(ratio(1, 4)));
    assert_eq!(response.difference, Some(-0.5));
    assert_eq!(all.tickets.difference, 0);
    let tongjiang = comparison
        .group(Dimension::Street, "tongjiang", march(10))
        .expect("tongjiang on the 10th");
    let response = tongjiang.rate(Rate::Response).expect("response");
    assert_eq!(response.official, Some(ratio(1, 2)));
    assert_eq!(response.other, Some(ratio(0, 2)));
    assert_eq!(response.difference, Some(-0.5));
    // The hop times are how long people waited: no policy changes them.
    let hop = &all.hops[0];
    assert_eq!(hop.hop, Hop::Acknowledge);
    assert_eq!(hop.p50_difference_seconds, Some(0));
    // Satisfaction has nothing to count on either side: no difference, and no NaN.
    assert_eq!(
        all.rate(Rate::Satisfaction)
            .expect("satisfaction")
            .difference,
        None
    );
    let json = serde_json::to_string(&comparison).expect("serializes");
    assert!(json.contains("\"difference\":-0.5"), "{json}");

    // A board compared with itself has no changes.
    assert_eq!(compare(&official, &official).changed().count(), 0);
    // A group only on one side is listed with nothing on the other.
    let earlier = self::official(&tickets[..2], at);
    let partial = compare(&earlier, &official);
    let only_later = partial
        .group(Dimension::Street, "tongjiang", Period::All)
        .expect("listed");
    assert_eq!(only_later.tickets.official, 0);
    assert_eq!(only_later.tickets.other, 2);
    assert_eq!(
        only_later.rate(Rate::Response).expect("response").official,
        None
    );
}

#[test]
fn any_function_of_the_facts_can_judge() {
    let tickets = facts(&evening_and_morning());
    let policy = POLICY.versions()[0].clone();
    let judge =
        |facts: &TicketFacts| -> Result<_, JudgeError> { Ok(clocks(facts, &policy, &CHINA)?) };
    let at = local("2026-03-11 08:10");
    let custom = board(&tickets, &judge, &CHINA, at).expect("judged");
    let standard = official(&tickets, at);
    assert_eq!(custom.groups, standard.groups);
    assert_eq!(custom.judged_by, "a custom judge");
}

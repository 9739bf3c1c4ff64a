//! A ticket's clocks from its facts: tiers, pauses, extensions, report-in per summons,
//! pending deadlines, and the same facts judged under another policy version.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use whistle_events::ticket::*;
use whistle_events::{
    Category, Channel, DepartmentId, LiaisonId, Location, ReporterContact, Text, TicketEvent,
    TicketId, Urgency,
};
use whistle_sla::calendar::Calendar;
use whistle_sla::clocks::{ClockStatus, clocks, pending};
use whistle_sla::facts::TicketFacts;
use whistle_sla::policy::PolicyBook;
use whistle_sla::stats::{Stage, stage};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(text)
        .expect("a valid instant")
        .with_timezone(&Utc)
}

fn text(s: &str) -> Text {
    Text::reason(s).expect("valid text")
}

fn dept(s: &str) -> DepartmentId {
    s.parse().expect("valid department")
}

fn received(category: Category, urgency: Urgency, at_: DateTime<Utc>) -> TicketFacts {
    let received = Received {
        channel: Channel::Hotline,
        reporter: ReporterContact::default(),
        sealed_reporter: None,
        location: Location {
            district: "haigang".parse().expect("id"),
            street: "wenhualu".parse().expect("id"),
            community: "hongqili".parse().expect("id"),
            grid: None,
            place: None,
        },
        category,
        urgency,
        description: text("路灯不亮"),
        source: None,
    };
    TicketFacts::received(TicketId::new_random(), at_, &received)
}

fn completion(facts: &TicketFacts) -> whistle_sla::clocks::Clock {
    let book = PolicyBook::standard();
    clocks(facts, &book.versions()[0], &Calendar::china())
        .expect("clocks")
        .into_iter()
        .find(|c| c.clock == SlaClock::Completion)
        .expect("a completion clock")
}

#[test]
fn completion_is_timed_by_tier() {
    let start = at("2026-03-10T10:00:00+08:00");
    for (category, urgency, limit) in [
        (Category::Drains, Urgency::Urgent, Duration::hours(2)),
        (Category::Gas, Urgency::Minor, Duration::hours(24)),
        (Category::StreetLighting, Urgency::Minor, Duration::days(7)),
        (Category::Noise, Urgency::Major, Duration::days(15)),
    ] {
        let clock = completion(&received(category, urgency, start));
        assert_eq!(
            clock.due_at,
            Some(start + limit),
            "{category:?} {urgency:?}"
        );
        assert_eq!(clock.status_at(start + limit), ClockStatus::Running);
        assert_eq!(
            clock.status_at(start + limit + Duration::seconds(1)),
            ClockStatus::Breached
        );
    }
}

#[test]
fn a_pause_moves_the_due_time_by_its_length_and_stops_the_warnings() {
    let start = at("2026-03-10T10:00:00+08:00");
    let mut facts = received(Category::Drains, Urgency::Urgent, start);
    facts.apply(
        &TicketEvent::SlaPaused(SlaPaused {
            reason: text("等待居民开门入户"),
        }),
        start + Duration::minutes(30),
    );
    let paused = completion(&facts);
    assert!(paused.paused);
    assert_eq!(
        paused.due_at, None,
        "no due time while paused with time left"
    );
    assert_eq!(
        paused.status_at(start + Duration::hours(5)),
        ClockStatus::Paused
    );
    // The 50% warning (1 h) had not come before the pause.
    assert!(paused.warn_at.is_empty());
    assert!(pending(&facts, &[paused]).is_empty());

    facts.apply(
        &TicketEvent::SlaResumed(SlaResumed {
            reason: text("居民已回家"),
        }),
        start + Duration::minutes(90),
    );
    let resumed = completion(&facts);
    // 30 minutes used, one hour paused: due at 13:00 instead of 12:00.
    assert_eq!(resumed.due_at, Some(at("2026-03-10T13:00:00+08:00")));
    assert_eq!(
        resumed.warn_at,
        vec![
            (50, at("2026-03-10T12:00:00+08:00")),
            (75, at("2026-03-10T12:30:00+08:00"))
        ]
    );
}

#[test]
fn an_approved_extension_moves_the_completion_due_time() {
    let start = at("2026-03-10T10:00:00+08:00");
    let mut facts = received(Category::Drains, Urgency::Urgent, start);
    let zhujian = dept("zhujian");
    facts.apply(
        &TicketEvent::WhistleBlown(WhistleBlown {
            departments: vec![zhujian.clone()],
            lead: zhujian.clone(),
            reason: text("急事"),
        }),
        start + Duration::minutes(5),
    );
    let until = at("2026-03-11T18:00:00+08:00");
    facts.apply(
        &TicketEvent::ExtensionApproved(ExtensionApproved {
            department: zhujian.clone(),
            until,
            reason: text("材料到货需一天"),
        }),
        start + Duration::minutes(60),
    );
    let clock = completion(&facts);
    assert_eq!(clock.due_at, Some(until));
    assert_eq!(
        clock.status_at(at("2026-03-11T17:00:00+08:00")),
        ClockStatus::Running
    );
}

#[test]
fn each_summons_has_its_own_report_in_clock() {
    let start = at("2026-03-10T10:00:00+08:00");
    let mut facts = received(Category::Drains, Urgency::Urgent, start);
    let (zhujian, huanwei) = (dept("zhujian"), dept("huanwei"));
    facts.apply(
        &TicketEvent::WhistleBlown(WhistleBlown {
            departments: vec![zhujian.clone(), huanwei.clone()],
            lead: zhujian.clone(),
            reason: text("急事"),
        }),
        start,
    );
    facts.apply(
        &TicketEvent::DepartmentReportedIn(DepartmentReportedIn {
            department: zhujian.clone(),
            liaison: LiaisonId::parse("zhujian-wang").expect("id"),
        }),
        start + Duration::minutes(12),
    );
    assert_eq!(stage(&facts), Stage::Whistled);
    let book = PolicyBook::standard();
    let all = clocks(&facts, &book.versions()[0], &Calendar::china()).expect("clocks");
    let report_in = |d: &DepartmentId| {
        all.iter()
            .find(|c| c.clock == SlaClock::ReportIn && c.department.as_ref() == Some(d))
            .expect("a report-in clock")
            .clone()
    };
    let later = start + Duration::minutes(45);
    assert_eq!(report_in(&zhujian).status_at(later), ClockStatus::Met);
    assert_eq!(report_in(&huanwei).status_at(later), ClockStatus::Breached);
    // Judged as of 10:05, zhujian had not reported in yet.
    assert_eq!(
        report_in(&zhujian).status_at(start + Duration::minutes(5)),
        ClockStatus::Running
    );
    // The pending deadlines: huanwei's report-in and the ticket's completion, not
    // zhujian's report-in, and the acknowledge clock stopped with the whistle.
    let due = pending(&facts, &all);
    assert!(
        due.iter()
            .any(|d| d.clock == SlaClock::ReportIn && d.department.as_ref() == Some(&huanwei))
    );
    assert!(!due.iter().any(|d| d.department.as_ref() == Some(&zhujian)));
    assert!(!due.iter().any(|d| d.clock == SlaClock::Acknowledge));
}

#[test]
fn the_same_facts_judged_under_another_version_give_another_verdict() {
    // Received at 19:58, answered at 08:04 the next working day: two minutes of service
    // time that night and four the next morning, six in all.
    let mut facts = received(
        Category::StreetLighting,
        Urgency::Minor,
        at("2026-03-10T19:58:00+08:00"),
    );
    facts.apply(
        &TicketEvent::Acknowledged(Acknowledged {
            reply: text("已受理，明日派人"),
        }),
        at("2026-03-11T08:04:00+08:00"),
    );
    let shipped = include_str!("../../../deploy/config/sla-policy.toml");
    let official = PolicyBook::standard();
    let lenient = PolicyBook::from_toml(
        &shipped
            .replacen("within = \"5m\"", "within = \"10m\"", 1)
            .replace("2025.1", "what-if-10m"),
    )
    .expect("a valid policy");
    let acknowledge = |book: &PolicyBook| {
        clocks(&facts, &book.versions()[0], &Calendar::china())
            .expect("clocks")
            .into_iter()
            .find(|c| c.clock == SlaClock::Acknowledge)
            .expect("an acknowledge clock")
            .status_at(at("2026-03-12T00:00:00+08:00"))
    };
    assert_eq!(acknowledge(&official), ClockStatus::Missed);
    assert_eq!(acknowledge(&lenient), ClockStatus::Met);
}

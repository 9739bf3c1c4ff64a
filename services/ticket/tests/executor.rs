//! The command executor on real stores (SQLite and PostgreSQL): whole lifecycles, the
//! in-memory cache never deciding on a stale ticket, bounded retries, and stored events
//! this build cannot read.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;
use whistle_clock::{Clock, ManualClock};
use whistle_events::ticket::{CloseReason, Received};
use whistle_events::{
    ActorId, Category, Channel, DepartmentId, EventId, EventMetadata, LiaisonId, Location,
    ReporterContact, Score, Text, TicketEvent, TicketId, Urgency,
};
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};
use whistle_store::{EventStore, NewEvent, StoreConfig};
use whistle_ticket::{CommandError, Stage, TicketCommand as C, TicketError, Tickets};

type Result<T = ()> = anyhow::Result<T>;

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 7, 20, 9, 30, 0)
            .single()
            .expect("valid"),
    ))
}

async fn sqlite() -> Result<EventStore> {
    let config = StoreConfig {
        sqlite_path: fresh_sqlite_path(),
        ..StoreConfig::default()
    };
    Ok(EventStore::open(&config, clock()).await?)
}

async fn postgres() -> Result<EventStore> {
    let config = StoreConfig {
        database_url: Some(fresh_postgres_url().await?),
        ..StoreConfig::default()
    };
    Ok(EventStore::open(&config, clock()).await?)
}

fn text(s: &str) -> Text {
    Text::note(s).expect("valid text")
}

fn dept(s: &str) -> DepartmentId {
    s.parse().expect("valid department")
}

fn liaison(s: &str) -> LiaisonId {
    s.parse().expect("valid liaison")
}

fn by(actor: &str) -> EventMetadata {
    EventMetadata::by(ActorId::parse(actor).expect("valid actor"))
}

fn receive() -> C {
    C::Receive(Received {
        channel: Channel::Hotline,
        reporter: ReporterContact {
            name: Some("张女士".into()),
            phone: Some("13800001234".into()),
            address: None,
        },
        sealed_reporter: None,
        location: Location {
            district: "haigang".parse().expect("valid"),
            street: "wenhualu".parse().expect("valid"),
            community: "hongqili".parse().expect("valid"),
            grid: None,
            place: None,
        },
        category: Category::Drains,
        urgency: Urgency::Major,
        description: text("楼前下水道堵塞"),
        source: None,
    })
}

/// Receives, acknowledges, calls up and whistles `zhujian` (lead) and `huanwei`.
async fn whistled(tickets: &Tickets) -> Result<TicketId> {
    let t = TicketId::new_random();
    tickets.execute(t, receive(), &by("hotline-12345")).await?;
    tickets
        .execute(
            t,
            C::Acknowledge {
                reply: text("已受理"),
            },
            &by("hongqili-li"),
        )
        .await?;
    tickets
        .execute(
            t,
            C::CallUp {
                reason: text("需要街道协调"),
            },
            &by("hongqili-li"),
        )
        .await?;
    tickets
        .execute(
            t,
            C::BlowWhistle {
                departments: vec![dept("zhujian"), dept("huanwei")],
                lead: dept("zhujian"),
                reason: text("住建牵头"),
            },
            &by("wenhualu-dispatch"),
        )
        .await?;
    Ok(t)
}

async fn a_whole_life_is_recorded_with_actors(store: EventStore) -> Result {
    let tickets = Tickets::new(store, clock());
    let t = whistled(&tickets).await?;
    for (department, person) in [("zhujian", "zhujian-wang"), ("huanwei", "huanwei-zhao")] {
        tickets
            .execute(
                t,
                C::ReportIn {
                    department: dept(department),
                    liaison: liaison(person),
                },
                &by(person),
            )
            .await?;
        tickets
            .execute(
                t,
                C::Finish {
                    department: dept(department),
                    liaison: liaison(person),
                    fixed: true,
                    outcome: text("已处理"),
                },
                &by(person),
            )
            .await?;
    }
    tickets
        .execute(
            t,
            C::Resolve {
                summary: text("已疏通"),
            },
            &by("wenhualu-dispatch"),
        )
        .await?;
    tickets
        .execute(
            t,
            C::RecordFeedback {
                resolved: true,
                satisfied: true,
                score: Some(Score::parse(5)?),
                comment: None,
            },
            &by("hotline-12345"),
        )
        .await?;
    tickets
        .execute(
            t,
            C::Close {
                reason: CloseReason::Feedback,
            },
            &by("hotline-12345"),
        )
        .await?;

    let timeline = tickets.timeline(t).await?;
    let kinds: Vec<&str> = timeline.iter().map(|e| e.event.kind().name).collect();
    assert_eq!(
        kinds,
        [
            "Received",
            "Acknowledged",
            "CalledUp",
            "WhistleBlown",
            "DepartmentReportedIn",
            "DepartmentFinished",
            "DepartmentReportedIn",
            "DepartmentFinished",
            "Resolved",
            "FeedbackRecorded",
            "Closed",
        ]
    );
    assert_eq!(
        timeline.iter().map(|e| e.version).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>()
    );
    assert_eq!(
        timeline[4].metadata.actor.as_ref().map(|a| a.as_str()),
        Some("zhujian-wang")
    );
    assert!(timeline.iter().all(|e| e.metadata.correlation_id.is_some()));
    assert_eq!(tickets.load(t).await?.stage(), Stage::Closed);
    // Closed: only reads.
    let err = tickets
        .execute(
            t,
            C::Reopen {
                reason: text("又堵了"),
            },
            &by("hotline-12345"),
        )
        .await;
    assert!(
        matches!(err, Err(CommandError::Rejected(TicketError::Closed))),
        "{err:?}"
    );
    Ok(())
}

/// Two processes (two executors, two caches) on one store. The first has the ticket in
/// its cache; the second claims the summons. The first must not decide on its stale copy:
/// its claim is refused, naming who holds the summons.
async fn a_stale_cached_ticket_never_decides(store: EventStore) -> Result {
    let first = Tickets::new(store.clone(), clock());
    let second = Tickets::new(store.clone(), clock());
    let t = whistled(&first).await?;
    second
        .execute(
            t,
            C::ReportIn {
                department: dept("zhujian"),
                liaison: liaison("zhujian-wang"),
            },
            &by("zhujian-wang"),
        )
        .await?;
    let claim = first
        .execute(
            t,
            C::ReportIn {
                department: dept("zhujian"),
                liaison: liaison("zhujian-li"),
            },
            &by("zhujian-li"),
        )
        .await;
    match claim {
        Err(CommandError::Rejected(TicketError::AlreadyClaimed { department, holder })) => {
            assert_eq!(
                (department.as_str(), holder.as_str()),
                ("zhujian", "zhujian-wang")
            );
        }
        other => panic!("wanted AlreadyClaimed by zhujian-wang, got {other:?}"),
    }
    // …and a command that is still valid goes through on the fresh state.
    first
        .execute(
            t,
            C::ReportIn {
                department: dept("huanwei"),
                liaison: liaison("huanwei-zhao"),
            },
            &by("huanwei-zhao"),
        )
        .await?;
    assert_eq!(store.stream_version("Ticket", &t.to_string()).await?, 6);
    Ok(())
}

/// The other way round: the first process's stale copy says the summons is not claimed
/// yet, but the holder's progress note is valid on the log. A rejection appends nothing, so
/// no version check would catch it: the executor must decide again from the log.
async fn a_stale_cached_ticket_never_rejects_a_valid_command(store: EventStore) -> Result {
    let first = Tickets::new(store.clone(), clock());
    let second = Tickets::new(store.clone(), clock());
    let t = whistled(&first).await?;
    second
        .execute(
            t,
            C::ReportIn {
                department: dept("zhujian"),
                liaison: liaison("zhujian-wang"),
            },
            &by("zhujian-wang"),
        )
        .await?;
    first
        .execute(
            t,
            C::NoteProgress {
                department: dept("zhujian"),
                liaison: liaison("zhujian-wang"),
                note: text("已到现场"),
                on_site: true,
            },
            &by("zhujian-wang"),
        )
        .await?;
    // A command that really is invalid is still refused, with the reason from the log.
    let err = first
        .execute(
            t,
            C::ReportIn {
                department: dept("chengguan"),
                liaison: liaison("chengguan-qian"),
            },
            &by("chengguan-qian"),
        )
        .await;
    assert!(
        matches!(
            err,
            Err(CommandError::Rejected(TicketError::NotSummoned(_)))
        ),
        "{err:?}"
    );
    assert_eq!(store.stream_version("Ticket", &t.to_string()).await?, 6);
    Ok(())
}

/// With one attempt, a command on a stale cached ticket reports the conflict clearly and
/// writes nothing.
async fn conflicts_are_retried_a_bounded_number_of_times(store: EventStore) -> Result {
    let first = Tickets::new(store.clone(), clock()).with_attempts(1);
    let second = Tickets::new(store.clone(), clock());
    let t = whistled(&first).await?;
    second
        .execute(
            t,
            C::ReportIn {
                department: dept("zhujian"),
                liaison: liaison("zhujian-wang"),
            },
            &by("zhujian-wang"),
        )
        .await?;
    let err = first
        .execute(
            t,
            C::ReportIn {
                department: dept("huanwei"),
                liaison: liaison("huanwei-zhao"),
            },
            &by("huanwei-zhao"),
        )
        .await
        .expect_err("one attempt on a stale ticket");
    assert!(
        matches!(err, CommandError::Conflict { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("You may safely retry"), "{err}");
    assert_eq!(store.stream_version("Ticket", &t.to_string()).await?, 5);

    // Many writers at once on one ticket: every command lands or reports a conflict, and
    // the stream stays whole.
    let t = whistled(&second).await?;
    second
        .execute(
            t,
            C::ReportIn {
                department: dept("zhujian"),
                liaison: liaison("zhujian-wang"),
            },
            &by("zhujian-wang"),
        )
        .await?;
    let executors: Vec<Arc<Tickets>> = (0..4)
        .map(|_| Arc::new(Tickets::new(store.clone(), clock())))
        .collect();
    let mut tasks = Vec::new();
    for n in 0..24 {
        let tickets = executors[n % 4].clone();
        tasks.push(tokio::spawn(async move {
            tickets
                .execute(
                    t,
                    C::NoteProgress {
                        department: dept("zhujian"),
                        liaison: liaison("zhujian-wang"),
                        note: text(&format!("进展 {n}")),
                        on_site: false,
                    },
                    &by("zhujian-wang"),
                )
                .await
        }));
    }
    let mut landed = 0;
    for task in tasks {
        match task.await? {
            Ok(()) => landed += 1,
            Err(CommandError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert!(landed > 0);
    let timeline = second.timeline(t).await?;
    assert_eq!(timeline.len(), 5 + landed);
    Ok(())
}

async fn a_ticket_cannot_merge_into_itself(store: EventStore) -> Result {
    let tickets = Tickets::new(store, clock());
    let t = whistled(&tickets).await?;
    let err = tickets
        .execute(
            t,
            C::MergeInto {
                into: t,
                reason: text("重复"),
            },
            &by("wenhualu-dispatch"),
        )
        .await;
    assert!(
        matches!(err, Err(CommandError::Rejected(TicketError::SelfMerge))),
        "{err:?}"
    );
    Ok(())
}

/// A ticket stream holding an event this build does not know: commands and the timeline
/// report the stream, position, type and version, and nothing is written.
async fn unknown_and_malformed_ticket_events_are_named(store: EventStore) -> Result {
    let tickets = Tickets::new(store.clone(), clock()).with_attempts(1);
    for (event_type, version, payload, expect) in [
        (
            "Teleported",
            "1.0.0",
            json!({"Teleported": {}}),
            "unknown event type `Teleported` version `1.0.0`",
        ),
        (
            "Received",
            "7.0.0",
            json!({"Received": {}}),
            "unknown event type `Received` version `7.0.0`",
        ),
        (
            "Acknowledged",
            "1.0.0",
            json!({"Acknowledged": {"reply": 42}}),
            "does not deserialize",
        ),
    ] {
        let t = TicketId::new_random();
        tickets.execute(t, receive(), &by("hotline-12345")).await?;
        let written = store
            .append(
                "Ticket",
                &t.to_string(),
                1,
                vec![NewEvent {
                    event_id: EventId::new(),
                    event_type: event_type.into(),
                    event_version: version.into(),
                    payload,
                    metadata: HashMap::new(),
                }],
            )
            .await?;
        let position = written[0].position.to_string();
        // A fresh executor: no cached state hides the bad event.
        let fresh = Tickets::new(store.clone(), clock());
        let err = fresh
            .execute(
                t,
                C::Acknowledge {
                    reply: text("已受理"),
                },
                &by("hongqili-li"),
            )
            .await
            .expect_err("the stream cannot be read");
        assert!(matches!(err, CommandError::Unreadable(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("Ticket-{t}"))
                && message.contains(&position)
                && message.contains(expect),
            "{message}"
        );
        let timeline_err = fresh
            .timeline(t)
            .await
            .expect_err("timeline cannot be read either");
        assert!(
            timeline_err.to_string().contains(&position),
            "{timeline_err}"
        );
        assert_eq!(
            store.stream_version("Ticket", &t.to_string()).await?,
            2,
            "nothing was written"
        );
    }
    Ok(())
}

/// Events written by the executor decode back into exactly what the aggregate decided.
async fn stored_events_decode_to_what_was_decided(store: EventStore) -> Result {
    let tickets = Tickets::new(store.clone(), clock());
    let t = whistled(&tickets).await?;
    let raw = store.read_stream("Ticket", &t.to_string(), 3).await?;
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].event_type, "WhistleBlown");
    assert_eq!(raw[0].event_version, "1.0.0");
    let decoded = TicketEvent::decode(&raw[0].event_type, &raw[0].event_version, &raw[0].payload)?;
    match decoded {
        TicketEvent::WhistleBlown(w) => {
            assert_eq!(w.lead, dept("zhujian"));
            assert_eq!(w.departments, vec![dept("zhujian"), dept("huanwei")]);
        }
        other => panic!("wanted WhistleBlown, got {other:?}"),
    }
    Ok(())
}

/// Through the executor, an unanswered append is `CommandError::OutcomeUnknown`, and it is
/// not retried on its own (a retry could record the command twice). Another session holds
/// a lock that makes inserts wait (reads go on), so the append cannot be answered in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_command_is_reported_as_possibly_recorded() -> Result {
    use sqlx::Connection;
    let url = fresh_postgres_url().await?;
    let config = StoreConfig {
        database_url: Some(url.clone()),
        append_timeout: std::time::Duration::from_millis(300),
        ..StoreConfig::default()
    };
    let tickets = Tickets::new(EventStore::open(&config, clock()).await?, clock());
    let mut blocker = sqlx::PgConnection::connect(&url).await?;
    sqlx::query("BEGIN").execute(&mut blocker).await?;
    sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await?;
    let err = tickets
        .execute(TicketId::new_random(), receive(), &by("hotline-12345"))
        .await
        .expect_err("no answer while inserts are blocked");
    assert!(matches!(err, CommandError::OutcomeUnknown(_)), "{err:?}");
    assert!(
        err.to_string().contains("read the stream before retrying"),
        "{err}"
    );
    drop(blocker);
    Ok(())
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite_backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() -> Result {
                    super::$case(sqlite().await?).await
                }
            )*
        }
        mod postgres_backend {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() -> Result {
                    super::$case(postgres().await?).await
                }
            )*
        }
    };
}

on_both_backends!(
    a_whole_life_is_recorded_with_actors,
    a_stale_cached_ticket_never_decides,
    a_stale_cached_ticket_never_rejects_a_valid_command,
    conflicts_are_retried_a_bounded_number_of_times,
    a_ticket_cannot_merge_into_itself,
    unknown_and_malformed_ticket_events_are_named,
    stored_events_decode_to_what_was_decided,
);

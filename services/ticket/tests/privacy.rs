//! Residents' personal data on real stores (SQLite and PostgreSQL): sealed in the log,
//! read back with the ticket's key, recognised when sent again, erased for good while every
//! event stays readable, and unreadable to a process with another master key.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;
use whistle_clock::{Clock, ManualClock};
use whistle_events::ticket::Received;
use whistle_events::{
    ActorId, Category, Channel, EventId, EventMetadata, Location, ReporterContact, Text,
    TicketEvent, TicketId, Urgency,
};
use whistle_store::test_support::{fresh_postgres_url, fresh_sqlite_path};
use whistle_store::{EventStore, NewEvent, StoreConfig, TicketKey};
use whistle_ticket::{CommandError, Reporter, TicketCommand as C, TicketError, Tickets, Vault};

type Result<T = ()> = anyhow::Result<T>;

fn clock() -> Arc<ManualClock> {
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

fn by(actor: &str) -> EventMetadata {
    EventMetadata::by(ActorId::parse(actor).expect("valid actor"))
}

const NAME: &str = "张三丰";
const PHONE: &str = "13812341234";
const ADDRESS: &str = "幸福路88号2单元301";

fn contact() -> ReporterContact {
    ReporterContact {
        name: Some(NAME.into()),
        phone: Some(PHONE.into()),
        address: Some(ADDRESS.into()),
    }
}

fn received(reporter: ReporterContact) -> Received {
    Received {
        channel: Channel::Hotline,
        reporter,
        sealed_reporter: None,
        location: Location {
            district: "haigang".parse().expect("valid"),
            street: "wenhualu".parse().expect("valid"),
            community: "hongqili".parse().expect("valid"),
            grid: None,
            place: Some("红旗里小区5号楼".into()),
        },
        category: Category::Drains,
        urgency: Urgency::Major,
        description: Text::description("楼前下水道堵塞").expect("valid"),
        source: None,
    }
}

fn erase() -> C {
    C::ErasePersonalData {
        reason: Text::reason("居民申请删除个人信息").expect("valid"),
    }
}

/// Every stored payload of the ticket, as the database holds it (no codec), as JSON text.
async fn stored_payloads(store: &EventStore, ticket: TicketId) -> Result<Vec<String>> {
    Ok(store
        .read_stream("Ticket", &ticket.to_string(), 0)
        .await?
        .into_iter()
        .map(|e| e.payload.to_string())
        .collect())
}

fn assert_no_personal_data(payloads: &[String]) {
    for payload in payloads {
        for secret in [NAME, "三丰", PHONE, ADDRESS, "幸福路"] {
            assert!(
                !payload.contains(secret),
                "`{secret}` is stored in plain text: {payload}"
            );
        }
    }
}

async fn a_contact_is_sealed_read_back_and_erased(store: EventStore) -> Result {
    let clock = clock();
    // The store records times from the same clock the executor decides by.
    let store = store.with_clock(clock.clone());
    let vault = Arc::new(Vault::ephemeral());
    let tickets = Tickets::new(store.clone(), clock.clone()).with_vault(vault.clone());
    let t = TicketId::new_random();
    let metadata = by("hotline-12345");
    tickets
        .execute(t, C::Receive(received(contact())), &metadata)
        .await?;

    let stored = stored_payloads(&store, t).await?;
    assert_eq!(stored.len(), 1);
    assert_no_personal_data(&stored);
    assert!(stored[0].contains("sealed_reporter"), "{}", stored[0]);
    assert_eq!(tickets.reporter(t).await?, Reporter::Contact(contact()));
    assert!(matches!(store.ticket_key(t).await?, TicketKey::Present(_)));
    // What the service's readers see of the ticket holds no contact either.
    let state = tickets.load(t).await?;
    let seen = state.received().expect("received");
    assert!(seen.reporter.is_empty());
    assert!(!format!("{state:?}").contains(PHONE));

    // The same complaint sent again (sealed under a new nonce) is recognised; another
    // contact under the same ticket id is not.
    tickets
        .execute(t, C::Receive(received(contact())), &metadata)
        .await?;
    let other = ReporterContact {
        phone: Some("13900000000".into()),
        ..contact()
    };
    let err = tickets
        .execute(t, C::Receive(received(other)), &metadata)
        .await
        .expect_err("another contact is another complaint");
    assert!(
        matches!(err, CommandError::Rejected(TicketError::AlreadyReceived)),
        "{err:?}"
    );
    // An executor with nothing cached recognises it too.
    Tickets::with_cache(store.clone(), clock.clone(), 0)
        .with_vault(vault)
        .execute(t, C::Receive(received(contact())), &metadata)
        .await?;
    assert_eq!(stored_payloads(&store, t).await?.len(), 1);

    clock.advance(chrono::Duration::hours(1));
    let erased_at = clock.now();
    tickets.execute(t, erase(), &by("hongqili-li")).await?;
    assert_eq!(
        tickets.reporter(t).await?,
        Reporter::Erased { at: erased_at }
    );
    assert_eq!(
        store.ticket_key(t).await?,
        TicketKey::Erased { at: erased_at }
    );
    let stored = stored_payloads(&store, t).await?;
    assert_eq!(stored.len(), 2);
    assert_no_personal_data(&stored);

    // The timeline still reads, every line of it, and says nothing personal.
    let timeline = tickets.timeline(t).await?;
    let kinds: Vec<&str> = timeline.iter().map(|e| e.event.kind().name).collect();
    assert_eq!(kinds, ["Received", "PersonalDataErased"]);
    for entry in &timeline {
        let line = entry.summary();
        assert!(!line.contains(PHONE) && !line.contains(NAME), "{line}");
    }
    assert!(timeline[1].summary().contains("personal data erased"));

    // Erasing again records nothing; the complaint sent again is still recognised by
    // everything but its (erased) contact; the ticket goes on.
    tickets.execute(t, erase(), &by("hongqili-li")).await?;
    tickets
        .execute(t, C::Receive(received(contact())), &metadata)
        .await?;
    tickets
        .execute(
            t,
            C::Acknowledge {
                reply: Text::note("已受理").expect("valid"),
            },
            &by("hongqili-li"),
        )
        .await?;
    assert_eq!(stored_payloads(&store, t).await?.len(), 3);
    Ok(())
}

/// Another master key (a process configured with the wrong key file) reads no contact:
/// a clear error, no panic, and the ticket's events stay readable.
async fn another_master_key_reads_no_contact(store: EventStore) -> Result {
    let first = Tickets::new(store.clone(), clock()).with_vault(Arc::new(Vault::ephemeral()));
    let second = Tickets::new(store.clone(), clock()).with_vault(Arc::new(Vault::ephemeral()));
    let t = TicketId::new_random();
    first
        .execute(t, C::Receive(received(contact())), &by("hotline-12345"))
        .await?;
    let err = second.reporter(t).await.expect_err("another master key");
    assert!(matches!(err, CommandError::Unreadable(_)), "{err:?}");
    assert!(err.to_string().contains("master key"), "{err}");
    assert!(!err.to_string().contains(PHONE), "{err}");
    let err = second
        .execute(t, C::Receive(received(contact())), &by("hotline-12345"))
        .await
        .expect_err("the stored contact cannot be compared");
    assert!(matches!(err, CommandError::Unreadable(_)), "{err:?}");
    assert_eq!(second.timeline(t).await?.len(), 1);
    assert_eq!(first.reporter(t).await?, Reporter::Contact(contact()));
    Ok(())
}

/// Two executors receiving the same complaint at once agree on one key: one event, and its
/// contact opens.
async fn racing_receives_agree_on_one_key(store: EventStore) -> Result {
    let vault = Arc::new(Vault::ephemeral());
    let a = Tickets::new(store.clone(), clock()).with_vault(vault.clone());
    let b = Tickets::new(store.clone(), clock()).with_vault(vault);
    for _ in 0..5 {
        let t = TicketId::new_random();
        let metadata = by("hotline-12345");
        let (left, right) = tokio::join!(
            a.execute(t, C::Receive(received(contact())), &metadata),
            b.execute(t, C::Receive(received(contact())), &metadata),
        );
        left?;
        right?;
        assert_eq!(stored_payloads(&store, t).await?.len(), 1);
        assert_eq!(a.reporter(t).await?, Reporter::Contact(contact()));
        assert_eq!(b.reporter(t).await?, Reporter::Contact(contact()));
    }
    Ok(())
}

/// A ticket received before contacts were sealed (a version 1.0.0 `Received` with its
/// contact in plain text) reads back as it is. If the erasure was recorded but its key not
/// destroyed (the store failed in between), running the erasure again finishes it.
async fn a_plain_contact_reads_and_an_unfinished_erasure_is_finished(store: EventStore) -> Result {
    let clock = clock();
    // The store records times from the same clock the executor decides by.
    let store = store.with_clock(clock.clone());
    let tickets = Tickets::new(store.clone(), clock.clone());
    let t = TicketId::new_random();
    let legacy = json!({"Received": {
        "channel": "hotline",
        "reporter": {"name": NAME, "phone": PHONE},
        "location": {
            "district": "haigang",
            "street": "wenhualu",
            "community": "hongqili",
            "place": "红旗里小区5号楼"
        },
        "category": "drains",
        "urgency": "major",
        "description": "楼前下水道堵塞"
    }});
    let event = |event_type: &str, event_version: &str, payload| NewEvent {
        event_id: EventId::new(),
        event_type: event_type.into(),
        event_version: event_version.into(),
        payload,
        metadata: HashMap::new(),
    };
    store
        .append(
            "Ticket",
            &t.to_string(),
            0,
            vec![event("Received", "1.0.0", legacy)],
        )
        .await?;
    let plain = ReporterContact {
        address: None,
        ..contact()
    };
    assert_eq!(tickets.reporter(t).await?, Reporter::Contact(plain.clone()));
    // Sent again as it was: recognised, and no key opens or seals anything here.
    tickets
        .execute(t, C::Receive(received(plain)), &by("hotline-12345"))
        .await?;

    // The erasure's event without its key erasure, as a failed store would leave it.
    let erased = TicketEvent::PersonalDataErased(whistle_events::ticket::PersonalDataErased {
        reason: Text::reason("居民申请删除个人信息")?,
    });
    store
        .append(
            "Ticket",
            &t.to_string(),
            1,
            vec![event(
                "PersonalDataErased",
                "1.0.0",
                serde_json::to_value(&erased)?,
            )],
        )
        .await?;
    assert!(matches!(
        tickets.reporter(t).await?,
        Reporter::Erased { .. }
    ));
    assert!(!matches!(
        store.ticket_key(t).await?,
        TicketKey::Erased { .. }
    ));
    tickets.execute(t, erase(), &by("hongqili-li")).await?;
    assert_eq!(
        store.ticket_key(t).await?,
        TicketKey::Erased { at: clock.now() }
    );
    assert_eq!(stored_payloads(&store, t).await?.len(), 2, "recorded once");
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
    a_contact_is_sealed_read_back_and_erased,
    another_master_key_reads_no_contact,
    racing_receives_agree_on_one_key,
    a_plain_contact_reads_and_an_unfinished_erasure_is_finished,
);
